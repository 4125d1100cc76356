#!/bin/sh
# core/ never calls the OS: every undefined symbol of its objects must be a
# string or memory function (or a sanitizer hook).  Fails naming the culprit.
set -eu
allow='^(memcpy|memmove|memset|memcmp|memchr|strlen|strnlen|strcmp|strncmp|strchr|strrchr|strcpy|strncpy|strcat|strspn|strcspn|strstr|__stack_chk_fail|__assert_fail|_GLOBAL_OFFSET_TABLE_|__ubsan_.*|__asan_.*)$'
bad=0
for o in "$@"; do
	for sym in $(nm -u "$o" | awk '{print $2}'); do
		if ! echo "$sym" | grep -Eq "$allow"; then
			echo "check-layering: $o uses $sym (core/ may only use string and memory functions)" >&2
			bad=1
		fi
	done
done
[ "$bad" = 0 ] && echo "check-layering: core/ uses no OS call"
exit "$bad"
