#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the QEMU tests (two at a time: the machines have two cores).
# One test: sh tests/qemu/run.sh -k test_gpu
set -eu
cd "$(dirname "$0")/../.."
jobs=${VQ_TEST_JOBS:-2}
exec /usr/bin/python3 -m pytest -c tests/qemu/pytest.ini -p no:cacheprovider -n "$jobs" -q "$@"
