#!/usr/bin/env bash
# make bench-ws: WebSocket echo messages per second, httpfault beside a Python `websockets`
# echo server and a Node `ws` echo server, and the memory of an idle WebSocket connection.
#
# Echo: every server is driven by the same client, `loadgen ws` (benches/loadgen, Rust, one
# blocking thread per connection): 64-byte masked binary messages over 1 connection and over
# 100, each connection sending one and waiting for its echo (round trip); the same 100 from a
# client of 2 threads with an epoll set each (`--epoll 2`: no context switch a message on the
# client's side); and 100 connections with 16 messages in flight on each (pipelined). The one
# connection runs twice: as it comes, and with the client and every thread of the server on
# CPU 0 (taskset), where no message waits for an idle CPU to wake. ROUNDS rounds (default 3), the
# servers' order rotating each round; the table has each server's median and httpfault's
# ratio to the faster peer (the target: at least 2).
#
# Memory: a fresh httpfault (`ok`) holds HOLD_N (default 2000) WebSocket connections idle after
# their handshake, and another (`hang`) holds HOLD_N HTTP/1 connections that each sent a GET;
# the growth of VmRSS divided by HOLD_N, both in the same run (the target: WebSocket at most
# HTTP/1 plus 4 KiB).
#
# Loopback only, about 3 minutes; every process is stopped by its PID. Table: benches/out/ws.md
# (SECONDS_EACH, default 3; SKIP_BUILD=1 uses the release binaries as they are).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tests/deps/setup.sh >/dev/null
if [[ -z "${SKIP_BUILD:-}" ]]; then
    cargo build --release -q
    cargo build --release -q --manifest-path benches/loadgen/Cargo.toml
