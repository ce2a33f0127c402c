# SPDX-License-Identifier: MIT
"""vqboot boots Debian's real kernel from virtio disks.

Each test builds a disk with scripts/mkdisk.py, boots OVMF -> vqboot ->
Linux with a test initramfs that prints its command line, the checksums of
the files each initrd added, and what Debian's own virtio_blk driver reads
after the handoff; then checks the disk image is byte-identical.
"""
import hashlib
import os
import re
import subprocess

import pytest

from conftest import TAG, VQBOOT, Disk, tools_cd
from linux import CONSOLE, entry, busybox_initrd, extra_initrd, kernel
from vm import BUILD, VM
import mkdisk
from mkdisk import Part


def disk_path(name, n=0):
    d = os.path.join(BUILD, "qemu-logs")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, f"{name}.disk{n}.img")


def boot(name, disks, timeout=150, **vmargs):
    """Boot and wait for the test initramfs to finish (or fail)."""
    vm = VM(name, disks=[(d.path, opts) for d, opts in disks], **vmargs)
    with vm:
        log = vm.run(until=r"VQ-LINUX: done|reboot: Power down", timeout=timeout)
    assert not vm.timed_out, f"no Linux in {timeout}s; log {vm.log_path}"
    return vm, log


def first_sector_md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read(512)).hexdigest()


def check_driver(vm, log, transport=None, min_read=None):
    """vqboot's own driver took a disk, and read the entry's files with it:
    the lines a firmware read would not print. @min_read: the bytes it must
    have read at least, when that is less than the files' size (compressed
    extents); by default the size of what vqboot loaded."""
    opened = re.findall(r"vblk (\S+): (modern|legacy) transport, \d+ sectors, block \d+", log)
    scsi = re.search(r"vscsi \S+: \d+ request queues?, max_target", log)
    assert opened or scsi, f"no disk opened by vqboot's driver; log {vm.log_path}"
    if transport:
        assert all(t == transport for _, t in opened), \
            f"expected the {transport} transport, got {opened}; log {vm.log_path}"
    # Beside a SCSI controller the entry may come from either driver.
    reads = [(int(b), int(r)) for b, r in
             re.findall(r"v(?:blk|scsi) \S+: vqboot's driver read (\d+) bytes in (\d+) requests",
                        log)]
    assert reads and max(r for _, r in reads) > 0, \
        f"vqboot's driver issued no request; log {vm.log_path}"
    m = re.search(r"vqboot: loaded \S+: (\d+) bytes", log)
    assert m, f"vqboot did not say what it loaded; log {vm.log_path}"
    need = int(m.group(1)) if min_read is None else min_read
    assert sum(b for b, _ in reads) >= need, \
        f"the driver read fewer bytes than the entry's files; log {vm.log_path}"


def check_linux(vm, log, cmdline_has=(), initrds=(), disks=(), transport=None,
                min_read=None):
    """What the test initramfs printed. @disks: (name, image path) pairs,
    whose size and first sector Linux must have read after the handoff (an
    int instead of a path checks the size alone)."""
    assert "VQ-LINUX: up" in log, f"Linux did not start; log {vm.log_path}"
    m = re.search(r"VQ-CMDLINE: (.*)", log)
    for s in cmdline_has:
        assert s in m.group(1), f"{s!r} not in the command line {m.group(1)!r}"
    for path, md5 in initrds:
        assert f"VQ-INITRD: {path} {md5}" in log, f"initrd file {path} missing; {vm.log_path}"
    for name, image in disks:
        if isinstance(image, int):
            sectors, md5 = image, r"\S+"
        else:
            sectors, md5 = os.path.getsize(image) // 512, first_sector_md5(image)
        assert re.search(rf"VQ-DISK: {name} sectors {sectors} mbr-md5 {md5}", log), \
            f"Linux could not read {name} after the handoff (want {sectors} sectors, " \
            f"first sector md5 {md5}); log {vm.log_path}"
    assert "VQ-LINUX: done" in log
    assert "vqboot: loaded" in log and "start to StartImage" in log
    check_driver(vm, log, transport, min_read)


def bounced(log):
    return int(re.search(r"(\d+) bytes bounced", log).group(1))


def esp_boot_files(loader_conf=b"timeout 0\n"):
    return {"/EFI/BOOT/BOOTX64.EFI": VQBOOT, "/loader/loader.conf": loader_conf}


