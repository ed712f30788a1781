#!/usr/bin/env bash
# Packs the extension built by `make build` as a pre-built binary for PIE 1.4's
# "pre-packaged-binary" download method, for the PHP on PATH (or $PHP):
#   php_ticker-{version}_php{X.Y}-{arch}-linux-{glibc|musl}-nts.tgz
# holding ticker.so at its root. The name is what PIE looks for among a release's assets; the
# version is the Cargo workspace's, which the release tag must match. One archive per PHP minor,
# architecture and libc: a module is built against one PHP API.
#   scripts/pie-binary.sh [OUTDIR]      (default: the current directory; prints the archive's path)
set -euo pipefail
outdir=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
cd "$(dirname "$0")/.."
PHP=${PHP:-php}
CARGO=${CARGO:-cargo}
release=${CARGO_TARGET_DIR:-$(pwd)/target}/release
so=$release/libticker_php.so
[ -f "$so" ] || { echo "pie-binary: $so is missing: run \`make build\` first" >&2; exit 1; }

if [ "$($PHP -r 'echo PHP_ZTS;')" = 1 ]; then
    echo "pie-binary: $PHP is a thread-safe (ZTS) build; ticker supports only NTS" >&2
    exit 1
fi
php_minor=$($PHP -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')
case "$(uname -m)" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "pie-binary: no PIE architecture name for $(uname -m)" >&2; exit 1 ;;
esac
if ldd --version 2>&1 | grep -qi musl; then libc=musl; else libc=glibc; fi
version=$($CARGO metadata --format-version 1 --no-deps |
    $PHP -n -r 'foreach (json_decode(stream_get_contents(STDIN))->packages as $p) { if ($p->name === "ticker-php") { echo $p->version; } }')
[ -n "$version" ] || { echo "pie-binary: no version for the ticker-php crate in cargo metadata" >&2; exit 1; }

name=php_ticker-${version}_php${php_minor}-${arch}-linux-${libc}-nts.tgz
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$so" "$stage/ticker.so"
tar -czf "$outdir/$name" -C "$stage" ticker.so
echo "$outdir/$name"
