# SPDX-License-Identifier: MIT
"""Measured boot: with a TPM (swtpm), vqboot extends what it read and
decided into the PCRs systemd-boot uses for the same data, and logs it in
the firmware's event log.

Linux (Debian's kernel, tpm_tis built in) prints the sha256 PCRs and the
event log on the serial console; the test replays the log here, gets the
PCR values Linux read from the TPM, and finds vqboot's events with the
digests of the command line, loader.conf and the entry file. The kernel's
EFI stub (Linux 6.1) measures the initrd into PCR 9 itself, so vqboot does
not. An edited command line gives a different PCR 12.
"""
import base64
import hashlib
import os
import re
import struct

from conftest import VQBOOT, Disk
from linux import CONSOLE, busybox_initrd, entry, extra_initrd, kernel
from test_boot import disk_path
from vm import VM
import mkdisk
from mkdisk import Part
import tcglog
from tcglog import EV_EVENT_TAG, EV_IPL

TAG_LOADER_CONF = 0xF5BC582A  # systemd-boot's
TAG_ENTRY = 0x76716201
TAG_EDITED = 0x76716202
TAG_INITRD = 0x76716203
IMA_PCR = 10  # Linux's IMA extends boot_aggregate here after the handover


def sha256(b):
    return hashlib.sha256(b).digest()


def utf16z(s):
    return s.encode("utf-16-le") + b"\0\0"


def measured_disk(name, loader_conf):
    vmlinuz, _ = kernel()
    rd_b, _ = extra_initrd("b", "second initrd")
    ent = entry("Debian", "/vmlinuz", ["/initrd.img", "/initrd-b.img"], CONSOLE + " vq.test=tpm")
    files = {"/EFI/BOOT/BOOTX64.EFI": VQBOOT, "/loader/loader.conf": loader_conf,
             "/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd(), "/initrd-b.img": rd_b,
             "/loader/entries/debian.conf": ent}
    path = disk_path(name)
    mkdisk.build_disk(path, [Part("esp", "fat32", 64, files)])
    initrd = b""
    for p in (busybox_initrd(), rd_b):
        data = open(p, "rb").read()
        initrd += data + bytes(-len(data) % 4)
    return Disk(path), ent, initrd


def tpm_boot(name, disk, keys=(), tpm=True, timeout=400):
    vm = VM(name, disks=[(disk.path, "")], tpm=tpm)
    with vm:
        log = vm.run(until=r"Booting the default in \d+ s|VQ-LINUX: done", timeout=timeout)
        assert not vm.timed_out, f"no menu in {timeout}s; log {vm.log_path}"
        for data, wait in keys:
            vm.type(data)
            log = vm.run_more(until=wait, timeout=timeout)
        if "VQ-LINUX: done" not in log:
            log = vm.run_more(until=r"VQ-LINUX: done", timeout=timeout)
    assert "VQ-LINUX: done" in log, f"Linux did not finish; log {vm.log_path}"
    disk.assert_unchanged()
    return vm, log


def linux_tpm(vm, log):
    """(PCR index -> sha256 value read by Linux, parsed event log)."""
    pcrs = {int(n): bytes.fromhex(v) for n, v in re.findall(r"VQ-PCR: (\d+) ([0-9a-fA-F]{64})", log)}
    assert len(pcrs) == 16, f"Linux printed no sha256 PCRs; log {vm.log_path}"
    b64 = "".join(re.findall(r"VQ-TPMLOG: (\S+)", log))
    assert "VQ-TPMLOG-END" in log, vm.log_path
    raw = base64.b64decode(b64)
    with open(os.path.join(vm.dir, "binary_bios_measurements"), "wb") as f:
        f.write(raw)
    algs, events = tcglog.parse(raw)
    assert "sha256" in algs, algs
    return pcrs, events


def check_replay(vm, pcrs, events):
    replayed = tcglog.replay(events)
    for n in range(16):
        if n == IMA_PCR:
            continue
        want = pcrs[n]
        got = replayed.get(n, bytes(32))
        assert got == want, f"PCR {n}: log replays to {got.hex()}, the TPM says {want.hex()}; {vm.dir}"


def vqboot_cmdline(log):
    return re.search(r"vqboot: command line: (.*)", log).group(1)


def tagged(events, pcr, tag):
    return [e for e in events if e.pcr == pcr and e.type == EV_EVENT_TAG
            and len(e.data) >= 8 and e.tagged()[0] == tag]


