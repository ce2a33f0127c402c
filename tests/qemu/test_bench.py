# SPDX-License-Identifier: MIT
"""vqdiag bench: a short run on a small bench disk. Figures are not judged
(a benchmark, not a speed test): every row has both sides and positive
figures."""
import os
import subprocess

from conftest import Disk, parse_json_report, run_vqdiag
from vm import BUILD, TOP

ROWS = {"seq_4k", "seq_64k", "seq_1m", "seq_4m", "rand_4k", "file_kernel",
        "file_initrd", "file_kernel_frag", "file_initrd_frag",
        "files_contiguous", "files_fragmented", "seq_4k_qd1", "seq_64k_qd1",
        "seq_1m_qd1", "rand_4k_qd1"}


def small_bench_disk(name):
    path = os.path.join(BUILD, "qemu-logs", name + ".bench.img")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run([os.path.join(TOP, "scripts", "mkbench.py"), path,
                    "--kernel-mib", "1", "--initrd-mib", "2", "--raw-mib", "8",
                    "--cluster", "512", "--piece-kib", "16"],
                   check=True, stdout=subprocess.DEVNULL)
    return Disk(path)


def test_bench_short(vm_name):
    disk = small_bench_disk(vm_name)
    vm, log = run_vqdiag(vm_name, "bench --size=8 --json", timeout=150,
                         disks=[(disk.path, "serial=vqbench")])
    rep = parse_json_report(log, vm)
    assert rep["command"] == "bench" and "TSC" in rep["timing"]
    assert rep["sequential_bytes"] == 8 << 20
    rows = {r["test"]: r for r in rep["rows"]}
    assert set(rows) == ROWS
    for key, row in rows.items():
        for side in ("firmware", "vqboot"):
            s = row[side]
            assert "error" not in s, f"{key} {side}: {s}; log {vm.log_path}"
            assert s["bytes"] > 0 and s["us"] > 0 and s["value"] > 0, (key, side, s)
        assert row["ratio"] > 0, key
    assert rows["file_kernel"]["vqboot"]["bytes"] == (1 << 20) - 12345
    assert rows["rand_4k"]["unit"] == rows["rand_4k_qd1"]["unit"] == "ops/s"
    assert rep["vqboot_stats"]["requests"] > 0
    assert rep["vqboot_stats"]["failed_tests"] == 0
    disk.assert_unchanged()
