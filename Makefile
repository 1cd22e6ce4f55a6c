# httpfault: see README.md. `make run` and `make test` are the two set-up commands.
CARGO ?= cargo
LISTEN ?= 127.0.0.1:9000
STATIC_TARGET := x86_64-unknown-linux-gnu

.PHONY: plans-doc toxiproxy-ref deps run build test test-std unit smoke lint fmt static image containers bench bench-instr bench-tls bench-tls-instr bench-proxy bench-tcp bench-h2 bench-control bench-sse bench-ws bench-ws-instr h2spec soak matrix external fuzz clean wheel npm packaging

# Builds the release binary (cargo's own progress lines show the first, minute-long build of a
# fresh clone; later runs only print cargo's "Finished" line), then serves in the foreground.
run:
	$(CARGO) run --release -- --listen $(LISTEN) $(PLAN)

build:
	$(CARGO) build --release

# Every test: the Python and npm packages the tests use (make deps); cargo test (unit tests,
# the integration tests over real sockets with real clients, doc tests, and tests/docs.rs,
# which runs every example of README.md and docs/); the library used from a crate outside the
# project (make external); the shell smoke tests with curl; the proxy in front of nginx
# (skipped, loudly, when nginx is absent); the one-shot test with headless Chromium (skipped
# when Chromium is absent, unless HTTPFAULT_REQUIRE_BROWSER=1); the check that docs/clients.md
# matches what curl, Python, Node and Rust clients see now; the Python and npm packages
# installed as a user would and driven by their example suites (make packaging); the container
# images in use (make containers: skipped, loudly, without podman or docker); and the
# std-only build with its unit tests (make test-std).
test: deps
	$(CARGO) build --quiet
	$(CARGO) test --quiet --no-fail-fast
	$(MAKE) --no-print-directory external
	bash tests/smoke.sh target/debug/httpfault
	bash tests/proxy_nginx.sh target/debug/httpfault
	bash tests/browser_once.sh target/debug/httpfault
	python3 tests/matrix/matrix.py --self-test && python3 tests/matrix/matrix.py --check docs/clients.md
	bash tests/packaging.sh
	bash tests/containers.sh
	$(MAKE) --no-print-directory test-std

# The std-only build (cargo feature tls off: libc and pico-args only): its binary and its unit
# tests, in a target dir of their own so target/debug/httpfault stays the default (TLS) build
# the shell tests use. The integration tests run on the default build.
test-std:
	CARGO_TARGET_DIR=target/std $(CARGO) build --quiet --no-default-features
	CARGO_TARGET_DIR=target/std $(CARGO) test --quiet --no-default-features --lib --bins

# The Python and npm packages the tests use, into target/venv and target/node (tests/deps/).
deps:
	bash tests/deps/setup.sh

# The Python wheel (maturin, bindings "bin": the release binary plus packaging/python/'s helper
# and pytest plugin) into target/wheels/; maturin comes from PyPI into target/venv.
wheel:
	bash packaging/build.sh wheel

# The npm package (packaging/npm/ plus the release binary) as target/npm/httpfault-VERSION.tgz.
npm:
	bash packaging/build.sh npm

# Both built, installed into a fresh virtualenv and a fresh node project under target/pkgtest/,
# and their example suites run there (part of make test).
packaging:
	bash tests/packaging.sh

# tests/external: a crate of its own that depends on httpfault by path, as a user's test
# suite does, and runs the library contract's example. Its build stays under target/.
external:
	CARGO_TARGET_DIR=target/external $(CARGO) test --quiet --manifest-path tests/external/Cargo.toml

# tests/structure/check.py: no module cycle, no function over 120 lines outside tests.
lint:
	python3 tests/structure/check.py
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --no-default-features -- -D warnings

fmt:
	$(CARGO) fmt

# A statically linked release binary: glibc's static libc, no name service at run time.
# relocation-model=static: a plain static executable rather than static-pie, which carries a
# relocation table and GOT indirections (51 KB smaller; make bench-instr is unchanged).
# STATIC_FLAGS=--no-default-features: the std-only build (no TLS).
# Cargo profile `static` (Cargo.toml): release, optimised for size.
# STATIC_OUT: where the binary goes (make image puts the std-only one beside the default).
STATIC_OUT ?= target/static/httpfault
static:
	RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" $(CARGO) build --profile static $(STATIC_FLAGS) --target $(STATIC_TARGET) --target-dir target/static-build
	mkdir -p $(dir $(STATIC_OUT))
	cp target/static-build/$(STATIC_TARGET)/static/httpfault $(STATIC_OUT)
	@ls -l $(STATIC_OUT)

