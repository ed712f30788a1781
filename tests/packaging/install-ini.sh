#!/usr/bin/env bash
# `make install-ini DESTDIR=...` stages everything under DESTDIR: the extension, the command, the
# C library and the ini file, and leaves the live PHP alone (no file written outside DESTDIR,
# phpenmod not run). Both of install-ini's ways are checked: phpenmod's mods-available (with a
# stand-in phpenmod that records being called) and PHP's scan directory (no phpenmod).
#   tests/packaging/install-ini.sh      (from the repository root, after `make build`)
set -euo pipefail
cd "$(dirname "$0")/../.."

PHP=${PHP:-php}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

php_version=$($PHP -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')
scan_dir=$($PHP -r 'echo PHP_CONFIG_FILE_SCAN_DIR;')
ext_dir=$($PHP -r 'echo ini_get("extension_dir");')
mods_available=/etc/php/$php_version/mods-available

# What a live install would touch: listed with sizes and times, before and after.
snapshot() {
    for dir in "$mods_available" "$scan_dir" "$ext_dir" /usr/local/bin /usr/local/lib /usr/local/include; do
        if [ -d "$dir" ]; then
            find "$dir" -maxdepth 1 -printf '%p %s %T@\n' | sort
        fi
    done
}

fake_phpenmod=$tmp/phpenmod
printf '#!/bin/sh\necho "$@" >> "%s/phpenmod-called"\n' "$tmp" > "$fake_phpenmod"
chmod +x "$fake_phpenmod"

fail() { echo "install-ini test: $*" >&2; exit 1; }

before=$(snapshot)

# mods-available, as on Debian (the directory must exist on the live system for that branch).
if [ -d "$mods_available" ]; then
    make --no-print-directory install-ini DESTDIR="$tmp/stage1" PHPENMOD="$fake_phpenmod" >"$tmp/out1" 2>&1 ||
        { cat "$tmp/out1" >&2; fail "make install-ini DESTDIR=... failed"; }
    grep -qx 'extension=ticker.so' "$tmp/stage1$mods_available/ticker.ini" ||
        fail "no staged $mods_available/ticker.ini under DESTDIR"
    [ -f "$tmp/stage1$ext_dir/ticker.so" ] || fail "no staged $ext_dir/ticker.so under DESTDIR"
    [ ! -e "$tmp/phpenmod-called" ] || fail "phpenmod ran with DESTDIR set: $(cat "$tmp/phpenmod-called")"
else
    echo "install-ini test: $mods_available does not exist here; only the scan-directory way is checked"
fi

# No phpenmod: the ini goes to the scan directory, staged.
make --no-print-directory install-ini DESTDIR="$tmp/stage2" PHPENMOD="$tmp/no-such-phpenmod" >"$tmp/out2" 2>&1 ||
    { cat "$tmp/out2" >&2; fail "make install-ini DESTDIR=... (no phpenmod) failed"; }
grep -qx 'extension=ticker.so' "$tmp/stage2$scan_dir/20-ticker.ini" ||
    fail "no staged $scan_dir/20-ticker.ini under DESTDIR"

# uninstall-ini with DESTDIR removes the staged ini files, and only those.
fake_phpdismod=$tmp/phpdismod
printf '#!/bin/sh\necho "$@" >> "%s/phpdismod-called"\n' "$tmp" > "$fake_phpdismod"
chmod +x "$fake_phpdismod"
for stage in stage1 stage2; do
    [ -d "$tmp/$stage" ] || continue
    make --no-print-directory uninstall-ini DESTDIR="$tmp/$stage" PHPDISMOD="$fake_phpdismod" >"$tmp/out-un" 2>&1 ||
        { cat "$tmp/out-un" >&2; fail "make uninstall-ini DESTDIR=... failed"; }
    [ ! -e "$tmp/$stage$mods_available/ticker.ini" ] && [ ! -e "$tmp/$stage$scan_dir/20-ticker.ini" ] ||
        fail "make uninstall-ini DESTDIR=... left a staged ini file in $tmp/$stage"
    [ -f "$tmp/$stage$ext_dir/ticker.so" ] || fail "make uninstall-ini DESTDIR=... removed the staged extension"
done
[ ! -e "$tmp/phpdismod-called" ] || fail "phpdismod ran with DESTDIR set: $(cat "$tmp/phpdismod-called")"

after=$(snapshot)
if [ "$before" != "$after" ]; then
    diff <(echo "$before") <(echo "$after") >&2 || true
    fail "make install-ini DESTDIR=... changed files outside DESTDIR (above)"
fi
echo "install-ini test: staged and unstaged under DESTDIR, the live configuration unchanged, phpenmod and phpdismod not run"
