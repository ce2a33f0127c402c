# SPDX-License-Identifier: MIT
"""Helpers for vqboot-install's host tests: the installer loaded as a
module, disk images made with sfdisk and mtools (scripts/mkdisk.py), a fake
running system (mountinfo, sysfs, /dev, efivarfs) in a temporary directory.
"""
import hashlib
import importlib.machinery
import importlib.util
import os
import struct
import subprocess
import sys

import pytest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
INSTALLER = os.path.join(TOP, "installer", "vqboot-install")
VQBOOT = os.path.join(TOP, "build", "vqboot.efi")
EFI_GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
MTOOLS_ENV = dict(os.environ, MTOOLS_SKIP_CHECK="1")

sys.path.insert(0, os.path.join(TOP, "scripts"))
import mkdisk  # noqa: E402
from mkdisk import Part  # noqa: E402,F401


def load_installer():
    loader = importlib.machinery.SourceFileLoader("vqboot_install", INSTALLER)
    spec = importlib.util.spec_from_loader("vqboot_install", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


vi = load_installer()


def pytest_configure(config):
    if not os.path.exists(VQBOOT):
        raise pytest.UsageError(f"{VQBOOT} is missing: run `make` first")


def run(args, env=None, check=None):
    """Run the installer; returns (exit code, stdout + stderr)."""
    e = dict(os.environ)
    e.pop("VQBOOT_SYSROOT", None)
    e.update(env or {})
    r = subprocess.run(["/usr/bin/python3", INSTALLER] + list(args), env=e,
                       capture_output=True, text=True)
    out = r.stdout + r.stderr
    if check is not None:
        assert r.returncode == check, f"exit {r.returncode}, want {check}:\n{out}"
    return r.returncode, out


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def esp_read(image, rel, part=1):
    """A file of the image's ESP, through mtools; None if it is not there."""
    off = mkdisk_offset(image, part)
    r = subprocess.run(["mcopy", "-n", "-i", f"{image}@@{off}", f"::/{rel}", "-"],
                       capture_output=True, env=MTOOLS_ENV)
    return r.stdout if r.returncode == 0 else None


def mkdisk_offset(image, number):
    return vi.read_table(image).find(number).offset


def fsck_esp(image, part=1):
    """fsck.fat -n on the ESP (copied out): its output must be clean."""
    p = vi.read_table(image).find(part)
    fat = image + ".fsck"
    subprocess.run(["dd", f"if={image}", f"of={fat}", "bs=512", f"skip={p.first}",
                    f"count={p.last - p.first + 1}", "status=none"], check=True)
    r = subprocess.run(["fsck.fat", "-n", fat], capture_output=True, text=True)
    os.unlink(fat)
    assert r.returncode == 0, f"fsck.fat: {r.stdout}{r.stderr}"


def fake_pe(marker=b"", sbat=b""):
    """Bytes that look like an EFI program to the installer."""
    return b"MZ" + b"\0" * 126 + marker + b"\0" * 64 + sbat + b"\0" * 512


def load_option(desc, path=None):
    dp = b""
    if path:
        p = (path + "\0").encode("utf-16-le")
        dp += struct.pack("<BBH", 4, 4, 4 + len(p)) + p
    dp += struct.pack("<BBH", 0x7F, 0xFF, 4)
    return struct.pack("<IH", 1, len(dp)) + (desc + "\0").encode("utf-16-le") + dp


class FakeSystem:
    """A running system in a directory, for VQBOOT_SYSROOT: the ESP is a
    plain directory that mountinfo says is a vfat mount of /dev/vda1, sysfs
    names its disk and partition number, /dev/vda is a disk image with the
    GPT, and efivarfs is a directory of variable files."""

    def __init__(self, tmp, esp_at="boot/efi", esp_type="esp", fstype="vfat"):
        self.root = str(tmp / "sys-root")
        self.esp = os.path.join(self.root, esp_at)
        os.makedirs(self.esp)
        os.makedirs(os.path.join(self.root, "dev"))
        self.disk = os.path.join(self.root, "dev", "vda")
        mkdisk.build_disk(self.disk, [Part(esp_type, "fat32", 40), Part("linux", "raw", 2)])
        part = vi.read_table(self.disk).find(1)
        self.partuuid, self.first, self.size = part.uuid, part.first, part.last - part.first + 1
        blk = os.path.join(self.root, "sys/devices/virtual/block/vda/vda1")
        os.makedirs(blk)
        with open(os.path.join(blk, "partition"), "w") as f:
            f.write("1\n")
        os.makedirs(os.path.join(self.root, "sys/dev/block"))
        os.symlink(blk, os.path.join(self.root, "sys/dev/block/254:1"))
        os.makedirs(os.path.join(self.root, "proc/self"))
        with open(os.path.join(self.root, "proc/self/mountinfo"), "w") as f:
            f.write("21 1 254:2 / / rw,relatime shared:1 - ext4 /dev/vda2 rw\n")
            f.write(f"30 21 254:1 / {os.path.realpath(self.esp)} rw,relatime shared:9 - "
                    f"{fstype} /dev/vda1 rw,fmask=0077\n")
        self.efivars = os.path.join(self.root, "sys/firmware/efi/efivars")
        os.makedirs(self.efivars)
        for n, desc in enumerate(("UiApp", "UEFI Misc Device", "EFI Internal Shell")):
            self.set_var(f"Boot{n:04X}", load_option(desc))
        self.set_var("BootOrder", struct.pack("<3H", 0, 1, 2))
        self.env = {"VQBOOT_SYSROOT": self.root, "PATH": "/usr/bin:/bin"}

    def set_var(self, name, data):
        with open(os.path.join(self.efivars, f"{name}-{EFI_GLOBAL}"), "wb") as f:
            f.write(struct.pack("<I", 7) + data)

    def var(self, name):
        path = os.path.join(self.efivars, f"{name}-{EFI_GLOBAL}")
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            raw = f.read()
        assert raw[:4] == struct.pack("<I", 7), f"{name}: attributes {raw[:4].hex()}"
        return raw[4:]

    def boot_order(self):
        d = self.var("BootOrder")
        return list(struct.unpack(f"<{len(d) // 2}H", d))


@pytest.fixture
def fake_system(tmp_path):
    return FakeSystem(tmp_path)
