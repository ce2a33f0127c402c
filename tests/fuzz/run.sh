#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the libFuzzer targets built by `make fuzz-build` (build/fuzz/<name>).
#
#   run.sh fuzz SECONDS NAME...   fuzz each target for SECONDS into its corpus
#                                 build/fuzz/corpus/<name>; keep going after a
#                                 crash (up to FUZZ_MAX_CRASHES) until the time
#                                 is used; print executions, corpus, crashes.
#   run.sh smoke SECONDS NAME...  replay tests/fuzz/regress/<name>/* and the
#                                 seeds, then fuzz SECONDS from the seeds (the
#                                 corpus is not touched); fail on any crash.
#   run.sh long SECONDS NAME...   as fuzz, one target after the other, into a
#                                 corpus that outlives build/ and grows from
#                                 run to run: $FUZZ_CORPUS/<name> (default
#                                 $VQ_CACHE/fuzz-corpus, or cache/fuzz-corpus);
#                                 prints a table: executions, executions per
#                                 second, coverage (cov, ft), corpus growth,
#                                 crashes.
#
# Options per target: the case list below, or a line "fuzz-options: ..." in
# the target's source (a new target needs no edit here).
# Crash, leak, timeout and OOM inputs are kept in build/fuzz/crashes/<name>/;
# logs in build/fuzz/logs/. The last lines are one per target and a summary.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top" || exit 1
fz=build/fuzz
mode=${1:?usage: run.sh fuzz|smoke|long SECONDS NAME...}
secs=${2:?usage: run.sh fuzz|smoke|long SECONDS NAME...}
shift 2
max_crashes=${FUZZ_MAX_CRASHES:-5}

# Crash reports must stop the run; leaks count; no core files.
# A smaller quarantine than the default 256 MB: freed memory comes back
# sooner, so runs touch fewer fresh pages; a use after free still faults.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:disable_coredump=1:quarantine_size_mb=16}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

sh "$here/seeds.sh" "$fz/seeds" || exit 1
mkdir -p "$fz/logs"

# Per-target options: the input sizes the harnesses document.
opts_for() {
	case $1 in
	fuzz_bls) echo "-max_len=8192" ;;
	fuzz_pe) echo "-max_len=65536" ;;
	fuzz_uki | fuzz_btrfs) echo "-max_len=131072" ;;
	fuzz_grubenv) echo "-max_len=8192" ;;
	fuzz_ext4) echo "-max_len=262144" ;;
	fuzz_xfs) echo "-max_len=196608" ;;
	*) echo "-max_len=4096" ;;
	esac
}

# The options a target's source asks for, else opts_for's.
target_opts() {
	o=$(sed -n 's/.*fuzz-options: *//p' "tests/fuzz/$1.c" 2>/dev/null | head -1)
	if [ -n "$o" ]; then echo "$o"; else opts_for "$1"; fi
}

# The crash files in $1, one path a line.
crash_files() {
	find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null | sort
}

# Executions libFuzzer reported in log $1 (final stats, else the last status).
execs_in() {
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -1)
	[ -n "$n" ] || n=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$1" | tail -1)
	echo "${n:-0}"
}

# The stack summary of the first report in log $1, for the failure lines.
summary_in() {
	grep -m1 -E '^SUMMARY: |ERROR: libFuzzer|runtime error:' "$1" | cut -c1-160
}

pass=0 fail=0 lines=""
line() { lines="$lines$1
"; }

# long: the corpus home and the table.
long_corpus=${FUZZ_CORPUS:-${VQ_CACHE:-$top/cache}/fuzz-corpus}
total_runs=0 total_secs=0 total_cpu=0
if [ "$mode" = long ]; then
	line "$(printf '  %-14s %12s %9s %9s %7s %8s %15s %s' target executions exec/s \
		exec/cpu-s cov ft corpus crashes)"
fi

# CPU time (user + system, in ms) used so far by this shell's children:
# `times` runs in this shell (a command substitution would be a new process
# with no children), its output parsed from a file.
cpu_file=$fz/logs/.times
children_cpu_ms() {
	times > "$cpu_file"
	awk 'NR == 2 {
		n = split($0, f, /[ ms]+/); t = 0
		for (i = 1; i + 1 <= n; i += 2) t += f[i] * 60 + f[i + 1]
		printf "%d\n", t * 1000 }' "$cpu_file"
}