# The container images, FROM scratch (Dockerfile), with podman or docker, whichever is
# installed (ENGINE=docker picks one):
#   $(IMAGE):latest     the static binary with TLS (the default build), listening on 0.0.0.0:9000
#   $(IMAGE):std        the std-only static binary (no TLS)
#   $(IMAGE):toxiproxy  `httpfault toxiproxy --listen 0.0.0.0:8474`, toxiproxy's API
# Each also gets a VERSION-suffixed tag (httpfault:0.1.0, :0.1.0-std, :0.1.0-toxiproxy).
ENGINE ?= $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)
IMAGE ?= httpfault
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
image:
	@test -n "$(ENGINE)" || { echo "make image: error: neither podman nor docker is installed" >&2; exit 1; }
	$(MAKE) --no-print-directory static STATIC_FLAGS=--no-default-features STATIC_OUT=target/static/httpfault-std
	$(MAKE) --no-print-directory static
	$(ENGINE) build -q --target httpfault --label org.opencontainers.image.version=$(VERSION) \
		-t $(IMAGE):latest -t $(IMAGE):$(VERSION) .
	$(ENGINE) build -q --target httpfault --label org.opencontainers.image.version=$(VERSION) \
		--build-arg BINARY=target/static/httpfault-std -t $(IMAGE):std -t $(IMAGE):$(VERSION)-std .
	$(ENGINE) build -q --target toxiproxy --label org.opencontainers.image.version=$(VERSION) \
		-t $(IMAGE):toxiproxy -t $(IMAGE):$(VERSION)-toxiproxy .
	@for t in latest std toxiproxy; do \
		echo "make image: $(IMAGE):$$t $$($(ENGINE) image inspect --format '{{.Size}}' $(IMAGE):$$t) bytes"; \
	done

# The images in use (tests/containers.sh): make image, then the image run with a published
# port, Python's and Node's Testcontainers with the packages' HttpfaultContainer, and
# @testcontainers/toxiproxy against $(IMAGE):toxiproxy. Skipped, loudly, without podman or
# docker (a failure under CI=true). Part of make test.
containers: deps
	$(CARGO) build --quiet
	bash tests/containers.sh

# The build before the redesign (BEFORE_REV, default edc52e5) is built aside under
# target/before-REV and measured in the same run (column httpfault2; TLS memory rows too).
bench:
	bash benches/run.sh
	SKIP_BUILD=1 HF2_BIN="$${HF2_BIN:-$$(ls target/before-$${BEFORE_REV-edc52e5}/target/release/httpfault 2>/dev/null)}" bash benches/tls.sh
	SKIP_BUILD=1 bash benches/ws.sh

# HTTPS beside nginx with the same certificate: handshakes/s, keep-alive requests/s, memory
# per held TLS connection (about 40 s). Table: benches/out/tls.md.
bench-tls:
	bash benches/tls.sh

# Instructions per TLS handshake and per keep-alive request over TLS, httpfault beside nginx
# (one worker), both under callgrind with the same certificate and suite: deterministic where
# requests/s on a busy machine are not (about 5 minutes; needs valgrind and nginx).
bench-tls-instr:
	bash benches/tls_instr.sh

# Instructions per healthy keep-alive request, counted by callgrind (deterministic): 10,000
# requests on one connection, minus the cost of starting and stopping (needs valgrind).
bench-instr:
	bash benches/instr.sh

# Proxy mode beside haproxy and nginx in front of the same upstream (about a minute; installs
# haproxy, nginx-light and wrk with apt-get when missing). Table: benches/out/proxy.md.
bench-proxy:
	bash benches/proxy.sh

# HTTP/2: h2load over one connection with 32 streams, httpfault beside nginx (http2), as a
# ratio in the same run (needs nghttp2-client; also run at the end of `make bench`).
bench-h2:
	bash benches/h2.sh

# HTTP/2 conformance: h2spec over cleartext and TLS against a fresh debug server (H2SPEC=PATH,
# default ../shared/bin/h2spec; H2SPEC_SRC=DIR builds it offline from a summerwind/h2spec
# checkout, recipe in tests/h2/h2spec.sh). tests/h2_conformance.rs runs it in `make test` too.
h2spec:
	bash tests/h2/h2spec.sh

# docs/plans.md, the step reference, regenerated from the step tables (src/plan/steps.rs,
# src/plan/tcp.rs), and docs/cli.md's option table from the options table
# (src/bin/httpfault/cli/options.rs); make test fails when a committed one differs.
plans-doc:
	HTTPFAULT_WRITE_DOCS=1 $(CARGO) test --quiet --test step_table docs_plans_md
	HTTPFAULT_WRITE_DOCS=1 $(CARGO) test --quiet --bin httpfault docs_cli_md

soak:
	bash tests/soak.sh

matrix:
	python3 tests/matrix/matrix.py --write docs/clients.md

