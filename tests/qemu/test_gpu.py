# SPDX-License-Identifier: MIT
"""virtio-gpu on screen: vqdiag gpu's test pattern and vqboot's menu and
errors, checked on HMP screendumps (pixel colours where the layout puts
them, not golden images). Screendumps stay in the VM's log directory.

HMP in QEMU 7.2 takes `screendump FILE [-f FMT] [DEVICE [HEAD]]`: a head
other than 0 needs the GPU's id, so the GPU is always `id=gpu0`.
"""
import os
import re
import sys
import time

import pytest

from conftest import TAG, VQBOOT, VQDIAG, Disk, parse_json_report, run_vqdiag, tools_cd
from linux import CONSOLE, busybox_initrd, entry, kernel
from test_boot import check_linux
from vm import BUILD, TOP, VM, pixel, read_ppm

sys.path.insert(0, os.path.join(TOP, "scripts"))
import mkdisk  # noqa: E402
from mkdisk import Part  # noqa: E402

BARS = [(0xff, 0xff, 0xff), (0xff, 0xff, 0x00), (0x00, 0xff, 0xff),
        (0x00, 0xff, 0x00), (0xff, 0x00, 0xff), (0xff, 0x00, 0x00),
        (0x00, 0x00, 0xff), (0x00, 0x00, 0x00)]
WHITE = (0xff, 0xff, 0xff)
BLACK = (0, 0, 0)

# apps/vqboot/screen.h
SCREEN_BG = (0x10, 0x18, 0x28)
SCREEN_FG = (0xe0, 0xe0, 0xe0)
SCREEN_TITLE_BG = (0x20, 0x50, 0x90)
SCREEN_HILITE_BG = (0xf0, 0xc0, 0x30)
SCREEN_HILITE_FG = (0x10, 0x10, 0x10)
SCREEN_ERROR_FG = (0xff, 0x50, 0x50)
SCREEN_BAR_FG = (0x30, 0xc0, 0x60)
SCREEN_BAR_BG = (0x30, 0x30, 0x40)
FONT_W, FONT_H = 8, 16

PATTERN = "vqdiag: pattern on screen"
HOLD_S = 20


def gpu(w=None, h=None, extra=""):
    opts = "virtio-gpu-pci,id=gpu0"
    if w:
        opts += f",xres={w},yres={h}"
    return opts + extra


def dump(vm, name, head=None):
    """Screendump head `head` of gpu0 into the VM's dir; the image."""
    path = os.path.join(vm.dir, name)
    if os.path.exists(path):
        os.unlink(path)
    where = f" gpu0 {head}" if head is not None else ""
    out = vm.hmp(f"screendump {path}{where}")
    for _ in range(50):
        if os.path.exists(path) and os.path.getsize(path) > 0:
            break
        time.sleep(0.1)
    assert os.path.exists(path), f"screendump failed: {out!r}; {vm.dir}"
    time.sleep(0.2)  # let QEMU finish writing
    return read_ppm(path)


def hex_px(p):
    return "#%02x%02x%02x" % p


# ---- vqdiag gpu ------------------------------------------------------------

def bar_x(w, i):
    """Left edge of bar i, as apps/vqdiag/diag_gpu.c cuts the inside into eight."""
    return 1 + (w - 2) * i // 8