def esp_only_disk(name, tag, fs="fat32", size=64, table="gpt"):
    """One GPT FAT32 ESP holding vqboot, the kernel, the initrd and one
    entry whose command line carries vq.test=TAG."""
    vmlinuz, _ = kernel()
    files = esp_boot_files()
    files.update({"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd(),
                  "/loader/entries/debian.conf":
                      entry("Debian", "/vmlinuz", ["/initrd.img"], CONSOLE + f" vq.test={tag}")})
    path = disk_path(name)
    mkdisk.build_disk(path, [Part("esp", fs, size, files)], table=table)
    return Disk(path)


def boot_esp_only(name, tag, device_opts="", transport=None, **disk_args):
    disk = esp_only_disk(name, tag, **disk_args)
    vm, log = boot(name, [(disk, device_opts)])
    check_linux(vm, log, [f"vq.test={tag}"], disks=[("vda", disk.path)], transport=transport)
    disk.assert_unchanged()
    return vm, log


def test_gpt_fat32_esp(vm_name):
    vm, log = boot_esp_only(vm_name, "esp")
    # Below 4 GiB OVMF maps as an identity: the device writes in place.
    assert bounced(log) == 0, f"unexpected bouncing; {vm.log_path}"
    # Boot Loader Interface variables, read back by Linux through efivarfs.
    bli = dict(re.findall(r"VQ-EFIVAR: (\w+)-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f (.*)", log))
    assert bli.get("LoaderEntrySelected") == "debian.conf", bli
    assert bli.get("LoaderInfo", "").startswith("vqboot"), bli
    assert 0 < int(bli["LoaderTimeInitUSec"]) < int(bli["LoaderTimeExecUSec"]), bli


def test_ext4_xbootldr_two_initrds(vm_name):
    vmlinuz, kver = kernel()
    rd_b, md5_b = extra_initrd("b", "second initrd")
    esp = Part("esp", "fat32", 64, esp_boot_files())
    xbl = Part("xbootldr", "ext4", 48, {
        f"/vmlinuz-{kver}": vmlinuz, "/initrd-a.img": busybox_initrd(), "/initrd-b.img": rd_b,
        "/loader/entries/debian.conf":
            entry("Debian", f"/vmlinuz-{kver}", ["/initrd-a.img", "/initrd-b.img"],
                  CONSOLE + " vq.test=xbootldr")})
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [esp, xbl])
    disk = Disk(path)
    vm, log = boot(vm_name, [(disk, "")])
    check_linux(vm, log, ["vq.test=xbootldr"], initrds=[("/vq-initrd-b.txt", md5_b)],
                disks=[("vda", path)])
    disk.assert_unchanged()


def test_mbr_fat16(vm_name):
    boot_esp_only(vm_name, "mbr", fs="fat16", size=60, table="mbr")


def test_second_disk(vm_name):
    """vqboot on the first disk's ESP, the entries and kernel on the
    second disk's ext4 partition."""
    vmlinuz, kver = kernel()
    p1, p2 = disk_path(vm_name, 0), disk_path(vm_name, 1)
    mkdisk.build_disk(p1, [Part("esp", "fat32", 64, esp_boot_files())])
    mkdisk.build_disk(p2, [Part("linux", "ext4", 48, {
        "/boot/vmlinuz": vmlinuz, "/boot/initrd.img": busybox_initrd(),
        "/loader/entries/second.conf":
            entry("On disk two", "/boot/vmlinuz", ["/boot/initrd.img"],
                  CONSOLE + " vq.test=second-disk")})])
    d1, d2 = Disk(p1), Disk(p2)
    vm, log = boot(vm_name, [(d1, "bootindex=1"), (d2, "")])
    check_linux(vm, log, ["vq.test=second-disk"],
                disks=[("vda", p1), ("vdb", p2)])
    # OVMF binds no driver to a disk outside the boot order: the kernel
    # came from a disk the firmware never read, through vqboot's driver.
    unbound = re.findall(r"pci (\S+): taken from the firmware \(no firmware driver was bound\)", log)
    assert len(unbound) == 1, f"expected disk two without a firmware driver; log {vm.log_path}"
    m = re.search(rf"vblk {re.escape(unbound[0])}: vqboot's driver read (\d+) bytes", log)
    loaded = int(re.search(r"vqboot: loaded \S+: (\d+) bytes", log).group(1))
    assert m and int(m.group(1)) >= loaded, f"kernel not read from disk two; log {vm.log_path}"
    d1.assert_unchanged()
    d2.assert_unchanged()


def test_4k_logical_blocks(vm_name):
    vmlinuz, kver = kernel()
    esp = Part("esp", "fat16", 64, esp_boot_files())
    xbl = Part("xbootldr", "ext4", 48, {
        "/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd(),
        "/loader/entries/debian.conf":
            entry("Debian", "/vmlinuz", ["/initrd.img"], CONSOLE + " vq.test=4k")})
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [esp, xbl], sector_size=4096)
    disk = Disk(path)
    vm, log = boot(vm_name, [(disk, "logical_block_size=4096,physical_block_size=4096")])
    assert "block 4096" in log, f"vqboot did not see 4096-byte blocks; {vm.log_path}"
    check_linux(vm, log, ["vq.test=4k"], disks=[("vda", path)])
    disk.assert_unchanged()


