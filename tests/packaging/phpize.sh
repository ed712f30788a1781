#!/usr/bin/env bash
# The phpize build, as PIE, dh-php and the official Docker image run it, in a clean copy of the
# tree (the PIE package's, scripts/pie-tree.sh): `phpize && ./configure && make && make install`
# in ext/, installed under INSTALL_ROOT, then loaded by PHP from there. Also checks that
# configure refuses a ZTS PHP and, naming the Rust version needed, a machine without cargo, and
# that a second `make install` (as `sudo make install` after `make`) does not run cargo.
#
# cargo builds into the main build's target directory ($CARGO_TARGET_DIR, else target/), where a
# target directory of its own would cost a second full release build, minutes on a small CI
# machine. After `make build` (which gives ext-php-rs the same PHP_CONFIG and PHP) cargo finds
# everything built: it knows a workspace member by its path inside the workspace, and the copy
# keeps the files' times. The phpize commands themselves run unchanged, cargo included.
#   tests/packaging/phpize.sh      (from the repository root, after `make build`)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "phpize test: $*" >&2; exit 1; }

scripts/pie-tree.sh "$tmp/src"
cd "$tmp/src/ext"

phpize >"$tmp/phpize.log" 2>&1 || { cat "$tmp/phpize.log" >&2; fail "phpize failed"; }

# Without cargo (neither on PATH nor in ~/.cargo/bin), configure stops and says what to install.
no_cargo_path=
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
    [ -x "$d/cargo" ] || no_cargo_path=${no_cargo_path:+$no_cargo_path:}$d
done
if PATH=$no_cargo_path HOME=$tmp/home ./configure >"$tmp/configure-no-cargo.log" 2>&1; then
    fail "configure succeeded without cargo"
fi
grep -q 'cargo not found.*Rust 1.85 or later' "$tmp/configure-no-cargo.log" ||
    { tail -5 "$tmp/configure-no-cargo.log" >&2; fail "configure without cargo did not name the Rust needed"; }

# A thread-safe PHP is refused. No ZTS PHP is installed here: a php-config that is the real one
# but for --include-dir, whose main/php_config.h defines ZTS (what configure's check reads).
mkdir -p "$tmp/zts/main"
echo '#define ZTS 1' >"$tmp/zts/main/php_config.h"
printf '#!/bin/sh\nif [ "$1" = --include-dir ]; then echo %s; else exec %s "$@"; fi\n' \
    "$tmp/zts" "$(command -v php-config)" >"$tmp/zts/php-config"
chmod +x "$tmp/zts/php-config"
if ./configure --with-php-config="$tmp/zts/php-config" >"$tmp/configure-zts.log" 2>&1; then
    fail "configure accepted a ZTS PHP"
fi
grep -q 'ticker supports only a non-thread-safe (NTS) PHP' "$tmp/configure-zts.log" ||
    { tail -5 "$tmp/configure-zts.log" >&2; fail "configure on a ZTS PHP did not say it needs NTS"; }

./configure >"$tmp/configure.log" 2>&1 || { tail -30 "$tmp/configure.log" >&2; fail "configure failed"; }
if grep -n 'Error' "$tmp/configure.log" >&2; then fail "configure printed errors (above)"; fi
make -j"$(nproc)" >"$tmp/make.log" 2>&1 || { tail -40 "$tmp/make.log" >&2; fail "make failed"; }
[ -f modules/ticker.so ] || fail "make left no modules/ticker.so"
php_config=$(command -v php-config)
grep -qF "PHP_CONFIG=$php_config PHP=$($php_config --php-binary) " "$tmp/make.log" ||
    { cat "$tmp/make.log" >&2; fail "make did not give cargo PHP_CONFIG=$php_config and PHP as absolute paths"; }

make install INSTALL_ROOT="$tmp/root" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "make install failed"; }
ext_dir=$($php_config --extension-dir)
so=$tmp/root$ext_dir/ticker.so
[ -f "$so" ] || fail "make install INSTALL_ROOT=... put no $so"

# -n: the live php.ini may load an installed ticker already ("Module already loaded").
php -n -d extension="$so" --ri ticker >"$tmp/ri.log" 2>&1 ||
    { cat "$tmp/ri.log" >&2; fail "php --ri ticker failed on the installed module"; }
grep -q '^ticker' "$tmp/ri.log" || { cat "$tmp/ri.log" >&2; fail "php --ri ticker printed no ticker section"; }

# `sudo make install` after `make`: modules/ticker.so is up to date, cargo must not run.
make install INSTALL_ROOT="$tmp/root2" CARGO=false >"$tmp/install2.log" 2>&1 ||
    { cat "$tmp/install2.log" >&2; fail "a second make install tried to rebuild (cargo ran)"; }
cmp -s "$so" "$tmp/root2$ext_dir/ticker.so" || fail "the second make install installed another module"

echo "phpize test: phpize, configure, make, make install INSTALL_ROOT=... built and installed a loadable ticker.so"
