#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Builds what the end-to-end test boots: vqboot's Debian package from a
clean copy of the tree, a Debian 12 root file system with it and two
kernels, and a GPT disk image (ESP + ext4 root) made offline, with
vqboot-install --image run on it.

    tests/e2e/build.py [--deb FILE] [OUTDIR]   (default build/e2e; needs root)

--deb skips step 1 and uses that package (for working on later steps).

1. The package: the tracked (and new, not ignored) files are copied to
   OUTDIR/src and built there with `dpkg-buildpackage -us -uc -b`; lintian
   runs on the result (OUTDIR/lintian.txt).
2. The base root: mmdebstrap bookworm with BASE_PACKAGES, cached as a
   tarball in $VQ_CACHE/e2e (default cache/e2e) under a key made of the
   package list and the options, together with the .debs of SECOND_KERNEL.
   This is the slow step (about 5 minutes), done once per key.
3. The image root, each run: the tarball unpacked; the settings an image
   builder writes (fstab, /etc/kernel/cmdline, entry-token, install.conf
   layout=bls, a report unit for the test); then, in a chroot with the
   staged ESP (loader/entries, on a tmpfs) mounted at /boot/efi, `dpkg -i`
   of vqboot's package (its postinst adds the kernel already there) and of
   the second kernel (the kernel's own hooks add it), which is then removed
   (its entry goes) and installed again: the entries are written and
   removed by kernel-install.
4. The disk: the staged ESP becomes a FAT32 partition (mkfs.fat, mcopy),
   the rest an ext4 partition (mke2fs -d), in a GPT made by sfdisk; then
   the package's vqboot-install --image DISK --fallback runs as nobody.

Timings of each step go to OUTDIR/timings.json.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SUITE = "bookworm"
BASE_PACKAGES = sorted("""
    systemd-sysv udev dbus kmod e2fsprogs dosfstools initramfs-tools
    linux-image-amd64 systemd-boot efibootmgr python3 mtools
""".split())
SECOND_KERNEL = "linux-image-cloud-amd64"
MMDEBSTRAP_OPTS = [
    "--variant=apt",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
]
# Bump when the way the base is made changes without the lists changing.
BASE_FORMAT = 1

ROOT_UUID = "6a1f3d2e-5b4c-4e8f-9a7b-0c1d2e3f4a5b"
ROOT_PARTUUID = "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b"
ESP_PARTUUID = "2f3e4d5c-6b7a-4899-8a1b-2c3d4e5f6a7b"
ESP_VOLID = "5642F00D"
ESP_MB = 320
HOSTNAME = "vqboot-e2e"
CMDLINE = f"root=UUID={ROOT_UUID} ro console=ttyS0"
ESP_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LINUX_GUID = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

REPORT_UNIT = """\
[Unit]
Description=vqboot end-to-end test report on the console
After=multi-user.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/vqboot-e2e-report
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
"""

# Runs once the boot has finished (a simple service does not hold it up),
# prints what the test checks between markers, then installs vqboot on the
# running system (efivarfs written directly) and powers off; the test boots
# the machine again with the same variable store and sees the firmware start
# the new Boot#### option.
REPORT_SCRIPT = """\
#!/bin/sh
# SPDX-License-Identifier: MIT
export SYSTEMD_COLORS=0 SYSTEMD_PAGER= LC_ALL=C.UTF-8
state=$(systemctl is-system-running --wait)
sleep 2  # let getty print its prompt first: the log reads better
echo "=== vqboot-e2e report begin ==="
echo "--- state"
echo "$state"
systemctl --failed --no-legend --plain
echo "--- systemd-analyze"
systemd-analyze
echo "--- bootctl status"
bootctl status --no-pager
echo "--- bootctl list"
bootctl list --no-pager
echo "--- root"
findmnt -n -o SOURCE,FSTYPE,OPTIONS /
echo "--- root device"
readlink -f "$(findmnt -n -o SOURCE /)"
echo "--- uname"
uname -r
echo "--- cmdline"
cat /proc/cmdline
echo "--- initrd"
v=$(uname -r)
md5sum "/boot/initrd.img-$v" "/boot/efi/debian/$v/initrd.img-$v"
echo "--- vqboot-install status"
vqboot-install status
echo "--- vqboot-install install"
vqboot-install install --variables=efivarfs
echo "--- efibootmgr"
efibootmgr -v
echo "--- vqboot-install status after install"
vqboot-install status
echo "=== vqboot-e2e report end ==="
sync
systemctl poweroff --force
"""


def log(msg):
    print(f"e2e: {msg}", flush=True)


def run(cmd, **kw):
    """Run, and on failure show the command and its output's tail."""
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


def cache_dir():
    return os.path.join(os.environ.get("VQ_CACHE") or os.path.join(TOP, "cache"), "e2e")


class Timer:
    def __init__(self, out):
        self.out = out
        self.t = {}

    def step(self, name, fn, *a):
        t0 = time.monotonic()
        r = fn(*a)
        self.t[name] = round(time.monotonic() - t0, 1)
        log(f"{name}: {self.t[name]} s")
        with open(os.path.join(self.out, "timings.json"), "w") as f:
            json.dump(self.t, f, indent=1)
        return r


# ---- 1. the package -----------------------------------------------------------

def build_deb(out):
    src = os.path.join(out, "src")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    files = subprocess.run(["git", "-C", TOP, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], check=True, capture_output=True).stdout
    for rel in files.decode().split("\0"):
        if rel and os.path.lexists(os.path.join(TOP, rel)):
            dest = os.path.join(src, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(os.path.join(TOP, rel), dest, follow_symlinks=False)
    for f in os.listdir(out):
        if f.startswith("vqboot_"):
            os.unlink(os.path.join(out, f))
    with open(os.path.join(out, "dpkg-buildpackage.log"), "w") as logf:
        run(["nice", "dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src,
            stdout=logf, stderr=subprocess.STDOUT,
            env=dict(os.environ, DEB_BUILD_OPTIONS="parallel=2"))
    debs = [f for f in os.listdir(out) if f.startswith("vqboot_") and f.endswith(".deb")]
    assert len(debs) == 1, f"dpkg-buildpackage made {debs}"
    changes = [f for f in os.listdir(out) if f.endswith(".changes")][0]
    r = subprocess.run(["lintian", "--pedantic", "--info", os.path.join(out, changes)],
                       capture_output=True, text=True)
    tags = [line for line in r.stdout.splitlines() if line[:2] in ("E:", "W:", "I:", "P:")]
    with open(os.path.join(out, "lintian.txt"), "w") as f:
        f.write("\n".join(tags) + ("\n" if tags else ""))
    log(f"lintian: {len(tags)} tags" + "".join("\n  " + t for t in tags))
    return os.path.join(out, debs[0])


# ---- 2. the base root (cached) --------------------------------------------------

def base_key():
    spec = json.dumps([BASE_FORMAT, SUITE, BASE_PACKAGES, SECOND_KERNEL, MMDEBSTRAP_OPTS])
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def base_root():
    """(tarball, directory of the second kernel's .debs), made once per key."""
    d = os.path.join(cache_dir(), f"base-{base_key()}")
    tar, debs = os.path.join(d, "root.tar"), os.path.join(d, "second-kernel")
    if os.path.exists(os.path.join(d, ".done")):
        return tar, debs
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(debs)
    log(f"building the base root with mmdebstrap into {d} (once per package list)")
    # Only what the second kernel adds is downloaded into the emptied cache.
    hook_dl = 'rm -f "$1"/var/cache/apt/archives/*.deb && ' \
              f'chroot "$1" apt-get install -y --download-only {SECOND_KERNEL}'
    hook_cp = f'cp "$1"/var/cache/apt/archives/*.deb {debs}/'
    with open(os.path.join(d, "mmdebstrap.log"), "w") as logf:
        run(["nice", "mmdebstrap", *MMDEBSTRAP_OPTS, "--include=" + ",".join(BASE_PACKAGES),
             "--customize-hook=" + hook_dl, "--customize-hook=" + hook_cp,
             SUITE, tar], stdout=logf, stderr=subprocess.STDOUT)
    names = sorted(os.listdir(debs))
    assert any("cloud" in n for n in names), f"no {SECOND_KERNEL} .debs in {debs}: {names}"
    open(os.path.join(d, ".done"), "w").close()
    return tar, debs


# ---- 3. the image root -------------------------------------------------------------

def write(root, path, text, mode=0o644):
    p = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)
    os.chmod(p, mode)


def configure(root):
    """What an image builder sets before it installs kernels."""
    write(root, "/etc/hostname", HOSTNAME + "\n")
    write(root, "/etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {HOSTNAME}\n")
    write(root, "/etc/fstab",
          f"UUID={ROOT_UUID} / ext4 errors=remount-ro 0 1\n"
          f"UUID={ESP_VOLID[:4]}-{ESP_VOLID[4:]} /boot/efi vfat umask=0077 0 2\n")
    write(root, "/etc/kernel/cmdline", CMDLINE + "\n")
    # The machine-id is made at first boot: name entries after the OS.
    write(root, "/etc/kernel/entry-token", "debian\n")
    write(root, "/etc/kernel/install.conf", "layout=bls\n")
    write(root, "/etc/systemd/system/vqboot-e2e.service", REPORT_UNIT)
    write(root, "/usr/local/sbin/vqboot-e2e-report", REPORT_SCRIPT, 0o755)
    wants = os.path.join(root, "etc/systemd/system/multi-user.target.wants")
    os.makedirs(wants, exist_ok=True)
    os.symlink("/etc/systemd/system/vqboot-e2e.service",
               os.path.join(wants, "vqboot-e2e.service"))
    os.makedirs(os.path.join(root, "boot/efi"), exist_ok=True)


# The staged ESP is a tmpfs at /boot/efi, a mount point of its own as the
# real ESP will be: kernel-install names files relative to the mount point
# of $BOOT (stat -c %m), which a bind mount of a directory onto itself
# does not change. Its content is copied out before the namespace ends.
CHROOT_SCRIPT = """\
set -eu
root=$1 inbox=$2 esp=$3
mount -t tmpfs -o mode=0755 esp "$root/boot/efi"
cp -a "$esp/." "$root/boot/efi/"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t sysfs sysfs "$root/sys"
mount -t tmpfs tmpfs "$root/tmp"
cp "$inbox"/*.deb "$root/tmp/"
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin
echo "+ dpkg -i vqboot"
chroot "$root" sh -c 'dpkg -i /tmp/vqboot.deb'
echo "+ dpkg -i the second kernel"
chroot "$root" sh -c 'dpkg -i $(ls /tmp/linux-image-*.deb)'
echo "+ entries: $(ls "$root/boot/efi/loader/entries" | tr '\n' ' ')"
echo "+ dpkg -r the second kernel"
chroot "$root" sh -c 'dpkg -r linux-image-cloud-amd64 \
	$(dpkg-query -W -f "\${Package}\n" "linux-image-*-cloud-amd64")'
echo "+ entries: $(ls "$root/boot/efi/loader/entries" | tr '\n' ' ')"
echo "+ token directory: $(ls "$root/boot/efi/debian" | tr '\n' ' ')"
echo "+ dpkg -i the second kernel again"
chroot "$root" sh -c 'dpkg -i $(ls /tmp/linux-image-*.deb)'
echo "+ entries: $(ls "$root/boot/efi/loader/entries" | tr '\n' ' ')"
rm -rf "$esp" && mkdir "$esp" && cp -a "$root/boot/efi/." "$esp/"
"""


def install_packages(root, deb, kernel_debs, out):
    """dpkg -i in a chroot of its own mount namespace (the mounts go away
    with it): the package, then the second kernel."""
    inbox = os.path.join(out, "debs")
    shutil.rmtree(inbox, ignore_errors=True)
    os.makedirs(inbox)
    shutil.copy(deb, os.path.join(inbox, "vqboot.deb"))
    for f in os.listdir(kernel_debs):
        shutil.copy(os.path.join(kernel_debs, f), inbox)
    esp = os.path.join(out, "esp")
    # What an image builder puts on the ESP before kernels are installed:
    # kernel-install and vqboot's hooks take a $BOOT with loader/entries.
    shutil.rmtree(esp, ignore_errors=True)
    os.makedirs(os.path.join(esp, "loader", "entries"))
    with open(os.path.join(out, "dpkg.log"), "w") as logf:
        run(["unshare", "--mount", "--propagation", "private", "sh", "-c", CHROOT_SCRIPT,
             "sh", root, inbox, esp], stdout=logf, stderr=subprocess.STDOUT)
    return esp


def make_root(tar, kernel_debs, deb, out):
    root = os.path.join(out, "root")
    if os.path.exists(root):
        run(["rm", "-rf", "--one-file-system", root])
    os.makedirs(root)
    run(["tar", "-C", root, "--xattrs", "--xattrs-include=*", "-xpf", tar])
    configure(root)
    esp = install_packages(root, deb, kernel_debs, out)
    return root, esp


# ---- 4. the disk -------------------------------------------------------------------

def make_esp(staged, path):
    run(["truncate", "-s", "0", path])
    run(["truncate", "-s", f"{ESP_MB}M", path])
    run(["mkfs.fat", "-F", "32", "-i", ESP_VOLID, "-n", "ESP", path], stdout=subprocess.DEVNULL)
    items = [os.path.join(staged, f) for f in sorted(os.listdir(staged))]
    if items:
        run(["mcopy", "-s", "-p", "-i", path] + items + ["::/"],
            env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))


def make_rootfs(root, path):
    used = int(subprocess.run(["du", "-sx", "--block-size=1M", root], check=True,
                              capture_output=True, text=True).stdout.split()[0])
    size = used + used // 4 + 256
    run(["truncate", "-s", "0", path])
    run(["truncate", "-s", f"{size}M", path])
    run(["mke2fs", "-q", "-F", "-t", "ext4", "-U", ROOT_UUID, "-L", "root",
         "-d", root, path])
    return size


def make_disk(root, staged_esp, out):
    esp, rootfs = os.path.join(out, "esp.fat"), os.path.join(out, "root.ext4")
    make_esp(staged_esp, esp)
    root_mb = make_rootfs(root, rootfs)
    disk = os.path.join(out, "disk.img")
    run(["truncate", "-s", "0", disk])
    run(["truncate", "-s", f"{1 + ESP_MB + root_mb + 1}M", disk])
    table = ("label: gpt\n"
             f"start=2048, size={ESP_MB * 2048}, type={ESP_GUID}, uuid={ESP_PARTUUID}, name=ESP\n"
             f"start={2048 + ESP_MB * 2048}, size={root_mb * 2048}, type={LINUX_GUID}, "
             f"uuid={ROOT_PARTUUID}, name=root\n")
    run(["sfdisk", "--no-reread", "--no-tell-kernel", "-q", disk], input=table.encode(),
        stdout=subprocess.DEVNULL)
    for img, mb in ((esp, 1), (rootfs, 1 + ESP_MB)):
        run(["dd", f"if={img}", f"of={disk}", "bs=1M", f"seek={mb}", "conv=notrunc,sparse",
             "status=none"])
        os.unlink(img)
    return disk


def install_loader(deb, disk, out):
    """The package's vqboot-install, unpacked, run as nobody: --image
    needs no root."""
    pkg = os.path.join(out, "pkgroot")
    shutil.rmtree(pkg, ignore_errors=True)
    run(["dpkg-deb", "-x", deb, pkg])
    os.chmod(out, 0o755)
    shutil.chown(disk, "nobody")
    with open(os.path.join(out, "vqboot-install.log"), "w") as logf:
        r = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                 "env", "HOME=/tmp", "TMPDIR=/tmp",
                 os.path.join(pkg, "usr/bin/vqboot-install"), "--image", disk, "--fallback"],
                stdout=logf, stderr=subprocess.STDOUT, check=False)
    with open(os.path.join(out, "vqboot-install.log")) as f:
        sys.stdout.write(f.read())
    assert r.returncode == 0, f"vqboot-install --image failed; {out}/vqboot-install.log"
    shutil.chown(disk, "root")


def main():
    argv = sys.argv[1:]
    deb = None
    if argv[:1] == ["--deb"]:
        deb, argv = os.path.abspath(argv[1]), argv[2:]
    out = os.path.abspath(argv[0] if argv else os.path.join(TOP, "build", "e2e"))
    if os.geteuid() != 0:
        sys.exit("e2e: needs root (mmdebstrap, chroot and dpkg -i in the image root)")
    os.makedirs(out, exist_ok=True)
    t = Timer(out)
    if not deb:
        deb = t.step("package", build_deb, out)
    tar, kernel_debs = t.step("base root (mmdebstrap, cached)", base_root)
    root, esp = t.step("image root (unpack, dpkg -i)", make_root, tar, kernel_debs, deb, out)
    disk = t.step("disk image (mkfs.fat, mke2fs -d, sfdisk)", make_disk, root, esp, out)
    t.step("vqboot-install --image", install_loader, deb, disk, out)
    run(["rm", "-rf", "--one-file-system", root])
    log(f"disk image: {disk}")


if __name__ == "__main__":
    main()
