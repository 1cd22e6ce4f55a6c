#!/usr/bin/env bash
# Shell smoke tests: the real binary and the real curl against the user-facing contract
# (interface.md: exit codes and bytes a user's script sees).
#
#   bash tests/smoke.sh target/debug/httpfault
#
# Every server is started on port 0 and its port is read from the readiness line on stdout
# (polled with a deadline, never a fixed sleep). Every curl has --max-time, every other
# blocking step a deadline. Prints `ok - NAME` or `not ok - NAME (expected X got Y)` per
# check, then `N passed, M failed`; exits 1 if anything failed. A server that does not start
# is one failure, and the checks that needed it are not run.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: bash tests/smoke.sh PATH/TO/httpfault" >&2
    exit 2
fi
BIN=$1
if [[ ! -x $BIN ]]; then
    echo "smoke: error: '$BIN' is not an executable file" >&2
    exit 2
fi
if ! command -v curl >/dev/null 2>&1; then
    echo "smoke: error: curl not found" >&2
    exit 2
fi

START_SECONDS=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/httpfault-smoke.XXXXXX")
PIDS=()
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cleanup() {
    kill_pids "${PIDS[@]}"
    rm -rf "$TMP"
}
trap cleanup EXIT

note() { sed 's/^/#   /' "$@" | head -n 20; }

# check NAME EXPECTED GOT
check() {
    if [[ $2 == "$3" ]]; then ok "$1"; else not_ok "$1" "$2" "$3"; fi
}

# Bytes of a file shown on one line, for messages: at most 60 bytes, escaped.
show() {
    local f=$1 n
    n=$(wc -c <"$f")
    printf "%d bytes '%s'" "$n" "$(head -c 60 "$f" | od -An -c | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
}

# check_body NAME FILE EXPECTED_TEXT: the file holds exactly these bytes.
check_body() {
    local name=$1 file=$2 want=$3
    if cmp -s "$file" <(printf '%s' "$want"); then
        ok "$name"
    else
        not_ok "$name" "exactly '${want//$'\n'/\\n}'" "$(show "$file")"
    fi
}

# start NAME ARGS...: start the server in the background with -q -l 127.0.0.1:0 ARGS;
# wait up to 10 s for the readiness line; set PID and PORT. Returns 1 if it never got ready.
start() {
    local name=$1 line deadline
    shift
    # Created here, not only by the child's redirection, so that polling never races it.
    : >"$TMP/$name.out"
    "$BIN" -q -l 127.0.0.1:0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
    PID=$!
    PIDS+=("$PID")
    PORT=
    deadline=$((SECONDS + 10))
    while ((SECONDS <= deadline)); do
        # Only a complete first line counts (the newline has been written).
        if [[ $(head -c 4096 "$TMP/$name.out" | wc -l) -ge 1 ]]; then
            line=$(head -n 1 "$TMP/$name.out")
            if [[ $line =~ ^listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]]; then
                PORT=${BASH_REMATCH[1]}
                return 0
            fi
            not_ok "$name: readiness line" "'listening on http://127.0.0.1:PORT'" "'$line'"
            return 1
        fi
        if ! kill -0 "$PID" 2>/dev/null; then
            wait_exit "$PID" 1
            not_ok "$name: server starts" "a readiness line on stdout" "exit $EXIT_RC before any"
            note "$TMP/$name.err"
            return 1
        fi
        sleep 0.02
    done
    not_ok "$name: server starts" "a readiness line on stdout within 10s" "none"
    note "$TMP/$name.err"
    return 1
}

# fetch NAME PATH [CURL ARGS...]: curl -sS --max-time 5 the path on $PORT; body in
# $TMP/NAME.body, stderr in $TMP/NAME.curlerr, -w output in OUT, exit code in RC.
# Later arguments win, so a caller may pass its own --max-time.
fetch() {
    local name=$1 path=$2
    shift 2
    LAST=$name
    RC=0
    OUT=$(curl -sS --max-time 5 -o "$TMP/$name.body" "$@" "http://127.0.0.1:$PORT$path" \
        2>"$TMP/$name.curlerr" </dev/null) || RC=$?
    touch "$TMP/$name.body"
}

