#!/bin/sh
# Two rules for core/, checked on its objects:
#  1. core/ never calls the OS: every symbol its objects use must be defined
#     by core/ itself or be a string or memory function (or a sanitizer
#     hook).
#  2. No cycle between core/ objects: "a uses a symbol b defines" is an
#     edge a -> b, and that graph must have no cycle (two files that need
#     each other are one job badly cut, and cannot be tested apart).
# Fails naming each culprit and each cycle.  usage: check-layering.sh core/*.o
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

# "D object symbol" for each global definition, "U object symbol" for each
# use; awk joins them into edges and looks for a cycle by depth-first search.
for o in "$@"; do
	n=$(basename "$o" .o)
	$NM --defined-only -g "$o" | awk -v n="$n" 'NF >= 3 && $2 ~ /[TDBRCV]/ {print "D", n, $3}'
	$NM -u "$o" | awk -v n="$n" '{print "U", n, $2}'
done | awk '
	$1 == "D" { def[$3] = $2; next }
	{ use[NR] = $2; sym[NR] = $3 }
	function visit(v,    i, w, k, path) {
		state[v] = 1
		stack[++depth] = v
		for (i = 1; i <= nout[v]; i++) {
			w = out[v, i]
			if (state[w] == 1) {
				path = w; because = why[v, w]
				for (k = depth; stack[k] != w; k--) {
					path = stack[k] " -> " path
					because = why[stack[k - 1], stack[k]] ", " because
				}
				print "check-layering: cycle in core/: " w " -> " path \
				      " (" because ")" > "/dev/stderr"
				found = 1
			} else if (!state[w]) {
				visit(w)
			}
		}
		depth--
		state[v] = 2
	}
	END {
		for (i in use) {
			a = use[i]; b = def[sym[i]]
			if (b == "" || a == b || ((a, b) in why))
				continue
			why[a, b] = a " uses " sym[i]
			out[a, ++nout[a]] = b
			node[a] = node[b] = 1
		}
		for (v in node)
			if (!state[v])
				visit(v)
		exit found
	}' || bad=1
[ "$bad" = 0 ] && echo "check-layering: core/ makes no system call and has no cycle"
exit "$bad"
