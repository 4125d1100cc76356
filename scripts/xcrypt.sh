#!/bin/sh
# Builds crypt(3) for musl-gcc, whose Debian package has none, so that a
# static build with CONFIG_AUTH can check auth-users passwords, and prints
# the directory to give scripts/static.sh (include/crypt.h, lib/libcrypt.a).
#
#   scripts/xcrypt.sh CC
#
# The source is Debian's libxcrypt source package, fetched by
# scripts/debsrc.sh (a private deb-src index in the cache; the system's apt
# configuration is not changed), built with only
# the two hashes auth-users takes ($5$ sha256crypt, $6$ sha512crypt), no
# obsolete API, static only.  It needs autoconf, automake, libtool and perl
# (scripts/deps.sh static).  Cached in ${XDG_CACHE_HOME:-$HOME/.cache}/
# mailnook/xcrypt-musl; redone only when CC or XCRYPT_CFLAGS change.
set -eu
cc=${1:?usage: scripts/xcrypt.sh CC}
cflags=${XCRYPT_CFLAGS:--Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables}
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/mailnook
out=$cache/xcrypt-musl
say() { echo "xcrypt: $*" >&2; }

mkdir -p "$cache"
if command -v flock >/dev/null 2>&1 && [ -z "${MAILNOOK_XCRYPT_LOCKED:-}" ]; then
	MAILNOOK_XCRYPT_LOCKED=1 exec flock "$cache/.lock" sh "$0" "$cc"
fi

stamp="cc=$cc cflags=$cflags"
if [ -f "$out/lib/libcrypt.a" ] && [ "$(cat "$out/.mailnook-stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "$out"
	exit 0
fi
for tool in autoreconf libtoolize perl; do
	command -v "$tool" >/dev/null 2>&1 || { say "$tool not found (scripts/deps.sh static)"; exit 1; }
done

# --- the source package (scripts/debsrc.sh) ----------------------------
src=$(ls "$cache"/src/libxcrypt_*.orig.tar.* 2>/dev/null | tail -n 1 || true)
if [ -z "$src" ]; then
	sh "$(dirname "$0")/debsrc.sh" libxcrypt
	src=$(ls "$cache"/src/libxcrypt_*.orig.tar.* | tail -n 1)
fi

# --- build ----------------------------------------------------------------
rm -rf "$out" "$out.tmp"
mkdir -p "$out.tmp/src"
tar -xf "$src" -C "$out.tmp/src" --strip-components=1
say "building libcrypt.a (sha256crypt and sha512crypt only) with $cc (about a minute)"
jobs=$(nproc 2>/dev/null || echo 2)
if ! (cd "$out.tmp/src" && ./autogen.sh && ./configure CC="$cc" CFLAGS="$cflags" \
	--enable-hashes=sha256crypt,sha512crypt --disable-obsolete-api \
	--disable-shared --enable-static --disable-werror --prefix="$out" &&
	make -j"$jobs" && make install) \
	>"$out.tmp/build.log" 2>&1; then
	tail -n 20 "$out.tmp/build.log" >&2
	say "build failed (log: $out.tmp/build.log)"
	exit 1
fi
printf '%s\n' "$stamp" > "$out/.mailnook-stamp"
rm -rf "$out.tmp"
echo "$out"
