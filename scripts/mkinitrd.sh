#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds a busybox initramfs: mkinitrd.sh OUT.cpio.gz KERNEL_ROOT [MODE]
#   MODE demo: print a greeting and power off.
#   MODE test: print /proc/cmdline, the checksum of each /vq-initrd-*.txt
#              (added by extra initrds), load Debian's virtio modules (and
#              virtio_scsi + sd_mod with what they need), read the virtio
#              and SCSI disks, print what was read, power off.
# Extra initrd: mkinitrd.sh OUT.cpio.gz - extra NAME CONTENT
# VQ_BUSYBOX names another static busybox (the arm64 one, scripts/arm64.sh).
set -eu
out=$1 kroot=$2 mode=${3:-demo}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$mode" = extra ]; then
	name=$4 content=$5
	printf '%s\n' "$content" > "$work/vq-initrd-$name.txt"
	(cd "$work" && echo "vq-initrd-$name.txt" | cpio -o -H newc --quiet) | gzip -9 > "$out"
	exit 0
fi

mkdir -p "$work/bin" "$work/proc" "$work/sys" "$work/dev" "$work/mods" "$work/sys/firmware/efi/efivars"
cp "${VQ_BUSYBOX:-/bin/busybox}" "$work/bin/busybox"
for app in sh cat echo md5sum insmod mount poweroff dd head sleep ls tr cut od base64 seq grep wc; do
	ln -s busybox "$work/bin/$app"
done
kver=$(ls "$kroot/lib/modules" | head -1)
m=$kroot/lib/modules/$kver/kernel
for mod in drivers/virtio/virtio.ko drivers/virtio/virtio_ring.ko \
	drivers/virtio/virtio_pci_modern_dev.ko drivers/virtio/virtio_pci_legacy_dev.ko \
	drivers/virtio/virtio_pci.ko drivers/block/virtio_blk.ko fs/efivarfs/efivarfs.ko \
	lib/crc64.ko lib/crc64-rocksoft.ko crypto/crct10dif_common.ko lib/crc-t10dif.ko \
	block/t10-pi.ko drivers/scsi/scsi_common.ko drivers/scsi/scsi_mod.ko \
	drivers/scsi/sd_mod.ko drivers/scsi/virtio_scsi.ko; do
	# arm64's kernel has virtio and virtio_ring built in.
	grep -qx "kernel/$mod" "$m/../modules.builtin" && continue
	cp "$m/$mod" "$work/mods/"
done

if [ "$mode" = demo ]; then
	cat > "$work/init" <<'EOS'
#!/bin/sh
mount -t proc proc /proc
echo
echo "Hello from Linux, booted by vqboot from a virtio disk."
echo "kernel command line: $(cat /proc/cmdline)"
sleep 2
poweroff -f
EOS
else
	cat > "$work/init" <<'EOS'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
echo "VQ-LINUX: up"
echo "VQ-CMDLINE: $(cat /proc/cmdline)"
for f in /vq-initrd-*.txt; do
	[ -e "$f" ] && echo "VQ-INITRD: $f $(md5sum < "$f" | cut -c1-32)"
done
for mod in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk efivarfs \
	crc64 crc64-rocksoft crct10dif_common crc-t10dif t10-pi scsi_common scsi_mod sd_mod virtio_scsi; do
	[ -e /mods/$mod.ko ] || continue # built in
	insmod /mods/$mod.ko || echo "VQ-MODULE: $mod failed"
done
sleep 1
# SCSI disks appear as sd probes them: wait until their number holds still.
if ls /sys/bus/virtio/drivers/virtio_scsi 2>/dev/null | grep -q virtio; then
	last=-1 same=0
	for i in $(seq 1 60); do
		n=$(ls -d /sys/block/sd* 2>/dev/null | wc -l)
		[ "$n" = "$last" ] && [ "$n" != 0 ] && same=$((same + 1)) || same=0
		[ "$same" -ge 5 ] && break
		last=$n
		sleep 0.1
	done
fi
for d in /sys/block/vd* /sys/block/sd*; do
	[ -e "$d" ] || continue
	n=${d##*/}
	echo "VQ-DISK: $n sectors $(cat $d/size) mbr-md5 $(dd if=/dev/$n bs=512 count=1 2>/dev/null | md5sum)"
done
if mount -t efivarfs efivarfs /sys/firmware/efi/efivars 2>/dev/null; then
	for v in /sys/firmware/efi/efivars/Loader*-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f; do
		[ -e "$v" ] && echo "VQ-EFIVAR: ${v##*/} $(dd if=$v bs=1 skip=4 2>/dev/null | tr -d '\000')"
	done
	sb=/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
	[ -e $sb ] && echo "VQ-SECUREBOOT: $(dd if=$sb bs=1 skip=4 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')"
fi
# Measured boot: the PCRs and the firmware's event log, for the host to
# replay (Debian's kernel has tpm_tis and tpm_crb built in).
if [ -e /sys/class/tpm/tpm0/pcr-sha256/0 ]; then
	for n in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
		echo "VQ-PCR: $n $(cat /sys/class/tpm/tpm0/pcr-sha256/$n)"
	done
	mount -t securityfs securityfs /sys/kernel/security
	base64 /sys/kernel/security/tpm0/binary_bios_measurements | while read -r l; do
		echo "VQ-TPMLOG: $l"
	done
	echo "VQ-TPMLOG-END"
fi
echo "VQ-LINUX: done"
poweroff -f
EOS
fi
chmod +x "$work/init"
(cd "$work" && find . | cpio -o -H newc --quiet) | gzip -6 > "$out"
