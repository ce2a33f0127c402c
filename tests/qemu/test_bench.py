# SPDX-License-Identifier: MIT
"""vqdiag bench: a short run on a small bench disk. Speeds are not judged (a
benchmark, not a speed test); what is judged is that the figures measure
what they say: every row read the disk's known content on both sides (the
guest's hashes against hashes the host takes of the image itself), the
one-at-a-time rows really kept one request in flight, both sides and the
spread are there, and a row whose data is wrong fails (hidden options
corrupt, or skip, vqboot's read in one row each)."""
import os
import pytest
import struct
import subprocess

from conftest import Disk, parse_json_report, run_vqdiag
from vm import BUILD, TOP

LIKE = ["seq_4k_qd1", "seq_64k_qd1", "seq_1m_qd1", "rand_4k_qd1"]
DESIGN = ["seq_4k", "seq_64k", "seq_1m", "seq_4m", "rand_4k", "file_kernel",
          "file_initrd", "file_kernel_frag", "file_initrd_frag",
          "files_contiguous", "files_fragmented"]
ROWS = set(LIKE + DESIGN)
KERNEL_BYTES = (1 << 20) - 12345  # mkbench.py --kernel-mib 1
SIZE_MIB = 8
# What bench.sh runs too: the same device for both sides, no request merging.
DRIVE = ("cache=writeback,aio=threads", "serial=vqbench,request-merging=off")
CONDITIONS = "--conditions=cache=writeback,aio=threads,request-merging=off"

M64 = (1 << 64) - 1
P1, P2, P3 = 11400714785074694791, 14029467366897019727, 1609587929392839161
P4, P5 = 9650029242287828579, 2870177450012600261


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc, lane):
    return _rotl((acc + lane * P2) & M64, 31) * P1 & M64


def xxh64(data, seed=0):
    """XXH64 (Yann Collet's specification), to check the guest's hashes
    with something the guest did not compute."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        stripes = n // 32
        for a, b, c, d in struct.iter_unpack("<4Q", data[:stripes * 32]):
            v[0], v[1] = _round(v[0], a), _round(v[1], b)
            v[2], v[3] = _round(v[2], c), _round(v[3], d)
        i = stripes * 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M64
        for x in v:
            h = ((h ^ _round(0, x)) * P1 + P4) & M64
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h ^= _round(0, struct.unpack_from("<Q", data, i)[0])
        h = (_rotl(h, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h ^= struct.unpack_from("<I", data, i)[0] * P1 & M64
        h = (_rotl(h, 23) * P2 + P3) & M64
        i += 4
    for byte in data[i:]:
        h ^= byte * P5 & M64
        h = _rotl(h, 11) * P1 & M64
    h ^= h >> 33
    h = h * P2 & M64
    h ^= h >> 29
    h = h * P3 & M64
    return h ^ (h >> 32)


def test_xxh64_vectors():
    """The host's xxh64 against the published test values."""
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"a") == 0xD24EC4F1A98C6E5B
    assert xxh64(b"abc") == 0x44BC2CF5AD770999


def small_bench_disk(name):
    path = os.path.join(BUILD, "qemu-logs", name + ".bench.img")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run([os.path.join(TOP, "scripts", "mkbench.py"), path,
                    "--kernel-mib", "1", "--initrd-mib", "2", "--raw-mib", "8",
                    "--cluster", "512", "--piece-kib", "16"],
                   check=True, stdout=subprocess.DEVNULL)
    return Disk(path)


def bench(name, args):
    disk = small_bench_disk(name)
    vm, log = run_vqdiag(name, f"bench --size={SIZE_MIB} --json {CONDITIONS} {args}",
                         timeout=300, disks=[(disk.path, DRIVE)])
    rep = parse_json_report(log, vm)
    disk.assert_unchanged()
    return disk, rep, {r["test"]: r for r in rep["rows"]}, vm


def chained(data, passes):
    """A row's hash: xxh64 of each pass, each seeded with the last."""
    h = 0
    for _ in range(passes):
        h = xxh64(data, h)
    return h


