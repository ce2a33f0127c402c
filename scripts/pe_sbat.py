# SPDX-License-Identifier: MIT
"""Adds the SBAT data to a PE image as a .sbat section: pe_sbat.py IN CSV OUT.

The aarch64 build makes its PE file with `objcopy -O binary` from an ELF
whose first bytes are gnu-efi's hand-made PE header (binutils 2.40 cannot
convert an aarch64 ELF to PE), so objcopy cannot add a section to it as
scripts/sbat.sh does on x86-64. This appends the data at the end of the
file and one section header after the last, on the first page past every
other section, and grows SizeOfImage to match (PE/COFF specification,
"Section Table"). It refuses a file whose headers leave no room.
"""
import struct
import sys

SCN_INITIALIZED_DATA = 0x00000040
SCN_MEM_READ = 0x40000000
SECTION_HEADER = 40
# gnu-efi's arm64 crt0 fills the rest of its header page with NOPs.
AARCH64_NOP = bytes.fromhex("1f2003d5")


def align(x, a):
    return (x + a - 1) // a * a


def add_sbat(img, data):
    if img[:2] != b"MZ":
        raise ValueError("no MZ header")
    pe = struct.unpack_from("<I", img, 0x3C)[0]
    if img[pe:pe + 4] != b"PE\0\0":
        raise ValueError(f"no PE signature at 0x{pe:x}")
    nsec, = struct.unpack_from("<H", img, pe + 6)
    opt_size, = struct.unpack_from("<H", img, pe + 20)
    opt = pe + 24
    if struct.unpack_from("<H", img, opt)[0] != 0x20B:
        raise ValueError("not PE32+")
    sect_align, file_align = struct.unpack_from("<II", img, opt + 32)
    size_of_headers, = struct.unpack_from("<I", img, opt + 60)
    table = opt + opt_size
    new_hdr = table + nsec * SECTION_HEADER
    if new_hdr + SECTION_HEADER > size_of_headers:
        raise ValueError(f"no room for a section header at 0x{new_hdr:x} "
                         f"(headers end at 0x{size_of_headers:x})")
    slot = img[new_hdr:new_hdr + SECTION_HEADER]
    if any(slot) and slot != AARCH64_NOP * (SECTION_HEADER // 4):
        raise ValueError(f"bytes after the section table at 0x{new_hdr:x} are in use")
    top = 0
    for i in range(nsec):
        vsize, va = struct.unpack_from("<II", img, table + i * SECTION_HEADER + 8)
        top = max(top, va + vsize)
    va = align(top, sect_align)
    raw = align(len(img), file_align)
    raw_size = align(len(data), file_align)
    out = bytearray(img) + bytes(raw - len(img))
    out += data + bytes(raw_size - len(data))
    struct.pack_into("<8sIIIIIIHHI", out, new_hdr, b".sbat", len(data), va,
                     raw_size, raw, 0, 0, 0, 0,
                     SCN_INITIALIZED_DATA | SCN_MEM_READ)
    struct.pack_into("<H", out, pe + 6, nsec + 1)
    struct.pack_into("<I", out, opt + 56, align(va + len(data), sect_align))
    return bytes(out)


def main():
    src, csv, dst = sys.argv[1:4]
    with open(src, "rb") as f:
        img = f.read()
    with open(csv, "rb") as f:
        data = f.read()
    try:
        out = add_sbat(img, data)
    except ValueError as e:
        sys.exit(f"pe_sbat: {src}: {e}")
    with open(dst, "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
