#!/bin/sh
# SPDX-License-Identifier: MIT
# Makes the streams tests/unit/test_decompress.c (and the fuzz seeds)
# decompress, into $1/decomp/: the inputs NAME.in, written here from seeded
# generators, and each compressed by the real tools: Python's zlib (zlib and
# raw deflate: stored, fixed, dynamic, Huffman-only, RLE, small windows),
# the zstd command (levels 1, 3, 19, 22 --ultra, --long, with and without
# checksum and content size, concatenated frames) and python3-lzo (LZO1X-1
# and LZO1X-999, the formats btrfs writes). A few zstd frames the command
# does not write (raw and RLE blocks, skippable frames) are put together
# here byte by byte.
#
# manifest lists one stream a line: CODEC COMPRESSED ORIGINAL, CODEC being
# zlib, deflate, zstd or lzo.
set -eu

out=$1/decomp
rm -rf "$out"
mkdir -p "$out"
py=/usr/bin/python3

# ---- inputs -----------------------------------------------------------------
"$py" - "$out" <<'EOF'
import random, struct, sys

out = sys.argv[1]
rnd = random.Random(12)

def text(n):
    words = ("the quick brown fox jumps over lazy dog boot loader kernel initrd "
             "entry volume partition extent inode btrfs subvolume checksum "
             "compress frame block literal sequence offset window").split()
    parts, size = [], 0
    while size < n:
        line = " ".join(rnd.choice(words) for _ in range(rnd.randrange(3, 14)))
        line = line.capitalize() + ".\n"
        parts.append(line)
        size += len(line)
    return "".join(parts).encode()[:n]

