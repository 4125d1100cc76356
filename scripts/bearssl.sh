#!/bin/sh
# Builds BearSSL for a compiler that has no packaged BearSSL (musl-gcc, a
# cross compiler without multiarch libbearssl-dev) and prints the directory
# to give the Makefile as BEARSSL_DIR (inc/ and build/libbearssl.a).
#
#   scripts/bearssl.sh CC [TAG]
#
# The source is Debian's bearssl source package, fetched with
# `apt-get source --download-only` through a private deb-src list kept in
# the cache (the system's apt configuration is neither needed nor changed;
# root is not needed).  Everything lives outside the repository, in
# ${XDG_CACHE_HOME:-$HOME/.cache}/mailnook/: src/ (the source package),
# apt/ (the private index) and bearssl-TAG/ (one build per compiler).  TAG is
# "musl" for musl-gcc, else the compiler's target triplet.  A build is
# redone only when CC or BEARSSL_CFLAGS change.
#
# Environment: BEARSSL_CFLAGS (default -Os -ffunction-sections
# -fdata-sections, so that --gc-sections keeps only what mailnook uses, and
# no unwind tables: C needs none, and they are 12 KiB of a static binary),
# MAILNOOK_DEBIAN_MIRROR, MAILNOOK_DEBIAN_SUITE (default: this system's).
set -eu
cc=${1:?usage: scripts/bearssl.sh CC [TAG]}
tag=${2:-}
if [ -z "$tag" ]; then
	case "$cc" in
	*musl-gcc) tag=musl ;;
	*) tag=$($cc -dumpmachine) || { echo "bearssl: $cc does not run" >&2; exit 1; } ;;
	esac
fi
cflags=${BEARSSL_CFLAGS:--Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables}
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/mailnook
out=$cache/bearssl-$tag
say() { echo "bearssl: $*" >&2; }

mkdir -p "$cache"
# One build at a time (prove -j2 may run two users of the cache at once).
if command -v flock >/dev/null 2>&1 && [ -z "${MAILNOOK_BEARSSL_LOCKED:-}" ]; then
	MAILNOOK_BEARSSL_LOCKED=1 exec flock "$cache/.lock" sh "$0" "$cc" "$tag"
fi

stamp="cc=$cc cflags=$cflags"
if [ -f "$out/build/libbearssl.a" ] && [ "$(cat "$out/.mailnook-stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "$out"
	exit 0
fi

# --- the source package -------------------------------------------------
fetch() {
	command -v apt-get >/dev/null 2>&1 || {
		say "no apt-get here: build BearSSL (https://bearssl.org) for $cc yourself and set BEARSSL_DIR"
		exit 1
	}
	mirror=${MAILNOOK_DEBIAN_MIRROR:-}
	if [ -z "$mirror" ]; then
		# the Debian mirror this system already uses (deb822 or one-line)
		mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
			sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\/*\)[[:space:]]*$/\1/p' | head -n 1)
		[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}\([^[:space:]]*\/debian\/*\)[[:space:]].*/\2/p' \
			/etc/apt/sources.list 2>/dev/null | head -n 1)
		[ -n "$mirror" ] || {
			say "no Debian mirror in /etc/apt/sources.list*: set MAILNOOK_DEBIAN_MIRROR to one"
			exit 1
		}
	fi
	suite=${MAILNOOK_DEBIAN_SUITE:-}
	if [ -z "$suite" ]; then
		suite=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release 2>/dev/null | tr -d '"')
		[ -n "$suite" ] || suite=bookworm
	fi
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	apt=$cache/apt
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$cache/src"
	echo "deb-src [signed-by=$keyring] $mirror $suite main" > "$apt/sources.list"
	set -- -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
		-o APT::Sandbox::User="$(id -un)" -o Debug::NoLocking=true
	say "fetching Debian's bearssl source package ($suite, $mirror)"
	apt-get -qq "$@" update >&2 || { say "apt-get update of the deb-src index failed"; exit 1; }
	(cd "$cache/src" && apt-get -qq "$@" source --download-only bearssl >&2) ||
		{ say "apt-get source bearssl failed"; exit 1; }
	# the index is 20 MB; the source is 0.5 MB
	rm -rf "$apt/lists"
}
dsc=$(ls "$cache"/src/bearssl_*.dsc 2>/dev/null | tail -n 1 || true)
if [ -z "$dsc" ]; then
	fetch
	dsc=$(ls "$cache"/src/bearssl_*.dsc | tail -n 1)
fi

# --- unpack and build ---------------------------------------------------
rm -rf "$out" "$out.tmp"
if command -v dpkg-source >/dev/null 2>&1; then
	dpkg-source --no-check --no-copy -x "$dsc" "$out.tmp" >/dev/null
else
	# dpkg-dev missing: the upstream tarball is enough (Debian's part holds
	# packaging only)
	mkdir -p "$out.tmp"
	tar -xf "$(ls "$cache"/src/bearssl_*.orig.tar.* | tail -n 1)" -C "$out.tmp" --strip-components=1
fi
case "$cc" in
*gcc) ar=${cc%gcc}ar ;;
*) ar="ar" ;;
esac
command -v "$ar" >/dev/null 2>&1 || ar="ar"
say "building libbearssl.a with $cc $cflags (about a minute)"
mkdir -p "$out.tmp/build/obj"
jobs=$(nproc 2>/dev/null || echo 2)
if ! make -C "$out.tmp" -j"$jobs" CC="$cc" AR="$ar" CFLAGS="-W -Wall $cflags" lib >"$out.tmp/build.log" 2>&1; then
	tail -n 20 "$out.tmp/build.log" >&2
	say "build failed (log: $out.tmp/build.log)"
	exit 1
fi
printf '%s\n' "$stamp" > "$out.tmp/.mailnook-stamp"
mv "$out.tmp" "$out"
echo "$out"
