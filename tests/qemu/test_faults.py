# SPDX-License-Identifier: MIT
"""Faults: damaged disks, broken entries, injected read errors and a
stalled device. Each boot must end with a clear error naming the item, no
hang, every disk image byte-identical, and control back to the firmware,
whose next boot option (vqdiag on a second disk) then runs."""
import os
import re
import struct
import subprocess

from conftest import TAG, VQBOOT, VQDIAG, Disk, tools_cd
from linux import CONSOLE, busybox_initrd, entry, kernel
from test_boot import boot, check_linux, disk_path
from vm import VM
import mkdisk
from mkdisk import Part

NEXT = "vqdiag: list done"


def next_option_disk(name):
    """A disk whose BOOTX64.EFI is vqdiag: proof the firmware moved on."""
    path = disk_path(name, 9)
    mkdisk.build_disk(path, [Part("esp", "fat32", 40, {"/EFI/BOOT/BOOTX64.EFI": VQDIAG})])
    return Disk(path)


def esp_with(files, loader=b"timeout 0\n", fs="fat32", patch=None):
    f = {"/EFI/BOOT/BOOTX64.EFI": VQBOOT, "/loader/loader.conf": loader}
    f.update(files)
    return Part("esp", fs, 64, f, patch=patch)


def fault_boot(name, disks, expect, timeout=120):
    """Boot disks (first one first, then the vqdiag disk) and check the
    error, the return to the firmware and the next option."""
    nxt = next_option_disk(name)
    vm = VM(name, disks=[(d.spec, opts) for d, opts in disks] + [(nxt.path, "bootindex=9")])
    with vm:
        log = vm.run(until=NEXT, timeout=timeout)
    assert not vm.timed_out, f"no return to the firmware in {timeout}s; log {vm.log_path}"
    for pat in expect:
        assert re.search(pat, log), f"{pat!r} not in the log {vm.log_path}"
    assert "vqboot: returning to the firmware" in log, vm.log_path
    assert "VQ-LINUX" not in log
    for d, _ in disks:
        d.assert_unchanged()
    nxt.assert_unchanged()
    return log


def one_disk(name, part, table="gpt"):
    path = disk_path(name)
    mkdisk.build_disk(path, [part], table=table)
    return Disk(path)


def kernel_entry(linux="/vmlinuz", initrds=("/initrd.img",), options=CONSOLE):
    return entry("Debian", linux, list(initrds), options)


