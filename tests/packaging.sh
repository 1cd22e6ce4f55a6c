#!/usr/bin/env bash
# The Python and npm packages as a user gets them (issue 21):
#
#   bash tests/packaging.sh
#
#  1. builds the wheel and the npm tarball (packaging/build.sh: the release binary once, reused)
#  2. Python: a fresh virtualenv under target/pkgtest/, `pip install` of the wheel (and pytest,
#     requests, httpx: tests/packaging/python/requirements.txt, downloaded from PyPI once into
#     target/pkgdeps/), then the example suite
#     tests/packaging/python/ with the venv activated (the wheel's pytest plugin gives the
#     fixture; `httpfault` must be on PATH)
#  3. Node: a fresh project under target/pkgtest/, `npm install --offline ./httpfault-X.tgz`
#     (no network at all), then the example suite tests/packaging/node/ with `node --test`
#  4. no process left behind: a test runner killed mid-test (SIGKILL; SIGINT for pytest as a
#     Ctrl-C; SIGTERM for node; SIGKILL to `node --test`, whose test file runs in a child) or a
#     failing test must leave no httpfault server, checked by the server's PID
#     (tests/packaging/kill/)
#  5. both packages carry the crate's version
#  6. docs/python.md's and docs/javascript.md's test files run as written (beside the suites)
#
# Without python3 -m venv or npm it skips LOUDLY; under CI=true that is a failure instead.
# Prints `ok - NAME` / `not ok - NAME (...)` per check; exits 1 if anything failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=tests/lib.sh
source tests/lib.sh
START_SECONDS=$SECONDS
REPO=$PWD
ROOT=$REPO/target/pkgtest
RUNNERS=()
SERVERS=()

missing=()
python3 -m venv --help >/dev/null 2>&1 || missing+=("python3 -m venv")
command -v node >/dev/null 2>&1 || missing+=(node)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]} > 0)); then
    if [[ ${CI:-} == true ]]; then
        echo "packaging: error: missing ${missing[*]} (CI must have them)" >&2
        exit 1
    fi
    echo "packaging: SKIPPED: missing ${missing[*]} ######################################" >&2
    exit 0
fi

