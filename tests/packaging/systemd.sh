#!/usr/bin/env bash
# examples/systemd/ticker-app.service: `systemd-analyze verify` finds nothing to say about it
# (it only warns, exit 0, on a bad value, so any output fails), and it has what a ticker master
# needs: a working directory or TICKER_CONFIG (else the master looks for /.rr.yaml), SIGTERM to
# the master alone, a stop timeout longer than destroy_timeout's default, a restart policy, and
# SIGHUP as reload.
#   tests/packaging/systemd.sh      (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
unit=examples/systemd/ticker-app.service
fail() { echo "systemd test: $*" >&2; exit 1; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd test: SKIPPED: systemd-analyze is not installed (Debian: apt-get install systemd)"
    exit 0
fi

out=$(systemd-analyze verify "$unit" 2>&1) || { echo "$out" >&2; fail "systemd-analyze verify $unit failed"; }
[ -z "$out" ] || { echo "$out" >&2; fail "systemd-analyze verify $unit complained (above)"; }

key() { sed -n "s/^$1=//p" "$unit" | tail -1; }
[ -n "$(key WorkingDirectory)" ] || grep -q '^Environment=.*TICKER_CONFIG=' "$unit" ||
    fail "neither WorkingDirectory= nor TICKER_CONFIG: the master would look for /.rr.yaml"
[ "$(key KillSignal)" = SIGTERM ] || fail "KillSignal= is not SIGTERM"
[ "$(key KillMode)" = mixed ] || fail "KillMode= is not mixed: the workers would get SIGTERM with the master"
[[ $(key ExecReload) =~ kill\ -HUP\ \$MAINPID$ ]] || fail "ExecReload= does not send SIGHUP to \$MAINPID"
[ -n "$(key Restart)" ] && [ "$(key Restart)" != no ] || fail "no Restart= policy"
stop_us=$(systemd-analyze timespan "$(key TimeoutStopSec)" | sed -n 's/^ *μs: *//p')
[ -n "$stop_us" ] && [ "$stop_us" -gt 60000000 ] ||
    fail "TimeoutStopSec=$(key TimeoutStopSec) is not longer than pool.destroy_timeout's default (60s)"
echo "systemd test: $unit verified"
