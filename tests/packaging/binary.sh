#!/usr/bin/env bash
# The pre-built archive of scripts/pie-binary.sh: named as PIE 1.4 looks for it for this PHP,
# and, unpacked into an extension directory of its own as PIE installs it, loaded by name.
#   tests/packaging/binary.sh      (from the repository root, after `make build`)
set -euo pipefail
cd "$(dirname "$0")/../.."
PHP=${PHP:-php}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "binary test: $*" >&2; exit 1; }

archive=$(scripts/pie-binary.sh "$tmp/out")
name=$(basename "$archive")
php_minor=$($PHP -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')
[[ $name =~ ^php_ticker-[0-9]+\.[0-9]+\.[0-9]+[^_]*_php${php_minor//./\\.}-(x86_64|arm64)-linux-(glibc|musl)-nts\.tgz$ ]] ||
    fail "$name is not named as PIE looks for it (php_ticker-{version}_php$php_minor-{arch}-linux-{libc}-nts.tgz)"
[ "$(tar -tzf "$archive")" = ticker.so ] || fail "$name holds $(tar -tzf "$archive" | tr '\n' ' '), not just ticker.so"

mkdir "$tmp/unpacked" "$tmp/extensions"
tar -xzf "$archive" -C "$tmp/unpacked"
install -m 0755 "$tmp/unpacked/ticker.so" "$tmp/extensions/ticker.so"
$PHP -n -d extension_dir="$tmp/extensions" -d extension=ticker --ri ticker >"$tmp/ri.log" 2>&1 ||
    { cat "$tmp/ri.log" >&2; fail "php -d extension=ticker --ri ticker failed on the unpacked module"; }
grep -q '^ticker' "$tmp/ri.log" || { cat "$tmp/ri.log" >&2; fail "php --ri ticker printed no ticker section"; }
echo "binary test: $name loads from an extension directory of its own"
