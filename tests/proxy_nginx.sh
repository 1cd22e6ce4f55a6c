#!/usr/bin/env bash
# Proxy mode in front of a real upstream: nginx (Debian's package) serving a file on
# 127.0.0.1, httpfault --upstream in front of it, curl as the client.
#
#   bash tests/proxy_nginx.sh target/debug/httpfault
#
# Skipped (loudly, exit 0) when nginx is not installed. nginx runs without root from a temp
# dir (its own config, pid file, logs and temp paths there); only the PIDs this script started
# are killed. Prints `ok - NAME` / `not ok - NAME (expected X got Y)`; exits 1 on a failure.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: bash tests/proxy_nginx.sh PATH/TO/httpfault" >&2
    exit 2
fi
BIN=$1
NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ -z $NGINX ]]; then
    if [[ ${CI:-} == true ]]; then
        echo "proxy_nginx: error: nginx is not installed (.ci/run installs nginx-light)" >&2
        exit 1
    fi
    echo "# SKIPPED: proxy_nginx: nginx is not installed (apt-get install nginx-light to run it)"
    exit 0
fi
for tool in curl python3 sha256sum; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "proxy_nginx: error: $tool not found" >&2
        exit 2
    fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/httpfault-nginx.XXXXXX")
PIDS=()
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cleanup() {
    kill_pids "${PIDS[@]}"
    rm -rf "$TMP"
}
trap cleanup EXIT
check() {
    if [[ $2 == "$3" ]]; then ok "$1"; else not_ok "$1" "$2" "$3"; fi
}
note() { sed 's/^/#   /' "$@" | head -n 20; }

# A port free a moment ago (nginx cannot report a port it chose); nginx failing to bind is
# retried with another.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

mkdir -p "$TMP/www" "$TMP/logs" "$TMP/temp"
SIZE=$((64 * 1024 * 1024))
head -c "$SIZE" /dev/urandom >"$TMP/www/big.bin"
WANT=$(sha256sum <"$TMP/www/big.bin" | cut -d' ' -f1)

start_nginx() {
    local port=$1 deadline
    cat >"$TMP/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $TMP/temp/body;
    proxy_temp_path $TMP/temp/proxy;
    fastcgi_temp_path $TMP/temp/fastcgi;
    uwsgi_temp_path $TMP/temp/uwsgi;
    scgi_temp_path $TMP/temp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $TMP/www;
        # The same file at 16 KiB/s: an answer that takes more than an hour.
        location /slow/ {
            alias $TMP/www/;
            limit_rate 16k;
        }
    }
}
EOF
    "$NGINX" -p "$TMP" -e "$TMP/logs/error.log" -c "$TMP/nginx.conf" \
        >"$TMP/logs/nginx.out" 2>&1 </dev/null &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    deadline=$((SECONDS + 10))
    while ((SECONDS <= deadline)); do
        if curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
            return 0
        fi
        kill -0 "$NGINX_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

NGINX_PORT=
for _ in 1 2 3; do
    port=$(free_port)
    if start_nginx "$port"; then
        NGINX_PORT=$port
        break
    fi
    kill_pids "$NGINX_PID"
done
if [[ -z $NGINX_PORT ]]; then
    not_ok "nginx starts" "nginx serving on 127.0.0.1" "no answer"
    note "$TMP/logs/error.log"
    exit 1
fi
ok "nginx serves $TMP/www on 127.0.0.1:$NGINX_PORT"

# httpfault in front of it; the port comes from the readiness line.
: >"$TMP/hf.out"
"$BIN" -q -l 127.0.0.1:0 --upstream "http://127.0.0.1:$NGINX_PORT" >"$TMP/hf.out" 2>"$TMP/hf.err" </dev/null &
PIDS+=("$!")
PORT=
deadline=$((SECONDS + 10))
while ((SECONDS <= deadline)) && [[ -z $PORT ]]; do
    line=$(head -n 1 "$TMP/hf.out")
    if [[ $line =~ ^listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]]; then PORT=${BASH_REMATCH[1]}; fi
    sleep 0.02
done
if [[ -z $PORT ]]; then
    not_ok "httpfault starts" "a readiness line" "none"
    note "$TMP/hf.err"
    exit 1
fi

# fetch NAME [CURL ARGS...]: /big.bin through httpfault into $TMP/NAME; exit code in RC.
fetch() {
    local name=$1
    shift
    RC=0
    curl -sS --max-time 60 -o "$TMP/$name" "$@" "http://127.0.0.1:$PORT/big.bin" \
        2>"$TMP/$name.err" </dev/null || RC=$?
    touch "$TMP/$name"
}

fetch pass
check "64 MiB from nginx passes through: curl exit" "exit 0" "exit $RC"
check "64 MiB from nginx passes through: sha256" "$WANT" "$(sha256sum <"$TMP/pass" | cut -d' ' -f1)"

fetch cut -H "X-Httpfault-Plan: reset=1m"
check "reset=1m: curl sees a reset (56)" "exit 56" "exit $RC"
check "reset=1m: exactly 1 MiB arrived" "1048576" "$(wc -c <"$TMP/cut")"
check "reset=1m: the first 1 MiB of the real file" \
    "$(head -c 1048576 "$TMP/www/big.bin" | sha256sum | cut -d' ' -f1)" \
    "$(sha256sum <"$TMP/cut" | cut -d' ' -f1)"

fetch fin -H "X-Httpfault-Plan: close=12345"
check "close=12345: curl sees a short body (18)" "exit 18" "exit $RC"
check "close=12345: exactly 12345 bytes" "12345" "$(wc -c <"$TMP/fin")"

fetch lost -H "X-Httpfault-Plan: reset"
check "reset (the lost response): curl exit 56, no bytes" "exit 56 0" "exit $RC $(wc -c <"$TMP/lost")"

# Issue 16, item 8: a dropped answer ends as soon as nginx's head arrives, not after the body
# (more than an hour at 16 KiB/s: curl's 10 s limit would say 28).
for ending in "reset 56" "close 52"; do
    set -- $ending
    RC=0
    : >"$TMP/slow-$1"
    curl -sS --max-time 10 -o "$TMP/slow-$1" -H "X-Httpfault-Plan: $1" \
        "http://127.0.0.1:$PORT/slow/big.bin" 2>"$TMP/slow-$1.err" </dev/null || RC=$?
    check "$1 (dropped answer) on a slow body ends at once: curl exit $2, no bytes" \
        "exit $2 0" "exit $RC $(wc -c <"$TMP/slow-$1")"
done

echo "# $PASSED passed, $FAILED failed"
((FAILED == 0))
