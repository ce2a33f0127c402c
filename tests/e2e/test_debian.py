# SPDX-License-Identifier: MIT
"""End to end: the Debian 12 disk image tests/e2e/build.py made (vqboot's
package installed in it, two kernels, vqboot-install --image) boots under
QEMU/OVMF from virtio-blk through vqboot to a systemd login prompt; the
report unit baked into the image prints what the booted system saw.

Which kernel is the default: both entries come from kernel-install with
the same sort-key ("debian", os-release's ID) and no machine-id (the entry
token is "debian"), so the Boot Loader Specification orders them by
version, newest first. The versions are 6.1.0-N-cloud-amd64 and
6.1.0-N-amd64 (N is the same ABI number for both): they agree up to
"6.1.0-N-", then compare "cloud" with "amd64" letter by letter, and 'c'
sorts after 'a', so the cloud kernel's version is the newer one and its
entry is first, and the default (loader.conf names no default).
"""
import glob
import importlib.machinery
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "qemu"))
from vm import BUILD, TOP, VM  # noqa: E402

OUT = os.path.join(BUILD, "e2e")
DISK = os.path.join(OUT, "disk.img")
GUID = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
_loader = importlib.machinery.SourceFileLoader(
    "vqboot_install", os.path.join(TOP, "installer", "vqboot-install"))
vi = importlib.util.module_from_spec(importlib.util.spec_from_loader("vqboot_install", _loader))
_loader.exec_module(vi)


def read_log(name):
    with open(os.path.join(OUT, name)) as f:
        return f.read()


@pytest.fixture(scope="module")
def esp_entries():
    """The entries on the image's ESP, in the order the installer (the
    same rules as vqboot's boot/bls.c) sorts them."""
    esp = vi.image_esp(DISK)
    return vi.sort_entries(vi.esp_entries(esp))


class SameVars(VM):
    """A VM that starts from a saved OVMF variable store."""

    def __init__(self, name, vars_fd, **kw):
        super().__init__(name, **kw)
        self.saved_vars = vars_fd

    def cmdline(self):
        cmd = super().cmdline()  # copies the blank store to self.dir/vars.fd
        shutil.copy(self.saved_vars, os.path.join(self.dir, "vars.fd"))
        return cmd


@pytest.fixture(scope="module")
def booted():
    """Boot a copy of the image; returns (vm, log of both boots, report
    sections). The report unit installs vqboot on the running system and
    powers off; a second boot with the same variable store shows which
    option the firmware starts."""
    img = os.path.join(OUT, "boot.img")
    subprocess.run(["cp", "--sparse=always", DISK, img], check=True)
    vm = VM("e2e_debian", mem=1024, disks=[(img, "")], extra=["-smp", "2"])
    t = {}
    t0 = time.monotonic()
    with vm:
        vm.run(until=r"login: ", timeout=900)
        t["login prompt"] = round(time.monotonic() - t0, 1)
        assert not vm.timed_out, f"no login prompt; {vm.log_path}"
        vm.run_more(until=r"=== vqboot-e2e report end ===", timeout=300)
        t["report"] = round(time.monotonic() - t0, 1)
        assert not vm.timed_out, f"no report from the test unit; {vm.log_path}"
        vm.run_more(timeout=120)  # until QEMU exits: the unit powers off
        assert vm.proc.poll() is not None, f"the guest did not power off; {vm.log_path}"
        log = vm.output
    again = SameVars("e2e_debian_second_boot", os.path.join(vm.dir, "vars.fd"), mem=1024,
                     disks=[(img, "")])
    with again:
        second = again.run(until=r"vqboot 0\.1 - boot menu", timeout=300)
    t["second boot reached vqboot's menu"] = round(time.monotonic() - t0, 1)
    print(f"\ne2e boot timings: {t}")
    with open(os.path.join(OUT, "boot-timings.txt"), "w") as f:
        f.write(f"{t}\n")
    m = re.search(r"=== vqboot-e2e report begin ===\n(.*?)=== vqboot-e2e report end ===",
                  log, re.S)
    assert m, f"no report in {vm.log_path}"
    # Lines of the unit's output carry a journal prefix on the console.
    report = re.sub(r"^\[ *[0-9.]+\] vqboot-e2e-report\[\d+\]: ", "", m.group(1), flags=re.M)
    sections = dict(re.findall(r"^--- ([^\n]+)\n(.*?)(?=^--- |\Z)", report, re.S | re.M))
    sections["second boot"] = second
    os.unlink(img)
    return vm, log, sections


