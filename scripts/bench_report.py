#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Run `vqdiag bench --json` and `vqdiag gpu --json` under QEMU and write the
"vqdiag bench" section of bench/RESULTS.md (and the README's table); used by
scripts/bench.sh.

    bench_report.py --disk BENCH.img --out bench/RESULTS.md [--readme README.md]
                    [--rounds N] [--gpu-boots N] [--frag mkbench.txt]

Both sides of every disk row run in one boot, on one virtio-blk device
(the firmware's BlockIo and FAT sit on it, vqboot takes it from them), with
QEMU's request merging off, in ABBA order over the rounds; vqdiag checks the
data of every side of every round against the disk's known content. GPU
rows come from --gpu-boots boots of `vqdiag gpu` (one figure per side and
boot). Each row shows min / median / max and the ratio of the medians.
Exits 1 when a row failed (the table still says which and why).
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "qemu"))
from vm import BUILD, VM  # noqa: E402

VQDIAG = os.path.join(BUILD, "vqdiag.efi")
TAG = os.path.join(TOP, "tests", "qemu", "vqtools.tag")
JSON_RE = re.compile(r"=== vqdiag json begin ===\n(.*?)\n=== vqdiag json end ===", re.S)
# The disk as QEMU opens it for the bench: host page cache (writeback),
# the thread pool, and no merging of adjacent requests into larger ones.
DRIVE_OPTS = "cache=writeback,aio=threads"
DEVICE_OPTS = "request-merging=off"
CONDITIONS = f"{DRIVE_OPTS},{DEVICE_OPTS},image-in-host-page-cache"
# Issue 10: like for like, one request at a time (to report, not to pass).
TARGETS = [("seq_4k_qd1", 3.0), ("seq_64k_qd1", 2.0), ("seq_1m_qd1", 1.2)]
BEGIN, END = "<!-- vqdiag-bench:begin -->", "<!-- vqdiag-bench:end -->"
README_BEGIN, README_END = "<!-- bench:begin -->", "<!-- bench:end -->"
SECTIONS = {"like_for_like": "Like for like: one request at a time on both sides "
                             "(the headline)",
            "design": "What vqboot's design adds: several requests in flight, "
                      "batched extents (the firmware's BlockIo has one at a time)"}


def tools_cd():
    lines = []
    for i in range(8):
        lines += [f"if exist fs{i}:\\vqtools.tag then", f"  fs{i}:", "endif"]
    return lines


def vqdiag_json(name, command, timeout, **vmargs):
    """Boot the shell, run `vqdiag.efi COMMAND`, return (document, cmdline)."""
    startup = tools_cd() + [f"vqdiag.efi {command}".strip(), "reset -s"]
    vm = VM(name, mem=1024, tools={"vqdiag.efi": VQDIAG, "vqtools.tag": TAG},
            startup=startup, **vmargs)
    with vm:
        log = vm.run(until=r"vqdiag: \S+ done", timeout=timeout)
    m = JSON_RE.search(log)
    if not m:
        sys.exit(f"bench: no JSON from vqdiag {command}; log {vm.log_path}")
    with open(os.path.join(vm.dir, "cmdline")) as f:
        cmdline = f.read().strip()
    return json.loads(m.group(1)), cmdline


