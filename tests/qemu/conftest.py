# SPDX-License-Identifier: MIT
"""Shared fixtures for the QEMU tests: built binaries and a tools disk."""
import json
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from vm import BUILD, TOP, VM, sha256  # noqa: E402

VQDIAG = os.path.join(BUILD, "vqdiag.efi")
VQBOOT = os.path.join(BUILD, "vqboot.efi")


def pytest_configure(config):
    for f in (VQDIAG, VQBOOT):
        if not os.path.exists(f):
            raise pytest.UsageError(f"{f} is missing: run `make` first")


@pytest.fixture
def vm_name(request):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)


def parse_json_report(log, vm):
    """The JSON document vqdiag printed between its markers."""
    m = re.search(r"=== vqdiag json begin ===\n(.*?)\n=== vqdiag json end ===",
                  log, re.S)
    assert m, f"no vqdiag JSON in the serial log {vm.log_path}"
    try:
        return json.loads(m.group(1))
    except ValueError as e:
        raise AssertionError(f"bad JSON from vqdiag ({e}); log {vm.log_path}")


TAG = os.path.join(os.path.dirname(__file__), "vqtools.tag")


def tools_cd():
    """Shell lines that change to whichever FSn: is the tools disk (the
    virtio disks may be mapped before it)."""
    lines = []
    for i in range(8):
        lines += [f"if exist fs{i}:\\vqtools.tag then", f"  fs{i}:", "endif"]
    return lines


def run_vqdiag(name, args, timeout=90, after=(), **vmargs):
    """Boot the firmware shell, run vqdiag with `args`, then the shell
    lines `after`, power off."""
    startup = tools_cd() + [f"vqdiag.efi {args}"] + list(after) + \
        ["echo VQ-SHELL-END", "reset -s"]
    vm = VM(name, tools={"vqdiag.efi": VQDIAG, "vqtools.tag": TAG},
            startup=startup, **vmargs)
    with vm:
        log = vm.run(until=r"VQ-SHELL-END" if after else r"vqdiag: \S+ done",
                     timeout=timeout)
    assert not vm.timed_out, f"vqdiag did not finish in {timeout}s; log {vm.log_path}"
    return vm, log


class Disk:
    """A scratch disk image whose bytes must be the same after the boot."""

    def __init__(self, path, spec=None):
        self.path = path
        self.spec = spec or path  # what QEMU opens (e.g. blkdebug:CFG:PATH)
        self.before = sha256(path)

    def assert_unchanged(self):
        assert sha256(self.path) == self.before, f"{self.path} was modified"
