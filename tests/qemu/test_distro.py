# SPDX-License-Identifier: MIT
"""Disks laid out the way distributions lay them out: unified kernel images
(made with objcopy from systemd's stub, Debian's kernel and the test
initramfs inside), alone and beside type #1 entries; an entry under /boot
on an ext4 root file system; RHEL 8's plain Linux /boot partition (ext4 and
XFS) with `options $kernelopts` from grubenv; a menu longer than nine entries. Each
boot checks the command line and
the initrd Linux saw, and that every disk image is byte-identical."""
import os
import re

from conftest import TAG, VQBOOT, Disk, tools_cd
from linux import CONSOLE, OSREL_DEBIAN, busybox_initrd, entry, extra_initrd, grubenv, kernel, uki
from test_boot import boot, check_linux, disk_path, esp_boot_files
from vm import VM
import mkdisk
from mkdisk import Part


# A UKI's stub runs after the firmware has loaded the whole image (its
# SizeOfImage spans the .initrd VMA, 48 MiB and more): give those boots
# longer on a busy machine.
UKI_TIMEOUT = 300


def one_disk(name, parts):
    path = disk_path(name)
    mkdisk.build_disk(path, parts)
    return Disk(path)


def saw_initrd(vm, log, name, md5):
    assert f"VQ-INITRD: /vq-initrd-{name}.txt {md5}" in log, \
        f"Linux did not get initrd {name}; log {vm.log_path}"


def test_uki_alone(vm_name):
    """Only a UKI on the ESP: its stub boots Linux with the embedded
    .cmdline (vqboot passes none) and the embedded .initrd."""
    rd, md5 = extra_initrd("uki", "inside the unified image")
    image = uki("alone", CONSOLE + " vq.test=uki-alone",
                initrds=[busybox_initrd(), rd])
    files = esp_boot_files()
    files["/EFI/Linux/debian-uki.efi"] = image
    disk = one_disk(vm_name, [Part("esp", "fat32", 64, files)])
    vm, log = boot(vm_name, [(disk, "")], timeout=UKI_TIMEOUT)
    check_linux(vm, log, ["vq.test=uki-alone"])
    saw_initrd(vm, log, "uki", md5)
    assert "command line: none passed, the image's own .cmdline" in log, vm.log_path
    assert "booting debian-uki" in log, vm.log_path
    disk.assert_unchanged()


def test_uki_beside_type1(vm_name):
    """A UKI on the ESP and type #1 entries on XBOOTLDR, in one menu sorted
    as the specification says: sort-key debian for both, and the UKI's
    version 12 is newer than 6.1, so it is first and the default; the
    fedora-like entry (sort-key fedora) after both, the one without a
    sort-key last."""
    vmlinuz, kver = kernel()
    image = uki("beside", CONSOLE + " vq.test=uki-beside")
    esp_files = esp_boot_files(b"timeout 2\n")
    esp_files["/EFI/Linux/debian-12.efi"] = image
    xbl = Part("xbootldr", "ext4", 48, {
        f"/vmlinuz-{kver}": vmlinuz, "/initrd.img": busybox_initrd(),
        "/loader/entries/debian-t1.conf":
            entry("Debian type 1", f"/vmlinuz-{kver}", ["/initrd.img"],
                  CONSOLE + " vq.test=type1", extra=f"sort-key debian\nversion {kver}\n"),
        "/loader/entries/other.conf":
            entry("Other", f"/vmlinuz-{kver}", ["/initrd.img"], CONSOLE + " vq.test=other",
                  extra="sort-key fedora\n"),
        "/loader/entries/plain.conf":
            entry("Plain", f"/vmlinuz-{kver}", ["/initrd.img"], CONSOLE + " vq.test=plain")})
    disk = one_disk(vm_name, [Part("esp", "fat32", 64, esp_files), xbl])
    vm, log = boot(vm_name, [(disk, "")], timeout=UKI_TIMEOUT)
    menu = re.findall(r"^[ >] (\d)\) (.*)$", log, re.M)
    titles = [t for _, t in menu[:4]]
    assert titles == ["Debian GNU/Linux 12 (bookworm)  [default]", "Debian type 1",
                      "Other", "Plain"], f"menu {menu}; log {vm.log_path}"
    check_linux(vm, log, ["vq.test=uki-beside"])
    disk.assert_unchanged()


