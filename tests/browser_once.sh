#!/usr/bin/env bash
# A real browser against `httpfault --once`:
#
#   bash tests/browser_once.sh target/debug/httpfault
#
# Headless Chromium opens a preconnect that sends nothing next to the connection that carries
# the page request; the one that delivers a request must win (see --once in the contract).
# Checks: the page reaches the DOM, httpfault exits 0 within 10 s after the browser is done,
# and a later connect is refused.
#
# No chromium on PATH: prints a skip line and exits 0, unless HTTPFAULT_REQUIRE_BROWSER=1,
# then it fails.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: bash tests/browser_once.sh PATH/TO/httpfault" >&2
    exit 2
fi
BIN=$1
if [[ ! -x $BIN ]]; then
    echo "browser_once: error: '$BIN' is not an executable file" >&2
    exit 2
fi

BROWSER=
for b in chromium chromium-browser; do
    if command -v "$b" >/dev/null 2>&1; then
        BROWSER=$(command -v "$b")
        break
    fi
done
if [[ -z $BROWSER ]]; then
    if [[ ${HTTPFAULT_REQUIRE_BROWSER:-0} == 1 ]]; then
        echo "not ok - browser_once: no chromium binary found and HTTPFAULT_REQUIRE_BROWSER=1"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "skip - browser_once: no chromium binary found (HTTPFAULT_REQUIRE_BROWSER=1 makes this a failure)"
    exit 0
fi

START_SECONDS=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/httpfault-browser.XXXXXX")
SERVER_PID=
BROWSER_PID=
# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cleanup() {
    kill_pids "$BROWSER_PID" "$SERVER_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT

note() { sed 's/^/#   /' "$@" | tail -n "${NOTE_LINES:-20}"; }
finish() {
    echo "# httpfault log (stderr):"
    note "$TMP/server.err"
    echo "# took $((SECONDS - START_SECONDS))s"
    echo "$PASSED passed, $FAILED failed"
    if ((FAILED > 0)); then exit 1; fi
    exit 0
}

echo "# browser_once: $BIN with $BROWSER ($("$BROWSER" --version 2>/dev/null </dev/null | head -n 1))"

# The plan splits on '/' before values are percent-decoded, so text/plain is text%2Fplain.
# Logs stay on (stderr to a file) so that a failure shows what the server saw.
: >"$TMP/server.out"; : >"$TMP/server.err"
"$BIN" --once -l 127.0.0.1:0 'text=once-page/header=Content-Type:text%2Fplain' \
    >"$TMP/server.out" 2>"$TMP/server.err" </dev/null &
SERVER_PID=$!

PORT=
deadline=$((SECONDS + 10))
while ((SECONDS <= deadline)); do
    if [[ $(head -c 4096 "$TMP/server.out" | wc -l) -ge 1 ]]; then
        line=$(head -n 1 "$TMP/server.out")
        if [[ $line =~ ^listening\ on\ http://127\.0\.0\.1:([0-9]+)$ ]]; then
            PORT=${BASH_REMATCH[1]}
        fi
        break
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.02
done
if [[ -z $PORT ]]; then
    not_ok "httpfault --once starts" "'listening on http://127.0.0.1:PORT' within 10s" \
        "'$(head -n 1 "$TMP/server.out")'"
    finish
fi
ok "httpfault --once listening on port $PORT"

PROFILE=$TMP/profile
mkdir -p "$PROFILE"
rc=0
timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$PROFILE" --dump-dom "http://127.0.0.1:$PORT/" \
    >"$TMP/dom.html" 2>"$TMP/browser.err" </dev/null || rc=$?
if [[ $rc == 0 ]]; then
    ok "chromium --dump-dom exits 0"
else
    not_ok "chromium --dump-dom" "exit 0" "exit $rc$([[ $rc == 124 ]] && echo ' (timeout 60s)')"
    NOTE_LINES=10 note "$TMP/browser.err"
fi

if grep -q 'once-page' "$TMP/dom.html"; then
    ok "the DOM contains 'once-page'"
else
    not_ok "DOM" "'once-page' in the DOM" "'$(head -c 300 "$TMP/dom.html" | tr '\n' ' ')'"
fi

wait_exit "$SERVER_PID" 10
if [[ $EXIT_RC == 0 ]]; then
    ok "httpfault exits 0 within 10s after the browser is done"
else
    not_ok "httpfault exit after the browser" "exit 0 within 10s" "$EXIT_RC"
fi

# A later connect is refused (curl's exit 7); without curl, bash's /dev/tcp says the same.
if command -v curl >/dev/null 2>&1; then
    rc=0
    curl -sS --max-time 5 -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null </dev/null || rc=$?
    if [[ $rc == 7 ]]; then
        ok "a later connect is refused (curl exit 7)"
    else
        not_ok "a later connect" "curl exit 7" "exit $rc"
    fi
else
    if timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
        not_ok "a later connect" "refused" "connected"
    else
        ok "a later connect is refused (/dev/tcp)"
    fi
fi

finish
