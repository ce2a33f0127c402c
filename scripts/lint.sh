#!/bin/sh
# SPDX-License-Identifier: MIT
# `make lint`: cppcheck and clang-tidy (checks in .clang-tidy) over
#   lib/ boot/ virtio/ gfx/ in the host configuration (VQ_EFI undefined), and
#   efi/ apps/*/   in the EFI configuration (gnu-efi headers, VQ_EFI,
#                  GNU_EFI_USE_MS_ABI, -fshort-wchar).
# Every finding fails, except the false positives in the table below, each
# with the reason it is not a bug. An entry names the file, the check and the
# text of the flagged line (not its number: the files keep changing), so it
# suppresses that one finding and nothing else in the file.
# Environment: EFI_INC (gnu-efi headers), LINT_JOBS (parallel clang-tidy).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
for tool in cppcheck clang-tidy; do
	command -v "$tool" >/dev/null 2>&1 && continue
	echo "lint: $tool is not installed (Debian: apt-get install cppcheck clang-tidy)"
	exit 2
done
efi_inc=${EFI_INC:-/usr/include/efi}
jobs=${LINT_JOBS:-2}
out=build/lint
rm -rf "$out"
mkdir -p "$out/tidy"

# file|check|flagged line contains|why it is not a bug
suppressions='boot/bls.c|duplicateAssignExpression|char lo = *p, hi = *p;|a single character in a glob class is the range c-c: lo and hi both start at it on purpose
boot/bls.c|bugprone-sizeof-expression|v = plat_alloc(cap * sizeof(*v));|v is an array of entry pointers: sizeof(*v) is meant to be the size of a pointer
boot/bls.c|bugprone-sizeof-expression|memcpy(v, l->v, l->count * sizeof(*v));|as above: copying an array of pointers
boot/part.c|uninitvar|if (g->b[i])|the GUID passed in was filled by memcpy(type.b, ...) just before; cppcheck does not follow memcpy into an array member
boot/part.c|clang-analyzer-core.UndefinedBinaryOperatorResult|size_t bytes = (size_t)h->num_entries * h->entry_size;|the path has gpt_read_header return a positive value without filling the header; it returns 0 (after *ret = h) or a negative error: the analyzer did not follow gpt_check_fields (budget) and guessed its result
boot/fat.c|clang-analyzer-core.NonNullParamChecker|memcpy(grown, f->runs, sizeof(*grown) * f->nruns);|the path assumes a fresh fat_file has nruns != 0 and runs == NULL; plat_alloc returns zeroed memory (not visible to the analyzer: another file)
boot/fat.c|clang-analyzer-core.NullDereference|f->runs[f->nruns++] = (struct fat_run){ index, cluster, 1 };|as above: nruns of a fresh fat_file is 0, so the array is grown first
efi/bli.c|arrayIndexOutOfBoundsCond|for (; n < ARRAY_SIZE(buf) - 1 && value[n]; n++)|value is a NUL-terminated string: the loop stops at its NUL, so it never reads past a short literal
apps/vqdiag/diag_bench.c|uninitvar|b->res[side][t] = b->runs[idx[b->rounds / 2]][side][t];|idx[0..rounds-1] is filled just above and rounds is 1..BENCH_ROUNDS_MAX (the --rounds check refuses 0)
apps/vqdiag/diag_bench.c|clang-analyzer-core.uninitialized.ArraySubscript|b->res[side][t] = b->runs[idx[b->rounds / 2]][side][t];|as above: the analyzer does not know rounds >= 1'

host_flags="-std=gnu11 -I. -Ibuild/gen"
efi_flags="-std=gnu11 -ffreestanding -fshort-wchar -mno-red-zone -DVQ_EFI
 -DGNU_EFI_USE_MS_ABI -isystem $efi_inc -isystem $efi_inc/x86_64
 -isystem $efi_inc/protocol -I. -Ibuild/gen"
