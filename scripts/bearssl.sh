#!/bin/sh
# Builds BearSSL for a compiler that has no packaged BearSSL (musl-gcc, a
# cross compiler without multiarch libbearssl-dev) and prints the directory
# to give the Makefile as BEARSSL_DIR (inc/ and build/libbearssl.a).
#
#   scripts/bearssl.sh CC [TAG]
#
# The source is Debian's bearssl source package, fetched by
# scripts/debsrc.sh into the cache (the system's apt configuration is
# neither needed nor changed; root is not needed).  Everything lives outside the repository, in
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

# --- the source package (scripts/debsrc.sh) ----------------------------
dsc=$(ls "$cache"/src/bearssl_*.dsc 2>/dev/null | tail -n 1 || true)
if [ -z "$dsc" ]; then
	sh "$(dirname "$0")/debsrc.sh" bearssl || {
		say "build BearSSL (https://bearssl.org) for $cc yourself and set BEARSSL_DIR"
		exit 1
	}
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