def in_page_cache(path):
    """Read the image once so that both sides find it in the host's page
    cache; return what fincore says of it."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass
    out = run_text(["fincore", "--bytes", "--noheadings", "-o", "RES,SIZE", path])
    return out or "unknown (fincore failed)"


def run_bench(disk, rounds):
    return vqdiag_json("bench-run", f"bench --json --rounds={rounds} "
                       f"--conditions={CONDITIONS}", 3600,
                       disks=[(disk, (DRIVE_OPTS, DEVICE_OPTS))])


# ---- GPU ----------------------------------------------------------------------

GPU_ROWS = [("full_frame", "full frame 1280x800, copy + transfer + flush", True),
            ("small_rect", "1280x16 strip, copy + transfer + flush", True),
            ("flush_only", "full frame 1280x800, transfer + flush only (vqboot; "
                           "firmware column: its Blt)", False)]


def spread(values):
    v = sorted(values)
    n = len(v)
    med = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    return {"min": v[0], "median": med, "max": v[-1]}


def run_gpu(boots):
    """`vqdiag gpu --json` on a 1280x800 virtio-gpu, @boots boots: updates/s
    per side and boot; a row fails when a boot's modes differ or errs."""
    runs, cmdline = [], ""
    for i in range(boots):
        rep, cmdline = vqdiag_json(f"bench-gpu{i}", "gpu --json", 300, extra=["-vga", "none"],
                                   devices=["virtio-gpu-pci,xres=1280,yres=800"])
        runs.append(rep["timings"])
    rows = []
    for key, what, _ in GPU_ROWS:
        fw_key = "full_frame" if key == "flush_only" else key
        fw, vq, fail = [], [], ""
        for t in runs:
            f, v = t["firmware"].get(fw_key), t["vqboot"].get(key)
            if not t.get("same_mode"):
                fail = (f"modes differ: firmware {t['firmware']['mode_width']}x"
                        f"{t['firmware']['mode_height']}, vqboot "
                        f"{t['vqboot'].get('mode_width')}x{t['vqboot'].get('mode_height')}")
            elif not f or not v or f["error"] or v["error"] or not f["updates_per_s"]:
                fail = "an update failed or was not measured"
            else:
                fw.append(f["updates_per_s"])
                vq.append(v["updates_per_s"])
        row = {"test": f"gpu_{key}", "what": what, "unit": "updates/s", "section": "gpu",
               "status": "FAIL" if fail else "ok", "qd": "-"}
        if fail:
            row["fail"] = fail
        if fw and vq:
            row["firmware"], row["vqboot"] = spread(fw), spread(vq)
            row["ratio"] = row["vqboot"]["median"] / row["firmware"]["median"]
        rows.append(row)
    return rows, cmdline


# ---- tables -------------------------------------------------------------------

def fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def mmm(side):
    return f"{fmt(side['min'])} / **{fmt(side['median'])}** / {fmt(side['max'])}"


def row_line(r):
    if "firmware" not in r:
        return f"| {r['what']} | {r['qd']} | - | - | {r['unit']} | - | FAIL: {r.get('fail', '')} |"
    check = "ok" if r["status"] == "ok" else f"**FAIL**: {r.get('fail', '')}"
    return (f"| {r['what']} | {r['qd']} | {mmm(r['firmware'])} | {mmm(r['vqboot'])} | "
            f"{r['unit']} | {r['ratio']:.2f}x | {check} |")


def disk_rows(rep):
    rows = []
    for r in rep["rows"]:
        r = dict(r)
        r["qd"] = f"{r['firmware']['qd']} / {r['vqboot']['qd']}"
        if r["status"] == "ok" and "expected_xxh64" in r:
            r["fail"] = ""
        rows.append(r)
    return rows


HEAD = ["| test | qd firmware / vqboot | firmware min / **median** / max | "
        "vqboot min / **median** / max | unit | vqboot / firmware (medians) | data |",
        "| --- | --- | ---: | ---: | --- | ---: | --- |"]


def tables(rows, gpu):
    out = []
    for sec, title in SECTIONS.items():
        out += [f"**{title}**", ""] + HEAD
        out += [row_line(r) for r in rows if r["section"] == sec] + [""]
    out += ["**GPU** (virtio-gpu-pci 1280x800; the firmware's GOP Blt against vqboot's "
            "driver doing the same work: copy the caller's frame, transfer, flush)", ""]
    out += HEAD + [row_line(r) for r in gpu] + [""]
    return out