cleanup() {
    kill_pids "${RUNNERS[@]}"
    # Only servers this script's runners started (their PIDs came from the PID files).
    local pid
    for pid in "${SERVERS[@]}"; do
        if [[ $(cat /proc/"$pid"/comm 2>/dev/null) == httpfault ]]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT

# gone PID SECONDS: true once PID has ended (no such process, or a zombie: this machine's PID 1
# may not reap orphans) within SECONDS; sets GONE_MS to how long that took.
gone() {
    local pid=$1 deadline=$((SECONDS + $2)) state t0=${EPOCHREALTIME/./}
    while ((SECONDS <= deadline)); do
        state=$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null || true)
        if [[ -z $state || $state == Z ]]; then
            GONE_MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# wait_pid_file FILE SECONDS: prints the PID written there, once the file exists.
wait_pid_file() {
    local file=$1 deadline=$((SECONDS + $2))
    while [[ ! -s $file ]] && ((SECONDS <= deadline)); do sleep 0.05; done
    [[ -s $file ]] && cat "$file"
}

# killed_runner NAME SIGNAL DIR COMMAND...: start COMMAND in DIR (a test runner whose test starts
# a server, writes its PID and blocks), send SIGNAL to the runner, and check the server is gone.
killed_runner() {
    local name=$1 sig=$2 dir=$3 pid_file=$ROOT/kill.pid runner server parent
    shift 3
    rm -f "$pid_file" "$pid_file.tmp"
    (cd "$dir" && HTTPFAULT_PID_FILE=$pid_file exec "$@") >"$ROOT/$name.log" 2>&1 &
    runner=$!
    RUNNERS+=("$runner")
    if ! server=$(wait_pid_file "$pid_file" 30); then
        not_ok "$name" "a server PID from the test" "none in 30 s"
        sed 's/^/#   /' "$ROOT/$name.log" | tail -n 20
        return
    fi
    SERVERS+=("$server")
    # Under `node --test` the server's parent is the runner's per-file child: clean it up too.
    parent=$(awk '{print $4}' /proc/"$server"/stat 2>/dev/null || true)
    [[ -n $parent && $parent != "$runner" ]] && RUNNERS+=("$parent")
    if [[ $(cat /proc/"$server"/comm 2>/dev/null) != httpfault ]]; then
        not_ok "$name" "httpfault running as PID $server" "$(cat /proc/"$server"/comm 2>/dev/null || echo nothing)"
        return
    fi
    kill -"$sig" "$runner"
    wait "$runner" 2>/dev/null || true
    if gone "$server" 10; then
        ok "$name: runner killed by SIG$sig, server PID $server gone after ${GONE_MS} ms"
    else
        not_ok "$name" "server PID $server gone within 10 s of SIG$sig to the runner" "still running"
    fi
}

# failing_runner NAME DIR COMMAND...: a runner whose test fails; it must exit 1 and leave no server.
failing_runner() {
    local name=$1 dir=$2 pid_file=$ROOT/kill.pid rc=0 server
    shift 2
    rm -f "$pid_file"
    (cd "$dir" && HTTPFAULT_PID_FILE=$pid_file timeout 60 "$@") >"$ROOT/$name.log" 2>&1 || rc=$?
    server=$(cat "$pid_file" 2>/dev/null || true)
    if [[ $rc != 1 || -z $server ]]; then
        not_ok "$name" "exit 1 and a server PID" "exit $rc, PID '${server}'"
        sed 's/^/#   /' "$ROOT/$name.log" | tail -n 20
        return
    fi
    SERVERS+=("$server")
    if gone "$server" 10; then
        ok "$name: failing test, runner exit 1, server PID $server gone (${GONE_MS} ms after)"
    else
        not_ok "$name" "server PID $server gone after the failing run" "still running"
    fi
}

# doc_block PAGE NAME: the text of PAGE's ```LANG file=NAME block (as tests/docs.rs reads it).
doc_block() {
    awk -v name="file=$2" '
        /^```/ && grab { exit }
        grab { print }
        /^```/ && index($0, name) { grab = 1 }' "$1"
}

# --- 1. build -------------------------------------------------------------------------------
rm -rf "$ROOT"
mkdir -p "$ROOT/py" "$ROOT/kill" "$ROOT/node"
bash packaging/build.sh wheel
bash packaging/build.sh npm
VERSION=$(bash packaging/build.sh version)
WHEEL=$(ls "$REPO"/target/wheels/httpfault-"$VERSION"-*.whl)
TGZ=$REPO/target/npm/httpfault-$VERSION.tgz
echo "# wheel: $(basename "$WHEEL") $(stat -c %s "$WHEEL") bytes; npm: $(basename "$TGZ") $(stat -c %s "$TGZ") bytes; binary: $(stat -c %s target/release/httpfault) bytes"

# --- 2. Python --------------------------------------------------------------------------------
t0=$SECONDS
# The suite's own packages (pytest, requests, httpx) come from PyPI once, into a wheelhouse
# kept across runs (keyed by the list's hash); the fresh venv installs from it without network.
reqs=tests/packaging/python/requirements.txt
house=$REPO/target/pkgdeps/$(sha256sum $reqs | cut -c1-16)
if [[ ! -e $house/.complete ]]; then
    rm -rf "$REPO/target/pkgdeps"  # target/venv exists: packaging/build.sh wheel made it
    "$REPO/target/venv/bin/python" -m pip download -q --disable-pip-version-check -d "$house" -r $reqs
    touch "$house/.complete"
fi
# The venv's own copy of pip (ensurepip) costs 3 to 12 s of CPU on this 2-core machine: the
# fresh venv has none, and target/venv's pip installs into it (pip --python), wheel scripts in
# the fresh venv's bin/ as with its own pip.
python3 -m venv --without-pip "$ROOT/venv"
"$REPO/target/venv/bin/python" -m pip --python "$ROOT/venv/bin/python" install -q \
    --disable-pip-version-check --no-compile --no-index --find-links "$house" "$WHEEL" -r $reqs
cp tests/packaging/python/test_example.py "$ROOT/py/"
doc_block docs/python.md test_orders.py >"$ROOT/py/test_orders.py"
cp tests/packaging/kill/test_hang.py tests/packaging/kill/test_fail.py "$ROOT/kill/"
echo "# python: fresh venv with the wheel in $((SECONDS - t0)) s"
# shellcheck disable=SC1091
if (cd "$ROOT/py" && source "$ROOT/venv/bin/activate" && python -m pytest -v -p no:cacheprovider test_example.py test_orders.py); then
    ok "python example suite and docs/python.md's test_orders.py (pytest, from the installed wheel)"
else
    not_ok "python example suite" "pytest passing" "failures above"
fi
got=$("$ROOT/venv/bin/httpfault" --version)
py_version=$("$ROOT/venv/bin/python" -c 'import httpfault; print(httpfault.__version__)')
if [[ $got == "httpfault $VERSION" && $py_version == "$VERSION" ]]; then
    ok "wheel version = crate version ($VERSION)"
else
    not_ok "wheel version" "$VERSION" "binary '$got', module '$py_version'"
fi
PYTEST=("$ROOT/venv/bin/python" -m pytest -q -p no:cacheprovider)
killed_runner "pytest SIGKILL" KILL "$ROOT/kill" "${PYTEST[@]}" test_hang.py
killed_runner "pytest SIGINT" INT "$ROOT/kill" "${PYTEST[@]}" test_hang.py
failing_runner "pytest failing test" "$ROOT/kill" "${PYTEST[@]}" test_fail.py

# --- 3. Node ----------------------------------------------------------------------------------
t0=$SECONDS
(cd "$ROOT/node" && npm init -y >/dev/null && npm install --offline --no-audit --no-fund --silent "$TGZ")
cp tests/packaging/node/example.test.mjs "$ROOT/node/"
doc_block docs/javascript.md orders.test.mjs >"$ROOT/node/orders.test.mjs"
cp tests/packaging/kill/hang.test.mjs tests/packaging/kill/fail.test.mjs "$ROOT/node/"
echo "# node: fresh project with the tarball in $((SECONDS - t0)) s"
if (cd "$ROOT/node" && node --test --test-reporter=spec example.test.mjs orders.test.mjs); then
    ok "node example suite and docs/javascript.md's orders.test.mjs (node --test, from the installed tarball)"
else
    not_ok "node example suite" "node --test passing" "failures above"
fi
npm_version=$(cd "$ROOT/node" && node -p 'require("httpfault/package.json").version')
if [[ $npm_version == "$VERSION" ]]; then
    ok "npm package version = crate version ($VERSION)"
else
    not_ok "npm package version" "$VERSION" "$npm_version"
fi
killed_runner "node SIGKILL" KILL "$ROOT/node" node hang.test.mjs
killed_runner "node SIGTERM" TERM "$ROOT/node" node hang.test.mjs
# `node --test` runs the file in a child process, which Node leaves running when the runner dies.
killed_runner "node --test SIGKILL" KILL "$ROOT/node" node --test hang.test.mjs
failing_runner "node failing test" "$ROOT/node" node --test fail.test.mjs

echo "packaging: $PASSED passed, $FAILED failed ($((SECONDS - START_SECONDS)) s)"
((FAILED == 0))