def check_vqboot_events(vm, events, cmdline, loader_conf, ent, initrd):
    ipl = [e for e in events if e.pcr == 12 and e.type == EV_IPL]
    assert len(ipl) == 1, f"want one command line event in PCR 12: {ipl}; {vm.dir}"
    assert ipl[0].data == utf16z(cmdline), ipl[0].data
    assert ipl[0].digests["sha256"] == sha256(utf16z(cmdline))
    conf = tagged(events, 5, TAG_LOADER_CONF)
    assert len(conf) == 1 and conf[0].tagged()[1] == "loader.conf", conf
    assert conf[0].digests["sha256"] == sha256(loader_conf)
    ents = tagged(events, 5, TAG_ENTRY)
    assert len(ents) == 1 and ents[0].tagged()[1] == "/loader/entries/debian.conf", ents
    assert ents[0].digests["sha256"] == sha256(ent)
    # Linux 6.1's stub measured the initrd it got through LoadFile2 ...
    stub = [e for e in events if e.pcr == 9 and e.type == EV_EVENT_TAG
            and "Linux initrd" in e.tagged()[1]]
    assert len(stub) == 1, f"no 'Linux initrd' event from the kernel; {vm.dir}"
    assert stub[0].digests["sha256"] == sha256(initrd), "the stub measured other bytes"
    # ... so vqboot did not measure it a second time.
    assert not tagged(events, 9, TAG_INITRD), "initrd measured twice"


def test_event_log_replay(vm_name):
    conf = b"timeout 0\n# measured\n"
    disk, ent, initrd = measured_disk(vm_name, conf)
    vm, log = tpm_boot(vm_name, disk)
    assert re.search(r"tpm: measured 3 of 3 events into PCR 5 12", log), vm.log_path
    pcrs, events = linux_tpm(vm, log)
    check_replay(vm, pcrs, events)
    cmdline = vqboot_cmdline(log)
    assert "vq.test=tpm" in cmdline
    check_vqboot_events(vm, events, cmdline, conf, ent, initrd)
    assert not tagged(events, 12, TAG_EDITED)


def test_edited_cmdline_changes_pcr12(vm_name):
    """The same disk booted twice from the menu: as it is, then with the
    command line edited. PCR 12 differs, and the edited boot logs the
    'command line edited' event before the command line."""
    conf = b"timeout 30\neditor yes\n"
    disk, ent, initrd = measured_disk(vm_name, conf)
    vm1, log1 = tpm_boot(vm_name + "-plain", disk, keys=[(b"\r", r"VQ-LINUX: done")])
    pcrs1, events1 = linux_tpm(vm1, log1)
    check_replay(vm1, pcrs1, events1)
    assert "command line edited" not in log1
    vm2, log2 = tpm_boot(vm_name + "-edited", disk,
                         keys=[(b"e", r"edit> "), (b" vq.edited=yes\r", r"VQ-LINUX: done")])
    assert "vqboot: command line edited" in log2, vm2.log_path
    pcrs2, events2 = linux_tpm(vm2, log2)
    check_replay(vm2, pcrs2, events2)
    cmdline = vqboot_cmdline(log2)
    assert cmdline.endswith("vq.edited=yes")
    check_vqboot_events(vm2, events2, cmdline, conf, ent, initrd)
    edited = tagged(events2, 12, TAG_EDITED)
    assert len(edited) == 1 and edited[0].tagged()[1] == "command line edited"
    assert edited[0].digests["sha256"] == sha256(b"command line edited")
    assert pcrs1[12] != pcrs2[12], "PCR 12 did not change with the command line"
    assert pcrs1[5] == pcrs2[5], "PCR 5 (loader.conf, entry) should not change"


def test_without_tpm_nothing_measured(vm_name):
    conf = b"timeout 0\n"
    disk, _, _ = measured_disk(vm_name, conf)
    vm, log = tpm_boot(vm_name, disk, tpm=False)
    assert "tpm:" not in log and "VQ-PCR" not in log, vm.log_path
    assert "vq.test=tpm" in log


def test_event_log_parser():
    """The reader on a hand-made log: a Spec ID event naming sha1 and
    sha256, two extends of PCR 5, one EV_NO_ACTION that must not count."""
    spec = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, 2) + \
        struct.pack("<HHHH", 0x4, 20, 0xB, 32) + b"\0"
    log = struct.pack("<II", 0, 3) + bytes(20) + struct.pack("<I", len(spec)) + spec

    def ev(pcr, type_, data):
        return struct.pack("<III", pcr, type_, 2) + struct.pack("<H", 0x4) + \
            hashlib.sha1(data).digest() + struct.pack("<H", 0xB) + sha256(data) + \
            struct.pack("<I", len(data)) + data
    tag = struct.pack("<II", TAG_LOADER_CONF, 24) + utf16z("loader.conf")
    log += ev(5, EV_EVENT_TAG, tag) + ev(5, 3, b"ignored") + ev(5, EV_IPL, b"x")
    algs, events = tcglog.parse(log)
    assert algs == {"sha1": 20, "sha256": 32}
    assert [e.type for e in events] == [EV_EVENT_TAG, 3, EV_IPL]
    assert events[0].tagged() == (TAG_LOADER_CONF, "loader.conf")
    want = sha256(sha256(bytes(32) + sha256(tag)) + sha256(b"x"))
    assert tcglog.replay(events)[5] == want
    try:
        tcglog.parse(log[:-3])
    except tcglog.ParseError:
        pass
    else:
        raise AssertionError("a truncated log parsed")
