#!/bin/sh
# `make size`: mailnook's footprint against its budgets.
#
# Builds the static musl binary (scripts/static.sh) for configs/defconfig
# and configs/tiny_defconfig into build/static-<config>/, then prints:
#   - the stripped size of each against its budget (192 KiB with TLS,
#     64 KiB without);
#   - memory (VmHWM, VmRSS, VmSize from /proc) at start-up and with
#     max-sessions clients each sending a 1 MB message at once, plain and,
#     when the build has TLS, over implicit TLS (budget: VmHWM under 1 MiB
#     with 16 TLS sessions in flight), each load run twice to show that
#     nothing grows;
#   - what the bytes are: by origin (mailnook, BearSSL, musl) and the
#     largest objects, from the link map.
# The summary line of each full run goes into bench/size-history.md (one
# row per commit; a second run on the same commit replaces its row).
#   SIZE_CONFIGS="defconfig tiny_defconfig"  which configs/ to measure
#   SIZE_MEM=0                                sizes only, no load
set -eu
cd "$(dirname "$0")/.."
configs=${SIZE_CONFIGS:-defconfig tiny_defconfig}
history=bench/size-history.md
report=build/size-report.txt
mkdir -p build
: > "$report.tmp"
out() { printf '%s\n' "$*" | tee -a "$report.tmp"; }
kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

rev=$(git describe --always --dirty 2>/dev/null || echo unknown)
musl=$(dpkg-query -W -f='${Version}' musl-dev 2>/dev/null || echo '?')
now=$(date -u '+%Y-%m-%d %H:%M')

# --- build each configuration -------------------------------------------
for c in $configs; do
	if ! KCONFIG_CONFIG=configs/$c STATIC_BUILD=build/static-$c sh scripts/static.sh \
		> "build/static-$c.log" 2>&1; then
		echo "size: static build of configs/$c failed:" >&2
		tail -n 15 "build/static-$c.log" >&2
		rm -f "build/static-$c/mailnook"
	fi
done

out "mailnook footprint, $now UTC, $rev, static musl $musl, $(uname -m)"
out ""
out "$(printf '  %-26s %9s %9s %9s  %s' 'stripped binary' bytes KiB budget result)"
row_sizes=
for c in $configs; do
	bin=build/static-$c/mailnook
	if grep -q '^CONFIG_TLS=y' "configs/$c"; then budget=192; what="$c (TLS)"; else budget=64; what="$c"; fi
	if [ ! -f "$bin" ]; then
		out "$(printf '  %-26s %9s %9s %9s  %s' "$what" - - "$budget KiB" 'build failed')"
		row_sizes="$row_sizes | -"
		continue
	fi
	b=$(wc -c < "$bin")
	if [ "$b" -lt $((budget * 1024)) ]; then
		res="met"
	else
		res="over by $(kib $((b - budget * 1024))) KiB"
	fi
	out "$(printf '  %-26s %9d %9s %9s  %s' "$what" "$b" "$(kib "$b")" "$budget KiB" "$res")"
	row_sizes="$row_sizes | $(kib "$b") KiB"
done

