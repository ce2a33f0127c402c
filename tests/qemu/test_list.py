# SPDX-License-Identifier: MIT
"""vqdiag list on the virtio-pci flavours QEMU offers."""
import os
import subprocess

import pytest

from conftest import Disk, parse_json_report, run_vqdiag
from vm import BUILD


def scratch_disk(name, size="64M", marker=None):
    path = os.path.join(BUILD, "qemu-logs", name + ".disk.img")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run(f"rm -f {path} && truncate -s {size} {path} && "
                   f"mkfs.fat -F 16 -n VQTEST {path} >/dev/null",
                   shell=True, check=True)
    if marker:
        mpath = path + ".marker"
        with open(mpath, "w") as f:
            f.write(marker + "\n")
        subprocess.run(["mcopy", "-i", path, mpath, "::/MARKER.TXT"], check=True)
    return Disk(path)


def devices(report, type_name):
    return [d for d in report["devices"] if d["type"] == type_name]


def list_json(vm_name, **vmargs):
    vm, log = run_vqdiag(vm_name, "list --json", **vmargs)
    return vm, parse_json_report(log, vm)


def test_transitional_blk_q35(vm_name):
    disk = scratch_disk(vm_name)
    vm, rep = list_json(vm_name, disks=[(disk.path, "")])
    (blk,) = devices(rep, "block")
    assert blk["transport"] == "modern" and blk["transitional"]
    assert 0x1000 <= blk["device_id"] <= 0x103F
    assert "VERSION_1" in blk["negotiated"]
    assert "SEG_MAX" in blk["offered"] and "BLK_SIZE" in blk["offered"]
    assert blk["block"]["capacity_sectors"] == 64 * 2048
    assert blk["block"]["block_size"] == 512
    assert blk["queues"][0]["max_size"] == 256
    disk.assert_unchanged()


def test_modern_only_blk(vm_name):
    disk = scratch_disk(vm_name)
    vm, rep = list_json(vm_name, disks=[(disk.path, "disable-legacy=on")])
    (blk,) = devices(rep, "block")
    assert blk["transport"] == "modern" and not blk["transitional"]
    assert blk["device_id"] == 0x1042
    disk.assert_unchanged()


def test_legacy_only_blk(vm_name):
    disk = scratch_disk(vm_name)
    vm, rep = list_json(vm_name, disks=[(disk.path, "disable-modern=on")])
    (blk,) = devices(rep, "block")
    assert blk["transport"] == "legacy"
    assert "VERSION_1" not in blk["offered"]
    assert blk["block"]["capacity_sectors"] == 64 * 2048
    disk.assert_unchanged()


@pytest.mark.parametrize("qsize", [16, 1024])
def test_queue_size(vm_name, qsize):
    disk = scratch_disk(vm_name)
    vm, rep = list_json(vm_name, disks=[(disk.path, f"queue-size={qsize}")])
    (blk,) = devices(rep, "block")
    assert blk["queues"][0]["max_size"] == qsize
    disk.assert_unchanged()


def test_gpu(vm_name):
    vm, rep = list_json(vm_name, devices=["virtio-gpu-pci,xres=800,yres=600"])
    (gpu,) = devices(rep, "gpu")
    assert gpu["transport"] == "modern" and gpu["device_id"] == 0x1050
    assert gpu["gpu"]["num_scanouts"] == 1
    assert len(gpu["queues"]) == 2


def test_two_disks_pc_text(vm_name):
    """-M pc, two disks, the text report; the firmware can still read the
    disks after vqdiag gave them back."""
    d1 = scratch_disk(vm_name + "-a", marker="VQ-MARKER-A")
    d2 = scratch_disk(vm_name + "-b", size="32M", marker="VQ-MARKER-B")
    # After vqdiag: remap and read each disk's marker through the firmware.
    after = ["map -r"] + [f"type fs{i}:\\MARKER.TXT" for i in range(4)]
    vm, log = run_vqdiag(vm_name, "list", machine="pc", after=after,
                         disks=[(d1.path, ""), (d2.path, "")])
    assert "vqdiag: 2 virtio-pci devices" in log, vm.log_path
    assert log.count(" block (virtio type 2), modern transport") == 2, vm.log_path
    assert "capacity:  131072 sectors (64 MiB)" in log
    assert "capacity:  65536 sectors (32 MiB)" in log
    tail = log.split("vqdiag: list done", 1)[1]
    for marker in ("VQ-MARKER-A", "VQ-MARKER-B"):
        assert marker in tail, f"the firmware lost a disk after vqdiag; {vm.log_path}"
    d1.assert_unchanged()
    d2.assert_unchanged()
