#!/bin/sh
# SPDX-License-Identifier: MIT
# `make run`: make the demo disk and boot it under QEMU with OVMF.
#   scripts/run.sh [none|gtk|sdl|vnc] [x86_64|aarch64]
#   (make run GUI=gtk; make run ARCH=aarch64: QEMU's virt machine, AAVMF)
# The serial console is this terminal: the menu answers the arrow keys,
# digits, Enter and 'e'. Ctrl-A X quits QEMU.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
gui=${1:-none}
arch=${2:-x86_64}
build=$top/build
case $arch in
x86_64) sfx= ;;
aarch64) sfx=-aa64 ;;
*) echo "run: ARCH=$arch: x86_64 or aarch64" >&2; exit 2 ;;
esac
disk=$build/demo-disk$sfx.img
vars=$build/demo-vars$sfx.fd
app=$build/vqboot.efi
[ "$arch" = aarch64 ] && app=$build/vqbootaa64.efi

if [ ! -e "$disk" ] || [ "$app" -nt "$disk" ] ||
	[ "$top/scripts/mkdisk.py" -nt "$disk" ]; then
	echo "run: making the demo disk $disk (Debian kernel from the package archive)"
	/usr/bin/python3 "$top/scripts/mkdisk.py" demo "$disk" "$arch"
fi

case $gui in
none) display="-display none" ;;
vnc) display="-display vnc=127.0.0.1:0" ;;
*) display="-display $gui" ;;
esac
if [ "$arch" = aarch64 ]; then
	cp --sparse=always /usr/share/AAVMF/AAVMF_VARS.fd "$vars"
	echo "run: booting AAVMF -> vqboot -> Linux (TCG, about 30 s); Ctrl-A X quits"
	# shellcheck disable=SC2086
	exec qemu-system-aarch64 -M virt -cpu cortex-a72 -accel tcg -m 1024 -nodefaults \
		-no-user-config $display -device virtio-gpu-pci,xres=1024,yres=768 \
		-serial mon:stdio \
		-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd \
		-drive if=pflash,format=raw,unit=1,file="$vars" \
		-drive if=none,id=disk0,format=raw,file="$disk" \
		-device virtio-blk-pci,drive=disk0,bootindex=1
fi
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"
echo "run: booting OVMF -> vqboot -> Linux (TCG, about 15 s); Ctrl-A X quits"
# shellcheck disable=SC2086
exec qemu-system-x86_64 -M q35 -accel tcg -m 1024 -nodefaults -no-user-config \
	$display -vga none -device virtio-gpu-pci,xres=1024,yres=768 \
	-serial mon:stdio \
	-drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
	-drive if=pflash,format=raw,unit=1,file="$vars" \
	-drive if=none,id=disk0,format=raw,file="$disk" \
	-device virtio-blk-pci,drive=disk0,bootindex=1
