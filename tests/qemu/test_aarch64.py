# SPDX-License-Identifier: MIT
"""vqboot and vqdiag built for AArch64 (make ARCH=aarch64) on QEMU's virt
machine with AAVMF, booting Debian's arm64 kernel. TCG emulates Arm slowly
on x86 hosts, so each boot checks several things at once."""
import os
import re

from arm64 import CONSOLE, binaries, busybox_initrd, kernel, vm
from conftest import TAG, Disk, parse_json_report, tools_cd
from linux import entry, extra_initrd
from linux import kernel as x86_kernel
from test_boot import disk_path, first_sector_md5
from test_gpu import SCREEN_HILITE_BG, count, dump, layout, menu_ok, row_pixels
import mkdisk
from mkdisk import Part

BLK4K = "logical_block_size=4096,physical_block_size=4096"
BLI = r"VQ-EFIVAR: (\w+)-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f (.*)"


def esp(files, loader=b"timeout 0\n"):
    vqboot, _ = binaries()
    f = {"/EFI/BOOT/BOOTAA64.EFI": vqboot, "/loader/loader.conf": loader}
    f.update(files)
    return Part("esp", "fat32", 64, f)


def test_aarch64_boot_menu_4k_two_initrds(vm_name):
    """Disk 0 (512-byte sectors): a GPT FAT32 ESP with vqboot as
    BOOTAA64.EFI, loader.conf (menu for 30 s) and an entry for x64, which
    must stay hidden. Disk 1 (4096-byte logical blocks): an ext4 XBOOTLDR
    with the arm64 kernel, two initrds and the aa64 entry. The menu is on
    the virtio-gpu screen; Enter boots; Linux prints its command line, the
    second initrd's file, what it reads from both disks after the handoff
    and the Boot Loader Interface variables."""
    vmlinuz, kver = kernel()
    rd_b, md5_b = extra_initrd("b", "second initrd")
    x64 = entry("Debian x86-64", "/vmlinuz", [], "x", "architecture x64\n")
    d0 = disk_path(vm_name, 0)
    mkdisk.build_disk(d0, [esp({"/loader/entries/x86.conf": x64},
                               b"timeout 30\ndefault debian*\n")])
    xbl = Part("xbootldr", "ext4", 64, {
        f"/vmlinuz-{kver}": vmlinuz, "/initrd-a.img": busybox_initrd(), "/initrd-b.img": rd_b,
        "/loader/entries/debian.conf":
            entry("Debian arm64", f"/vmlinuz-{kver}", ["/initrd-a.img", "/initrd-b.img"],
                  CONSOLE + " vq.test=aa64", "architecture aa64\n")})
    d1 = disk_path(vm_name, 1)
    mkdisk.build_disk(d1, [xbl], sector_size=4096)
    disks = [Disk(d0), Disk(d1)]
    w, h = 1024, 768
    v = vm(vm_name, disks=[(d0, "bootindex=1"), (d1, BLK4K)],
           devices=[f"virtio-gpu-pci,id=gpu0,xres={w},yres={h}"])
    with v:
        v.run(until=r"Booting the default in \d+ s", timeout=120)
        assert not v.timed_out, f"no menu on serial; log {v.log_path}"
        img = None
        for _ in range(20):
            img = dump(v, "menu.ppm")
            if menu_ok(img, w, 2):
                break
        v.type(b"\r")
        log = v.run_more(until=r"VQ-LINUX: done|reboot: Power down|Kernel panic", timeout=240)
    assert not v.timed_out, f"no Linux in time; log {v.log_path}"
    # The menu: one entry (the x64 one hidden), on the screen too.
    assert "bls: x86.conf: architecture x64 is not aa64, hidden" in log, v.log_path
    assert "Debian x86-64" not in log.split("VQ-LINUX")[0], v.log_path
    assert "vgpu" in log and f"scanout 0: {w}x{h}" in log, v.log_path
    assert img[:2] == (w, h) and menu_ok(img, w, 2), f"no menu bar: {v.dir}/menu.ppm"
    _, _, ch = layout(w)
    assert count(row_pixels(img, 3, ch), SCREEN_HILITE_BG) == 0, f"{v.dir}/menu.ppm"
    # vqboot read the entry from the 4096-byte disk with its own driver
    # (less than the files' size: mke2fs -d leaves the Image's zeros as holes).
    assert re.search(r"vblk 00:02.0: modern transport, \d+ sectors, block 4096", log), v.log_path
    m = re.search(r"vblk 00:02.0: vqboot's driver read (\d+) bytes in (\d+) requests", log)
    assert m and int(m.group(1)) > os.path.getsize(vmlinuz) // 2, v.log_path
    # Linux, through the arm64 EFI stub, with both initrds.
    assert "VQ-LINUX: up" in log, f"Linux did not start; log {v.log_path}"
    cmdline = re.search(r"VQ-CMDLINE: (.*)", log).group(1)
    assert "vq.test=aa64" in cmdline, cmdline
    assert f"VQ-INITRD: /vq-initrd-b.txt {md5_b}" in log, v.log_path
    for name, path in (("vda", d0), ("vdb", d1)):
        want = f"VQ-DISK: {name} sectors {os.path.getsize(path) // 512} " \
               f"mbr-md5 {first_sector_md5(path)}"
        assert want in log, f"Linux could not read {name} after the handoff; {v.log_path}"
    bli = dict(re.findall(BLI, log))
    assert bli.get("LoaderEntrySelected") == "debian.conf", bli
    assert 0 < int(bli["LoaderTimeInitUSec"]) < int(bli["LoaderTimeExecUSec"]), bli
    assert "VQ-LINUX: done" in log, v.log_path
    for d in disks:
        d.assert_unchanged()


