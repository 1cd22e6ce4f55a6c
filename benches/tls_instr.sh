#!/usr/bin/env bash
# benches/tls_instr.sh: `make bench-tls-instr`. Instructions per TLS handshake and per keep-alive
# request over TLS, httpfault beside nginx (one worker, no master), both under callgrind, with
# the same certificate and TLS 1.3 with the same suite preference (TLS_AES_128_GCM_SHA256 first,
# server order; a build before that preference gets the client's, AES-256-GCM-SHA384):
# deterministic, so it tells on a loaded machine what `make bench-tls` (requests/s, where a
# thread per connection gets a larger share of a busy machine's CPU than nginx's workers)
# cannot. The client (Python's ssl) makes H handshakes, each with one `Connection: close`
# request, then K requests on one kept-alive connection; a run with no client gives the cost
# of starting and stopping, which is subtracted.
#
# Knobs: H=200 K=2000 HF_BIN=path (default target/release/httpfault, built here).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
TMP=$ROOT/benches/out/tmp/tls_instr
mkdir -p "$TMP"
H=${H:-200}
K=${K:-2000}
HF=${HF_BIN:-$ROOT/target/release/httpfault}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for t in valgrind openssl python3 "$NGINX"; do
    command -v "$t" >/dev/null || { echo "bench-tls-instr: $t is missing" >&2; exit 1; }
done
if [ -z "${HF_BIN:-}" ]; then cargo build --release --quiet || exit 1; fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null || exit 1

SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

nginx_conf() { # PORT
    mkdir -p "$TMP/nginx/logs" "$TMP/nginx/tmp"
    cat >"$TMP/nginx/nginx.conf" <<EOF
master_process off;
daemon off;
worker_processes 1;
error_log $TMP/nginx/logs/error.log warn;
pid $TMP/nginx/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    ssl_session_cache off;
    ssl_session_tickets off;
    # nginx 1.22 leaves TLS 1.3 out unless asked: both speak TLS 1.3 here
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
    client_body_temp_path $TMP/nginx/tmp; proxy_temp_path $TMP/nginx/tmp; fastcgi_temp_path $TMP/nginx/tmp;
    uwsgi_temp_path $TMP/nginx/tmp; scgi_temp_path $TMP/nginx/tmp;
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $TMP/cert.pem;
        ssl_certificate_key $TMP/key.pem;
        location / { default_type text/plain; return 200 "Hello, world!"; }
    }
}
EOF
}

# the client: H handshakes with one request each, then K requests on one connection
client() { # PORT HANDSHAKES REQUESTS
    python3 - "$1" "$2" "$3" "$TMP/cert.pem" <<'EOF'
import socket, ssl, sys
port, h, k, ca = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    return ctx.wrap_socket(s, server_hostname="localhost")
def answer(s):
    data = b""
    while b"Hello, world!" not in data:
        d = s.recv(4096)
        if not d:
            raise SystemExit("closed early")
        data += d
for _ in range(h):
    s = conn()
    assert s.version() == "TLSv1.3", s.version()
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer(s)
    s.close()
if k:
    s = conn()
    for _ in range(k):
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer(s)
    s.close()
EOF
}

run() { # SERVER HANDSHAKES REQUESTS -> total Ir of the server process
    local server=$1 port cg=$TMP/cg.$1.$2.$3 i
    port=$(free_port)
    rm -f "$cg"
    if [ "$server" = httpfault ]; then
        valgrind --tool=callgrind --callgrind-out-file="$cg" "$HF" -q -l "127.0.0.1:$port" \
            --cert "$TMP/cert.pem" --key "$TMP/key.pem" status=200 >/dev/null 2>"$TMP/err" </dev/null &
    else
        nginx_conf "$port"
        valgrind --tool=callgrind --callgrind-out-file="$cg" "$NGINX" -p "$TMP/nginx" \
            -e "$TMP/nginx/logs/error.log" -c "$TMP/nginx/nginx.conf" >/dev/null 2>"$TMP/err" </dev/null &
    fi
    SPID=$!
    for i in $(seq 600); do # valgrind starts slowly: up to 60 s
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    if [ "$2" -gt 0 ] || [ "$3" -gt 0 ]; then
        client "$port" "$2" "$3" || { echo "bench-tls-instr: the $server client failed" >&2; exit 1; }
    fi
    kill "$SPID"
    wait "$SPID" 2>/dev/null
    SPID=""
    awk '/^(summary|totals):/ {print $2; exit}' "$cg"
}

for server in httpfault nginx; do
    base=$(run "$server" 0 0)
    # the base run's single probe connection (the port check) is negligible beside H and K
    hs=$(run "$server" "$H" 0)
    ka=$(run "$server" 1 "$K")
    one=$(run "$server" 1 0)
    per_hs=$(awk -v t="$hs" -v b="$base" -v n="$H" 'BEGIN {printf "%.0f", (t-b)/n}')
    per_req=$(awk -v t="$ka" -v b="$one" -v n="$K" 'BEGIN {printf "%.0f", (t-b)/n}')
    eval "HS_$server=$per_hs; REQ_$server=$per_req"
    echo "$server: instructions per handshake (with one request) $per_hs, per keep-alive request over TLS $per_req" >&2
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
    echo "| instructions (callgrind), TLS 1.3 AES-128-GCM, ECDSA P-256 | httpfault | nginx | nginx / httpfault (> 1: httpfault cheaper) |"
    echo "|---|---:|---:|---:|"
    echo "| per handshake, with one \`Connection: close\` request ($H) | $HS_httpfault | $HS_nginx | $(ratio "$HS_nginx" "$HS_httpfault") |"
    echo "| per keep-alive request over TLS ($K on one connection) | $REQ_httpfault | $REQ_nginx | $(ratio "$REQ_nginx" "$REQ_httpfault") |"
} | tee "$ROOT/benches/out/tls_instr.md"