def std_files():
    vmlinuz, _ = kernel()
    return {"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd()}


def test_truncated_kernel(vm_name):
    vmlinuz, _ = kernel()
    with open(vmlinuz, "rb") as f:
        half = f.read(1 << 20)
    files = {"/vmlinuz": half, "/initrd.img": busybox_initrd(),
             "/loader/entries/debian.conf": kernel_entry()}
    d = one_disk(vm_name, esp_with(files))
    fault_boot(vm_name, [(d, "bootindex=1")],
               [r"/vmlinuz on vblk [0-9a-f:.]+ p1: section '[^']*' raw data .* beyond the file"])


def test_malformed_pe_header(vm_name):
    vmlinuz, _ = kernel()
    data = bytearray(open(vmlinuz, "rb").read())
    struct.pack_into("<I", data, 0x3C, 0x7FFFFFF0)  # e_lfanew past the end
    files = {"/vmlinuz": bytes(data), "/initrd.img": busybox_initrd(),
             "/loader/entries/debian.conf": kernel_entry()}
    d = one_disk(vm_name, esp_with(files))
    fault_boot(vm_name, [(d, "bootindex=1")], [r"/vmlinuz on vblk \S+ p1: e_lfanew 0x7ffffff0"])


def test_zero_length_initrd(vm_name):
    files = std_files()
    files.update({"/empty.img": b"",
                  "/loader/entries/debian.conf": kernel_entry(initrds=("/empty.img",))})
    d = one_disk(vm_name, esp_with(files))
    fault_boot(vm_name, [(d, "bootindex=1")], [r"/empty.img on vblk.*size 0"])


def test_missing_initrd(vm_name):
    files = std_files()
    files["/loader/entries/debian.conf"] = kernel_entry(initrds=("/nowhere.img",))
    d = one_disk(vm_name, esp_with(files))
    fault_boot(vm_name, [(d, "bootindex=1")], [r"/nowhere.img on vblk.*not found"])


def test_cmdline_too_long(vm_name):
    files = std_files()
    files["/loader/entries/debian.conf"] = kernel_entry(options=CONSOLE + " x" * 1500)
    d = one_disk(vm_name, esp_with(files))
    fault_boot(vm_name, [(d, "bootindex=1")], [r"(command line is \d+ bytes, the kernel accepts 2047"
                r"|options add up to \d+ bytes, limit 2047)"])


def test_initrd_word_on_command_line(vm_name):
    """An initrd= in the options (no initrd line): the kernel's stub would
    read it through the firmware's file system, which vqboot has taken.
    vqboot says so, naming the word, before the stub gives up."""
    files = std_files()
    files["/loader/entries/debian.conf"] = kernel_entry(
        initrds=(), options=CONSOLE + " initrd=\\initrd.img")
    d = one_disk(vm_name, esp_with(files))
    fault_boot(vm_name, [(d, "bootindex=1")],
               [r"warning: vqboot: the command line names initrd=\\initrd\.img, which the "
                r"kernel's stub would read through the firmware's file system",
                r"entry debian did not boot"])


def _fat16_loop(img):
    """Make the chain of /looped.efi point back at its first cluster."""
    out = subprocess.run(["mshowfat", "-i", img, "::/looped.efi"], check=True,
                         capture_output=True, text=True).stdout
    first, last = map(int, re.search(r"<(\d+)-(\d+)>", out).groups())
    with open(img, "r+b") as f:
        bpb = f.read(64)
        bps, reserved = struct.unpack_from("<H", bpb, 11)[0], struct.unpack_from("<H", bpb, 14)[0]
        f.seek(reserved * bps + 2 * last)
        f.write(struct.pack("<H", first))


def test_fat_cluster_loop(vm_name):
    files = std_files()
    files.update({"/looped.efi": os.urandom(64 << 10),
                  "/loader/entries/debian.conf": kernel_entry(linux="/looped.efi")})
    d = one_disk(vm_name, esp_with(files, fs="fat16", patch=_fat16_loop))
    fault_boot(vm_name, [(d, "bootindex=1")], [r"looped.efi.*(loop|links back)"])


def _ext4_extent_outside(img):
    out = subprocess.run(["debugfs", "-R", "imap /vmlinuz", img], check=True,
                         capture_output=True, text=True).stdout
    m = re.search(r"located at block (\d+), offset 0x([0-9a-f]+)", out)
    block, off = int(m.group(1)), int(m.group(2), 16)
    pos = block * 4096 + off + 40 + 12 + 8  # i_block, extent header, ee_start_lo
    with open(img, "r+b") as f:
        f.seek(pos)
        f.write(struct.pack("<I", 0x7FFFFFF0))


def test_ext4_extent_outside_partition(vm_name):
    files = std_files()
    files["/loader/entries/debian.conf"] = kernel_entry()
    xbl = Part("xbootldr", "ext4", 48, files, patch=_ext4_extent_outside)
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [esp_with({}), xbl])
    d = Disk(path)
    fault_boot(vm_name, [(d, "bootindex=1")], [r"ext4: inode \d+ extent.*beyond"])


def test_garbage_entry_others_boot(vm_name):
    """A broken entry is marked in the menu; the good one still boots."""
    files = std_files()
    files["/loader/entries/a-garbage.conf"] = (b"title \x00\xff\xfe garbage\n" +
                                               b"x" * 9000 + b"\nlinux /vmlinuz\n")
    files["/loader/entries/b-good.conf"] = kernel_entry(options=CONSOLE + " vq.test=good")
    d = one_disk(vm_name, esp_with(files, loader=b"timeout 1\n"))
    vm, log = boot(vm_name, [(d, "")])
    assert re.search(r"a-garbage.conf.*line", log), f"no message naming the file; {vm.log_path}"
    assert "[broken]" in log, f"the menu did not mark the entry; {vm.log_path}"
    check_linux(vm, log, ["vq.test=good"])
    d.assert_unchanged()


def test_backup_gpt_used(vm_name):
    """A damaged primary GPT header: the backup is used and Linux boots."""
    files = std_files()
    files["/loader/entries/debian.conf"] = kernel_entry(options=CONSOLE + " vq.test=backup")
    a = one_disk(vm_name, esp_with({}))
    path = disk_path(vm_name, 1)
    mkdisk.build_disk(path, [Part("linux", "ext4", 48, files)])
    with open(path, "r+b") as f:  # break the primary header's CRC
        f.seek(512 + 24)
        f.write(b"\xff\xff\xff\x7f")
    b = Disk(path)
    vm, log = boot(vm_name, [(a, "bootindex=1"), (b, "")])
    assert re.search(r"(?i)primary.*damaged|backup", log), f"no word of the backup; {vm.log_path}"
    check_linux(vm, log, ["vq.test=backup"])
    a.assert_unchanged()
    b.assert_unchanged()


