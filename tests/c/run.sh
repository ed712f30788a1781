#!/bin/sh
# The C library without PHP: checks target/release/libticker.so for PHP symbols and for exports
# other than the header's functions, builds tests/c/ticker_test.c with gcc against
# include/ticker.h (linked to libticker.so, and once statically to libticker.a) and runs it
# with an empty environment: nothing but target/release on the library path. Then the same for
# the example program examples/ffi/ticks.c.
#   tests/c/run.sh [LIBDIR]     (LIBDIR: default target/release)
set -eu
cd "$(dirname "$0")/../.."
libdir=$(cd "${1:-target/release}" && pwd)
lib="$libdir/libticker.so"
[ -f "$lib" ] || { echo "test-c: $lib is missing: run cargo build --release" >&2; exit 1; }

php_symbols=$(nm -D --undefined-only "$lib" | grep -E ' (_?zend_|_?php_|_?sapi_)' || true)
if [ -n "$php_symbols" ]; then
    echo "test-c: $lib needs PHP symbols:" >&2; echo "$php_symbols" >&2; exit 1
fi
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort)
declared=$(grep -oE '^[a-z].* \**(ticker_[a-z_]+)\(' include/ticker.h | grep -oE 'ticker_[a-z_]+\($' | tr -d '(' | sort)
if [ "$exported" != "$declared" ]; then
    echo "test-c: exported functions differ from include/ticker.h's:" >&2
    echo "exported: $exported" | tr '\n' ' ' >&2; echo >&2
    echo "declared: $declared" | tr '\n' ' ' >&2; echo >&2
    exit 1
fi
echo "test-c: $lib has no PHP symbols and exports exactly $(echo "$declared" | wc -l) functions of include/ticker.h"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags="-std=c11 -Wall -Wextra -Wpedantic -Wstrict-prototypes -Werror -O2 -Iinclude"
gcc $flags tests/c/ticker_test.c -L"$libdir" -lticker -lpthread -o "$tmp/ticker_test"
gcc $flags tests/c/ticker_test.c "$libdir/libticker.a" -lpthread -ldl -lm -o "$tmp/ticker_test_static"

env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$libdir" "$tmp/ticker_test"
env -i PATH=/usr/bin:/bin "$tmp/ticker_test_static" errors

# The example program docs/ffi.md points to.
gcc $flags examples/ffi/ticks.c -L"$libdir" -lticker -o "$tmp/ticks"
out=$(env -i PATH=/usr/bin:/bin LD_LIBRARY_PATH="$libdir" "$tmp/ticks" 10ms 3)
[ "$(echo "$out" | grep -c '^tick ')" = 3 ] || { echo "test-c: examples/ffi/ticks.c printed: $out" >&2; exit 1; }
if err=$(env -i LD_LIBRARY_PATH="$libdir" "$tmp/ticks" 5 2>&1); then
    echo "test-c: examples/ffi/ticks.c took the interval 5" >&2; exit 1
fi
case "$err" in *"without a unit"*) ;; *) echo "test-c: examples/ffi/ticks.c said: $err" >&2; exit 1;; esac
echo "test-c: examples/ffi/ticks.c runs"
