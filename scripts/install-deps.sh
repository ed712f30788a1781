#!/usr/bin/env bash
# Installs, with Debian's apt, only what this machine lacks to build and test ticker:
# PHP's CLI and headers (ext-php-rs runs php-config and bindgen), libclang (bindgen),
# PHPUnit and Composer (the PHP package's tests), and what the tests run besides: Python 3
# (a RoadRunner-style master, the soak), gcc and nm (the C library's test, a test's
# LD_PRELOAD library), redis-server (the cluster tests start their own on a free loopback
# port), and what the packaging tests need: phpize and autoconf (the phpize build) and
# systemd-analyze (the example unit). Rust itself must already be installed.
set -euo pipefail

missing=()
command -v php >/dev/null 2>&1 || missing+=(php-cli)
{ command -v php-config && command -v phpize; } >/dev/null 2>&1 || missing+=(php-dev)
dpkg-query -W -f='${Status}' libclang-dev 2>/dev/null | grep -q "ok installed" || missing+=(libclang-dev)
command -v phpunit >/dev/null 2>&1 || missing+=(phpunit)
command -v composer >/dev/null 2>&1 || missing+=(composer)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v nm >/dev/null 2>&1 || missing+=(binutils)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v autoconf >/dev/null 2>&1 || missing+=(autoconf)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
