# webhookd — the two set-up commands are `make run` and `make test`; both install what is missing.
SHELL := /bin/bash
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=
APT_PACKAGES := libssl-dev libpq-dev pkg-config postgresql openssl curl
# Tools the benchmark needs on top of the build dependencies: the reference server, the Go toolchain that
# builds bench/loadgen, python3 for a free port.
BENCH_PACKAGES := nginx golang-go python3
# The fault suite: Go for faults/client, python3 for a free port (psql and pg_ctl come with postgresql).
FAULTS_PACKAGES := golang-go python3

.PHONY: all build deps deps-compose test lint run bench fuzz faults clean release

all: build

## deps: install the C libraries and a PostgreSQL server with apt when they are missing (quiet when present)
deps:
	@bash scripts/deps.sh $(APT_PACKAGES)

## deps-compose: optional; Debian's docker-compose, so the test suite validates docker-compose.yml with
## `docker-compose config` (there is no Docker engine here: nothing is built or started)
deps-compose:
	@bash scripts/deps.sh docker-compose

build: deps
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

release: deps
	$(SWIFT) build -c release $(SWIFT_BUILD_FLAGS)

## lint: swift-format ships with the toolchain
lint:
	$(SWIFT) format lint --strict -r Sources Tests Package.swift

## test: the whole suite, integration tests included, against a PostgreSQL the suite starts itself
test: deps
	$(SWIFT) build $(SWIFT_BUILD_FLAGS) --build-tests
	$(MAKE) --no-print-directory lint
	WEBHOOKD_BINARY="$$($(SWIFT) build $(SWIFT_BUILD_FLAGS) --show-bin-path)/webhookd" \
	  $(SWIFT) test $(SWIFT_BUILD_FLAGS) --skip-build --parallel

## run: the five-minute demo — dev PKI, embedded PostgreSQL, serve on 127.0.0.1:8443
run: build
	"$$($(SWIFT) build $(SWIFT_BUILD_FLAGS) --show-bin-path)/webhookd" dev

## bench: deliveries/s, latency and server CPU per request at c=1/16/64, full and resumed handshakes/s, next to
## nginx with mTLS in the same run; checks the stored rows against the 200s (knobs: bench/run.sh header)
bench: release
	@bash scripts/deps.sh $(BENCH_PACKAGES)
	bash bench/run.sh

## fuzz: libFuzzer harnesses (HTTP/1.1 parser, body_json validator, certificate identity) built with
## swiftc -sanitize=fuzzer,address into .build/fuzz/, each run FUZZ_SECONDS from its seed corpus (fuzz/)
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh

## faults: the fault and load suite (faults/run.sh): kill -9 webhookd / PostgreSQL, SIGSTOP PostgreSQL, slowloris,
## per-client limits, stalled bodies, SIGHUP reloads, each on a fresh webhookd; exit 1 when a 200 is lost or a 500 seen
faults: release
	@bash scripts/deps.sh $(FAULTS_PACKAGES)
	bash faults/run.sh

clean:
	rm -rf .build
