# SPDX-License-Identifier: MIT
"""What the aarch64 boots need: the cross-built applications, Debian's arm64
kernel and a busybox initramfs made from Debian's arm64 busybox-static
(scripts/arm64.sh fetches both once into the cache), and a VM of QEMU's
virt machine with AAVMF."""
import os
import subprocess

from linux import CACHE, _locked
from vm import BUILD, TOP, VM

VQBOOT_AA64 = os.path.join(BUILD, "vqbootaa64.efi")
VQDIAG_AA64 = os.path.join(BUILD, "vqdiagaa64.efi")
# The virt machine's serial port is a PL011.
CONSOLE = "console=ttyAMA0 quiet panic=-1"


def binaries():
    for f in (VQBOOT_AA64, VQDIAG_AA64):
        assert os.path.exists(f), f"{f} is missing: run `make ARCH=aarch64`"
    return VQBOOT_AA64, VQDIAG_AA64


def _root(what):
    out = subprocess.run(["sh", os.path.join(TOP, "scripts", "arm64.sh"), what],
                         check=True, capture_output=True, text=True).stdout
    return out.strip()


@_locked
def kernel():
    """(path of Debian's arm64 vmlinuz, its version)."""
    boot = os.path.join(_root("kernel"), "boot")
    (name,) = [f for f in os.listdir(boot) if f.startswith("vmlinuz-")]
    return os.path.join(boot, name), name[len("vmlinuz-"):]


@_locked
def busybox_initrd():
    """The test initramfs (scripts/mkinitrd.sh test) with arm64 busybox
    and the arm64 kernel's virtio modules."""
    out = os.path.join(CACHE, "initrd-test-arm64.img")
    script = os.path.join(TOP, "scripts", "mkinitrd.sh")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(script):
        env = dict(os.environ, VQ_BUSYBOX=os.path.join(_root("busybox"), "bin", "busybox"))
        subprocess.run(["sh", script, out + ".tmp", _root("kernel"), "test"],
                       check=True, env=env)
        os.rename(out + ".tmp", out)
    return out


def vm(name, **kw):
    return VM(name, arch="aarch64", mem=kw.pop("mem", 1024), **kw)
