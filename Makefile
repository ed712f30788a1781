# ticker: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what is missing (apt), build the extension, and run.

CARGO      ?= cargo
PHP        ?= php
# cargo's output: target/release, or $CARGO_TARGET_DIR/release when that is set.
RELEASE    := $(if $(CARGO_TARGET_DIR),$(abspath $(CARGO_TARGET_DIR)),$(CURDIR)/target)/release
EXT        := $(RELEASE)/libticker_php.so
LIB        := $(RELEASE)/libticker.so
TICKS      ?= 5

.PHONY: all deps build install install-ini uninstall-ini pie-binary demo test test-loaded test-rust test-command test-c test-php test-ffi test-packaging test-phpize header lint bench soak faults scrape clean

all: build

deps:
	@scripts/install-deps.sh

# The extension (target/release/libticker_php.so), the C library without PHP
# (target/release/libticker.so and libticker.a) and the `ticker` command (target/release/ticker).
# ext-php-rs' build script reads PHP_CONFIG and PHP (else php-config on PATH); the phpize build
# (ext/config.m4) gives it both as absolute paths, and so does this one, the same values: its
# build script then need not run again each time the other build shares this target directory.
build: deps
	php_config=$${PHP_CONFIG:-$$(command -v php-config)} && \
		PHP_CONFIG=$$php_config PHP=$$($$php_config --php-binary) $(CARGO) build --release --workspace

# Copies the extension into PHP's extension directory, so `-d extension=ticker.so` works,
# the `ticker` command into $(BINDIR), and the C library into the library path ($(LIBDIR))
# with its header beside it ($(INCLUDEDIR)/ticker.h). DESTDIR stages it all for a package;
# ldconfig runs only for a real install as root (a LIBDIR of one's own needs LD_LIBRARY_PATH).
BINDIR        ?= /usr/local/bin
LIBDIR        ?= /usr/local/lib
INCLUDEDIR    ?= /usr/local/include
EXTENSION_DIR ?= $(shell $(PHP) -r 'echo ini_get("extension_dir");')
install: build
	install -d "$(DESTDIR)$(EXTENSION_DIR)" "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(INCLUDEDIR)"
	install -m 0755 $(EXT) "$(DESTDIR)$(EXTENSION_DIR)/ticker.so"
	install -m 0755 $(RELEASE)/ticker "$(DESTDIR)$(BINDIR)/ticker"
	install -m 0755 $(LIB) "$(DESTDIR)$(LIBDIR)/libticker.so"
	install -m 0644 $(RELEASE)/libticker.a "$(DESTDIR)$(LIBDIR)/libticker.a"
	install -m 0644 include/ticker.h "$(DESTDIR)$(INCLUDEDIR)/ticker.h"
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then ldconfig; fi

