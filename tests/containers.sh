#!/usr/bin/env bash
# The container images in use (issue 29):
#
#   bash tests/containers.sh          (make containers; part of make test)
#
#  0. tests/containers/test_deploy.py: docs/deploy/'s Kubernetes sidecar manifest against the
#     Kubernetes schemas and run as written, and its GitHub Actions workflow through actionlint
#     (no engine needed)
#  1. picks the engine: podman (with the project's configuration, below), else docker with a
#     running daemon; neither: SKIPPED, loudly (a failure under CI=true)
#  2. make image: httpfault:latest (TLS), httpfault:std, httpfault:toxiproxy, from make static
#  3. tests/containers/test_image.py: the image run with published ports (reset=N exact, the
#     control API only where the Dockerfile says, SIGTERM ends it with exit 0 at once)
#  4. tests/containers/test_testcontainers.py: Python's testcontainers with the package's
#     HttpfaultContainer (a requests + urllib3 Retry client, the journal, TLS, a bad plan)
#  5. tests/containers/testcontainers.test.js: Node's testcontainers with the npm package's
#     HttpfaultContainer (fetch retries, the journal, TLS, a bad plan)
#  6. tests/containers/toxiproxy.test.js: @testcontainers/toxiproxy's ToxiProxyContainer on
#     httpfault:toxiproxy (limit_data, latency, a proxy disabled and enabled)
#
# podman: the project's containers.conf (runc, cgroupfs, rlimits this machine allows) unless
# CONTAINERS_CONF is set, and storage of its own under target/containers/ (vfs; never the
# user's image store), generated from tests/containers/storage.conf. Testcontainers reaches it
# through `podman system service` on a socket in a temporary directory (DOCKER_HOST), which this
# script stops, by its PID, however it ends. Every container the tests start is removed by
# them; what a killed run leaves is removed at the next run (podman: the store is ours).
# HTTPFAULT_CONTAINER_ENGINE=docker|podman picks the engine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=tests/lib.sh
source tests/lib.sh
START_SECONDS=$SECONDS
REPO=$PWD
SERVICE_PID=
RUN_DIR=

skip() {
    if [[ ${CI:-} == true ]]; then
        echo "containers: error: $1 (CI must have a container engine: .ci/run installs podman)" >&2
        exit 1
    fi
    echo "containers: SKIPPED the images and Testcontainers: $1 ########################" >&2
    echo "containers: $PASSED passed, $FAILED failed ($((SECONDS - START_SECONDS)) s)"
    ((FAILED == 0))
    exit
}

cleanup() {
    # podman: what a failing test left (the store is this script's alone).
    [[ -n $RUN_DIR ]] && podman rm -af -t 0 >/dev/null 2>&1
    if [[ -n $SERVICE_PID ]]; then
        kill -TERM "$SERVICE_PID" 2>/dev/null || true
        wait_exit "$SERVICE_PID" 10
        [[ $EXIT_RC == still* ]] && kill_pids "$SERVICE_PID"
    fi
    [[ -n $RUN_DIR ]] && rm -rf "$RUN_DIR"
    return 0
}
trap cleanup EXIT

PY=$REPO/target/venv/bin/python
export NODE_PATH=$REPO/target/node/node_modules

# --- 0. the deploy recipes (no engine needed) --------------------------------------------------
t0=$SECONDS
if "$PY" -m pytest -v -p no:cacheprovider tests/containers/test_deploy.py; then
    ok "docs/deploy/: the sidecar manifest and the CI workflow ($((SECONDS - t0)) s)"
else
    not_ok "tests/containers/test_deploy.py" "pytest passing" "failures above"
fi

# --- 1. the engine ------------------------------------------------------------------------
engine=${HTTPFAULT_CONTAINER_ENGINE:-}
if [[ -z $engine ]]; then
    if command -v podman >/dev/null 2>&1; then
        engine=podman
    elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        engine=docker
    else
        skip "no container engine (podman, or docker with a running daemon)"
    fi
fi
command -v "$engine" >/dev/null 2>&1 || skip "$engine is not installed"

