# SPDX-License-Identifier: MIT
"""vqboot-install --image: the ESP of a disk image, written with mtools."""
import os
import pathlib
import shutil
import struct
import subprocess
import tempfile

from conftest import (MTOOLS_ENV, VQBOOT, Part, esp_read, fake_pe, fsck_esp, mkdisk,
                      run, sha256, vi)

with open(VQBOOT, "rb") as _f:
    IMAGE = _f.read()


def disk(tmp_path, esp_files=None, esp_mb=40, extra=True, name="disk.img"):
    path = str(tmp_path / name)
    parts = [Part("esp", "fat32", esp_mb, esp_files or {})]
    if extra:
        parts.append(Part("linux", "ext4", 8, {"/hello": b"root file system\n"}))
    mkdisk.build_disk(path, parts)
    return path


def region_sha(path, part):
    p = vi.read_table(path).find(part)
    with open(path, "rb") as f:
        f.seek(p.offset)
        return sha256_bytes(f.read(p.size))


def sha256_bytes(b):
    import hashlib
    return hashlib.sha256(b).hexdigest()


def test_install_fresh_image(tmp_path):
    path = disk(tmp_path)
    root_before = region_sha(path, 2)
    code, out = run(["--image", path, "--fallback"], check=0)
    assert esp_read(path, "EFI/vqboot/vqbootx64.efi") == IMAGE
    assert esp_read(path, "EFI/BOOT/BOOTX64.EFI") == IMAGE
    assert esp_read(path, "loader/loader.conf") == vi.LOADER_CONF_TEXT
    assert esp_read(path, "loader/entries.srel") == b"type1\n"
    assert "no Boot#### option" in out
    fsck_esp(path)
    assert region_sha(path, 2) == root_before, "the root partition changed"
    # No temporary file is left next to the loader.
    off = vi.read_table(path).find(1).offset
    listing = subprocess.run(["mdir", "-b", "-a", "-/", "-i", f"{path}@@{off}", "::/"],
                             capture_output=True, text=True, env=MTOOLS_ENV).stdout
    assert ".vqtmp" not in listing, listing


def test_install_without_fallback_says_so(tmp_path):
    path = disk(tmp_path)
    code, out = run(["--image", path], check=0)
    assert esp_read(path, "EFI/BOOT/BOOTX64.EFI") is None
    assert "without --fallback its firmware will not find vqboot" in out


def test_install_twice_keeps_loader_conf(tmp_path):
    mine = b"timeout 9\ndefault debian-*\n"
    path = disk(tmp_path, {"/loader/loader.conf": mine})
    run(["--image", path, "--fallback"], check=0)
    assert esp_read(path, "loader/loader.conf") == mine
    before = sha256(path)
    code, out = run(["install", "--image", path, "--fallback"], check=0)
    assert "already this vqboot" in out and "loader.conf kept" in out
    assert sha256(path) == before, "a second install changed the image"


def test_refuses_foreign_fallback(tmp_path):
    shim = fake_pe(sbat=b"sbat,1,SBAT Version,sbat,1,https://x\nshim,3,UEFI shim,shim,1,https://x\n")
    path = disk(tmp_path, {"/EFI/BOOT/BOOTX64.EFI": shim})
    before = sha256(path)
    code, out = run(["--image", path, "--fallback"], check=1)
    assert "\\EFI\\BOOT\\BOOTX64.EFI" in out and "holds shim" in out, out
    assert "belongs to something else" in out
    assert sha256(path) == before, "a refused install changed the image"
    run(["--image", path, "--fallback", "--force"], check=0)
    assert esp_read(path, "EFI/BOOT/BOOTX64.EFI") == IMAGE


def test_refuses_other_loader_at_vqboot_path(tmp_path):
    sdboot = fake_pe(marker=b"#### LoaderInfo: systemd-boot 252.39-1~deb12u2 ####")
    path = disk(tmp_path, {"/EFI/vqboot/vqbootx64.efi": sdboot})
    code, out = run(["--image", path], check=1)
    assert "\\EFI\\vqboot\\vqbootx64.efi" in out and "systemd-boot 252" in out, out


