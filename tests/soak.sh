#!/usr/bin/env bash
# Soak test (`make soak`): one release server on 127.0.0.1, tens of thousands of requests
# mixing every fault with hostile clients (vanishing, slowloris, garbage, oversized heads,
# bad bodies), then checks that the server's descriptors and threads are back to the
# baseline, that it answers a normal request at once, and that its log shows no panic.
# The client is tests/soak/soak.py (Python 3 standard library); it prints the figures.
#
#   bash tests/soak.sh              # about 75 s
#   SOAK_DURATION=20 SOAK_MIN_REQUESTS=5000 bash tests/soak.sh   # a quick run
#
# Environment: SOAK_DURATION (load phase seconds, default 60), SOAK_MAX_REQUESTS (default
# 500000), SOAK_MIN_REQUESTS (default 30000), SOAK_WORKERS (default 16), SOAK_SEED (client
# seed, default 1). The server log and the summary are kept in target/soak/.
# Exit 0 if every check passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in cargo python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "soak: error: $tool not found" >&2
        exit 2
    fi
done
if [[ ! -d /proc/self/fd ]]; then
    echo "soak: error: needs Linux /proc" >&2
    exit 2
fi

START_SECONDS=$SECONDS
cargo build --release --quiet
BIN=target/release/httpfault
OUT=target/soak
mkdir -p "$OUT"
LOG=$OUT/server.log
STDOUT=$OUT/server.stdout
rm -f "$LOG" "$STDOUT"

PID=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

# Only 0, 1 and 2 are passed on to the server, so its descriptor count does not depend on
# what the caller happened to leave open.
(
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec "$BIN" -l 127.0.0.1:0 --read-timeout 2s --seed 1 >"$STDOUT" 2>"$LOG" </dev/null
) &
PID=$!

PORT=
for _ in $(seq 100); do
    if line=$(head -n 1 "$STDOUT" 2>/dev/null) && [[ $line =~ ^listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]]; then
        PORT=${BASH_REMATCH[1]}
        break
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
        break
    fi
    sleep 0.05
done
if [[ -z $PORT ]]; then
    echo "soak: error: the server did not print its readiness line within 5 s" >&2
    cat "$LOG" >&2
    exit 1
fi
echo "soak: httpfault pid $PID listening on 127.0.0.1:$PORT, log $LOG"

status=0
python3 tests/soak/soak.py --pid "$PID" --port "$PORT" --log "$LOG" \
    --duration "${SOAK_DURATION:-60}" \
    --max-requests "${SOAK_MAX_REQUESTS:-500000}" \
    --min-requests "${SOAK_MIN_REQUESTS:-30000}" \
    --workers "${SOAK_WORKERS:-16}" \
    --seed "${SOAK_SEED:-1}" \
    --read-timeout 2 | tee "$OUT/summary.txt" || status=1

# A clean stop: SIGTERM must end the server with exit 0, within 5 s.
if kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"
    for _ in $(seq 50); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$PID" 2>/dev/null; then
        echo "FAIL: the server did not exit within 5 s of SIGTERM" | tee -a "$OUT/summary.txt"
        status=1
    else
        rc=0
        wait "$PID" || rc=$?
        if [[ $rc -ne 0 ]]; then
            echo "FAIL: the server exited $rc on SIGTERM (expected 0)" | tee -a "$OUT/summary.txt"
            status=1
        fi
    fi
    PID=
else
    echo "FAIL: the server is not running any more" | tee -a "$OUT/summary.txt"
    status=1
fi
if grep -q panicked "$LOG"; then
    echo "FAIL: the server log contains 'panicked':" | tee -a "$OUT/summary.txt"
    grep -m 5 panicked "$LOG" | tee -a "$OUT/summary.txt"
    status=1
fi

echo "soak: total run time $((SECONDS - START_SECONDS)) s; $( ((status == 0)) && echo PASSED || echo FAILED)"
exit $status