def targets(rows):
    by = {r["test"]: r for r in rows}
    out = ["| target, like for like (vqboot / firmware, medians) | measured | |",
           "| --- | ---: | --- |"]
    for key, want in TARGETS:
        r = by.get(key)
        if not r or r["status"] != "ok":
            out.append(f"| {key} >= {want:g}x | failed row | |")
            continue
        out.append(f"| {r['what']} one at a time >= {want:g}x | {r['ratio']:.2f}x | "
                   f"{'met' if r['ratio'] >= want else 'missed'} |")
    return out


def not_ahead(rows, gpu):
    slow = [f"{r['what']} ({r['ratio']:.2f}x)" for r in rows + gpu
            if r.get("ratio") is not None and r["ratio"] < 1.0]
    if not slow:
        return "vqboot's median is ahead in every row."
    return "vqboot's median is not ahead in: " + "; ".join(slow) + "."


# ---- conditions ---------------------------------------------------------------

def run_text(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                             cwd=TOP).stdout.strip()
        return out.splitlines()[0] if out else ""
    except (OSError, subprocess.CalledProcessError):
        return ""


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def versions():
    pkgs = run_text(["dpkg-query", "-W", "-f", "${Package} ${Version}, ",
                     "ovmf", "qemu-system-x86", "gnu-efi"])
    return [f"- QEMU: {run_text(['qemu-system-x86_64', '--version']) or 'unknown'}",
            f"- packages: {pkgs.rstrip(', ') or 'unknown'}",
            f"- compiler: {run_text(['gcc', '--version']) or 'unknown'}",
            f"- vqboot: git {run_text(['git', 'describe', '--always', '--dirty']) or 'unknown'}"]


def frag_summary(path):
    if not path or not os.path.exists(path):
        return "see scripts/mkbench.py"
    out = []
    for line in open(path):
        m = re.match(r"mkbench: /bench/(\S+): (\d+) bytes in (\d+) fragment", line)
        if m:
            n = int(m.group(3))
            out.append(f"{m.group(1)} {int(m.group(2)) / 1e6:.1f} MB in "
                       f"{n} fragment{'s' if n != 1 else ''}")
    return ", ".join(out)


def section(rep, rows, gpu, cond):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["## vqdiag bench", "",
             "Written by `scripts/bench.sh`; do not edit by hand.", "",
             f"- date: {now}; host: {os.cpu_count()} CPUs, load average "
             f"{cond['load_before']} before, {cond['load_after']} after (1, 5, 15 min)"]
    lines += versions()
    lines += [
        f"- timing: {rep['timing']} ({rep['tsc_per_us']} ticks/us)",
        f"- disk: one virtio-blk-pci device, raw image `{DRIVE_OPTS}`, `{DEVICE_OPTS}`; "
        "the firmware's BlockIo and FAT driver sit on that same device and vqboot "
        "takes it from them for its side (and gives it back after). The image was "
        f"read once before the run and is in the host's page cache (fincore: "
        f"{cond['fincore']} bytes resident / size)",
        f"- conditions as vqdiag printed them: `{rep['conditions']}`",
        f"- {rep['rounds']} rounds in one boot, ABBA: the side that goes first "
        "alternates with round and test; min / median / max over the rounds, "
        "ratio of the medians",
        "- passes: short tests are read several times in each round, each pass "
        "filled, timed and hashed on its own: "
        + ", ".join(f"{r['what']} x{r['firmware'].get('passes', 1)}" for r in rep["rows"]
                    if r["firmware"].get("passes", 1) > 1),
        f"- {rep['sequential_bytes'] >> 20} MiB per sequential test, "
        f"{rep['random_ops']} random 4 KiB reads; files opened and read in "
        f"{rep['file_chunk'] >> 20} MiB pieces as boot/load.c does, each side timing "
        "the same steps (open the volume: vqboot reads the partition table and "
        "mounts; open the file; read; close)",
        "- data: before each side the buffer is filled with a pattern of that side "
        "and round; after the timed reads the data is hashed (xxh64, not timed); "
        "both sides' hashes must equal the hash of the disk's known content "
        "(scripts/mkbench.py makes it from seeds) in every round, and vqboot must "
        "keep one request in flight in the one-at-a-time rows, or the row FAILs",
        f"- bench disk: {cond['frag']}",
        f"- GPU: {cond['gpu_boots']} boots of `vqdiag gpu`, 1280x800; per boot one figure "
        "per side (50 full frames, 200 strips); both sides must be in the same mode",
        "- qd: most requests in flight, as vqboot's driver counted them; the "
        "firmware's EFI_BLOCK_IO has one at a time", ""]
    lines += tables(rows, gpu) + targets(rows) + [""]
    lines += [not_ahead(rows, gpu), ""]
    s = rep["vqboot_stats"]
    lines += [f"vqboot's driver over the run: {s['requests']} requests, {s['bytes']} bytes "
              f"({s['bounced_bytes']} bounced), up to {s['max_inflight']} in flight; "
              f"{rep['failed_rows']} failed row(s)"
              + "".join(f"; round {f['round']} {f['test']} {f['side']}: {f['error']}"
                        for f in rep.get("failures", [])) + ".", ""]
    lines += ["QEMU command lines (disk bench, then GPU):", "", "```",
              cond["cmdline"], cond["gpu_cmdline"], "```"]
    return "\n".join(lines)


