# SPDX-License-Identifier: MIT
# Builds the ext2/3/4 images tests/unit/test_ext4.c reads, into $1.
# No root needed: mke2fs -d populates the filesystem from a directory, and
# the corrupt variants are patched with dd at offsets debugfs reports.
#
# Tree (the same in every image):
#   hello.txt                 "hello, ext4\n"
#   mid.txt                   "0123456789" ten times (inline past i_block)
#   empty                     0 bytes
#   boot/vmlinuz-6.1.0-13-amd64   5 MiB + 1234 bytes of the "big" pattern
#   boot/initrd.img-6.1.0-13-amd64  "initrd image\n"
#   vmlinuz -> boot/vmlinuz-6.1.0-13-amd64       (relative, as Debian)
#   initrd.img -> boot/initrd.img-6.1.0-13-amd64
#   abs_link -> /hello.txt
#   chain1 -> chain2 -> sub/chain3 -> ../boot/../hello.txt
#   loop1 -> loop2 -> loop1
#   dirlink -> boot
#   long_link -> ./././... (a 100+ byte target, a "slow" symlink)
#   dangling -> nowhere
#   a/b/c/d/deep.txt          "deep\n"
#   many/file_000..file_299   "file N\n"
#   frag                      sparse: "island NNN\n" every 16 KiB, 200 of them,
#                             ending with the last
#   sparse                    80 MiB: "middle\n" at 32 MiB, "end\n" at the end
#
# "big" pattern: 32-bit little-endian word i is i * 2654435761 + 12345.
set -eu

out=$1
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export E2FSPROGS_FAKE_TIME=1700000000
UUID=5e1f2a4c-7b3d-4e8a-9c21-0a1b2c3d4e5f

