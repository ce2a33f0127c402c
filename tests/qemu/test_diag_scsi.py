# SPDX-License-Identifier: MIT
"""vqdiag on virtio-scsi: `list` shows the controller, its queues and config;
`blk` lists targets and LUNs (vendor, product, revision, type, capacity,
block size) and compares every disk read through the firmware's BlockIo
(OVMF's VirtioScsiDxe + ScsiDiskDxe) with vqboot's driver; `bench --scsi`
runs the same table against the firmware's SCSI path."""
import json
import os
import pytest
import re

from conftest import Disk, run_vqdiag
from test_bench import ROWS, small_bench_disk
from test_diag_blk import check_paths, hash64, small_disk

JSON = re.compile(r"=== vqdiag json begin ===\n(.*?)\n=== vqdiag json end ===", re.S)

# A CD-ROM without a medium at LUN 1: a LUN that is not a disk.
CDROM = ["-drive", "if=none,id=cd0,media=cdrom", "-device",
         "scsi-cd,drive=cd0,bus=s0.0,channel=0,scsi-id=0,lun=1"]


def reports(log, vm):
    docs = [json.loads(m) for m in JSON.findall(log)]
    assert docs, f"no vqdiag JSON in {vm.log_path}"
    return {d["command"]: d for d in docs}


def test_list_and_blk_on_scsi(vm_name):
    d512 = small_disk(vm_name + "-512")
    d4k = small_disk(vm_name + "-4k", sector_size=4096)
    vm, log = run_vqdiag(vm_name, "list --json", after=["vqdiag.efi blk --json"],
                         scsi=[(d512.path, "scsi-id=0,lun=0"),
                               (d4k.path, "scsi-id=0,lun=2,logical_block_size=4096,"
                                          "physical_block_size=4096")],
                         extra=CDROM, timeout=240)
    rep = reports(log, vm)
    (ctrl,) = [d for d in rep["list"]["devices"] if d["type"] == "scsi"]
    assert ctrl["transport"] == "modern" and ctrl["transitional"], ctrl
    assert ctrl["device_id"] == 0x1004, ctrl
    assert len(ctrl["queues"]) >= 3, ctrl
    cfg = ctrl["scsi"]
    assert cfg["max_target"] == 255 and cfg["max_lun"] == 16383, cfg
    assert cfg["cdb_size"] == 32 and cfg["sense_size"] == 96, cfg
    (blk,) = rep["blk"]["disks"]
    assert blk["kind"] == "scsi" and blk["targets_scanned"] == 256, blk
    luns = {(l["target"], l["lun"]): l for l in blk["luns"]}
    assert set(luns) == {(0, 0), (0, 1), (0, 2)}, luns.keys()
    cd = luns[(0, 1)]
    assert cd["type"] == "CD/DVD" and not cd["disk"], cd
    for key, disk, bs in (((0, 0), d512, 512), ((0, 2), d4k, 4096)):
        lun = luns[key]
        assert lun["disk"] and lun["vendor"] == "QEMU" and lun["product"] == "QEMU HARDDISK"
        assert lun["revision"], lun
        assert lun["logical_block_size"] == bs, lun
        assert lun["capacity_bytes"] == os.path.getsize(disk.path), lun
        assert lun["partition_table"] == "gpt", lun
        fw, vq = lun["firmware"], lun["vqboot"]
        assert vq["tried"] and "error" not in vq, f"{vq}; log {vm.log_path}"
        assert fw["tried"] and "error" not in fw, f"{fw}; log {vm.log_path}"
        assert vq["hash64"] == fw["hash64"] == hash64(disk.path), (key, fw, vq)
        check_paths(fw, vq, blk["max_request"], kind="scsi")
        assert lun["match"] is True
    d512.assert_unchanged()
    d4k.assert_unchanged()


@pytest.mark.bench  # `make check-bench`, not `make test`
def test_bench_on_scsi(vm_name):
    disk = small_bench_disk(vm_name)
    vm, log = run_vqdiag(vm_name, "bench --scsi --size=8 --rounds=2 --json", timeout=300,
                         scsi=[(disk.path, "scsi-id=0,lun=0")])
    rep = reports(log, vm)["bench"]
    assert rep["disk_kind"] == "scsi" and rep["target"] == 0 and rep["lun"] == 0, rep
    rows = {r["test"]: r for r in rep["rows"]}
    assert set(rows) == ROWS
    for key, row in rows.items():
        # Both sides read the disk's known content, every round.
        assert row["status"] == "ok", f"{key}: {row}; log {vm.log_path}"
        for side in ("firmware", "vqboot"):
            s = row[side]
            assert not s["errors"], f"{key} {side}: {s}; log {vm.log_path}"
            assert s["bytes"] > 0 and all(s["us"]) and s["min"] > 0, (key, side, s)
    assert rows["file_kernel"]["vqboot"]["bytes"] == (1 << 20) - 12345
    assert rep["vqboot_stats"]["requests"] > 0
    assert rep["vqboot_stats"]["failed_tests"] == 0
    disk.assert_unchanged()
