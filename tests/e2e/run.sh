#!/bin/sh
# SPDX-License-Identifier: MIT
# `make check-e2e`: build vqboot's Debian package and a Debian 12 disk image
# with it (tests/e2e/build.py), then boot it (tests/e2e/test_debian.py).
# Needs root. Downloads are cached in $VQ_CACHE/e2e (default cache/e2e).
set -eu
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
	echo "error: make check-e2e needs root (mmdebstrap, chroot, dpkg -i in the image root)" >&2
	exit 1
fi
VQ_DEPS_EXTRA="mmdebstrap debhelper dpkg-dev lintian mtools fdisk dosfstools e2fsprogs util-linux" \
	sh scripts/deps.sh
start=$(date +%s)
nice /usr/bin/python3 tests/e2e/build.py build/e2e
nice /usr/bin/python3 -m pytest -c tests/e2e/pytest.ini -p no:cacheprovider -q -s tests/e2e "$@"
echo "e2e: $(( $(date +%s) - start )) s in all; steps in build/e2e/timings.json and boot-timings.txt"
