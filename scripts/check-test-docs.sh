#!/bin/sh
# SPDX-License-Identifier: MIT
# Every QEMU test is named in the README's "What each QEMU test checks",
# and every test named there exists: the list cannot drift from the suite.
set -eu
cd "$(dirname "$0")/.."
tests=$(grep -ho '^def test_[a-z0-9_]*' tests/qemu/test_*.py | cut -c5- | sort -u)
listed=$(sed -n '/^### What each QEMU test checks/,/^## /p' README.md |
	grep -o '`test_[a-z0-9_]*`' | tr -d '`' | grep -v '\.py$' | sort -u)
missing=$(echo "$tests" | grep -vxF "$listed" || :)
stale=$(echo "$listed" | grep -vxF "$tests" || :)
[ -z "$missing" ] || echo "README: QEMU tests not described: $(echo $missing)" >&2
[ -z "$stale" ] || echo "README: described tests that do not exist: $(echo $stale)" >&2
[ -z "$missing" ] && [ -z "$stale" ]