def test_refuses_without_esp(tmp_path):
    path = str(tmp_path / "linux.img")
    mkdisk.build_disk(path, [Part("linux", "ext4", 8)])
    code, out = run(["--image", path], check=1)
    assert f"{path}: no EFI system partition in its GPT (partitions: 1 type " in out, out
    blank = str(tmp_path / "blank.img")
    with open(blank, "wb") as f:
        f.truncate(4 << 20)
    code, out = run(["--image", blank], check=1)
    assert "no GPT or MBR partition table, so no ESP" in out
    code, out = run(["--image", str(tmp_path / "nothere.img")], check=1)
    assert "no such disk image" in out


def test_refuses_esp_without_fat(tmp_path):
    path = str(tmp_path / "raw.img")
    mkdisk.build_disk(path, [Part("esp", "raw", 8)])
    code, out = run(["--image", path], check=1)
    assert "partition 1: no FAT file system on it" in out, out


def test_refuses_full_esp(tmp_path):
    path = disk(tmp_path, esp_mb=34, extra=False)
    off = vi.read_table(path).find(1).offset
    free = vi.ImageEsp(path, vi.read_table(path).find(1)).free()
    filler = tmp_path / "filler"
    with open(filler, "wb") as f:
        f.truncate(free - 100 * 1024)
    subprocess.run(["mcopy", "-i", f"{path}@@{off}", str(filler), "::/filler"],
                   check=True, env=MTOOLS_ENV)
    before = sha256(path)
    code, out = run(["--image", path, "--fallback"], check=1)
    assert "the ESP is full" in out and "KiB free" in out, out
    assert sha256(path) == before


def test_status_lists_entries_in_boot_order(tmp_path):
    def entry(title, version, key="debian", extra=""):
        return (f"title {title}\nversion {version}\nsort-key {key}\n"
                f"linux /debian/{version}/linux\n{extra}").encode()
    files = {
        "/loader/entries/debian-6.1.0-9-amd64.conf": entry("Debian", "6.1.0-9-amd64"),
        "/loader/entries/debian-6.1.0-10-amd64.conf": entry("Debian", "6.1.0-10-amd64"),
        "/loader/entries/arm.conf": entry("Arm", "1", extra="architecture aa64\n"),
        "/loader/entries/nokey.conf": b"title No key\nlinux /vmlinuz\n",
        "/loader/entries/old+0.conf": entry("Counted out", "6.1.0-99-amd64"),
        "/debian/6.1.0-10-amd64/linux": b"kernel",
    }
    path = disk(tmp_path, files)
    run(["--image", path], check=0)
    code, out = run(["status", "--image", path], check=0)
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()[:2] in ("1)", "2)", "3)", "4)")]
    assert lines == ["1) Debian (6.1.0-10-amd64)  [default]", "2) Debian (6.1.0-9-amd64)",
                     "3) No key", "4) Counted out (6.1.0-99-amd64)"], out
    assert "missing on the ESP: /debian/6.1.0-9-amd64/linux" in out
    assert "vqboot 0.1" in out and "the same as the package's" in out


def test_status_honours_default_glob(tmp_path):
    files = {f"/loader/entries/{n}.conf": f"title {n}\nsort-key {n}\nlinux /x\n".encode()
             for n in ("a", "b")}
    files["/loader/loader.conf"] = b"default b*\n"
    path = disk(tmp_path, files)
    code, out = run(["status", "--image", path], check=0)
    assert "2) b  [default]" in out, out


def test_remove_undoes_install(tmp_path):
    path = disk(tmp_path)
    run(["--image", path, "--fallback"], check=0)
    code, out = run(["remove", "--image", path], check=0)
    for rel in ("EFI/vqboot/vqbootx64.efi", "EFI/BOOT/BOOTX64.EFI", "loader/loader.conf"):
        assert esp_read(path, rel) is None, f"{rel} left after remove:\n{out}"
    assert "removed \\EFI\\vqboot" in out
    fsck_esp(path)