def xfs_xbootldr_boot(name, tag, sector_size=512, mkfs_opts=()):
    """ESP with vqboot; XBOOTLDR on XFS (as RHEL and its rebuilds format
    /boot) with the entry, the kernel behind a symlink, and two initrds."""
    vmlinuz, kver = kernel()
    rd_b, md5_b = extra_initrd("xfs", "initrd read from xfs")
    esp = Part("esp", "fat32" if sector_size == 512 else "fat16", 64,
               esp_boot_files())
    xbl = Part("xbootldr", "xfs", 320, {
        f"/vmlinuz-{kver}": vmlinuz, "/initrd-a.img": busybox_initrd(),
        "/initrd-b.img": rd_b,
        "/loader/entries/rhel.conf":
            entry("XFS /boot", "/vmlinuz", ["/initrd-a.img", "/initrd-b.img"],
                  CONSOLE + f" vq.test={tag}")},
        symlinks={"/vmlinuz": f"vmlinuz-{kver}"}, label="xfsboot",
        mkfs_opts=mkfs_opts)
    path = disk_path(name)
    mkdisk.build_disk(path, [esp, xbl], sector_size=sector_size)
    disk = Disk(path)
    opts = "" if sector_size == 512 else \
        f"logical_block_size={sector_size},physical_block_size={sector_size}"
    # The 400 MB disk boots as fast as others; the margin is for loaded hosts.
    vm, log = boot(name, [(disk, opts)], timeout=240)
    check_linux(vm, log, [f"vq.test={tag}"], initrds=[("/vq-initrd-xfs.txt", md5_b)],
                disks=[("vda", path)])
    disk.assert_unchanged()
    return vm, log


def test_xfs_xbootldr(vm_name):
    xfs_xbootldr_boot(vm_name, "xfs-v5")


def test_xfs_v4_4k_sectors(vm_name):
    vm, log = xfs_xbootldr_boot(vm_name, "xfs-v4-4k", sector_size=4096,
                                mkfs_opts=["-m", "crc=0"])
    assert "block 4096" in log, f"vqboot did not see 4096-byte blocks; {vm.log_path}"


def test_non_first_default(vm_name):
    """loader.conf's default picks the second entry in the sorted order."""
    vmlinuz, kver = kernel()
    files = esp_boot_files(b"timeout 0\ndefault b-*\n")
    files.update({"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd()})
    for name in ("a-first", "b-second", "c-third"):
        files[f"/loader/entries/{name}.conf"] = entry(
            name, "/vmlinuz", ["/initrd.img"], CONSOLE + f" vq.test={name}",
            extra=f"sort-key {name}\n")
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [Part("esp", "fat32", 64, files)])
    disk = Disk(path)
    vm, log = boot(vm_name, [(disk, "")])
    check_linux(vm, log, ["vq.test=b-second"])
    disk.assert_unchanged()


def test_shell_options_bounce(vm_name):
    """vqboot run from the firmware shell with load options: forced bounce
    buffers, an appended argument and a chosen entry."""
    vmlinuz, kver = kernel()
    files = {"/loader/loader.conf": b"timeout 10\n", "/vmlinuz": vmlinuz,
             "/initrd.img": busybox_initrd()}
    for name in ("one", "two"):
        files[f"/loader/entries/{name}.conf"] = entry(
            name, "/vmlinuz", ["/initrd.img"], CONSOLE + f" vq.test={name}")
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [Part("esp", "fat32", 64, files)])
    disk = Disk(path)
    startup = tools_cd() + ['vqboot.efi --bounce --entry one --append "vq.extra=1"']
    vm, log = boot(vm_name, [(disk, "")], tools={"vqboot.efi": VQBOOT, "vqtools.tag": TAG},
                   startup=startup)
    check_linux(vm, log, ["vq.test=one", "vq.extra=1"],
                disks=[("vda", path)])
    assert bounced(log) > 0, f"--bounce did not bounce; {vm.log_path}"
    disk.assert_unchanged()


