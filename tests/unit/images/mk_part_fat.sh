# SPDX-License-Identifier: MIT
# Builds the partition-table and FAT images tests/unit/test_part.c and
# tests/unit/test_fat.c read, into $1. No root needed: sfdisk/fdisk write
# tables into plain files, mkfs.fat and mtools work on image files, and the
# damaged variants are patched with printf | dd conv=notrunc.
#
# FAT images (superfloppies, no table), all with the same tree:
#   pf_fat12.img  2 MiB,  512-byte clusters
#   pf_fat16.img  16 MiB, 2 KiB clusters
#   pf_fat32.img  40 MiB, 512-byte clusters
# The tree is kept as host files in $1/pf_tree; the tests compare against
# them. frag.bin is written after deleting gap2/gap4/gap6, so it fills their
# holes; the number of its cluster runs (by mshowfat) is in pf_fatNN.frag.
# Damaged copies: pf_fatNN_loop.img (the last cluster of chain.bin links
# back to its first), pf_fatNN_short.img (chain.bin's chain ends after one
# cluster). chain.bin's clusters are in pf_fatNN.chain ("first last").
#
# Partitioned disks:
#   pf_gpt512.img   GPT, 512-byte LBAs: 1 ESP (= pf_fat32.img) at 2048,
#                   2 XBOOTLDR (= pf_fat16.img) at 83968, 3 Linux at 116736
#   pf_gpt4k.img    GPT, 4096-byte LBAs: 1 ESP at 256 (FAT16, 4 KiB
#                   sectors, hello.txt), 2 Linux at 8448
#   pf_gpt512_badhdr.img   primary header MyLBA changed (CRC fails)
#   pf_gpt512_badarr.img   primary entry array changed (array CRC fails)
#   pf_gpt512_badboth.img  primary and backup headers changed
#   pf_gpt512_badbackup.img backup header changed (primary still good)
#   pf_gpt4k_badhdr.img    primary header at byte 4096 changed
#   pf_mbr.img      MBR: 1 0xEF (FAT12, hello.txt) at 2048, 2 0x83 at 6144,
#                   3 extended at 10240 with logical 5 (0x83) and 6 (0xEA)
#   pf_zero.img     1 MiB of zeros (no table)
set -eu

out=$1
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MTOOLS_SKIP_CHECK=1
# mtools converts names through the locale: UTF-8 makes "Grüße-☃.txt" a
# real UTF-16 long name.
export LC_ALL=C.UTF-8

# ---- helpers ----------------------------------------------------------------

# Deterministic text: numbered lines tagged $1, cut to exactly $2 bytes.
pattern() {
	awk -v tag="$1" -v n=$(($2 / 40 + 2)) 'BEGIN {
		for (i = 0; i < n; i++)
			printf "%s %08d abcdefghijklmnopqrstuvwxyz0123\n", tag, i
	}' | head -c "$2"
}

u8() { od -A n -t u1 -j "$2" -N 1 "$1" | tr -d ' '; }
u16() { od -A n -t u2 -j "$2" -N 2 "$1" | tr -d ' '; }
u32() { od -A n -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }

# Write $2 as a $3-byte little-endian number at byte $4 of file $1.
put_le() {
	v=$2 s="" i=0
	while [ "$i" -lt "$3" ]; do
		s="$s$(printf '\\%03o' $((v & 255)))"
		v=$((v >> 8))
		i=$((i + 1))
	done
	printf "$s" | dd of="$1" bs=1 seek="$4" conv=notrunc status=none
}

# Set the FAT entry of cluster $3 to $4 in every FAT of the FAT$2 image $1.
# FAT12 packs two 12-bit entries in three bytes (FAT spec §4.2).
fat_set() {
	bps=$(u16 "$1" 11) rsvd=$(u16 "$1" 14) nfats=$(u8 "$1" 16)
	fatsz=$(u16 "$1" 22)
	[ "$2" = 32 ] && fatsz=$(u32 "$1" 36)
	n=0
	while [ "$n" -lt "$nfats" ]; do
		base=$(((rsvd + n * fatsz) * bps))
		case $2 in
		12)
			off=$((base + $3 + $3 / 2))
			old=$(u16 "$1" "$off")
			if [ $(($3 & 1)) -eq 1 ]; then
				v=$(((old & 0xf) | (($4 & 0xfff) << 4)))
			else
				v=$(((old & 0xf000) | ($4 & 0xfff)))
			fi
			put_le "$1" "$v" 2 "$off" ;;
		16) put_le "$1" $(($4 & 0xffff)) 2 $((base + $3 * 2)) ;;
		32) put_le "$1" $(($4 & 0x0fffffff)) 4 $((base + $3 * 4)) ;;
		esac
		n=$((n + 1))
	done
}