# long_row NAME RUNS SECONDS CPU_MS LOG FILES_BEFORE FILES_AFTER NCRASH NEWFILES
# Two rates: per second of wall time, and per second of CPU time, which is
# what one core does when the machine is shared.
long_row() {
	cov=$(grep -o 'cov: [0-9]*' "$5" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$5" | tail -1 | cut -d' ' -f2)
	rate=$(($2 / ($3 > 0 ? $3 : 1)))
	cpu_rate=$(($2 * 1000 / ($4 > 0 ? $4 : 1)))
	total_runs=$((total_runs + $2)) total_secs=$((total_secs + $3))
	total_cpu=$((total_cpu + $4))
	line "$(printf '  %-14s %12s %9s %9s %7s %8s %15s %s' "$1" "$2" "$rate" \
		"$cpu_rate" "${cov:-?}" "${ft:-?}" "$6 -> $7" "$8${9:+ $(echo $9)}")"
}

for name in "$@"; do
	bin=$fz/$name
	log=$fz/logs/$name.$mode.log
	crashes=$fz/crashes/$name
	seeds=$fz/seeds/$name
	mkdir -p "$crashes" "$seeds"
	: > "$log"
	if [ ! -x "$bin" ]; then
		fail=$((fail + 1))
		line "  FAIL    $name: $bin not built"
		continue
	fi
	# Replays run without -max_len: it would cut a longer reproducer short.
	replay="-timeout=10 -rss_limit_mb=2048 -artifact_prefix=$crashes/"
	# shellcheck disable=SC2046 # options are words
	set -- $(target_opts "$name") -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$crashes/"
	before=$(crash_files "$crashes")
	ok=1 why=""

	if [ "$mode" = smoke ]; then
		# Replays: each file through the target once (-runs=0: no fuzzing).
		nreg=0
		if [ -d "tests/fuzz/regress/$name" ]; then
			nreg=$(find "tests/fuzz/regress/$name" -type f | wc -l)
		fi
		if [ "$nreg" -gt 0 ] &&
		   ! "$bin" $replay -runs=0 "tests/fuzz/regress/$name"/* >> "$log" 2>&1; then
			ok=0 why="a regression input fails: $(summary_in "$log")"
		fi
		nseed=$(find "$seeds" -type f | wc -l)
		if [ "$ok" = 1 ] && [ "$nseed" -gt 0 ] &&
		   ! "$bin" $replay -runs=0 "$seeds"/* >> "$log" 2>&1; then
			ok=0 why="a seed fails: $(summary_in "$log")"
		fi
		runs=0
		if [ "$ok" = 1 ]; then
			tmp=$(mktemp -d)
			start=$(wc -l < "$log")
			if ! "$bin" "$@" -max_total_time="$secs" -close_fd_mask=3 \
			     "$tmp" "$seeds" >> "$log" 2>&1; then
				ok=0 why="$(summary_in "$log")"
			fi
			runs=$(tail -n +"$((start + 1))" "$log" > "$log.tail" &&
				execs_in "$log.tail")
			rm -rf "$tmp" "$log.tail"
		fi
		new=$(crash_files "$crashes" | grep -vxF "$before" || :)
		if [ "$ok" = 1 ]; then
			pass=$((pass + 1))
			line "  PASS    $name ($nreg regress, $nseed seeds replayed; $runs runs in ${secs}s)"
		else
			fail=$((fail + 1))
			echo "==== $name: $why; last lines of $log:"
			tail -30 "$log"
			line "  FAIL    $name: $why${new:+ (input: $(echo $new))}"
		fi
		continue
	fi

	# fuzz, long: keep fuzzing after a crash until the time is used up.
	corpus=$fz/corpus/$name
	[ "$mode" = long ] && corpus=$long_corpus/$name
	mkdir -p "$corpus"
	cp -n "$seeds"/* "$corpus"/ 2>/dev/null
	files0=$(find "$corpus" -type f | wc -l)
	children_cpu_ms > "$cpu_file.0"
	cpu0=$(cat "$cpu_file.0")
	t0=$(date +%s)
	end=$((t0 + secs))
	runs=0 ncrash=0
	while :; do
		left=$((end - $(date +%s)))
		[ "$left" -gt 0 ] || break
		: > "$log.run"
		"$bin" "$@" -max_total_time="$left" -close_fd_mask=3 "$corpus" \
			> "$log.run" 2>&1
		rc=$?
		cat "$log.run" >> "$log"
		runs=$((runs + $(execs_in "$log.run")))
		[ "$rc" -eq 0 ] && break
		ncrash=$((ncrash + 1))
		echo "  CRASH   $name: $(summary_in "$log.run")"
		[ "$ncrash" -lt "$max_crashes" ] || break
	done
	rm -f "$log.run"
	new=$(crash_files "$crashes" | grep -vxF "$before" || :)
	files=$(find "$corpus" -type f | wc -l)
	kib=$(du -sk "$corpus" | cut -f1)
	if [ "$mode" = long ]; then
		children_cpu_ms > "$cpu_file.0"
		long_row "$name" "$runs" $(($(date +%s) - t0)) \
			$(($(cat "$cpu_file.0") - cpu0)) "$log" "$files0" "$files" \
			"$ncrash" "$new"
		[ -z "$new" ] && [ "$ncrash" -eq 0 ] && pass=$((pass + 1)) ||
			fail=$((fail + 1))
		continue
	fi
	if [ -z "$new" ] && [ "$ncrash" -eq 0 ]; then
		pass=$((pass + 1))
		line "  $name: $runs executions, corpus $files files ($kib KiB), crashes: 0"
	else
		fail=$((fail + 1))
		line "  $name: $runs executions, corpus $files files ($kib KiB), crashes: $ncrash $(echo $new)"
	fi
done

printf '%s' "$lines"
if [ "$mode" = long ]; then
	echo "fuzz-long: $total_runs executions in ${total_secs}s ($((total_cpu / 1000)) s of CPU); corpus in $long_corpus"
fi
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
