#!/bin/sh
# `make static`: a fully static mailnook linked against musl, for firmware.
#
#   STATIC_BUILD=build/static KCONFIG_CONFIG=.config sh scripts/static.sh
#
# Builds with musl-gcc (Debian's musl-tools; MUSL_CC names another musl
# compiler), -Oz and LTO, every function and object in its own section and
# --gc-sections at the link, so that only the parts of libc and BearSSL that
# mailnook calls end up in the binary.  With CONFIG_TLS=y, BearSSL comes from
# BEARSSL_DIR when set, else scripts/bearssl.sh builds it with the same
# compiler (cached outside the tree).  Writes STATIC_BUILD/mailnook
# (stripped, the one to ship), STATIC_BUILD/mailnook.full (with symbols,
# for `nm --size-sort`), STATIC_BUILD/mailnook.map (the link map, per
# file: without LTO, see below) and, with LTO, mailnook.lto.map (the
# shipped binary's own) and mailnook.nolto (the binary of mailnook.map).
# STATIC_CFLAGS and STATIC_LDFLAGS add flags.
set -eu
cd "$(dirname "$0")/.."
cc=${MUSL_CC:-musl-gcc}
config=${KCONFIG_CONFIG:-.config}
out=${STATIC_BUILD:-build/static}
make=${MAKE:-make}

if [ ! -f "$config" ]; then
	if [ "$config" = .config ]; then
		cp configs/defconfig .config
	else
		echo "static: no configuration $config" >&2
		exit 1
	fi
fi
if ! command -v "$cc" >/dev/null 2>&1; then
	if [ "$cc" = musl-gcc ]; then
		sh scripts/deps.sh static
	fi
	command -v "$cc" >/dev/null 2>&1 || { echo "static: $cc not found (Debian: musl-tools)" >&2; exit 1; }
fi
tls=
grep -q '^CONFIG_TLS=y' "$config" && tls=y

# musl-gcc searches only musl's own headers: give it uthash (header only)
# and nothing else from /usr/include.
mkdir -p "$out/include"
if ! echo '#include <uthash.h>' | "$cc" -E -x c - >/dev/null 2>&1; then
	uthash=${UTHASH_DIR:-/usr/include}/uthash.h
	[ -f "$uthash" ] || sh scripts/deps.sh build
	[ -f "$uthash" ] || { echo "static: $uthash not found (Debian: uthash-dev; or set UTHASH_DIR)" >&2; exit 1; }
	ln -sf "$uthash" "$out/include/uthash.h"
fi

# CONFIG_AUTH checks auth-users passwords with crypt(3).  Upstream musl has
# it; Debian's musl does not, and then the build has the AUTH dialogue and
# auth-any, and auth-users is a configuration error.  STATIC_XCRYPT=1 (or
# XCRYPT_DIR, one already built) links Debian's libxcrypt built for musl
# with only $5$ and $6$ (scripts/xcrypt.sh) instead: about 14 KiB, and it
# brings the C library's snprintf, so stdio too (about 12 KiB more).
crypt_lib=-lcrypt
crypt_cflags=
crypt_ldflags=
xcrypt=
if grep -q '^CONFIG_AUTH=y' "$config"; then
	# shellcheck disable=SC2086
	if ! echo '#include <crypt.h>' | "$cc" ${STATIC_CFLAGS:-} -E -x c - >/dev/null 2>&1; then
		xcrypt=${XCRYPT_DIR:-}
		if [ -z "$xcrypt" ] && [ "${STATIC_XCRYPT:-0}" = 1 ]; then
			xcrypt=$(sh scripts/xcrypt.sh "$cc") || xcrypt=
		fi
		if [ -n "$xcrypt" ] && [ -f "$xcrypt/include/crypt.h" ]; then
			crypt_cflags="-I$xcrypt/include"
			crypt_ldflags="-L$xcrypt/lib"
		else
			xcrypt=
			crypt_lib=
			echo "static: CONFIG_AUTH: $cc has no crypt(3), so this build cannot" \
				"check auth-users passwords (auth-users is a configuration error;" \
				"the AUTH dialogue and auth-any work; STATIC_XCRYPT=1 links libxcrypt)" >&2
		fi
	elif echo 'char crypt_r(void); int main(void) { return crypt_r(); }' |
		"$cc" -x c - -o /dev/null >/dev/null 2>&1; then
		crypt_lib=      # crypt_r in libc itself (upstream musl)
	fi