# `make install`, then enables the extension for every PHP process, the way Debian does:
# $(MODS_AVAILABLE)/ticker.ini and `phpenmod ticker` (conf.d/20-ticker.ini for each SAPI).
# Without phpenmod, 20-ticker.ini goes straight into PHP's scan directory. Loaded this way,
# the extension stays inert in every process that does not ask for a pool (docs/enabling.md).
# With DESTDIR (a package being staged), the ini file is only staged where it would go,
# $(DESTDIR)$(MODS_AVAILABLE)/ticker.ini or $(DESTDIR)$(SCAN_DIR)/20-ticker.ini: the live
# PHP's configuration is left alone and phpenmod does not run (a package's postinst does that).
PHP_VERSION    ?= $(shell $(PHP) -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')
MODS_AVAILABLE ?= /etc/php/$(PHP_VERSION)/mods-available
SCAN_DIR       ?= $(shell $(PHP) -r 'echo PHP_CONFIG_FILE_SCAN_DIR;')
PHPENMOD       ?= phpenmod
PHPDISMOD      ?= phpdismod
define TICKER_INI
; configuration for php ticker module
; priority=20
extension=ticker.so
; Loaded for every process, ticker runs no pool unless the process asks for one:
; `php -d ticker.enable=1 app.php`, or TICKER_ENABLE=1 in the master's environment.
; Do not set ticker.enable=1 here: every PHP process would try to be a master.
endef
export TICKER_INI
install-ini: install
	@if command -v $(PHPENMOD) >/dev/null 2>&1 && [ -d "$(MODS_AVAILABLE)" ]; then \
		install -d "$(DESTDIR)$(MODS_AVAILABLE)" && \
		echo "$$TICKER_INI" > "$(DESTDIR)$(MODS_AVAILABLE)/ticker.ini" && \
		echo "wrote $(DESTDIR)$(MODS_AVAILABLE)/ticker.ini" && \
		if [ -z "$(DESTDIR)" ]; then $(PHPENMOD) -v $(PHP_VERSION) ticker; \
		else echo "DESTDIR is set: not running $(PHPENMOD) (run \`$(PHPENMOD) -v $(PHP_VERSION) ticker\` once installed)"; fi; \
	elif [ -n "$(SCAN_DIR)" ]; then \
		install -d "$(DESTDIR)$(SCAN_DIR)" && \
		echo "$$TICKER_INI" > "$(DESTDIR)$(SCAN_DIR)/20-ticker.ini" && \
		echo "wrote $(DESTDIR)$(SCAN_DIR)/20-ticker.ini"; \
	else \
		echo "install-ini: no phpenmod and no scan directory; add extension=ticker.so to php.ini" >&2; \
		exit 1; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
		$(PHP) -m | grep -qx ticker && echo "php -m lists ticker" || \
		{ echo "install-ini: php -m does not list ticker; see php --ini for what PHP reads" >&2; exit 1; }; \
	fi

# Undoes install-ini (the extension stays installed for `-d extension=ticker.so`). With DESTDIR,
# it removes only the staged ini files and leaves the live PHP alone, as install-ini does.
uninstall-ini:
	@if [ -n "$(DESTDIR)" ]; then \
		rm -f "$(DESTDIR)$(MODS_AVAILABLE)/ticker.ini" "$(DESTDIR)$(SCAN_DIR)/20-ticker.ini"; \
	elif command -v $(PHPDISMOD) >/dev/null 2>&1 && [ -f "$(MODS_AVAILABLE)/ticker.ini" ]; then \
		$(PHPDISMOD) -v $(PHP_VERSION) ticker && rm -f "$(MODS_AVAILABLE)/ticker.ini"; \
	else \
		rm -f "$(SCAN_DIR)/20-ticker.ini"; \
	fi

# The demo: examples/app.php on examples/.rr.yaml (1s interval, 2 workers), TICKS ticks
# (`make demo TICKS=0` runs until Ctrl-C).
demo: install
	cd examples && $(PHP) -d extension=ticker.so app.php $(TICKS)

test: build lint test-rust test-command test-c test-php test-ffi test-packaging test-phpize
	@echo "make test: all suites passed"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Unit tests of every module, then end-to-end tests that run real PHP processes with the
# release extension built above (tests/e2e/: one binary, `cargo test --test e2e`).
test-rust:
	TICKER_EXT=$(EXT) $(CARGO) test --workspace --all-targets

# The end-to-end suites that apply to both kinds of worker, once more with workers started
# from ticker.pool.command instead of forked (TICKER_E2E_WORKERS=command: the harness adds
# the run's own PHP command line to every config it writes or names).
COMMAND_SUITES := ticks:: supervision:: pool_settings:: error_and_stop:: operator:: \
	missed_and_overlap:: signals:: faults:: cluster:: schedules:: catch_up::
test-command:
	TICKER_EXT=$(EXT) TICKER_E2E_WORKERS=command $(CARGO) test --test e2e -- $(COMMAND_SUITES)

# The C library as a C program uses it: no PHP symbols, gcc against include/ticker.h, run with
# nothing but target/release on the library path (tests/c/).
test-c:
	tests/c/run.sh $(RELEASE)

# include/ticker.h from src/ffi.rs (cbindgen.toml); tests/header.rs fails when it is stale.
header:
	TICKER_WRITE_HEADER=1 $(CARGO) test --release --test header

# The Composer package: unit tests without the extension (test doubles stand in for it),
# on Spiral's 3.0-3.11 dispatcher interface and again on the 3.12+ one, then the tests that
# need the real extension (end to end, stubs versus Reflection).
test-php:
	composer validate --strict --no-check-publish
	composer dump-autoload --dev --quiet
	$(PHP) /usr/bin/phpunit -c phpunit.xml.dist --testsuite unit
	TICKER_TEST_SPIRAL_LINE=3.12 $(PHP) /usr/bin/phpunit -c phpunit.xml.dist --testsuite unit
	TICKER_EXT=$(EXT) TICKER_REQUIRE_EXTENSION=1 \
		$(PHP) -d extension=$(EXT) /usr/bin/phpunit -c phpunit.xml.dist --testsuite extension

# PHP's FFI on the C library: the header through FFI::cdef and FFI::load, and Ticker\Ffi\Ticker
# (tests/php/Ffi), with the library's path given at run time, and without the extension.
test-ffi:
	composer dump-autoload --dev --quiet
	TICKER_LIB=$(LIB) TICKER_REQUIRE_FFI=1 $(PHP) /usr/bin/phpunit -c phpunit.xml.dist --testsuite ffi
	@out=$$(TICKER_LIB=$(LIB) $(PHP) examples/ffi/ticks.php 10ms 3) && \
		[ "$$(echo "$$out" | grep -c '^tick ')" = 3 ] || { echo "test-ffi: examples/ffi/ticks.php printed: $$out" >&2; exit 1; }
	@echo "test-ffi: examples/ffi/ticks.php runs"

# How the extension reaches other machines (docs/packaging.md): the two Composer packages, the
# example systemd unit and Dockerfile, `make install-ini DESTDIR=...` staging only, and the
# pre-built archive PIE downloads, loaded from an extension directory of its own.
test-packaging: build
	tests/packaging/composer.sh
	tests/packaging/systemd.sh
	tests/packaging/dockerfile.sh
	tests/packaging/install-ini.sh
	tests/packaging/binary.sh

# `phpize && ./configure && make && make install` in a clean copy of the tree, installed under
# INSTALL_ROOT and loaded. Its cargo shares this build's target directory and finds it built
# (seconds, where a target directory of its own would be a second full build).
test-phpize: build
	tests/packaging/phpize.sh

# The pre-built archive for PIE for this PHP (php_ticker-{version}_php{X.Y}-{arch}-linux-{libc}-nts.tgz).
pie-binary: build
	scripts/pie-binary.sh .

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

# Whether flooding /metrics and the control socket makes ticks late, at 4 and 200 workers (~25 s).
scrape: build
	python3 scripts/reliability.py scrape $(ARGS)

# `make test` on a loaded machine: two busy loops hold both cores while it runs, and stop
# with it, whatever its outcome.
test-loaded:
	@scripts/loaded.sh $(MAKE) test

clean:
	$(CARGO) clean