host_srcs=$(ls lib/*.c boot/*.c virtio/*.c gfx/*.c)
efi_srcs=$(ls efi/*.c apps/*/*.c)

# ---- cppcheck: findings as file|line|id|message ----------------------------
# Only the named configuration is checked (-D/-U given); cppcheck defines no
# compiler macros, so the EFI run names the ones gnu-efi's efibind.h tests.
cpp_common="--enable=warning,performance,portability --error-exitcode=1
 --std=c11 --inline-suppr -q --template={file}|{line}|{id}|{severity}:{message}"
# shellcheck disable=SC2086 # word lists
cppcheck $cpp_common -UVQ_EFI -D__x86_64__ -I. -Ibuild/gen \
	$host_srcs > "$out/cppcheck.host" 2>&1
rc_host=$?
# shellcheck disable=SC2086
cppcheck $cpp_common -DVQ_EFI -DGNU_EFI_USE_MS_ABI -D__x86_64__ \
	-D__GNUC__=12 -D__GNUC_MINOR__=2 -D__STDC_VERSION__=201112L \
	-I. -Ibuild/gen -I"$efi_inc" -I"$efi_inc/x86_64" -I"$efi_inc/protocol" \
	$efi_srcs > "$out/cppcheck.efi" 2>&1
rc_efi=$?
for rc in $rc_host $rc_efi; do
	if [ "$rc" -gt 1 ]; then
		echo "lint: cppcheck failed to run:"; cat "$out"/cppcheck.*
		exit 2
	fi
done
cat "$out/cppcheck.host" "$out/cppcheck.efi" | grep '|' > "$out/findings"

# ---- clang-tidy, LINT_JOBS files at a time ---------------------------------
run_tidy() { # $1 flags, then files on stdin; each file's output in its log
	xargs -P "$jobs" -I{} sh -c '
		log=$3/$(echo "$2" | tr / _)
		# shellcheck disable=SC2086 # $4 is a list of flags
		clang-tidy --quiet --header-filter="$1" "$2" -- $4 > "$log.log" 2>&1
		echo $? > "$log.rc"' sh "^$top/(boot|virtio|efi|apps)/" {} "$out/tidy" "$1"
}
echo "$host_srcs" | run_tidy "$host_flags"
echo "$efi_srcs" | run_tidy "$efi_flags"
for rc in "$out"/tidy/*.rc; do
	if [ "$(cat "$rc")" -ne 0 ]; then
		echo "lint: clang-tidy failed on $(basename "$rc" .rc):"
		cat "${rc%.rc}.log"
		exit 2
	fi
done
# "path:line:col: warning: message [check]" -> file|line|check|message
cat "$out"/tidy/*.log |
	sed -n "s#^$top/\([^:]*\):\([0-9]*\):[0-9]*: \(warning\|error\): \(.*\) \[\([^]]*\)\]\$#\1|\2|\5|\4#p" |
	sort -u >> "$out/findings"

# ---- drop the listed false positives, report the rest ----------------------
n=0 nsup=0
while IFS='|' read -r file line check msg; do
	text=$(sed -n "${line}p" "$file" 2>/dev/null)
	hit=$(printf '%s\n' "$suppressions" | while IFS='|' read -r sf sc st _why; do
		if [ "$sf" = "$file" ] && [ "$sc" = "$check" ]; then
			case $text in *"$st"*) echo yes; break ;; esac
		fi
	done)
	if [ -n "$hit" ]; then
		nsup=$((nsup + 1))
		continue
	fi
	n=$((n + 1))
	echo "$file:$line: [$check] $msg"
	echo "    $(echo "$text" | sed 's/^[[:space:]]*//')"
done < "$out/findings"
echo "lint: $n findings ($nsup known false positives suppressed); cppcheck and clang-tidy over $(echo $host_srcs $efi_srcs | wc -w) files"
[ "$n" -eq 0 ]
