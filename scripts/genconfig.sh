#!/bin/sh
# Turns .config into config.h: every Kconfig option is always defined, as
# CFG_X 0/1 for bools and CFG_X N for ints, so C tests them with `if (CFG_X)`
# or `#if CFG_X` and -Wundef catches a typo.  Options missing from .config
# take their Kconfig default, so an old .config still builds.
# usage: genconfig.sh Kconfig .config > config.h
set -eu
kconfig=$1
dotconfig=$2
awk -v dot="$dotconfig" '
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
	print "/* generated from Kconfig and .config by scripts/genconfig.sh */"
	print "#ifndef MAILNOOK_CONFIG_H"
	print "#define MAILNOOK_CONFIG_H"
}
/^config / { name = $2; order[++n] = name; next }
/^[ \t]+(bool|int)/ { type[name] = $1; next }
/^[ \t]+default / { if (!(name in def)) def[name] = $2; next }
END {
	for (i = 1; i <= n; i++) {
		k = order[i]
		v = (k in val) ? val[k] : def[k]
		if (type[k] == "bool") v = (v == "y") ? 1 : 0
		else if (v !~ /^[0-9]+$/) { print "genconfig: CONFIG_" k ": bad value " v > "/dev/stderr"; exit 1 }
		printf "#define CFG_%s %s\n", k, v
	}
	print "#endif"
}' "$kconfig"
