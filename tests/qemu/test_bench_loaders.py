# SPDX-License-Identifier: MIT
"""scripts/bench-loaders.sh keeps working: one boot of each loader (vqboot,
systemd-boot, GRUB) with the small initrd, each row's initrd file checked in
Linux, and a loader that cannot start reported as a failed row. The same
vqboot boot checks vqboot's Boot Loader Interface times against the host's
clock."""
import os
import pytest
import re
import shutil
import sys

from vm import BUILD, TOP, sha256

sys.path.insert(0, os.path.join(TOP, "scripts"))
import bench_loaders as bl  # noqa: E402

# The benchmark's own tests: `make check-bench`, not `make test`.
pytestmark = pytest.mark.bench


NAMES = ("vqboot", "systemd-boot", "GRUB")


def run_bench(work):
    broken = os.path.join(work, "broken.efi")
    with open(os.path.join(BUILD, "vqboot.efi"), "rb") as f:
        head = f.read(4096)  # headers that promise sections that are not there
    with open(broken, "wb") as f:
        f.write(head)
    loaders = {"vqboot": os.path.join(BUILD, "vqboot.efi"),
               "systemd-boot": bl.SDBOOT,
               "GRUB": bl.make_grub(os.path.join(work, "grubx64.efi"), work),
               "broken": broken}
    disks = bl.prepare(work, [1], loaders)
    before = {k: sha256(d) for k, (d, _, _) in disks.items()}
    rows = bl.measure(work, disks, loaders, [1], 1, timeout=90)
    table = bl.table(rows, loaders, [1])
    with open(os.path.join(work, "table.md"), "w") as f:
        f.write(table + "\n")
    for k, (d, _, _) in disks.items():
        assert sha256(d) == before[k], f"{d} was modified"
        os.unlink(d)
    return disks, rows, table


def test_bench_loaders(vm_name):
    """One test, so that parallel workers never boot it twice at once."""
    work = os.path.join(BUILD, "qemu-logs", vm_name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    disks, rows, table = run_bench(work)
    check_rows(work, disks, rows, table)
    check_bli(work, rows)


def check_rows(work, disks, rows, table):
    for name in NAMES:
        r = rows[(1, name)]
        assert not r.failed, f"{name}: {r.failures}"
        log = os.path.join(work, f"boot-1M-{name}-0.log")
        with open(log) as f:
            text = f.read()
        _, n, md5 = disks[(1, name)]
        assert f"VQ-BENCH: big {n} {md5}" in text, f"{name}: wrong initrd; {log}"
        assert re.search(rf"\| {name} \| 1 MiB \| 1 \| [\d,]+ \(", table), table
        # The same log with another file's checksum is a failed row.
        ok, reason, _, _ = bl.check_boot(text, {"start": 0, "stub": 1, "up": 1,
                                                "done": 2}, n, "0" * 32)
        assert not ok and "md5" in reason
    assert rows[(1, "systemd-boot")].bli, "systemd-boot set no BLI times"
    assert rows[(1, "broken")].failed
    assert re.search(r"\| broken \| 1 MiB \| 1 \| FAILED: ", table), table


def check_bli(work, rows):
    """vqboot's LoaderTimeInitUSec and LoaderTimeExecUSec (the guest's
    counter since reset) against the host's times of the same boot: Init
    before Exec, neither ahead of the host's clock, and Exec - Init within
    the host-measured hand-over-to-stub time but most of it."""
    r = rows[(1, "vqboot")]
    assert not r.failed, r.failures
    ((marks, bli),) = r.boots
    log = os.path.join(work, "boot-1M-vqboot-0.log")
    init_s = int(bli["LoaderTimeInitUSec"]) / 1e6
    exec_s = int(bli["LoaderTimeExecUSec"]) / 1e6
    outside = marks["stub"] - marks["start"]
    assert 0 < init_s < exec_s, f"{bli}; {log}"
    # The guest's counter starts after QEMU's own start-up: never ahead.
    assert exec_s <= marks["stub"] - marks["launch"] + 0.02, f"{bli} {marks}; {log}"
    assert init_s >= (marks["start"] - marks["launch"]) / 2, f"{bli} {marks}; {log}"
    inside = exec_s - init_s
    assert inside <= outside * 1.05 + 0.02, \
        f"BLI {inside * 1000:.0f} ms > {outside * 1000:.0f} ms seen outside; {log}"
    assert inside >= outside * 0.6, \
        f"BLI covers {inside * 1000:.0f} of {outside * 1000:.0f} ms; {log}"
