#!/bin/sh
# Turns .config into config.h: every Kconfig option is always defined, as
# CFG_X 0/1 for bools and CFG_X N for ints, so C tests them with `if (CFG_X)`
# or `#if CFG_X` and -Wundef catches a typo.  Options missing from .config
# take their Kconfig default, so an old .config still builds.  An int
# outside its Kconfig `range` (or not a number) fails with nothing on stdout,
# so the Makefile never moves a partial config.h into place.
# usage: genconfig.sh Kconfig .config > config.h
set -eu
kconfig=$1
dotconfig=$2
awk -v dot="$dotconfig" -v kc="$kconfig" '
BEGIN {
	while ((getline line < dot) > 0) {
		if (line ~ /^CONFIG_[A-Z0-9_]+=/) {
			k = line; sub(/=.*/, "", k); sub(/^CONFIG_/, "", k)
			v = line; sub(/^[^=]*=/, "", v); gsub(/"/, "", v)
			val[k] = v
		} else if (line ~ /^# CONFIG_[A-Z0-9_]+ is not set/) {
			k = line; sub(/^# CONFIG_/, "", k); sub(/ is not set.*/, "", k)
			val[k] = "n"
		}
	}
}
/^config / { name = $2; order[++n] = name; next }
/^[ \t]+(bool|int)/ { type[name] = $1; next }
/^[ \t]+default / { if (!(name in def)) def[name] = $2; next }
/^[ \t]+range / { lo[name] = $2; hi[name] = $3; next }
END {
	out = "/* generated from Kconfig and .config by scripts/genconfig.sh */\n" \
	    "#ifndef MAILNOOK_CONFIG_H\n#define MAILNOOK_CONFIG_H\n"
	for (i = 1; i <= n; i++) {
		k = order[i]
		v = (k in val) ? val[k] : def[k]
		src = (k in val) ? dot : kc
		if (type[k] == "bool") v = (v == "y") ? 1 : 0
		else if (v !~ /^-?[0-9]+$/) {
			printf "%s: CONFIG_%s=%s is not a number (int in %s)\n", src, k, v, kc > "/dev/stderr"
			bad = 1
		} else if ((k in lo) && (v + 0 < lo[k] + 0 || v + 0 > hi[k] + 0)) {
			printf "%s: CONFIG_%s=%s is outside its range %s..%s (%s)\n", src, k, v, lo[k], hi[k], kc > "/dev/stderr"
			bad = 1
		} else v += 0	# 0016 would be octal in C
		out = out sprintf("#define CFG_%s %s\n", k, v)
	}
	if (bad) exit 1
	printf "%s#endif\n", out
}' "$kconfig"