# Coverage-guided fuzzing of the parsers (fuzz/, a crate of its own): each target in turn for
# FUZZ_SECONDS, new inputs kept in fuzz/work/<target>/ (ignored by git), failures in
# fuzz/artifacts/<target>/. Not part of `make test`, which replays the saved corpora instead
# (tests/fuzz_corpus.rs). cargo-fuzz passes nightly-only flags to rustc (-Z...);
# RUSTC_BOOTSTRAP=1 lets this stable toolchain accept them. `-s none`: no sanitizer, since
# AddressSanitizer needs a std built with it, which only nightly ships.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= head response chunked plan route units h2 toxiproxy_json ws_frame
fuzz:
	@$(CARGO) fuzz --version >/dev/null 2>&1 || { echo "make fuzz: cargo-fuzz is missing; installing it with 'cargo install cargo-fuzz' (a few minutes)"; $(CARGO) install cargo-fuzz; }
	@set -e; cd fuzz; for t in $(FUZZ_TARGETS); do \
		mkdir -p work/$$t; \
		echo "make fuzz: $$t for $(FUZZ_SECONDS) s"; \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -s none $$t work/$$t corpus/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1; \
	done

clean:
	$(CARGO) clean

# TCP mode as a relay beside socat and haproxy (mode tcp): throughput, added latency, and many
# small messages from 200 connections (redis-benchmark shaped).
bench-tcp:
	bash benches/tcp.sh

# The control API and journal under abuse (issue 16, items 9-13): RSS and req/s, loopback
# only, about a minute. BEFORE=path/to/another/httpfault adds a column for it (same run).
bench-control: build
	python3 benches/control_dos.py $(BEFORE) target/release/httpfault

# WebSocket echo messages/s (64-byte messages, 1 and 100 connections), httpfault beside a
# Python websockets and a Node ws echo server under the same client (loadgen ws), in rotating
# rounds, with medians and httpfault / faster peer; and memory per idle WebSocket connection
# beside a held HTTP/1 connection (about 3 minutes). Table: benches/out/ws.md.
bench-ws:
	bash benches/ws.sh

# Instructions per WebSocket echo (callgrind, deterministic on a shared machine), httpfault
# beside the Python websockets and Node ws echo servers (about a minute, needs valgrind).
# Table: benches/out/ws_instr.md.
bench-ws-instr:
	bash benches/ws_instr.sh

# 1,000 concurrent event streams (sse=N,100ms) at 10 events/s each from one asyncio client:
# the server's CPU (% of one core, target under 25), RSS, events/s and the longest gap.
bench-sse: build
	python3 benches/sse.py --bin target/release/httpfault

# toxiproxy's own server, built from a source checkout (TOXIPROXY_SRC, default
# ../toxiproxy-src: a clone of Shopify/toxiproxy) into target/toxiproxy-ref/, for the
# side-by-side test (tests/toxiproxy_clients.rs), which also finds ../shared/bin/toxiproxy-server.
# Offline recipe: Debian's golang-go and golang-*-dev (gorilla-mux, prometheus-client-golang,
# rs-zerolog, urfave-cli-v2, tomb.v1), GOPATH mode; Debian's older zerolog needs one line of
# cmd/server/server.go to drop the `pc uintptr,` parameter of CallerMarshalFunc (logging only).
# Skipped with a message when the source or Go is absent.
TOXIPROXY_SRC ?= ../toxiproxy-src
toxiproxy-ref:
	@if [ ! -f "$(TOXIPROXY_SRC)/api.go" ]; then \
		echo "make toxiproxy-ref: skipped: no toxiproxy source at $(TOXIPROXY_SRC) (clone Shopify/toxiproxy there, or set TOXIPROXY_SRC)"; \
	elif ! command -v go >/dev/null 2>&1; then \
		echo "make toxiproxy-ref: skipped: no Go toolchain (apt-get install golang-go golang-github-gorilla-mux-dev golang-github-prometheus-client-golang-dev golang-github-rs-zerolog-dev golang-github-urfave-cli-v2-dev golang-gopkg-tomb.v1-dev)"; \
	else \
		set -e; gp=$$PWD/target/toxiproxy-ref/gopath; dst=$$gp/src/github.com/Shopify/toxiproxy/v2; \
		rm -rf $$dst; mkdir -p $$dst; cp -r $(TOXIPROXY_SRC)/. $$dst/; \
		sed -i 's/func(pc uintptr, file string, line int)/func(file string, line int)/' $$dst/cmd/server/server.go; \
		cd $$dst && GO111MODULE=off GOPATH=$$gp:/usr/share/gocode go build -trimpath -o $$OLDPWD/target/toxiproxy-ref/toxiproxy-server ./cmd/server; \
		echo "make toxiproxy-ref: target/toxiproxy-ref/toxiproxy-server"; \
	fi
