#!/bin/sh
# SPDX-License-Identifier: MIT
# Disk benchmark: firmware versus vqboot in one boot, under QEMU (TCG).
#   sh scripts/bench.sh [ROUNDS]   (default 9 rounds in one boot; medians)
# Builds vqboot, makes the bench disk (scripts/mkbench.py) and the demo disk
# (scripts/mkdisk.py demo), runs `vqdiag bench --json` and vqboot at timeout
# 0, and writes bench/RESULTS.md and the README's Performance table.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rounds=${1:-9}
out=build/bench
mkdir -p "$out"
make --no-print-directory all
echo "bench: making the bench disk"
/usr/bin/python3 scripts/mkbench.py "$out/bench.img" | tee "$out/mkbench.txt"
if [ ! -e "$out/demo.img" ] || [ build/vqboot.efi -nt "$out/demo.img" ]; then
	echo "bench: making the demo disk"
	/usr/bin/python3 scripts/mkdisk.py demo "$out/demo.img"
	# Timeout 0: vqboot boots the default at once (the ESP starts at 1 MiB).
	printf 'timeout 0\ndefault debian*\n' > "$out/loader.conf"
	mcopy -o -i "$out/demo.img@@1M" "$out/loader.conf" ::/loader/loader.conf
fi
echo "bench: vqdiag bench --rounds=$rounds under QEMU, then vqboot at timeout 0"
/usr/bin/python3 scripts/bench_report.py --disk "$out/bench.img" \
	--demo "$out/demo.img" --out bench/RESULTS.md --readme README.md \
	--args="--rounds=$rounds" --frag "$out/mkbench.txt"
