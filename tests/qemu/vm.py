# SPDX-License-Identifier: MIT
"""Boot OVMF under QEMU (TCG) and capture what happened.

A VM gets a tools disk (FAT, on AHCI so it is not a virtio device) holding
our .efi files and a startup.nsh that the firmware shell runs, plus any
virtio disks and devices a test asks for. The serial console is read until a
marker, QEMU's exit or a timeout; every boot leaves its log in
build/qemu-logs/<name>/ and a failing test names that path.
"""
import hashlib
import os
import re
import select
import shutil
import socket
import subprocess
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(TOP, "build")
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
# Debian's test firmware: Secure Boot on, its "snakeoil" key in PK, KEK, db.
OVMF_CODE_SB = "/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd"
OVMF_VARS_SB = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"
# AArch64 (arch="aarch64"): QEMU's virt machine with Debian's AAVMF.
AAVMF_CODE = "/usr/share/AAVMF/AAVMF_CODE.fd"
AAVMF_VARS = "/usr/share/AAVMF/AAVMF_VARS.fd"
ANSI = re.compile(r"\x1b\[[0-9;?=]*[A-Za-z]")


def sh(cmd, **kw):
    subprocess.run(cmd, shell=True, check=True, **kw)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_tools_disk(path, files, startup):
    """A FAT disk with `files` ({dest: src}) and startup.nsh lines."""
    sh(f"rm -f {path} && truncate -s 48M {path} && mkfs.fat -F 32 {path} >/dev/null")
    dirs = set()
    for dest in files:
        parts = dest.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    for d in sorted(dirs):
        sh(f"mmd -i {path} ::/{d}")
    for dest, src in files.items():
        sh(f"mcopy -i {path} {src} ::/{dest.strip('/')}")
    nsh = path + ".nsh"
    with open(nsh, "w") as f:
        f.write("".join(line + "\r\n" for line in startup))
    sh(f"mcopy -i {path} {nsh} ::/startup.nsh")


