#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian packages vqboot needs to build, run and test, if any
# are missing. Called by `make run` and `make test`; safe to run again.
set -eu

pkgs="gcc make binutils gnu-efi ovmf qemu-system-x86 qemu-utils mtools fdisk
gdisk dosfstools e2fsprogs cpio gzip busybox-static console-setup-linux
libcmocka-dev pkg-config python3 python3-pytest python3-pytest-xdist
clang libclang-rt-14-dev netpbm cppcheck clang-tidy zstd python3-lzo
sbsigntool shim-unsigned openssl swtpm swtpm-tools
systemd-boot-efi grub-common grub-efi-amd64-bin
btrfs-progs xfsprogs
gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu qemu-system-arm qemu-efi-aarch64
libc6-dev-arm64-cross qemu-user-static"
[ "${VQ_DEPS_EXTRA:-}" ] && pkgs="$pkgs $VQ_DEPS_EXTRA"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# gnu-efi for arm64 is unpacked into the cache, not installed (arm64.sh).
arm64() { sh "$(dirname "$0")/arm64.sh" gnu-efi >/dev/null; }
[ -z "$missing" ] && { arm64; exit 0; }

echo "vqboot: installing missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "error: vqboot needs these Debian packages and is not running as root:" >&2
		echo "  apt-get install$missing" >&2
		exit 1
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update -qq; then
	echo "error: apt-get update failed (no network or no Debian mirror?)." >&2
	echo "Install by hand: apt-get install$missing" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
	echo "error: apt-get install failed for:$missing" >&2
	exit 1
fi
echo "vqboot: packages installed."
arm64
