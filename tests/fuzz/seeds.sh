#!/bin/sh
# SPDX-License-Identifier: MIT
# Makes the seed corpora for the libFuzzer targets in tests/fuzz, into
# $1/<target>/ (default build/fuzz/seeds). Nothing here is committed: seeds
# come from
#   - the unit-test images (tests/unit/images/mk_*.sh, generated into
#     build/host/images by tests/unit/run.sh; made here if missing), cut to
#     the target's -max_len where they are larger (a slice still holds the
#     tables, superblocks and first directories the parsers start from);
#   - the compressed streams of mk_decomp.sh that fit a 4 KiB input;
#   - small volumes made here with sfdisk, mkfs.fat, mtools and mke2fs -d, so
#     that mutations reach past the metadata into directories and files
#     (XFS, which mkfs.xfs makes no smaller than 300 MB, from the heads of
#     tests/unit/images/mk_xfs.sh's seed images);
#   - BLS entries and loader.conf files written here;
#   - the first 64 KiB of the kernel scripts/kernel.sh cached, if present,
#     and of build/vqboot.efi, if built;
#   - synthetic inputs for the device-model targets, in their input formats.
# The corpora are remade only when this script or the test images change
# (stamp files), or when FUZZ_SEEDS_FORCE is set.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:-$top/build/fuzz/seeds}
images=${VQ_TEST_IMAGES:-$top/build/host/images}
cache=${VQ_CACHE:-$top/cache}
stamp=$out/.stamp
export MTOOLS_SKIP_CHECK=1 LC_ALL=C

if [ -e "$stamp" ] && [ ! "$here/seeds.sh" -nt "$stamp" ] &&
   [ -z "${FUZZ_SEEDS_FORCE:-}" ] &&
   [ -z "$(find "$images" -maxdepth 1 -name '.*.stamp' -newer "$stamp" 2>/dev/null)" ]; then
	exit 0
fi
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
# The trap runs under set -e: an umount of nothing mounted must not fail the run.
trap 'umount "$work/mnt" 2>/dev/null || :; rm -rf "$work"' EXIT

# The unit-test images: the same generators and stamps as tests/unit/run.sh.
# Without them the seeds would be silently thin: that is a failure.
if ! sh "$top/tests/unit/run.sh" > "$work/images.log" 2>&1; then
	echo "error: unit-test images not made, so the fuzz seeds cannot be:" >&2
	tail -5 "$work/images.log" >&2
	exit 1
fi

# slice DIR NAME FILE BYTES [SKIP]: BYTES of FILE (from byte SKIP) as a seed.
slice() {
	[ -e "$3" ] || { echo "error: seed source $3 is missing" >&2; exit 1; }
	mkdir -p "$out/$1"
	dd if="$3" of="$out/$1/$2" bs=4096 skip=$((${5:-0} / 4096)) \
		count=$(($4 / 4096)) status=none
}

# ---- fuzz_part: whole disks of 512-byte and 4096-byte blocks ----------------
d=$out/fuzz_part
mkdir -p "$d"
for img in "$images"/pf_gpt512*.img "$images"/pf_mbr.img "$images"/pf_gpt4k*.img; do
	[ -e "$img" ] || continue
	slice fuzz_part "$(basename "$img" .img)" "$img" 65536
done
truncate -s 64K "$d/gpt"
printf 'label: gpt\nfirst-lba: 34\n,16\n,16\n' | sfdisk -q "$d/gpt" >/dev/null
truncate -s 64K "$d/mbr"
printf 'label: dos\n1,10,ef\n11,80,5\n12,4,83\n20,4,ea\n' |
	sfdisk -q "$d/mbr" >/dev/null
truncate -s 64K "$d/gpt4k"
printf '%s\n' g n 1 6 +16K w | fdisk -b 4096 "$d/gpt4k" >/dev/null 2>&1 ||
	rm -f "$d/gpt4k"
head -c 4096 /dev/zero > "$d/zero"