# --- memory -------------------------------------------------------------
row_mem=" | - | - | -"
if [ "${SIZE_MEM:-1}" != 0 ]; then
	for c in $configs; do
		bin=build/static-$c/mailnook
		[ -f "$bin" ] || continue
		python3 scripts/size_report.py mem "$bin" tls > "build/static-$c/mem.txt" 2>&1 ||
			echo "# load run failed" >> "build/static-$c/mem.txt"
	done
	out ""
	out "$(printf '  %-40s' 'memory, KiB: VmHWM (VmRSS, VmSize)')$(for c in $configs; do printf ' %-22s' "$c"; done)  budget"
	for key in startup plain plain-again tls tls-again; do
		case $key in
		startup) label="start-up" ;;
		plain) label="N sessions x 1 MB, plain" ;;
		plain-again) label="  the same again" ;;
		tls) label="N sessions x 1 MB, implicit TLS" ;;
		tls-again) label="  the same again" ;;
		esac
		line=$(printf '  %-40s' "$label")
		any=
		for c in $configs; do
			f=build/static-$c/mem.txt
			v=$(awk -v k="$key" '$1 == k { printf "%d (%d, %d)%s", $2, $3, $4, ($5 == "ok" ? "" : " " $5) }' "$f" 2>/dev/null || true)
			[ -n "$v" ] && any=y
			line="$line $(printf '%-22s' "${v:--}")"
		done
		budget=
		if [ "$key" = tls ]; then
			# VmHWM under 1 MiB with 16 TLS sessions in flight
			h=$(awk '$1 == "tls" { print $2 }' build/static-*/mem.txt 2>/dev/null | head -n 1)
			if [ -n "$h" ] && [ "$h" -lt 1024 ]; then
				budget="1024: met"
			elif [ -n "$h" ]; then
				budget="1024: over by $((h - 1024))"
			fi
		fi
		[ -n "$any" ] && out "$line  $budget"
	done
	line=$(printf '  %-40s' "sessions (N) / messages stored")
	for c in $configs; do
		f=build/static-$c/mem.txt
		v=$(awk '$1 == "sessions" { s = $2 } $1 == "stored" { m = $2 } END { if (s != "") printf "%s / %s", s, m }' "$f" 2>/dev/null || true)
		line="$line $(printf '%-22s' "${v:--}")"
	done
	out "$line"
	grep -h '^#' build/static-*/mem.txt 2>/dev/null | sed 's/^/  /' | tee -a "$report.tmp" || true
	f=build/static-defconfig/mem.txt
	if [ -f "$f" ]; then
		row_mem=$(awk '$1 == "startup" { s = $2 } $1 == "plain" { p = $2 } $1 == "tls" { t = $2 }
			END { printf " | %s | %s | %s", (s ? s : "-"), (p ? p : "-"), (t ? t : "-") }' "$f")
		# growth: the second load must leave VmRSS and VmSize where the first did
		awk '$1 ~ /^(plain|tls)(-again)?$/ { k = $1; sub(/-again$/, "", k); if ($1 ~ /again/) { if ($3 != r[k] || $4 != z[k]) g = g " " k } else { r[k] = $3; z[k] = $4 } }
			$1 == "startup" { z0 = $4 } $1 != "startup" && $4 ~ /^[0-9]+$/ && z0 != "" && $4 != z0 { v = 1 }
			END { if (g != "" || v) print "  memory GREW after load:" g (v ? " (VmSize changed)" : ""); else print "  after load: VmRSS and VmSize the same on a second run, VmSize as at start-up (no growth)" }' "$f" |
			tee -a "$report.tmp"
	fi
fi

# --- what the bytes are -------------------------------------------------
for c in $configs; do
	m=build/static-$c/mailnook.map
	[ -f "$m" ] || continue
	out ""
	out "  $c: what the bytes are (link map; allocated sections, .bss excluded)"
	python3 scripts/size_report.py map "$m" 12 | tee -a "$report.tmp"
	if [ -f "build/static-$c/mailnook.full" ]; then
		out "  $c: largest functions and tables (nm --size-sort; b/B/d are RAM)"
		nm --size-sort -S "build/static-$c/mailnook.full" | tail -n 12 |
			while read -r _ sz ty name; do
				printf '    %-32s %7d %s\n' "$name" "$((0x$sz))" "$ty"
			done | tee -a "$report.tmp"
		out "  $c: sections (size -A)"
		size -A "build/static-$c/mailnook.full" | awk '$1 ~ /^\./ && $1 !~ /^\.(debug|comment)/ && $2 > 0 { printf "    %-14s %8d\n", $1, $2 }' |
			tee -a "$report.tmp"
	fi
done
mv "$report.tmp" "$report"

# --- history ------------------------------------------------------------
# only a full run (both configurations, with the load) makes a row
if [ "$configs" != "defconfig tiny_defconfig" ] || [ "${SIZE_MEM:-1}" = 0 ]; then
	echo
	echo "size: report in $report (a partial run: $history left alone)"
	exit 0
fi
if [ ! -f "$history" ]; then
	cat > "$history" <<'EOF'
# mailnook footprint history

One row per commit, written by `make size` (scripts/size.sh): the stripped
static musl x86_64 binary for configs/defconfig (budget 192 KiB, with TLS)
and configs/tiny_defconfig (budget 64 KiB, no TLS), and the defconfig
binary's VmHWM in KiB at start-up and with max-sessions (16) clients each
sending a 1 MB message at once, plain and over TLS (budget 1024 KiB).

| date (UTC) | commit | defconfig | tiny | HWM start-up | HWM 16 plain | HWM 16 TLS |
| --- | --- | --- | --- | --- | --- | --- |
EOF
fi
row="| $now | $rev$row_sizes$row_mem |"
base=${rev%-dirty}
if tail -n 1 "$history" | grep -q "^| [^|]* | $base\(-dirty\)\{0,1\} |"; then
	sed -i '$d' "$history"
fi
printf '%s\n' "$row" >> "$history"
echo
echo "size: report in $report; history row in $history"
