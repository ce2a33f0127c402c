# SPDX-License-Identifier: MIT
"""A Linux kernel's initrds cross guest memory once: vqboot opens and sizes
them before StartImage and reads them from the disk, with its own driver,
straight into the buffer the kernel's EFI stub passes to LoadFile2; the
disks stay vqboot's until ExitBootServices resets them. Linux checks what
arrived; a disk that fails during that read is named and the boot fails
back to the firmware."""
import os
import re

from linux import CONSOLE, busybox_initrd, entry, extra_initrd, kernel
from test_boot import boot, check_linux, disk_path, esp_boot_files
from test_faults import NEXT, _sector_of, blkdebug, esp_with, fault_boot
from conftest import Disk
from vm import BUILD, VM
import mkdisk
from mkdisk import Part


def padded(*paths):
    return sum(-(-os.path.getsize(p) // 4) * 4 for p in paths)


def test_initrds_read_into_the_stubs_buffer(vm_name):
    """Two initrds (the first not a multiple of 4 bytes long, so padding
    sits between them): before StartImage vqboot reads the kernel alone and
    leaves the initrds on the disk; after it, one LoadFile2 read by its
    driver fills the stub's buffer (the bytes its driver read, no copy from
    a buffer of its own); Linux finds both initrds' files intact and reads
    the disk after vqboot's reset at ExitBootServices."""
    vmlinuz, _ = kernel()
    rd_a = busybox_initrd()
    rd_b, md5_b = extra_initrd("b", "second initrd")
    files = esp_boot_files()
    files.update({"/vmlinuz": vmlinuz, "/initrd-a.img": rd_a, "/initrd-b.img": rd_b,
                  "/loader/entries/debian.conf":
                      entry("Debian", "/vmlinuz", ["/initrd-a.img", "/initrd-b.img"],
                            CONSOLE + " vq.test=lf2")})
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [Part("esp", "fat32", 64, files)])
    disk = Disk(path)
    vm, log = boot(vm_name, [(disk, "")])
    check_linux(vm, log, ["vq.test=lf2"], initrds=[("/vq-initrd-b.txt", md5_b)],
                disks=[("vda", path)])
    total = padded(rd_a, rd_b)
    raw = os.path.getsize(rd_a) + os.path.getsize(rd_b)
    loaded = int(re.search(r"vqboot: loaded debian: (\d+) bytes", log).group(1))
    assert loaded == os.path.getsize(vmlinuz), \
        f"before StartImage vqboot read {loaded} bytes, not the kernel's alone; {vm.log_path}"
    assert f"vqboot: 2 initrds ({total} bytes) left on vblk" in log, vm.log_path
    m = re.search(rf"initrd: {total} bytes \(2 files\) read by vqboot's driver from vblk \S+ p1 "
                  r"straight into the kernel's LoadFile2 buffer in \d+ us; "
                  r"the driver read (\d+) bytes", log)
    assert m, f"no LoadFile2 read by vqboot's driver; {vm.log_path}"
    assert int(m.group(1)) >= raw, f"the driver read less than the initrds; {vm.log_path}"
    assert log.index("disks kept to read the initrds") < m.start(), vm.log_path
    # No second copy: the line of a copy from vqboot's own buffer is absent.
    assert not re.search(r"initrd: \d+ bytes into the kernel's LoadFile2 buffer", log), \
        vm.log_path
    disk.assert_unchanged()


def test_read_error_during_loadfile2(vm_name):
    """blkdebug fails a sector in the middle of the initrd, which vqboot
    first reads inside the stub's LoadFile2 call: the error names the file,
    the disk and the sector, LoadFile2 fails, the stub gives up, vqboot says
    the entry did not boot, gives the disk back and the firmware's next
    option runs."""
    files = {"/vmlinuz": kernel()[0], "/initrd.img": busybox_initrd(),
             "/loader/entries/debian.conf": entry("Debian", "/vmlinuz", ["/initrd.img"],
                                                  CONSOLE)}
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [esp_with({}), Part("xbootldr", "ext4", 48, files)])
    at = os.path.getsize(busybox_initrd()) // 2 // 4096 * 4096
    sector = _sector_of(path, busybox_initrd(), at)
    cfg = blkdebug(vm_name, sector)
    d = Disk(path, f"blkdebug:{cfg}:{path}")
    log = fault_boot(vm_name, [(d, "bootindex=1")],
                     [r"disks kept to read the initrds",
                      r"/initrd.img on vblk \S+ p2: read failed at byte \d+: I/O error",
                      r"initrd: LoadFile2 for \d+ bytes failed: I/O error",
                      r"returned from StartImage",
                      r"vqboot: entry \S+ did not boot"], timeout=180)
    failed = [(int(a), int(n)) for a, n in
              re.findall(r"I/O error at sector (\d+) \(\+(\d+) bytes\)", log)]
    assert any(a <= sector < a + n // 512 for a, n in failed), \
        f"no failed request covers sector {sector}: {failed}"
    # The read failed after StartImage, not before it.
    assert log.index("disks kept to read the initrds") < log.index("read failed at byte"), log
    assert NEXT in log


def test_kernel_that_never_asks(vm_name):
    """`noinitrd`: the stub never calls LoadFile2, so vqboot reads nothing
    after StartImage; the disks it kept are reset at ExitBootServices (QEMU's
    trace of the device status: a 0 after vqboot's DRIVER_OK, and Linux,
    which has no virtio_blk without its initramfs, writes none) and the
    kernel runs on (to its panic without a root file system)."""
    vmlinuz, _ = kernel()
    files = esp_boot_files()
    files.update({"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd(),
                  "/loader/entries/debian.conf":
                      entry("Debian", "/vmlinuz", ["/initrd.img"],
                            "console=ttyS0 panic=-1 noinitrd")})
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [Part("esp", "fat32", 64, files)])
    disk = Disk(path)
    trace = os.path.join(BUILD, "qemu-logs", f"{vm_name}.status.trace")
    if os.path.exists(trace):
        os.unlink(trace)
    vm = VM(vm_name, disks=[(disk.path, "")],
            extra=["-d", "trace:virtio_set_status", "-D", trace])
    with vm:
        log = vm.run(until=r"VFS: Unable to mount root|Kernel panic", timeout=150)
    assert not vm.timed_out, f"the kernel did not run on; log {vm.log_path}"
    assert "disks kept to read the initrds" in log, vm.log_path
    assert "Linux version" in log, vm.log_path
    assert "LoadFile2" not in log, f"the kernel asked for its initrd after all; {vm.log_path}"
    status = [int(v) for v in re.findall(r"virtio_set_status .* val (\d+)", open(trace).read())]
    # DRIVER_OK with FEATURES_OK (15) is vqboot's modern driver: OVMF's
    # legacy one stops at 7.
    assert 15 in status, f"vqboot's driver never set DRIVER_OK: {status}"
    after = status[len(status) - status[::-1].index(15):]
    assert 0 in after, f"the disk was not reset after vqboot's DRIVER_OK: {status}"
    disk.assert_unchanged()
