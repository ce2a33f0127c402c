# SPDX-License-Identifier: MIT
"""Secure Boot: vqboot keeps the chain of trust.

Debian's snakeoil firmware (Secure Boot on, the snakeoil key in db) starts
Debian's shim (signed here with the snakeoil key) as BOOTX64.EFI, shim
starts vqboot (signed the same way) as its second stage, and vqboot starts
Debian's own signed kernel, which shim trusts through the Debian
certificate built into it. Kernels and EFI applications that nobody
trusted are refused with a message naming the file, and the firmware's
next boot option runs.
"""
import os
import re
import subprocess

from conftest import TAG, VQBOOT, VQDIAG, Disk, parse_json_report, tools_cd
from linux import CONSOLE, busybox_initrd, entry, kernel
from secureboot import SHIM, SHIM_SECOND_STAGE, sign, unsigned, verifies
from test_boot import disk_path
from vm import BUILD, TOP, VM
import mkdisk
from mkdisk import Part

NEXT = "vqdiag: list done"
REFUSED = r"refused by Secure Boot \(not signed by a trusted key\)"


def objdump_sections(path):
    out = subprocess.run(["objdump", "-h", path], capture_output=True, text=True,
                         check=True).stdout
    return re.findall(r"^\s*\d+\s+(\S+)\s+([0-9a-f]+)", out, re.M)


def shim_esp(files, loader=b"timeout 0\n"):
    f = {"/EFI/BOOT/BOOTX64.EFI": sign(SHIM, "shimx64.efi"),
         f"/EFI/BOOT/{SHIM_SECOND_STAGE}": sign(VQBOOT, "vqboot.efi"),
         "/loader/loader.conf": loader}
    f.update(files)
    return Part("esp", "fat32", 64, f)


def sb_boot(name, part, until, timeout=300, next_option=False, **vmargs):
    path = disk_path(name)
    mkdisk.build_disk(path, [part])
    disks = [Disk(path)]
    opts = ["bootindex=1"]
    if next_option:
        nxt = disk_path(name, 9)
        mkdisk.build_disk(nxt, [Part("esp", "fat32", 40, {
            "/EFI/BOOT/BOOTX64.EFI": sign(VQDIAG, "vqdiag.efi")})])
        disks.append(Disk(nxt))
        opts.append("bootindex=9")
    vm = VM(name, disks=[(d.path, o) for d, o in zip(disks, opts)], secure_boot=True, **vmargs)
    with vm:
        log = vm.run(until=until, timeout=timeout)
    assert not vm.timed_out, f"no {until!r} in {timeout}s; log {vm.log_path}"
    for d in disks:
        d.assert_unchanged()
    return vm, log


def test_shim_vqboot_debian_signed_kernel(vm_name):
    vmlinuz, _ = kernel()
    assert not verifies(vmlinuz), "the kernel must not be trusted by db alone"
    part = shim_esp({"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd(),
                     "/loader/entries/debian.conf":
                         entry("Debian", "/vmlinuz", ["/initrd.img"], CONSOLE + " vq.test=sb")})
    vm, log = sb_boot(vm_name, part, r"VQ-LINUX: done|reboot: Power down")
    assert "VQ-LINUX: up" in log, f"Linux did not start; log {vm.log_path}"
    assert "vq.test=sb" in log
    assert "VQ-SECUREBOOT: 1" in log, f"Linux did not see Secure Boot on; {vm.log_path}"
    assert "vqboot: Secure Boot on, setup mode off, shim present" in log, vm.log_path
    assert re.search(r"/vmlinuz on vblk [0-9a-f:.]+ p1: verified by shim", log), vm.log_path


def kernel_files(vmlinuz, options=CONSOLE):
    return {"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd(),
            "/loader/entries/debian.conf": entry("Debian", "/vmlinuz", ["/initrd.img"], options)}


def refused_boot(name, part, what=r"/vmlinuz", shim=True):
    """The entry is refused, vqboot hands the refusal to the firmware
    and the firmware's next boot option (a signed vqdiag) runs."""
    vm, log = sb_boot(name, part, NEXT, next_option=True)
    assert re.search(rf"{what} on vblk [0-9a-f:.]+ p1: {REFUSED}", log), \
        f"no refusal naming {what}; log {vm.log_path}"
    assert "did not boot: refused by Secure Boot" in log, vm.log_path
    m = re.search(r"vqboot: returning to the firmware \(status 0x([0-9a-f]+)\)", log)
    assert m, vm.log_path
    assert int(m.group(1), 16) == 0x800000000000001a, "not EFI_SECURITY_VIOLATION"
    # The next option ran after vqboot returned, not the refused image.
    assert log.index(m.group(0)) < log.index(NEXT), vm.log_path
    assert "VQ-LINUX" not in log
    return vm, log