fi
secs=${SECONDS_EACH:-3}
rounds=${ROUNDS:-3}
hold_n=${HOLD_N:-2000}
bin=${BIN:-target/release/httpfault}
lg=benches/loadgen/target/release/loadgen
export NODE_PATH=$PWD/target/node/node_modules
mkdir -p benches/out
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# start NAME COMMAND...: runs a server, waits for its "listening on" line, sets $addr and $spid.
start() {
    local name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    spid=$!
    pids+=("$spid")
    for _ in $(seq 100); do
        grep -q "listening on" "$tmp/$name.out" 2>/dev/null && break
        sleep 0.1
    done
    addr=$(sed -n 's#^listening on [a-z]*://\(127\.0\.0\.1:[0-9]*\).*#\1#p' "$tmp/$name.out" | head -1)
    [[ -n $addr ]] || { echo "bench-ws: $name did not start: $(cat "$tmp/$name.err")" >&2; exit 1; }
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# ---- echo rates -------------------------------------------------------------------------------
start hf "$bin" -l 127.0.0.1:0 -q --max-conns 20000 ok
declare -A url=([hf]=$addr) spids=([hf]=$spid)
start py target/venv/bin/python benches/ws_echo.py
url[py]=$addr spids[py]=$spid
start nd node benches/ws_servers.js
url[nd]=$addr spids[nd]=$spid
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The loads, their column titles, and whether the client and the server share one CPU (the
# pinned round trip takes out the cost of waking an idle CPU, which dominates one connection's
# round trips on a quiet machine).
loads=("-c 1" "-c 1" "-c 100" "-c 100 --epoll 2" "-c 100 --window 16")
pinned=("" 1 "" "" "")
titles=("1 connection, round trip" "the same, client and server on one CPU" "100 connections, round trip"
    "the same, epoll client" "100 connections, 16 in flight each")
cpus="0-$(($(nproc) - 1))"
servers=(hf py nd)
echo "bench-ws: $rounds rounds of ${secs} s per load and server; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq "$rounds"); do
    for k in 0 1 2; do
        s=${servers[$(((k + r) % 3))]}
        for l in "${!loads[@]}"; do
            pin=()
            if [[ -n ${pinned[$l]} ]]; then
                taskset -a -p -c 0 "${spids[$s]}" >/dev/null # every thread, and those it starts
                pin=(taskset -c 0)
            fi
            t0=$(ticks "${spids[$s]}")
            # shellcheck disable=SC2086
            line=$("${pin[@]}" "$lg" ws "${url[$s]}" ${loads[$l]} -d "${secs}s")
            t1=$(ticks "${spids[$s]}")
            [[ -z ${pinned[$l]} ]] || taskset -a -p -c "$cpus" "${spids[$s]}" >/dev/null
            echo "round $r $s ${loads[$l]}${pinned[$l]:+ pinned}: $line server_ticks=$((t1 - t0))" >>"$tmp/raw.txt"
            grep -q "wrong=0 errors=0 failed_handshakes=0" <<<"$line" ||
                echo "bench-ws: $s ${loads[$l]}: $line" >&2
            sed -n 's/.*echoes_per_s=\([0-9]*\).*/\1/p' <<<"$line" >>"$tmp/$s.$l"
            # the server's CPU (utime + stime) per echo, in microseconds
            sed -n 's/.* echoes=\([0-9]*\) .*/\1/p' <<<"$line" |
                awk -v t=$((t1 - t0)) -v hz="$hz" '{printf "%.2f\n", $1 ? t * 1e6 / hz / $1 : 0}' >>"$tmp/$s.$l.cpu"
        done
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
pids=()

# ---- memory per idle connection ----------------------------------------------------------------
# hold KIND PLAN [--ws]: a fresh server, HOLD_N connections held; sets $kib (per connection).
hold() {
    local kind=$1 plan=$2 before after prev i lpid
    shift 2
    start "hold-$kind" "$bin" -l 127.0.0.1:0 -q --max-conns 20000 --read-timeout 120s "$plan"
    sleep 0.5
    before=$(rss_kib "$spid")
    rm -f "$tmp/release"
    mkfifo "$tmp/release"
    "$lg" hold "$addr" -n "$hold_n" --settle 1s --hold-for 100s "$@" <"$tmp/release" >"$tmp/hold-$kind.lg" 2>&1 &
    lpid=$!
    pids+=("$lpid")
    exec 3>"$tmp/release"
    for _ in $(seq 600); do
        grep -q "^alive" "$tmp/hold-$kind.lg" && break
        sleep 0.1
    done
    # VmRSS settles once the server has taken every connection: until it stops growing (<= 5 s)
    prev=$(rss_kib "$spid")
    for i in $(seq 10); do
        sleep 0.5
        after=$(rss_kib "$spid")
        [[ $after == "$prev" ]] && break
        prev=$after
    done
    echo "$kind: $(tr '\n' ' ' <"$tmp/hold-$kind.lg") rss $before -> $after KiB" >>"$tmp/raw.txt"
    grep -q "alive held=$hold_n " "$tmp/hold-$kind.lg" ||
        echo "bench-ws: $kind hold: $(cat "$tmp/hold-$kind.lg")" >&2
    echo >&3
    exec 3>&-
    wait "$lpid" 2>/dev/null || true
    kill "$spid"
    wait "$spid" 2>/dev/null || true
    kib=$(awk -v a="$after" -v b="$before" -v n="$hold_n" 'BEGIN {printf "%.2f", (a-b)/n}')
}
hold ws ok --ws
ws_kib=$kib
hold h1 hang
h1_kib=$kib

# ---- the tables -------------------------------------------------------------------------------
pyv=$(target/venv/bin/python -c 'import websockets; print(websockets.__version__)')
ndv=$(node -p 'require("ws/package.json").version')
{
    # row TITLE CELL...: one table row
    row() {
        local out="| $1 |" c
        shift
        for c in "$@"; do out+=" $c |"; done
        echo "$out"
    }
    cols=("${!loads[@]}")
    row "server (echoes/s)" "${titles[@]}"
    row "---" "${titles[@]/*/---}" | tr -d ' '
    declare -A med
    for s in hf py nd; do
        for l in "${cols[@]}"; do
            med[$s.$l]=$(median <"$tmp/$s.$l")
            med[$s.$l.cpu]=$(median <"$tmp/$s.$l.cpu")
        done
    done
    for pair in "hf httpfault $("$bin" --version | head -1 | cut -d' ' -f2)" "py Python websockets $pyv" "nd Node ws $ndv"; do
        s=${pair%% *}
        cells=()
        for l in "${cols[@]}"; do cells+=("${med[$s.$l]}"); done
        row "${pair#* }" "${cells[@]}"
    done
    ratio() { awk -v h="${med[hf.$1]}" -v p="${med[py.$1]}" -v n="${med[nd.$1]}" 'BEGIN {m = p > n ? p : n; printf "%.2f", h / m}'; }
    cells=()
    for l in "${cols[@]}"; do cells+=("$(ratio "$l")"); done
    row "httpfault / faster peer (target >= 2)" "${cells[@]}"
    echo
    row "server CPU per echo, µs (utime + stime / echoes)" "${titles[@]}"
    row "---" "${titles[@]/*/---}" | tr -d ' '
    for pair in "hf httpfault" "py Python websockets" "nd Node ws"; do
        s=${pair%% *}
        cells=()
        for l in "${cols[@]}"; do cells+=("${med[$s.$l.cpu]}"); done
        row "${pair#* }" "${cells[@]}"
    done
    cratio() { awk -v h="${med[hf.$1.cpu]}" -v p="${med[py.$1.cpu]}" -v n="${med[nd.$1.cpu]}" 'BEGIN {m = p < n ? p : n; printf "%.2f", h ? m / h : 0}'; }
    cells=()
    for l in "${cols[@]}"; do cells+=("$(cratio "$l")"); done
    row "leaner peer / httpfault" "${cells[@]}"
    echo
    echo "Medians of $rounds rounds of ${secs} s, 64-byte binary messages, client \`loadgen ws\` (a thread per"
    echo "connection; the epoll client: 2 threads, each with an epoll set of 50 connections);"
    echo "load average $load_before before, $load_after after."
    echo
    echo "| memory per idle connection, $hold_n held (VmRSS growth / $hold_n) | KiB |"
    echo "|---|---|"
    echo "| WebSocket, idle after its handshake (\`ok\`) | $ws_kib |"
    echo "| HTTP/1, held by \`hang\` after its GET | $h1_kib |"
    echo "| difference (target <= 4) | $(awk -v a="$ws_kib" -v b="$h1_kib" 'BEGIN {printf "%.2f", a-b}') |"
} | tee benches/out/ws.md
cp "$tmp/raw.txt" benches/out/ws.raw.txt