# check_rc NAME EXPECTED: check RC from the last fetch; on failure show curl's message.
check_rc() {
    check "$1" "exit $2" "exit $RC"
    if [[ $RC != "$2" && -s $TMP/$LAST.curlerr ]]; then note "$TMP/$LAST.curlerr"; fi
}

echo "# httpfault smoke tests: $BIN"

# ---------------------------------------------------------------------------------------
# One long-lived server with the default plan; each check picks its plan in the path.
if start main --seed 42 --port-file "$TMP/main.port"; then
    ok "main: readiness line 'listening on http://127.0.0.1:$PORT'"

    # --port-file: digits and a newline, the same port. The order of the two writes is
    # not specified, so poll for a complete file.
    deadline=$((SECONDS + 10))
    until [[ -f $TMP/main.port && $(tail -c 1 "$TMP/main.port" | wc -l) -eq 1 ]] \
        || ((SECONDS > deadline)); do
        sleep 0.02
    done
    if [[ -f $TMP/main.port ]]; then
        check_body "port-file: holds the bound port and a newline" "$TMP/main.port" "$PORT
"
    else
        not_ok "port-file: written" "file $TMP/main.port" "no file after 10s"
    fi

    fetch default /
    check_rc "default: curl exit" 56
    check_body "default: body is the 6-byte prefix" "$TMP/default.body" "Hello,"

    fetch favicon /favicon.ico
    check_rc "favicon: non-plan path gets the default plan, curl exit" 56
    check_body "favicon: body" "$TMP/favicon.body" "Hello,"

    fetch reset /reset
    check_rc "reset: curl exit" 56
    check "reset: no body bytes" "0 bytes" "$(wc -c <"$TMP/reset.body") bytes"

    fetch close6 /close=6
    check_rc "close6: /close=6 curl exit" 18
    check_body "close6: body is the 6-byte prefix" "$TMP/close6.body" "Hello,"

    fetch close10 /body=100/close=10
    check_rc "close10: /body=100/close=10 curl exit" 18
    check "close10: exactly 10 body bytes" "10 bytes" "$(wc -c <"$TMP/close10.body") bytes"

    fetch close /close
    check_rc "close: curl exit (empty reply)" 52
    check "close: no body bytes" "0 bytes" "$(wc -c <"$TMP/close.body") bytes"

    fetch hang /hang --max-time 1
    check_rc "hang: curl exit with --max-time 1" 28

    fetch status503 /status=503 -w '%{http_code}'
    check_rc "status503: curl exit" 0
    check "status503: http code" 503 "$OUT"

    fetch big /body=10m/reset=5m
    check_rc "big: /body=10m/reset=5m curl exit" 56
    check "big: exactly 5242880 body bytes" "5242880 bytes" "$(wc -c <"$TMP/big.body") bytes"
    # Filler is printable, so a NUL (or any non-printable byte) means corrupted data.
    if LC_ALL=C grep -q '[^[:print:][:space:]]' "$TMP/big.body"; then
        not_ok "big: body is printable filler" "printable bytes" "non-printable bytes"
    else
        ok "big: body is printable filler"
    fi

    for i in 1 2 3; do
        fetch "times$i" /times=2/reset
        if [[ $i -lt 3 ]]; then
            check_rc "times$i: /times=2/reset request $i curl exit" 56
        else
            check_rc "times$i: /times=2/reset request 3 curl exit" 0
            check_body "times3: request 3 gets the default body" "$TMP/times3.body" "Hello, world!"
        fi
    done

    fetch badchunk /chunked=4/badchunk
    # Any curl error will do, but not a timeout (the server FINs after the body) and not
    # a failure to connect.
    if [[ $RC != 0 && $RC != 28 && $RC != 7 ]]; then
        ok "badchunk: /chunked=4/badchunk curl exit non-zero ($RC)"
    else
        not_ok "badchunk: /chunked=4/badchunk curl exit" "non-zero, not 7 or 28" "exit $RC"
        note "$TMP/$LAST.curlerr"
    fi

    fetch garbage /garbage=64
    if [[ $RC == 1 || $RC == 8 ]]; then
        ok "garbage: /garbage=64 curl exit $RC (1 or 8)"
    else
        not_ok "garbage: /garbage=64 curl exit" "exit 1 or 8" "exit $RC"
        note "$TMP/$LAST.curlerr"
    fi

    fetch delay /delay=300ms -w '%{time_total}'
    check_rc "delay: /delay=300ms curl exit" 0
    if awk -v t="$OUT" 'BEGIN { exit !(t >= 0.28 && t < 1.5) }'; then
        ok "delay: took ${OUT}s (0.28 <= t < 1.5)"
    else
        not_ok "delay: time_total" "0.28 <= t < 1.5 s" "'$OUT'"
    fi
    check_body "delay: body" "$TMP/delay.body" "Hello, world!"

    fetch lengthnone /length=none -D "$TMP/lengthnone.head"
    check_rc "lengthnone: /length=none curl exit" 0
    check_body "lengthnone: body" "$TMP/lengthnone.body" "Hello, world!"
    if grep -qi '^content-length:' "$TMP/lengthnone.head"; then
        not_ok "lengthnone: no Content-Length header" "no Content-Length" \
            "'$(grep -i '^content-length:' "$TMP/lengthnone.head" | tr -d '\r')'"
    else
        ok "lengthnone: no Content-Length header"
    fi

    fetch raw '/raw=HTTP%2F1.1%20200%20OK%0D%0AContent-Length:%202%0D%0A%0D%0Aok' -w '%{http_code}'
    check_rc "raw: curl exit" 0
    check "raw: http code" 200 "$OUT"
    check_body "raw: body" "$TMP/raw.body" "ok"

    fetch badplan /status=503/rset -w '%{http_code}'
    check_rc "badplan: /status=503/rset curl exit" 0
    check "badplan: http code" 400 "$OUT"
    # One line, ending in a newline, that names the bad step.
    lines=$(wc -l <"$TMP/badplan.body")
    if [[ $lines == 1 && $(tail -c 1 "$TMP/badplan.body" | wc -l) == 1 ]] \
        && grep -q rset "$TMP/badplan.body"; then
        ok "badplan: body is one line naming 'rset'"
    else
        not_ok "badplan: body" "one line naming 'rset', ending in a newline" "$(show "$TMP/badplan.body")"
    fi

    fetch badvalue /status=abc -w '%{http_code}'
    check_rc "badvalue: /status=abc curl exit" 0
    check "badvalue: http code" 400 "$OUT"

    # Address in use: a failure on the server's own side, exit 1.
    rc=0
    timeout 5 "$BIN" -q -l "127.0.0.1:$PORT" >"$TMP/inuse.out" 2>"$TMP/inuse.err" </dev/null || rc=$?
    check "inuse: second server on the same port exits" "exit 1" "exit $rc"

    # SIGTERM: a normal end, exit 0. Then stdout held only the readiness line, and -q logged nothing.
    kill -TERM "$PID"
    wait_exit "$PID" 5
    check "sigterm: exit status" "exit 0" "exit $EXIT_RC"
    check "stdout: only the readiness line" "1 line(s)" "$(wc -l <"$TMP/main.out") line(s)"
    check "quiet: -q wrote nothing on stderr" "0 bytes" "$(wc -c <"$TMP/main.err") bytes"