def structured(n):
    return b"".join(struct.pack("<IHBB", i * 2654435761 & 0xffffffff, i & 0xffff,
                                i % 7, 0) for i in range(n // 8 + 1))[:n]

def mixed(n):
    chunks = []
    size = 0
    kinds = ("text", "random", "zeros", "struct", "again", "run")
    while size < n:
        kind = rnd.choice(kinds)
        m = rnd.randrange(1, 40000)
        if kind == "text":
            c = text(m)
        elif kind == "random":
            c = rnd.randbytes(m)
        elif kind == "zeros":
            c = bytes(m)
        elif kind == "struct":
            c = structured(m)
        elif kind == "run":
            c = bytes([rnd.randrange(256)]) * m
        else:
            # A copy of something far back: long distances, --long matches.
            whole = b"".join(chunks)
            if not whole:
                continue
            start = rnd.randrange(len(whole))
            c = whole[start:start + m]
        chunks.append(c)
        size += len(c)
    return b"".join(chunks)[:n]

def repeat():
    block = rnd.randbytes(1000)
    return b"abcdefg" * 3000 + block * 300 + b"xy" * 5000

inputs = {
    "empty": b"",
    "one": b"A",
    "hello": b"hello, hello, hello world, hello boot loader\n",
    "page": text(2500) + structured(800) + bytes(300) + text(496),
    "text": text(200000),
    "random": rnd.randbytes(200000),
    "zeros": bytes(1 << 20),
    "repeat": repeat(),
    "mixed": mixed(1 << 20),
    "kernel": structured(300000) + text(300000) + rnd.randbytes(100000),
}
for name, data in inputs.items():
    with open("%s/%s.in" % (out, name), "wb") as f:
        f.write(data)
EOF

manifest=$out/manifest
: > "$manifest"
add() { echo "$1 $2 $3" >> "$manifest"; }

# ---- zlib and raw deflate ---------------------------------------------------
"$py" - "$out" <<'EOF'
import sys, zlib

out = sys.argv[1]
names = ("empty", "one", "hello", "page", "text", "random", "zeros", "repeat", "mixed",
         "kernel")
# variant: (level, wbits, strategy, flush between pieces)
variants = {
    "z0": (0, 15, zlib.Z_DEFAULT_STRATEGY, False),      # stored blocks
    "z1": (1, 15, zlib.Z_DEFAULT_STRATEGY, False),
    "z6": (6, 15, zlib.Z_DEFAULT_STRATEGY, False),
    "z9": (9, 15, zlib.Z_DEFAULT_STRATEGY, False),
    "fixed": (6, 15, zlib.Z_FIXED, False),              # fixed Huffman blocks
    "huff": (6, 15, zlib.Z_HUFFMAN_ONLY, False),
    "rle": (6, 15, zlib.Z_RLE, False),
    "w9": (9, 9, zlib.Z_DEFAULT_STRATEGY, False),        # 512-byte window
    "sync": (3, 15, zlib.Z_DEFAULT_STRATEGY, True),      # empty stored blocks
    "raw": (6, -15, zlib.Z_DEFAULT_STRATEGY, False),     # no zlib wrapper
    "raw1": (1, -15, zlib.Z_FIXED, False),
}
for level in range(2, 10):
    for mem in (1, 8):
        variants["l%dm%d" % (level, mem)] = (level, 15, zlib.Z_DEFAULT_STRATEGY, False)
with open(out + "/manifest", "a") as m:
    for name in names:
        data = open("%s/%s.in" % (out, name), "rb").read()
        for v, (level, wbits, strategy, sync) in variants.items():
            if v[0] == "l" and v[1].isdigit() and name not in ("page", "text"):
                continue
            mem = int(v.split("m")[1]) if v[0] == "l" and v[1].isdigit() else 9
            c = zlib.compressobj(level, zlib.DEFLATED, wbits, mem, strategy)
            if sync:
                z = b""
                for i in range(0, len(data), 4096):
                    z += c.compress(data[i:i + 4096]) + c.flush(zlib.Z_FULL_FLUSH)
                z += c.flush()
            else:
                z = c.compress(data) + c.flush()
            assert zlib.decompress(z, wbits) == data
            codec = "deflate" if wbits < 0 else "zlib"
            fn = "%s.%s.%s" % (name, v, codec)
            open("%s/%s" % (out, fn), "wb").write(z)
            m.write("%s %s %s.in\n" % (codec, fn, name))
EOF

# ---- zstd, written by the zstd command ----------------------------------------
for name in empty one hello page text random zeros repeat mixed kernel; do
	in=$out/$name.in
	for v in 1 3 19; do
		zstd -q -f -"$v" "$in" -o "$out/$name.l$v.zst"
		add zstd "$name.l$v.zst" "$name.in"
	done
	zstd -q -f --ultra -22 "$in" -o "$out/$name.l22.zst"
	add zstd "$name.l22.zst" "$name.in"
	zstd -q -f -3 --no-check "$in" -o "$out/$name.nocheck.zst"
	add zstd "$name.nocheck.zst" "$name.in"
	zstd -q -f -3 --no-content-size "$in" -o "$out/$name.nosize.zst"
	add zstd "$name.nosize.zst" "$name.in"
	# From a pipe: no content size, streaming blocks.
	zstd -q -c -5 < "$in" > "$out/$name.pipe.zst"
	add zstd "$name.pipe.zst" "$name.in"
	# What btrfs writes: a 128 KiB window, level 3.
	zstd -q -f -3 --zstd=wlog=17 "$in" -o "$out/$name.btrfs.zst"
	add zstd "$name.btrfs.zst" "$name.in"
done
for name in mixed kernel; do
	in=$out/$name.in
	zstd -q -f -19 --long=27 "$in" -o "$out/$name.long.zst"
	add zstd "$name.long.zst" "$name.in"
	zstd -q -f --ultra -22 --long=30 "$in" -o "$out/$name.ultralong.zst"
	add zstd "$name.ultralong.zst" "$name.in"
	zstd -q -f -1 --zstd=wlog=10,hlog=6,clog=6 "$in" -o "$out/$name.smallwin.zst"
	add zstd "$name.smallwin.zst" "$name.in"
done
# Every level, so that every match finder (fast to btultra2) is read.
for name in page text; do
	for v in 2 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 20 21; do
		zstd -q -f --ultra -"$v" "$out/$name.in" -o "$out/$name.sweep$v.zst"
		add zstd "$name.sweep$v.zst" "$name.in"
	done
done
# Two frames one after the other decompress to both contents.
cat "$out/text.l3.zst" "$out/random.nocheck.zst" "$out/hello.l19.zst" \
	> "$out/multi.zst"
cat "$out/text.in" "$out/random.in" "$out/hello.in" > "$out/multi.in"
add zstd multi.zst multi.in

# Frames put together by hand (RFC 8878 §3.1.1): raw, RLE and compressed
# blocks in one frame, a skippable frame before and after, and a
# single-segment frame with a 1-byte content size.
"$py" - "$out" <<'EOF'
import struct, subprocess, sys

out = sys.argv[1]

def block(last, btype, size, body):
    return struct.pack("<I", (size << 3) | (btype << 1) | last)[:3] + body

def skippable(n, payload):
    return struct.pack("<II", 0x184D2A50 + n, len(payload)) + payload

magic = struct.pack("<I", 0xFD2FB528)
raw1 = b"raw block, stored as is. " * 3
raw2 = bytes(range(256))
# No checksum, window descriptor present (not single segment): 1 MiB window.
fhd = bytes([0x00])
wd = bytes([(20 - 10) << 3])
frame = (magic + fhd + wd + block(0, 0, len(raw1), raw1) +
         block(0, 1, 5000, b"Q") + block(0, 0, len(raw2), raw2) +
         block(1, 1, 70000, b"\0"))
data = raw1 + b"Q" * 5000 + raw2 + bytes(70000)
# A compressed frame in the middle, from the zstd command.
comp = subprocess.run(["zstd", "-q", "-c", "-3"], input=b"compressed middle " * 100,
                      stdout=subprocess.PIPE, check=True).stdout
# Single segment, FCS_Field_Size 1 (flag 0), content size 3, with checksum.
body = b"abc"
ss = magic + bytes([0x20 | 0x04]) + bytes([3]) + block(1, 0, 3, body)
# XXH64 of "abc" with seed 0 (low 32 bits little-endian), from zstd itself.
ref = subprocess.run(["zstd", "-q", "-c", "-3", "--content-size"], input=body,
                     stdout=subprocess.PIPE, check=True).stdout
ss += ref[-4:]
stream = (skippable(0, b"skip me") + frame + skippable(15, bytes(100)) + comp +
          ss + skippable(3, b""))
open(out + "/blocks.zst", "wb").write(stream)
open(out + "/blocks.in", "wb").write(data + b"compressed middle " * 100 + body)
with open(out + "/manifest", "a") as m:
    m.write("zstd blocks.zst blocks.in\n")
EOF
# The hand-made stream must mean the same to the zstd command.
zstd -q -d -c "$out/blocks.zst" | cmp - "$out/blocks.in"

# ---- LZO1X, written by liblzo2 through python3-lzo ----------------------------
"$py" - "$out" <<'EOF'
import lzo, sys

out = sys.argv[1]
with open(out + "/manifest", "a") as m:
    for name in ("empty", "one", "hello", "page", "text", "random", "zeros", "repeat",
                 "mixed", "kernel"):
        data = open("%s/%s.in" % (out, name), "rb").read()
        for level in (1, 9):
            z = lzo.compress(data, level, False)
            assert lzo.decompress(z, False, len(data)) == data
            fn = "%s.x%d.lzo" % (name, level)
            open("%s/%s" % (out, fn), "wb").write(z)
            m.write("lzo %s %s.in\n" % (fn, name))
        # btrfs compresses 4 KiB pages one at a time.
        for i in range(0, min(len(data), 16384), 4096):
            z = lzo.compress(data[i:i + 4096], 1, False)
            fn = "%s.page%d.lzo" % (name, i // 4096)
            open("%s/%s" % (out, fn), "wb").write(z)
            open("%s/%s.page%d.in" % (out, name, i // 4096), "wb").write(data[i:i + 4096])
            m.write("lzo %s %s.page%d.in\n" % (fn, name, i // 4096))
EOF
echo "decomp: $(wc -l < "$manifest") streams"
