#!/usr/bin/env bash
# examples/docker/Dockerfile cannot be built here (no Docker): this checks that it keeps the
# steps that tests/packaging/phpize.sh runs and tests, and the shape the official image wants:
# official php:*-cli stages, phpize/configure/make/make install in ext/, the extension
# directory copied into the final stage, docker-php-ext-enable ticker.
#   tests/packaging/dockerfile.sh      (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
file=examples/docker/Dockerfile
fail() { echo "dockerfile test: $file: $*" >&2; exit 1; }

grep -Eq '^ARG PHP_IMAGE=php:8\.[0-9]+-cli' "$file" || fail "the image is not an official php:8.x-cli one"
[ "$(grep -c '^FROM \${PHP_IMAGE}' "$file")" -eq 2 ] || fail "not two stages on the same image"
grep -q '^WORKDIR /src/ext$' "$file" || fail "the build does not run in ext/ (where config.m4 is)"
grep -Eq '^RUN phpize && \./configure( [^&]*)? && make( -j[^ ]*)? && make install$' "$file" ||
    fail "the build is not phpize && ./configure && make && make install"
grep -q '^COPY --from=build /usr/local/lib/php/extensions/ /usr/local/lib/php/extensions/$' "$file" ||
    fail "the final stage does not copy the extension directory"
grep -q '^RUN docker-php-ext-enable ticker' "$file" || fail "no docker-php-ext-enable ticker"
for f in $(sed -n 's|^COPY examples/\([^ ]*\) examples/\([^ ]*\) /app/$|examples/\1 examples/\2|p' "$file"); do
    [ -f "$f" ] || fail "copies $f, which does not exist"
done
# The same commands as the tested script.
grep -q '^phpize ' tests/packaging/phpize.sh && grep -q '^\./configure ' tests/packaging/phpize.sh &&
    grep -q '^make -j' tests/packaging/phpize.sh && grep -q '^make install INSTALL_ROOT=' tests/packaging/phpize.sh ||
    fail "tests/packaging/phpize.sh no longer runs phpize, configure, make, make install"
echo "dockerfile test: $file builds with the tested phpize steps"
