# SPDX-License-Identifier: MIT
# Builds the disks tests/unit/test_scan.c scans and loads from, into $1.
# No root: sfdisk writes GPT into a plain file, the filesystems are made in
# separate files (mkfs.fat + mtools, mke2fs -d) and dd'd into place.
#
#   scan_esp.img   GPT, 1 ESP at LBA 2048 (FAT16, 16 MiB) with
#                  /loader/loader.conf, /loader/entries/{a,b,c,d,garbage}.conf,
#                  /i1.img "hello", /i2.img "abc", /empty.img (0 bytes).
#                  No /vmlinuz: the test copies the disk and writes its
#                  synthetic PE with mcopy -i COPY@@1048576.
#   scan_auto.img  GPT, 1 Linux partition at LBA 2048 (ext4, 8 MiB) with
#                  /boot/vmlinuz-1.0, /boot/initrd.img-1.0 and symlinks
#                  /vmlinuz, /initrd.img to them; no /loader.
set -eu

out=$1
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MTOOLS_SKIP_CHECK=1

# A GPT disk of $2 MiB in $1 with one partition of type $3 from LBA 2048
# holding the filesystem image $4.
gpt_disk() {
	rm -f "$1"
	truncate -s "$2M" "$1"
	printf 'label: gpt\nstart=2048, size=%s, type=%s\n' \
		$(($(stat -c %s "$4") / 512)) "$3" | sfdisk -q "$1"
	dd if="$4" of="$1" bs=512 seek=2048 conv=notrunc status=none
}

# ---- scan_esp.img -------------------------------------------------------------

fat=$work/esp.fat
truncate -s 16M "$fat"
mkfs.fat -F 16 -n ESP "$fat" > /dev/null
mmd -i "$fat" ::/loader ::/loader/entries
t=$work/t
mkdir -p "$t"
printf 'timeout 3\ndefault b*\n' > "$t/loader.conf"
printf 'title A\nsort-key a\nlinux /vmlinuz\noptions opt=a\n' > "$t/a.conf"
printf 'title B\nsort-key b\nlinux /vmlinuz\ninitrd /i1.img\ninitrd /i2.img\noptions opt=b\n' \
	> "$t/b.conf"
printf 'linux /vmlinuz\ninitrd /empty.img\n' > "$t/c.conf"
printf 'linux /vmlinuz\ninitrd /missing.img\n' > "$t/d.conf"
{
	printf 'title G\0\0junk\nlinux /vmlinuz\n'
	head -c 5000 /dev/zero | tr '\0' 'x'
	printf '\n'
} > "$t/garbage.conf"
printf 'hello' > "$t/i1.img"
printf 'abc' > "$t/i2.img"
: > "$t/empty.img"
mcopy -i "$fat" "$t/loader.conf" ::/loader/loader.conf
for e in a b c d garbage; do
	mcopy -i "$fat" "$t/$e.conf" "::/loader/entries/$e.conf"
done
mcopy -i "$fat" "$t/i1.img" "$t/i2.img" "$t/empty.img" ::/
gpt_disk "$out/scan_esp.img" 20 C12A7328-F81F-11D2-BA4B-00A0C93EC93B "$fat"

# ---- scan_auto.img ------------------------------------------------------------

root=$work/root
mkdir -p "$root/boot"
printf 'not really a kernel\n' > "$root/boot/vmlinuz-1.0"
printf 'not really an initrd\n' > "$root/boot/initrd.img-1.0"
ln -s boot/vmlinuz-1.0 "$root/vmlinuz"
ln -s boot/initrd.img-1.0 "$root/initrd.img"
ext=$work/root.ext4
truncate -s 8M "$ext"
mke2fs -q -F -t ext4 -d "$root" "$ext"
gpt_disk "$out/scan_auto.img" 12 0FC63DAF-8483-4772-8E79-3D69D8477DE4 "$ext"