# ---- fuzz_fat: whole FAT volumes --------------------------------------------
d=$out/fuzz_fat
mkdir -p "$d" "$work/ft/Sub"
slice fuzz_fat fat12 "$images/pf_fat12.img" 2097152
slice fuzz_fat fat12_loop "$images/pf_fat12_loop.img" 2097152
slice fuzz_fat fat16_head "$images/pf_fat16.img" 262144
slice fuzz_fat fat32_head "$images/pf_fat32.img" 1048576
echo hi > "$work/ft/hello.txt"
seq 1 900 > "$work/ft/Sub/Numbers.Long.Name"
mkfs.fat -C -F 12 -s 1 -r 32 "$d/f12" 128 >/dev/null
mkfs.fat -C -F 16 -s 1 -r 32 "$d/f16" 2100 >/dev/null
for f in f12 f16; do
	mcopy -s -i "$d/$f" "$work/ft/hello.txt" "$work/ft/Sub" ::
done

# ---- fuzz_ext4: whole ext2/3/4 volumes --------------------------------------
d=$out/fuzz_ext4
mkdir -p "$d" "$work/t/d"
for n in ext4_1k ext4_1k_htree ext4_inline ext4_noext ext2_rev0 ext4_bad_depth \
	 ext4_bad_extent ext4; do
	slice fuzz_ext4 "$n" "$images/$n.img" 262144
done
echo hi > "$work/t/f"
ln -sf f "$work/t/l"
echo deep > "$work/t/d/g"
for o in "-t ext4" "-t ext2" "-t ext4 -O inline_data" "-t ext4 -O ^extent,^64bit"; do
	n=$d/small_$(echo "$o" | tr -dc a-z0-9)
	truncate -s 256K "$n"
	# shellcheck disable=SC2086 # $o is a list of options
	mke2fs -q -F -b 1024 -N 32 -O ^has_journal $o -d "$work/t" "$n" \
		>/dev/null 2>&1 || rm -f "$n"
