# SPDX-License-Identifier: MIT
"""vqboot-install on a running system, faked in a directory: the ESP found
through mountinfo, sysfs and the disk's GPT; Boot#### and BootOrder written
as efivarfs files (or through efibootmgr); refusals."""
import os
import struct

from conftest import VQBOOT, FakeSystem, fake_pe, load_option, run, vi

with open(VQBOOT, "rb") as _f:
    IMAGE = _f.read()
LOADER_PATH = "\\EFI\\vqboot\\vqbootx64.efi"


def test_install_writes_files_and_boot_option(fake_system):
    s = fake_system
    code, out = run(["--variables=efivarfs"], env=s.env, check=0)
    assert f"onto the ESP {s.esp}" in out
    with open(os.path.join(s.esp, "EFI/vqboot/vqbootx64.efi"), "rb") as f:
        assert f.read() == IMAGE
    assert not os.path.exists(os.path.join(s.esp, "EFI/BOOT/BOOTX64.EFI"))
    assert s.boot_order() == [3, 0, 1, 2], out
    opt = vi.parse_load_option(s.var("Boot0003"))
    assert opt["description"] == "vqboot" and opt["attributes"] == 1
    assert opt["path"] == LOADER_PATH
    assert opt["hd"] == (1, s.first, s.size, s.partuuid.bytes_le)
    # The device path, byte by byte (UEFI 2.10 §10.3.5.1 and §10.3.5.4).
    path16 = (LOADER_PATH + "\0").encode("utf-16-le")
    want = (struct.pack("<IH", 1, 42 + 4 + len(path16) + 4) + "vqboot\0".encode("utf-16-le") +
            struct.pack("<BBHIQQ", 4, 1, 42, 1, s.first, s.size) + s.partuuid.bytes_le +
            bytes([2, 2]) + struct.pack("<BBH", 4, 4, 4 + len(path16)) + path16 +
            bytes([0x7F, 0xFF, 4, 0]))
    assert s.var("Boot0003") == want


def test_install_again_reuses_option_and_moves_it_first(fake_system):
    s = fake_system
    run(["--variables=efivarfs"], env=s.env, check=0)
    s.set_var("BootOrder", struct.pack("<4H", 0, 1, 3, 2))  # firmware moved it
    code, out = run(["--variables=efivarfs"], env=s.env, check=0)
    assert "Boot0003 \"vqboot\" was there; first in BootOrder" in out
    assert s.boot_order() == [3, 0, 1, 2]
    assert sorted(f for f in os.listdir(s.efivars) if f.startswith("Boot0"))[-1].startswith(
        "Boot0003"), "a second option was made"


def test_no_variables_leaves_them(fake_system):
    s = fake_system
    run(["--no-variables", "--fallback"], env=s.env, check=0)
    assert s.boot_order() == [0, 1, 2] and s.var("Boot0003") is None
    assert os.path.isfile(os.path.join(s.esp, "EFI/BOOT/BOOTX64.EFI"))


def test_efibootmgr_is_used_when_installed(fake_system, tmp_path):
    s = fake_system
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "efibootmgr.args"
    (bindir / "efibootmgr").write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {log}\n")
    (bindir / "efibootmgr").chmod(0o755)
    env = dict(s.env, PATH=f"{bindir}:/usr/bin:/bin")
    run([], env=env, check=0)
    assert log.read_text() == f"-q -c -d {s.disk} -p 1 -L vqboot -l {LOADER_PATH}\n"


def test_remove_deletes_option_and_files(fake_system):
    s = fake_system
    run(["--variables=efivarfs", "--fallback"], env=s.env, check=0)
    code, out = run(["remove", "--variables=efivarfs"], env=s.env, check=0)
    assert s.var("Boot0003") is None and s.boot_order() == [0, 1, 2]
    assert "removed Boot0003 \"vqboot\"" in out
    assert not os.path.exists(os.path.join(s.esp, "EFI/vqboot"))
    assert not os.path.exists(os.path.join(s.esp, "EFI/BOOT"))
    assert os.path.isdir(os.path.join(s.esp, "loader/entries"))


