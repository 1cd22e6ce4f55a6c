#!/usr/bin/env bash
# benches/instr.sh: `make bench-instr`. Instructions httpfault spends on one healthy keep-alive
# request, counted by callgrind (deterministic, unlike req/s on a shared machine): the server
# (`status=200`) runs under valgrind while `loadgen keepalive -c 1 -n N` sends N requests on one
# connection; a second run with no request gives the cost of starting and stopping, and
# (Ir(N) - Ir(0)) / N is the figure. Also printed: Ir(N) / N (start-up included).
#
# Knobs: N=10000, HF_BIN=path (another build; default target/release/httpfault, built here),
#   PLAN=status=200.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/benches/out
TMP=$OUT/tmp
mkdir -p "$TMP"
N=${N:-10000}
PLAN=${PLAN:-status=200}
HF=${HF_BIN:-$ROOT/target/release/httpfault}
LG=$ROOT/benches/loadgen/target/release/loadgen

command -v valgrind >/dev/null || { echo "bench-instr: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
if [ -z "${HF_BIN:-}" ]; then
    cargo build --release --quiet || exit 1
fi
cargo build --release --quiet --manifest-path benches/loadgen/Cargo.toml || exit 1

SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null' EXIT

# run COUNT -> prints the total Ir of the server process
run() {
    local n=$1 out=$TMP/instr.out err=$TMP/instr.err cg=$TMP/callgrind.$1.out port="" i
    : >"$out"
    rm -f "$cg"
    valgrind --tool=callgrind --callgrind-out-file="$cg" "$HF" -q --listen 127.0.0.1:0 "$PLAN" \
        >"$out" 2>"$err" </dev/null &
    SPID=$!
    for i in $(seq 600); do # valgrind starts slowly: up to 60 s
        port=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$out" | head -1)
        [ -n "$port" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "bench-instr: the server did not start: $(tail -3 "$err")" >&2; exit 1; }
    if [ "$n" -gt 0 ]; then
        local line
        line=$("$LG" keepalive "127.0.0.1:$port" -c 1 -n "$n" -d 300s)
        grep -q "requests=$n .*errors=0 connects=1" <<<"$line" ||
            { echo "bench-instr: unexpected load result: $line" >&2; exit 1; }
    fi
    kill "$SPID"
    wait "$SPID" 2>/dev/null
    SPID=""
    awk '/^(summary|totals):/ {print $2; exit}' "$cg"
}

base=$(run 0)
total=$(run "$N")
per=$(awk -v t="$total" -v b="$base" -v n="$N" 'BEGIN {printf "%.0f", (t-b)/n}')
all=$(awk -v t="$total" -v n="$N" 'BEGIN {printf "%.0f", t/n}')
echo "instructions per keep-alive request: $per ((Ir($N)=$total - Ir(0)=$base) / $N; Ir($N)/$N = $all), plan $PLAN, $("$HF" --version 2>/dev/null | head -1)"
