# SPDX-License-Identifier: MIT
"""The package's kernel hooks (installer/hooks/) and the installer's
add-kernel / remove-kernel, on a fake system in a directory; kernel-install
itself on a tmpfs mount when the tests run as root."""
import os
import shutil
import subprocess

import pytest

from conftest import INSTALLER, TOP, run, vi

HOOKS = os.path.join(TOP, "installer", "hooks")
MID = "0123456789abcdef0123456789abcdef"


class KernelSystem:
    def __init__(self, tmp, machine_id=MID, esp=True):
        self.root = str(tmp / "root")
        self.boot = os.path.join(self.root, "boot/efi")
        for d in ("etc/kernel", "boot", "proc", "bin"):
            os.makedirs(os.path.join(self.root, d))
        if esp:
            os.makedirs(os.path.join(self.boot, "loader/entries"))
        self.write("etc/os-release", 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
        self.write("etc/machine-id", machine_id + "\n")
        self.write("etc/kernel/cmdline", "root=UUID=1234 ro\n console=ttyS0\n")
        self.write("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda2 initrd=/x quiet\n")
        wrapper = os.path.join(self.root, "bin", "vqboot-install")
        self.write("bin/vqboot-install", f"#!/bin/sh\nexec /usr/bin/python3 {INSTALLER} \"$@\"\n")
        os.chmod(wrapper, 0o755)
        self.env = {"VQBOOT_SYSROOT": self.root, "VQBOOT_NO_KERNEL_INSTALL": "1",
                    "PATH": f"{os.path.dirname(wrapper)}:/usr/bin:/bin"}

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w" if isinstance(text, str) else "wb") as f:
            f.write(text)

    def kernel(self, version, initrd=True):
        self.write(f"boot/vmlinuz-{version}", f"MZ kernel {version}\n".encode() * 100)
        if initrd:
            self.write(f"boot/initrd.img-{version}", f"initrd {version}\n".encode() * 100)

    def hook(self, name, *args, env=None):
        r = subprocess.run([os.path.join(HOOKS, name)] + list(args), capture_output=True,
                           text=True, env=dict(self.env, **(env or {})))
        return r.returncode, r.stdout + r.stderr

    def read(self, rel):
        with open(os.path.join(self.boot, rel), "rb") as f:
            return f.read()

    def entries(self):
        return [e.id for e in vi.sort_entries(vi.esp_entries(vi.DirEsp(self.boot)))]


@pytest.fixture
def ks(tmp_path):
    return KernelSystem(tmp_path)


def test_postinst_hook_writes_entry(ks):
    ks.kernel("6.1.0-9-amd64")
    code, out = ks.hook("kernel-postinst", "6.1.0-9-amd64", "/boot/vmlinuz-6.1.0-9-amd64")
    assert code == 0, out
    d = f"{MID}/6.1.0-9-amd64"
    assert ks.read(f"{d}/linux") == b"MZ kernel 6.1.0-9-amd64\n" * 100
    assert ks.read(f"{d}/initrd.img-6.1.0-9-amd64") == b"initrd 6.1.0-9-amd64\n" * 100
    assert ks.read(f"loader/entries/{MID}-6.1.0-9-amd64.conf").decode() == (
        "title      Debian GNU/Linux 12 (bookworm)\n"
        "version    6.1.0-9-amd64\n"
        f"machine-id {MID}\n"
        "sort-key   debian\n"
        f"options    root=UUID=1234 ro console=ttyS0 systemd.machine_id={MID}\n"
        f"linux      /{d}/linux\n"
        f"initrd     /{d}/initrd.img-6.1.0-9-amd64\n")
    assert not [f for f in os.listdir(os.path.join(ks.boot, d)) if f.endswith(".vqtmp")]


def test_newer_kernel_is_first(ks):
    for v in ("6.1.0-10-amd64", "6.1.0-9-amd64"):
        ks.kernel(v)
        assert ks.hook("kernel-postinst", v, f"/boot/vmlinuz-{v}")[0] == 0
    assert ks.entries() == [f"{MID}-6.1.0-10-amd64", f"{MID}-6.1.0-9-amd64"]
    ks.kernel("6.1.0-11-amd64")
    ks.hook("kernel-postinst", "6.1.0-11-amd64")
    assert ks.entries()[0] == f"{MID}-6.1.0-11-amd64"


def test_token_without_machine_id(tmp_path):
    """An image being built has no machine-id yet: the entries are named
    after the OS and carry no machine-id, so a first boot's new machine-id
    does not split them."""
    ks = KernelSystem(tmp_path, machine_id="uninitialized")
    ks.kernel("6.1.0-9-amd64")
    assert ks.hook("kernel-postinst", "6.1.0-9-amd64")[0] == 0
    text = ks.read("loader/entries/debian-6.1.0-9-amd64.conf").decode()
    assert "machine-id" not in text and "linux      /debian/6.1.0-9-amd64/linux" in text
    # Booted, with a machine-id now: the existing token directory still wins.
    ks.write("etc/machine-id", MID + "\n")
    ks.kernel("6.1.0-10-amd64")
    ks.hook("kernel-postinst", "6.1.0-10-amd64")
    assert os.path.isfile(os.path.join(ks.boot, "loader/entries/debian-6.1.0-10-amd64.conf"))
    ks.write("etc/kernel/entry-token", "custom\n")
    ks.kernel("6.1.0-11-amd64")
    ks.hook("kernel-postinst", "6.1.0-11-amd64")
    assert os.path.isfile(os.path.join(ks.boot, "custom/6.1.0-11-amd64/linux"))


def test_cmdline_from_proc_without_etc_kernel_cmdline(ks):
    os.unlink(os.path.join(ks.root, "etc/kernel/cmdline"))
    ks.kernel("6.1.0-9-amd64")
    ks.hook("kernel-postinst", "6.1.0-9-amd64")
    text = ks.read(f"loader/entries/{MID}-6.1.0-9-amd64.conf").decode()
    assert f"options    root=/dev/vda2 quiet systemd.machine_id={MID}\n" in text


def test_initramfs_update_refreshes_the_copy(ks):
    v = "6.1.0-9-amd64"
    ks.kernel(v)
    ks.hook("kernel-postinst", v)
    code, out = ks.hook("kernel-postinst", v)
    assert "is up to date" in out
    ks.write(f"boot/initrd.img-{v}", b"a new initrd\n")
    code, out = ks.hook("initramfs-post-update", v, f"/boot/initrd.img-{v}")
    assert code == 0, out
    assert ks.read(f"{MID}/{v}/initrd.img-{v}") == b"a new initrd\n"
    # An initrd made for a kernel whose image is gone: nothing to do.
    code, out = ks.hook("initramfs-post-update", "9.9-gone", "/boot/initrd.img-9.9-gone")
    assert code == 0 and not os.path.exists(os.path.join(ks.boot, MID, "9.9-gone")), out


def test_postrm_hook_removes_entry(ks):
    for v in ("6.1.0-9-amd64", "6.1.0-10-amd64"):
        ks.kernel(v)
        ks.hook("kernel-postinst", v)
    code, out = ks.hook("kernel-postrm", "6.1.0-9-amd64", "/boot/vmlinuz-6.1.0-9-amd64")
    assert code == 0, out
    assert ks.entries() == [f"{MID}-6.1.0-10-amd64"]
    assert not os.path.exists(os.path.join(ks.boot, MID, "6.1.0-9-amd64"))
    assert os.path.isfile(os.path.join(ks.boot, MID, "6.1.0-10-amd64", "linux"))


def test_kernel_without_initrd(ks):
    ks.kernel("6.1.0-9-amd64", initrd=False)
    code, out = ks.hook("kernel-postinst", "6.1.0-9-amd64")
    assert code == 0 and "no initrd for 6.1.0-9-amd64" in out
    assert "initrd" not in ks.read(f"loader/entries/{MID}-6.1.0-9-amd64.conf").decode()


def test_no_esp_is_not_an_error(tmp_path):
    ks = KernelSystem(tmp_path, esp=False)
    ks.kernel("6.1.0-9-amd64")
    code, out = ks.hook("kernel-postinst", "6.1.0-9-amd64")
    assert code == 0 and "no boot entry for 6.1.0-9-amd64" in out


def test_hooks_without_the_installer(ks):
    """After `dpkg -r vqboot` the hooks stay (conffiles) and do nothing."""
    for hook in ("kernel-postinst", "kernel-postrm", "initramfs-post-update"):
        code, out = ks.hook(hook, "6.1.0-9-amd64", "/x", env={"PATH": "/usr/bin:/bin"})
        assert code == 0 and out == "", f"{hook}: {out}"


def test_add_kernels_and_a_missing_kernel(ks):
    for v in ("6.1.0-9-amd64", "6.1.0-10-cloud-amd64"):
        ks.kernel(v)
    run(["add-kernels"], env=ks.env, check=0)
    assert ks.entries() == [f"{MID}-6.1.0-10-cloud-amd64", f"{MID}-6.1.0-9-amd64"]
    code, out = run(["add-kernel", "7.0"], env=ks.env, check=1)
    assert "no such kernel image for 7.0" in out


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("kernel-install") or
                    not shutil.which("unshare"), reason="needs root, unshare, kernel-install")