fi

bearssl=
if [ -n "$tls" ]; then
	bearssl=${BEARSSL_DIR:-}
	[ -n "$bearssl" ] || bearssl=$(sh scripts/bearssl.sh "$cc")
fi

# -Oz (GCC 12; -Os where the compiler has no -Oz): 1 KiB smaller than -Os
# on tiny_defconfig, and the DATA decoder is as fast (smtp_data_feed() on
# 1 MB bodies in 1 KiB reads, x86_64: 1.9-2.1 GB/s with either).
# Link-time optimisation (-flto): 1.1 KiB more on tiny_defconfig, as it
# inlines and drops across files; STATIC_LTO=0 leaves it out.  It blurs
# the link map (the code is in ltrans objects, not in the files it came
# from), so the objects are compiled "fat" (-ffat-lto-objects: the
# ordinary code too) and linked a second time without it, for
# mailnook.map: the per-file breakdown of `make size`, a little larger in
# total than the shipped binary, whose own map is mailnook.lto.map.
# A section per function and object, so that --gc-sections drops what
# nothing calls; no unwind tables (C needs none); no page-aligned gap
# between code and data (-z noseparate-code, a few KiB in a small binary),
# nor before the data for RELRO (-z norelro: musl applies no RELRO to a
# static binary that is not PIE, so that alignment would be padding only);
# no file padding to save a page of memory (-z common-page-size=64: ld
# otherwise pads the file up to a page before the data whenever that makes
# data+bss span one page fewer, so a few bytes more of bss could add up to
# 4 KiB to the binary; the data stays congruent with its file offset modulo
# the real page size, as the loader needs).
# Position-dependent code (-fno-pie, -no-pie): the binary is static and
# not PIE either way (ET_EXEC at a fixed address: musl-gcc -static makes
# no static-pie), so Debian's default -fPIE bought no address
# randomisation, only GOT-relative addressing: 1.2 KiB of tiny_defconfig,
# 2 KiB of defconfig.  No jump tables for switch (-fno-jump-tables):
# compare chains are smaller than the tables at -Os (0.6 KiB of tiny,
# 0.7 KiB of defconfig) and no switch of mailnook's is on a hot path.
opt=-Oz
echo 'int x;' | "$cc" -Oz -x c -c -o /dev/null - >/dev/null 2>&1 || opt=-Os
lto=
if [ "${STATIC_LTO:-1}" != 0 ] &&
	echo 'int main(void) { return 0; }' | "$cc" -flto -x c -o /dev/null - >/dev/null 2>&1; then
	lto="-flto -ffat-lto-objects"
fi
size_flags="$opt $lto -fno-pie -fno-jump-tables -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"
link_flags="-static -no-pie -Wl,--gc-sections -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,-z,common-page-size=64 -Wl,--build-id=none"
map=$out/mailnook.map
[ -z "$lto" ] || map=$out/mailnook.lto.map
# (no stale LTO map beside a map without LTO)
[ -n "$lto" ] || rm -f "$out/mailnook.lto.map" "$out/mailnook.nolto"
# shellcheck disable=SC2086
$make --no-print-directory CC="$cc" CROSS_COMPILE= KCONFIG_CONFIG="$config" BUILD="$out" \
	BIN="$out/mailnook.full" BEARSSL_DIR="$bearssl" CRYPT_LIB="$crypt_lib" \
	CFLAGS="$size_flags ${STATIC_CFLAGS:-}" CPPFLAGS="-I$out/include $crypt_cflags" \
	LDFLAGS="$link_flags -Wl,-Map=$map $crypt_ldflags ${STATIC_LDFLAGS:-}" \
	"$out/mailnook.full"
if [ -n "$lto" ]; then
	# the same objects without LTO, for the per-file map (binary unused)
	# shellcheck disable=SC2086
	$make --no-print-directory CC="$cc" CROSS_COMPILE= KCONFIG_CONFIG="$config" BUILD="$out" \
		BIN="$out/mailnook.nolto" BEARSSL_DIR="$bearssl" CRYPT_LIB="$crypt_lib" \
		CFLAGS="$size_flags ${STATIC_CFLAGS:-}" CPPFLAGS="-I$out/include $crypt_cflags" \
		LDFLAGS="$link_flags -Wl,-Map=$out/mailnook.map $crypt_ldflags ${STATIC_LDFLAGS:-} -fno-lto" \
		"$out/mailnook.nolto"
