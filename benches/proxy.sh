#!/usr/bin/env bash
# benches/proxy.sh: `make bench-proxy`. Proxy mode side by side, in one run, loopback only:
# httpfault --upstream, haproxy (`mode http`) and nginx (`proxy_pass` with upstream keepalive),
# each in front of the same upstream, and the upstream reached directly.
#
#   keep-alive req/s   wrk -t2 -c32 -d$DUR (loadgen keepalive if wrk is missing), upstream: the C
#                      epoll server of benches/epoll.c (`epoll PORT ok`)
#   latency            loadgen latency -c 32 (closed loop, so it includes queueing) and -c 1;
#                      "added" = p99 through the proxy - p99 direct
#   MB/s               one 1 GiB body (a sparse file served by nginx with sendfile), curl's
#                      speed_download; httpfault's peak RSS (VmHWM) is read after it
#
# Prints one Markdown table with ratios to haproxy and writes it to benches/out/proxy.md (raw
# tool output: benches/out/proxy-raw.txt). Every step is bounded in time; only processes this
# script started are killed (by PID); its temp dir is removed on exit.
#
# Knobs (environment): DUR=5s LAT_N=100000 LAT1_N=20000 SKIP_BUILD=0
#   HF_BIN=path (another httpfault binary; nothing is built for it)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/benches/out
BIN=$OUT/bin
mkdir -p "$OUT" "$BIN"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/httpfault-bench-proxy.XXXXXX")

DUR=${DUR:-5s}
LAT_N=${LAT_N:-100000}
LAT1_N=${LAT1_N:-20000}
SKIP_BUILD=${SKIP_BUILD:-0}
HF=${HF_BIN:-$ROOT/target/release/httpfault}
LG=$ROOT/benches/loadgen/target/release/loadgen
BIG=$((1024 * 1024 * 1024))
RAW=$OUT/proxy-raw.txt
T_START=$(date +%s)

