#!/usr/bin/env bash
# Installs the Python and npm packages the tests use, into the project's own target/ (never
# system-wide): target/venv (python3 -m venv + pip install -r tests/deps/requirements.txt) and
# target/node/node_modules (npm install of tests/deps/package.json). A stamp of each list's hash
# makes a second run instant. Tests find them as:
#   Python: target/venv/bin/python
#   Node:   NODE_PATH=target/node/node_modules (require() from CommonJS scripts)
# Exit 1 with one line saying what is missing when python3 -m venv or npm cannot work.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
deps=tests/deps
mkdir -p target

hash_of() { sha256sum "$1" | cut -c1-16; }

# --- Python ------------------------------------------------------------------------------
want=$(hash_of $deps/requirements.txt)
if [[ ! -x target/venv/bin/python || "$(cat target/venv/.stamp 2>/dev/null)" != "$want" ]]; then
    if [[ ! -x target/venv/bin/python ]]; then
        python3 -m venv target/venv 2>/dev/null || {
            rm -rf target/venv
            echo "tests/deps/setup.sh: error: 'python3 -m venv' failed (on Debian: apt-get install python3-venv)" >&2
            exit 1
        }
    fi
    target/venv/bin/python -m pip install -q --disable-pip-version-check -r $deps/requirements.txt
    echo "$want" >target/venv/.stamp
    echo "tests/deps/setup.sh: target/venv ready ($(target/venv/bin/python --version))"
fi

# --- Node --------------------------------------------------------------------------------
want=$(hash_of $deps/package.json)
if [[ "$(cat target/node/.stamp 2>/dev/null)" != "$want" ]]; then
    command -v npm >/dev/null 2>&1 || {
        echo "tests/deps/setup.sh: error: npm is missing (on Debian: apt-get install npm)" >&2
        exit 1
    }
    mkdir -p target/node
    cp $deps/package.json target/node/package.json
    # --ignore-scripts: no package here needs its install script; the only ones are optional
    # native builds (ssh2's crypto binding and cpu-features, under testcontainers) that cost
    # ~13 s of C++ compiling on a 2-core machine for nothing the tests use.
    (cd target/node && npm install --silent --no-audit --no-fund --no-package-lock --ignore-scripts >/dev/null)
    echo "$want" >target/node/.stamp
    echo "tests/deps/setup.sh: target/node/node_modules ready (node $(node --version))"
fi
