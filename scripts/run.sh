#!/bin/sh
# SPDX-License-Identifier: MIT
# `make run`: make the demo disk and boot it under QEMU with OVMF.
#   scripts/run.sh [none|gtk|sdl|vnc]   (make run GUI=gtk)
# The serial console is this terminal: the menu answers the arrow keys,
# digits, Enter and 'e'. Ctrl-A X quits QEMU.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
gui=${1:-none}
build=$top/build
disk=$build/demo-disk.img
vars=$build/demo-vars.fd

if [ ! -e "$disk" ] || [ "$build/vqboot.efi" -nt "$disk" ] ||
	[ "$top/scripts/mkdisk.py" -nt "$disk" ]; then
	echo "run: making the demo disk $disk (Debian kernel from the package archive)"
	/usr/bin/python3 "$top/scripts/mkdisk.py" demo "$disk"
fi
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"

case $gui in
none) display="-display none" ;;
vnc) display="-display vnc=127.0.0.1:0" ;;
*) display="-display $gui" ;;
esac
echo "run: booting OVMF -> vqboot -> Linux (TCG, about 15 s); Ctrl-A X quits"
# shellcheck disable=SC2086
exec qemu-system-x86_64 -M q35 -accel tcg -m 1024 -nodefaults -no-user-config \
	$display -vga none -device virtio-gpu-pci,xres=1024,yres=768 \
	-serial mon:stdio \
	-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
	-drive if=pflash,format=raw,unit=1,file="$vars" \
	-drive if=none,id=disk0,format=raw,file="$disk" \
	-device virtio-blk-pci,drive=disk0,bootindex=1
