#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The disk `vqdiag bench` reads, made without root (sfdisk, mkfs.fat, mtools).

GPT with two partitions:
  1. FAT32 (ESP type) holding /bench/kernel.bin and /bench/initrd.bin written
     contiguously, and /bench/kernfrag.bin and /bench/initfrag.bin written
     into the holes left by deleting every other one of many small files, so
     that their cluster chains run in pieces of --piece-kib.
  2. "vqbench-raw": random bytes for the raw sequential and random reads.

    scripts/mkbench.py OUT.img [--kernel-mib 8] [--initrd-mib 32]
                       [--raw-mib 72] [--piece-kib 32] [--cluster 4096]

Prints the fragment count of each file (read back from the FAT) and fails
when the contiguous files are not one run or the others are not fragmented.
"""
import argparse
import os
import struct
import subprocess
import tempfile

MIB = 1 << 20
ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
FILES = {"kernel.bin": "kernel", "initrd.bin": "initrd",
         "kernfrag.bin": "kernel", "initfrag.bin": "initrd"}


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def random_file(path, size, seed):
    """Deterministic pseudo-random bytes (different per file). `vqdiag bench`
    makes the same bytes from the same seeds (0x1000 + the file's place in
    FILES, 0x2000 for the raw partition) to check what both sides read:
    change them together (apps/vqdiag/diag_bench.c, expect_blocks)."""
    with open(path, "wb") as f:
        state = seed
        chunk = bytearray()
        for _ in range(4096 // 8):
            state = (state * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
            chunk += struct.pack("<Q", state)
        done = 0
        i = 0
        while done < size:
            n = min(len(chunk), size - done)
            # Vary every 4 KiB so no two blocks are equal.
            block = struct.pack("<QQ", seed, i) + chunk[16:n]
            f.write(block[:n])
            done += n
            i += 1


def fat_size(args):
    """A FAT32 partition big enough for the files, the holes between them and
    the 65525 clusters FAT32 needs at least."""
    files = 2 * (args.kernel_mib + args.initrd_mib) * MIB
    need = 2 * files + 8 * MIB
    least = 65600 * args.cluster + 4 * MIB
    return (max(need, least) + MIB - 1) // MIB


def free_bytes(img):
    out = subprocess.run(["mdir", "-i", img, "::/"], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "bytes free" in line:
            # "   34 567 890 bytes free": spaces group the thousands.
            return int(line.split("bytes free")[0].replace(" ", ""))
    raise RuntimeError("mdir did not say how much is free")


def make_fat(img, size_mb, args, tmp):
    run(["truncate", "-s", f"{size_mb}M", img])
    run(["mkfs.fat", "-F", "32", "-S", "512", "-s", str(args.cluster // 512),
         "-n", "VQBENCH", img])
    run(["mmd", "-i", img, "::/bench", "::/fill"])
    sizes = {"kernel": args.kernel_mib * MIB - 12345,
             "initrd": args.initrd_mib * MIB - 4321}
    src = {}
    for i, (name, kind) in enumerate(FILES.items()):
        src[name] = os.path.join(tmp, name)
        random_file(src[name], sizes[kind], 0x1000 + i)
    run(["mcopy", "-i", img, src["kernel.bin"], src["initrd.bin"], "::/bench/"])
    # Fill all but a little of the free space with small files, then free
    # every other one: the only room left is holes of one piece each.
    piece = args.piece_kib * 1024
    count = (free_bytes(img) - 2 * MIB) // piece
    fill = os.path.join(tmp, "fill")
    os.makedirs(fill)
    with open(os.path.join(tmp, "zero"), "wb") as f:
        f.write(b"\0" * piece)
    names = []
    for i in range(count):
        p = os.path.join(fill, f"f{i:05d}")
        os.link(os.path.join(tmp, "zero"), p)
        names.append(p)
    for i in range(0, len(names), 500):
        run(["mcopy", "-i", img] + names[i:i + 500] + ["::/fill/"])
    # Whatever is left at the end goes to one more file: new files must not
    # find room anywhere but in the holes.
    tail = free_bytes(img)
    if tail:
        with open(os.path.join(tmp, "tail"), "wb") as f:
            f.truncate(tail)
        run(["mcopy", "-i", img, os.path.join(tmp, "tail"), "::/bench/tail.bin"])
    gone = [f"::/fill/f{i:05d}" for i in range(0, count, 2)]
    for i in range(0, len(gone), 500):
        run(["mdel", "-i", img] + gone[i:i + 500])
    run(["mcopy", "-i", img, src["kernfrag.bin"], src["initfrag.bin"], "::/bench/"])
    return src


# ---- reading the FAT back ---------------------------------------------------

class Fat32:
    def __init__(self, img, offset):
        self.f = open(img, "rb")
        self.off = offset
        b = self.read(0, 512)
        self.bps, self.spc = struct.unpack_from("<HB", b, 11)
        rsvd, nfats = struct.unpack_from("<HB", b, 14)
        fatsz, = struct.unpack_from("<I", b, 36)
        self.root, = struct.unpack_from("<I", b, 44)
        self.csize = self.bps * self.spc
        self.fat_off = rsvd * self.bps
        self.data_off = (rsvd + nfats * fatsz) * self.bps
        self.fat = self.read(self.fat_off, fatsz * self.bps)

    def read(self, off, n):
        self.f.seek(self.off + off)
        return self.f.read(n)

    def chain(self, c):
        out = []
        while 2 <= c < 0x0FFFFFF8 and len(out) < 10**7:
            out.append(c)
            c = struct.unpack_from("<I", self.fat, 4 * c)[0] & 0x0FFFFFFF
        return out

    def entries(self, cluster):
        data = b"".join(self.read(self.data_off + (c - 2) * self.csize, self.csize)
                        for c in self.chain(cluster))
        for i in range(0, len(data), 32):
            e = data[i:i + 32]
            if e[0] == 0:
                break
            if e[0] == 0xE5 or e[11] == 0x0F:
                continue
            name = e[0:8].decode("latin-1").rstrip() + "." + e[8:11].decode("latin-1").rstrip()
            first = struct.unpack_from("<H", e, 20)[0] << 16 | struct.unpack_from("<H", e, 26)[0]
            yield name.rstrip("."), first, struct.unpack_from("<I", e, 28)[0]

    def lookup(self, path):
        c, size = self.root, 0
        for part in path.strip("/").split("/"):
            c, size = next((f, s) for n, f, s in self.entries(c) if n == part.upper())
        return c, size


def runs(chain):
    return 1 + sum(1 for a, b in zip(chain, chain[1:]) if b != a + 1)


def check(img, fat_offset):
    fat = Fat32(img, fat_offset)
    report = {}
    for name in FILES:
        first, size = fat.lookup("/bench/" + name)
        report[name] = (size, runs(fat.chain(first)))
    for name, (size, n) in report.items():
        print(f"mkbench: /bench/{name}: {size} bytes in {n} fragment(s)")
    if report["kernel.bin"][1] != 1 or report["initrd.bin"][1] != 1:
        raise SystemExit("mkbench: the contiguous files are fragmented")
    if report["kernfrag.bin"][1] < 8 or report["initfrag.bin"][1] < 8:
        raise SystemExit("mkbench: the fragmented files are not fragmented")
    return report


def build(out, args):
    fat_mb = fat_size(args)
    start = MIB
    raw_start = start + fat_mb * MIB
    total = raw_start + args.raw_mib * MIB + MIB
    run(["truncate", "-s", "0", out])
    run(["truncate", "-s", str(total), out])
    table = ("label: gpt\n"
             f"start={start // 512}, size={fat_mb * MIB // 512}, type={ESP}, name=\"vqbench-fat\"\n"
             f"start={raw_start // 512}, size={args.raw_mib * MIB // 512}, type={LINUX}, name=\"vqbench-raw\"\n")
    subprocess.run(["sfdisk", "--no-reread", "--no-tell-kernel", "-q", out],
                   input=table, text=True, check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        fat_img = os.path.join(tmp, "fat.img")
        make_fat(fat_img, fat_mb, args, tmp)
        run(["dd", f"if={fat_img}", f"of={out}", "bs=1M", f"seek={start // MIB}",
             "conv=notrunc,sparse", "status=none"])
        raw = os.path.join(tmp, "raw.bin")
        random_file(raw, args.raw_mib * MIB, 0x2000)
        run(["dd", f"if={raw}", f"of={out}", "bs=1M", f"seek={raw_start // MIB}",
             "conv=notrunc", "status=none"])
    return check(out, start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--kernel-mib", type=int, default=8)
    ap.add_argument("--initrd-mib", type=int, default=32)
    ap.add_argument("--raw-mib", type=int, default=72)
    ap.add_argument("--piece-kib", type=int, default=32)
    ap.add_argument("--cluster", type=int, default=4096)
    build(ap.parse_args().out, ap.parse_args())


if __name__ == "__main__":
    main()
