# capvisor — build, test, run. See README.md.
CARGO ?= cargo
PREFIX ?= /usr/local
# What `make run` runs in the sandbox. Override: make run CMD="python3 -c 'print(1)'"
CMD ?= bash -c 'echo "hello from the sandbox: $$(id -un) in $$(pwd)"; ls /; cat /etc/shadow || true'

.PHONY: all build run test unit integration lint fmt bench conformance compat escape install deps ci clean oci-validate

all: build

build:
	$(CARGO) build --release --workspace

# The main job: build, then run CMD under `sentry exec` with the embedded default policy.
run: build
	./target/release/sentry exec -- $(CMD)

# Everything the CI runs: unit tests, integration and security tests against the real binary — then every integration
# test of the sentry and the escape test again on the ptrace platform (the first pass runs on the default: seccomp here).
test:
	$(CARGO) test --workspace --all-targets
	SENTRY_TEST_PLATFORM=ptrace $(CARGO) test -p sentry --test '*'
	SENTRY_TEST_PLATFORM=ptrace $(CARGO) test -p conformance --test escape

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Syscall and start-up costs, natively and under the sentry, as ratios in one run.
bench:
	$(CARGO) build --release -p sentry -p bench
	./target/release/bench run --sentry ./target/release/sentry

# Every probe case natively and under the sentry, compared; ends with "N passed, N failed, N skipped".
conformance:
	$(CARGO) build -p sentry -p conformance
	./target/debug/conformance run --platform all --sentry ./target/debug/sentry --json target/conformance.json

# Adversarial programs under the sentry, judged from outside; ends with "N blocked, N escaped".
escape:
	$(CARGO) build -p sentry -p conformance
	./target/debug/conformance escape --sentry ./target/debug/sentry --platform seccomp
	./target/debug/conformance escape --sentry ./target/debug/sentry --platform ptrace

# docs/compat.md: THE syscall table joined with the latest conformance results.
compat:
	$(CARGO) build -p sentry -p conformance
	-./target/debug/conformance run --platform all --sentry ./target/debug/sentry --json target/conformance.json
	./target/debug/conformance compat --sentry ./target/debug/sentry --results target/conformance.json --out docs/compat.md

# OCI runtime validation (tools/oci-validate/: Go programs on Debian's runtime-tools libraries, built offline with
# Debian's golang-go) against RUNTIME (default: the sentry built here). Ends with "N passed, N failed, N skipped (of N
# TAP assertions in M programs)". Baseline: RUNTIME=/usr/sbin/runc make oci-validate. Not part of `make test`: see
# docs/compat.md, "OCI runtime-tools validation".
RUNTIME ?= $(CURDIR)/target/release/sentry
oci-validate:
	@if [ "$(RUNTIME)" = "$(CURDIR)/target/release/sentry" ]; then $(CARGO) build --release -p sentry; fi
	RUNTIME=$(RUNTIME) ./tools/oci-validate.sh $(OCI_VALIDATE_PROGRAMS)

install: build
	install -D -m 0755 target/release/sentry $(DESTDIR)$(PREFIX)/bin/sentry

# System packages the tests use (Debian).
deps:
	./.ci/deps

ci: deps lint test

clean:
	$(CARGO) clean