if [[ $engine == podman ]]; then
    export CONTAINERS_CONF=${CONTAINERS_CONF:-$REPO/tests/containers/containers.conf}
    # The run root holds locks and the API socket: a short path (unix sockets are limited to
    # 108 bytes), new each run (podman then clears what a killed run left running).
    RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/httpfault-podman.XXXXXX")
    mkdir -p "$REPO/target/containers/storage"
    {
        cat tests/containers/storage.conf
        echo "graphroot = \"$REPO/target/containers/storage\""
        echo "runroot = \"$RUN_DIR/run\""
    } >"$REPO/target/containers/storage.conf"
    export CONTAINERS_STORAGE_CONF=$REPO/target/containers/storage.conf
    podman info >/dev/null 2>"$REPO/target/containers/info.log" || {
        cat "$REPO/target/containers/info.log" >&2
        skip "podman does not work here (see above)"
    }
    # Leftovers of a run that was killed (the store is this script's alone).
    podman rm -af -t 0 >/dev/null 2>&1 || true
    podman system service --time=0 "unix://$RUN_DIR/podman.sock" \
        >"$REPO/target/containers/service.log" 2>&1 &
    SERVICE_PID=$!
    export DOCKER_HOST=unix://$RUN_DIR/podman.sock
    for _ in $(seq 200); do
        [[ -S $RUN_DIR/podman.sock ]] && break
        kill -0 "$SERVICE_PID" 2>/dev/null || break
        sleep 0.05
    done
    [[ -S $RUN_DIR/podman.sock ]] || {
        cat "$REPO/target/containers/service.log" >&2
        echo "containers: error: podman system service did not make its socket" >&2
        exit 1
    }
fi
# Testcontainers: no Ryuk (its image would be pulled; every container here is removed by its
# test), and the mapped ports on 127.0.0.1, which is where podman and docker publish them
# (Python: TC_HOST in docker_host mode; Node: TESTCONTAINERS_HOST_OVERRIDE; left alone, both
# take the bridge's gateway when they run inside a container, as in CI).
export TESTCONTAINERS_RYUK_DISABLED=true
export TESTCONTAINERS_CONNECTION_MODE=docker_host TC_HOST=127.0.0.1
export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
export HTTPFAULT_CONTAINER_ENGINE=$engine
echo "# engine: $($engine --version)${DOCKER_HOST:+, DOCKER_HOST=$DOCKER_HOST}"

# --- 2. the images --------------------------------------------------------------------------
t0=$SECONDS
make --no-print-directory image ENGINE="$engine"
echo "# make image: $((SECONDS - t0)) s"
# The images a rebuild replaced (podman: the store is this script's alone).
[[ -n $RUN_DIR ]] && podman image prune -f >/dev/null
for t in latest std toxiproxy; do
    echo "# httpfault:$t $($engine image inspect --format '{{.Size}}' "httpfault:$t") bytes"
done

# --- 3 to 6. the tests ------------------------------------------------------------------------
export PYTHONPATH=$REPO/packaging/python/python${PYTHONPATH:+:$PYTHONPATH}
export HTTPFAULT_IMAGE=httpfault:latest HTTPFAULT_TOXIPROXY_IMAGE=httpfault:toxiproxy
export HTTPFAULT_STATIC_BIN=$REPO/target/static/httpfault

t0=$SECONDS
if "$PY" -m pytest -v -s -p no:cacheprovider tests/containers/test_image.py; then
    ok "the image with published ports (tests/containers/test_image.py, $((SECONDS - t0)) s)"
else
    not_ok "tests/containers/test_image.py" "pytest passing" "failures above"
fi
t0=$SECONDS
if "$PY" -m pytest -v -p no:cacheprovider tests/containers/test_testcontainers.py; then
    ok "Python testcontainers + HttpfaultContainer ($((SECONDS - t0)) s)"
else
    not_ok "tests/containers/test_testcontainers.py" "pytest passing" "failures above"
fi
t0=$SECONDS
if node --test --test-reporter=spec tests/containers/testcontainers.test.js; then
    ok "Node testcontainers + HttpfaultContainer ($((SECONDS - t0)) s)"
else
    not_ok "tests/containers/testcontainers.test.js" "node --test passing" "failures above"
fi
t0=$SECONDS
if node --test --test-reporter=spec tests/containers/toxiproxy.test.js; then
    ok "@testcontainers/toxiproxy on httpfault:toxiproxy ($((SECONDS - t0)) s)"
else
    not_ok "tests/containers/toxiproxy.test.js" "node --test passing" "failures above"
fi

echo "containers: $PASSED passed, $FAILED failed ($((SECONDS - START_SECONDS)) s)"
((FAILED == 0))
