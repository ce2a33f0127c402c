# SPDX-License-Identifier: MIT
# Builds the btrfs images tests/unit/test_btrfs.c reads, into $1, and keeps
# the trees they were made from (btrfs_src/, btrfs_ksrc/) so the test can
# compare every file byte for byte.
#
# Two real tools write them:
#   - mkfs.btrfs --rootdir (btrfs-progs 6.2, no root needed): metadata
#     single, DUP and mixed, node sizes 4K/16K/64K, 4096- and 16384-byte
#     sectors, crc32c and xxhash64 checksums. This mkfs cannot compress or make subvolumes (its --compress
#     and --subvol options came later).
#   - the running Linux kernel, through a loop mount (needs root): zlib, lzo
#     and zstd compressed extents (compress-force) and none, subvolumes with a
#     non-top default as openSUSE and Fedora lay them out, fragmented files,
#     extents referenced in part after an overwrite, preallocated extents,
#     and two-device RAID1 and RAID0 file systems.
# Damaged copies are patched in place; where a damage must survive the
# checksum (to reach the checks behind it), the block's crc32c is
# recomputed (crc32c below).
#
# Tree (btrfs_src/):
#   hello.txt, mid.txt (inline), empty, text.txt (2 MiB of compressible
#   lines), boot/vmlinuz-6.1.0-13-amd64 (5 MiB + 1234 of a pseudo-random
#   pattern), boot/initrd.img-6.1.0-13-amd64, symlinks as Debian writes
#   them and chains, loops, dangling links; a/b/c/d/deep.txt;
#   many/file_000..file_299; h_tck9ij2npb and h_xpjuyayzqm (their names
#   have the same btrfs name hash, 0x1f5bf205); sparse (8 MiB, data in
#   the middle and at the end).
set -eu

