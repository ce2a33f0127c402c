# SPDX-License-Identifier: MIT
# Disks laid out the way distributions lay them out, for test_uki.c,
# test_grubenv.c and test_scan.c, into $1. No root: sfdisk writes the tables
# into plain files, file systems are made apart (mkfs.fat + mtools,
# mke2fs -d) and dd'd into place; unified kernel images are made with
# objcopy from systemd's stub (package systemd-boot-efi) at the VMAs
# systemd-stub(7) gives; GRUB environment blocks with grub-editenv.
#
#   uki_esp.img   GPT: p1 ESP (FAT16) with
#                   /EFI/Linux/debian-6.1.efi   .osrel (Debian 12), .cmdline,
#                                               .uname, .linux, .initrd
#                   /EFI/Linux/fedora.efi       .osrel with IMAGE_ID and
#                                               IMAGE_VERSION, no .cmdline
#                   /EFI/Linux/NOLINUX.EFI      the stub with .osrel only
#                   /EFI/Linux/cut.efi          a UKI cut short
#                   /EFI/Linux/notes.txt        not an image
#                   /loader/entries/debian-6.1.0-1.conf  type #1
#                 p2 XBOOTLDR (ext4) with /EFI/Linux/xbl.efi and
#                   /loader/entries/xbl.conf
#   root_boot.img GPT: p1 Linux (ext4), a root file system with
#                   /boot/loader/entries/root.conf (paths relative to /boot),
#                   /boot/vmlinuz-1.0, /boot/initrd-1.0.img, and a decoy
#                   /vmlinuz-1.0 at the top that must not be used
#   rhel.img      GPT: p1 ESP (FAT16) with /EFI/redhat/grubenv,
#                 p2 Linux (ext4), a RHEL 8 /boot: /loader/entries/rhel.conf
#                   (options $kernelopts $tuned_params, initrd ...
#                   $tuned_initrd, id, grub_users, grub_arg, grub_class),
#                   /grub2/grubenv, /vmlinuz-4.18, /initramfs-4.18.img,
#                   /tuned.img
#   rhel_esp.img  the same without /grub2/grubenv: the ESP's is used
#   mbr_linux.img MBR: p1 type 0x83 (ext4) with /loader/entries/plain.conf
#   grubenv_rhel  a grubenv written by grub-editenv (escapes included)
set -eu

out=$1
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MTOOLS_SKIP_CHECK=1
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
XBOOTLDR=BC13C2FF-59E6-4262-A352-B275FD6F7172
LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4

for tool in objcopy grub-editenv mke2fs mkfs.fat mcopy sfdisk; do
	command -v "$tool" > /dev/null || {
		echo "error: $tool missing (sh scripts/deps.sh installs it)" >&2; exit 1; }
done
[ -e "$stub" ] || {
	echo "error: $stub missing: install systemd-boot-efi (sh scripts/deps.sh)" >&2; exit 1; }

