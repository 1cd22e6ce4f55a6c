#!/usr/bin/env bash
# benches/keepalive_ab.sh: healthy keep-alive only, httpfault against the C floors (and, with
# HF2_BIN, a second build), in short alternating rounds: `wrk -t2 -c32 -d$DUR` per server per
# round, medians at the end. Quicker than `make bench` and less exposed to a burst of load on a
# shared machine, since every round measures every server within seconds.
#
# Knobs: ROUNDS=7 DUR=3s HF_BIN=target/release/httpfault HF2_BIN=path (optional).
# Needs wrk and the C servers that `make bench` builds (benches/out/bin/threads, epoll).
set -u
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}
DUR=${DUR:-3s}
HF=${HF_BIN:-target/release/httpfault}
HF2=${HF2_BIN:-}
BIN=benches/out/bin
OUT=$(mktemp -d "${TMPDIR:-/tmp}/httpfault-ab.XXXXXX")
SP=""
trap '[ -n "$SP" ] && kill "$SP" 2>/dev/null; rm -rf "$OUT"' EXIT
[ -x "$BIN/threads" ] && [ -x "$BIN/epoll" ] || {
    mkdir -p "$BIN"
    gcc -O2 -pthread -o "$BIN/epoll" benches/epoll.c && gcc -O2 -pthread -o "$BIN/threads" benches/threads.c || exit 1
}
command -v wrk >/dev/null || { echo "keepalive_ab: wrk is missing (apt-get install wrk)" >&2; exit 1; }

start() { # CMD...: sets SP and PORT
    "$@" >"$OUT/server.out" 2>&1 </dev/null &
    SP=$!
    PORT=""
    for _ in $(seq 100); do
        PORT=$(sed -n 's#.*127\.0\.0\.1:\([0-9]*\).*#\1#p' "$OUT/server.out" | head -1)
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    return 1
}

NAMES="httpfault threads epoll"
[ -n "$HF2" ] && NAMES="httpfault httpfault2 threads epoll"
declare -A V
for r in $(seq "$ROUNDS"); do
    line="round $r:"
    for s in $NAMES; do
        case $s in
            httpfault) start "$HF" -q --listen 127.0.0.1:0 status=200 ;;
            httpfault2) start "$HF2" -q --listen 127.0.0.1:0 status=200 ;;
            threads | epoll) start "$BIN/$s" 0 ok ;;
        esac || { echo "keepalive_ab: $s did not start" >&2; exit 1; }
        v=$(wrk -t2 -c32 -d"$DUR" "http://127.0.0.1:$PORT/" 2>&1 | awk '/^Requests\/sec:/ {print $2}')
        kill "$SP"
        wait "$SP" 2>/dev/null
        SP=""
        V[$s]="${V[$s]:-} $v"
        line="$line $s $v"
    done
    echo "$line (load $(cut -d' ' -f1 /proc/loadavg))"
done
med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
out="medians:"
for s in $NAMES; do out="$out $s $(med "${V[$s]}")"; done
echo "$out"
t=$(med "${V[threads]}")
for s in $NAMES; do
    [ "$s" = threads ] && continue
    echo "$s / C threads: $(awk -v a="$(med "${V[$s]}")" -v b="$t" 'BEGIN {printf "%.2f", a/b}')"
done