fi

# ---------------------------------------------------------------------------------------
# --once: one request is served, then the process exits 0 and later connects are refused.
if start once --once status=200; then
    fetch once / -D "$TMP/once.head"
    check_rc "once: curl exit" 0
    check_body "once: body" "$TMP/once.body" "Hello, world!"
    if grep -qi '^connection: *close' "$TMP/once.head"; then
        ok "once: response has Connection: close"
    else
        not_ok "once: response header" "Connection: close" "none"
    fi
    wait_exit "$PID" 10
    check "once: server exits after serving one request" "exit 0" "exit $EXIT_RC"
    fetch once2 /
    check_rc "once2: next connect is refused, curl exit" 7
fi

# --once with a silent connection first (what a browser's preconnect does): the connection
# that delivers a request wins, and the silent one is closed.
if start preconnect --once status=200; then
    if exec {SILENT}<>"/dev/tcp/127.0.0.1/$PORT"; then
        fetch preconnect /
        check_rc "preconnect: curl exit with a silent connection open" 0
        check_body "preconnect: body" "$TMP/preconnect.body" "Hello, world!"
        # cat ends at EOF or on a reset; timeout's 124 means the connection stayed open.
        rc=0
        timeout 5 cat <&"$SILENT" >/dev/null 2>&1 || rc=$?
        if [[ $rc != 124 ]]; then
            ok "preconnect: the silent connection is closed by the server"
        else
            not_ok "preconnect: silent connection" "closed by the server within 5s" "still open"
        fi
        exec {SILENT}<&-
        wait_exit "$PID" 10
        check "preconnect: server exits" "exit 0" "exit $EXIT_RC"
    else
        not_ok "preconnect: silent connect" "connected" "failed"
    fi
