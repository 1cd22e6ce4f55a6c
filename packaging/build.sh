#!/usr/bin/env bash
# Builds the packages from the release binary (cargo build --release, once; both reuse it):
#   bash packaging/build.sh wheel   -> target/wheels/httpfault-VERSION-py3-none-<platform>.whl
#   bash packaging/build.sh npm     -> target/npm/httpfault-VERSION.tgz
#   bash packaging/build.sh version -> VERSION
# VERSION is the crate's (Cargo.toml): maturin reads it itself; the npm package.json gets it
# here, in a staged copy (packaging/npm/package.json carries a placeholder).
# maturin comes from PyPI into the project's own target/venv, never system-wide.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CARGO=${CARGO:-cargo}

crate_version() {
    $CARGO metadata --no-deps --format-version 1 \
        | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "httpfault"))'
}

# The released binary has TLS when the crate has the `tls` feature (the contract); both the
# cargo build and maturin get the same features, so maturin reuses cargo's build.
FEATURES=()
if sed -n '/^\[features\]/,/^\[/p' Cargo.toml | grep -q '^tls *='; then
    FEATURES=(--features tls)
fi

release_binary() {
    $CARGO build --release --quiet "${FEATURES[@]}"
}

wheel() {
    local reqs=packaging/python/build-requirements.txt want
    if [[ ! -x target/venv/bin/python ]]; then
        mkdir -p target
        python3 -m venv target/venv || {
            echo "packaging/build.sh: error: 'python3 -m venv' failed (on Debian: apt-get install python3-venv)" >&2
            exit 1
        }
    fi
    want=$(sha256sum $reqs | cut -c1-16)
    if [[ "$(cat target/venv/.maturin-stamp 2>/dev/null)" != "$want" ]]; then
        target/venv/bin/python -m pip install -q --disable-pip-version-check -r $reqs
        echo "$want" >target/venv/.maturin-stamp
    fi
    release_binary
    rm -f target/wheels/httpfault-*.whl
    # Same profile and features as `cargo build --release`: cargo reuses that build.
    local log=target/wheels/maturin.log
    mkdir -p target/wheels
    (cd packaging/python && ../../target/venv/bin/maturin build --release "${FEATURES[@]}" --out ../../target/wheels) >$log 2>&1 || {
        cat $log >&2
        echo "packaging/build.sh: error: maturin build failed" >&2
        exit 1
    }
    ls -l target/wheels/httpfault-*.whl | awk '{print "packaging/build.sh: " $NF " (" $5 " bytes)"}'
}

npm_pkg() {
    command -v npm >/dev/null 2>&1 || {
        echo "packaging/build.sh: error: npm is missing (on Debian: apt-get install npm)" >&2
        exit 1
    }
    local version platform stage=target/npm/stage
    version=$(crate_version)
    platform=$(node -p 'process.platform + "-" + process.arch')
    release_binary
    rm -rf "$stage" target/npm/httpfault-*.tgz
    mkdir -p "$stage/vendor/$platform"
    cp -R packaging/npm/. "$stage/"
    cp target/release/httpfault "$stage/vendor/$platform/httpfault"
    VERSION=$version node -e '
        const fs = require("fs"), f = process.argv[1];
        const p = JSON.parse(fs.readFileSync(f, "utf8"));
        p.version = process.env.VERSION;
        fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n");' "$stage/package.json"
    (cd "$stage" && npm pack --silent --pack-destination .. >/dev/null)
    ls -l target/npm/httpfault-"$version".tgz | awk '{print "packaging/build.sh: " $NF " (" $5 " bytes)"}'
}

case "${1:-}" in
version) crate_version ;;
wheel) wheel ;;
npm) npm_pkg ;;
*)
    echo "usage: packaging/build.sh wheel|npm|version" >&2
    exit 2
    ;;
esac