def test_automatic_entries_ext4(vm_name):
    """No loader entries anywhere: an ext4 root with Debian's /vmlinuz and
    /initrd.img symlinks into /boot gives automatic entries."""
    vmlinuz, kver = kernel()
    root = Part("linux", "ext4", 48, {
        f"/boot/vmlinuz-{kver}": vmlinuz, f"/boot/initrd.img-{kver}": busybox_initrd()},
        symlinks={"/vmlinuz": f"boot/vmlinuz-{kver}", "/initrd.img": f"boot/initrd.img-{kver}"})
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [Part("esp", "fat32", 64, {"/loader/loader.conf": b"timeout 0\n"}),
                             root])
    disk = Disk(path)
    # From the shell, to append a serial console to the automatic entry.
    startup = tools_cd() + [f'vqboot.efi --append "{CONSOLE}"']
    vm, log = boot(vm_name, [(disk, "")], tools={"vqboot.efi": VQBOOT, "vqtools.tag": TAG},
                   startup=startup)
    assert "automatic entr" in log, vm.log_path
    # The automatic entry names its root partition by PARTUUID: the UUID
    # sfdisk gave partition 2.
    uuid = subprocess.run(["sfdisk", "--part-uuid", path, "2"], check=True,
                          capture_output=True, text=True).stdout.strip().lower()
    assert len(uuid) == 36, uuid
    check_linux(vm, log, [f"root=PARTUUID={uuid}"], disks=[("vda", path)])
    disk.assert_unchanged()


def test_efi_entry_chainloads(vm_name):
    """An `efi` entry starts an EFI application the same way; when it
    returns, vqboot (timeout 0) hands control back to the firmware."""
    files = esp_boot_files()
    files.update({"/EFI/tools/vqdiag.efi": os.path.join(BUILD, "vqdiag.efi"),
                  "/loader/entries/tool.conf": b"title vqdiag\nefi /EFI/tools/vqdiag.efi\n"})
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [Part("esp", "fat32", 64, files)])
    disk = Disk(path)
    vm = VM(vm_name, disks=[(disk.path, "")])
    with vm:
        log = vm.run(until=r"vqboot: returning to the firmware", timeout=90)
    assert "vqdiag: list done" in log, f"the efi entry did not run; {vm.log_path}"
    assert "returned from StartImage" in log
    disk.assert_unchanged()


def test_menu_keys_and_editor(vm_name):
    """Down selects the second entry, 'e' edits its command line, Enter
    boots what was typed."""
    vmlinuz, kver = kernel()
    files = esp_boot_files(b"timeout 30\neditor yes\n")
    files.update({"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd()})
    for name in ("a", "b"):
        files[f"/loader/entries/{name}.conf"] = entry(
            f"Entry {name}", "/vmlinuz", ["/initrd.img"], CONSOLE + f" vq.test={name}",
            extra=f"sort-key {name}\n")
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [Part("esp", "fat32", 64, files)])
    disk = Disk(path)
    vm = VM(vm_name, disks=[(disk.path, "")])
    with vm:
        vm.run(until=r"Booting the default in \d+ s", timeout=60)
        vm.type(b"\x1b[B")                      # Down
        vm.run_more(until=r"> 2\) Entry b", timeout=20)
        vm.type(b"e")
        vm.run_more(until=r"edit> ", timeout=20)
        vm.type(b" vq.edited=yes\r")
        log = vm.run_more(until=r"VQ-LINUX: done", timeout=90)
    check_linux(vm, log, ["vq.test=b", "vq.edited=yes"])
    disk.assert_unchanged()


def test_help_and_bad_option(vm_name):
    startup = tools_cd() + ["vqboot.efi --help", "vqboot.efi --bogus", "echo VQ-BACK-IN-SHELL"]
    vm = VM(vm_name, tools={"vqboot.efi": VQBOOT, "vqtools.tag": TAG}, startup=startup)
    with vm:
        log = vm.run(until="VQ-BACK-IN-SHELL", timeout=60)
    assert not vm.timed_out, f"vqboot did not return to the shell; log {vm.log_path}"
    # The shell echoes each startup line: look only at what vqboot printed.
    usage = log.split("vqboot.efi --help", 1)[1].split("vqboot.efi --bogus", 1)[0]
    for opt in ("--entry", "--timeout", "--append", "--verbose", "--bounce", "--no-gpu", "--help"):
        assert opt in usage, f"--help does not list {opt}; {vm.log_path}"
    after = log.split("vqboot.efi --bogus", 1)[1]
    assert "opts: unknown option '--bogus' (see --help)" in after, vm.log_path


@pytest.mark.parametrize("transport", ["disable-modern=on", "disable-legacy=on,queue-size=16"])
def test_boot_over_transport(vm_name, transport):
    """The same boot through the legacy-only interface, and through a
    modern-only device with a 16-entry queue (many small chains)."""
    boot_esp_only(vm_name, "transport", transport,
                  transport="legacy" if "disable-modern" in transport else "modern")
