#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Disk images for vqboot's demo and tests, made without root.

A disk is a partition table (gpt, mbr or none) over partitions, each a
filesystem (fat12/16/32 with mtools, ext2/4 with mke2fs -d, btrfs with
mkfs.btrfs --rootdir, xfs with mkfs.xfs -p) filled with files. A compressed
btrfs, or one whose files sit in a default subvolume, is filled by the kernel
through a loop mount instead (that alone needs root). Used by `make run` (the demo disk) and by the QEMU tests:

    scripts/mkdisk.py demo OUT.img      # GPT: ESP with vqboot + XBOOTLDR ext4
    scripts/mkdisk.py demo OUT.img aarch64   # the same for arm64 (BOOTAA64.EFI)
"""
import os
import shutil
import subprocess
import sys
import tempfile

ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
XBOOTLDR = "BC13C2FF-59E6-4262-A352-B275FD6F7172"
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
MBR_TYPES = {"esp": "ef", "xbootldr": "ea", "linux": "83", "fat16": "6", "fat32": "c"}
GPT_TYPES = {"esp": ESP, "xbootldr": XBOOTLDR, "linux": LINUX}
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL if cmd[0] == "dd" else None, **kw)


class Part:
    """kind: esp/xbootldr/linux; fs: fat12/fat16/fat32/ext2/ext4/btrfs/xfs/
    raw. files maps an absolute path to a source file path or to bytes;
    symlinks maps a path to its target (ext, btrfs and xfs); mkfs_opts are
    extra options for mkfs.xfs (xfsprogs 6.1 makes nothing under 300 MB)."""

    def __init__(self, kind, fs, size_mb, files=None, symlinks=None, label=None,
                 patch=None, compress=None, subvol=None, mkfs_opts=()):
        self.kind, self.fs, self.size_mb = kind, fs, size_mb
        self.mkfs_opts = list(mkfs_opts)
        self.files = files or {}
        self.symlinks = symlinks or {}
        self.label = label
        # patch(fs_image_path): called on the filesystem image before it is
        # written into the disk (tests damage filesystems this way).
        self.patch = patch
        # btrfs: compress-force=ALG for every file (zlib, lzo, zstd); the
        # files in subvolume SUBVOL, made the default.
        self.compress, self.subvol = compress, subvol


def _stage(tmp, files, symlinks):
    root = os.path.join(tmp, "root")
    os.makedirs(root, exist_ok=True)
    for dest, src in files.items():
        path = os.path.join(root, dest.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(src, (bytes, bytearray)):
            with open(path, "wb") as f:
                f.write(src)
        else:
            shutil.copyfile(src, path)
    for dest, target in symlinks.items():
        path = os.path.join(root, dest.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)
    return root


def _xfs_proto(path, depth):
    """mkfs.xfs(8) protofile lines for the directory @path."""
    lines, ind = [], "\t" * depth
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.islink(full):
            lines.append(f"{ind}{name} l--777 0 0 {os.readlink(full)}")
        elif os.path.isdir(full):
            lines += [f"{ind}{name} d--755 0 0"] + _xfs_proto(full, depth + 1)
            lines.append(f"{ind}$")
        else:
            lines.append(f"{ind}{name} ---644 0 0 {full}")
    return lines


def make_fs(part, path, sector_size):
    size = part.size_mb << 20
    with tempfile.TemporaryDirectory() as tmp:
        root = _stage(tmp, part.files, part.symlinks)
        run(["truncate", "-s", str(size), path])
        if part.fs.startswith("fat"):
            bits = part.fs[3:]
            run(["mkfs.fat", "-F", bits, "-S", str(sector_size),
                 "-n", part.label or "VQBOOT", path])
            for dirpath, dirnames, filenames in os.walk(root):
                rel = os.path.relpath(dirpath, root)
                for d in sorted(dirnames):
                    run(["mmd", "-i", path, "::/" + os.path.join(rel, d).lstrip("./")])
                for f in sorted(filenames):
                    dest = "::/" + os.path.normpath(os.path.join(rel, f))
                    run(["mcopy", "-i", path, os.path.join(dirpath, f), dest])
        elif part.fs.startswith("ext"):
            run(["mke2fs", "-q", "-F", "-t", part.fs, "-b", "4096", "-d", root,
                 "-L", part.label or "vqboot", path])
        elif part.fs == "btrfs":
            _make_btrfs(part, path, root, tmp)
        elif part.fs == "xfs":
            proto = os.path.join(tmp, "proto")
            with open(proto, "w") as f:
                f.write("/dev/null\n0 0\nd--755 0 0\n" +
                        "".join(l + "\n" for l in _xfs_proto(root, 1)) + "$\n")
            run(["mkfs.xfs", "-q", "-f", "-L", part.label or "vqboot",
                 "-s", f"size={sector_size}", *part.mkfs_opts, "-p", proto, path])
        elif part.fs != "raw":
            raise ValueError(f"unknown filesystem {part.fs}")


def _make_btrfs(part, path, root, tmp):
    # Mixed block groups let a small volume hold both data and metadata.
    mkfs = ["mkfs.btrfs", "-q", "-f", "-L", part.label or "vqboot"] + \
        (["-M"] if part.size_mb < 128 else [])
    if not part.compress and not part.subvol:
        run(mkfs + ["--rootdir", root, path])
        return
    run(mkfs + [path])
    mnt = os.path.join(tmp, "mnt")
    os.makedirs(mnt)
    opts = "loop" + (f",compress-force={part.compress}" if part.compress else "")
    run(["mount", "-o", opts, path, mnt])
    try:
        dest = mnt
        if part.subvol:
            dest = os.path.join(mnt, part.subvol)
            run(["btrfs", "-q", "subvolume", "create", dest])
        run(["cp", "-a", root + "/.", dest + "/"])
        if part.subvol:
            out = subprocess.run(["btrfs", "subvolume", "list", mnt], check=True,
                                 capture_output=True, text=True).stdout
            (sid,) = [ln.split()[1] for ln in out.splitlines()
                      if ln.split()[-1] == part.subvol]
            run(["btrfs", "subvolume", "set-default", sid, mnt])
    finally:
        run(["umount", mnt])


def _fdisk_large_sectors(path, parts, offsets, table, sector_size):
    """sfdisk 2.38 cannot write a table with other than 512-byte sectors
    into a file; fdisk -b can, driven by its prompts."""
    keys = ["g" if table == "gpt" else "o"]
    for i, p in enumerate(parts, 1):
        start = offsets[i] // sector_size
        keys += ["n"] + ([] if table == "gpt" else ["p"]) + \
                [str(i), str(start), str(start + (p.size_mb << 20) // sector_size - 1)]
    for i, p in enumerate(parts, 1):
        ptype = GPT_TYPES.get(p.kind, LINUX) if table == "gpt" else \
            MBR_TYPES.get(p.kind, "83")
        keys += ["t"] + ([str(i)] if len(parts) > 1 else []) + [ptype]
    keys.append("w")
    subprocess.run(["fdisk", "-b", str(sector_size), path],
                   input="\n".join(keys) + "\n", text=True, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def build_disk(path, parts, table="gpt", sector_size=512, extra_mb=1):
    """Write the disk image; returns {partition number: byte offset}."""
    align = 1 << 20
    offsets, off = {}, align
    for i, p in enumerate(parts, 1):
        offsets[i] = off
        off += p.size_mb << 20
    total = off + (extra_mb << 20)
    if table == "none":
        make_fs(parts[0], path, sector_size)
        return {1: 0}
    run(["truncate", "-s", "0", path])
    run(["truncate", "-s", str(total), path])
    lines = [f"label: {'gpt' if table == 'gpt' else 'dos'}",
             f"sector-size: {sector_size}"]
    for i, p in enumerate(parts, 1):
        start = offsets[i] // sector_size
        size = (p.size_mb << 20) // sector_size
        ptype = GPT_TYPES.get(p.kind, LINUX) if table == "gpt" else \
            MBR_TYPES.get(p.kind, MBR_TYPES.get(p.fs, "83"))
        lines.append(f"start={start}, size={size}, type={ptype}")
    if sector_size == 512:
        subprocess.run(["sfdisk", "--no-reread", "--no-tell-kernel", "-q", path],
                       input="\n".join(lines) + "\n", text=True, check=True,
                       stdout=subprocess.DEVNULL)
    else:
        _fdisk_large_sectors(path, parts, offsets, table, sector_size)
    with tempfile.TemporaryDirectory() as tmp:
        for i, p in enumerate(parts, 1):
            fs_img = os.path.join(tmp, f"p{i}.img")
            make_fs(p, fs_img, sector_size)
            if p.patch:
                p.patch(fs_img)
            if p.fs != "raw":
                run(["dd", f"if={fs_img}", f"of={path}", "bs=1M",
                     f"seek={offsets[i] >> 20}", "conv=notrunc,sparse"])
    return offsets


def kernel_root(arch="x86_64"):
    cmd = ["sh", os.path.join(TOP, "scripts", "kernel.sh")] if arch == "x86_64" else \
        ["sh", os.path.join(TOP, "scripts", "arm64.sh"), "kernel"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return out.strip()


def kernel_path(kroot):
    boot = os.path.join(kroot, "boot")
    (name,) = [f for f in os.listdir(boot) if f.startswith("vmlinuz-")]
    return os.path.join(boot, name), name[len("vmlinuz-"):]


def initrd(out, kroot, mode):
    run(["sh", os.path.join(TOP, "scripts", "mkinitrd.sh"), out, kroot, mode])
    return out


def demo(out, arch="x86_64"):
    """The `make run` disk: an ESP with vqboot and loader.conf, and an ext4
    XBOOTLDR partition with Debian's kernel, an initramfs and the entry."""
    kroot = kernel_root(arch)
    vmlinuz, kver = kernel_path(kroot)
    build = os.path.join(TOP, "build")
    aa64 = arch == "aarch64"
    if aa64:
        bb = subprocess.run(["sh", os.path.join(TOP, "scripts", "arm64.sh"), "busybox"],
                            check=True, capture_output=True, text=True).stdout.strip()
        os.environ["VQ_BUSYBOX"] = os.path.join(bb, "bin", "busybox")
    rd = initrd(os.path.join(build, "demo-initrd-aa64.img" if aa64 else "demo-initrd.img"),
                kroot, "demo")
    serial = "ttyAMA0" if aa64 else "ttyS0"  # the virt machine's PL011
    entry = (f"title      Debian GNU/Linux (kernel {kver}) via vqboot\n"
             f"version    {kver}\n"
             f"sort-key   debian\n"
             f"linux      /vmlinuz-{kver}\n"
             f"initrd     /initrd-demo.img\n"
             f"options    console=tty0 console={serial} quiet\n")
    rescue = ("title      Debian GNU/Linux, verbose kernel messages\n"
              f"version    {kver}\n"
              "sort-key   debian-verbose\n"
              f"linux      /vmlinuz-{kver}\n"
              "initrd     /initrd-demo.img\n"
              f"options    console=tty0 console={serial} loglevel=7\n")
    esp = Part("esp", "fat32", 64, files={
        f"/EFI/BOOT/BOOT{'AA64' if aa64 else 'X64'}.EFI":
            os.path.join(build, "vqbootaa64.efi" if aa64 else "vqboot.efi"),
        "/EFI/vqboot/vqdiag.efi": os.path.join(build, "vqdiagaa64.efi" if aa64 else "vqdiag.efi"),
        "/loader/loader.conf": b"timeout 5\ndefault debian*\neditor yes\n",
    }, label="ESP")
    xbl = Part("xbootldr", "ext4", 80 if aa64 else 48, files={
        f"/vmlinuz-{kver}": vmlinuz,
        "/initrd-demo.img": rd,
        f"/loader/entries/debian-{kver}.conf": entry.encode(),
        f"/loader/entries/debian-{kver}-verbose.conf": rescue.encode(),
    }, label="xbootldr")
    build_disk(out, [esp, xbl])


if __name__ == "__main__":
    if len(sys.argv) in (3, 4) and sys.argv[1] == "demo":
        demo(*sys.argv[2:])
    else:
        sys.exit(__doc__)
