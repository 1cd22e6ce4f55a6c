#!/usr/bin/env bash
# make bench-ws: WebSocket echo messages per second (64-byte text messages, each connection
# sends one and waits for its echo) over 1 and 100 connections, httpfault beside a Python
# `websockets` echo server and a Node `ws` echo server, all driven by the same Node client
# (benches/ws_load.js) on this machine. Loopback only, about 30 s; every server is stopped by
# its PID. Table: benches/out/ws.md (SECONDS_EACH, default 4; SKIP_BUILD=1 uses the release
# binary as it is).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash tests/deps/setup.sh >/dev/null
[[ -n "${SKIP_BUILD:-}" ]] || cargo build --release -q
secs=${SECONDS_EACH:-4}
export NODE_PATH=$PWD/target/node/node_modules
mkdir -p benches/out
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

# start NAME COMMAND...: runs a server, waits for its "listening on" line, sets $url.
start() {
    local name=$1
    shift
    "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q "listening on" "$tmp/$name.out" 2>/dev/null && break
        sleep 0.1
    done
    url=$(sed -n 's/^listening on \(http\|ws\):\/\//ws:\/\//p' "$tmp/$name.out" | head -1)
    [[ -n $url ]] || { echo "bench-ws: $name did not start: $(cat "$tmp/$name.err")" >&2; exit 1; }
}

start httpfault "${BIN:-target/release/httpfault}" -l 0 -q ok
hf=$url
start python target/venv/bin/python benches/ws_echo.py
py=$url
start node node benches/ws_servers.js
nd=$url

{
    echo "| server | 1 connection (echoes/s) | 100 connections (echoes/s) |"
    echo "|---|---|---|"
    for pair in "httpfault $hf" "Python websockets $(target/venv/bin/python -c 'import websockets; print(websockets.__version__)') $py" "Node ws $(node -p 'require("ws/package.json").version') $nd"; do
        name=${pair% *}
        u=${pair##* }
        one=$(node benches/ws_load.js "$u/" 1 "$secs")
        hundred=$(node benches/ws_load.js "$u/" 100 "$secs")
        echo "| $name | ${one% *} | ${hundred% *} |"
    done
} | tee benches/out/ws.md
