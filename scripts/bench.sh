#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmarks under QEMU (TCG), one VM at a time:
#   sh scripts/bench.sh [ROUNDS] [GPU_BOOTS]   (defaults: 10 rounds, 5 GPU boots)
# vqdiag bench: firmware against vqboot on one virtio-blk device in one boot,
# every side of every round checked against the disk's known content, with
# the spread; vqdiag gpu: the same work per update on both sides. Writes the
# "vqdiag bench" section of bench/RESULTS.md and the README's table (with
# versions, the QEMU command line and the host's load beside them); exits 1
# when a row failed. Run it on a quiet machine (it is nice'd; others' load
# still moves the figures, and the load averages say how much there was).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rounds=${1:-10}
gpu_boots=${2:-5}
out=build/bench
mkdir -p "$out"
make --no-print-directory all
echo "bench: making the bench disk"
/usr/bin/python3 scripts/mkbench.py "$out/bench.img" | tee "$out/mkbench.txt"
echo "bench: vqdiag bench --rounds=$rounds, then vqdiag gpu ($gpu_boots boots)"
nice /usr/bin/python3 scripts/bench_report.py --disk "$out/bench.img" \
	--out bench/RESULTS.md --readme README.md --rounds "$rounds" \
	--gpu-boots "$gpu_boots" --frag "$out/mkbench.txt"
echo "bench: vqboot, systemd-boot and GRUB on one disk (scripts/bench-loaders.sh)"
sh scripts/bench-loaders.sh 5
