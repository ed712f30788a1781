#!/usr/bin/env bash
# Writes the tree of the PIE package ticker/ticker-ext into DEST: every file of the repository
# (tracked, or new and not ignored), with pie/composer.json as its root composer.json. The
# repository's own root composer.json is the Composer package of the PHP code (ticker/ticker),
# and a PIE package must be a repository of its own whose root composer.json has type php-ext;
# the extension's build needs the whole Rust workspace, so the PIE package is this whole tree
# under that other composer.json, published as a split repository (docs/packaging.md).
# tests/packaging/phpize.sh builds from this tree exactly as PIE does.
#   scripts/pie-tree.sh DEST
set -euo pipefail
dest=${1:?usage: scripts/pie-tree.sh DEST}
cd "$(dirname "$0")/.."
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -cf - -T - | tar -xf - -C "$dest"
cp pie/composer.json "$dest/composer.json"
rm -rf "$dest/pie"