def test_uki_appended_cmdline(vm_name):
    """Run from the shell with --entry and --append: the line changed, so
    vqboot passes it as load options and the stub (no Secure Boot) uses it
    instead of its .cmdline."""
    image = uki("append", CONSOLE + " vq.test=uki-append")
    files = {"/loader/loader.conf": b"timeout 10\n", "/EFI/Linux/deb.efi": image}
    disk = one_disk(vm_name, [Part("esp", "fat32", 64, files)])
    startup = tools_cd() + ['vqboot.efi --entry deb --append "vq.extra=appended"']
    vm, log = boot(vm_name, [(disk, "")], timeout=UKI_TIMEOUT,
                   tools={"vqboot.efi": VQBOOT, "vqtools.tag": TAG}, startup=startup)
    check_linux(vm, log, ["vq.test=uki-append", "vq.extra=appended"])
    disk.assert_unchanged()


def test_root_fs_boot_entries(vm_name):
    """No entries on the ESP; an ext4 root file system keeps them in
    /boot/loader/entries with paths relative to /boot (a decoy kernel at
    the top of the file system must not be the one read)."""
    vmlinuz, kver = kernel()
    rd, md5 = extra_initrd("rootfs", "from /boot on the root file system")
    root = Part("linux", "ext4", 64, {
        f"/boot/vmlinuz-{kver}": vmlinuz, "/boot/initrd.img": busybox_initrd(),
        "/boot/extra.img": rd, f"/vmlinuz-{kver}": b"decoy, not a kernel\n",
        "/etc/os-release": OSREL_DEBIAN.encode(),
        "/boot/loader/entries/debian.conf":
            entry("Debian on the root fs", f"/vmlinuz-{kver}", ["/initrd.img", "extra.img"],
                  CONSOLE + " vq.test=rootfs-boot")})
    disk = one_disk(vm_name, [Part("esp", "fat32", 64, esp_boot_files()), root])
    vm, log = boot(vm_name, [(disk, "")])
    check_linux(vm, log, ["vq.test=rootfs-boot"])
    saw_initrd(vm, log, "rootfs", md5)
    disk.assert_unchanged()


def rhel_entry(kver):
    return (f"title Red Hat Enterprise Linux ({kver}) 8.0 (Ootpa)\n"
            f"version {kver}\n"
            f"linux /vmlinuz-{kver}\n"
            f"initrd /initramfs-{kver}.img $tuned_initrd\n"
            "options $kernelopts $tuned_params\n"
            f"id rhel-20190313123447-{kver}\n"
            "grub_users $grub_users\n"
            "grub_arg --unrestricted\n"
            "grub_class kernel\n").encode()


def test_rhel8_grubenv(vm_name):
    """RHEL 8: /boot is a plain Linux partition (not XBOOTLDR) holding the
    entry, and its options come from $kernelopts in /grub2/grubenv; the
    second initrd from $tuned_initrd; $tuned_params is unset."""
    vmlinuz, kver = kernel()
    rd, md5 = extra_initrd("tuned", "tuned initrd from grubenv")
    env = grubenv(kernelopts=CONSOLE + " vq.test=rhel8-kernelopts", tuned_initrd="/tuned.img",
                  saved_entry=f"0123456789abcdef-{kver}")
    boot_part = Part("linux", "ext4", 64, {
        f"/vmlinuz-{kver}": vmlinuz, f"/initramfs-{kver}.img": busybox_initrd(),
        "/tuned.img": rd, "/grub2/grubenv": env,
        f"/loader/entries/0123456789abcdef-{kver}.conf": rhel_entry(kver)})
    disk = one_disk(vm_name, [Part("esp", "fat32", 64, esp_boot_files()), boot_part])
    vm, log = boot(vm_name, [(disk, "")])
    check_linux(vm, log, ["vq.test=rhel8-kernelopts"])
    saw_initrd(vm, log, "tuned", md5)
    assert "$tuned_params is not set in /grub2/grubenv" in log, vm.log_path
    assert "$kernelopts" not in re.search(r"VQ-CMDLINE: (.*)", log).group(1)
    disk.assert_unchanged()



