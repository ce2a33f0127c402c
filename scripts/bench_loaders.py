#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""vqboot against the loaders users would pick instead, on one disk.

One GPT disk with one FAT32 ESP holding Debian's kernel, one initrd and a
Boot Loader Specification entry (read by vqboot and systemd-boot alike);
only \\EFI\\BOOT\\BOOTX64.EFI differs between the loaders: vqboot,
systemd-boot (Debian's systemd-boot-efi) and GRUB (grub-mkstandalone from
Debian's grub-efi-amd64-bin, grub.cfg embedded, timeout 0, `linux` and
`initrd` from the same ESP). The initrd is a busybox initramfs followed by
an uncompressed cpio of random bytes, so that the whole file has the size
asked for and nothing compresses.

Times are taken on the host from the serial console: from OVMF's
`BdsDxe: starting Boot` line to the Linux EFI stub's first line (the
command line carries `hugepages=`, which the stub reports before anything
else, whoever started it). One VM at a time, the loaders in turn within
each round. In the guest the initramfs prints the size and MD5 of the
random file and the Boot Loader Interface variables; a boot whose file is
not the one on the disk, or that never reaches Linux, is a failed row.

    scripts/bench_loaders.py [--boots N] [--sizes 1,128] [--out FILE]
"""
import argparse
import hashlib
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TOP, "scripts"))
import mkdisk  # noqa: E402
from mkdisk import Part  # noqa: E402

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
SDBOOT = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"
BLI_GUID = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
# Linux's EFI stub reports hugepages= (it turns physical KASLR off) before
# it reads the initrd, whichever way it was entered; `quiet` would hide it.
CMDLINE = "console=ttyS0 loglevel=3 panic=-1 hugepages=1"
START = re.compile(rb"BdsDxe: starting Boot")
STUB = re.compile(rb"EFI stub: ")
UP = re.compile(rb"VQ-BENCH: up")
DONE = re.compile(rb"VQ-BENCH: done")
# The firmware gave up on the loader, or the loader on Linux.
FAIL = re.compile(rb"BdsDxe: failed to (load|start)|Shell> |Kernel panic|"
                  rb"vqboot: returning to the firmware")
ANSI = re.compile(r"\x1b\[[0-9;?=]*[A-Za-z]")
MEM_MB = 1024

INIT = """#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "VQ-BENCH: up"
if [ -e /vq-big.bin ]; then
	echo "VQ-BENCH: big $(wc -c < /vq-big.bin) $(md5sum < /vq-big.bin | cut -c1-32)"
else
	echo "VQ-BENCH: big missing"
fi
insmod /efivarfs.ko
if mount -t efivarfs efivarfs /sys/firmware/efi/efivars; then
	for v in /sys/firmware/efi/efivars/Loader*-""" + BLI_GUID + """; do
		[ -e "$v" ] && echo "VQ-EFIVAR: ${v##*/} $(dd if=$v bs=1 skip=4 2>/dev/null | tr -d '\\000')"
	done
fi
echo "VQ-BENCH: done"
poweroff -f
"""


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def cpio_newc(entries):
    """An uncompressed newc archive of (name, mode, data) with its trailer."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0, b"")], 1):
        nm = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08X}" for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nm), 0))
        out += hdr.encode() + nm
        out += b"\0" * (-len(out) % 4)
        out += data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def base_initramfs(kroot):
    """busybox, efivarfs.ko and the init above, xz-compressed (the
    kernel's own format for initramfs xz: CRC32 checks) so that a 1 MiB
    initrd has room for random bytes too."""
    kver = sorted(os.listdir(os.path.join(kroot, "lib/modules")))[0]
    with open("/bin/busybox", "rb") as f:
        bb = f.read()
    with open(os.path.join(kroot, "lib/modules", kver,
                           "kernel/fs/efivarfs/efivarfs.ko"), "rb") as f:
        efivarfs = f.read()
    ents = [("bin", 0o40755, b""), ("bin/busybox", 0o100755, bb)]
    for app in ("sh", "mount", "echo", "wc", "md5sum", "cut", "insmod", "dd",
                "tr", "poweroff"):
        ents.append((f"bin/{app}", 0o120777, b"busybox"))
    for d in ("proc", "sys", "dev"):
        ents.append((d, 0o40755, b""))
    ents += [("efivarfs.ko", 0o100644, efivarfs), ("init", 0o100755, INIT.encode())]
    return subprocess.run(["xz", "--check=crc32", "-9", "-c"], input=cpio_newc(ents),
                          capture_output=True, check=True).stdout