# ---- the tree ---------------------------------------------------------------

tree=$out/pf_tree
rm -rf "$tree"
mkdir -p "$tree/EFI/BOOT" "$tree/loader/entries" "$tree/deep/a/b/c/d/e/f" \
	"$tree/many"
printf 'hello, fat\n' > "$tree/hello.txt"
printf 'upper case short name\n' > "$tree/README.TXT"
printf 'mixed case long name\n' > "$tree/MixedCase.Txt"
printf 'unicode\n' > "$tree/$(printf 'Gr\303\274\303\237e-\342\230\203.txt')"
printf 'exactly one long entry, no terminator\n' > "$tree/ThirteenChars"
printf 'two long entries, no terminator\n' > "$tree/TwentySixCharacterFileName"
printf 'six long-name entries\n' > \
	"$tree/A rather long file name, with spaces and more than 13 chars.conf"
pattern bootx64 100007 > "$tree/EFI/BOOT/BOOTX64.EFI"
printf 'title Debian\nlinux /vmlinuz\n' > \
	"$tree/loader/entries/debian-6.1.0-13-amd64.conf"
printf 'deep\n' > "$tree/deep/a/b/c/d/e/f/deep.txt"
: > "$tree/empty.dat"
pattern exact 2048 > "$tree/exact.bin"
pattern chain 10000 > "$tree/chain.bin"
i=0
while [ "$i" -lt 100 ]; do
	printf 'file %03d\n' "$i" > "$tree/many/file_$(printf %03d "$i").txt"
	i=$((i + 1))
done
for g in 1 2 3 4 5 6; do
	pattern "gap$g" 3000 > "$tree/gap$g"
done
pattern frag 60000 > "$tree/frag.bin"

# Copy the tree into the FAT filesystem $1 (an mtools image spec) so that
# frag.bin ends up in the holes left by gap2, gap4 and gap6.
populate() {
	mcopy -i "$1" "$tree/hello.txt" "$tree/README.TXT" \
		"$tree/MixedCase.Txt" \
		"$tree/A rather long file name, with spaces and more than 13 chars.conf" \
		"$tree/empty.dat" "$tree/exact.bin" "$tree/chain.bin" \
		"$tree/Gr"*.txt "$tree/ThirteenChars" \
		"$tree/TwentySixCharacterFileName" ::
	mcopy -s -i "$1" "$tree/EFI" "$tree/loader" "$tree/deep" \
		"$tree/many" ::
	for g in 1 2 3 4 5 6; do
		mcopy -i "$1" "$tree/gap$g" ::
	done
	mdel -i "$1" ::/gap2 ::/gap4 ::/gap6
}

# FAT32 keeps a next-free hint in FSInfo (sector 1, offset 492); mtools
# allocates after it. Mark it unknown so frag.bin fills the holes.
fsinfo_forget() {
	put_le "$1" 4294967295 4 $((512 + 492))
}

runs_of() { mshowfat -i "$1" "::/$2" | tr ' ' '\n' | grep -c '^<'; }

make_fat() {
	img=$out/pf_$1.img
	rm -f "$img"
	mkfs.fat -C -F "$2" -s "$3" -n "$4" --invariant "$img" "$5" >/dev/null
	populate "$img"
	[ "$2" = 32 ] && fsinfo_forget "$img"
	mcopy -i "$img" "$tree/frag.bin" ::
	runs=$(runs_of "$img" frag.bin)
	if [ "$runs" -lt 3 ]; then
		echo "frag.bin in $img is not fragmented ($runs runs)" >&2
		exit 1
	fi
	echo "$runs" > "$out/pf_$1.frag"
	# chain.bin was written in one piece: <first-last>
	mshowfat -i "$img" ::/chain.bin |
		sed -n 's/.*<\([0-9]*\)-\([0-9]*\)>.*/\1 \2/p' > "$out/pf_$1.chain"
	read -r first last < "$out/pf_$1.chain"
	cp "$img" "$out/pf_$1_loop.img"
	fat_set "$out/pf_$1_loop.img" "$2" "$last" "$first"
	cp "$img" "$out/pf_$1_short.img"
	fat_set "$out/pf_$1_short.img" "$2" "$first" 268435455
}

