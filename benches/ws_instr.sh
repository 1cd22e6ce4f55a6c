#!/usr/bin/env bash
# benches/ws_instr.sh: `make bench-ws-instr`. Instructions a server spends on one WebSocket echo
# (a 64-byte masked binary message in, its echo out), counted by callgrind (deterministic,
# unlike messages/s on a shared machine): the server runs under valgrind while
# `loadgen ws -c 1 -n N` does the handshake and N round trips on one connection; a second run
# with -n 0 (the handshake alone) gives the cost of starting, the upgrade and stopping, and
# (Ir(N) - Ir(0)) / N is the figure. httpfault (release build) beside the Python `websockets`
# and the Node `ws` echo servers of `make bench-ws` (the interpreters' instructions, under
# callgrind; Node's JIT code is counted as it runs).
#
# Knobs: N=5000, HF_BIN=path (another build; default target/release/httpfault, built here),
#   PEERS=0 (httpfault only). Table: benches/out/ws_instr.md. Loopback only, about 3 minutes.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/benches/out
TMP=$OUT/tmp
mkdir -p "$TMP"
N=${N:-5000}
HF=${HF_BIN:-$ROOT/target/release/httpfault}
LG=$ROOT/benches/loadgen/target/release/loadgen
export NODE_PATH=$ROOT/target/node/node_modules

command -v valgrind >/dev/null || { echo "bench-ws-instr: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
bash tests/deps/setup.sh >/dev/null || exit 1
if [ -z "${HF_BIN:-}" ]; then
    cargo build --release --quiet || exit 1
fi
cargo build --release --quiet --manifest-path benches/loadgen/Cargo.toml || exit 1

SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null' EXIT
# fail MESSAGE: run() is called in $(...), a subshell the EXIT trap does not cover: its server
# is stopped here.
fail() {
    echo "bench-ws-instr: $1" >&2
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    exit 1
}

# run COUNT CMD... -> prints the total Ir of the server process (and its children)
run() {
    local n=$1 out=$TMP/wsi.out err=$TMP/wsi.err cg=$TMP/ws-callgrind.out addr="" i line
    shift
    : >"$out"
    rm -f "$cg"*
    valgrind --tool=callgrind --callgrind-out-file="$cg.%p" "$@" >"$out" 2>"$err" </dev/null &
    SPID=$!
    for i in $(seq 1200); do # valgrind starts slowly (Node: tens of seconds): up to 120 s
        addr=$(sed -n 's#^listening on [a-z]*://\(127\.0\.0\.1:[0-9]*\).*#\1#p' "$out" | head -1)
        [ -n "$addr" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$addr" ] || fail "$1 did not start: $(tail -3 "$err")"
    line=$("$LG" ws "$addr" -c 1 -n "$n" -d 600s)
    grep -q "echoes=$n .*wrong=0 errors=0 failed_handshakes=0" <<<"$line" ||
        fail "unexpected load result from $1: $line"
    kill "$SPID"
    wait "$SPID" 2>/dev/null
    SPID=""
    cat "$cg".* | awk '/^summary:/ {s += $2} END {print s}'
}

# per NAME CMD...: one table row
per() {
    local name=$1 base total
    shift
    base=$(run 0 "$@") || exit 1
    total=$(run "$N" "$@") || exit 1
    echo "| $name | $(awk -v t="$total" -v b="$base" -v n="$N" 'BEGIN {printf "%.0f", (t-b)/n}') | $base |"
}

{
    echo "| server | instructions per echo | Ir(0): start, one handshake, stop |"
    echo "|---|---|---|"
    per "httpfault $("$HF" --version | head -1 | cut -d' ' -f2)" "$HF" -q -l 127.0.0.1:0 ok
    if [ "${PEERS:-1}" != 0 ]; then
        per "Python websockets $(target/venv/bin/python -c 'import websockets; print(websockets.__version__)')" \
            target/venv/bin/python benches/ws_echo.py
        per "Node ws $(node -p 'require("ws/package.json").version')" node benches/ws_servers.js
    fi
    echo
    echo "(Ir($N) - Ir(0)) / $N, callgrind, \`loadgen ws -c 1 -n $N\`, 64-byte binary messages."
} | tee "$OUT/ws_instr.md"