def make_initrd(path, size, kroot):
    """An initrd of exactly @size bytes: the base initramfs, then a cpio
    holding /vq-big.bin of random bytes. Returns (len, md5) of that file."""
    base = base_initramfs(kroot)
    base += b"\0" * (-len(base) % 4)
    overhead = len(cpio_newc([("vq-big.bin", 0o100644, b"")]))
    n = size - len(base) - overhead
    if n < 4096:
        raise SystemExit(f"bench-loaders: an initrd of {size} bytes cannot hold "
                         f"the {len(base)}-byte base initramfs")
    n -= n % 4
    big = os.urandom(n)
    data = base + cpio_newc([("vq-big.bin", 0o100644, big)])
    data += b"\0" * (size - len(data))
    with open(path, "wb") as f:
        f.write(data)
    return n, hashlib.md5(big).hexdigest()


GRUB_CFG = """set timeout=0
search --no-floppy --file --set=root /vq-bench.tag
linuxefi /vmlinuz {cmdline}
initrdefi /initrd.img
boot
"""
GRUB_MODULES = "part_gpt fat search search_fs_file linux linuxefi normal echo"


def make_grub(path, work):
    cfg = os.path.join(work, "grub.cfg")
    with open(cfg, "w") as f:
        f.write(GRUB_CFG.format(cmdline=CMDLINE))
    run(["grub-mkstandalone", "-O", "x86_64-efi", "-o", path,
         f"--modules={GRUB_MODULES}", f"--install-modules={GRUB_MODULES}",
         "--locales=", "--fonts=", "--themes=", f"boot/grub/grub.cfg={cfg}"])
    return path


def make_disk(path, vmlinuz, initrd, loader):
    size_mb = (os.path.getsize(vmlinuz) + os.path.getsize(initrd)) // (1 << 20) + 48
    entry = (f"title bench\nlinux /vmlinuz\ninitrd /initrd.img\n"
             f"options {CMDLINE}\n").encode()
    esp = Part("esp", "fat32", size_mb, label="ESP", files={
        "/EFI/BOOT/BOOTX64.EFI": loader,
        "/vmlinuz": vmlinuz, "/initrd.img": initrd,
        "/vq-bench.tag": b"vqboot bench-loaders\n",
        "/loader/loader.conf": b"timeout 0\ndefault bench\n",
        "/loader/entries/bench.conf": entry})
    mkdisk.build_disk(path, [esp])


def put_loader(base, path, loader):
    """A copy of @base where only \\EFI\\BOOT\\BOOTX64.EFI is @loader."""
    run(["cp", "--sparse=always", base, path])
    run(["mcopy", "-o", "-i", f"{path}@@1M", loader, "::/EFI/BOOT/BOOTX64.EFI"])


def qemu_cmd(disk, vars_fd):
    return ["qemu-system-x86_64", "-M", "q35", "-accel", "tcg",
            "-cpu", "qemu64,-hypervisor", "-m", str(MEM_MB), "-mem-prealloc",
            "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", "stdio",
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vars_fd}",
            "-drive", f"if=none,id=vd0,format=raw,file={disk}",
            "-device", "virtio-blk-pci,drive=vd0"]