def test_package_built_and_lintian_clean():
    debs = glob.glob(os.path.join(OUT, "vqboot_*_amd64.deb"))
    assert len(debs) == 1, debs
    listing = subprocess.run(["dpkg-deb", "-c", debs[0]], check=True, capture_output=True,
                             text=True).stdout
    for path in ("./usr/lib/vqboot/vqbootx64.efi", "./usr/lib/vqboot/vqdiagx64.efi",
                 "./usr/bin/vqboot-install", "./etc/kernel/postinst.d/zz-vqboot",
                 "./etc/kernel/postrm.d/zz-vqboot", "./etc/initramfs/post-update.d/vqboot",
                 "./usr/share/man/man8/vqboot-install.8.gz"):
        assert path in listing, f"{path} not in the package:\n{listing}"
    tags = read_log("lintian.txt").strip()
    assert tags == "", f"lintian:\n{tags}"


def test_kernel_hooks_wrote_the_entries(esp_entries):
    dpkg = read_log("dpkg.log")
    steps = dict(re.findall(r"^\+ (dpkg -[ir] [^\n]+)\n(.*?)(?=^\+ dpkg |\Z)", dpkg, re.S | re.M))
    kernels = sorted(set(re.findall(r"^Setting up linux-image-(\d\S*) ", dpkg, re.M)))
    assert len(kernels) == 1 and "cloud" in kernels[0], kernels
    cloud = kernels[0]
    first = [e.get("version") for e in esp_entries if "cloud" not in e.id][0]
    # The package's postinst added the kernel that was there before it.
    assert f"vqboot: kernel-install add {first} (BOOT_ROOT=/boot/efi, token debian)" in \
        steps["dpkg -i vqboot"], dpkg
    # Installing the second kernel ran the hooks: initramfs-tools' made the
    # initrd and the post-update hook the entry, zz-vqboot found it current.
    for step in ("dpkg -i the second kernel", "dpkg -i the second kernel again"):
        out = steps[step]
        assert f"vqboot: kernel-install add {cloud} (BOOT_ROOT=/boot/efi, token debian)" in out
        assert f"vqboot: the entry for {cloud} in /boot/efi is up to date" in out
        assert f"+ entries: debian-{first}.conf debian-{cloud}.conf \n" in out, out  # ls order
    # Removing it ran the postrm hook: entry and files gone, the other kept.
    out = steps["dpkg -r the second kernel"]
    assert f"vqboot: kernel-install remove {cloud} (BOOT_ROOT=/boot/efi)" in out, out
    assert f"+ entries: debian-{first}.conf \n" in out, out
    assert f"+ token directory: {first} \n" in out, out
    ids = [e.id for e in esp_entries]
    assert ids == [f"debian-{cloud}", f"debian-{first}"], ids
    assert all(e.get("sort-key") == "debian" and not e.get("machine-id") for e in esp_entries)


def test_menu_shows_both_kernels_default_first(booted, esp_entries):
    vm, log, _ = booted
    menu = log.split("vqboot 0.1 - boot menu\n", 1)[1].split("Booting the default", 1)[0]
    shown = re.findall(r"^[> ] (\d)\) (.*?)(  \[default\])?$", menu, re.M)
    assert [(n, t) for n, t, _ in shown] == [
        (str(i + 1), f"Debian GNU/Linux 12 (bookworm) ({e.get('version')})")
        for i, e in enumerate(esp_entries)], f"menu:\n{menu}\n{vm.log_path}"
    assert shown[0][2] and not shown[1][2], f"the default is not the first entry:\n{menu}"
    assert "cloud" in esp_entries[0].get("version")
    assert f"vqboot: booting {esp_entries[0].id}\n" in log


