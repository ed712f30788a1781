dnl The phpize build of the extension (`phpize && ./configure && make && make install`, what PIE,
dnl Debian's dh-php and the official Docker image run). It lives in ext/, not at the repository's
dnl root, because configure writes a Makefile and the root already has the project's own.
dnl It compiles no C: cargo builds the whole module (Makefile.frag), and configure only checks
dnl what that build needs and hands it PHP's paths. It must not touch anything outside ext/
dnl except cargo's target directory.

PHP_ARG_ENABLE([ticker],
  [whether to enable the ticker extension],
  [AS_HELP_STRING([--enable-ticker], [Build the ticker extension with cargo (default: yes)])],
  [yes])

AC_ARG_VAR([CARGO], [the cargo command (default: cargo on PATH, then ~/.cargo/bin/cargo)])
AC_ARG_VAR([CARGO_FLAGS], [extra flags for `cargo build`, e.g. --locked --offline])

if test "$PHP_TICKER" != "no"; then
  dnl ext-php-rs and the fork-based pool support only a non-thread-safe PHP.
  if test "$PHP_THREAD_SAFETY" = "yes"; then
    AC_MSG_ERROR([ticker supports only a non-thread-safe (NTS) PHP; $PHP_CONFIG describes a ZTS build. Build against an NTS PHP (php -v says "NTS").])
  fi

  dnl rustup installs cargo in ~/.cargo/bin, which is often not on PATH under sudo or PIE.
  AC_PATH_PROG([CARGO], [cargo], [no], [$PATH$PATH_SEPARATOR$HOME/.cargo/bin])
  if test "$CARGO" = "no"; then
    AC_MSG_ERROR([cargo not found on PATH nor in ~/.cargo/bin. ticker is written in Rust (edition 2024): install Rust 1.85 or later (https://rustup.rs), or pass CARGO=/path/to/cargo to configure.])
  fi

  AC_MSG_CHECKING([for Rust 1.85 or later (edition 2024)])
  ticker_cargo_version=`"$CARGO" --version 2>/dev/null | sed -n 's/^cargo \([[0-9]]*\)\.\([[0-9]]*\)\..*/\1 \2/p'`
  ticker_cargo_major=`echo "$ticker_cargo_version" | cut -d' ' -f1`
  ticker_cargo_minor=`echo "$ticker_cargo_version" | cut -d' ' -f2`
  if test -z "$ticker_cargo_major" || test "$ticker_cargo_major" -lt 1 ||
     { test "$ticker_cargo_major" -eq 1 && test "$ticker_cargo_minor" -lt 85; }; then
    AC_MSG_RESULT([no])
    AC_MSG_ERROR([$CARGO is `$("$CARGO" --version 2>&1)`; ticker needs Rust 1.85 or later (edition 2024): run `rustup update stable`, or pass CARGO=/path/to/a/newer/cargo to configure.])
  fi
  AC_MSG_RESULT([yes, $ticker_cargo_major.$ticker_cargo_minor])

  dnl ext-php-rs' build script runs php-config and php: absolute paths, so that it reads the
  dnl PHP configure was given (--with-php-config) and not the first one on PATH.
  case "$PHP_CONFIG" in
    */*) TICKER_PHP_CONFIG=`cd "$(dirname "$PHP_CONFIG")" && pwd`/`basename "$PHP_CONFIG"` ;;
    *) AC_PATH_PROG([TICKER_PHP_CONFIG], [$PHP_CONFIG], [no]) ;;
  esac
  if test ! -x "$TICKER_PHP_CONFIG"; then
    AC_MSG_ERROR([php-config not found as $PHP_CONFIG: pass --with-php-config=/path/to/php-config])
  fi
  if test ! -x "$PHP_EXECUTABLE"; then
    AC_MSG_ERROR([$TICKER_PHP_CONFIG --php-binary names `$PHP_EXECUTABLE`, which is not an executable: ext-php-rs needs the php binary of the PHP being built for])
  fi

  dnl The Rust workspace is ext/'s parent; cargo builds the ticker-php crate (ext/Cargo.toml).
  TICKER_WORKSPACE=`cd "$abs_srcdir/.." && pwd`

  dnl No C sources: the module is the cdylib cargo links, copied to modules/ticker.so.
  PHP_MODULES='$(phplibdir)/ticker.so'
  PHP_SUBST([CARGO])
  PHP_SUBST([CARGO_FLAGS])
  PHP_SUBST([TICKER_PHP_CONFIG])
  PHP_SUBST([TICKER_WORKSPACE])
  dnl Without C sources no build directory is declared, and configure would run `mkdir` with none.
  PHP_ADD_BUILD_DIR([modules])
  PHP_ADD_MAKEFILE_FRAGMENT([$abs_srcdir/Makefile.frag])
fi