out=$1
mkdir -p "$out"
work=$(mktemp -d)
mnt=$work/mnt
loops=""
cleanup() {
	mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
	for l in $loops; do losetup -d "$l" 2>/dev/null || :; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$mnt"
UUID=6a1f2b4c-7b3d-4e8a-9c21-0a1b2c3d4e5f

src=$out/btrfs_src
ksrc=$out/btrfs_ksrc
rm -rf "$src" "$ksrc"

py() { /usr/bin/python3 - "$@"; }

make_tree() {
	t=$1
	mkdir -p "$t/boot" "$t/a/b/c/d" "$t/many" "$t/sub"
	printf 'hello, btrfs\n' > "$t/hello.txt"
	printf '0123456789%.0s' 1 2 3 4 5 6 7 8 9 10 > "$t/mid.txt"
	: > "$t/empty"
	py "$t" <<'EOF'
import array, sys
t = sys.argv[1]
n = 5 * 1024 * 1024 + 1234
words = array.array('I', ((i * 2654435761 + 12345) & 0xffffffff
                          for i in range(n // 4 + 1)))
if sys.byteorder != 'little':
    words.byteswap()
open(t + "/boot/vmlinuz-6.1.0-13-amd64", 'wb').write(words.tobytes()[:n])
with open(t + "/text.txt", "w") as f:
    for i in range(60000):
        f.write("line %07d: the quick brown fox jumps\n" % i)
EOF
	printf 'initrd image\n' > "$t/boot/initrd.img-6.1.0-13-amd64"
	ln -s boot/vmlinuz-6.1.0-13-amd64 "$t/vmlinuz"
	ln -s boot/initrd.img-6.1.0-13-amd64 "$t/initrd.img"
	ln -s /hello.txt "$t/abs_link"
	ln -s chain2 "$t/chain1"
	ln -s sub/chain3 "$t/chain2"
	ln -s ../boot/../hello.txt "$t/sub/chain3"
	ln -s loop2 "$t/loop1"
	ln -s loop1 "$t/loop2"
	ln -s boot "$t/dirlink"
	ln -s ./././././././././././././././././././././././././././././././././././././././././././././hello.txt "$t/long_link"
	ln -s nowhere "$t/dangling"
	printf 'deep\n' > "$t/a/b/c/d/deep.txt"
	i=0
	while [ $i -lt 300 ]; do
		printf 'file %d\n' $i > "$t/many/$(printf 'file_%03d' $i)"
		i=$((i + 1))
	done
	printf 'first of a colliding pair\n' > "$t/h_tck9ij2npb"
	printf 'second of a colliding pair\n' > "$t/h_xpjuyayzqm"
	truncate -s $((8 * 1024 * 1024)) "$t/sparse"
	printf 'middle\n' | dd of="$t/sparse" bs=1M seek=4 conv=notrunc status=none
	printf 'end\n' | dd of="$t/sparse" bs=1 seek=$((8 * 1024 * 1024 - 4)) \
		conv=notrunc status=none
}

# mkimg NAME SIZE_MB mkfs-options...
mkimg() {
	name=$1 size=$2
	shift 2
	rm -f "$out/$name"
	truncate -s "${size}M" "$out/$name"
	mkfs.btrfs -q -f -U "$UUID" -L vqroot --rootdir "$src" "$@" "$out/$name"
}

# Helpers over btrfs-progs' own views of an image.
# leaf_of IMG TREE NAME: logical address of the leaf holding NAME's DIR_ITEM.
leaf_of() {
	btrfs inspect-internal dump-tree -t "$2" "$1" | awk -v n="name: $3" '
		/^leaf [0-9]+ items/ { leaf = $2 }
		index($0, n) && !done { print leaf; done = 1 }'
}
# phys IMG LOGICAL MIRROR: byte offset of that copy in the image.
phys() {
	btrfs-map-logical -l "$2" -b 4096 "$1" 2>/dev/null |
		awk -v m="$3" '$1 == "mirror" && $2 == m { print $6; exit }'
}

# crc32c IMG OFFSET LENGTH: recompute the checksum at OFFSET over the rest
# of the LENGTH bytes there (a tree block or the superblock).
crc32c() {
	py "$@" <<'EOF'
import sys
path, off, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
table = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    table.append(c)
with open(path, "r+b") as f:
    f.seek(off)
    blk = f.read(length)
    c = 0xffffffff
    for b in blk[32:]:
        c = table[(c ^ b) & 0xff] ^ (c >> 8)
    f.seek(off)
    f.write((c ^ 0xffffffff).to_bytes(4, "little"))
EOF
}

poke() {
	bytes=$3 esc=
	while [ -n "$bytes" ]; do
		rest=${bytes#??}
		esc="$esc$(printf '\\%03o' "0x${bytes%"$rest"}")"
		bytes=$rest
	done
	printf "$esc" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

make_tree "$src"

# ---- mkfs.btrfs --rootdir ---------------------------------------------------
mkimg btrfs.img 128 -m single -d single -n 16384
mkimg btrfs_dup.img 128 -m dup -d single -n 16384
mkimg btrfs_4k.img 128 -m single -n 4096
mkimg btrfs_64k.img 160 -m dup -n 65536
mkimg btrfs_s16k.img 128 -s 16384 -n 16384
mkimg btrfs_mixed.img 128 -M -n 4096
btrfs check --readonly "$out/btrfs.img" > /dev/null 2>&1

# ---- damaged copies ------------------------------------------------------
# The FS tree leaf that holds /hello.txt's directory entry, one byte flipped
# far from its header: a checksum mismatch the error message must name.
leaf=$(leaf_of "$out/btrfs.img" 5 hello.txt)
cp "$out/btrfs.img" "$out/btrfs_bad_leaf.img"
p=$(phys "$out/btrfs_bad_leaf.img" "$leaf" 1)
poke "$out/btrfs_bad_leaf.img" $((p + 8000)) 5a
printf '%x\n' "$leaf" > "$out/btrfs_bad_leaf.addr"

# The same leaf in the DUP image, damaged in the first copy only.
leaf=$(leaf_of "$out/btrfs_dup.img" 5 hello.txt)
cp "$out/btrfs_dup.img" "$out/btrfs_dup_bad.img"
p=$(phys "$out/btrfs_dup_bad.img" "$leaf" 1)
poke "$out/btrfs_dup_bad.img" $((p + 8000)) 5a
printf '%x\n' "$leaf" > "$out/btrfs_dup_bad.addr"

# The leaf with a generation its parent does not expect, checksum fixed.
leaf=$(leaf_of "$out/btrfs.img" 5 hello.txt)
cp "$out/btrfs.img" "$out/btrfs_bad_gen.img"
p=$(phys "$out/btrfs_bad_gen.img" "$leaf" 1)
poke "$out/btrfs_bad_gen.img" $((p + 0x50)) 99
crc32c "$out/btrfs_bad_gen.img" "$p" 16384

# Item 0 of that leaf claims its data at offset 0xffff, checksum fixed.
cp "$out/btrfs.img" "$out/btrfs_bad_item.img"
poke "$out/btrfs_bad_item.img" $((p + 101 + 17)) ffff0000
crc32c "$out/btrfs_bad_item.img" "$p" 16384

# The primary superblock damaged: the copy at 64 MiB is used.
cp "$out/btrfs.img" "$out/btrfs_bad_super.img"
poke "$out/btrfs_bad_super.img" $((0x10000 + 0x200)) 5a

# An unknown incompatible feature (bit 40), superblock checksum fixed.
cp "$out/btrfs.img" "$out/btrfs_bad_feature.img"
poke "$out/btrfs_bad_feature.img" $((0x10000 + 0xbc + 5)) 01
crc32c "$out/btrfs_bad_feature.img" $((0x10000)) 4096

# Checksums of other kinds: xxhash64 is read, sha256 refused.
mkimg btrfs_xxhash.img 128 --csum xxhash
mkimg btrfs_sha256.img 128 --csum sha256

truncate -s 1M "$out/btrfs_zero.img"

# ---- written by the kernel (loop mounts) ------------------------------------
if [ "$(id -u)" != 0 ]; then
	echo "mk_btrfs.sh: the compressed and subvolume images are written by" \
	     "the kernel through loop mounts, which needs root" >&2
	exit 1
fi

# Files whose extents only a real writer makes: fragments (two files
# written in turns, synced after each piece), an extent referenced in part
# after an overwrite, preallocated space, a hole.
kernel_extras() {
	py "$1" <<'EOF'
import os, sys
d = sys.argv[1]
a = os.open(d + "/frag_a", os.O_CREAT | os.O_WRONLY, 0o644)
b = os.open(d + "/frag_b", os.O_CREAT | os.O_WRONLY, 0o644)
for i in range(300):
    os.write(a, (b"fragment a %05d " % i) * 256)
    os.fsync(a)
    os.write(b, (b"fragment b %05d " % i) * 256)
    os.fsync(b)
os.close(a)
os.close(b)
with open(d + "/overwrite", "wb") as f:
    f.write(b"".join(b"overwrite line %06d\n" % i for i in range(40000)))
    f.flush()
    os.fsync(f.fileno())
    f.seek(300000)
    f.write(b"X" * 5000)
    f.seek(700001)
    f.write(b"Y" * 3)
    f.flush()
    os.fsync(f.fileno())
with open(d + "/prealloc", "wb") as f:
    os.posix_fallocate(f.fileno(), 0, 1 << 20)
    f.seek(8192)
    f.write(b"written into preallocated space\n")
with open(d + "/holes", "wb") as f:
    f.truncate(3 << 20)
    f.seek(1 << 20)
    f.write(b"after a hole\n")
EOF
}

# The openSUSE/Fedora shape: subvolume @ is the default, /boot inside it is
# a subvolume of its own, @home sits beside @ at the top level.
mkkernel() {
	name=$1 alg=$2
	rm -f "$out/$name"
	truncate -s 256M "$out/$name"
	mkfs.btrfs -q -f -U "$UUID" -L vqroot -n 4096 "$out/$name"
	mount -o "loop${alg:+,compress-force=$alg}" "$out/$name" "$mnt"
	btrfs -q subvolume create "$mnt/@"
	btrfs -q subvolume create "$mnt/@home"
	btrfs -q subvolume create "$mnt/@/boot"
	printf 'at home\n' > "$mnt/@home/user.txt"
	cp -a "$src/." "$mnt/@/"
	kernel_extras "$mnt/@"
	id=$(btrfs subvolume list "$mnt" | awk '$NF == "@" { print $2 }')
	btrfs subvolume set-default "$id" "$mnt"
	if [ ! -d "$ksrc" ]; then
		mkdir -p "$ksrc"
		for f in frag_a frag_b overwrite prealloc holes; do
			cp --sparse=always "$mnt/@/$f" "$ksrc/$f"
		done
	fi
	umount "$mnt"
	btrfs check --readonly "$out/$name" > /dev/null 2>&1
}

mkkernel btrfs_kplain.img ""
mkkernel btrfs_zlib.img zlib
mkkernel btrfs_lzo.img lzo
mkkernel btrfs_zstd.img zstd
# Each must really hold extents of its algorithm, regular and inline.
for a in zlib:1 lzo:2 zstd:3; do
	n=$(btrfs inspect-internal dump-tree -t 256 "$out/btrfs_${a%:*}.img" |
		grep -c "compression ${a#*:} ")
	[ "$n" -gt 100 ] || { echo "btrfs_${a%:*}.img: $n compressed extents"; exit 1; }
done

# Two devices. RAID1 everywhere: either device alone holds a whole copy.
# RAID0 data: neither does.
mkmulti() {
	name=$1
	shift
	rm -f "$out/$name.1" "$out/$name.2"
	truncate -s 256M "$out/$name.1" "$out/$name.2"
	l1=$(losetup -f --show "$out/$name.1")
	loops="$loops $l1"
	l2=$(losetup -f --show "$out/$name.2")
	loops="$loops $l2"
	mkfs.btrfs -q -f -L vqroot "$@" "$l1" "$l2"
	btrfs device scan "$l1" "$l2" > /dev/null
	mount "$l1" "$mnt"
	cp -a "$src/hello.txt" "$src/text.txt" "$src/boot" "$mnt/"
	umount "$mnt"
	losetup -d "$l1"
	losetup -d "$l2"
	loops=""
	mv "$out/$name.1" "$out/$name"
	rm -f "$out/$name.2"
}
mkmulti btrfs_raid1.img -m raid1 -d raid1
mkmulti btrfs_raid0.img -m raid1 -d raid0
