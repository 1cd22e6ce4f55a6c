#!/usr/bin/env bash
# benches/tls.sh: `make bench` (after run.sh) and `make bench-tls`. httpfault --tls beside nginx
# with the same certificate and key (ECDSA P-256, made here with openssl), on loopback:
# Both servers prefer TLS_AES_128_GCM_SHA256 (server order), so both negotiate it with wrk.
#   handshakes/s   wrk with `Connection: close`: every request a new connection and a full
#                  TLS handshake (no resumption: httpfault sends no tickets, nginx has its
#                  session cache and tickets off)
#   keep-alive r/s wrk, 32 kept-alive TLS connections, `Hello, world!` answers
#   KiB/held conn  memory (RSS) per TLS connection held open after its handshake (HOLD_N of
#                  them, idle before their first request), httpfault only
# Medians of $ROUNDS rounds, the two servers interleaved in each round; the ratio column is
# httpfault / nginx from the same run. Table: benches/out/tls.md.
#
# Also: stack pages touched per held TLS connection thread (benches/stack.py --tls), and with
# HF2_BIN=path (make bench passes the build before the redesign) the memory rows for that
# build too, in the same run.
#
# Knobs: ROUNDS=3 DUR=5s HOLD_N=1000 SKIP_BUILD=0 HF_BIN=path HF2_BIN=path
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/benches/out
TMP=$OUT/tmp/tls
mkdir -p "$OUT" "$TMP"
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5s}
HOLD_N=${HOLD_N:-1000}
HF=${HF_BIN:-$ROOT/target/release/httpfault}
T_START=$(date +%s)
log() { printf '[bench-tls %3ss] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }

PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; }
trap cleanup EXIT
trap 'exit 130' INT TERM

find_tool() { command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; }; }
WRK=$(find_tool wrk); NGINX=$(find_tool nginx); OPENSSL=$(find_tool openssl)
for t in WRK NGINX OPENSSL; do
    [ -n "${!t}" ] || { log "ERROR: $t is missing (apt-get install wrk nginx-light openssl)"; exit 1; }
done
if [ "${SKIP_BUILD:-0}" != 1 ] && [ -z "${HF_BIN:-}" ]; then
    log "building httpfault (cargo build --release)"
    cargo build --release --quiet || exit 1
fi
ulimit -n 65536 2>/dev/null || true

# one certificate and key for both servers
"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>"$TMP/openssl.log" || { log "openssl failed"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # PORT: until it accepts (5 s)
    local i
    for i in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

start_httpfault() { # PORT [ARGS...]
    local port=$1; shift
    "$HF" -q --max-conns 20000 --read-timeout 120s -l "127.0.0.1:$port" \
        --cert "$TMP/cert.pem" --key "$TMP/key.pem" "$@" status=200 >/dev/null 2>"$TMP/hf.err" &
    PID=$!; PIDS+=("$PID"); wait_port "$port"
}

start_nginx() { # PORT
    local dir=$TMP/nginx
    mkdir -p "$dir/logs"
    cat >"$dir/nginx.conf" <<EOF
worker_processes auto;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
daemon off;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000;
    ssl_session_cache off;
    ssl_session_tickets off;
    # the same suite as httpfault negotiates (server order, AES-128-GCM-SHA256 first), so the
    # two are compared on the same cryptography
    # nginx 1.22 leaves TLS 1.3 out unless asked: both speak TLS 1.3 here
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
    client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $TMP/cert.pem;
        ssl_certificate_key $TMP/key.pem;
        location / { default_type text/plain; return 200 "Hello, world!"; }
    }
}
EOF
    mkdir -p "$dir/tmp"
    "$NGINX" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" >/dev/null 2>&1 </dev/null &
    PID=$!; PIDS+=("$PID"); wait_port "$1"
}

stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

rps() { # wrk output -> requests/s
    awk '/^Requests\/sec:/ {print int($2)}'
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }

declare -A R
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$ROUNDS"); do
    for server in httpfault nginx; do
        port=$(free_port)
        if [ $server = httpfault ]; then start_httpfault "$port"; else start_nginx "$port"; fi
        hs=$("$WRK" -t2 -c16 -d"$DUR" -H "Connection: close" "https://127.0.0.1:$port/" 2>&1 | rps)
        ka=$("$WRK" -t2 -c32 -d"$DUR" "https://127.0.0.1:$port/" 2>&1 | rps)
        stop "$PID"
        log "round $round $server: handshakes/s=${hs:-n/a} keep-alive r/s=${ka:-n/a}"
        R[$server|hs]+=" ${hs:-}"; R[$server|ka]+=" ${ka:-}"
    done
done

# memory per held connection (httpfault), over TLS and over plain TCP: RSS before and after
# HOLD_N connections that sit idle after connecting (and, over TLS, after the handshake)
held_kib() { # TLS? (1/0) [BINARY]
    local port HF=${2:-$HF}; port=$(free_port)
    if [ "$1" = 1 ]; then
        start_httpfault "$port"
    else
        "$HF" -q --max-conns 20000 --read-timeout 120s -l "127.0.0.1:$port" status=200 >/dev/null 2>&1 &
        PID=$!; PIDS+=("$PID"); wait_port "$port"
    fi
    python3 - "$port" "$PID" "$HOLD_N" "$TMP/cert.pem" "$1" <<'EOF2'
import socket, ssl, sys, time
port, pid, n, ca, tls = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
ctx = ssl.create_default_context(cafile=ca)
def conn():
    s = socket.create_connection(("127.0.0.1", port))
    return ctx.wrap_socket(s, server_hostname="localhost") if tls else s
warm = [conn() for _ in range(50)]
time.sleep(0.5)
before = rss()
held = [conn() for _ in range(n)]
time.sleep(1.0)
print(f"{(rss() - before) / n:.1f}")
EOF2
    stop "$PID"
}
hold=$(held_kib 1)
hold_plain=$(held_kib 0)
log "memory per held connection: TLS ${hold:-n/a} KiB, plain ${hold_plain:-n/a} KiB ($HOLD_N connections)"
stack_of() { # BINARY -> KiB of stack touched per held TLS connection thread
    python3 "$ROOT/benches/stack.py" "$1" --tls -n "$HOLD_N" 2>>"$TMP/stack.err" |
        sed -n 's/.*stack_kib_mean=\([0-9.]*\).*/\1/p'
}
stack=$(stack_of "$HF")
hold2="" hold2_plain="" stack2=""
if [ -n "${HF2_BIN:-}" ]; then
    hold2=$(held_kib 1 "$HF2_BIN")
    hold2_plain=$(held_kib 0 "$HF2_BIN")
    stack2=$(stack_of "$HF2_BIN")
    log "HF2_BIN: TLS ${hold2:-n/a} KiB, plain ${hold2_plain:-n/a} KiB, stack ${stack2:-n/a} KiB"
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# shellcheck disable=SC2086
hf_hs=$(median ${R[httpfault|hs]}); ng_hs=$(median ${R[nginx|hs]})
# shellcheck disable=SC2086
hf_ka=$(median ${R[httpfault|ka]}); ng_ka=$(median ${R[nginx|ka]})
{
    echo "| over TLS (loopback, same ECDSA P-256 certificate) | httpfault --tls | nginx | httpfault / nginx |"
    echo "|---|---:|---:|---:|"
    echo "| handshakes/s (wrk -t2 -c16, Connection: close) | $hf_hs | $ng_hs | $(ratio "$hf_hs" "$ng_hs") |"
    echo "| keep-alive requests/s (wrk -t2 -c32) | $hf_ka | $ng_ka | $(ratio "$hf_ka" "$ng_ka") |"
    echo "| KiB per held connection ($HOLD_N idle; plain TCP in the same run: ${hold_plain:-n/a}; target ≤ 28) | ${hold:-n/a} | | |"
    echo "| KiB of stack touched per held TLS connection thread (benches/stack.py --tls) | ${stack:-n/a} | | |"
    if [ -n "${HF2_BIN:-}" ]; then
        echo "| HF2_BIN (\`$HF2_BIN\`): KiB per held TLS connection (plain: ${hold2_plain:-n/a}) / stack KiB | ${hold2:-n/a} / ${stack2:-n/a} | | |"
    fi
    echo
    echo "Medians of $ROUNDS rounds of $DUR each, servers interleaved; $(nproc) cores; $(date -u +%Y-%m-%d); load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)."
} | tee "$OUT/tls.md"
