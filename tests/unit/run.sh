#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the host unit tests given as arguments (cmocka binaries). Test images
# are generated once into build/host/images by tests/unit/images/mk_*.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
images=${VQ_TEST_IMAGES:-$top/build/host/images}
export VQ_TEST_IMAGES="$images"
mkdir -p "$images"
for gen in "$here"/images/mk_*.sh; do
	[ -e "$gen" ] || continue
	stamp="$images/.$(basename "$gen").stamp"
	if [ ! -e "$stamp" ] || [ "$gen" -nt "$stamp" ]; then
		echo "  IMAGES  $(basename "$gen")"
		if ! sh "$gen" "$images" > "$images/$(basename "$gen").log" 2>&1; then
			echo "error: $gen failed; its log:"; cat "$images/$(basename "$gen").log"
			exit 1
		fi
		touch "$stamp"
	fi
done
# test_pe checks pe.c against Debian's real kernel too: fetch it first (the
# QEMU tests use the same cache), so that the case runs on a fresh clone.
if [ -z "${VQ_TEST_KERNEL:-}" ]; then
	kroot=$(sh "$top/scripts/kernel.sh") || { echo "error: cannot fetch the kernel test_pe needs"; exit 1; }
	for k in "$kroot"/boot/vmlinuz-*; do VQ_TEST_KERNEL=$k; done
	export VQ_TEST_KERNEL
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0 fail=0 failed="" cases=0
for t in "$@"; do
	name=$(basename "$t")
	# A skipped case is a failure: nothing here may quietly not run.
	if "$t" > "$images/../$name.log" 2>&1 &&
	   ! grep -q '^\[  SKIPPED \]' "$images/../$name.log"; then
		pass=$((pass + 1))
		n=$(grep -c '^\[       OK \]' "$images/../$name.log")
		cases=$((cases + n))
		echo "  PASS    $name ($n cases)"
	else
		fail=$((fail + 1)); failed="$failed $name"
		echo "  FAIL    $name (failed or skipped cases); its output:"
		cat "$images/../$name.log"
	fi
done
echo "unit: $pass binaries passed, $fail failed ($cases cases ok)"
[ "$fail" -eq 0 ]
