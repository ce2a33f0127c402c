#!/bin/sh
# SPDX-License-Identifier: MIT
# Fetches Debian's current linux-image-amd64 kernel package once (cached in
# cache/kernel) and prints the directory it was unpacked into: it holds
# boot/vmlinuz-VERSION and lib/modules/VERSION.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${VQ_CACHE:-$top/cache}/kernel
mkdir -p "$cache"
if [ ! -e "$cache/root/.done" ]; then
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image/{print $2; exit}')
	if [ -z "$pkg" ]; then
		echo "error: apt-cache knows no linux-image-amd64; run apt-get update" >&2
		exit 1
	fi
	(cd "$cache" && rm -f ./*.deb && apt-get download "$pkg" >/dev/null 2>&1) || {
		echo "error: apt-get download $pkg failed (no network?)" >&2
		exit 1
	}
	rm -rf "$cache/root"
	dpkg-deb -x "$cache"/*.deb "$cache/root"
	touch "$cache/root/.done"
fi
echo "$cache/root"