def check_pattern(img, w, h, what):
    """The bars at their centres (a quarter and three quarters down, away
    from the label box) and the 1-pixel white border, on a w x h surface
    at the top-left of img."""
    for i, colour in enumerate(BARS):
        x = (bar_x(w, i) + bar_x(w, i + 1)) // 2
        for y in (h // 4, 3 * h // 4):
            got = pixel(img, x, y)
            assert got == colour, f"{what}: bar {i} at ({x},{y}) is {hex_px(got)}, want {hex_px(colour)}"
    for x, y in ((0, 0), (w - 1, h - 1), (w - 1, h // 4), (0, 3 * h // 4)):
        assert pixel(img, x, y) == WHITE, f"{what}: border pixel ({x},{y}) is {hex_px(pixel(img, x, y))}"
    # Inside the border the bars start: red right under the top edge,
    # black (bar 7) just left of the right edge.
    red_x = (bar_x(w, 5) + bar_x(w, 6)) // 2
    assert pixel(img, red_x, 0) == WHITE and pixel(img, red_x, 1) == BARS[5], what
    assert pixel(img, w - 2, h // 4) == BLACK, what
    # The label box in the middle: a white frame around black.
    assert pixel(img, w // 2, h // 2) in (WHITE, BLACK), what


def run_gpu_diag(vm_name, devices, args="--json", shots=((None, "head.ppm"),),
                 timeout=120):
    """vqdiag gpu --hold: screendump while vqboot's driver owns the
    display, then let it give the device back. Returns (vm, log, images)."""
    startup = tools_cd() + [f"vqdiag.efi gpu {args} --hold {HOLD_S}",
                            "echo VQ-SHELL-END", "reset -s"]
    vm = VM(vm_name, tools={"vqdiag.efi": VQDIAG, "vqtools.tag": TAG},
            startup=startup, devices=devices, extra=["-vga", "none"])
    with vm:
        vm.run(until=PATTERN, timeout=timeout)
        assert not vm.timed_out, f"no '{PATTERN}' in {timeout}s; log {vm.log_path}"
        t0 = time.time()
        images = {name: dump(vm, name, head) for head, name in shots}
        assert time.time() - t0 < HOLD_S - 5, "screendumps took too long to trust"
        log = vm.run_more(until=r"vqdiag: gpu done \(\w+\)", timeout=HOLD_S + 60)
        assert not vm.timed_out, f"vqdiag gpu did not finish; log {vm.log_path}"
    assert "vqdiag: gpu done (ok)" in log, vm.log_path
    return vm, log, images


def check_timings(t, w, h):
    """Figures exist and are sane; their size is not judged."""
    fw, vq = t["firmware"], t["vqboot"]
    assert fw["available"], "OVMF's GOP on virtio-gpu was not found"
    assert (fw["mode_width"], fw["mode_height"]) == (w, h)
    for side in (fw, vq):
        assert side["full_frame"]["updates"] == 50 and not side["full_frame"]["error"]
        assert side["small_rect"]["updates"] == 200 and not side["small_rect"]["error"]
        assert (side["full_frame"]["width"], side["full_frame"]["height"]) == (w, h)
        assert (side["small_rect"]["width"], side["small_rect"]["height"]) == (w, 16)
        assert side["full_frame"]["per_update_us"] > 0
    # Same work on both sides: the same mode, and vqboot copies the frame.
    assert t["same_mode"] is True
    assert (vq["mode_width"], vq["mode_height"]) == (w, h)
    assert "copy the caller's frame" in vq["work"]
    assert vq["flush_only"]["updates"] == 50 and not vq["flush_only"]["error"]
    assert t["ratio_vqboot_to_firmware"]["full_frame"] is not None
    assert t["ratio_vqboot_to_firmware"]["small_rect"] is not None
    assert "Stall" in t["clock"]


@pytest.mark.parametrize("w,h", [(1024, 768), (800, 600)])
def test_diag_pattern(vm_name, w, h):
    vm, log, imgs = run_gpu_diag(vm_name, [gpu(w, h)])
    img = imgs["head.ppm"]
    assert img[:2] == (w, h), f"screendump is {img[0]}x{img[1]}, want {w}x{h}"
    check_pattern(img, w, h, f"{vm.dir}/head.ppm")
    rep = parse_json_report(log, vm)
    (s0,) = rep["scanouts"]
    assert s0["enabled"] and s0["driven"] and (s0["width"], s0["height"]) == (w, h)
    assert s0["source"] == "EDID", s0
    assert s0["edid"]["manufacturer"] == "RHT"
    assert (s0["edid"]["preferred"]["width"], s0["edid"]["preferred"]["height"]) == (w, h)
    assert (rep["surface"]["width"], rep["surface"]["height"]) == (w, h)
    assert rep["state"] == PATTERN and rep["hold_s"] == HOLD_S
    check_timings(rep["timings"], w, h)


def test_diag_twice_firmware_gop_back(vm_name):
    """At QEMU's default mode (1280x800), text then JSON: the second run
    finds the firmware's GOP again and times it, so the first gave the
    device back in a state OVMF's driver could take up. A bad --hold is
    refused."""
    vm, log = run_vqdiag(vm_name, "gpu", after=["vqdiag.efi gpu --json",
                                                "vqdiag.efi gpu --hold=abc"],
                         devices=[gpu()], extra=["-vga", "none"], timeout=150)
    text = log.split("vqdiag: gpu done", 1)[0]
    assert "firmware GOP: mode 1280x800, EfiBltBufferToVideo" in text, vm.log_path
    assert re.search(r"full frame +1280x800: [0-9.]+ us per update", text), vm.log_path
    assert "scanout 0: enabled, display info 1280x800, driven at 1280x800 (from EDID)" in text
    assert 'EDID: RHT product 0x1234 "QEMU Monitor", preferred 1280x800' in text
    assert log.count("vqdiag: gpu done (ok)") == 2, vm.log_path
    assert "vqdiag gpu: --hold 'abc': want 0..3600 seconds" in log, vm.log_path
    assert "vqdiag: gpu done (failed)" in log, vm.log_path
    rep = parse_json_report(log, vm)
    check_timings(rep["timings"], 1280, 800)


def is_pattern(img, w, h):
    try:
        check_pattern(img, w, h, "")
        return True
    except (AssertionError, IndexError):
        return False


def test_diag_two_outputs_second_disabled(vm_name):
    """QEMU 7.2 enables only output 0 of max_outputs=2 (output 1 gets
    enabled when a UI reports a window size; -display none never does).
    vqdiag reports scanout 1 disabled and does not drive it, and head 1
    shows QEMU's idle surface, not the pattern."""
    shots = ((0, "head0.ppm"), (1, "head1.ppm"))
    vm, log, imgs = run_gpu_diag(vm_name, [gpu(1024, 768, ",max_outputs=2")],
                                 shots=shots)
    rep = parse_json_report(log, vm)
    s0, s1 = rep["scanouts"]
    assert s0["enabled"] and s0["driven"] and (s0["width"], s0["height"]) == (1024, 768)
    assert not s1["enabled"] and not s1["driven"] and s1["source"] == "none", s1
    assert (s1["display_info"]["width"], s1["display_info"]["height"]) == (0, 0)
    check_pattern(imgs["head0.ppm"], 1024, 768, f"{vm.dir}/head0.ppm")
    h1 = imgs["head1.ppm"]
    assert not (h1[0] >= 1024 and h1[1] >= 768 and is_pattern(h1, 1024, 768)), \
        f"head 1 shows the pattern though scanout 1 is disabled; {vm.dir}"


def test_diag_two_outputs_all_scanouts(vm_name):
    """--all-scanouts drives the disabled output too, at its EDID's
    preferred mode (QEMU's default 1280x800): both heads show the picture,
    the surface is what both show (1024x768) and the rest of head 1 stays
    black. Text output."""
    shots = ((0, "head0.ppm"), (1, "head1.ppm"))
    vm, log, imgs = run_gpu_diag(vm_name, [gpu(1024, 768, ",max_outputs=2")],
                                 args="--all-scanouts", shots=shots)
    assert "scanout 0: enabled, display info 1024x768, driven at 1024x768 (from EDID)" in log
    assert "scanout 1: disabled, display info 0x0, driven at 1280x800 (from EDID, forced)" in log
    assert re.search(r"full frame +1024x768: [0-9.]+ us per update, \d+ updates/s", log)
    assert re.search(r"small rect +vqboot/firmware time per update: [0-9.]+", log)
    assert "calibrated against the firmware's Stall" in log
    h0, h1 = imgs["head0.ppm"], imgs["head1.ppm"]
    assert h0[:2] == (1024, 768) and h1[:2] == (1280, 800), (h0[:2], h1[:2])
    check_pattern(h0, 1024, 768, f"{vm.dir}/head0.ppm")
    check_pattern(h1, 1024, 768, f"{vm.dir}/head1.ppm")
    assert pixel(h1, 1200, 400) == BLACK and pixel(h1, 500, 790) == BLACK


# ---- vqboot on screen ------------------------------------------------------

def menu_disk(vm_name, loader, entries, files=None):
    """A GPT disk with an ESP: vqboot as BOOTX64.EFI, loader.conf and
    entries ({id: (title, linux)}) whose kernels are bytes."""
    f = {"/EFI/BOOT/BOOTX64.EFI": VQBOOT, "/loader/loader.conf": loader}
    f.update(files or {})
    for eid, (title, linux) in entries.items():
        f[f"/loader/entries/{eid}.conf"] = (
            f"title {title}\nsort-key {eid}\nlinux {linux}\n"
            "options console=ttyS0\n").encode()
    d = os.path.join(BUILD, "qemu-logs")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"{vm_name}.disk.img")
    mkdisk.build_disk(path, [Part("esp", "fat32", 40, f)])
    return Disk(path)


FAKE_KERNEL = {"/vmlinuz": b"not a kernel, nothing boots it\n" * 64}
THREE = {"a": ("Entry a", "/vmlinuz"), "b": ("Entry b", "/vmlinuz"),
         "c": ("Entry c", "/vmlinuz")}


def layout(w):
    """Cell size per apps/vqboot/screen.h: scale 2 from 1024 pixels wide."""
    scale = 2 if w >= 1024 else 1
    return scale, FONT_W * scale, FONT_H * scale


def row_pixels(img, row, ch):
    """Every pixel of text row `row` (cell height ch)."""
    w, h, px = img
    y0 = row * ch
    return [pixel(img, x, y) for y in range(y0, min(y0 + ch, h)) for x in range(w)]


def count(pixels, colour):
    return sum(1 for p in pixels if p == colour)


def menu_ok(img, w, row):
    """Whether the highlight bar is on text row `row` (2 or 3)."""
    scale, cw, ch = layout(w)
    other = 5 - row
    return count(row_pixels(img, row, ch), SCREEN_HILITE_BG) > w * ch // 2 and \
        count(row_pixels(img, other, ch), SCREEN_HILITE_BG) == 0


def wait_screen(vm, name, ok, tries=20):
    """Screendump until ok(image) or tries run out; the last image."""
    for _ in range(tries):
        img = dump(vm, name)
        if ok(img):
            break
        time.sleep(0.5)
    return img


@pytest.mark.parametrize("w,h", [(1024, 768), (800, 600)])
def test_vqboot_menu_on_screen(vm_name, w, h):
    """Down moves the highlight bar from the first entry's row to the
    second's; the title bar is row 0; the highlighted row holds text; 'e'
    shows the edit line with its cursor."""
    disk = menu_disk(vm_name, b"timeout 30\n", THREE, FAKE_KERNEL)
    vm = VM(vm_name, disks=[(disk.path, "bootindex=1")], devices=[gpu(w, h)],
            extra=["-vga", "none"])
    with vm:
        vm.run(until=r"Booting the default in \d+ s", timeout=90)
        assert not vm.timed_out, f"no menu on serial; log {vm.log_path}"
        # The screen is flushed just after the serial redraw: poll a little.
        before = wait_screen(vm, "menu-first.ppm", lambda i: menu_ok(i, w, 2))
        vm.type(b"\x1b[B")  # Down
        vm.run_more(until=r"> 2\) Entry b", timeout=30)
        assert not vm.timed_out, f"Down did not move the selection; log {vm.log_path}"
        img = wait_screen(vm, "menu-down.ppm", lambda i: menu_ok(i, w, 3))
        vm.type(b"e")
        vm.run_more(until=r"edit> console=ttyS0", timeout=30)
        assert not vm.timed_out, f"'e' did not open the editor; log {vm.log_path}"
        edit = wait_screen(vm, "menu-edit.ppm", lambda i: edit_ok(i, w, h))
    assert "vgpu" in vm.output and f"scanout 0: {w}x{h}" in vm.output, vm.log_path
    assert img[:2] == (w, h)
    scale, cw, ch = layout(w)
    where = f"{vm.dir}/menu-down.ppm"
    # Title bar: row 0, right of the title text.
    for x in (w - 2, w - cw - 1):
        assert pixel(img, x, ch // 2) == SCREEN_TITLE_BG, f"title bar at ({x},{ch // 2}): {where}"
    assert pixel(img, w - 2, ch + ch // 2) == SCREEN_BG, where
    # Before Down: the first entry (row 2) highlighted, not the second.
    b1, b2 = row_pixels(before, 2, ch), row_pixels(before, 3, ch)
    assert count(b1, SCREEN_HILITE_BG) > len(b1) // 2, f"{vm.dir}/menu-first.ppm"
    assert count(b2, SCREEN_HILITE_BG) == 0, f"{vm.dir}/menu-first.ppm"
    # The countdown/help line (rows - 3) holds text and, being wider than
    # the screen, loses whole help items instead of running off the edge.
    status = (h // ch) - 3
    srow = row_pixels(before, status, ch)
    assert count(srow, SCREEN_FG) > 100, f"no countdown line: {vm.dir}/menu-first.ppm"
    edge = [pixel(before, x, y) for y in range(status * ch, (status + 1) * ch)
            for x in range(w - 2 * cw, w)]
    assert count(edge, SCREEN_FG) == 0, f"status line cut at the edge: {vm.dir}/menu-first.ppm"
    # After: the second entry's row, and text in it.
    first, second = row_pixels(img, 2, ch), row_pixels(img, 3, ch)
    assert count(first, SCREEN_HILITE_BG) == 0, f"first entry still highlighted: {where}"
    assert count(second, SCREEN_HILITE_BG) > len(second) // 2, f"no highlight bar on row 3: {where}"
    text = count(second, SCREEN_HILITE_FG)
    assert text > 10 * scale * scale, f"no text in the highlighted row ({text} px): {where}"
    # Text pixels sit after the one-cell margin, not in it.
    margin = [pixel(img, x, y) for y in range(3 * ch, 4 * ch) for x in range(cw)]
    assert count(margin, SCREEN_HILITE_FG) == 0, where
    # The third entry is drawn, unhighlighted, with foreground text.
    third = row_pixels(img, 4, ch)
    assert count(third, SCREEN_BG) > len(third) // 2 and count(third, SCREEN_HILITE_BG) == 0
    assert edit_ok(edit, w, h), f"no edit line with a cursor: {vm.dir}/menu-edit.ppm"
    disk.assert_unchanged()


def edit_ok(img, w, h):
    """The edit line (rows - 2) holds the command line, and its cursor, a
    SCREEN_FG block one cell wide and 2 * scale high, sits on the row's
    bottom after the text ("console=ttyS0": the cursor at the end, cell 13)."""
    scale, cw, ch = layout(w)
    row = h // ch - 2
    text = count(row_pixels(img, row, ch), SCREEN_FG)
    y = (row + 1) * ch - 1
    cursor = [pixel(img, x, y) for x in range(13 * cw, 14 * cw)]
    return text > 100 and count(cursor, SCREEN_FG) == cw


# Bytes of a "kernel" that is not one, and bytes/s: QEMU lets the first
# 4 MiB request through at once, the loader then reads 8 MiB in one go,
# and the next chunk ends past the 1 s after which an unattended load takes
# the GPU to show its progress (12 MiB took 0.9 s and ended in that read).
BIG_GARBAGE = 24 << 20
THROTTLE = 4 << 20


def progress_seen(img, w, h):
    """The load screen of apps/vqboot/screen.h: text on row 3, a partly filled bar
    on row 5 (x from one cell to w - one cell, 1-pixel SCREEN_FG frame)."""
    scale, cw, ch = layout(w)
    y = 5 * ch + ch // 2
    bar = [pixel(img, x, y) for x in range(cw + 1, w - cw - 1)]
    return pixel(img, cw, y) == SCREEN_FG and pixel(img, w - cw - 1, y) == SCREEN_FG and \
        count(bar, SCREEN_BAR_FG) > 0 and count(bar, SCREEN_BAR_BG) > 0 and \
        count(row_pixels(img, 3, ch), SCREEN_FG) > 50 and \
        count(row_pixels(img, 7, ch), SCREEN_FG) > 50


def test_vqboot_progress_and_error_on_screen(vm_name):
    """A 24 MiB kernel file that is not a PE image, read through a drive
    throttled to 4 MB/s, timeout 0: a load this slow takes the GPU and the
    progress bar fills while it loads;
    then the error is on serial and in SCREEN_ERROR_FG on screen (from
    row 3), and stays there while vqboot holds it before giving the display
    back."""
    entries = {"bad": ("Garbage kernel", "/vmlinuz")}
    garbage = {"/vmlinuz": bytes(range(256)) * (BIG_GARBAGE // 256)}
    disk = menu_disk(vm_name, b"timeout 0\n", entries, garbage)
    drive = (f"throttling.bps-total={THROTTLE}", "bootindex=1")
    vm = VM(vm_name, disks=[(disk.path, drive)], devices=[gpu(1024, 768)],
            extra=["-vga", "none"])
    with vm:
        vm.run(until=r"vqboot: booting bad", timeout=90)
        assert not vm.timed_out, f"vqboot did not start the entry; log {vm.log_path}"
        prog = wait_screen(vm, "progress.ppm", lambda i: progress_seen(i, 1024, 768))
        vm.run_more(until=r"the error stays on screen for \d+ s", timeout=60)
        assert not vm.timed_out, f"no boot error on serial; log {vm.log_path}"
        img = dump(vm, "error.ppm")
        log = vm.run_more(until=r"vqboot: returning to the firmware", timeout=60)
    assert progress_seen(prog, 1024, 768), f"no progress bar: {vm.dir}/progress.ppm"
    assert re.search(r"error: .*/vmlinuz.*neither a PE image", log), vm.log_path
    assert log.index("vgpu") < log.index("neither a PE image"), \
        f"the GPU was not taken while loading; {vm.log_path}"
    assert "error: vqboot: entry bad did not boot" in log, vm.log_path
    scale, cw, ch = layout(1024)
    where = f"{vm.dir}/error.ppm"
    assert img[:2] == (1024, 768)
    area = [pixel(img, x, y) for y in range(3 * ch, min(768, 3 * ch + 8 * 2 * ch))
            for x in range(1024)]
    red = count(area, SCREEN_ERROR_FG)
    assert red > 200, f"no error text on screen ({red} px): {where}"
    above = [pixel(img, x, y) for y in range(ch, 3 * ch) for x in range(1024)]
    assert count(above, SCREEN_ERROR_FG) == 0, where
    assert pixel(img, 1022, ch // 2) == SCREEN_TITLE_BG, where
    disk.assert_unchanged()


def test_vqboot_without_gpu(vm_name):
    """No GPU (-vga none, no virtio-gpu): the menu on serial all the same."""
    disk = menu_disk(vm_name, b"timeout 30\n", THREE, FAKE_KERNEL)
    vm = VM(vm_name, disks=[(disk.path, "bootindex=1")], extra=["-vga", "none"])
    with vm:
        log = vm.run(until=r"Booting the default in \d+ s", timeout=90)
        assert not vm.timed_out, f"no menu on serial; log {vm.log_path}"
        vm.type(b"\x1b[B")
        log = vm.run_more(until=r"> 2\) Entry b", timeout=30)
        assert not vm.timed_out, f"Down did not move the selection; log {vm.log_path}"
    for t in ("1) Entry a", "2) Entry b", "3) Entry c"):
        assert t in log, vm.log_path
    assert "vgpu" not in log, vm.log_path
    disk.assert_unchanged()


def gpu_taken(log):
    """vqboot's driver on the GPU: the scanout line it prints when it takes one."""
    return re.search(r"vgpu \S+: scanout 0: \d+x\d+", log) is not None


def test_vqboot_gpu_left_at_timeout_0(vm_name):
    """timeout 0 with a good default and a virtio-gpu: nobody looks at the
    screen, so vqboot never takes the GPU (no vgpu line, the GPU's PCI
    function never taken), and Linux boots as usual."""
    vmlinuz, _ = kernel()
    files = {"/vmlinuz": vmlinuz, "/initrd.img": busybox_initrd(),
             "/loader/entries/debian.conf":
                 entry("Debian", "/vmlinuz", ["/initrd.img"], CONSOLE + " vq.test=nogpu")}
    disk = menu_disk(vm_name, b"timeout 0\n", {}, files)
    vm = VM(vm_name, disks=[(disk.path, "bootindex=1")], devices=[gpu(1024, 768)],
            extra=["-vga", "none"])
    with vm:
        log = vm.run(until=r"VQ-LINUX: done|reboot: Power down", timeout=150)
    assert not vm.timed_out, f"no Linux; log {vm.log_path}"
    check_linux(vm, log, ["vq.test=nogpu"])
    assert "vqboot: booting debian" in log, vm.log_path
    assert not gpu_taken(log), f"vqboot took the GPU at timeout 0; log {vm.log_path}"
    taken = re.findall(r"pci (\S+): taken from the firmware", log)
    assert len(taken) == 1, f"want the disk alone taken, got {taken}; log {vm.log_path}"
    disk.assert_unchanged()


def test_vqboot_gpu_taken_when_boot_fails(vm_name):
    """timeout 0, the default's kernel is not a PE image (small: no progress
    bar is due): the GPU is taken only after the load failed, and the error
    logged before it was taken is on screen, in SCREEN_ERROR_FG, held."""
    entries = {"bad": ("Garbage kernel", "/vmlinuz")}
    disk = menu_disk(vm_name, b"timeout 0\n", entries, FAKE_KERNEL)
    vm = VM(vm_name, disks=[(disk.path, "bootindex=1")], devices=[gpu(1024, 768)],
            extra=["-vga", "none"])
    with vm:
        vm.run(until=r"the error stays on screen for \d+ s", timeout=90)
        assert not vm.timed_out, f"no boot error on serial; log {vm.log_path}"
        img = dump(vm, "error.ppm")
        log = vm.run_more(until=r"vqboot: returning to the firmware", timeout=60)
    failed = log.index("neither a PE image")
    m = re.search(r"vgpu \S+: scanout 0: 1024x768", log)
    assert m, f"the failed boot did not take the GPU; log {vm.log_path}"
    assert m.start() > failed, f"GPU taken before the boot failed; log {vm.log_path}"
    assert "error: vqboot: entry bad did not boot" in log, vm.log_path
    scale, cw, ch = layout(1024)
    where = f"{vm.dir}/error.ppm"
    assert img[:2] == (1024, 768)
    assert pixel(img, 1022, ch // 2) == SCREEN_TITLE_BG, where
    # Two errors at least (the image's and "did not boot"), each a row of
    # twice-scaled text from row 3 down.
    ech = 2 * ch
    rows = [count([pixel(img, x, y) for y in range(3 * ch + r * ech, 3 * ch + (r + 1) * ech)
                   for x in range(1024)], SCREEN_ERROR_FG) for r in range(6)]
    assert sum(1 for n in rows if n > 100) >= 2, f"errors on screen by row {rows}: {where}"
    assert rows[0] > 100, f"the first error, logged before the GPU was taken, is missing: {where}"
    disk.assert_unchanged()