# disk OUT TABLE "TYPE FSIMAGE" ...: partitions of 1 MiB alignment, each as
# large as its file system image.
disk() {
	d=$1 table=$2
	shift 2
	script="label: $table"
	start=2048 total=2048
	for p in "$@"; do
		size=$(($(stat -c %s "${p#* }") / 512))
		script="$script
start=$start, size=$size, type=${p%% *}"
		start=$((start + size))
	done
	rm -f "$d"
	truncate -s $(((start + 2048) * 512)) "$d"
	printf '%s\n' "$script" | sfdisk -q "$d"
	start=2048
	for p in "$@"; do
		img=${p#* }
		dd if="$img" of="$d" bs=512 seek=$start conv=notrunc status=none
		start=$((start + $(stat -c %s "$img") / 512))
	done
}

fat() { # IMAGE MiB DIR: a FAT16 file system holding DIR's tree
	truncate -s "$2M" "$1"
	mkfs.fat -F 16 -n ESP "$1" > /dev/null
	(cd "$3" && find . -mindepth 1 -type d | sort | while read -r dir; do
		mmd -i "$1" "::/${dir#./}"; done)
	(cd "$3" && find . -type f | sort | while read -r f; do
		mcopy -i "$1" "$f" "::/${f#./}"; done)
}

ext4() { # IMAGE MiB DIR
	truncate -s "$2M" "$1"
	mke2fs -q -F -t ext4 -d "$3" "$1"
}

# uki OUT OSREL CMDLINE|- UNAME|- LINUX INITRD: systemd-stub(7)'s recipe.
uki() {
	o=$1 osrel=$2 cmdline=$3 uname=$4 linux=$5 initrd=$6
	set -- --add-section .osrel="$osrel" --change-section-vma .osrel=0x20000
	[ "$cmdline" = - ] ||
		set -- "$@" --add-section .cmdline="$cmdline" --change-section-vma .cmdline=0x30000
	[ "$uname" = - ] ||
		set -- "$@" --add-section .uname="$uname" --change-section-vma .uname=0x50000
	objcopy "$@" --add-section .linux="$linux" --change-section-vma .linux=0x2000000 \
		--add-section .initrd="$initrd" --change-section-vma .initrd=0x3000000 \
		"$stub" "$o"
}

t=$work/text
mkdir -p "$t"
cat > "$t/debian.osrel" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
ID=debian
HOME_URL="https://www.debian.org/"
EOF
cat > "$t/fedora.osrel" <<'EOF'
NAME="Fedora Linux"
VERSION="39 (Cloud Edition)"
ID=fedora
VERSION_ID=39
IMAGE_ID='fedora-cloud'
IMAGE_VERSION=39.20231101
PRETTY_NAME="Fedora Linux 39 (Cloud Edition)"
EOF
printf 'ID=xbl\nPRETTY_NAME="On XBOOTLDR"\nVERSION_ID=1\n' > "$t/xbl.osrel"
printf 'console=ttyS0 quiet\nvq.uki=debian\0\0' > "$t/debian.cmdline"
printf '6.1.0-1-amd64\n' > "$t/debian.uname"
printf 'vq.uki=xbl' > "$t/xbl.cmdline"
# .linux is never started here: the scan only checks that it is there.
head -c 70000 /dev/urandom > "$t/linux"
printf 'initrd' > "$t/initrd"

# ---- uki_esp.img ----------------------------------------------------------
esp=$work/esp
mkdir -p "$esp/EFI/Linux" "$esp/loader/entries"
uki "$esp/EFI/Linux/debian-6.1.efi" "$t/debian.osrel" "$t/debian.cmdline" \
	"$t/debian.uname" "$t/linux" "$t/initrd"
uki "$esp/EFI/Linux/fedora.efi" "$t/fedora.osrel" - - "$t/linux" "$t/initrd"
objcopy --add-section .osrel="$t/debian.osrel" --change-section-vma .osrel=0x20000 \
	"$stub" "$esp/EFI/Linux/NOLINUX.EFI"
head -c 40000 "$esp/EFI/Linux/debian-6.1.efi" > "$esp/EFI/Linux/cut.efi"
echo "not a kernel" > "$esp/EFI/Linux/notes.txt"
printf 'title Debian type 1\nversion 6.1.0-1-amd64\nsort-key debian\nlinux /vmlinuz\noptions vq.t1=yes\n' \
	> "$esp/loader/entries/debian-6.1.0-1.conf"
fat "$work/esp.fat" 16 "$esp"
xbl=$work/xbl
mkdir -p "$xbl/EFI/Linux" "$xbl/loader/entries"
uki "$xbl/EFI/Linux/xbl.efi" "$t/xbl.osrel" "$t/xbl.cmdline" - "$t/linux" "$t/initrd"
printf 'title XBOOTLDR type 1\nlinux /vmlinuz\n' > "$xbl/loader/entries/xbl.conf"
ext4 "$work/xbl.ext4" 8 "$xbl"
disk "$out/uki_esp.img" gpt "$ESP $work/esp.fat" "$XBOOTLDR $work/xbl.ext4"

# ---- root_boot.img ----------------------------------------------------------
root=$work/root
mkdir -p "$root/boot/loader/entries" "$root/etc"
printf 'kernel under /boot\n' > "$root/boot/vmlinuz-1.0"
printf 'initrd under /boot\n' > "$root/boot/initrd-1.0.img"
printf 'decoy at the top\n' > "$root/vmlinuz-1.0"
printf 'title Root /boot entry\nversion 1.0\nlinux /vmlinuz-1.0\ninitrd /initrd-1.0.img\noptions root=/dev/vda1\n' \
	> "$root/boot/loader/entries/root.conf"
echo "ID=debian" > "$root/etc/os-release"
ext4 "$work/root.ext4" 8 "$root"
disk "$out/root_boot.img" gpt "$LINUX $work/root.ext4"

# ---- rhel.img, rhel_esp.img ----------------------------------------------------
ge=$work/grubenv
grub-editenv "$ge" create
grub-editenv "$ge" set "saved_entry=0123456789abcdef-4.18.0-80.el8.x86_64" \
	"kernelopts=root=/dev/mapper/rhel-root ro crashkernel=auto rd.lvm.lv=rhel/root console=ttyS0" \
	"tuned_initrd=/tuned.img" "boot_success=0"
cp "$ge" "$out/grubenv_rhel"
grub-editenv "$out/grubenv_rhel" set 'odd=back\slash
newline' 'empty='
espr=$work/espr
mkdir -p "$espr/EFI/redhat"
grub-editenv "$espr/EFI/redhat/grubenv" create
grub-editenv "$espr/EFI/redhat/grubenv" set "kernelopts=root=/dev/vda3 ro from=esp"
fat "$work/espr.fat" 16 "$espr"
boot=$work/boot
mkdir -p "$boot/loader/entries" "$boot/grub2"
cat > "$boot/loader/entries/0123456789abcdef-4.18.0-80.el8.x86_64.conf" <<'EOF'
title Red Hat Enterprise Linux (4.18.0-80.el8.x86_64) 8.0 (Ootpa)
version 4.18.0-80.el8.x86_64
linux /vmlinuz-4.18
initrd /initramfs-4.18.img $tuned_initrd
options $kernelopts $tuned_params
id rhel-20190313123447-4.18.0-80.el8.x86_64
grub_users $grub_users
grub_arg --unrestricted
grub_class kernel
EOF
printf 'vmlinuz\n' > "$boot/vmlinuz-4.18"
printf 'initramfs\n' > "$boot/initramfs-4.18.img"
printf 'tuned\n' > "$boot/tuned.img"
cp "$ge" "$boot/grub2/grubenv"
ext4 "$work/boot.ext4" 8 "$boot"
disk "$out/rhel.img" gpt "$ESP $work/espr.fat" "$LINUX $work/boot.ext4"
rm "$boot/grub2/grubenv"
ext4 "$work/boot2.ext4" 8 "$boot"
disk "$out/rhel_esp.img" gpt "$ESP $work/espr.fat" "$LINUX $work/boot2.ext4"

# ---- mbr_linux.img -------------------------------------------------------------
plain=$work/plain
mkdir -p "$plain/loader/entries"
printf 'title Plain Linux partition\nlinux /vmlinuz\noptions vq.plain=1\n' \
	> "$plain/loader/entries/plain.conf"
printf 'k\n' > "$plain/vmlinuz"
ext4 "$work/plain.ext4" 8 "$plain"
disk "$out/mbr_linux.img" dos "83 $work/plain.ext4"
