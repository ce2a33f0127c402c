#!/bin/sh
# SPDX-License-Identifier: MIT
# vqboot against systemd-boot and GRUB on one disk where only
# \EFI\BOOT\BOOTX64.EFI differs, under QEMU (TCG), one VM at a time:
#   sh scripts/bench-loaders.sh [BOOTS [--loader NAME=EFI]...]
# (default 5 boots per loader and initrd; --loader adds one, e.g. an older
# vqboot build to measure a change against)
# Writes the "loaders" section of bench/RESULTS.md and the README's table;
# exits 1 if any boot failed (a failed boot is a failed row, never a time).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
boots=${1:-5}
[ $# -gt 0 ] && shift
make --no-print-directory all
exec nice /usr/bin/python3 scripts/bench_loaders.py --boots "$boots" "$@"