log() { printf '[bench-proxy %3ss] %s\n' "$(($(date +%s) - T_START))" "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# processes this script started: stopped on exit, and only those
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_pid() { # PID: TERM, then KILL after 3 s (nginx's master stops its own workers on TERM)
    local p=$1 i keep=() q
    kill "$p" 2>/dev/null
    for i in $(seq 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    for q in "${PIDS[@]}"; do [ "$q" != "$p" ] && keep+=("$q"); done
    PIDS=("${keep[@]}")
}

# a port free a moment ago, for the servers that cannot report the port they chose
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_http PID URL: until URL answers 200 (10 s at most, or until PID dies)
wait_http() {
    local i
    for i in $(seq 200); do
        [ "$(curl -s --max-time 1 -o /dev/null -w '%{http_code}' "$2" 2>/dev/null)" = 200 ] && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# start_listening NAME CMD...: a server that prints `listening on http://127.0.0.1:PORT`;
# sets SPID and SPORT
start_listening() {
    local name=$1 i
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
    SPID=$!
    PIDS+=("$SPID")
    SPORT=""
    for i in $(seq 250); do
        SPORT=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$TMP/$name.out" | head -1)
        [ -n "$SPORT" ] && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.02
    done
    log "ERROR: $name did not start: $(head -c 300 "$TMP/$name.err")"
    return 1
}

# ---------------------------------------------------------------------------------------------
# tools and builds
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

apt_install() { # PACKAGE
    log "installing $1 (apt-get install -y $1)"
    apt-get -o DPkg::Lock::Timeout=120 install -y -qq "$1" >>"$TMP/apt.log" 2>&1 ||
        { apt-get -o DPkg::Lock::Timeout=120 update -qq >>"$TMP/apt.log" 2>&1 &&
            apt-get -o DPkg::Lock::Timeout=120 install -y -qq "$1" >>"$TMP/apt.log" 2>&1; }
}
find_tool() { # NAME -> path or empty
    command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; }
}

HAPROXY=$(find_tool haproxy)
[ -n "$HAPROXY" ] || { apt_install haproxy; HAPROXY=$(find_tool haproxy); }
NGINX=$(find_tool nginx)
[ -n "$NGINX" ] || { apt_install nginx-light; NGINX=$(find_tool nginx); }
WRK=$(find_tool wrk)
[ -n "$WRK" ] || { apt_install wrk; WRK=$(find_tool wrk); }
if [ -z "$NGINX" ]; then
    log "nginx is needed (it serves the 1 GiB body) and could not be installed"
    exit 1
fi

if [ "$SKIP_BUILD" != 1 ] && [ -z "${HF_BIN:-}" ]; then
    log "building httpfault (cargo build --release)"
    cargo build --release --quiet || { log "httpfault does not build"; exit 1; }
fi
[ -x "$HF" ] || { log "no httpfault binary at $HF"; exit 1; }
log "building loadgen"
cargo build --release --quiet --manifest-path benches/loadgen/Cargo.toml || { log "loadgen does not build"; exit 1; }
gcc -O2 -pthread -o "$BIN/epoll" benches/epoll.c || exit 1

if [ -n "$WRK" ]; then KA_TOOL="wrk -t2 -c32 -d$DUR"; else KA_TOOL="loadgen keepalive -c 32 -d $DUR (wrk unavailable)"; fi
log "keep-alive tool: $KA_TOOL; haproxy: ${HAPROXY:-missing}; nginx: $NGINX"

# ---------------------------------------------------------------------------------------------
# the upstreams: the C epoll server (small keep-alive answers) and nginx serving a sparse 1 GiB
# file (page cache only: a sparse file reads as zeros without touching the disk)
start_listening epoll "$BIN/epoll" 0 ok || exit 1
EPORT=$SPORT

mkdir -p "$TMP/www" "$TMP/ng-file/logs" "$TMP/ng-file/temp"
truncate -s "$BIG" "$TMP/www/big.bin"
echo ready >"$TMP/www/ready.txt"

nginx_common() { # DIR -> the lines every nginx config here starts with
    cat <<EOF
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log;
EOF
}
nginx_http_common() { # DIR
    cat <<EOF
    access_log off;
    client_body_temp_path $1/temp/body;
    proxy_temp_path $1/temp/proxy;
    fastcgi_temp_path $1/temp/fastcgi;
    uwsgi_temp_path $1/temp/uwsgi;
    scgi_temp_path $1/temp/scgi;
EOF
}

# start_nginx DIR CONFIG-WRITER URL-PATH: writes DIR/nginx.conf with a free port (3 tries); sets
# SPID and SPORT
start_nginx() {
    local dir=$1 writer=$2 path=$3 try
    mkdir -p "$dir/logs" "$dir/temp"
    for try in 1 2 3; do
        SPORT=$(free_port)
        "$writer" "$dir" "$SPORT" >"$dir/nginx.conf"
        "$NGINX" -p "$dir" -e "$dir/logs/error.log" -c "$dir/nginx.conf" \
            >"$dir/logs/nginx.out" 2>&1 </dev/null &
        SPID=$!
        PIDS+=("$SPID")
        wait_http "$SPID" "http://127.0.0.1:$SPORT$path" && return 0
        stop_pid "$SPID"
    done
    log "ERROR: nginx did not start: $(tail -c 300 "$dir/logs/error.log" 2>/dev/null)"
    return 1
}

conf_file_server() { # DIR PORT
    nginx_common "$1"
    cat <<EOF
master_process off;
events { worker_connections 64; }
http {
$(nginx_http_common "$1")
    sendfile on;
    server { listen 127.0.0.1:$2; root $TMP/www; }
}
EOF
}
start_nginx "$TMP/ng-file" conf_file_server /ready.txt || exit 1
FPORT=$SPORT

# ---------------------------------------------------------------------------------------------
# the proxies, each started in front of one upstream (UPORT); each sets SPID and SPORT
start_httpfault() { # UPORT
    start_listening "httpfault-$1" "$HF" -q --max-conns 20000 -l 127.0.0.1:0 --upstream "http://127.0.0.1:$1"
}

conf_nginx_proxy() { # DIR PORT (UPORT from the environment)
    nginx_common "$1"
    cat <<EOF
worker_processes auto;
events { worker_connections 4096; }
http {
$(nginx_http_common "$1")
    upstream up { server 127.0.0.1:$UPORT; keepalive 64; }
    server {
        listen 127.0.0.1:$2;
        location / {
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_max_temp_file_size 0;
        }
    }
}
EOF
}
start_nginx_proxy() { # UPORT
    UPORT=$1 start_nginx "$TMP/ng-proxy-$1" conf_nginx_proxy /ready.txt
}

start_haproxy() { # UPORT
    local dir=$TMP/haproxy-$1 try
    mkdir -p "$dir"
    for try in 1 2 3; do
        SPORT=$(free_port)
        cat >"$dir/haproxy.cfg" <<EOF
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind 127.0.0.1:$SPORT
    default_backend be
backend be
    server up 127.0.0.1:$1
EOF
        "$HAPROXY" -db -f "$dir/haproxy.cfg" >"$dir/out" 2>&1 </dev/null &
        SPID=$!
        PIDS+=("$SPID")
        wait_http "$SPID" "http://127.0.0.1:$SPORT/ready.txt" && return 0
        stop_pid "$SPID"
    done
    log "ERROR: haproxy did not start: $(tail -c 300 "$dir/out")"
    return 1
}

# start_front NAME UPORT: the proxy NAME in front of UPORT (direct: the upstream itself)
start_front() {
    case $1 in
        direct) SPID=""; SPORT=$2 ;;
        httpfault) start_httpfault "$2" ;;
        haproxy) [ -n "$HAPROXY" ] && start_haproxy "$2" ;;
        nginx) start_nginx_proxy "$2" ;;
    esac
}
stop_front() { [ -n "${SPID:-}" ] && stop_pid "$SPID"; SPID=""; }

field() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | head -1; }

declare -A R # R[metric|name]
: >"$RAW"
NAMES=(direct httpfault haproxy nginx)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# small answers in front of the C epoll server: keep-alive req/s, latency at 32 and 1 connections
for n in "${NAMES[@]}"; do
    log "$n in front of the C epoll server"
    start_front "$n" "$EPORT" || { log "$n: not measured"; continue; }
    url="http://127.0.0.1:$SPORT/"
    if [ -n "$WRK" ]; then
        line=$(timeout 60 "$WRK" -t2 -c32 -d"$DUR" "$url" 2>&1)
        echo "$n wrk: $(tr '\n' ' ' <<<"$line")" >>"$RAW"
        R["rps|$n"]=$(awk '/^Requests\/sec:/ {print $2}' <<<"$line")
        if grep -qE 'Non-2xx|Socket errors' <<<"$line"; then
            log "note: $n: $(grep -E 'Non-2xx|Socket errors' <<<"$line" | tr '\n' ' ')"
        fi
    else
        line=$(timeout 60 "$LG" keepalive "127.0.0.1:$SPORT" -c 32 -d "$DUR")
        echo "$n keepalive: $line" >>"$RAW"
        R["rps|$n"]=$(field req_per_s "$line")
    fi
    line=$(timeout 120 "$LG" latency "127.0.0.1:$SPORT" -c 32 -n "$LAT_N" --base 0ms)
    echo "$n latency c=32: $line" >>"$RAW"
    R["p50_32|$n"]=$(field over_p50_ms "$line")
    R["p99_32|$n"]=$(field over_p99_ms "$line")
    [ "$(field errors "$line")" = 0 ] || log "note: $n latency c=32: $line"
    line=$(timeout 120 "$LG" latency "127.0.0.1:$SPORT" -c 1 -n "$LAT1_N" --base 0ms)
    echo "$n latency c=1: $line" >>"$RAW"
    R["p99_1|$n"]=$(field over_p99_ms "$line")
    stop_front
done

# ---------------------------------------------------------------------------------------------
# one 1 GiB body in front of nginx serving the sparse file; a first fetch fills the page cache
curl -s --max-time 120 -o /dev/null "http://127.0.0.1:$FPORT/big.bin"
for n in "${NAMES[@]}"; do
    log "$n: 1 GiB body"
    start_front "$n" "$FPORT" || { log "$n: not measured"; continue; }
    hwm0=""
    [ "$n" = httpfault ] && hwm0=$(awk '/^VmHWM:/ {print $2}' "/proc/$SPID/status")
    line=$(curl -s --max-time 120 -o /dev/null -w '%{http_code} %{size_download} %{speed_download}' \
        "http://127.0.0.1:$SPORT/big.bin" 2>&1)
    echo "$n big: $line" >>"$RAW"
    read -r code size speed <<<"$line"
    if [ "$code" = 200 ] && [ "$size" = "$BIG" ]; then
        R["mbps|$n"]=$(awk -v s="$speed" 'BEGIN {printf "%.1f", s / 1e6}')
    else
        log "note: $n: 1 GiB body incomplete: $line"
    fi
    if [ "$n" = httpfault ]; then
        hwm1=$(awk '/^VmHWM:/ {print $2}' "/proc/$SPID/status")
        R["hwm0|$n"]=$hwm0
        R["hwm|$n"]=$hwm1
        echo "httpfault VmHWM before=$hwm0 after=$hwm1 KiB" >>"$RAW"
    fi
    stop_front
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# the table
v() { echo "${R["$1|$2"]:-}"; }
fmt() { [ -z "$1" ] && { echo "n/a"; return; }; awk -v v="$1" -v d="$2" 'BEGIN {printf "%.*f", d, v}'; }
ratio() { # a b -> a/b×
    if [ -z "$1" ] || [ -z "$2" ] || awk -v b="$2" 'BEGIN {exit !(b==0)}'; then echo "n/a"; return; fi
    awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f×", a/b}'
}
sub() { [ -z "$1" ] || [ -z "$2" ] && return; awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a-b}'; }
verdict() { # value op limit
    [ -z "$1" ] && { echo "?"; return; }
    awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
        if (op==">=") ok = v >= l; else ok = v < l; print (ok ? "✅" : "❌") }'
}
rnum() { [ -z "$1" ] || [ -z "$2" ] && return; awk -v a="$1" -v b="$2" 'BEGIN {if (b!=0) printf "%.4f", a/b}'; }

