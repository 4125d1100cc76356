#!/bin/sh
# core/ never calls the OS: every symbol its objects use must be defined by
# core/ itself or be a string or memory function (or a sanitizer hook).
# Fails naming each culprit.  usage: check-layering.sh core/*.o
set -eu
NM=${NM:-nm}
allow='^(memcpy|memmove|memset|memcmp|memchr|strlen|strnlen|strcmp|strncmp|strchr|strrchr|strcpy|strncpy|strcat|strspn|strcspn|strstr|__stack_chk_fail|__assert_fail|_GLOBAL_OFFSET_TABLE_|__ubsan_.*|__asan_.*)$'
own=$($NM --defined-only "$@" | awk 'NF >= 3 {print $3}' | sort -u)
bad=0
for o in "$@"; do
	for sym in $($NM -u "$o" | awk '{print $2}'); do
		echo "$sym" | grep -Eq "$allow" && continue
		echo "$own" | grep -qx "$sym" && continue
		echo "check-layering: $o uses $sym (core/ may only use string and memory functions)" >&2
		bad=1
	done
done
[ "$bad" = 0 ] && echo "check-layering: core/ makes no system call"
exit "$bad"