def host_hashes(disk, rep):
    """The data two rows must read, from the image on the host."""
    with open(disk.path, "rb") as f:
        f.seek(rep["region_start"])
        raw = f.read(SIZE_MIB << 20)
    kernel = subprocess.run(["mtype", "-i", disk.path + "@@1M", "::/bench/kernel.bin"],
                            check=True, capture_output=True).stdout
    assert len(kernel) == KERNEL_BYTES
    return {"seq_64k_qd1": raw, "file_kernel": kernel}


@pytest.mark.bench  # `make check-bench`, not `make test`
def test_bench_short(vm_name):
    disk, rep, rows, vm = bench(vm_name, "--rounds=2")
    assert rep["command"] == "bench" and "TSC, calibrated" in rep["timing"]
    assert rep["sequential_bytes"] == SIZE_MIB << 20 and rep["rounds"] == 2
    assert "request-merging=off" in rep["conditions"]
    assert [r["test"] for r in rep["rows"]] == LIKE + DESIGN
    assert rep["failed_rows"] == 0, f"log {vm.log_path}"
    for key, row in rows.items():
        want = "like_for_like" if key in LIKE else "design"
        assert row["section"] == want, key
        assert row["status"] == "ok" and "fail" not in row, (key, row, vm.log_path)
        for side in ("firmware", "vqboot"):
            s = row[side]
            assert not s["errors"], (key, side, s)
            assert s["bytes"] > 0 and len(s["us"]) == 2 and all(s["us"]), (key, side, s)
            assert 0 < s["min"] <= s["median"] <= s["max"], (key, side, s)
            if key.startswith("files_"):
                continue
            # Both sides read the known content; the host agrees on it below.
            assert s["xxh64"] == row["expected_xxh64"], (key, side, s)
            assert s["bytes"] == row["expected_bytes"], (key, side, s)
        assert row["firmware"]["qd"] == 1, key
        if key in LIKE:
            assert row["vqboot"]["qd"] == 1, (key, row["vqboot"])
        assert row["ratio"] > 0, key
    # vqboot keeps several in flight where it is handed several.
    assert rows["seq_4k"]["vqboot"]["qd"] > 1, rows["seq_4k"]["vqboot"]
    for key, data in host_hashes(disk, rep).items():
        want = chained(data, rows[key]["firmware"]["passes"])
        assert rows[key]["expected_xxh64"] == f"{want:016x}", key
    assert rows["file_kernel"]["vqboot"]["bytes"] == KERNEL_BYTES
    assert rows["rand_4k"]["unit"] == rows["rand_4k_qd1"]["unit"] == "ops/s"
    assert rep["vqboot_stats"]["requests"] > 0
    assert rep["vqboot_stats"]["failed_tests"] == 0


@pytest.mark.bench  # `make check-bench`, not `make test`
def test_bench_detects_bad_data(vm_name):
    """A byte flipped in vqboot's buffer after a read, and a read that moved
    nothing (the buffer keeps its fill pattern), each fail their row, and
    only theirs."""
    _, rep, rows, vm = bench(vm_name, "--rounds=1 --corrupt=seq_64k_qd1 "
                                      "--skip-read=file_initrd")
    bad = {"seq_64k_qd1", "file_initrd", "files_contiguous"}
    for key, row in rows.items():
        assert (row["status"] == "FAIL") == (key in bad), (key, row, vm.log_path)
    assert "vqboot: not the disk's known content" in rows["seq_64k_qd1"]["fail"]
    assert rows["seq_64k_qd1"]["firmware"]["xxh64"] == rows["seq_64k_qd1"]["expected_xxh64"]
    assert rows["seq_64k_qd1"]["vqboot"]["xxh64"] != rows["seq_64k_qd1"]["expected_xxh64"]
    assert "vqboot" in rows["file_initrd"]["fail"]
    assert rep["failed_rows"] == 3