def scratch(name, n, size_mb=64):
    path = disk_path(name, n)
    mkdisk.build_disk(path, [Part("linux", "fat16", size_mb - 2, {"/MARKER.TXT": b"vq\n"})])
    return Disk(path)


def test_aarch64_vqdiag_list_json(vm_name):
    """vqdiag list --json on the virt machine: a transitional disk (the root
    bus default), a modern-only one, a legacy-only one (its I/O BAR in the
    virt machine's PCI I/O window) and a GPU; each disk's capacity as
    vqboot's transport reads it from the device's config."""
    _, vqdiag = binaries()
    d = [scratch(vm_name, i, 64 + 16 * i) for i in range(3)]
    startup = tools_cd() + ["vqdiag.efi list --json", "echo VQ-SHELL-END", "reset -s"]
    v = vm(vm_name, tools={"vqdiag.efi": vqdiag, "vqtools.tag": TAG}, startup=startup,
           disks=[(d[0].path, ""), (d[1].path, "disable-legacy=on"),
                  (d[2].path, "disable-modern=on")],
           devices=["virtio-gpu-pci,xres=800,yres=600"])
    with v:
        log = v.run(until=r"VQ-SHELL-END", timeout=150)
    assert not v.timed_out, f"vqdiag did not finish; log {v.log_path}"
    rep = parse_json_report(log, v)
    blks = sorted((b for b in rep["devices"] if b["type"] == "block"),
                  key=lambda b: b["block"]["capacity_sectors"])
    assert len(blks) == 3, rep
    for b, disk in zip(blks, d):
        assert b["block"]["capacity_sectors"] == os.path.getsize(disk.path) // 512, b
    tr, modern, legacy = blks
    assert tr["transport"] == "modern" and tr["transitional"], tr
    assert modern["transport"] == "modern" and modern["device_id"] == 0x1042, modern
    assert "VERSION_1" in modern["negotiated"], modern
    assert legacy["transport"] == "legacy" and "VERSION_1" not in legacy["offered"], legacy
    (gpu,) = [g for g in rep["devices"] if g["type"] == "gpu"]
    assert gpu["device_id"] == 0x1050 and gpu["gpu"]["num_scanouts"] == 1, gpu
    for disk in d:
        disk.assert_unchanged()


def test_aarch64_fault_x86_kernel(vm_name):
    """An entry whose kernel is Debian's x86-64 one: vqboot names the file
    and the machine type, returns to the firmware unattended, and the
    firmware's next boot option (vqdiag as BOOTAA64.EFI) runs."""
    _, vqdiag = binaries()
    vmlinuz, _ = x86_kernel()
    d0 = disk_path(vm_name, 0)
    mkdisk.build_disk(d0, [esp({"/vmlinuz": vmlinuz, "/loader/entries/x86.conf":
                                entry("Debian x86-64", "/vmlinuz", [], CONSOLE)})])
    d1 = disk_path(vm_name, 9)
    mkdisk.build_disk(d1, [Part("esp", "fat32", 40, {"/EFI/BOOT/BOOTAA64.EFI": vqdiag})])
    disks = [Disk(d0), Disk(d1)]
    v = vm(vm_name, disks=[(d0, "bootindex=1"), (d1, "bootindex=9")])
    with v:
        log = v.run(until=r"vqdiag: list done", timeout=150)
    assert not v.timed_out, f"no return to the firmware; log {v.log_path}"
    assert re.search(r"pe: /vmlinuz on vblk 00:01.0 p1: machine 0x8664 \(x86-64\) "
                     r"cannot run here, need 0xaa64 \(arm64\)", log), v.log_path
    assert "BdsDxe: starting Boot0002" in log and "VQ-LINUX" not in log, v.log_path
    assert "vqboot: returning to the firmware" in log, v.log_path
    for d in disks:
        d.assert_unchanged()