fi
# No stdio in the binary: the C library's printf family and its buffers
# are about 12 KiB here (core/fmt.h has mailnook's own).  Name what pulled
# it in, so a stray snprintf, printf or assert is caught at once.
stdio='libc\.a\((v?s?n?printf|v?fprintf|fwrite|f?puts|stdout|stderr|assert|inet_ntop)\.lo\)$'
pulled=$(for m in "$out/mailnook.map" ${lto:+"$map"}; do awk -v re="$stdio" '/^(Discarded input sections|Memory Configuration)/ { exit }
	hit && /^[ \t]/ { print; hit = 0; next }
	{ hit = 0 }
	$0 ~ re { print; hit = 1 }' "$m"; done)
if [ -n "$pulled" ] && [ -z "$xcrypt" ]; then
	echo "static: stdio linked (use fmt_into/log_stdout); members and who pulled them in:" >&2
	echo "$pulled" >&2
	exit 1
fi
strip=${STRIP:-strip}
"$strip" -s -R .comment -o "$out/mailnook" "$out/mailnook.full"

# No section headers either (as OpenWrt's sstrip): the kernel loads an ELF
# file by its program headers alone, so the section table and its names
# (about 1 KiB, after the last segment) are cut off and the header says
# there are none.  The binary runs as before; readelf -S, objdump and size
# need mailnook.full.  STATIC_SSTRIP=0 keeps them.
# u BYTES OFFSET: the unsigned integer there, in the file's byte order.
u() {
	od -A n -t u1 -j "$2" -N "$1" "$out/mailnook" | awk -v be="$be" '
		{ for (i = 1; i <= NF; i++) b[n++] = $i }
		END { v = 0; for (i = 0; i < n; i++) v = v * 256 + b[be ? i : n - 1 - i]; print v }'
}
byte() { od -A n -t u1 -j "$1" -N 1 "$out/mailnook" | tr -d ' '; }
if [ "${STATIC_SSTRIP:-1}" != 0 ] &&
	[ "$(od -A n -t x1 -N 4 "$out/mailnook" | tr -d ' ')" = 7f454c46 ]; then
	be=0
	[ "$(byte 5)" = 2 ] && be=1            # EI_DATA: ELFDATA2MSB
	if [ "$(byte 4)" = 2 ]; then            # EI_CLASS: ELFCLASS64
		# e_phoff, e_phentsize, e_phnum; e_shoff at 40 (32 for ELF32)
		phoff=$(u 8 32) phsz=$(u 2 54) phnum=$(u 2 56) w=8 shfields=40
	else
		phoff=$(u 4 28) phsz=$(u 2 42) phnum=$(u 2 44) w=4 shfields=32
	fi
	end=0 i=0
	while [ "$i" -lt "$phnum" ]; do
		ph=$((phoff + i * phsz))
		if [ $w = 8 ]; then o=$(u 8 $((ph + 8))) f=$(u 8 $((ph + 32)))
		else o=$(u 4 $((ph + 4))) f=$(u 4 $((ph + 16))); fi
		[ $((o + f)) -le "$end" ] || end=$((o + f))
		i=$((i + 1))
	done
	# the file up to the end of the last segment's bytes; then e_shoff
	# and (after e_flags, e_ehsize, e_phentsize, e_phnum) e_shentsize,
	# e_shnum and e_shstrndx all zero.  Checked on x86_64, and on
	# static armhf and mipsel binaries under qemu-user.
	dd if="$out/mailnook" of="$out/mailnook.tmp" bs="$end" count=1 2>/dev/null
	dd if=/dev/zero of="$out/mailnook.tmp" bs=1 seek=$((shfields)) count=$w conv=notrunc 2>/dev/null
	dd if=/dev/zero of="$out/mailnook.tmp" bs=1 seek=$((shfields + w + 4 + 6)) count=6 conv=notrunc 2>/dev/null
	chmod 755 "$out/mailnook.tmp"
	mv "$out/mailnook.tmp" "$out/mailnook"
fi
echo "static: $out/mailnook ($(wc -c < "$out/mailnook") bytes stripped; $config${tls:+, BearSSL from $bearssl}${crypt_ldflags:+, crypt(3) from ${crypt_ldflags#-L}})"
