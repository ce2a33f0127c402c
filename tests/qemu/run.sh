#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the QEMU tests (two at a time: the machines have two cores).
# One test: sh tests/qemu/run.sh -k test_gpu
set -eu
cd "$(dirname "$0")/../.."
jobs=${VQ_TEST_JOBS:-2}
# Collect tests/qemu only (tests/installer and tests/e2e are suites of their
# own), unless the arguments name test files.
where=tests/qemu
for a in "$@"; do
	case $a in *.py | *.py::* | tests/*) where= ;; esac
done
# shellcheck disable=SC2086
exec /usr/bin/python3 -m pytest -c tests/qemu/pytest.ini -p no:cacheprovider -n "$jobs" -q --durations=25 $where "$@"