def test_kernel_install_writes_entry_on_a_mount_point(ks, tmp_path):
    """$BOOT a mount point (a tmpfs in a mount namespace of its own) and
    layout=bls: kernel-install add / remove do the work."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "install.conf").write_text("layout=bls\n")
    (conf / "entry-token").write_text("vqtest\n")
    (conf / "cmdline").write_text("root=UUID=1234 ro\n")
    v = "6.1.0-9-amd64"
    ks.kernel(v)
    esp = tmp_path / "esp"
    esp.mkdir()
    script = (
        'set -e; mount -t tmpfs vqtest "$ESP"; mkdir -p "$ESP/loader/entries"\n'
        'vqboot-install add-kernel --esp-path "$ESP" "$V"\n'
        'echo "--- entry"; cat "$ESP/loader/entries/vqtest-$V.conf"\n'
        'echo "--- files"; ls "$ESP/vqtest/$V"\n'
        'vqboot-install remove-kernel --esp-path "$ESP" "$V"\n'
        'echo "--- after"; ls -A "$ESP/loader/entries"; ls -A "$ESP/vqtest"\n')
    env = dict(os.environ, **ks.env, ESP=str(esp), V=v, KERNEL_INSTALL_CONF_ROOT=str(conf))
    del env["VQBOOT_NO_KERNEL_INSTALL"]
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, env=env)
    out = r.stdout + r.stderr
    if "mount:" in out and "permission denied" in out.lower():
        pytest.skip("mount not permitted here")
    assert r.returncode == 0, out
    assert f"vqboot: kernel-install add {v}" in out
    entry = out.split("--- entry\n")[1].split("--- files")[0]
    assert f"linux      /vqtest/{v}/linux\n" in entry and "sort-key" in entry
    assert f"initrd     /vqtest/{v}/initrd.img-{v}\n" in entry
    assert "options    root=UUID=1234 ro\n" in entry
    assert out.split("--- files\n")[1].split("\n")[:2] == [f"initrd.img-{v}", "linux"]
    assert f"kernel-install remove {v}" in out
    assert out.split("--- after\n")[1].strip() == "", out


VERSIONS = [  # the same table as tests/unit/test_bls.c, for vqboot's own order
    ("11", "11", 0), ("systemd-123", "systemd-123", 0), ("bar-123", "foo-123", -1),
    ("123a", "123", 1), ("123.a", "123", 1), ("123.a", "123.b", -1), ("123a", "123.a", 1),
    ("A", "a", -1), ("", "0", -1), ("0.", "0", 1), ("0.0", "0", 1), ("1_", "1", 0),
    ("_1", "1", 0), ("1_", "1.2", -1), ("1_2_3", "1.3.3", 1), ("1+", "1", 0),
    ("11\u03b1", "11\u03b2", 0), ("6.1.0-10", "6.1.0-9", 1),
    ("6.1.0-10-amd64", "6.1.0-9-amd64", 1), ("1.0~rc1", "1.0", -1),
    ("1.0~rc1", "1.0~rc2", -1), ("1.0~", "1.0", -1), ("1.0-1", "1.0", 1),
    ("1.0-1", "1.0.1", -1), ("1.0^1", "1.0", 1), ("1.0^1", "1.0.1", 1), ("007", "7", 0),
    ("1.10", "1.9", 1), ("99999999999999999999", "99999999999999999998", 1),
    ("5.10.0", "5.9.200", 1), ("a", "0", 1), (None, "", 0),
    # The e2e test's two kernels: "cloud-amd64" is the newer version.
    ("6.1.0-57-cloud-amd64", "6.1.0-57-amd64", 1),
]


@pytest.mark.parametrize("a,b,want", VERSIONS)
def test_version_cmp(a, b, want):
    r, back = vi.version_cmp(a, b), vi.version_cmp(b, a)
    assert ((r > 0) - (r < 0), (back > 0) - (back < 0)) == (want, -want)