def test_remove_keeps_what_is_not_ours(tmp_path):
    other = fake_pe(marker=b"#### LoaderInfo: systemd-boot 252 ####")
    path = disk(tmp_path, {"/EFI/BOOT/BOOTX64.EFI": other})
    run(["--image", path], check=0)
    off = vi.read_table(path).find(1).offset
    conf = tmp_path / "loader.conf"
    conf.write_bytes(b"timeout 1\n")
    subprocess.run(["mcopy", "-o", "-i", f"{path}@@{off}", str(conf), "::/loader/loader.conf"],
                   check=True, env=MTOOLS_ENV)
    code, out = run(["remove", "--image", path], check=0)
    assert esp_read(path, "EFI/BOOT/BOOTX64.EFI") == other
    assert esp_read(path, "loader/loader.conf") == b"timeout 1\n"
    assert "kept \\EFI\\BOOT\\BOOTX64.EFI: it is systemd-boot 252" in out
    assert "changed since vqboot-install wrote it" in out


def test_update_replaces_only_vqboot(tmp_path):
    old = fake_pe(marker=b"#### LoaderInfo: vqboot 0.0 ####")
    path = disk(tmp_path, {"/EFI/vqboot/vqbootx64.efi": old})
    code, out = run(["update", "--image", path], check=0)
    assert esp_read(path, "EFI/vqboot/vqbootx64.efi") == IMAGE
    assert esp_read(path, "EFI/BOOT/BOOTX64.EFI") is None
    assert "updated" in out


def test_esp_found_through_backup_gpt(tmp_path):
    path = disk(tmp_path)
    with open(path, "r+b") as f:
        f.seek(512)
        f.write(b"XXXXXXXX")  # primary header signature gone
    run(["--image", path], check=0)
    assert esp_read_raw(path, "EFI/vqboot/vqbootx64.efi") == IMAGE


def esp_read_raw(path, rel):
    off = 1 << 20  # mkdisk puts the first partition at 1 MiB
    r = subprocess.run(["mcopy", "-n", "-i", f"{path}@@{off}", f"::/{rel}", "-"],
                       capture_output=True, env=MTOOLS_ENV)
    return r.stdout if r.returncode == 0 else None


def test_esp_partition_choice(tmp_path):
    path = str(tmp_path / "two.img")
    mkdisk.build_disk(path, [Part("esp", "fat32", 34), Part("esp", "fat32", 34)])
    code, out = run(["--image", path], check=0)
    assert "2 EFI system partitions; using partition 1" in out
    run(["--image", path, "--esp-partition", "2"], check=0)
    assert esp_read(path, "EFI/vqboot/vqbootx64.efi", part=2) == IMAGE
    code, out = run(["--image", path, "--esp-partition", "3"], check=1)
    assert "no partition 3" in out


def test_image_install_needs_no_root(tmp_path):
    """As nobody (when the tests run as root): mtools on a file it owns."""
    if os.geteuid() != 0:
        path = disk(tmp_path)
        run(["--image", path], check=0)
        return
    shared = tempfile.mkdtemp(prefix="vqboot-install-")
    os.chmod(shared, 0o755)
    path = disk(pathlib.Path(shared))
    os.chown(path, 65534, 65534)
    code, out = run(["--image", path + ".missing"], check=1)
    assert "no such disk image" in out
    os.chmod(path, 0o400)
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        "/usr/bin/python3", vi.__file__, "--image", path, "--source", VQBOOT],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "cannot use it" in r.stderr, r.stderr
    os.chmod(path, 0o600)
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        "env", "HOME=/tmp", "/usr/bin/python3", vi.__file__, "--image", path,
                        "--source", VQBOOT], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert esp_read(path, "EFI/vqboot/vqbootx64.efi") == IMAGE
    shutil.rmtree(shared)


def test_identify():
    assert vi.identify(IMAGE) == ("vqboot", "vqboot 0.1")
    assert vi.identify(fake_pe(sbat=b"sbat,1,x\ngrub,3,Free Software Foundation,grub,2\n")) \
        == ("other", "GRUB")
    assert vi.identify(b"plain text") == ("other", "not an EFI program")
    assert vi.identify(fake_pe()) == ("other", "an unknown EFI program")


def test_gpt_checks_lengths(tmp_path):
    """A header claiming more entries than the disk holds is not used."""
    path = disk(tmp_path, extra=False)
    with open(path, "r+b") as f:
        f.seek(512 + 80)
        f.write(struct.pack("<I", 4096))  # entry count; header CRC now wrong too
    t = vi.read_table(path)
    assert t is not None and t.kind == "gpt", "the backup GPT should still be used"