def _sector_of(disk, data_path, at):
    """The 512-byte sector holding byte `at` of file data_path on disk."""
    with open(data_path, "rb") as f:
        f.seek(at)
        needle = f.read(4096)
    blob = open(disk, "rb").read()
    pos = blob.find(needle)
    assert pos >= 0 and blob.find(needle, pos + 1) < 0
    return pos // 512


def blkdebug(vm_name, sector):
    cfg = disk_path(vm_name, 7) + ".blkdebug"
    with open(cfg, "w") as f:
        f.write(f'[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "{sector}"\n')
    return cfg


def test_read_error_in_kernel(vm_name):
    vmlinuz, _ = kernel()
    files = std_files()
    files["/loader/entries/debian.conf"] = kernel_entry()
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [esp_with({}), Part("xbootldr", "ext4", 48, files)])
    sector = _sector_of(path, vmlinuz, 4 << 20)
    cfg = blkdebug(vm_name, sector)
    d = Disk(path, f"blkdebug:{cfg}:{path}")
    log = fault_boot(vm_name, [(d, "bootindex=1")],
                     [r"/vmlinuz on vblk \S+ p2: read failed at byte \d+: I/O error"])
    # The failed request must be the one holding the sector the rule sits
    # on (QEMU may fail the requests it merged with it, too).
    failed = [(int(a), int(n)) for a, n in
              re.findall(r"I/O error at sector (\d+) \(\+(\d+) bytes\)", log)]
    assert any(a <= sector < a + n // 512 for a, n in failed), \
        f"no failed request covers sector {sector}: {failed}; log {log[-300:]}"


def test_read_error_in_gpt(vm_name):
    """The second disk's primary GPT header cannot be read."""
    files = std_files()
    files["/loader/entries/debian.conf"] = kernel_entry()
    a = one_disk(vm_name, esp_with({}))
    path = disk_path(vm_name, 1)
    mkdisk.build_disk(path, [Part("linux", "ext4", 48, files)])
    cfg = blkdebug(vm_name, 1)
    b = Disk(path, f"blkdebug:{cfg}:{path}")
    log = fault_boot(vm_name, [(a, "bootindex=1"), (b, "")], [r"I/O error"])
    assert re.search(r"sector 1\b|LBA 1\b|partition table", log)


def test_stalled_device_times_out(vm_name):
    """A device throttled so hard that a request outlives the deadline: the
    request times out, the device is reset, and the firmware goes on."""
    files = std_files()
    files["/loader/entries/debian.conf"] = kernel_entry()
    a = one_disk(vm_name, esp_with({}))
    path = disk_path(vm_name, 1)
    mkdisk.build_disk(path, [Part("linux", "ext4", 48, files)])
    b = Disk(path)
    log = fault_boot(vm_name, [(a, "bootindex=1"),
                               (b, ("throttling.bps-read=60000", ""))],
                     [r"/vmlinuz on vblk \S+ p1: read failed at byte \d+: timed out"],
                     timeout=240)
    assert re.search(r"vblk \S+: device reset, \d+ in-flight requests? dropped", log), \
        "no word of the device reset"


def shell_run_vqboot(name, disks, timeout=90):
    startup = tools_cd() + ["vqboot.efi", "echo VQ-BACK-IN-SHELL", "reset -s"]
    vm = VM(name, disks=[(d.path, "") for d in disks], startup=startup,
            tools={"vqboot.efi": VQBOOT, "vqtools.tag": TAG})
    with vm:
        log = vm.run(until="VQ-BACK-IN-SHELL", timeout=timeout)
    assert not vm.timed_out, f"vqboot did not return; log {vm.log_path}"
    for d in disks:
        d.assert_unchanged()
    return log


def test_no_virtio_disk(vm_name):
    log = shell_run_vqboot(vm_name, [])
    assert "vqboot: no virtio disk found" in log


def test_disk_without_partitions(vm_name):
    path = disk_path(vm_name)
    subprocess.run(["truncate", "-s", "32M", path], check=True)
    log = shell_run_vqboot(vm_name, [Disk(path)])
    assert re.search(r"no boot entries on 1 virtio disk", log)