class VM:
    def __init__(self, name, machine="q35", mem=512, devices=(), disks=(),
                 tools=None, startup=(), gpu=None, extra=(), workdir=None,
                 secure_boot=False, tpm=False, scsi=(), scsi_ctrls=None,
                 arch="x86_64"):
        self.name = name
        self.arch = arch
        if arch == "aarch64" and machine == "q35":
            machine = "virt"
        self.secure_boot = secure_boot
        self.tpm = tpm
        self.swtpm = None
        self.dir = workdir or os.path.join(BUILD, "qemu-logs", name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.log_path = os.path.join(self.dir, "serial.log")
        self.machine = machine
        self.mem = mem
        self.devices = list(devices)
        self.disks = list(disks)  # (path, device options) for virtio disks
        # (path, scsi-hd options) for disks behind virtio-scsi controllers
        # s0, s1 ... (scsi_ctrls: each controller's options; one by default)
        self.scsi = list(scsi)
        self.scsi_ctrls = list(scsi_ctrls) if scsi_ctrls is not None else \
            ([""] if self.scsi else [])
        self.tools = tools
        self.startup = list(startup)
        self.gpu = gpu
        self.extra = list(extra)
        self.proc = None
        self.output = ""
        self.monitor_path = os.path.join(self.dir, "monitor.sock")

    def machine_cmdline(self, vars_fd):
        """QEMU, its machine and firmware for self.arch."""
        if self.arch == "aarch64":
            # No Secure Boot or TPM here. A cortex-a72 runs quicker under
            # TCG than -cpu max (no pointer authentication to emulate).
            sh(f"cp --sparse=always {AAVMF_VARS} {vars_fd}")  # 64 MiB, mostly zeros
            return ["qemu-system-aarch64", "-M", self.machine, "-cpu", "cortex-a72",
                    "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={AAVMF_CODE}",
                    "-drive", f"if=pflash,format=raw,unit=1,file={vars_fd}"]
        shutil.copy(OVMF_VARS_SB if self.secure_boot else OVMF_VARS, vars_fd)
        code = OVMF_CODE_SB if self.secure_boot else OVMF_CODE
        machine = self.machine + (",smm=on" if self.secure_boot else "")
        cmd = ["qemu-system-x86_64", "-M", machine,
               "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
               "-drive", f"if=pflash,format=raw,unit=1,file={vars_fd}"]
        if self.secure_boot:
            # Only SMM code may write the authenticated variables.
            cmd += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
        return cmd

    def cmdline(self):
        vars_fd = os.path.join(self.dir, "vars.fd")
        cmd = self.machine_cmdline(vars_fd) + [
            "-accel", "tcg", "-m", str(self.mem), "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "stdio",
            "-monitor", f"unix:{self.monitor_path},server,nowait"]
        if self.tpm:
            cmd += ["-chardev", f"socket,id=tpm,path={self.tpm_socket()}",
                    "-tpmdev", "emulator,id=tpm0,chardev=tpm",
                    "-device", "tpm-tis,tpmdev=tpm0"]
        if self.tools is not None:
            files, = (self.tools,)
            img = os.path.join(self.dir, "tools.img")
            make_tools_disk(img, files, self.startup)
            cmd += ["-drive", f"if=none,id=tools,format=raw,file={img}"]
            if self.arch == "aarch64":
                # AAVMF has no AHCI driver; USB keeps the tools off virtio.
                cmd += ["-device", "qemu-xhci", "-device", "usb-storage,drive=tools"]
            else:
                cmd += ["-device", "ide-hd,drive=tools,bus=ide.0"]
        for i, (path, opts) in enumerate(self.disks):
            drive = f"if=none,id=vd{i},format=raw,file={path}"
            if isinstance(opts, tuple):
                drive_extra, opts = opts
                drive += "," + drive_extra
            cmd += ["-drive", drive,
                    "-device", f"virtio-blk-pci,drive=vd{i}" + (("," + opts) if opts else "")]
        for c, opts in enumerate(self.scsi_ctrls):
            cmd += ["-device", f"virtio-scsi-pci,id=s{c}" + (("," + opts) if opts else "")]
        for i, (path, opts) in enumerate(self.scsi):
            drive = f"if=none,id=sd{i},format=raw,file={path}"
            if isinstance(opts, tuple):
                drive_extra, opts = opts
                drive += "," + drive_extra
            dev = f"scsi-hd,drive=sd{i},channel=0"
            if "bus=" not in (opts or ""):
                dev += ",bus=s0.0"
            cmd += ["-drive", drive, "-device", dev + (("," + opts) if opts else "")]
        for dev in self.devices:
            cmd += ["-device", dev]
        cmd += self.extra
        return cmd

    def tpm_socket(self):
        """Start swtpm (TPM 2.0, state in the log folder) for this boot."""
        state = os.path.join(self.dir, "tpm")
        os.makedirs(state, exist_ok=True)
        sock = os.path.join(state, "swtpm.sock")
        self.swtpm = subprocess.Popen(
            ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}",
             "--ctrl", f"type=unixio,path={sock}",
             "--log", f"file={os.path.join(self.dir, 'swtpm.log')}"])
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        return sock

    def run(self, until=None, timeout=60, keys=None):
        """Boot and read serial until `until` (regex) matches, QEMU exits,
        or `timeout` seconds pass. `keys` maps a regex to bytes to type when
        it first appears. Returns the ANSI-stripped log."""
        cmd = self.cmdline()
        with open(os.path.join(self.dir, "cmdline"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        self.keys = dict(keys or {})
        # The shell waits 5 s for a key before startup.nsh: any key skips it.
        self.keys.setdefault(r"Press .*ESC.* to skip", b" ")
        self.sent = set()
        self.raw = b""
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        return self.run_more(until, timeout)

    def run_more(self, until=None, timeout=60, hang_dump=True):
        """Go on reading a running VM: new output only counts for `until`.
        A short look that may well time out passes hang_dump=False."""
        start = len(self.raw)
        raw = self.raw
        keys, sent = self.keys, self.sent
        deadline = time.time() + timeout
        matched = False
        try:
            while time.time() < deadline:
                r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
                if r:
                    chunk = os.read(self.proc.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    raw += chunk
                    text = ANSI.sub("", raw.decode("latin-1"))
                    for pat, data in keys.items():
                        if pat not in sent and re.search(pat, text):
                            sent.add(pat)
                            self.type(data)
                    new = ANSI.sub("", raw[start:].decode("latin-1"))
                    if until and re.search(until, new):
                        matched = True
                        break
                elif self.proc.poll() is not None:
                    break
        finally:
            self.raw = raw
            self.output = ANSI.sub("", raw.decode("latin-1")).replace("\r", "")
            with open(self.log_path, "w") as f:
                f.write(self.output)
        self.timed_out = not matched and self.proc.poll() is None
        if self.timed_out and hang_dump:
            self.dump_hang()
        return self.output

    def dump_hang(self):
        """A VM that did not get there: keep where its CPU is (three looks,
        half a second apart) beside the serial log, so a hang can be told
        from a slow boot and placed (firmware, loader or kernel)."""
        path = os.path.join(self.dir, "hang-registers.txt")
        try:
            with open(path, "w") as f:
                for i in range(3):
                    f.write(f"==== look {i + 1}\n")
                    f.write(self.hmp("info registers"))
                    time.sleep(0.5)
        except OSError as e:
            with open(path, "a") as f:
                f.write(f"monitor not reachable: {e}\n")

    def type(self, data):
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def hmp(self, command):
        """Send one HMP monitor command; returns its output."""
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.monitor_path)
        s.settimeout(10)
        buf = b""
        while b"(qemu)" not in buf:
            buf += s.recv(4096)
        s.sendall(command.encode() + b"\n")
        buf = b""
        while buf.count(b"(qemu)") < 1:
            buf += s.recv(4096)
        s.close()
        return buf.decode("latin-1")

    def screendump(self, path, device=None, head=None):
        """QEMU 7.2: screendump FILE [-f FMT] [DEVICE [HEAD]]; a head needs
        the device's id (-device ...,id=NAME)."""
        opt = f" {device}" if device else ""
        opt += f" {head}" if device and head is not None else ""
        self.hmp(f"screendump {path}{opt}")
        for _ in range(50):
            if os.path.exists(path) and os.path.getsize(path) > 0:
                break
            time.sleep(0.1)
        return path

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
        if self.swtpm and self.swtpm.poll() is None:
            self.swtpm.kill()
        if self.swtpm:
            self.swtpm.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def read_ppm(path):
    """(width, height, bytes RGB) of a binary PPM (P6)."""
    with open(path, "rb") as f:
        data = f.read()
    fields = []
    i = 0
    while len(fields) < 4:
        while data[i:i + 1].isspace():
            i += 1
        if data[i:i + 1] == b"#":
            while data[i:i + 1] != b"\n":
                i += 1
            continue
        j = i
        while not data[j:j + 1].isspace():
            j += 1
        fields.append(data[i:j])
        i = j
    assert fields[0] == b"P6", f"{path}: not a P6 PPM"
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[i + 1:i + 1 + w * h * 3]


def pixel(img, x, y):
    w, h, px = img
    o = (y * w + x) * 3
    return tuple(px[o:o + 3])