row() { # label metric decimals target-op target-limit target-text
    local m=$2 d=$3 hf hp
    hf=$(v "$m" httpfault)
    hp=$(v "$m" haproxy)
    echo "| $1 | $(fmt "$(v "$m" direct)" "$d") | $(fmt "$hf" "$d") | $(fmt "$hp" "$d") | $(fmt "$(v "$m" nginx)" "$d") | $(ratio "$hf" "$hp") | $(ratio "$(v "$m" nginx)" "$hp") | $6 $(verdict "$(rnum "$hf" "$hp")" "$4" "$5") |"
}
for n in httpfault haproxy nginx; do
    R["add32|$n"]=$(sub "$(v p99_32 "$n")" "$(v p99_32 direct)")
    R["add1|$n"]=$(sub "$(v p99_1 "$n")" "$(v p99_1 direct)")
done
info_row() { # label metric decimals
    local m=$2 d=$3 hf hp
    hf=$(v "$m" httpfault)
    hp=$(v "$m" haproxy)
    echo "| $1 | $(fmt "$(v "$m" direct)" "$d") | $(fmt "$hf" "$d") | $(fmt "$hp" "$d") | $(fmt "$(v "$m" nginx)" "$d") | $(ratio "$hf" "$hp") | $(ratio "$(v "$m" nginx)" "$hp") | (info) |"
}
added_row() { # label metric target?
    local hf
    hf=$(v "$2" httpfault)
    local tgt="(info)"
    [ "${3:-}" = target ] && tgt="< 1 ms $(verdict "$hf" "<" 1)"
    echo "| $1 | | $(fmt "$hf" 3) | $(fmt "$(v "$2" haproxy)" 3) | $(fmt "$(v "$2" nginx)" 3) | | | $tgt |"
}

{
    echo "## httpfault proxy mode beside haproxy and nginx"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), git $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+dirty'), $(nproc) cores, $(uname -r); load average (1, 5, 15 min) before: $LOAD_BEFORE, after: $LOAD_AFTER."
    echo "One run, loopback only; client, proxy and upstream share the cores. $("$HAPROXY" -v 2>/dev/null | head -1 | cut -d' ' -f1-3), $("$NGINX" -v 2>&1 | cut -d' ' -f3)."
    echo
    echo "| figure | direct | httpfault | haproxy | nginx | httpfault/haproxy | nginx/haproxy | target |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    row "keep-alive req/s, $KA_TOOL, upstream: C epoll" rps 0 ">=" 0.8 "≥ 0.8× haproxy"
    row "MB/s, one 1 GiB body (curl), upstream: nginx, sparse file" mbps 1 ">=" 0.9 "≥ 0.9× haproxy"
    info_row "p50 latency, 32 connections (closed loop), ms" p50_32 3
    info_row "p99 latency, 32 connections (closed loop), ms" p99_32 3
    added_row "added p99 latency at 32 connections (p99 − direct p99), ms" add32 target
    added_row "added p99 latency at 1 connection, ms" add1
    if [ -n "$(v hwm httpfault)" ]; then
        echo "| httpfault peak RSS (VmHWM) before → after relaying 1 GiB, KiB | | $(v hwm0 httpfault) → $(v hwm httpfault) | | | | | (info) |"
    fi
    echo
    echo "haproxy: \`mode http\`, default keep-alive and connection reuse, $(nproc) threads (its default). nginx: \`worker_processes auto\`, \`proxy_pass\` with \`keepalive 64\`, \`proxy_http_version 1.1\`, \`proxy_max_temp_file_size 0\`. httpfault: \`-q --upstream\`, no plan."
    echo "Command: \`make bench-proxy\` (DUR=$DUR LAT_N=$LAT_N LAT1_N=$LAT1_N). Raw output: benches/out/proxy-raw.txt."
} >"$OUT/proxy.md"

cat "$OUT/proxy.md"
log "done in $(($(date +%s) - T_START)) s"