def boot(disk, log_path, timeout):
    """Boot once; returns (log text, {event: host seconds})."""
    with tempfile.TemporaryDirectory() as tmp:
        vars_fd = os.path.join(tmp, "vars.fd")
        shutil.copy(OVMF_VARS, vars_fd)
        raw, marks, stamps = b"", {"launch": time.monotonic()}, []
        proc = subprocess.Popen(qemu_cmd(disk, vars_fd), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([proc.stdout], [], [], 0.1)
                if not r:
                    if proc.poll() is not None:
                        break
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                now = time.monotonic()
                if not chunk:
                    break
                tail = len(raw)
                raw += chunk
                for _ in range(chunk.count(b"\n")):
                    stamps.append(now)
                # Search from a little before the new bytes: a line may
                # arrive in pieces; its time is when it is complete.
                win = raw[max(0, tail - 256):]
                for name, pat in (("start", START), ("stub", STUB), ("up", UP), ("done", DONE),
                                  ("fail", FAIL)):
                    if name not in marks and pat.search(win):
                        marks[name] = now
                if "done" in marks or "fail" in marks:
                    if not raw.endswith(b"\n"):
                        stamps.append(now)  # the marker's line, not yet ended
                    break
        finally:
            proc.kill()
            proc.wait()
    text = ANSI.sub("", raw.decode("latin-1")).replace("\r", "")
    with open(log_path, "w") as f:
        f.write(text)
    # Where the time goes: each line with the host's time of its arrival,
    # in ms from the firmware's hand-over.
    t0 = marks.get("start", marks["launch"])
    lines = raw.split(b"\n")
    with open(log_path + ".times", "w") as f:
        for t, line in zip(stamps, lines):
            s = ANSI.sub("", line.decode("latin-1")).strip()
            if s:
                f.write(f"{(t - t0) * 1000:9.1f} {s}\n")
    return text, marks


def check_boot(text, marks, want_len, want_md5):
    """One row's outcome: (ok, reason, ms from hand-over to the stub and to
    Linux's init, BLI)."""
    bli = {m.group(1): m.group(2) for m in
           re.finditer(r"VQ-EFIVAR: (Loader\w+)-" + BLI_GUID + r" (.*)", text)}
    if "start" not in marks:
        why = "the firmware could not load the loader" if "fail" in marks else \
            "no BdsDxe start line"
        return False, why, None, bli
    if "stub" not in marks:
        return False, "Linux's EFI stub never ran", None, bli
    ms = ((marks["stub"] - marks["start"]) * 1000,
          (marks["up"] - marks["start"]) * 1000 if "up" in marks else None)
    if "done" not in marks:
        return False, "the initramfs did not finish in time", ms, bli
    m = re.search(r"VQ-BENCH: big (\d+) ([0-9a-f]{32})", text)
    if not m:
        return False, "the initrd's file is missing in Linux", ms, bli
    if int(m.group(1)) != want_len or m.group(2) != want_md5:
        return False, (f"initrd file {m.group(1)} bytes md5 {m.group(2)}, "
                       f"want {want_len} bytes md5 {want_md5}"), ms, bli
    return True, "", ms, bli


def bli_ms(bli):
    """(init ms, exec ms) where the loader set them."""
    try:
        return (int(bli["LoaderTimeInitUSec"]) / 1000,
                int(bli["LoaderTimeExecUSec"]) / 1000)
    except (KeyError, ValueError):
        return None


class Row:
    def __init__(self, loader, size_mb):
        self.loader, self.size_mb = loader, size_mb
        self.ms, self.init_ms, self.bli, self.failures = [], [], [], []
        self.boots = []  # (host marks, BLI variables) of every boot

    @property
    def failed(self):
        return bool(self.failures) or not self.ms

    def add(self, ok, reason, ms, bli, log_path, marks=None):
        self.boots.append((marks or {}, bli))
        if not ok:
            self.failures.append(f"{reason} ({log_path})")
            return
        self.ms.append(ms[0])
        self.init_ms.append(ms[1])
        b = bli_ms(bli)
        if b:
            self.bli.append(b)


def spread(v):
    return statistics.median(v), min(v), max(v)


def prepare(work, sizes, loaders, kroot=None):
    """Disks per initrd size and loader: {(size_mb, loader): (disk, len, md5)}."""
    kroot = kroot or mkdisk.kernel_root()
    vmlinuz, _ = mkdisk.kernel_path(kroot)
    disks = {}
    for size_mb in sizes:
        rd = os.path.join(work, f"initrd-{size_mb}M.img")
        n, md5 = make_initrd(rd, size_mb << 20, kroot)
        base = os.path.join(work, f"disk-{size_mb}M.img")
        make_disk(base, vmlinuz, rd, loaders[next(iter(loaders))])
        os.unlink(rd)
        for name, efi in loaders.items():
            disk = os.path.join(work, f"disk-{size_mb}M-{name}.img")
            put_loader(base, disk, efi)
            disks[(size_mb, name)] = (disk, n, md5)
        os.unlink(base)
    return disks


def measure(work, disks, loaders, sizes, boots, timeout=None, progress=print):
    rows = {k: Row(k[1], k[0]) for k in disks}
    for size_mb in sizes:
        names = list(loaders)
        for b in range(boots):
            # The loaders in turn, the first one moving each round, so that
            # a change in the host's load falls on all of them alike.
            for name in names[b % len(names):] + names[:b % len(names)]:
                disk, n, md5 = disks[(size_mb, name)]
                log = os.path.join(work, f"boot-{size_mb}M-{name}-{b}.log")
                # Linux checks the whole file: slow for 128 MiB on a busy host.
                text, marks = boot(disk, log, timeout or 120 + 2 * size_mb)
                ok, reason, ms, bli = check_boot(text, marks, n, md5)
                rows[(size_mb, name)].add(ok, reason, ms, bli, log, marks)
                progress(f"bench-loaders: {name:12} {size_mb:4} MiB boot {b + 1}: " +
                         (f"{ms[0]:.0f} ms to the stub, {ms[1]:.0f} ms to init"
                          if ok else f"FAILED: {reason}"))
    return rows


def fmt_ms(v):
    return f"{v:,.0f}"


def table(rows, loaders, sizes):
    """The Markdown table: one row per loader and initrd size."""
    lines = ["| loader | initrd | boots | hand-over to EFI stub, ms: median (min-max) "
             "| vs vqboot | to Linux's init, ms: median | BLI Exec - Init, ms: median "
             "| BLI / outside |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size_mb in sizes:
        ref = rows.get((size_mb, "vqboot"))
        ref_med = spread(ref.ms)[0] if ref and not ref.failed else None
        for name in loaders:
            r = rows[(size_mb, name)]
            label = f"{size_mb} MiB"
            if r.failed:
                lines.append(f"| {name} | {label} | {len(r.ms) + len(r.failures)} | "
                             f"FAILED: {r.failures[0] if r.failures else 'no boot'} "
                             "| | | | |")
                continue
            med, lo, hi = spread(r.ms)
            ratio = f"{med / ref_med:.2f}x" if ref_med else ""
            if r.bli:
                d = statistics.median(e - i for i, e in r.bli)
                bli, cover = fmt_ms(d), f"{100 * d / med:.0f}%"
            else:
                bli, cover = "not set", ""
            init = fmt_ms(statistics.median(r.init_ms))
            lines.append(f"| {name} | {label} | {len(r.ms)} | {fmt_ms(med)} "
                         f"({fmt_ms(lo)}-{fmt_ms(hi)}) | {ratio} | {init} | {bli} "
                         f"| {cover} |")
    return "\n".join(lines)


# vqboot's own serial lines that end each phase of its part of the boot.
PHASES = [("entry, gnu-efi set-up, clock calibration", r"vqboot \S+: clock \d+ ticks/us"),
          ("find the virtio devices, take the disk from the firmware",
           r"taken from the firmware"),
          ("start its driver, partitions, file systems, entries", r"vqboot: booting"),
          ("read kernel and initrd", r"vqboot: loaded"),
          ("LoadImage of the kernel, reset and give the devices back",
           r"every device reset and given back|disks kept to read the initrds"),
          ("StartImage to the stub's first line", r"EFI stub: ")]


def phase_ms(times_path):
    """[ms of each phase] from one boot's .times file, or None."""
    with open(times_path) as f:
        lines = [(float(l.split(None, 1)[0]), l.split(None, 1)[1]) for l in f
                 if len(l.split(None, 1)) == 2]
    out, last = [], 0.0
    for _, pat in PHASES:
        t = next((t for t, s in lines if t >= last and re.search(pat, s)), None)
        if t is None:
            return None
        out.append(t - last)
        last = t
    return out


def phases_table(work, names, sizes, boots):
    """Median ms per phase of vqboot's part, from the boots' serial lines."""
    cols = [(n, s) for s in sizes for n in names]
    lines = ["| phase (host ms, median) | " +
             " | ".join(f"{n}, {s} MiB" for n, s in cols) + " |",
             "| --- |" + " ---: |" * len(cols)]
    per = {}
    for n, s in cols:
        paths = [os.path.join(work, f"boot-{s}M-{n}-{b}.log.times") for b in range(boots)]
        got = [g for g in (phase_ms(x) for x in paths if os.path.exists(x)) if g]
        per[(n, s)] = [statistics.median(g[i] for g in got) if got else None
                       for i in range(len(PHASES))]
    for i, (title, _) in enumerate(PHASES):
        lines.append(f"| {title} | " + " | ".join(
            fmt_ms(per[c][i]) if per[c][i] is not None else "" for c in cols) + " |")
    return "\n".join(lines)


def versions():
    def pkg(p):
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", p],
                           capture_output=True, text=True)
        return r.stdout.strip() or "?"
    q = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                       text=True).stdout.splitlines()[0]
    return (f"{q}; OVMF {pkg('ovmf')}; systemd-boot-efi {pkg('systemd-boot-efi')}; "
            f"grub-efi-amd64-bin {pkg('grub-efi-amd64-bin')}")


