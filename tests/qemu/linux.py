# SPDX-License-Identifier: MIT
"""Debian's kernel and test initramfs images for the boot tests, made once
per run into build/qemu-cache (shared by the parallel workers)."""
import fcntl
import hashlib
import os
import sys
import tempfile

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


STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"
OSREL_DEBIAN = ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
                'VERSION_ID="12"\nID=debian\n')


def uki(name, cmdline, osrel=OSREL_DEBIAN, initrds=None, uname=None):
    """A unified kernel image made as systemd-stub(7) says: objcopy of the
    stub with .osrel, .cmdline (None: none), .uname, Debian's kernel as
    .linux and the initrds (default: the test busybox one) as .initrd."""
    vmlinuz, kver = kernel()
    out = os.path.join(CACHE, f"uki-{name}.efi")
    work = out + ".parts"
    os.makedirs(work, exist_ok=True)
    parts = {"osrel": osrel.encode(), "uname": (uname or kver).encode()}
    if cmdline is not None:
        parts["cmdline"] = cmdline.encode()
    rd = b""
    for path in initrds or [busybox_initrd()]:
        with open(path, "rb") as f:
            data = f.read()
        rd += data + b"\0" * (-len(data) % 4)
    parts["initrd"] = rd
    for k, v in parts.items():
        with open(os.path.join(work, k), "wb") as f:
            f.write(v)
    vma = {"osrel": "0x20000", "cmdline": "0x30000", "uname": "0x50000",
           "initrd": "0x3000000"}
    cmd = ["objcopy"]
    for k in parts:
        cmd += ["--add-section", f".{k}={os.path.join(work, k)}",
                "--change-section-vma", f".{k}={vma[k]}"]
    cmd += ["--add-section", f".linux={vmlinuz}", "--change-section-vma", ".linux=0x2000000",
            STUB, out]
    mkdisk.run(cmd)
    return out


def grubenv(**values):
    """GRUB's environment block as grub-editenv writes it."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "grubenv")
        mkdisk.run(["grub-editenv", path, "create"])
        if values:
            mkdisk.run(["grub-editenv", path, "set"] + [f"{k}={v}" for k, v in values.items()])
        with open(path, "rb") as f:
            return f.read()


def entry(title, linux, initrds=(), options="", extra=""):
    lines = [f"title {title}", f"linux {linux}"]
    lines += [f"initrd {i}" for i in initrds]
    if options:
        lines.append(f"options {options}")
    return ("\n".join(lines) + "\n" + extra).encode()


# Serial console last so /dev/console is the line the tests read.
CONSOLE = "console=ttyS0 quiet panic=-1"