def test_status_on_running_system(fake_system):
    s = fake_system
    run(["--variables=efivarfs"], env=s.env, check=0)
    guid = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
    for name, value in (("LoaderInfo", "vqboot 0.1"), ("LoaderEntrySelected", "debian-6.1")):
        with open(os.path.join(s.efivars, f"{name}-{guid}"), "wb") as f:
            f.write(struct.pack("<I", 6) + (value + "\0").encode("utf-16-le"))
    code, out = run(["status"], env=s.env, check=0)
    assert f"PARTUUID {s.partuuid}" in out
    assert "Booted by: vqboot 0.1, entry debian-6.1" in out
    assert f"Boot0003 \"vqboot\": {LOADER_PATH}, position 1 of 4 in BootOrder" in out


def test_no_efivarfs_warns(fake_system):
    s = fake_system
    os.rename(s.efivars, s.efivars + ".gone")
    code, out = run(["--variables=efivarfs"], env=s.env, check=0)
    assert "not booted through UEFI?" in out


def test_immutable_flag_is_lifted(fake_system):
    """efivarfs files are immutable; the tests' file system may not know the
    flag, so only check that the write goes through the same path."""
    s = fake_system
    ev = vi.EfiVars(s.efivars)
    ev.set("BootOrder", struct.pack("<H", 7))
    assert ev.boot_order() == [7]


def test_refuses_when_nothing_is_mounted(tmp_path):
    root = tmp_path / "empty"
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/mountinfo").write_text("21 1 254:2 / / rw - ext4 /dev/vda2 rw\n")
    (root / "boot/efi").mkdir(parents=True)
    code, out = run([], env={"VQBOOT_SYSROOT": str(root)}, check=1)
    assert "no EFI system partition found" in out
    assert f"{root}/boot/efi: not a mount point" in out
    assert f"{root}/efi: no such directory" in out


def test_refuses_wrong_file_system_and_partition_type(tmp_path):
    s = FakeSystem(tmp_path / "a", fstype="ext4")
    code, out = run([], env=s.env, check=1)
    assert f"{s.esp}: a ext4 file system; an ESP is FAT (vfat)" in out, out
    s = FakeSystem(tmp_path / "b", esp_type="linux")
    code, out = run([], env=s.env, check=1)
    assert "is a type 0fc63daf-8483-4772-8e79-3d69d8477de4 partition, not an EFI " \
        "system partition" in out, out


def test_refuses_foreign_file_in_directory(fake_system):
    s = fake_system
    os.makedirs(os.path.join(s.esp, "EFI/vqboot"))
    with open(os.path.join(s.esp, "EFI/vqboot/vqbootx64.efi"), "wb") as f:
        f.write(fake_pe(marker=b"#### LoaderInfo: systemd-boot 252 ####"))
    code, out = run(["--variables=efivarfs"], env=s.env, check=1)
    assert f"{LOADER_PATH} on {s.esp} holds systemd-boot 252" in out
    assert s.var("Boot0003") is None, "variables written although it refused"


def test_write_failure_leaves_old_file(tmp_path):
    """A write that fails (here: a directory where the temporary file goes)
    is reported and the old file is untouched."""
    esp = vi.DirEsp(str(tmp_path))
    (tmp_path / "f").write_bytes(b"old")
    (tmp_path / "f.vqtmp").mkdir()
    try:
        esp.write("f", b"new")
        raise AssertionError("write did not fail")
    except vi.Refusal as e:
        assert "cannot write" in str(e)
    assert (tmp_path / "f").read_bytes() == b"old"


def test_esp_path_relaxed(tmp_path):
    esp = tmp_path / "staged"
    esp.mkdir()
    code, out = run(["--esp-path", str(esp)], check=1)
    assert "not a mount point" in out
    code, out = run(["--esp-path", str(esp), "--relax-esp-checks", "--fallback"], check=0)
    assert (esp / "EFI/BOOT/BOOTX64.EFI").read_bytes() == IMAGE
    assert "not a mounted partition the firmware can name" in out


def test_load_option_parse_rejects_garbage():
    assert vi.parse_load_option(b"") is None
    assert vi.parse_load_option(struct.pack("<IH", 1, 200) + "x\0".encode("utf-16-le")) is None
    opt = vi.parse_load_option(load_option("Shell"))
    assert opt["description"] == "Shell" and opt["path"] is None