fi

# ---------------------------------------------------------------------------------------
# --blackhole: never accepts, so a request gets no answer. (That new connects time out once
# the backlog is full depends on the backlog size; not checked here.)
if start blackhole --blackhole; then
    fetch blackhole / --max-time 1
    check_rc "blackhole: curl exit with --max-time 1" 28
    check "blackhole: no body bytes" "0 bytes" "$(wc -c <"$TMP/blackhole.body") bytes"
fi

# --exit-after: exit 0 after the duration.
if start exitafter --exit-after 300ms; then
    wait_exit "$PID" 5
    check "exitafter: --exit-after 300ms exits" "exit 0" "exit $EXIT_RC"
fi

# ---------------------------------------------------------------------------------------
# Usage errors: exit 2, one line 'httpfault: error: ...' naming the bad value.
usage_error() {
    local name=$1 needle=$2 rc=0 lines
    shift 2
    timeout 5 "$BIN" -q -l 127.0.0.1:0 "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null || rc=$?
    check "$name: exit status" "exit 2" "exit $rc"
    lines=$(wc -l <"$TMP/$name.err")
    if [[ $lines == 1 ]] && grep -q "^httpfault: error: .*$needle" "$TMP/$name.err"; then
        ok "$name: one stderr line 'httpfault: error: ...' naming '$needle'"
    else
        not_ok "$name: stderr" "one line 'httpfault: error: ...$needle...'" \
            "$lines line(s): '$(head -c 200 "$TMP/$name.err" | tr '\n' '|')'"
    fi
}
usage_error badoption bogus-option --bogus-option
usage_error badcliplan "bad plan: .*rset" 'status=503/rset'

rc=0
timeout 5 "$BIN" --help >"$TMP/help.out" 2>&1 </dev/null || rc=$?
check "help: --help exits" "exit 0" "exit $rc"
rc=0
timeout 5 "$BIN" --version >"$TMP/version.out" 2>&1 </dev/null || rc=$?
check "version: --version exits" "exit 0" "exit $rc"

echo "# took $((SECONDS - START_SECONDS))s"
echo "$PASSED passed, $FAILED failed"
if ((FAILED > 0)); then exit 1; fi
exit 0