def section(rows, loaders, sizes, boots, kver, load_before, load_after, work):
    return "\n".join([
        "## loaders",
        "",
        "Generated by `scripts/bench-loaders.sh`. One GPT disk, one FAT32 ESP "
        "with Debian's kernel " + kver + ", one initrd and one BLS entry; only "
        "`\\EFI\\BOOT\\BOOTX64.EFI` differs. GRUB is `grub-mkstandalone` "
        "(modules " + GRUB_MODULES + ", grub.cfg embedded: `linux`, `initrd`, "
        "`boot`, timeout 0); systemd-boot and vqboot read `loader.conf` "
        "(timeout 0) and the entry.",
        "",
        f"- {versions()}",
        "- QEMU: TCG, q35, `-cpu qemu64,-hypervisor`, `-m " + str(MEM_MB) +
        " -mem-prealloc`, virtio-blk-pci on a raw image in the host's page cache "
        "(default cache mode), one VM at a time",
        "- initrd: a busybox initramfs (gzip) followed by an uncompressed cpio of "
        "random bytes, the file exactly 1 MiB or 128 MiB; every boot's Linux "
        "printed the random file's size and MD5 and both matched the disk's",
        "- time: on the host, from the serial line `BdsDxe: starting Boot` to the "
        "kernel EFI stub's first line (`EFI stub: ...`, printed because the "
        "command line has `hugepages=`): the loader's whole part, including the "
        "firmware's LoadImage of the kernel; vqboot reads the initrd later, "
        "straight into the buffer of the stub's LoadFile2 call, so for it this "
        "column holds the kernel's read and not the initrd's",
        "- to Linux's init: the same start to the initramfs's first line (the "
        "stub's LoadFile2 call, decompression and the kernel's start included): "
        "the column that compares the loaders' whole work",
        "- BLI: `LoaderTimeExecUSec - LoaderTimeInitUSec` as Linux read them "
        "from efivarfs; BLI / outside is that share of the host-measured time",
        f"- {boots} boots per row, the loaders in turn within a round; host load "
        f"average {load_before} before, {load_after} after (2 cores shared with "
        "other work: the absolute figures move, compare within one table)",
        "",
        table(rows, loaders, sizes),
        "",
        "Where vqboot's part goes, from the host's arrival time of its own serial "
        "lines (each phase ends with the line that reports it):",
        "",
        phases_table(work, [n for n in loaders if n.startswith("vqboot")], sizes, boots),
        ""])


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def replace_section(path, text, begin="<!-- loaders:begin -->",
                    end="<!-- loaders:end -->", after=None):
    """Put @text between the markers in @path; when they are absent, after
    the line holding @after, or else at the end."""
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    block = f"{begin}\n{text}\n{end}"
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    elif after and after in old:
        i = old.index("\n", old.index(after)) + 1
        new = old[:i] + "\n" + block + "\n" + old[i:]
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + block + "\n"
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boots", type=int, default=5)
    ap.add_argument("--sizes", default="1,128", help="initrd sizes in MiB")
    ap.add_argument("--work", default=os.path.join(TOP, "build", "bench-loaders"))
    ap.add_argument("--out", default=os.path.join(TOP, "bench", "RESULTS.md"))
    ap.add_argument("--readme", default=os.path.join(TOP, "README.md"))
    ap.add_argument("--loader", action="append", default=[], metavar="NAME=EFI",
                    help="another loader to compare (e.g. an older vqboot build)")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    os.makedirs(a.work, exist_ok=True)
    loaders = {"vqboot": os.path.join(TOP, "build", "vqboot.efi"),
               "systemd-boot": SDBOOT,
               "GRUB": make_grub(os.path.join(a.work, "grubx64.efi"), a.work)}
    for spec in a.loader:
        name, _, path = spec.partition("=")
        loaders[name] = os.path.abspath(path)
    kroot = mkdisk.kernel_root()
    kver = mkdisk.kernel_path(kroot)[1]
    load_before = loadavg()
    disks = prepare(a.work, sizes, loaders, kroot)
    rows = measure(a.work, disks, loaders, sizes, a.boots)
    text = section(rows, loaders, sizes, a.boots, kver, load_before, loadavg(), a.work)
    print(text)
    replace_section(a.out, text)
    if a.readme:
        replace_section(a.readme, after="<!-- bench:end -->", text=(
            "Loaders on one disk (`scripts/bench-loaders.sh`, conditions in "
            f"[bench/RESULTS.md](bench/RESULTS.md); {a.boots} boots per row; vqboot "
            "reads the initrd inside the stub's LoadFile2 call, after the stub's "
            "first line, so the column to compare the whole work by is \"to "
            "Linux's init\"):\n\n" + table(rows, loaders, sizes)))
    for d, _, _ in disks.values():
        os.unlink(d)
    return 1 if any(r.failed for r in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
