#!/bin/sh
# Fetches a Debian source package into the build cache, for the libraries
# that scripts/bearssl.sh and scripts/xcrypt.sh build for compilers that
# have no packaged copy.
#
#   scripts/debsrc.sh PACKAGE
#
# `apt-get source --download-only` through a private deb-src list kept in
# ${XDG_CACHE_HOME:-$HOME/.cache}/mailnook/apt (the system's apt
# configuration is neither needed nor changed; root is not needed); the
# files land in .../mailnook/src.  The caller holds the cache's lock.
# Environment: MAILNOOK_DEBIAN_MIRROR, MAILNOOK_DEBIAN_SUITE (default: this
# system's).
set -eu
pkg=${1:?usage: scripts/debsrc.sh PACKAGE}
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/mailnook
say() { echo "$pkg: $*" >&2; }

command -v apt-get >/dev/null 2>&1 || { say "no apt-get here: fetch its source yourself"; exit 1; }
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
say "fetching Debian's $pkg source package ($suite, $mirror)"
apt-get -qq "$@" update >&2 || { say "apt-get update of the deb-src index failed"; exit 1; }
(cd "$cache/src" && apt-get -qq "$@" source --download-only "$pkg" >&2) ||
	{ say "apt-get source $pkg failed"; exit 1; }
# the index is 20 MB; a source package well under 1 MB
rm -rf "$apt/lists"
