#!/usr/bin/env bash
# benches/h2.sh: `make bench-h2` (and the end of `make bench`). HTTP/2 over cleartext: requests
# per second over ONE connection with 32 concurrent streams (h2load -c1 -m32, from Debian's
# nghttp2-client), httpfault (`status=200`, the 13-byte `Hello, world!`) beside nginx with
# `listen ... http2` answering the same 13 bytes (`return 200`), one worker. Loopback only;
# every run bounded; medians of $ROUNDS rounds, the two servers interleaved in each round.
# Prints one Markdown table and writes it to benches/out/h2.md.
#
# Knobs (environment): ROUNDS=3 N=100000 (requests a run) SKIP_BUILD=0 HF_BIN=path
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/benches/out
TMP=$(mktemp -d "${TMPDIR:-/tmp}/httpfault-h2-bench.XXXXXX")
mkdir -p "$OUT"
ROUNDS=${ROUNDS:-3}
N=${N:-100000}
SKIP_BUILD=${SKIP_BUILD:-0}
HF=${HF_BIN:-$ROOT/target/release/httpfault}
NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
T_START=$(date +%s)

log() { printf '[bench-h2 %3ss] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v h2load >/dev/null || { log "h2load is missing (apt-get install nghttp2-client)"; exit 1; }
if [ "$SKIP_BUILD" != 1 ] && [ -z "${HF_BIN:-}" ]; then
    log "building httpfault (cargo build --release)"
    cargo build --release --quiet || exit 1
fi

# a free port: bind port 0 with Python and let it go
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_httpfault() {
    "$HF" -q --listen 127.0.0.1:0 status=200 >"$TMP/hf.out" 2>"$TMP/hf.err" </dev/null &
    SPID=$!
    PIDS+=("$SPID")
    local i
    for i in $(seq 250); do
        PORT=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$TMP/hf.out")
        [ -n "$PORT" ] && return 0
        sleep 0.02
    done
    return 1
}

start_nginx() {
    [ -n "$NGINX" ] || return 1
    "$NGINX" -V 2>&1 | grep -q http_v2_module || { log "nginx has no http_v2_module"; return 1; }
    PORT=$(free_port)
    mkdir -p "$TMP/ngx"
    cat >"$TMP/ngx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
error_log $TMP/ngx/error.log;
pid $TMP/ngx/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/ngx; proxy_temp_path $TMP/ngx; fastcgi_temp_path $TMP/ngx;
    uwsgi_temp_path $TMP/ngx; scgi_temp_path $TMP/ngx;
    http2_max_concurrent_streams 128;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$PORT http2;
        location / { return 200 "Hello, world!"; }
    }
}
CONF
    "$NGINX" -c "$TMP/ngx/nginx.conf" -p "$TMP/ngx" </dev/null >/dev/null 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
    local i
    for i in $(seq 250); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.02
    done
    return 1
}

stop() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }

declare -A R
: >"$OUT/h2_raw.txt"
for round in $(seq "$ROUNDS"); do
    for s in httpfault nginx; do
        if ! "start_$s"; then log "$s did not start"; continue; fi
        line=$(timeout 120 h2load -n "$N" -c 1 -m 32 "http://127.0.0.1:$PORT/" 2>&1)
        echo "round=$round server=$s $(tr '\n' ' ' <<<"$line")" >>"$OUT/h2_raw.txt"
        rps=$(awk '/^finished in/ {gsub(",", "", $4); print $4}' <<<"$line")
        ok=$(awk '/^requests:/ {print $8}' <<<"$line")
        log "round $round: $s ${rps:-?} req/s (${ok:-?} succeeded)"
        [ "${ok:-0}" = "$N" ] && R[$s]="${R[$s]:-} $rps"
        stop
    done
done

median() { printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
hf=$(median ${R[httpfault]:-})
ng=$(median ${R[nginx]:-})
ratio=$(awk -v a="${hf:-0}" -v b="${ng:-0}" 'BEGIN {if (a && b) printf "%.2f×", a/b; else print "n/a"}')
{
    echo "## HTTP/2 (h2c), one connection, 32 streams"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), git $(git rev-parse --short HEAD 2>/dev/null), $(nproc) cores; medians of $ROUNDS rounds of \`h2load -n $N -c 1 -m 32\`."
    echo
    echo "| figure | httpfault | nginx (http2, 1 worker) | httpfault/nginx |"
    echo "|---|---:|---:|---:|"
    echo "| requests/s, 1 connection, 32 streams, 13-byte body | ${hf:-n/a} | ${ng:-n/a} | $ratio |"
    echo
    echo "Command: \`make bench-h2\` (ROUNDS=$ROUNDS N=$N). Raw h2load output: benches/out/h2_raw.txt."
} >"$OUT/h2.md"
cat "$OUT/h2.md"
