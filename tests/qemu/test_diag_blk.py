# SPDX-License-Identifier: MIT
"""vqdiag blk: the firmware's and vqboot's reads of a disk agree with each
other and with the image; serial, partitions and filesystems reported; the
disk is never written."""
import os
import struct
import sys

from conftest import Disk, parse_json_report, run_vqdiag
from vm import BUILD, TOP

sys.path.insert(0, os.path.join(TOP, "scripts"))
import mkdisk  # noqa: E402

EXT = "ext"
MASK = (1 << 64) - 1
SEED = 0x7671646961672121
MUL = 0x9E3779B97F4A7C15


def mix(h, w):
    h ^= w
    return (((h << 29) | (h >> 35)) & MASK) * MUL & MASK


def hash64(path, start=0, length=None):
    """apps/vqdiag/diag_blk.c's hash: words mixed in order, then the byte count."""
    h, done = SEED, 0
    with open(path, "rb") as f:
        f.seek(start)
        left = os.path.getsize(path) - start if length is None else length
        while left:
            chunk = f.read(min(left, 1 << 20))
            for w in struct.unpack(f"<{len(chunk) // 8}Q", chunk):
                h = mix(h, w)
            done += len(chunk)
            left -= len(chunk)
    return f"{mix(h, done):016x}"


def small_disk(name, sector_size=512):
    path = os.path.join(BUILD, "qemu-logs", name + ".disk.img")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fat = "fat16" if sector_size == 512 else "fat12"
    esp = mkdisk.Part("esp", fat, 16 if sector_size == 512 else 8,
                      files={"/hello.txt": b"hello from vqdiag blk\n"}, label="BLKESP")
    ext = mkdisk.Part("linux", "ext4", 4, files={"/a": b"a" * 5000}, label="blkext")
    mkdisk.build_disk(path, [esp, ext], sector_size=sector_size)
    return Disk(path)


