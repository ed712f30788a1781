# ticker: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what is missing (apt), build the extension, and run.

CARGO      ?= cargo
PHP        ?= php
EXT        := $(CURDIR)/target/release/libticker_php.so
LIB        := $(CURDIR)/target/release/libticker.so
TICKS      ?= 5

.PHONY: all deps build install demo test test-rust test-c test-php test-ffi header lint bench clean

all: build

deps:
	@scripts/install-deps.sh

# The extension (target/release/libticker_php.so), the C library without PHP
# (target/release/libticker.so and libticker.a) and the `ticker` command (target/release/ticker).
build: deps
	$(CARGO) build --release --workspace

# Copies the extension into PHP's extension directory, so `-d extension=ticker.so` works,
# the `ticker` command into $(BINDIR), and the C library into the library path ($(LIBDIR),
# then ldconfig) with its header beside it ($(INCLUDEDIR)/ticker.h).
BINDIR     ?= /usr/local/bin
LIBDIR     ?= /usr/local/lib
INCLUDEDIR ?= /usr/local/include
install: build
	install -m 0755 $(EXT) "$$($(PHP) -r 'echo ini_get("extension_dir");')/ticker.so"
	install -m 0755 target/release/ticker $(BINDIR)/ticker
	install -d $(LIBDIR) $(INCLUDEDIR)
	install -m 0755 $(LIB) $(LIBDIR)/libticker.so
	install -m 0644 target/release/libticker.a $(LIBDIR)/libticker.a
	install -m 0644 include/ticker.h $(INCLUDEDIR)/ticker.h
	ldconfig

# The demo: examples/app.php on examples/.rr.yaml (1s interval, 2 workers), TICKS ticks
# (`make demo TICKS=0` runs until Ctrl-C).
demo: install
	cd examples && $(PHP) -d extension=ticker.so app.php $(TICKS)

test: build lint test-rust test-c test-php test-ffi
	@echo "make test: all suites passed"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Unit tests of every module, then end-to-end tests that run real PHP processes with the
# release extension built above (tests/e2e/: one binary, `cargo test --test e2e`).
test-rust:
	TICKER_EXT=$(EXT) $(CARGO) test --workspace --all-targets

# The C library as a C program uses it: no PHP symbols, gcc against include/ticker.h, run with
# nothing but target/release on the library path (tests/c/).
test-c:
	tests/c/run.sh target/release

# include/ticker.h from src/ffi.rs (cbindgen.toml); tests/header.rs fails when it is stale.
header:
	TICKER_WRITE_HEADER=1 $(CARGO) test --release --test header

# The Composer package: unit tests without the extension (test doubles stand in for it),
# then the tests that need the real extension (end to end, stubs versus Reflection).
test-php:
	composer validate --strict --no-check-publish
	composer dump-autoload --dev --quiet
	$(PHP) /usr/bin/phpunit -c phpunit.xml.dist --testsuite unit
	TICKER_EXT=$(EXT) TICKER_REQUIRE_EXTENSION=1 \
		$(PHP) -d extension=$(EXT) /usr/bin/phpunit -c phpunit.xml.dist --testsuite extension

# PHP's FFI on the C library: the header through FFI::cdef and FFI::load, and Ticker\Ffi\Ticker
# (tests/php/Ffi), with the library's path given at run time, and without the extension.
test-ffi:
	composer dump-autoload --dev --quiet
	TICKER_LIB=$(LIB) TICKER_REQUIRE_FFI=1 $(PHP) /usr/bin/phpunit -c phpunit.xml.dist --testsuite ffi

bench: build
	bench/run

clean:
	$(CARGO) clean
