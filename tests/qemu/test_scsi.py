# SPDX-License-Identifier: MIT
"""vqboot boots Debian's kernel from disks behind virtio-scsi controllers.

Each boot: OVMF -> vqboot (its own virtio-scsi driver scans the controller
and reads the LUNs) -> Linux, whose own virtio_scsi and sd_mod then read
every disk (the test initramfs prints what they saw); every image is
byte-identical afterwards. The scan time each boot logged is kept in
build/qemu-logs/<test>/scan.txt.
"""
import os
import re

from conftest import TAG, VQBOOT, VQDIAG, Disk, tools_cd
from linux import CONSOLE, busybox_initrd, entry, kernel
from test_boot import check_linux, disk_path, esp_boot_files
from test_faults import _sector_of, blkdebug
from vm import VM
import mkdisk
from mkdisk import Part

SCAN = re.compile(r"vscsi (\S+): (\d+) targets scanned in (\d+) us: (\d+) disks?")


def scsi_boot(name, scsi, timeout=400, until=r"VQ-LINUX: done|reboot: Power down", **vmargs):
    vm = VM(name, scsi=[(d.spec, opts) for d, opts in scsi], **vmargs)
    with vm:
        log = vm.run(until=until, timeout=timeout)
    assert not vm.timed_out, f"no end in {timeout}s; log {vm.log_path}"
    scans = SCAN.findall(log)
    with open(os.path.join(vm.dir, "scan.txt"), "w") as f:
        f.write("".join(f"{pci} {t} targets {us} us {n} disks\n" for pci, t, us, n in scans))
    return vm, log, scans


def check_scsi_disks(vm, log, disks):
    """Linux's sd_mod saw every SCSI disk, whole (in whatever sdX order its
    asynchronous probe gave them names)."""
    seen = sorted(int(n) for n in re.findall(r"VQ-DISK: sd[a-z]+ sectors (\d+) ", log))
    want = sorted(sectors(d) for d in disks)
    assert seen == want, f"Linux saw SCSI disks of {seen} sectors, not {want}; log {vm.log_path}"


def linux_files(tag, kpath="/vmlinuz", rd="/initrd.img"):
    vmlinuz, _ = kernel()
    return {kpath: vmlinuz, rd: busybox_initrd(),
            "/loader/entries/debian.conf":
                entry("Debian", kpath, [rd], CONSOLE + f" vq.test={tag}")}


def one_disk(name, parts, n=0, sector_size=512):
    path = disk_path(name, n)
    mkdisk.build_disk(path, parts, sector_size=sector_size)
    return Disk(path)


def sectors(disk):
    return os.path.getsize(disk.path) // 512


def esp_with_linux(name, tag, n=0):
    files = esp_boot_files()
    files.update(linux_files(tag))
    return one_disk(name, [Part("esp", "fat32", 64, files)], n)


def test_esp_on_lun0_pc(vm_name):
    """GPT FAT32 ESP on target 0, LUN 0, on -M pc: found, read without
    bouncing, scanned in a few round trips."""
    d = esp_with_linux(vm_name, "scsi-esp")
    vm, log, scans = scsi_boot(vm_name, [(d, "scsi-id=0,lun=0")], machine="pc")
    check_linux(vm, log, ["vq.test=scsi-esp"])
    check_scsi_disks(vm, log, [d])
    assert re.search(rf"vscsi \S+ t0 l0: disk \"QEMU QEMU HARDDISK\" rev \S+, {sectors(d)} blocks "
                     r"of 512 bytes", log), vm.log_path
    assert int(re.search(r"(\d+) bytes bounced", log).group(1)) == 0
    (pci, targets, us, n), = scans
    assert targets == "256" and n == "1", scans
    # One disk: a few round trips, not one per target (about 6 ms on an idle
    # host under TCG; the bound leaves room for a loaded one).
    assert int(us) < 1000000, f"scan took {us} us; log {vm.log_path}"
    d.assert_unchanged()


def test_xbootldr_on_second_lun(vm_name):
    """The ESP (vqboot, loader.conf) on LUN 0, the XBOOTLDR with the entry
    and kernel on LUN 1 of the same target."""
    _, kver = kernel()
    esp = one_disk(vm_name, [Part("esp", "fat32", 64, esp_boot_files())], 0)
    xbl = one_disk(vm_name, [Part("xbootldr", "ext4", 48,
                                  linux_files("scsi-lun1", f"/vmlinuz-{kver}"))], 1)
    vm, log, scans = scsi_boot(vm_name, [(esp, "scsi-id=0,lun=0"), (xbl, "scsi-id=0,lun=1")])
    check_linux(vm, log, ["vq.test=scsi-lun1"])
    check_scsi_disks(vm, log, [esp, xbl])
    assert scans[0][3] == "2", scans
    esp.assert_unchanged()
    xbl.assert_unchanged()


def test_target3(vm_name):
    """A lone disk at scsi-id 3 (targets 0..2 answer BAD_TARGET). OVMF's own
    SCSI driver does not find it, so vqboot runs from the firmware shell
    (tools disk) and finds the entry and kernel there with its own driver."""
    d = one_disk(vm_name, [Part("esp", "fat32", 64, linux_files("scsi-t3"))])
    vm, log, scans = scsi_boot(vm_name, [(d, "scsi-id=3,lun=0")],
                               tools={"vqboot.efi": VQBOOT, "vqtools.tag": TAG},
                               startup=tools_cd() + ["vqboot.efi --timeout 0"])
    check_linux(vm, log, ["vq.test=scsi-t3"])
    check_scsi_disks(vm, log, [d])
    assert re.search(r"vscsi \S+ t3 l0", log), vm.log_path
    d.assert_unchanged()


