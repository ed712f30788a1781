# ticker: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what is missing (apt), build the extension, and run.

CARGO      ?= cargo
PHP        ?= php
EXT        := $(CURDIR)/target/release/libticker_php.so
TICKS      ?= 5

.PHONY: all deps build install demo test test-rust test-php lint bench soak faults clean

all: build

deps:
	@scripts/install-deps.sh

# The extension (target/release/libticker_php.so) and the `ticker` command (target/release/ticker).
build: deps
	$(CARGO) build --release --workspace

# Copies the extension into PHP's extension directory, so `-d extension=ticker.so` works,
# and the `ticker` command into $(BINDIR).
BINDIR     ?= /usr/local/bin
install: build
	install -m 0755 $(EXT) "$$($(PHP) -r 'echo ini_get("extension_dir");')/ticker.so"
	install -m 0755 target/release/ticker $(BINDIR)/ticker

# The demo: examples/app.php on examples/.rr.yaml (1s interval, 2 workers), TICKS ticks
# (`make demo TICKS=0` runs until Ctrl-C).
demo: install
	cd examples && $(PHP) -d extension=ticker.so app.php $(TICKS)

test: build lint test-rust test-php
	@echo "make test: all suites passed"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Unit tests of every module, then end-to-end tests that run real PHP processes with the
# release extension built above (tests/e2e/: one binary, `cargo test --test e2e`).
test-rust:
	TICKER_EXT=$(EXT) $(CARGO) test --workspace --all-targets

# The Composer package: unit tests without the extension (test doubles stand in for it),
# then the tests that need the real extension (end to end, stubs versus Reflection).
test-php:
	composer validate --strict --no-check-publish
	composer dump-autoload --dev --quiet
	$(PHP) /usr/bin/phpunit -c phpunit.xml.dist --testsuite unit
	TICKER_EXT=$(EXT) TICKER_REQUIRE_EXTENSION=1 \
		$(PHP) -d extension=$(EXT) /usr/bin/phpunit -c phpunit.xml.dist --testsuite extension

bench: build
	bench/run

# The proof of reliability in docs/reliability.md (scripts/reliability.py): a soak of SOAK
# (default 10m; `make soak SOAK=30m`) at 1 ms with 4 workers under SIGKILLs, resets and
# hammered endpoints, and the fault tests of tests/e2e/faults.rs. Each rewrites its table.
SOAK       ?= 10m
soak: build
	python3 scripts/reliability.py soak --duration $(SOAK)

faults: build
	python3 scripts/reliability.py faults

clean:
	$(CARGO) clean
