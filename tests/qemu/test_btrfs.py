# SPDX-License-Identifier: MIT
"""vqboot boots Debian's kernel from a btrfs XBOOTLDR partition.

The partition is filled by the kernel through a loop mount (root), as
openSUSE and Fedora lay theirs out: every file in subvolume @, made the
default; once without compression, once with compress-force=zstd. For zstd
the initrds are uncompressed cpio archives so that zstd really compresses
them, and the test checks with btrfs-progs that they are stored in zstd
extents. Linux must see the command line and the second initrd's file
intact, and the disk image must be byte-identical afterwards.
"""
import gzip
import os
import re
import subprocess

from conftest import Disk
from linux import CONSOLE, busybox_initrd, entry, extra_initrd, kernel
from test_boot import boot, check_linux, disk_path, esp_boot_files
from vm import BUILD
import mkdisk
from mkdisk import Part
import pytest


def gunzipped(path):
    out = os.path.join(BUILD, "qemu-logs", os.path.basename(path) + ".cpio")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with gzip.open(path, "rb") as f, open(out + ".tmp", "wb") as o:
        o.write(f.read())
    os.replace(out + ".tmp", out)
    return out


def compressed_extents(part_img, name):
    """(zstd extents, all extents) of the file called NAME in subvolume @
    (the first subvolume, id 256), as btrfs-progs reads the image."""
    dump = subprocess.run(["btrfs", "inspect-internal", "dump-tree", "-t", "256",
                           part_img], check=True, capture_output=True,
                          text=True).stdout
    ino = re.search(rf"location key \((\d+) INODE_ITEM 0\) type FILE\n.*\n"
                    rf"\s+name: {re.escape(name)}\n", dump).group(1)
    algs, cur = [], None
    for line in dump.splitlines():
        m = re.match(r"\s+item \d+ key \((\d+) (\w+) \d+\)", line)
        if m:
            cur = m.group(1) == ino and m.group(2) == "EXTENT_DATA"
            if cur:
                algs.append(None)
            continue
        m = re.search(r"compression (\d)", line)
        if cur and m:
            algs[-1] = m.group(1)
    return algs.count("3"), len(algs)


@pytest.mark.parametrize("compress", [None, "zstd"])
def test_btrfs_xbootldr(vm_name, compress):
    vmlinuz, kver = kernel()
    rd_a = busybox_initrd()
    rd_b, md5_b = extra_initrd("btrfs", "second initrd from btrfs")
    if compress:
        rd_a, rd_b = gunzipped(rd_a), gunzipped(rd_b)
    esp = Part("esp", "fat32", 64, esp_boot_files())
    xbl = Part("xbootldr", "btrfs", 200, {
        f"/vmlinuz-{kver}": vmlinuz, "/initrd-a.cpio": rd_a, "/initrd-b.cpio": rd_b,
        "/loader/entries/debian-btrfs.conf":
            entry("Debian on btrfs", f"/vmlinuz-{kver}", ["/initrd-a.cpio", "/initrd-b.cpio"],
                  CONSOLE + f" vq.test=btrfs-{compress}")},
        label="vqbtrfs", compress=compress, subvol="@")
    path = disk_path(vm_name)
    offsets = mkdisk.build_disk(path, [esp, xbl])
    part_img = disk_path(vm_name, 1)
    mkdisk.run(["dd", f"if={path}", f"of={part_img}", "bs=1M",
                f"skip={offsets[2] >> 20}", f"count={xbl.size_mb}"])
    if compress:
        zstd, total = compressed_extents(part_img, "initrd-a.cpio")
        assert zstd > total // 2, f"initrd-a: {zstd} of {total} extents zstd"
        zstd, total = compressed_extents(part_img, "initrd-b.cpio")
        assert zstd == total == 1, f"initrd-b: {zstd} of {total} extents zstd"
        zstd, total = compressed_extents(part_img, f"vmlinuz-{kver}")
        print(f"vmlinuz: {zstd} of {total} extents zstd")
    os.unlink(part_img)

    disk = Disk(path)
    vm, log = boot(vm_name, [(disk, "")])
    # zstd extents hold less on disk than the files' size: the driver must
    # still have read at least the kernel's half (a firmware read: nothing).
    min_read = os.path.getsize(vmlinuz) // 2 if compress else None
    check_linux(vm, log, [f"vq.test=btrfs-{compress}"], initrds=[("/vq-initrd-btrfs.txt", md5_b)],
                disks=[("vda", os.path.getsize(path) // 512)], min_read=min_read)
    disk.assert_unchanged()


def test_diag_blk_names_btrfs(vm_name):
    """vqdiag blk's partition report names a btrfs volume and its label;
    the disk is read, never written."""
    from conftest import parse_json_report, run_vqdiag
    from test_diag_blk import check_disk

    path = disk_path(vm_name)
    mkdisk.build_disk(path, [
        Part("esp", "fat16", 16, {"/hello.txt": b"hello\n"}, label="BLKESP"),
        Part("linux", "btrfs", 16, {"/a": b"a" * 5000}, label="blkbtrfs")])
    disk = Disk(path)
    vm, log = run_vqdiag(vm_name, "blk --json", disks=[(disk.path, "")])
    d = check_disk(parse_json_report(log, vm), disk, vm)
    parts = {p["number"]: p for p in d["partitions"]}
    assert parts[2]["kind"] == "linux" and parts[2]["fs"] == "btrfs", parts
    assert parts[2]["label"] == "blkbtrfs", parts
    disk.assert_unchanged()