def test_4k_logical_blocks(vm_name):
    esp = Part("esp", "fat16", 64, esp_boot_files())
    xbl = Part("xbootldr", "ext4", 48, linux_files("scsi-4k"))
    d = one_disk(vm_name, [esp, xbl], sector_size=4096)
    vm, log, scans = scsi_boot(vm_name, [(d, "scsi-id=0,lun=0,logical_block_size=4096,"
                                             "physical_block_size=4096")])
    assert re.search(r"t0 l0: disk .* blocks of 4096 bytes", log), vm.log_path
    check_linux(vm, log, ["vq.test=scsi-4k"])
    check_scsi_disks(vm, log, [d])
    d.assert_unchanged()


def test_two_controllers_modern_only(vm_name):
    """vqboot on the first controller (transitional), the entry and kernel
    on a disk of a second, modern-only controller (disable-legacy=on)."""
    esp = one_disk(vm_name, [Part("esp", "fat32", 64, esp_boot_files())], 0)
    root = one_disk(vm_name, [Part("linux", "ext4", 48, linux_files("scsi-two"))], 1)
    vm, log, scans = scsi_boot(vm_name, [(esp, "bus=s0.0,scsi-id=0,lun=0"),
                                         (root, "bus=s1.0,scsi-id=1,lun=0")],
                               scsi_ctrls=["", "disable-legacy=on"])
    check_linux(vm, log, ["vq.test=scsi-two"])
    check_scsi_disks(vm, log, [esp, root])
    assert len(scans) == 2, scans
    esp.assert_unchanged()
    root.assert_unchanged()


def test_blk_and_scsi_in_one_menu(vm_name):
    """A virtio-blk disk and a SCSI disk, an entry on each: one menu."""
    vmlinuz, _ = kernel()
    blk_files = esp_boot_files(b"timeout 2\ndefault scsi-*\n")
    blk_files.update({"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd(),
                      "/loader/entries/blk-entry.conf":
                          entry("Entry on virtio-blk", "/vmlinuz", ["/initrd.img"],
                                CONSOLE + " vq.test=on-blk")})
    blk = one_disk(vm_name, [Part("esp", "fat32", 64, blk_files)], 0)
    scsi = one_disk(vm_name, [Part("linux", "ext4", 48, {
        "/boot/vmlinuz": vmlinuz, "/boot/initrd.img": busybox_initrd(),
        "/loader/entries/scsi-entry.conf":
            entry("Entry on SCSI", "/boot/vmlinuz", ["/boot/initrd.img"],
                  CONSOLE + " vq.test=on-scsi")})], 1)
    vm = VM(vm_name, disks=[(blk.path, "bootindex=1")], scsi=[(scsi.path, "scsi-id=0,lun=0")])
    with vm:
        log = vm.run(until=r"VQ-LINUX: done|reboot: Power down", timeout=400)
    assert not vm.timed_out, vm.log_path
    assert "Entry on virtio-blk" in log and "Entry on SCSI" in log, \
        f"both entries should be in the menu; {vm.log_path}"
    check_linux(vm, log, ["vq.test=on-scsi"], disks=[("vda", sectors(blk))])
    check_scsi_disks(vm, log, [scsi])
    blk.assert_unchanged()
    scsi.assert_unchanged()


def test_read_error_in_kernel(vm_name):
    """QEMU fails one read inside the kernel file (blkdebug, EIO): the sense
    in words, naming the controller, target and LUN; no hang; back to the
    firmware, which boots its next option (vqdiag on a virtio-blk disk)."""
    vmlinuz, _ = kernel()
    files = esp_boot_files()
    files.update(linux_files("never"))
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [Part("esp", "fat32", 64, files)])
    sector = _sector_of(path, vmlinuz, 4 << 20)
    d = Disk(path, f"blkdebug:{blkdebug(vm_name, sector)}:{path}")
    nxt_path = disk_path(vm_name, 9)
    mkdisk.build_disk(nxt_path, [Part("esp", "fat32", 40, {"/EFI/BOOT/BOOTX64.EFI": VQDIAG})])
    nxt = Disk(nxt_path)
    vm, log, _ = scsi_boot(vm_name, [(d, "scsi-id=0,lun=0,bootindex=1")],
                           until="vqdiag: list done", timeout=400,
                           disks=[(nxt.path, "bootindex=9")])
    # QEMU turns EIO into ABORTED COMMAND, "I/O process terminated".
    assert re.search(r"vscsi [0-9a-f:.]+ target 0 lun 0: READ\((10|16)\) of \d+ blocks at LBA \d+: "
                     r"ABORTED COMMAND, I/O process terminated", log), vm.log_path
    assert re.search(r"/vmlinuz on vscsi [0-9a-f:.]+ t0 l0", log), vm.log_path
    assert "vqboot: returning to the firmware" in log and "VQ-LINUX" not in log
    d.assert_unchanged()
    nxt.assert_unchanged()
