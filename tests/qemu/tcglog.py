# SPDX-License-Identifier: MIT
"""A TCG2 crypto-agile event log reader (TCG PC Client Platform Firmware
Profile, "TCG_PCR_EVENT2" format) and its replay into PCR values.

The log begins with one SHA-1-format TCG_PCR_EVENT whose data is the
"Spec ID Event03" structure naming the digest algorithms and sizes; every
later event is {PCRIndex u32, EventType u32, digest count u32, count x
{AlgorithmId u16, digest}, EventSize u32, Event}. Replaying extends each
PCR, starting from zeros, with every digest except EV_NO_ACTION events.
"""
import hashlib
import struct

EV_NO_ACTION = 0x3
EV_EVENT_TAG = 0x6
EV_IPL = 0xD
EV_EFI_BOOT_SERVICES_APPLICATION = 0x80000003

ALGS = {0x0004: "sha1", 0x000B: "sha256", 0x000C: "sha384", 0x000D: "sha512"}


class Event:
    def __init__(self, pcr, type_, digests, data):
        self.pcr, self.type, self.digests, self.data = pcr, type_, digests, data

    def tagged(self):
        """(EventId, description) of an EV_EVENT_TAG event whose data is a
        TCG_PCClientTaggedEvent; the description decoded as UTF-16 when it
        looks like it, ASCII otherwise."""
        tag, size = struct.unpack_from("<II", self.data)
        raw = self.data[8:8 + size]
        return tag, decode_text(raw)

    def __repr__(self):
        return f"Event(pcr={self.pcr}, type=0x{self.type:x}, data={self.data[:40]!r})"


def decode_text(raw):
    if len(raw) >= 2 and raw[1:2] == b"\0":
        return raw.decode("utf-16-le", "replace").rstrip("\0")
    return raw.decode("latin-1").rstrip("\0")


class ParseError(ValueError):
    pass


def _take(data, off, n, what):
    if off + n > len(data):
        raise ParseError(f"event log ends inside {what} at offset {off}")
    return data[off:off + n], off + n


def parse(data):
    """(dict alg name -> digest size, list of Event) from the raw log."""
    hdr, off = _take(data, 0, 32, "the first event")
    pcr, type_ = struct.unpack_from("<II", hdr)
    size, = struct.unpack_from("<I", hdr, 28)
    if type_ != EV_NO_ACTION:
        raise ParseError(f"first event has type 0x{type_:x}, not EV_NO_ACTION")
    spec, off = _take(data, off, size, "the Spec ID event")
    if not spec.startswith(b"Spec ID Event03\0"):
        raise ParseError(f"not a crypto-agile log: {spec[:16]!r}")
    nalgs, = struct.unpack_from("<I", spec, 24)
    sizes = {}
    for i in range(nalgs):
        alg, dsize = struct.unpack_from("<HH", spec, 28 + 4 * i)
        sizes[alg] = dsize
    events = []
    while off + 12 <= len(data):
        pcr, type_, count = struct.unpack_from("<III", data, off)
        if pcr == 0 and type_ == 0 and count == 0:
            break  # zero padding after the last event
        off += 12
        digests = {}
        for _ in range(count):
            raw, off = _take(data, off, 2, "a digest's algorithm")
            alg, = struct.unpack("<H", raw)
            if alg not in sizes:
                raise ParseError(f"digest algorithm 0x{alg:x} not in the Spec ID event")
            digest, off = _take(data, off, sizes[alg], "a digest")
            digests[ALGS.get(alg, f"0x{alg:x}")] = digest
        raw, off = _take(data, off, 4, "an event size")
        esize, = struct.unpack("<I", raw)
        edata, off = _take(data, off, esize, "event data")
        events.append(Event(pcr, type_, digests, edata))
    return {ALGS.get(a, f"0x{a:x}"): s for a, s in sizes.items()}, events


def replay(events, alg="sha256"):
    """PCR index -> value after extending every measured event."""
    size = hashlib.new(alg).digest_size
    pcrs = {}
    for ev in events:
        if ev.type == EV_NO_ACTION:
            # "StartupLocality" sets PCR 0's starting value to the locality.
            if ev.data.startswith(b"StartupLocality\0") and ev.pcr == 0:
                pcrs[0] = bytes(size - 1) + ev.data[16:17]
            continue
        old = pcrs.get(ev.pcr, bytes(size))
        pcrs[ev.pcr] = hashlib.new(alg, old + ev.digests[alg]).digest()
    return pcrs