def replace_block(path, text, begin, end, title=None):
    """Put @text between the markers in @path; a file of the old one-section
    form (no markers at all) keeps only the other sections' blocks."""
    old = open(path).read() if os.path.exists(path) else ""
    block = f"{begin}\n{text}\n{end}"
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    elif title is not None:
        kept = [m.group(0) for m in re.finditer(r"<!-- (\S+):begin -->.*?<!-- \1:end -->",
                                                 old, re.S)]
        new = "\n\n".join([title, block] + kept) + "\n"
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(new)


def readme_block(rows, gpu):
    like = [r for r in rows if r["section"] == "like_for_like"]
    design = [r for r in rows if r["section"] == "design"]
    out = ["Latest `scripts/bench.sh` figures (conditions, versions, QEMU command "
           "line and the full tables in [bench/RESULTS.md](bench/RESULTS.md)); "
           "min / **median** / max over the rounds of one boot, ratio of the medians:", ""]
    for title, sel in (("Like for like, one request at a time on both sides", like),
                       ("What vqboot's design adds (qd: requests in flight, "
                        "firmware / vqboot)", design)):
        out += [f"**{title}**", ""] + HEAD + [row_line(r) for r in sel] + [""]
    out += ["**GPU**, the same work on both sides (copy the caller's frame, "
            "transfer, flush)", ""] + HEAD + [row_line(r) for r in gpu] + [""]
    out += targets(rows) + ["", not_ahead(rows, gpu)]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--disk", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--readme")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--gpu-boots", type=int, default=5)
    ap.add_argument("--frag", default="", help="mkbench.py's output: fragments per file")
    a = ap.parse_args()
    cond = {"load_before": loadavg(), "frag": frag_summary(a.frag),
            "gpu_boots": a.gpu_boots}
    cond["fincore"] = in_page_cache(a.disk)
    rep, cond["cmdline"] = run_bench(a.disk, a.rounds)
    gpu, cond["gpu_cmdline"] = run_gpu(a.gpu_boots)
    cond["load_after"] = loadavg()
    rows = disk_rows(rep)
    text = section(rep, rows, gpu, cond)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    replace_block(a.out, text, BEGIN, END, title="# vqboot benchmarks")
    if a.readme:
        replace_block(a.readme, readme_block(rows, gpu), README_BEGIN, README_END)
    print(text)
    failed = [r["test"] for r in rows + gpu if r["status"] != "ok"]
    if failed:
        print(f"bench: failed rows: {' '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