def test_debian_initramfs_and_systemd(booted, esp_entries):
    vm, log, s = booted
    kernel_log = log.split("vqboot: booting", 1)[1]
    assert "EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID device path" in kernel_log
    # initramfs-tools' init, then systemd from the root file system.
    for mark in ("Loading, please wait...", "Begin: Mounting root file system",
                 "Welcome to Debian GNU/Linux 12 (bookworm)!",
                 "Debian GNU/Linux 12 vqboot-e2e ttyS0", "vqboot-e2e login: "):
        assert mark in kernel_log, f"no {mark!r}; {vm.log_path}"
    assert s["uname"].strip() == esp_entries[0].get("version")
    v = esp_entries[0].get("version")
    sums = dict(line.split()[::-1] for line in s["initrd"].split("\n") if line.strip())
    assert sums[f"/boot/initrd.img-{v}"] == sums[f"/boot/efi/debian/{v}/initrd.img-{v}"], sums
    assert s["state"].strip().split("\n")[0] == "running", s["state"]


def test_root_is_read_write_on_virtio(booted):
    _, _, s = booted
    source, fstype, opts = s["root"].split()
    assert (source, fstype) == ("/dev/vda2", "ext4") and "rw" in opts.split(","), s["root"]
    assert s["root device"].strip() == "/dev/vda2"


def test_systemd_analyze_shows_loader_time(booted):
    _, _, s = booted
    m = re.search(r"Startup finished in (.*?) \(firmware\) \+ (.*?) \(loader\) \+ ", s["systemd-analyze"])
    assert m, f"no loader time (Boot Loader Interface variables):\n{s['systemd-analyze']}"
    assert re.fullmatch(r"[0-9.]+m?s|\d+min [0-9.]+s", m.group(2)), m.group(2)


def test_bootctl_names_vqboot_and_the_entry(booted, esp_entries):
    _, _, s = booted
    first = esp_entries[0]
    assert re.search(r"^\s+Product: vqboot 0\.1$", s["bootctl status"], re.M), s["bootctl status"]
    status_default = s["bootctl status"].split("Default Boot Loader Entry:")[1]
    assert re.search(rf"^\s+id: {re.escape(first.id)}\.conf$", status_default, re.M)
    # bootctl list marks the entry LoaderEntrySelected names.
    titles = re.findall(r"^\s+title: (.*)$", s["bootctl list"], re.M)
    assert titles[0].startswith(f"Debian GNU/Linux 12 (bookworm) ({first.get('version')}) "
                                "(default) (selected)"), titles
    assert "(selected)" not in titles[1]
    assert f"Booted by: vqboot 0.1, entry {first.id}.conf" in s["vqboot-install status"]


def test_install_on_the_running_system(booted):
    vm, log, s = booted
    out = s["vqboot-install install"]
    m = re.search(r"Boot([0-9A-F]{4}) \"vqboot\" written to /sys/firmware/efi/efivars, "
                  r"first in BootOrder", out)
    assert m, out
    num = m.group(1)
    efi = s["efibootmgr"]
    assert re.search(rf"^BootOrder: {num},", efi, re.M), efi
    assert re.search(rf"^Boot{num}\* vqboot\tHD\(1,GPT,2f3e4d5c-6b7a-4899-8a1b-2c3d4e5f6a7b,"
                     r"0x800,0xa0000\)/File\(\\EFI\\vqboot\\vqbootx64\.efi\)", efi, re.M), efi
    assert f"Boot{num} \"vqboot\": \\EFI\\vqboot\\vqbootx64.efi, position 1 of" in \
        s["vqboot-install status after install"]
    # Booted again, the firmware starts that option, not the fallback.
    second = s["second boot"]
    assert re.search(rf"BdsDxe: starting Boot{num} \"vqboot\" from HD\(1,GPT,"
                     r"2F3E4D5C-6B7A-4899-8A1B-2C3D4E5F6A7B,0x800,0xA0000\)/"
                     r"\\EFI\\vqboot\\vqbootx64\.efi", second, re.I), second[-3000:]


def test_timings_recorded():
    """The build steps' times, for the record (build/e2e/timings.json)."""
    assert os.path.exists(os.path.join(OUT, "timings.json"))
    shutil.copy(os.path.join(OUT, "timings.json"), os.path.join(OUT, "timings.last.json"))