def tampered(src, name):
    """src with one byte changed in the middle of what its signature covers."""
    out = os.path.join(BUILD, "qemu-cache", name)
    data = bytearray(open(src, "rb").read())
    data[len(data) // 2] ^= 0x01
    with open(f"{out}.{os.getpid()}", "wb") as f:
        f.write(data)
    os.replace(f"{out}.{os.getpid()}", out)
    return out


def test_tampered_kernel_refused(vm_name):
    bad = tampered(kernel()[0], "vmlinuz-tampered")
    refused_boot(vm_name, shim_esp(kernel_files(bad)))


def test_unsigned_kernel_refused(vm_name):
    bare = unsigned(kernel()[0], "vmlinuz-unsigned")
    refused_boot(vm_name, shim_esp(kernel_files(bare)))


def test_unsigned_efi_entry_refused(vm_name):
    bare = unsigned(VQDIAG, "vqdiag-unsigned.efi")
    refused_boot(vm_name, shim_esp({"/EFI/tools/vqdiag.efi": bare,
                                    "/loader/entries/tool.conf":
                                        b"title vqdiag\nefi /EFI/tools/vqdiag.efi\n"}),
                 what=r"/EFI/tools/vqdiag\.efi")


def test_signed_efi_entry_runs(vm_name):
    """An EFI application signed by a key in db runs from an efi entry
    (shim trusts db too); it reports the Secure Boot state in its JSON."""
    part = shim_esp({"/EFI/tools/vqdiag.efi": sign(VQDIAG, "vqdiag.efi"),
                     "/loader/entries/tool.conf":
                         b"title vqdiag\nefi /EFI/tools/vqdiag.efi\noptions list --json\n"})
    vm, log = sb_boot(vm_name, part, r"vqboot: returning to the firmware")
    assert NEXT in log, f"the signed efi entry did not run; {vm.log_path}"
    report = parse_json_report(log, vm)
    assert report["secure_boot"] == {"enabled": True, "setup_mode": False, "shim": True}, \
        report["secure_boot"]


def test_state_reported_without_secure_boot(vm_name):
    """Debian's plain firmware has no PK (setup mode, nothing enforced):
    vqdiag list --json and vqboot --verbose say so."""
    startup = tools_cd() + ["vqdiag.efi list --json", "vqboot.efi --verbose --timeout 0",
                            "echo VQ-SHELL-END", "reset -s"]
    vm = VM(vm_name, tools={"vqdiag.efi": VQDIAG, "vqboot.efi": VQBOOT, "vqtools.tag": TAG},
            startup=startup)
    with vm:
        log = vm.run(until="VQ-SHELL-END", timeout=90)
    assert not vm.timed_out, vm.log_path
    report = parse_json_report(log, vm)
    assert report["secure_boot"] == {"enabled": False, "setup_mode": True, "shim": False}, \
        report["secure_boot"]
    assert "vqboot: Secure Boot off, setup mode on, shim absent" in log, vm.log_path


def test_without_shim_firmware_refuses_debian_kernel(vm_name):
    """vqboot signed by db, started by the firmware itself: Debian's kernel
    is signed by a key that is not in db, so the firmware's LoadImage
    refuses it and vqboot says so."""
    part = Part("esp", "fat32", 64, {"/EFI/BOOT/BOOTX64.EFI": sign(VQBOOT, "vqboot.efi"),
                                     "/loader/loader.conf": b"timeout 0\n",
                                     **kernel_files(kernel()[0])})
    vm, log = refused_boot(vm_name, part)
    assert "Secure Boot on, setup mode off, shim absent" in log, vm.log_path


def test_sbat_sections():
    """Both applications carry shim's SBAT data in a .sbat section."""
    for path in (VQBOOT, VQDIAG):
        names = [n for n, _ in objdump_sections(path)]
        assert ".sbat" in names, f"{path} has no .sbat section: {names}"
        csv = pe_section(path, ".sbat").rstrip(b"\0").decode()
        lines = csv.splitlines()
        assert lines[0] == "sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md"
        fields = lines[1].split(",")
        assert fields[0] == "vqboot" and int(fields[1]) >= 1 and len(fields) == 6, lines[1]
        assert all(len(l.split(",")) == 6 for l in lines), csv


def pe_section(path, want):
    """The raw data of one section, read with the PE/COFF headers."""
    import struct
    data = open(path, "rb").read()
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    assert data[pe:pe + 4] == b"PE\0\0"
    nsec, = struct.unpack_from("<H", data, pe + 6)
    opt_size, = struct.unpack_from("<H", data, pe + 20)
    sec = pe + 24 + opt_size
    for i in range(nsec):
        name = data[sec + 40 * i:sec + 40 * i + 8].rstrip(b"\0").decode()
        vsize, _, rsize, rptr = struct.unpack_from("<IIII", data, sec + 40 * i + 8)
        if name == want:
            return data[rptr:rptr + min(vsize, rsize)]
    raise AssertionError(f"{path}: no {want} section")


def test_refused_entry_marked_other_boots(vm_name):
    """At the menu a refused entry is marked, and the user boots another."""
    vmlinuz, _ = kernel()
    bad = tampered(vmlinuz, "vmlinuz-tampered")
    files = {"/vmlinuz": vmlinuz, "/vmlinuz-bad": bad, "/initrd.img": busybox_initrd(),
             "/loader/entries/a-bad.conf": entry("Bad", "/vmlinuz-bad", ["/initrd.img"],
                                                 CONSOLE, extra="sort-key a\n"),
             "/loader/entries/b-good.conf": entry("Good", "/vmlinuz", ["/initrd.img"],
                                                  CONSOLE + " vq.test=good", extra="sort-key b\n")}
    path = disk_path(vm_name)
    mkdisk.build_disk(path, [shim_esp(files, loader=b"timeout 1\n")])
    disk = Disk(path)
    vm = VM(vm_name, disks=[(disk.path, "bootindex=1")], secure_boot=True)
    with vm:
        vm.run(until=r"did not boot: refused by Secure Boot", timeout=150)
        vm.run_more(until=r"refused by Secure Boot.*\n(.*\n)*.*Good", timeout=60)
        vm.type(b"\x1b[B")                      # Down to the good entry
        vm.run_more(until=r"> 2\) Good", timeout=30)
        vm.type(b"\r")
        log = vm.run_more(until=r"VQ-LINUX: done", timeout=150)
    assert re.search(rf"/vmlinuz-bad on vblk [0-9a-f:.]+ p1: {REFUSED}", log), vm.log_path
    menu = log.split("did not boot: refused by Secure Boot", 1)[1]
    assert "[broken]" in menu and "refused by Secure Boot" in menu, \
        f"the menu did not mark the refused entry; {vm.log_path}"
    assert "VQ-LINUX: up" in log and "vq.test=good" in log, vm.log_path
    disk.assert_unchanged()


def test_shim_chain_measured(vm_name):
    """The same chain with a TPM: vqboot's measurements are in the log
    next to shim's and the firmware's, and the log replays."""
    from test_measured_boot import check_replay, check_vqboot_events, linux_tpm, vqboot_cmdline
    vmlinuz, _ = kernel()
    conf = b"timeout 0\n"
    ent = entry("Debian", "/vmlinuz", ["/initrd.img"], CONSOLE + " vq.test=sbtpm")
    part = shim_esp({"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd(),
                     "/loader/entries/debian.conf": ent}, loader=conf)
    vm, log = sb_boot(vm_name, part, r"VQ-LINUX: done", tpm=True, timeout=400)
    assert "VQ-SECUREBOOT: 1" in log, vm.log_path
    pcrs, events = linux_tpm(vm, log)
    check_replay(vm, pcrs, events)
    initrd = open(busybox_initrd(), "rb").read()
    initrd += bytes(-len(initrd) % 4)
    check_vqboot_events(vm, events, vqboot_cmdline(log), conf, ent, initrd)


def test_shim_without_loadimage_hook(vm_name):
    """Under a shim that verifies but does not hook LoadImage (a test double
    of shim 15: SHIM_LOCK only), the firmware alone would refuse Debian's
    kernel (see the test above); vqboot lets the firmware accept exactly
    the buffer shim verified, and it boots."""
    subprocess.run(["make", "-s", "-C", TOP, "build/tests/fakeshim.efi"], check=True)
    fake = os.path.join(BUILD, "tests", "fakeshim.efi")
    f = {"/EFI/BOOT/BOOTX64.EFI": sign(fake, "fakeshim.efi"),
         f"/EFI/BOOT/{SHIM_SECOND_STAGE}": sign(VQBOOT, "vqboot.efi"),
         "/loader/loader.conf": b"timeout 0\n"}
    f.update(kernel_files(kernel()[0], CONSOLE + " vq.test=oldshim"))
    vm, log = sb_boot(vm_name, Part("esp", "fat32", 64, f), r"VQ-LINUX: done|returning to the firmware")
    assert "fakeshim: SHIM_LOCK installed" in log, vm.log_path
    assert re.search(r"/vmlinuz on vblk [0-9a-f:.]+ p1: verified by shim", log), vm.log_path
    assert "VQ-LINUX: up" in log and "vq.test=oldshim" in log, f"the kernel did not boot; {vm.log_path}"
    assert "VQ-SECUREBOOT: 1" in log
