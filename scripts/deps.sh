#!/bin/sh
# Installs the Debian packages mailnook needs, so that `make run` and
# `make test` work on a fresh machine.  As root it runs apt-get; otherwise it
# prints the exact apt-get line and fails.  Not Debian: says so and goes on.
#   scripts/deps.sh build   compiler-side needs (uthash, BearSSL with TLS)
#   scripts/deps.sh test    the above plus the test clients and cross tools
#                           (armhf and mipsel, with their BearSSL by multiarch)
#   scripts/deps.sh static  `make static`: musl-tools (BearSSL for musl is
#                           built from Debian's source by scripts/bearssl.sh)
#   scripts/deps.sh cross   `make test-cross`: armhf, arm64, mipsel and
#                           big-endian mips toolchains, qemu-user
set -eu
group=${1:-build}

# The configuration `make` will use: $KCONFIG_CONFIG or .config, or the
# defconfig .config is made from when there is none yet.
dotconfig=${KCONFIG_CONFIG:-.config}
[ -f "$dotconfig" ] || dotconfig=configs/defconfig
tls=
if grep -q '^CONFIG_TLS=y' "$dotconfig" 2>/dev/null; then
	tls=y
fi

pkgs="uthash-dev"
if [ -n "$tls" ]; then
	pkgs="$pkgs libbearssl-dev"
fi
# CONFIG_AUTH checks auth-users passwords with crypt(3), in glibc's
# libcrypt (and the cross tests link the armhf and mipsel ones)
auth=
if grep -q '^CONFIG_AUTH=y' "$dotconfig" 2>/dev/null; then
	auth=y
	pkgs="$pkgs libcrypt-dev"
fi
if [ "$group" = test ]; then
	# prove (perl), the real clients the integration tests drive (swaks
	# needs Net::SSLeay and IO::Socket::SSL for --tls; openssl makes the
	# test certificates), and the armhf cross compiler with qemu-user for
	# the cross test, which links the armhf BearSSL when TLS is on.
	pkgs="$pkgs perl python3 swaks curl mutt openssl libnet-ssleay-perl libio-socket-ssl-perl gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user"
	if [ -n "$tls" ]; then
		pkgs="$pkgs libbearssl-dev:armhf"
	fi
	# tests/integration/t50-cross.t also runs mipsel (MIPS, as in most
	# routers); t90-packaging.t lints the man pages with mandoc.
	pkgs="$pkgs gcc-mipsel-linux-gnu libc6-dev-mipsel-cross mandoc"
	if [ -n "$tls" ]; then
		pkgs="$pkgs libbearssl-dev:mipsel"
	fi
	# tests/integration/t34-auth.t: msmtp logs in with `auth on` (it
	# sends no password unless EHLO offers AUTH)
	pkgs="$pkgs msmtp"
	if [ -n "$auth" ]; then
		pkgs="$pkgs libcrypt-dev:armhf libcrypt-dev:mipsel"
	fi
	# tests/fuzz/t_fuzz.t and `make fuzz`: clang with libFuzzer
	pkgs="$pkgs clang libclang-rt-14-dev"
	# tests/integration/t32-dovecot.t: Dovecot's imap reads the Maildirs
	# back (W= as it counts it); the test runs it privately, never the service
	pkgs="$pkgs dovecot-imapd"
	# tests/integration/t31-exim.t: a real Exim relaying to mailnook (a
	# private instance with its own configuration and spool; the system
	# service this package sets up is not used)
	pkgs="$pkgs exim4-daemon-light"
fi
if [ "$group" = static ]; then
	pkgs="$pkgs musl-tools"
	# CONFIG_AUTH with STATIC_XCRYPT=1: scripts/xcrypt.sh builds
	# libxcrypt for musl
	if [ -n "$auth" ] && [ "${STATIC_XCRYPT:-0}" = 1 ]; then
		pkgs="$pkgs autoconf automake libtool perl"
	fi
fi
if [ "$group" = cross ]; then
	# big-endian mips has no Debian port: its BearSSL is built from source
	# (scripts/bearssl.sh), the others come by multiarch.
	pkgs="$pkgs qemu-user gcc-arm-linux-gnueabihf libc6-dev-armhf-cross gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-mipsel-linux-gnu libc6-dev-mipsel-cross gcc-mips-linux-gnu libc6-dev-mips-cross"
	if [ -n "$tls" ]; then
		pkgs="$pkgs libbearssl-dev:armhf libbearssl-dev:arm64 libbearssl-dev:mipsel"
	fi
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
	for p in $missing; do
		case "$p" in
		*:*) echo "  dpkg --add-architecture ${p#*:}" >&2 ;;
		esac
	done
	echo "  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
for p in $missing; do
	case "$p" in
	*:*)
		# multiarch: the target's BearSSL for a cross build
		if ! dpkg --print-foreign-architectures | grep -qx "${p#*:}"; then
			dpkg --add-architecture "${p#*:}"
		fi
		;;
	esac
done
# A mirror in mid-sync fails one index now and then; the install that
# follows says whether anything needed is really missing.
apt-get update -qq || echo "deps: apt-get update reported errors; installing anyway" >&2
# Exim and Dovecot are only run privately by the tests: their packages must
# not start system services on ports 25 and 143, so where no policy-rc.d
# says otherwise, one that refuses service starts is in place for the install.
policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 0755 "$policy"
fi
rc=0
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
[ -z "$policy" ] || rm -f "$policy"
[ "$rc" -eq 0 ] || exit "$rc"
