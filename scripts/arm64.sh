#!/bin/sh
# SPDX-License-Identifier: MIT
# The arm64 Debian packages vqboot's aarch64 build and tests use that cannot
# be installed beside their amd64 twins (same paths): each is fetched once
# with `apt-get download PKG:arm64` and unpacked into the cache
# (${VQ_CACHE:-cache}/NAME), and the unpacked root is printed.
#   arm64.sh gnu-efi    usr/include/efi, usr/lib/crt0-efi-aarch64.o ...
#   arm64.sh kernel     boot/vmlinuz-VERSION (an Image with an EFI stub), lib/modules
#   arm64.sh busybox    bin/busybox (static)
#   arm64.sh cmocka     usr/include/cmocka.h, usr/lib/aarch64-linux-gnu/libcmocka.so*
#                       (the host tests built for aarch64, make check-unit-aa64)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VQ_CACHE:-$top/cache}
[ "$(id -u)" = 0 ] && SUDO= || SUDO=sudo

# apt-get download of PKG:arm64 needs the architecture in dpkg's list and
# its package lists fetched (nothing arm64 gets installed).
apt_arm64() {
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		$SUDO dpkg --add-architecture arm64
		$SUDO apt-get update -qq
	elif ! apt-cache show "$1:arm64" >/dev/null 2>&1; then
		$SUDO apt-get update -qq
	fi
}

# fetch NAME PKG...: unpack each PKG:arm64 into $cache/NAME once.
fetch() {
	dir=$cache/$1
	shift
	if [ ! -e "$dir/.done" ]; then
		apt_arm64 "$1"
		rm -rf "$dir" && mkdir -p "$dir/deb"
		for pkg in "$@"; do
			if [ "$pkg" = linux-image-arm64 ]; then
				pkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
					awk '/Depends: linux-image/{sub(/:arm64$/, "", $2); print $2; exit}')
				[ -n "$pkg" ] || { echo "error: apt-cache knows no linux-image-arm64:arm64" >&2; exit 1; }
			fi
			(cd "$dir/deb" && apt-get download "$pkg:arm64" >/dev/null 2>&1) || {
				echo "error: apt-get download $pkg:arm64 failed (no network?)" >&2
				exit 1
			}
		done
		for deb in "$dir"/deb/*.deb; do dpkg-deb -x "$deb" "$dir"; done
		rm -rf "$dir/deb"
		touch "$dir/.done"
	fi
	echo "$dir"
}

mkdir -p "$cache"
case ${1:-} in
gnu-efi) fetch gnu-efi-arm64 gnu-efi ;;
kernel) fetch kernel-arm64 linux-image-arm64 ;;
busybox) fetch busybox-arm64 busybox-static ;;
cmocka) fetch cmocka-arm64 libcmocka0 libcmocka-dev ;;
*) sed -n '3,11s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
