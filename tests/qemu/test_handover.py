# SPDX-License-Identifier: MIT
"""What vqboot leaves behind when it starts a Linux kernel: the disks reset
and released, their firmware drivers left unbound (a kernel reads its
initrd through LoadFile2, not through them), and bound again if the kernel
returns, so that the firmware's next boot option finds the disk."""
import os

from conftest import VQBOOT, Disk
from vm import BUILD, VM
import mkdisk
from mkdisk import Part
from test_boot import disk_path


def test_linux_entry_returns_disks_reconnected(vm_name):
    """A `linux` entry whose image is an EFI program that returns (vqdiag,
    its command line `list`): it finds the disk with no firmware driver
    bound; when it returns, vqboot binds the firmware's drivers again, and
    the firmware's next option (its shell) maps the disk's FAT volume."""
    files = {"/EFI/BOOT/BOOTX64.EFI": VQBOOT, "/loader/loader.conf": b"timeout 0\n",
             "/kernel.efi": os.path.join(BUILD, "vqdiag.efi"),
             "/loader/entries/k.conf": b"title returns\nlinux /kernel.efi\noptions list\n"}
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [Part("esp", "fat32", 64, files)])
    disk = Disk(path)
    vm = VM(vm_name, disks=[(disk.path, "")])
    with vm:
        log = vm.run(until=r"Shell> ", timeout=120)
    assert "vqdiag: list done" in log, f"the entry did not run; {vm.log_path}"
    assert "(disk drivers reconnected if the kernel returns)" in log, vm.log_path
    assert "taken from the firmware (no firmware driver was bound)" in log, \
        f"the disk's firmware driver was bound when the kernel ran; {vm.log_path}"
    back = log.index("pci: firmware drivers reconnected to 1 device")
    assert "vqboot: returning to the firmware" in log[back:], vm.log_path
    shell = log[back:]
    assert "FS0:" in shell and "Pci(0x" in shell, \
        f"the firmware's shell found no file system on the disk; {vm.log_path}"
    disk.assert_unchanged()