def test_rhel_xfs_boot_partition(vm_name):
    """RHEL 8 as its installer lays it out: /boot is XFS on a plain Linux
    partition (type 0FC63DAF, not XBOOTLDR) with a RHEL-style entry whose
    options come from $kernelopts in /grub2/grubenv. With --verbose,
    vqboot names the XFS volume and the entry it found there."""
    vmlinuz, kver = kernel()
    rd, md5 = extra_initrd("rhelxfs", "tuned initrd from xfs /boot")
    env = grubenv(kernelopts=CONSOLE + " vq.test=rhel-xfs", tuned_initrd="/tuned.img")
    boot_part = Part("linux", "xfs", 320, {
        f"/vmlinuz-{kver}": vmlinuz, f"/initramfs-{kver}.img": busybox_initrd(),
        "/tuned.img": rd, "/grub2/grubenv": env,
        f"/loader/entries/0123456789abcdef-{kver}.conf": rhel_entry(kver)},
        label="boot")
    # No BOOTX64.EFI on the ESP: the firmware falls through to the shell,
    # which runs vqboot with --verbose.
    esp = Part("esp", "fat32", 64, {"/loader/loader.conf": b"timeout 0\n"})
    disk = one_disk(vm_name, [esp, boot_part])
    startup = tools_cd() + ["vqboot.efi --verbose"]
    vm, log = boot(vm_name, [(disk, "")], timeout=240,
                   tools={"vqboot.efi": VQBOOT, "vqtools.tag": TAG}, startup=startup)
    check_linux(vm, log, ["vq.test=rhel-xfs"])
    saw_initrd(vm, log, "rhelxfs", md5)
    assert re.search(r"p2: linux partition, xfs, 1 entry in /loader/entries", log), \
        f"the XFS /boot was not named as searched; log {vm.log_path}"
    assert "$tuned_params is not set in /grub2/grubenv" in log, vm.log_path
    disk.assert_unchanged()

def test_menu_numbers_past_nine(vm_name):
    """Twelve entries: every line has a number, and typing 1 then 2 boots
    the twelfth (1 alone waits: 10, 11 and 12 start with it)."""
    vmlinuz, kver = kernel()
    files = esp_boot_files(b"timeout 60\n")
    files.update({"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd()})
    for i in range(1, 13):
        files[f"/loader/entries/e{i:02}.conf"] = entry(
            f"Entry {i:02}", "/vmlinuz", ["/initrd.img"], CONSOLE + f" vq.test=e{i:02}",
            extra=f"sort-key e{i:02}\n")
    disk = one_disk(vm_name, [Part("esp", "fat32", 64, files)])
    vm = VM(vm_name, disks=[(disk.path, "")])
    with vm:
        menu = vm.run(until=r"Booting the default in \d+ s", timeout=90)
        for n in (1, 9, 10, 12):
            assert re.search(rf"^[ >] {n:2}\) Entry {n:02}", menu, re.M), \
                f"no line {n} in the menu; log {vm.log_path}"
        vm.type(b"1")
        vm.run_more(until=r"entry 1: Enter boots it, or type the next digit", timeout=30)
        vm.type(b"2")
        log = vm.run_more(until=r"VQ-LINUX: done|reboot: Power down", timeout=240)
    check_linux(vm, log, ["vq.test=e12"])
    disk.assert_unchanged()