make_tree() {
	t=$1
	mkdir -p "$t/boot" "$t/a/b/c/d" "$t/many" "$t/sub"
	printf 'hello, ext4\n' > "$t/hello.txt"
	printf '0123456789%.0s' 1 2 3 4 5 6 7 8 9 10 > "$t/mid.txt"
	: > "$t/empty"
	/usr/bin/python3 - "$t/boot/vmlinuz-6.1.0-13-amd64" <<'EOF'
import array, sys
n = 5 * 1024 * 1024 + 1234
words = array.array('I', ((i * 2654435761 + 12345) & 0xffffffff
                          for i in range(n // 4 + 1)))
if sys.byteorder != 'little':
    words.byteswap()
open(sys.argv[1], 'wb').write(words.tobytes()[:n])
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
	# Ends with data: mke2fs -O inline_data drops a trailing hole.
	: > "$t/frag"
	i=0
	while [ $i -lt 200 ]; do
		printf 'island %03d\n' $i |
			dd of="$t/frag" bs=16384 seek=$i conv=notrunc status=none
		i=$((i + 1))
	done
	truncate -s $((80 * 1024 * 1024)) "$t/sparse"
	printf 'middle\n' |
		dd of="$t/sparse" bs=1M seek=32 conv=notrunc status=none
	printf 'end\n' |
		dd of="$t/sparse" bs=1 seek=$((80 * 1024 * 1024 - 4)) \
			conv=notrunc status=none
}

# mkimg NAME SIZE_MB mke2fs-options...
mkimg() {
	name=$1 size=$2
	shift 2
	rm -f "$out/$name"
	truncate -s "${size}M" "$out/$name"
	mke2fs -q -F -U "$UUID" -E hash_seed="$UUID" -L vqroot -d "$work/tree" \
		"$@" "$out/$name"
}

# inode_block IMG PATH -> "BLOCK OFFSET" of the inode (from debugfs imap)
inode_loc() {
	debugfs -R "imap $2" "$1" 2>/dev/null |
		awk '/located at block/ { sub(",", "", $4); print $4, $6 }'
}

block_size() {
	dumpe2fs -h "$1" 2>/dev/null | awk '/^Block size:/ { print $3 }'
}

# poke IMG BYTE_OFFSET HEX_BYTES: overwrite bytes in place
poke() {
	bytes=$3 esc=
	while [ -n "$bytes" ]; do
		rest=${bytes#??}
		esc="$esc$(printf '\\%03o' "0x${bytes%"$rest"}")"
		bytes=$rest
	done
	printf "$esc" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# inode_off IMG PATH -> byte offset of the inode in the image
inode_off() {
	set -- "$1" "$2" $(inode_loc "$1" "$2") $(block_size "$1")
	echo $(($3 * $5 + $4))
}

make_tree "$work/tree"

mkimg ext4.img 48 -t ext4 -b 4096
mkimg ext4_1k.img 48 -t ext4 -b 1024 -O ^flex_bg
mkimg ext4_64k.img 64 -t ext4 -b 65536 -O ^has_journal
mkimg ext4_noext.img 48 -t ext4 -b 4096 -O ^extent,^64bit
# meta_bg: 16 groups per meta group; -N 400 (16 inodes per group) puts
# inodes in groups past 16, whose descriptors live in meta group 1. Without
# sparse_super every group has a superblock backup before its descriptors.
mkimg ext4_metabg.img 200 -t ext4 -b 1024 -N 400 -O 64bit,meta_bg,^resize_inode
mkimg ext4_metabg_nosparse.img 200 -t ext4 -b 1024 -N 400 \
	-O 64bit,meta_bg,^resize_inode,^sparse_super
mkimg ext3.img 48 -t ext3 -b 1024
mkimg ext2.img 48 -t ext2 -b 1024
mkimg ext2_4k.img 48 -t ext2 -b 4096
mkimg ext2_rev0.img 48 -t ext2 -b 1024 -r 0
mkimg ext4_inline.img 48 -t ext4 -b 4096 -O inline_data
# The inline image must really hold these inline, beyond i_block for mid.txt.
for f in /hello.txt /mid.txt /a/b; do
	debugfs -R "stat $f" "$out/ext4_inline.img" 2>/dev/null |
		grep -q 'Size of inline data' || { echo "$f not inline"; exit 1; }
done

# Hashed (htree) directories, which a linear walk must read as well:
# e2fsck -D rebuilds every directory with an index.
for base in ext4_1k ext3; do
	cp "$out/$base.img" "$out/${base}_htree.img"
	e2fsck -fyD "$out/${base}_htree.img" > /dev/null 2>&1 || [ $? -le 1 ]
	debugfs -R "htree /many" "$out/${base}_htree.img" 2>/dev/null |
		grep -q 'Root node dump' || { echo "/many not indexed"; exit 1; }
done

# ---- damaged copies of ext4.img ------------------------------------------
# i_block starts 0x28 into the inode: the extent header (12 bytes), then the
# first extent {ee_block le32, ee_len le16, ee_start_hi le16, ee_start_lo}.

# The big file's extent starts at block 0x00100000, past the 12288 blocks.
cp "$out/ext4.img" "$out/ext4_bad_extent.img"
off=$(inode_off "$out/ext4_bad_extent.img" /boot/vmlinuz-6.1.0-13-amd64)
poke "$out/ext4_bad_extent.img" $((off + 0x28 + 12 + 6)) 000000001000

# hello.txt's extent header magic 0xF30A becomes 0xBEEF.
cp "$out/ext4.img" "$out/ext4_bad_magic.img"
off=$(inode_off "$out/ext4_bad_magic.img" /hello.txt)
poke "$out/ext4_bad_magic.img" $((off + 0x28)) efbe

# hello.txt's extent header claims depth 9.
cp "$out/ext4.img" "$out/ext4_bad_depth.img"
off=$(inode_off "$out/ext4_bad_depth.img" /hello.txt)
poke "$out/ext4_bad_depth.img" $((off + 0x28 + 6)) 0900

# hello.txt's extent is unwritten (ee_len 1 + 32768): reads as zeros.
cp "$out/ext4.img" "$out/ext4_unwritten.img"
off=$(inode_off "$out/ext4_unwritten.img" /hello.txt)
poke "$out/ext4_unwritten.img" $((off + 0x28 + 12 + 4)) 0180

# The first entry (".") of directory /a gets rec_len 0.
cp "$out/ext4.img" "$out/ext4_bad_reclen.img"
blk=$(debugfs -R "bmap /a 0" "$out/ext4_bad_reclen.img" 2>/dev/null)
poke "$out/ext4_bad_reclen.img" $((blk * 4096 + 4)) 0000

# The name_len of /a's "." entry becomes 9: more than its rec_len of 12 holds.
cp "$out/ext4.img" "$out/ext4_bad_namelen.img"
poke "$out/ext4_bad_namelen.img" $((blk * 4096 + 6)) 09

# The inode of /a's third entry ("b", after "." and "..") is out of range.
cp "$out/ext4.img" "$out/ext4_bad_dirent_ino.img"
poke "$out/ext4_bad_dirent_ino.img" $((blk * 4096 + 24)) f0ffffff

# /frag's extent tree has depth 1: its leaf block claims 65535 entries.
cp "$out/ext4.img" "$out/ext4_bad_leaf.img"
off=$(inode_off "$out/ext4_bad_leaf.img" /frag)
leaf=$(od -A n -t u4 -j $((off + 0x28 + 12 + 4)) -N 4 "$out/ext4_bad_leaf.img")
poke "$out/ext4_bad_leaf.img" $((leaf * 4096 + 2)) ffff

# Group 0's inode table (descriptor in block 1, bg_inode_table_lo at 8)
# points past the end: the root inode cannot be read.
cp "$out/ext4.img" "$out/ext4_bad_itable.img"
poke "$out/ext4_bad_itable.img" $((4096 + 8)) 00000100

# ext2, 1 KiB blocks: the big file's indirect block pointer (i_block[12],
# 0x58 into the inode) points past the 49152 blocks.
cp "$out/ext2.img" "$out/ext2_bad_indirect.img"
off=$(inode_off "$out/ext2_bad_indirect.img" /boot/vmlinuz-6.1.0-13-amd64)
poke "$out/ext2_bad_indirect.img" $((off + 0x58)) ffffff00

# An unknown incompatible feature bit (0x80000000) in the superblock.
cp "$out/ext4.img" "$out/ext4_bad_feature.img"
poke "$out/ext4_bad_feature.img" $((1024 + 0x60 + 3)) 80

# The journal needs recovery (incompat RECOVER, 0x4): readable, with a warning.
cp "$out/ext4.img" "$out/ext4_recover.img"
b=$(od -A n -t u1 -j $((1024 + 0x60)) -N 1 "$out/ext4_recover.img")
poke "$out/ext4_recover.img" $((1024 + 0x60)) "$(printf %02x $((b | 4)))"

# hello.txt is marked encrypted (i_flags 0x800, at 0x20 in the inode).
cp "$out/ext4.img" "$out/ext4_encrypted.img"
off=$(inode_off "$out/ext4_encrypted.img" /hello.txt)
poke "$out/ext4_encrypted.img" $((off + 0x21)) 08

# The filesystem claims more blocks than the image holds.
cp "$out/ext4.img" "$out/ext4_truncated.img"
truncate -s 40M "$out/ext4_truncated.img"

# Not a filesystem at all.
truncate -s 1M "$out/ext4_zero.img"