make_fat fat12 12 1 FAT12TEST 2048
make_fat fat16 16 4 XBOOTLDR 16384
make_fat fat32 32 1 ESPTEST 40960

# ---- GPT, 512-byte LBAs -----------------------------------------------------

gpt=$out/pf_gpt512.img
rm -f "$gpt"
truncate -s 64M "$gpt"
sfdisk -q "$gpt" <<'EOF'
label: gpt
label-id: 5A1D5A1D-0000-4000-8000-000000000001
unit: sectors
first-lba: 2048
start=2048, size=81920, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=11111111-2222-4333-8444-555555555555, name="EFI System"
start=83968, size=32768, type=BC13C2FF-59E6-4262-A352-B275FD6F7172, name="XBOOTLDR"
start=116736, size=8192, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
EOF
dd if="$out/pf_fat32.img" of="$gpt" bs=512 seek=2048 conv=notrunc,sparse status=none
dd if="$out/pf_fat16.img" of="$gpt" bs=512 seek=83968 conv=notrunc,sparse status=none

last=$(($(stat -c %s "$gpt") - 512))
cp "$gpt" "$out/pf_gpt512_badhdr.img"
put_le "$out/pf_gpt512_badhdr.img" 7 1 $((512 + 24))
cp "$gpt" "$out/pf_gpt512_badarr.img"
printf 'Z' | dd of="$out/pf_gpt512_badarr.img" bs=1 seek=$((1024 + 56)) \
	conv=notrunc status=none
cp "$gpt" "$out/pf_gpt512_badboth.img"
put_le "$out/pf_gpt512_badboth.img" 7 1 $((512 + 24))
put_le "$out/pf_gpt512_badboth.img" 7 1 $((last + 24))
cp "$gpt" "$out/pf_gpt512_badbackup.img"
put_le "$out/pf_gpt512_badbackup.img" 7 1 $((last + 24))

# ---- GPT, 4096-byte LBAs: sfdisk 2.38 cannot, fdisk -b can ------------------

gpt4k=$out/pf_gpt4k.img
rm -f "$gpt4k"
truncate -s 64M "$gpt4k"
printf '%s\n' g n 1 256 +32M t C12A7328-F81F-11D2-BA4B-00A0C93EC93B \
	n 2 '' +8M t 2 0FC63DAF-8483-4772-8E79-3D69D8477DE4 w |
	fdisk -b 4096 "$gpt4k" >/dev/null
mkfs.fat -S 4096 -s 1 -F 16 -n ESP4K --invariant --offset=256 "$gpt4k" 32768 \
	>/dev/null 2>&1
mcopy -i "$gpt4k@@1M" "$tree/hello.txt" "$tree/frag.bin" ::
cp "$gpt4k" "$out/pf_gpt4k_badhdr.img"
put_le "$out/pf_gpt4k_badhdr.img" 7 1 $((4096 + 24))

# ---- MBR with an extended partition -----------------------------------------

mbr=$out/pf_mbr.img
rm -f "$mbr"
truncate -s 32M "$mbr"
sfdisk -q "$mbr" <<'EOF'
label: dos
label-id: 0x1234abcd
unit: sectors
start=2048, size=4096, type=ef, bootable
start=6144, size=4096, type=83
start=10240, size=40960, type=5
start=12288, size=4096, type=83
start=18432, size=4096, type=ea
EOF
mkfs.fat -F 12 -s 1 --invariant --offset=2048 "$mbr" 2048 >/dev/null 2>&1
mcopy -i "$mbr@@1M" "$tree/hello.txt" ::

truncate -s 1M "$out/pf_zero.img"
echo "mk_part_fat: images in $out"
