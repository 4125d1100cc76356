#!/bin/sh
# Installs the Debian packages mailnook needs, so that `make run` and
# `make test` work on a fresh machine.  As root it runs apt-get; otherwise it
# prints the exact apt-get line and fails.  Not Debian: says so and goes on.
#   scripts/deps.sh build   compiler-side needs (uthash, BearSSL with TLS)
#   scripts/deps.sh test    the above plus the test clients and cross tools
set -eu
group=${1:-build}

pkgs="uthash-dev"
if grep -q '^CONFIG_TLS=y' .config 2>/dev/null; then
	pkgs="$pkgs libbearssl-dev"
fi
if [ "$group" = test ]; then
	# prove (perl), the real clients the integration tests drive, and the
	# armhf cross compiler with qemu-user for the cross test.
	pkgs="$pkgs perl python3 swaks curl mutt gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user"
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: not a Debian system; make sure these are installed: $pkgs" >&2
	exit 0
fi

missing=
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages; as root run:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