done
# fuzz_ext4's disk reads zeros past its input: the trailing zeros go, and
# libFuzzer no longer copies and mutates them every run.
"${PYTHON:-python3}" - "$d"/* <<'EOF'
import sys
for p in sys.argv[1:]:
    data = open(p, "rb").read()
    open(p, "wb").write(data.rstrip(b"\0") or b"\0")
EOF

# ---- fuzz_btrfs: btrfs images as sparse disks ------------------------------
# fuzz_btrfs reads records of (le32 page number, le16 length, bytes of the
# page; the rest of it is zeros). A seed holds an image's superblock, then
# the blocks of the trees vqboot reads (root, chunk, FS trees), then file
# data, within 96 KiB (-max_len is 128 KiB); other trees are left out.
d=$out/fuzz_btrfs
mkdir -p "$d" "$work/bt/d" "$work/bt/sub" "$work/bt/boot"
btrfs_seed() {
	"${PYTHON:-python3}" - "$1" "$2" <<'EOF'
import sys
img, dst = sys.argv[1], sys.argv[2]
data = open(img, "rb").read(80 << 20)
fsid = data[0x10020:0x10030]
zero = bytes(4096)
meta, rest = [], []
for i in range(0, len(data), 4096):
    page = data[i:i + 4096]
    if page == zero:
        continue
    (meta if i == 0x10000 or page[32:48] == fsid else rest).append(i // 4096)
def read_by_vqboot(p):
    owner = int.from_bytes(data[p * 4096 + 0x58:p * 4096 + 0x60], "little")
    return p * 4096 == 0x10000 or owner in (1, 3, 5) or 256 <= owner < 1 << 48
out = b""
for p in [p for p in meta if read_by_vqboot(p)] + rest:
    page = data[p * 4096:p * 4096 + 4096].rstrip(b"\0")
    rec = p.to_bytes(4, "little") + len(page).to_bytes(2, "little") + page
    if len(out) + len(rec) > 98304:
        break
    out += rec
open(dst, "wb").write(out)
EOF
}
echo hi > "$work/bt/f"
ln -sf f "$work/bt/l"
echo deep > "$work/bt/d/g"
seq 1 2000 > "$work/bt/sub/f"
seq 1 3000 > "$work/bt/boot/k"
for o in "-M" "-m single" "-m dup"; do
	n=$work/btrfs_$(echo "$o" | tr -dc a-zA-Z)
	truncate -s 16M "$n"
	# shellcheck disable=SC2086 # $o is a list of options
	mkfs.btrfs -q -f -n 4096 $o --rootdir "$work/bt" --shrink "$n" >/dev/null
	btrfs_seed "$n" "$d/$(basename "$n")"
	rm -f "$n"
done
# Compressed extents and a subvolume come from the kernel (a loop mount, as
# root, as for the unit-test images).
for alg in zstd lzo zlib; do
	n=$work/btrfs_$alg
	truncate -s 16M "$n"
	mkfs.btrfs -q -f -M -n 4096 "$n" >/dev/null 2>&1
	mkdir -p "$work/mnt"
	mount -o loop,compress-force=$alg "$n" "$work/mnt" ||
		{ echo "error: fuzz_btrfs seeds need a loop mount (root)" >&2; exit 1; }
	btrfs -q subvolume create "$work/mnt/@" >/dev/null
	cp -a "$work/bt/boot" "$work/mnt/@/"
	cp -a "$work/bt/f" "$work/bt/l" "$work/bt/d" "$work/bt/sub" "$work/mnt/"
	umount "$work/mnt"
	btrfs_seed "$n" "$d/kernel_$alg"
	rm -f "$n"
done
for n in btrfs_4k btrfs_mixed btrfs_kplain btrfs_zstd btrfs_bad_item; do
	[ -e "$images/$n.img" ] ||
		{ echo "error: seed source $images/$n.img is missing" >&2; exit 1; }
	btrfs_seed "$images/$n.img" "$d/$n"
done

# ---- fuzz_xfs: heads of XFS images -------------------------------------------
# xfs_seed_*.img keep every directory shape but node, extent lists, a B+tree
# and both kinds of symlink in their first 56-160 KiB (X.head says how
# many); the harness reads zeros past the input, so a head mounts as the
# whole 320 MiB filesystem.
for n in v5 v4 ci nrext64 4kn; do
	h=$images/xfs_seed_$n.img.head
	if [ -e "$h" ]; then
		slice fuzz_xfs "seed_$n" "$images/xfs_seed_$n.img" "$(cat "$h")"
	fi
done

# ---- fuzz_bls: BLS entries and loader.conf files ----------------------------
d=$out/fuzz_bls
mkdir -p "$d"
printf 'title Debian GNU/Linux\nversion 6.1.0-13-amd64\nmachine-id 0123456789abcdef0123456789abcdef\nsort-key debian\nlinux /vmlinuz-6.1.0-13-amd64\ninitrd /initrd.img-6.1.0-13-amd64\noptions root=UUID=1234 ro quiet\narchitecture x64\n' > "$d/entry"
printf '# comment\n\ntitle  "quoted"  \t\nlinux\t/k\ninitrd /i1\ninitrd /i2\noptions a=b\noptions c="d e"\ndevicetree /dtb\nefi /EFI/x.efi\n' > "$d/entry_multi"
printf 'title no newline at the end\nlinux /k' > "$d/entry_nonl"
printf 'title T\r\nversion 1.2~rc3-4+b1\r\nlinux /k\r\n' > "$d/entry_crlf"
printf 'timeout 3\ndefault deb*\neditor no\nauto-entries yes\nconsole-mode max\n' > "$d/conf"
printf 'timeout menu-force\ndefault @saved\nrandom-seed-mode off\n' > "$d/conf2"
printf 'root=/dev/vda2 ro console=ttyS0,115200 "quoted arg" initrd=\\x quiet -- single\n' > "$d/options"
cp "$images/pf_tree/loader/entries/"*.conf "$d/" 2>/dev/null || :

# ---- fuzz_pe: kernel and EFI application headers ----------------------------
d=$out/fuzz_pe
mkdir -p "$d"
for k in "$cache"/kernel/root/boot/vmlinuz-*; do
	[ -e "$k" ] && head -c 65536 "$k" > "$d/linux" && break
done
[ -e "$top/build/vqboot.efi" ] && head -c 65536 "$top/build/vqboot.efi" > "$d/vqboot"

# ---- fuzz_inflate, fuzz_zstd, fuzz_lzo: streams the real tools wrote ---------
# (tests/unit/images/mk_decomp.sh), those that fit the 4 KiB -max_len.
while read -r codec comp _; do
	case $codec in
	zlib | deflate) t=fuzz_inflate ;;
	zstd) t=fuzz_zstd ;;
	lzo) t=fuzz_lzo ;;
	*) continue ;;
	esac
	f=$images/decomp/$comp
	[ -e "$f" ] && [ "$(stat -c %s "$f")" -le 4096 ] || continue
	mkdir -p "$out/$t"
	cp "$f" "$out/$t/$comp"
done < "$images/decomp/manifest" 2>/dev/null || :

# ---- fuzz_uki: unified kernel images and os-release files -------------------
d=$out/fuzz_uki
mkdir -p "$d"
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n' > "$work/osrel"
cat > "$d/osrel_fedora" <<'EOS'
NAME='Fedora Linux'
IMAGE_ID=fedora-cloud
IMAGE_VERSION=39.1
BUILD_ID="b\"1 \$x"
# comment
EOS
cp "$work/osrel" "$d/osrel_debian"
printf 'console=ttyS0 quiet\n' > "$work/cmdline"
printf '6.1.0-13-amd64' > "$work/uname"
head -c 2048 /dev/zero > "$work/linux"
printf 'HdrS' | dd of="$work/linux" bs=1 seek=514 conv=notrunc status=none
if [ -e "$stub" ] && command -v objcopy > /dev/null; then
	objcopy --add-section .osrel="$work/osrel" --change-section-vma .osrel=0x20000 \
		--add-section .cmdline="$work/cmdline" --change-section-vma .cmdline=0x30000 \
		--add-section .uname="$work/uname" --change-section-vma .uname=0x50000 \
		--add-section .linux="$work/linux" --change-section-vma .linux=0x2000000 \
		--add-section .initrd="$work/cmdline" --change-section-vma .initrd=0x3000000 \
		--strip-all "$stub" "$d/uki" || rm -f "$d/uki"
	objcopy --add-section .linux="$work/linux" --change-section-vma .linux=0x2000000 \
		--strip-all "$stub" "$d/uki_bare" || rm -f "$d/uki_bare"
	objcopy --strip-all "$stub" "$d/stub" || rm -f "$d/stub"
fi

# ---- fuzz_grubenv: GRUB environment blocks ----------------------------------
d=$out/fuzz_grubenv
mkdir -p "$d"
cp "$images/grubenv_rhel" "$d/" 2>/dev/null || :
if command -v grub-editenv > /dev/null; then
	grub-editenv "$d/empty" create
	grub-editenv "$d/rhel8" create
	grub-editenv "$d/rhel8" set "kernelopts=root=/dev/mapper/rhel-root ro crashkernel=auto" \
		"tuned_params=skew_tick=1" "tuned_initrd=/tuned.img" "saved_entry=x-4.18.0"
fi
printf '# GRUB Environment Block\nv0=/a.img /b.img\nkernelopts=$v0 ${v0}\nbad line\n' > "$d/hand"

# ---- device-model targets: synthetic inputs in their formats ----------------
"${PYTHON:-python3}" - "$out" <<'EOF'
import os, random, struct, sys

out = sys.argv[1]

def put(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(bytes(data))

def cap(nxt, cfg_type, bar, off, length, extra=b""):
    # virtio 1.2 §4.1.4: struct virtio_pci_cap (vndr 0x09, next, len, ...).
    body = struct.pack("<BBBBBBxxII", 0x09, nxt, 16 + len(extra), cfg_type,
                       bar, 0, off, length)
    return body + extra

# fuzz_pcicaps: byte 0 id selector, 1..6 BAR descriptors, 7 capability
# pointer, 192 bytes of config space from 0x40, then BAR read answers.
caps = (cap(0x50, 1, 4, 0x0000, 0x38) + cap(0x60, 3, 4, 0x1000, 4) +
        cap(0x70, 4, 4, 0x2000, 0x100) +
        cap(0x00, 2, 4, 0x3000, 0x1000, struct.pack("<I", 4)))
space = caps.ljust(192, b"\0")
bars = bytes([0, 0, 0, 0, 0x80 | 14, 0])
answers = bytes(64) + struct.pack("<I", 1) + bytes(60)   # VERSION_1 offered
for sel, name in ((0x01, "modern_blk"), (0x0F, "modern_gpu"),
                  (0x21, "transitional_blk")):
    put("fuzz_pcicaps", name, bytes([sel]) + bars + bytes([0x40]) + space + answers)
put("fuzz_pcicaps", "legacy_blk",
    bytes([0x61, 0x80 | 0x40 | 6, 0, 0, 0, 0, 0, 0]) + bytes(192) + bytes(128))

rnd = random.Random(5)
for target in ("fuzz_ring", "fuzz_gpu", "fuzz_vblk", "fuzz_pcicaps", "fuzz_vscsi"):
    put(target, "zeros", bytes(256))
    put(target, "ones", b"\xff" * 256)
    for i, n in enumerate((16, 64, 512, 2048)):
        put(target, "random%d" % i, [rnd.randrange(256) for _ in range(n)])

# fuzz_vblk: 7 setup bytes, then 5 bytes per operation (kind and flags,
# sector le16, length in blocks, extra): well-behaved reads and writes.
setup = bytes([0x00, 4, 0x00, 0x10, 0, 64, 0])
ops = b"".join(bytes([k, s & 0xFF, s >> 8, n, 0])
               for k, s, n in ((0, 0, 1), (1, 8, 2), (0, 8, 2), (0, 100, 8)))
put("fuzz_vblk", "reads_writes", setup + ops)

# fuzz_vscsi: 4 setup bytes (transport/features/mapping, queue size and
# max_target, cdb/sense sizes, max_sectors), 4 LUNs of 4 bytes (target and
# LUN, type and block size, blocks, behaviour), a scan byte, then 5 bytes a
# read (LUN, misbehaviour, LBA le16, count).
luns = bytes([0x00, 0x00, 200, 0x00,      # t0 l0 disk 512
              0x13, 0x01, 50, 0x01,       # t3 l1 disk 4096, one unit attention
              0x10, 0x80, 0, 0x00,        # t0 l1 CD
              0x05, 0x40, 0, 0x00])       # absent
reads = b"".join(bytes([l, m, a & 0xFF, a >> 8, n])
                 for l, m, a, n in ((0, 0, 0, 8), (1, 0, 3, 4), (0, 1, 5, 9),
                                    (0, 3, 7, 1), (1, 0x40, 0, 2)))
for name, setup in (("modern", bytes([0x0C, 0x38, 0x20, 0x00])),
                    ("legacy", bytes([0x02, 0x48, 0x10, 0x90])),
                    ("transitional", bytes([0x05, 0x17, 0x20, 0x00]))):
    put("fuzz_vscsi", name, setup + luns + bytes([0]) + reads)
put("fuzz_vscsi", "hostile_scan",
    bytes([0x0C, 0x38, 0x20, 0x00]) + luns + bytes([0x42]) + reads)

# fuzz_menu: item count, flags (editor, timeout, default), cmdline_max - 1,
# per item a length byte (bit 7 broken) and its command line, then keys
# (k % 16: 1 up 2 down 7 left 8 right 9 enter 10 esc 11 backspace 12 delete
# 13 a character, next byte; 15 a tick, next byte tenths of a second).
def items(*lines):
    return b"".join(bytes([len(l) | (0x80 if b else 0)]) + l for l, b in lines)
three = items((b"root=/dev/vda2 ro quiet", False), (b"single", False),
              (b"broken", True))
put("fuzz_menu", "edit_boot", bytes([3, 0x01 | 0x02, 63]) + three +
    bytes([2, 13, ord("e"), 7, 7, 11, 13, ord("x"), 12, 3, 13, ord("1"), 9]))
put("fuzz_menu", "edit_full", bytes([3, 0x01, 23]) + three +
    bytes([13, ord("e")]) + bytes([13, ord("y")] * 4) + bytes([4, 11, 10, 9]))
put("fuzz_menu", "digits", bytes([12, 0x04 | (5 << 3), 127]) +
    items(*[(b"o%d" % i, i == 7) for i in range(12)]) +
    bytes([15, 3, 5, 6, 3, 4, 13, ord("1"), 13, ord("0"), 9]))
put("fuzz_menu", "countdown", bytes([2, 0x06, 255]) +
    items((b"a", False), (b"b", False)) + bytes([15, 5, 15, 20, 15, 40]))

# fuzz_load: failing file, where and how, allocation to refuse, le16 append
# length and text, le16 entry length and text, then le16 size and bytes of
# each initrd as it is opened.
def load_seed(fail, at, alloc, append, entry, files):
    d = bytes([fail, at, alloc]) + struct.pack("<H", len(append)) + append
    d += struct.pack("<H", len(entry)) + entry
    for f in files:
        d += struct.pack("<H", len(f)) + f
    return d
entry = (b"title T\nlinux /vmlinuz\ninitrd /i1\ninitrd /i2 /i3\n"
         b"options root=/dev/vda2 ro\noptions quiet\n")
rds = [b"070701" + bytes(range(40)), b"x" * 5, b"abc"]
put("fuzz_load", "three_initrds", load_seed(0, 0, 0, b"console=ttyS0", entry, rds))
put("fuzz_load", "no_append", load_seed(0, 0, 0, b"", entry, rds))
put("fuzz_load", "eio_initrd", load_seed(3, 0, 0, b"x", entry, rds))
# 0x80: the initrds left on the disk and read later (LOAD_DEFER_INITRDS).
put("fuzz_load", "deferred", load_seed(0, 0, 0x80, b"x", entry, rds))
put("fuzz_load", "deferred_eio", load_seed(3, 0, 0x80, b"x", entry, rds))
put("fuzz_load", "stuck_kernel", load_seed(1, 0x80 | 4, 0, b"", entry, rds))
put("fuzz_load", "no_memory", load_seed(0, 0, 2, b"", entry, rds))
put("fuzz_load", "efi", load_seed(0, 0, 0, b"a", b"efi /EFI/x.efi\noptions b\n", []))

# fuzz_lf2: call count - 1, per call le16 size, flags (1 NULL buffer, 2
# BootPolicy, 4 NULL size, 8 add the next byte, 16 a reading source, 32 that
# fails), extra; then the initrd.
calls = [(0, 1, 0), (0xFFFF, 1, 0), (99, 0, 0), (100, 0, 0), (100, 2, 0),
         (0, 4, 0), (90, 8, 10)]
put("fuzz_lf2", "stub_sequence", bytes([len(calls) - 1]) +
    b"".join(struct.pack("<HBB", *c) for c in calls) + bytes(range(100)))
put("fuzz_lf2", "empty", bytes([1]) + struct.pack("<HBB", 0, 1, 0) +
    struct.pack("<HBB", 0, 0, 0))
# The same through a source read as from the disk (16), read twice, then
# failing (16 | 32) after a size query.
calls = [(0, 1 | 16, 0), (100, 16, 0), (100, 16, 0), (99, 16 | 32, 0), (100, 16 | 32, 0)]
put("fuzz_lf2", "disk_source", bytes([len(calls) - 1]) +
    b"".join(struct.pack("<HBB", *c) for c in calls) + bytes(range(100)))
EOF

touch "$stamp"
for t in "$out"/*/; do
	echo "  SEEDS   $(basename "$t"): $(find "$t" -type f | wc -l) files"
done
