#!/usr/bin/env bash
# Runs a command while one busy loop per CPU holds the machine, then stops the loops,
# whatever the command's outcome, and exits with its status. `make test-loaded` runs
# `make test` this way: no test may depend on being scheduled within tens of milliseconds.
set -uo pipefail

loops=()
for _ in $(seq "$(nproc)"); do
    (while :; do :; done) &
    loops+=($!)
done
trap 'kill "${loops[@]}" 2>/dev/null' EXIT
echo "loaded.sh: ${#loops[@]} busy loops on $(nproc) CPUs while: $*" >&2
"$@"
