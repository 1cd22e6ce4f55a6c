# Shell helpers shared by tests/smoke.sh and tests/browser_once.sh. Source it; it defines
# functions only (plus the PASSED/FAILED counters).

PASSED=0
FAILED=0

ok() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $1 (expected $2 got $3)"; }

# kill_pids PID...: kill (and reap) those of the given processes still running. Only PIDs
# this script started are ever passed here.
kill_pids() {
    local pid
    for pid in "$@"; do
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
}

# wait_exit PID SECONDS: wait up to SECONDS for the process to end; sets EXIT_RC
# (the exit status, or "still running after Ns").
wait_exit() {
    local pid=$1 limit=$2 deadline
    deadline=$((SECONDS + limit))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS <= deadline)); do
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        EXIT_RC="still running after ${limit}s"
        return
    fi
    EXIT_RC=0
    wait "$pid" || EXIT_RC=$?
}
