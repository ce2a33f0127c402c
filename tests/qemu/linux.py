# SPDX-License-Identifier: MIT
"""Debian's kernel and test initramfs images for the boot tests, made once
per run into build/qemu-cache (shared by the parallel workers)."""
import fcntl
import hashlib
import os
import sys

from vm import BUILD, TOP

sys.path.insert(0, os.path.join(TOP, "scripts"))
import mkdisk  # noqa: E402

CACHE = os.path.join(BUILD, "qemu-cache")


def _locked(fn):
    """Run fn once across pytest-xdist workers (a file lock)."""
    def wrapper(*a):
        os.makedirs(CACHE, exist_ok=True)
        with open(os.path.join(CACHE, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return fn(*a)
    return wrapper


@_locked
def kernel():
    """(path of vmlinuz, version)."""
    return mkdisk.kernel_path(mkdisk.kernel_root())


@_locked
def busybox_initrd():
    out = os.path.join(CACHE, "initrd-test.img")
    script = os.path.join(TOP, "scripts", "mkinitrd.sh")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(script):
        mkdisk.initrd(out + ".tmp", mkdisk.kernel_root(), "test")
        os.rename(out + ".tmp", out)
    return out


@_locked
def extra_initrd(name, content):
    """A second initrd adding /vq-initrd-NAME.txt; returns (path, md5 of
    the file as the test initramfs prints it)."""
    out = os.path.join(CACHE, f"initrd-extra-{name}.img")
    if not os.path.exists(out):
        mkdisk.run(["sh", os.path.join(TOP, "scripts", "mkinitrd.sh"), out, "-",
                    "extra", name, content])
    return out, hashlib.md5((content + "\n").encode()).hexdigest()


def entry(title, linux, initrds=(), options="", extra=""):
    lines = [f"title {title}", f"linux {linux}"]
    lines += [f"initrd {i}" for i in initrds]
    if options:
        lines.append(f"options {options}")
    return ("\n".join(lines) + "\n" + extra).encode()


# Serial console last so /dev/console is the line the tests read.
CONSOLE = "console=ttyS0 quiet panic=-1"