def check_paths(fw, vq, max_request, kind="blk", transport="modern"):
    """Each side names the path that read: the firmware's BlockIo, or
    vqboot's driver, which must have sent at least one request per
    max_request bytes (a read that went through the firmware would send
    none)."""
    assert fw["path"] == "firmware BlockIo" and fw["driver_requests"] == 0, fw
    assert vq["path"] == f"vqboot's virtio-{kind} driver, {transport} transport", vq
    assert vq["calls"] > 0 and vq["bytes"] > 0, vq
    need = -(-vq["bytes"] // max_request)
    assert vq["driver_requests"] >= need, \
        f"vqboot's driver sent {vq['driver_requests']} requests for {vq['bytes']} bytes: {vq}"


def check_disk(rep, disk, vm):
    (d,) = rep["disks"]
    fw, vq = d["firmware"], d["vqboot"]
    want = hash64(disk.path)
    assert vq["tried"] and "error" not in vq, f"{vq}; log {vm.log_path}"
    assert fw["tried"] and "error" not in fw, f"{fw}; log {vm.log_path}"
    assert vq["bytes"] == fw["bytes"] == os.path.getsize(disk.path)
    assert vq["hash64"] == fw["hash64"] == want
    assert d["match"] is True
    assert vq["mb_s"] > 0 and fw["mb_s"] > 0
    check_paths(fw, vq, d["max_request"])
    return d


def test_blk_gpt_serial(vm_name):
    disk = small_disk(vm_name)
    vm, log = run_vqdiag(vm_name, "blk --json",
                         disks=[(disk.path, "serial=VQ-SERIAL-0042")])
    d = check_disk(parse_json_report(log, vm), disk, vm)
    assert d["serial"] == "VQ-SERIAL-0042"
    assert d["capacity_bytes"] == os.path.getsize(disk.path)
    assert d["logical_block_size"] == 512
    assert d["read_only"] is False
    assert d["partition_table"] == "gpt"
    parts = {p["number"]: p for p in d["partitions"]}
    assert parts[1]["kind"] == "esp" and parts[1]["fs"] == "FAT16"
    assert parts[1]["label"] == "BLKESP"
    assert parts[2]["kind"] == "linux" and parts[2]["fs"] == EXT
    assert parts[2]["label"] == "blkext"
    disk.assert_unchanged()


def test_blk_4k_logical_blocks(vm_name):
    disk = small_disk(vm_name, sector_size=4096)
    opts = "logical_block_size=4096,physical_block_size=4096"
    vm, log = run_vqdiag(vm_name, "blk --json", disks=[(disk.path, opts)])
    d = check_disk(parse_json_report(log, vm), disk, vm)
    assert d["logical_block_size"] == 4096 and d["physical_block_size"] == 4096
    assert d["partition_table"] == "gpt"
    assert {p["fs"] for p in d["partitions"]} == {"FAT12", EXT}
    disk.assert_unchanged()


def test_blk_legacy_transport(vm_name):
    """A legacy-only device (disable-modern): vqboot's side says it read
    through the legacy transport, with its own requests."""
    disk = small_disk(vm_name)
    vm, log = run_vqdiag(vm_name, "blk --json",
                         disks=[(disk.path, "disable-modern=on,disable-legacy=off")])
    (d,) = parse_json_report(log, vm)["disks"]
    assert d["vqboot"]["hash64"] == d["firmware"]["hash64"] == hash64(disk.path), d
    check_paths(d["firmware"], d["vqboot"], d["max_request"], transport="legacy")
    disk.assert_unchanged()

def test_blk_range_and_address(vm_name):
    disk = small_disk(vm_name)
    other = small_disk(vm_name + "_2")
    vm, log = run_vqdiag(vm_name, "blk 00:02.0 --start=2048 --sectors=4096 --json",
                         disks=[(disk.path, "addr=02.0"), (other.path, "addr=03.0")])
    rep = parse_json_report(log, vm)
    (d,) = rep["disks"]
    assert d["pci"] == "00:02.0" and d["start_sector"] == 2048
    want = hash64(disk.path, 2048 * 512, 4096 * 512)
    assert d["vqboot"]["hash64"] == d["firmware"]["hash64"] == want
    assert d["vqboot"]["bytes"] == 4096 * 512
    check_paths(d["firmware"], d["vqboot"], d["max_request"])
    disk.assert_unchanged()
    other.assert_unchanged()


def test_blk_read_error_names_sector(vm_name):
    """A sector that fails to read (QEMU blkdebug): both paths stop there
    and name it."""
    disk = small_disk(vm_name)
    bad = 30000
    cfg = disk.path + ".blkdebug"
    with open(cfg, "w") as f:
        f.write(f'[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "{bad}"\n')
    vm, log = run_vqdiag(vm_name, "blk --json",
                         disks=[(f"blkdebug:{cfg}:{disk.path}", "")])
    (d,) = parse_json_report(log, vm)["disks"]
    for side in ("firmware", "vqboot"):
        assert "error" in d[side], f"{side}: {d[side]}; log {vm.log_path}"
        assert d[side]["error_sector"] == bad, (side, d[side])
        assert d[side]["bytes"] <= bad * 512
    assert d["match"] is None
    disk.assert_unchanged()


def test_blk_xfs_partition(vm_name):
    """An XFS partition (xfsprogs makes none under 300 MB) is named with its
    label; only the first 32 MiB are read and compared."""
    path = os.path.join(BUILD, "qemu-logs", vm_name + ".disk.img")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    esp = mkdisk.Part("esp", "fat16", 16, files={"/hello.txt": b"hi\n"},
                      label="BLKESP")
    xfs = mkdisk.Part("xbootldr", "xfs", 320, files={"/a": b"a" * 5000},
                      label="blkxfs")
    mkdisk.build_disk(path, [esp, xfs])
    disk = Disk(path)
    vm, log = run_vqdiag(vm_name, "blk --sectors=65536 --json",
                         disks=[(disk.path, "")])
    (d,) = parse_json_report(log, vm)["disks"]
    assert d["vqboot"]["hash64"] == d["firmware"]["hash64"] == \
        hash64(disk.path, 0, 65536 * 512), f"{d}; log {vm.log_path}"
    parts = {p["number"]: p for p in d["partitions"]}
    assert parts[1]["fs"] == "FAT16" and parts[1]["label"] == "BLKESP"
    assert parts[2]["kind"] == "xbootldr", parts[2]
    assert parts[2]["fs"] == "xfs" and parts[2]["label"] == "blkxfs", parts[2]
    disk.assert_unchanged()
