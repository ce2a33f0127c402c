# SPDX-License-Identifier: MIT
# Builds the XFS images tests/unit/test_xfs.c reads, into $1, with Debian's
# xfsprogs and no root: mkfs.xfs -p PROTOFILE populates each filesystem,
# xfs_db -x rewrites block maps where mkfs cannot (fragmented files, holes,
# unwritten extents, extent B+trees of depth 1 and 2) and damages copies,
# and every undamaged image must pass xfs_repair -n.
#
# xfsprogs 6.1 refuses filesystems under 300 MB: the images are 320 MiB
# sparse files holding a few MiB.
#
# Tree (the same in every image):
#   hello.txt                  "hello, xfs\n"
#   empty                      0 bytes
#   boot/vmlinuz-6.1.0-13-amd64   5 MiB + 1234 bytes of the "big" pattern
#   boot/initrd.img-6.1.0-13-amd64  "initrd image\n"
#   vmlinuz -> boot/vmlinuz-6.1.0-13-amd64       (relative, as Debian)
#   initrd.img -> boot/initrd.img-6.1.0-13-amd64
#   abs_link -> /hello.txt
#   chain1 -> chain2 -> sub/chain3 -> ../boot/../hello.txt
#   loop1 -> loop2 -> loop1
#   dirlink -> boot
#   long_link -> ././.../hello.txt   (600 bytes: in blocks unless the inode
#                                      is large)
#   longest_link -> .//.//.../hello.txt (1020 bytes: two blocks at 1 KiB)
#   dangling -> nowhere
#   a/b/c/d/deep.txt           "deep\n"          (short form directories)
#   blockdir/file_00..file_29  "file N\n"        (a block directory)
#   leafdir/file_000..file_299 "file N\n"        (a leaf directory)
#   many/file_00000..file_02499 "file N\n"       (node, with a B+tree map;
#                              none in xfs_64k.img)
#   frag_ext, frag, frag_deep  blocks "<name> block NNNNNN\n" repeated,
#                              remapped after mkfs (see remap())
#   spare                      2 blocks, given to symlinks on v5 (below)
#   collide/<8 characters>     "<name>\n", 400 names with one hash, and
#   collide/n00000..n00599     empty (xfs_v5.img and xfs_v4.img only)
#
# "big" pattern: 32-bit little-endian word i is i * 2654435761 + 12345.
# For each image X, X.facts holds inode numbers, fork formats and block
# addresses the test checks, and X.<file>.expect the content a remapped
# file must read as (computed from xfs_db's own block map).
set -eu
exec /usr/bin/python3 - "$1" <<'PYEOF'
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid

OUT = sys.argv[1]
UUID = "5e1f2a4c-7b3d-4e8a-9c21-0a1b2c3d4e5f"
SIZE = 320 << 20
os.makedirs(OUT, exist_ok=True)
work = tempfile.mkdtemp()


def run(*cmd, ok=(0,)):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode not in ok:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p.stdout


def db(img, cmds, expert=False):
    """Run xfs_db commands from a file; returns what they printed."""
    path = os.path.join(work, "cmds")
    with open(path, "w") as f:
        f.write("\n".join(cmds) + "\n")
    return run("xfs_db", *(["-x"] if expert else ["-r"]), "-c", f"source {path}", img)


# ---- the tree -------------------------------------------------------------

def big_pattern(n):
    import array
    words = array.array("I", ((i * 2654435761 + 12345) & 0xffffffff
                              for i in range(n // 4 + 1)))
    if sys.byteorder != "little":
        words.byteswap()
    return words.tobytes()[:n]


def block_pattern(name, blocks, bs):
    """Block j of a remapped file: "<name> block NNNNNN\\n" repeated."""
    out = bytearray()
    for j in range(blocks):
        line = f"{name} block {j:06d}\n".encode()
        out += (line * (bs // len(line) + 1))[:bs]
    return bytes(out)


def rol32(x, n):
    return ((x << n) | (x >> (32 - n))) & 0xffffffff


NAME_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-."


def colliding_names(n):
    """@n 8-character names with one directory hash (xfs doc §Variable
    Length Record B+trees). The hash of two 4-byte blocks is f(b2) ^
    rol(f(b1), 28), f packing four 7-bit characters into 28 bits: for any
    b1 whose last character has the right low 4 bits there is one b2, and
    some of those are plain characters."""
    rnd, out = __import__("random").Random(7), []
    target = None
    while len(out) < n:
        b1 = bytes(rnd.choice(NAME_CHARS) for _ in range(4))
        f1 = b1[0] << 21 ^ b1[1] << 14 ^ b1[2] << 7 ^ b1[3]
        if target is None:
            target = rol32(f1, 28) ^ 0x0c5a5a5a
        x = target ^ rol32(f1, 28)
        b2 = bytes([x >> 21 & 127, x >> 14 & 127, x >> 7 & 127, x & 127])
        name = (b1 + b2).decode("latin-1")
        if x >> 28 == 0 and all(c in NAME_CHARS for c in b2) and name not in out:
            out.append(name)
    return out


def put(root, rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def make_tree(root, bs, frag_blocks, deep_blocks, many, collide):
    put(root, "hello.txt", b"hello, xfs\n")
    put(root, "empty", b"")
    put(root, "boot/vmlinuz-6.1.0-13-amd64", big_pattern(5 * 1024 * 1024 + 1234))
    put(root, "boot/initrd.img-6.1.0-13-amd64", b"initrd image\n")
    put(root, "a/b/c/d/deep.txt", b"deep\n")
    for d, n, digits in (("blockdir", 30, 2), ("leafdir", 300, 3),
                         ("many", many, 5)):
        for i in range(n):
            put(root, f"{d}/file_{i:0{digits}d}", f"file {i}\n".encode())
    put(root, "frag_ext", block_pattern("frag_ext", 12, bs))
    put(root, "frag", block_pattern("frag", frag_blocks, bs))
    if deep_blocks:
        put(root, "frag_deep", block_pattern("frag_deep", deep_blocks, bs))
    put(root, "spare", block_pattern("spare", 2, bs))
    for i in range(600 if collide else 0):
        put(root, f"collide/n{i:05d}", b"")
    for name in collide:
        put(root, f"collide/{name}", f"{name}\n".encode())
    links = {
        "vmlinuz": "boot/vmlinuz-6.1.0-13-amd64",
        "initrd.img": "boot/initrd.img-6.1.0-13-amd64",
        "abs_link": "/hello.txt",
        "chain1": "chain2", "chain2": "sub/chain3",
        "sub/chain3": "../boot/../hello.txt",
        "loop1": "loop2", "loop2": "loop1",
        "dirlink": "boot",
        "long_link": "./" * 295 + "hello.txt",
        "longest_link": ".//" * 337 + "hello.txt",
        "dangling": "nowhere",
    }
    assert len(links["long_link"]) == 599 and len(links["longest_link"]) == 1020
    for rel, target in links.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)


def proto_lines(path, depth):
    """mkfs.xfs(8) protofile entries for the directory @path."""
    lines = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        ind = "\t" * depth
        if os.path.islink(full):
            lines.append(f"{ind}{name} l--777 0 0 {os.readlink(full)}")
        elif os.path.isdir(full):
            lines.append(f"{ind}{name} d--755 0 0")
            lines += proto_lines(full, depth + 1)
            lines.append(f"{ind}$")
        else:
            lines.append(f"{ind}{name} ---644 0 0 {full}")
    return lines


# ---- looking at an image with xfs_db --------------------------------------

class Image:
    def __init__(self, path):
        self.path = path
        out = db(path, ["sb 0", "p blocksize agblocks agblklog inodesize "
                        "versionnum features_incompat"])
        v = dict(l.split(" = ") for l in out.splitlines() if " = " in l)
        self.bs = int(v["blocksize"])
        self.agblocks = int(v["agblocks"])
        self.agblklog = int(v["agblklog"])
        self.v5 = int(v["versionnum"], 16) & 15 == 5
        self.u = "u3" if self.v5 else "u"

    def ino(self, path):
        """Inode number of @path, walking xfs_db's ls output."""
        ino = None
        parts = [p for p in path.split("/") if p]
        cur = "/"
        for p in parts:
            for line in db(self.path, [f"ls {cur}"]).splitlines():
                f = line.split()
                if len(f) >= 6 and f[-2] == p:
                    ino = int(f[1])
                    break
            else:
                sys.exit(f"{self.path}: no {path}")
            cur = cur.rstrip("/") + "/" + p
        return ino

    def bmap(self, ino):
        """[(file block, fs block, count, unwritten)] from xfs_db."""
        ext = []
        for line in db(self.path, [f"inode {ino}", "bmap"]).splitlines():
            f = line.split()
            if f[:2] == ["data", "offset"]:
                ext.append((int(f[2]), int(f[4]), int(f[7]), int(f[9])))
        return ext

    def iprint(self, ino, *fields):
        out = db(self.path, [f"inode {ino}", "p " + " ".join(fields)])
        return dict(l.split(" = ", 1) for l in out.splitlines() if " = " in l)

    def fsb_byte(self, fsb):
        agno, agbno = fsb >> self.agblklog, fsb & ((1 << self.agblklog) - 1)
        return (agno * self.agblocks + agbno) * self.bs

    def fsb_daddr(self, fsb):
        return self.fsb_byte(fsb) // 512

    def ino_byte(self, ino):
        out = db(self.path, [f"convert inode {ino} byte"])
        return int(out.split()[0], 16)

    def read(self, off, n):
        with open(self.path, "rb") as f:
            f.seek(off)
            return f.read(n)

    def content(self, ino):
        """A file's bytes as xfs_db maps them: holes and unwritten extents
        read as zeros."""
        size = int(self.iprint(ino, "core.size")["core.size"])
        out = bytearray(size)
        for off, fsb, count, flag in self.bmap(ino):
            start = off * self.bs
            if flag or start >= size:
                continue
            data = self.read(self.fsb_byte(fsb), count * self.bs)
            n = min(len(data), size - start)
            out[start:start + n] = data[:n]
        return bytes(out)


def repair_ok(img):
    p = subprocess.run(["xfs_repair", "-n", "-f", img], capture_output=True,
                       text=True)
    if p.returncode != 0:
        sys.exit(f"xfs_repair -n {img} failed:\n{p.stdout}{p.stderr}")


# ---- remapping a file's blocks with xfs_db ---------------------------------

NULLFSB = (1 << 64) - 1


def plan_extents(nblocks, lens, hole_every, unwritten_at):
    """Extents over physical blocks 0..nblocks-1 of the file's original
    extent, in reverse order so that none continues another on disk, with a
    hole after every @hole_every extents and one unwritten extent:
    [(file block, physical index, count, unwritten)]."""
    plan, lblk, phys, i = [], 0, nblocks, 0
    while phys > 0:
        n = min(lens[i % len(lens)], phys)
        phys -= n
        plan.append((lblk, phys, n, 1 if i == unwritten_at else 0))
        lblk += n + (1 if hole_every and i % hole_every == hole_every - 1 else 0)
        i += 1
    return plan


def write_bmx(img, ino, plan, start):
    u = img.u
    cmds = [f"inode {ino}", f"write -d core.nextents {len(plan)}"]
    for i, (lblk, p, n, flag) in enumerate(plan):
        cmds += [f"write -d {u}.bmx[{i}].startoff {lblk}",
                 f"write -d {u}.bmx[{i}].startblock {start + p}",
                 f"write -d {u}.bmx[{i}].blockcount {n}",
                 f"write -d {u}.bmx[{i}].extentflag {flag}"]
    return cmds


def btree_block(img, ino, fsb, level, left, right, entries):
    """One bmbt block (xfs doc §Long Format B+trees), written straight into
    the image: xfs_db's field writes cannot store a null sibling. Leaves
    hold extent records, nodes keys and then pointers after room for all
    keys. xfs_db's block map and xfs_repair check the result."""
    hdr = 72 if img.v5 else 24
    blk = bytearray(img.bs)
    struct.pack_into(">IHHQQ", blk, 0, 0x424d4133 if img.v5 else 0x424d4150,
                     level, len(entries), left, right)
    if img.v5:
        struct.pack_into(">QQ16sQ", blk, 24, img.fsb_daddr(fsb), 0,
                         uuid.UUID(UUID).bytes, ino)
    maxrecs = (img.bs - hdr) // 16
    for i, e in enumerate(entries):
        if level == 0:
            lblk, pblk, n, flag = e
            struct.pack_into(">QQ", blk, hdr + 16 * i,
                             flag << 63 | lblk << 9 | pblk >> 43,
                             (pblk & ((1 << 43) - 1)) << 21 | n)
        else:
            child, key = e
            struct.pack_into(">Q", blk, hdr + 8 * i, key)
            struct.pack_into(">Q", blk, hdr + 8 * maxrecs + 8 * i, child)
    if img.v5:
        struct.pack_into("<I", blk, 64, crc32c(blk))
    with open(img.path, "r+b") as f:
        f.seek(img.fsb_byte(fsb))
        f.write(blk)


def write_btree(img, ino, plan, start, tree_at, per_leaf, per_node):
    """A bmbt built by hand over the extents of @plan: leaves of @per_leaf
    records, then (if @per_node) a level of nodes over @per_node leaves
    each, the root in the inode. Tree blocks are taken from the file's own
    blocks at @tree_at, so space accounting stays right. Returns the inode
    commands and the number of tree blocks."""
    nxt = tree_at
    level = 0
    items = [(l, start + p, n, f) for l, p, n, f in plan]
    per = per_leaf
    while True:
        groups = [items[i:i + per] for i in range(0, len(items), per)]
        blks = list(range(nxt, nxt + len(groups)))
        nxt += len(groups)
        for k, group in enumerate(groups):
            btree_block(img, ino, blks[k], level,
                        blks[k - 1] if k else NULLFSB,
                        blks[k + 1] if k + 1 < len(groups) else NULLFSB, group)
        items = [(blks[k], groups[k][0][0] if level == 0 else groups[k][0][1])
                 for k in range(len(groups))]
        level += 1
        if level == 2 or not per_node:
            break
        per = per_node
    u = img.u
    cmds = [f"inode {ino}", "write -d core.format 3",
            f"write -d core.nextents {len(plan)}",
            f"write -d {u}.bmbt.level {level}",
            f"write -d {u}.bmbt.numrecs {len(items)}"]
    for i, (blk, key) in enumerate(items, 1):
        cmds += [f"write -d {u}.bmbt.keys[{i}].startoff {key}",
                 f"write -d {u}.bmbt.ptrs[{i}] {blk}"]
    return cmds, nxt - tree_at


def remap(img, path, how, **kw):
    """Rewrite the one extent mkfs gave @path: "extents" (a list in the
    inode), "attr" (a list, then an attribute that squeezes the data fork,
    so that libxfs itself converts it to a B+tree) or "btree" (a B+tree
    written here). The size shrinks to the mapped range minus 100 bytes,
    so the last block is partial."""
    ino = img.ino(path)
    (ext,) = img.bmap(ino)
    assert ext[0] == 0 and ext[3] == 0, ext
    start, total = ext[1], ext[2]
    tree = kw.get("tree_blocks", 0)
    plan = plan_extents(total - tree, kw["lens"], kw.get("hole_every", 0),
                        kw.get("unwritten_at", -1))
    end = plan[-1][0] + plan[-1][2]
    if how == "btree":
        cmds, used = write_btree(img, ino, plan, start, start + total - tree,
                                 kw["per_leaf"], kw.get("per_node", 0))
        assert used == tree, (used, tree)
    else:
        cmds = write_bmx(img, ino, plan, start)
    cmds += [f"inode {ino}", f"write -d core.size {end * img.bs - 100}"]
    db(img.path, cmds, expert=True)
    if how == "attr":
        db(img.path, [f"inode {ino}", f"attr_set -v {kw['attr']} user.pad"],
           expert=True)
    got = [(o, b, n, f) for o, b, n, f in img.bmap(ino)]
    want = [(l, start + p, n, f) for l, p, n, f in plan]
    assert got == want, f"{img.path} {path}: xfs_db maps {got[:4]}..., wanted {want[:4]}..."
    return ino


def dir_form(img, ino, fmt):
    """xfs doc §Directories: short form in the inode; block when nothing is
    mapped at the 32 GiB leaf offset; leaf or node by the magic there."""
    if fmt == 1:
        return "sf"
    leaf = (32 << 30) // img.bs
    for off, fsb, n, _ in img.bmap(ino):
        if off <= leaf < off + n:
            magic = img.read(img.fsb_byte(fsb + leaf - off) + 8, 2)
            return {b"\xd2\xf1": "leaf", b"\x3d\xf1": "leaf"}.get(magic, "node")
    return "block"


def da_hash(name):
    """xfs doc §Variable Length Record B+trees: the name hash."""
    h, b = 0, name.encode("latin-1")
    while len(b) >= 4:
        h = b[0] << 21 ^ b[1] << 14 ^ b[2] << 7 ^ b[3] ^ rol32(h, 28)
        b = b[4:]
    for k in range(len(b)):
        h = h if k else rol32(h, 7 * len(b))
        h ^= b[k] << 7 * (len(b) - 1 - k)
    return h


def leaves_ending_with(img, ino, hashval):
    """How many hash leaves (LEAFN) of directory @ino end with @hashval."""
    n, lo, hi = 0, (32 << 30) // img.bs, (64 << 30) // img.bs
    hdr, count_at = (64, 56) if img.v5 else (16, 12)
    for off, fsb, count, _ in img.bmap(ino):
        for k in range(count):
            if not lo <= off + k < hi:
                continue
            blk = img.read(img.fsb_byte(fsb + k), img.bs)
            if blk[8:10] not in (b"\xd2\xff", b"\x3d\xff"):
                continue
            (ents,) = struct.unpack_from(">H", blk, count_at)
            n += ents > 0 and struct.unpack_from(">I", blk, hdr + 8 * ents - 8)[0] == hashval
    return n


def fork(img, ino):
    v = img.iprint(ino, "core.format")
    fmt = int(v["core.format"].split()[0])
    level = 0
    if fmt == 3:
        level = int(img.iprint(ino, f"{img.u}.bmbt.level")[f"{img.u}.bmbt.level"])
    return fmt, level


# ---- v5 symlink blocks ----------------------------------------------------

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32c(data):
    """CRC-32C, the checksum of v5 metadata (the CRC field counted as 0)."""
    crc = 0xffffffff
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


def fix_v5_symlinks(img, tree, names=("long_link", "longest_link"),
                    spare_path="/spare"):
    """mkfs.xfs 6.1 writes a v5 symlink's blocks without their header
    (magic, offset and length of the piece, CRC, UUID, owner, block
    number), which the kernel and xfs_repair refuse. Write them as the
    format wants, one block per extent, taking blocks from /spare where the
    header leaves too little room."""
    spare_ino = img.ino(spare_path)
    spare = [fsb + k for _, fsb, n, _ in img.bmap(spare_ino) for k in range(n)]
    taken = 0
    for name in names:
        ino = img.ino("/" + name)
        if fork(img, ino)[0] != 2:
            continue
        target = os.readlink(os.path.join(tree, name)).encode()
        blocks = [fsb + k for _, fsb, n, _ in img.bmap(ino) for k in range(n)]
        per = img.bs - 56
        need = -(-len(target) // per)
        while len(blocks) < need:
            blocks.append(spare[taken])
            taken += 1
        for k, fsb in enumerate(blocks):
            piece = target[k * per:(k + 1) * per]
            blk = bytearray(struct.pack(">IIII16sQQQ", 0x58534c4d, k * per,
                                        len(piece), 0, uuid.UUID(UUID).bytes,
                                        ino, img.fsb_daddr(fsb), 0) + piece)
            blk += bytes(img.bs - len(blk))
            struct.pack_into("<I", blk, 12, crc32c(blk))
            with open(img.path, "r+b") as f:
                f.seek(img.fsb_byte(fsb))
                f.write(blk)
        cmds = [f"inode {ino}", f"write -d core.nextents {len(blocks)}",
                f"write -d core.nblocks {len(blocks)}"]
        for i, fsb in enumerate(blocks):
            cmds += [f"write -d {img.u}.bmx[{i}].startoff {i}",
                     f"write -d {img.u}.bmx[{i}].startblock {fsb}",
                     f"write -d {img.u}.bmx[{i}].blockcount 1"]
        db(img.path, cmds, expert=True)
    left = spare[taken:]
    cmds = [f"inode {spare_ino}", f"write -d core.nextents {len(left)}",
            f"write -d core.nblocks {len(left)}",
            f"write -d core.size {len(left) * img.bs}"]
    for i, fsb in enumerate(left):
        cmds += [f"write -d {img.u}.bmx[{i}].startoff {i}",
                 f"write -d {img.u}.bmx[{i}].startblock {fsb}",
                 f"write -d {img.u}.bmx[{i}].blockcount 1"]
    db(img.path, cmds, expert=True)


# ---- images ---------------------------------------------------------------

FRAG_LENS = [2, 1, 3, 4]


def mkimg(name, opts, bs=4096, isize=None, deep=None, many=2500, collide=0):
    """mkfs.xfs @opts over the tree, then the remaps; returns the Image."""
    path = os.path.join(OUT, name)
    v5 = "crc=0" not in opts
    isize = isize or (512 if v5 else 256)
    # "frag" gets two extents fewer than its inode's fork holds, then an
    # attribute 24 bytes larger than what is left beside them.
    literal = isize - (176 if v5 else 100)
    nfrag = literal // 16 - 2
    frag_blocks = sum(FRAG_LENS[i % len(FRAG_LENS)] for i in range(nfrag))
    tree = os.path.join(work, name + ".tree")
    shutil.rmtree(tree, ignore_errors=True)
    # All but the last of the colliding names are made; that one must not
    # be found.
    names = colliding_names(collide + 1) if collide else []
    make_tree(tree, bs, frag_blocks, deep["blocks"] if deep else 0, many,
              names[:-1])
    proto = os.path.join(work, name + ".proto")
    with open(proto, "w") as f:
        f.write("/dev/null\n0 0\nd--755 0 0\n")
        f.write("\n".join(proto_lines(tree, 1)) + "\n$\n")
    if os.path.exists(path):
        os.unlink(path)
    with open(path, "wb") as f:
        f.truncate(SIZE)
    # No reverse-map btree: its records would disagree with the remaps.
    run("mkfs.xfs", "-q", "-f", "-L", "vqxfs", "-m", f"uuid={UUID}",
        *(["-m", "rmapbt=0"] if v5 else []), "-b", f"size={bs}",
        "-i", f"size={isize}", *opts, "-p", proto, path)
    img = Image(path)
    assert img.bs == bs and img.v5 == v5
    if v5:
        fix_v5_symlinks(img, tree)
    facts, forms = {}, {}
    ino = remap(img, "/frag_ext", "extents", lens=[1, 2, 3], hole_every=2,
                unwritten_at=3)
    facts["frag_ext"] = (ino,) + fork(img, ino)
    ino = remap(img, "/frag", "attr", lens=FRAG_LENS, hole_every=5,
                unwritten_at=6, attr=literal - nfrag * 16 + 24)
    facts["frag"] = (ino,) + fork(img, ino)
    if deep:
        ino = remap(img, "/frag_deep", "btree", lens=[1], hole_every=50,
                    unwritten_at=77, **deep["tree"])
        facts["frag_deep"] = (ino,) + fork(img, ino)
    repair_ok(path)
    for f in facts:
        with open(f"{path}.{f}.expect", "wb") as out:
            out.write(img.content(facts[f][0]))
    for f in ("a", "blockdir", "leafdir", "many", "long_link", "longest_link",
              "hello.txt"):
        if f == "many" and not many:
            continue
        ino = img.ino("/" + f)
        facts[f] = (ino,) + fork(img, ino)
        if f in ("a", "blockdir", "leafdir", "many"):
            forms[f] = dir_form(img, ino, facts[f][1])
    if collide:
        ino = img.ino("/collide")
        assert dir_form(img, ino, fork(img, ino)[0]) == "node"
        assert len({da_hash(n) for n in names}) == 1
        assert leaves_ending_with(img, ino, da_hash(names[0])) >= 2, \
            "the colliding names do not run from one hash leaf into the next"
        with open(path + ".collide", "w") as out:
            out.write("\n".join(names) + "\n")
    with open(path + ".facts", "w") as out:
        for k, (ino, fmt, level) in facts.items():
            out.write(f"{k} {ino} {fmt} {level}\n")
        out.write(f"many_count {many}\n")
        out.write(f"collide_count {collide}\n")
        for k, form in forms.items():
            out.write(f"form {k} {form}\n")
    # mkfs wrote the log and padding as zeros: give that space back.
    run("cp", "--sparse=always", path, path + ".tmp")
    os.replace(path + ".tmp", path)
    return img


# 400 names with one hash beside 600 others: the hash leaves split in the
# middle of the 400 (checked).
v5 = mkimg("xfs_v5.img", [], collide=400)
mkimg("xfs_v4.img", ["-m", "crc=0", "-n", "ftype=0"], collide=400)
mkimg("xfs_v4_ftype.img", ["-m", "crc=0", "-n", "ftype=1"], isize=512)
# 1 KiB blocks: leaves and nodes hold 59 entries (at least 29 below the
# root): a depth-2 tree of 2 nodes over 60 leaves of 30 extents.
mkimg("xfs_1k.img", [], bs=1024,
      deep={"blocks": 1800 + 62,
            "tree": {"tree_blocks": 62, "per_leaf": 30, "per_node": 30}})
# 512-byte blocks (v4 only): 30 entries, at least 15: 2 nodes over 32
# leaves of 20 extents. Directory blocks stay 4 KiB: 8 blocks each.
mkimg("xfs_512.img", ["-m", "crc=0"], bs=512,
      deep={"blocks": 640 + 34,
            "tree": {"tree_blocks": 34, "per_leaf": 20, "per_node": 16}})
mkimg("xfs_4kn.img", ["-s", "size=4096"])
mkimg("xfs_dir64k.img", ["-n", "size=65536"])
mkimg("xfs_i2048.img", [], isize=2048)
mkimg("xfs_64k.img", [], bs=65536, many=0)
mkimg("xfs_ci.img", ["-n", "version=ci"])
mkimg("xfs_nrext64.img", ["-i", "nrext64=1"])


# ---- fuzzing seeds --------------------------------------------------------
# tests/fuzz/seeds.sh cuts these to their first blocks: every directory
# shape but node, extent lists and a B+tree, local and remote symlinks, all
# in AG 0 and small (long names fill directory blocks with few inodes; file
# data is one block an extent). mkfs puts each new directory in the next AG
# in turn, so empty directories "a0_pad"... take the turns of the other AG.

def mkseed(name, opts, bs, isize, frag=True):
    path = os.path.join(OUT, name)
    tree = os.path.join(work, name + ".tree")
    shutil.rmtree(tree, ignore_errors=True)
    v5 = "crc=0" not in opts
    literal = isize - (176 if v5 else 100)
    nfrag = literal // 16 - 2
    for d in ("a0_pad", "a2_pad", "a4_pad"):
        os.makedirs(os.path.join(tree, d))
    put(tree, "a1_sf/f", b"hi\n")
    for i in range(4):
        put(tree, f"a3_block/file_{i:02d}" + "b" * 100, f"file {i}\n".encode())
    for i in range(24):
        put(tree, f"a5_leaf/entry_{i:02d}" + "l" * 200, b"")
    if frag:
        put(tree, "b_frag", block_pattern("b_frag", nfrag, bs))
    put(tree, "c_frag_ext", block_pattern("c_frag_ext", 6, bs))
    put(tree, "d_hello.txt", b"hello, xfs\n")
    put(tree, "spare", block_pattern("spare", 2, bs))
    os.symlink("a1_sf/f", os.path.join(tree, "e_link"))
    os.symlink("./" * 295 + "d_hello.txt", os.path.join(tree, "f_long_link"))
    proto = os.path.join(work, name + ".proto")
    with open(proto, "w") as f:
        f.write("/dev/null\n0 0\nd--755 0 0\n")
        f.write("\n".join(proto_lines(tree, 1)) + "\n$\n")
    with open(path, "wb") as f:
        f.truncate(SIZE)
    run("mkfs.xfs", "-q", "-f", "-L", "vqseed", "-m", f"uuid={UUID}",
        *(["-m", "rmapbt=0"] if v5 else []), "-b", f"size={bs}",
        "-i", f"size={isize}", "-d", "agcount=2", *opts, "-p", proto, path)
    img = Image(path)
    if v5:
        fix_v5_symlinks(img, tree, ("f_long_link",))
    remap(img, "/c_frag_ext", "extents", lens=[1, 2], hole_every=2,
          unwritten_at=3)
    if frag:
        ino = remap(img, "/b_frag", "attr", lens=[1], hole_every=5,
                    unwritten_at=6, attr=literal - nfrag * 16 + 24)
        assert fork(img, ino) == (3, 1)
    repair_ok(path)
    forms = {}
    for d in ("a1_sf", "a3_block", "a5_leaf"):
        ino = img.ino("/" + d)
        forms[d] = dir_form(img, ino, fork(img, ino)[0])
        # An AG 0 inode number fits in the AG's inode bits.
        assert ino >> (img.agblklog + (img.bs // isize).bit_length() - 1) == 0, d
    assert forms == {"a1_sf": "sf", "a3_block": "block", "a5_leaf": "leaf"}, forms
    run("cp", "--sparse=always", path, path + ".tmp")
    os.replace(path + ".tmp", path)
    # X.head: the bytes up to the last one not zero, in 4 KiB.
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    used = len(data.rstrip(b"\0"))
    assert used < 1 << 20, used
    with open(path + ".head", "w") as f:
        f.write(f"{(used + 4095) // 4096 * 4096}\n")


mkseed("xfs_seed_v5.img", [], 1024, 512)
mkseed("xfs_seed_v4.img", ["-m", "crc=0", "-n", "ftype=0"], 512, 256)
mkseed("xfs_seed_ci.img", ["-n", "version=ci"], 1024, 512)
mkseed("xfs_seed_nrext64.img", ["-i", "nrext64=1"], 1024, 512)
# 4 KiB blocks make a B+tree file large: the other seeds have one.
mkseed("xfs_seed_4kn.img", ["-s", "size=4096"], 4096, 512, frag=False)

# ---- damaged copies -----------------------------------------------------
# xfs_damage.facts names the blocks each damage lands in (disk addresses in
# 512-byte units, as the reader's messages give them).

damage = {}


def copy(src, dst):
    # cp keeps the holes (shutil.copyfile wrote all 320 MiB of each copy).
    subprocess.run(["cp", "--sparse=always", os.path.join(OUT, src),
                    os.path.join(OUT, dst)], check=True)
    img = Image(os.path.join(OUT, dst))
    return img


def poke(img, off, data):
    with open(img.path, "r+b") as f:
        f.seek(off)
        f.write(data)


def flip(img, off):
    poke(img, off, bytes([img.read(off, 1)[0] ^ 0x5a]))


def first_fsb(img, path, fblock=0):
    ino = img.ino(path)
    for off, fsb, n, _ in img.bmap(ino):
        if off <= fblock < off + n:
            return ino, fsb + fblock - off
    sys.exit(f"{path}: no block {fblock}")


def sb_write(img, incompat_or):
    """Set incompatible feature bits, with the superblock CRC redone."""
    sb = bytearray(img.read(0, 512))
    v = struct.unpack_from(">I", sb, 216)[0] | incompat_or
    struct.pack_into(">I", sb, 216, v)
    struct.pack_into("<I", sb, 224, 0)
    struct.pack_into("<I", sb, 224, crc32c(sb))
    poke(img, 0, sb)


# v5: a byte of hello.txt's inode (its mtime): CRC mismatch.
img = copy("xfs_v5.img", "xfs_bad_inode.img")
ino = img.ino("/hello.txt")
flip(img, img.ino_byte(ino) + 0x2c)
damage["bad_inode.ino"] = ino
damage["bad_inode.daddr"] = img.ino_byte(ino) // img.bs * img.bs // 512

# v5: a name in /leafdir's first data block.
img = copy("xfs_v5.img", "xfs_bad_dirblock.img")
ino, fsb = first_fsb(img, "/leafdir")
flip(img, img.fsb_byte(fsb) + 0x100)
damage["bad_dirblock.ino"] = ino
damage["bad_dirblock.daddr"] = img.fsb_daddr(fsb)

# v5: /leafdir's hash leaf (at the 32 GiB offset): lookups fail, listing
# (which reads only data blocks) still works.
img = copy("xfs_v5.img", "xfs_bad_leaf.img")
ino, fsb = first_fsb(img, "/leafdir", (32 << 30) // img.bs)
flip(img, img.fsb_byte(fsb) + 0x80)
damage["bad_leaf.ino"] = ino
damage["bad_leaf.daddr"] = img.fsb_daddr(fsb)

# v5: frag's extent btree leaf.
img = copy("xfs_v5.img", "xfs_bad_bmbt.img")
ino = img.ino("/frag")
ptr = int(img.iprint(ino, "u3.bmbt.ptrs[1]")["u3.bmbt.ptrs[1]"])
flip(img, img.fsb_byte(ptr) + 0x50)
damage["bad_bmbt.ino"] = ino
damage["bad_bmbt.daddr"] = img.fsb_daddr(ptr)

# v5: long_link's block.
img = copy("xfs_v5.img", "xfs_bad_symlink.img")
ino, fsb = first_fsb(img, "/long_link")
flip(img, img.fsb_byte(fsb) + 0x60)
damage["bad_symlink.ino"] = ino
damage["bad_symlink.daddr"] = img.fsb_daddr(fsb)

# v5: /leafdir's first data block copied over its second: a good CRC, but
# the block says it lives elsewhere.
img = copy("xfs_v5.img", "xfs_misplaced.img")
ino, fsb0 = first_fsb(img, "/leafdir", 0)
_, fsb1 = first_fsb(img, "/leafdir", 1)
poke(img, img.fsb_byte(fsb1), img.read(img.fsb_byte(fsb0), img.bs))
damage["misplaced.ino"] = ino
damage["misplaced.daddr"] = img.fsb_daddr(fsb1)
damage["misplaced.claims"] = img.fsb_daddr(fsb0)

# v5 superblock: a byte of the label; then unknown and unread features.
img = copy("xfs_v5.img", "xfs_bad_sb.img")
flip(img, 108)
img = copy("xfs_v5.img", "xfs_bad_feature.img")
sb_write(img, 0x80000100)
img = copy("xfs_v5.img", "xfs_needsrepair.img")
sb_write(img, 0x10)

# v4 (no CRCs): structure checks alone.
img = copy("xfs_v4.img", "xfs_v4_bad_magic.img")
ino, fsb = first_fsb(img, "/leafdir")
poke(img, img.fsb_byte(fsb), b"XXXX")
damage["v4_bad_magic.ino"] = ino
damage["v4_bad_magic.daddr"] = img.fsb_daddr(fsb)

img = copy("xfs_v4.img", "xfs_v4_bad_inode.img")
ino = img.ino("/hello.txt")
poke(img, img.ino_byte(ino), b"XX")
damage["v4_bad_inode.ino"] = ino

# hello.txt's extent (at 100 in a v4 inode) points past the filesystem:
# its 52-bit start block gets the top bits set.
img = copy("xfs_v4.img", "xfs_v4_bad_extent.img")
ino = img.ino("/hello.txt")
poke(img, img.ino_byte(ino) + 100 + 7, b"\x1f")
damage["v4_bad_extent.ino"] = ino

# /a's short form header claims 9 entries (it has 1).
img = copy("xfs_v4.img", "xfs_v4_bad_sf.img")
ino = img.ino("/a")
poke(img, img.ino_byte(ino) + 100, b"\x09")
damage["v4_bad_sf.ino"] = ino

# The filesystem claims more blocks than the image holds; not XFS at all.
img = copy("xfs_v5.img", "xfs_truncated.img")
os.truncate(img.path, 300 << 20)
with open(os.path.join(OUT, "xfs_zero.img"), "wb") as f:
    f.truncate(1 << 20)

with open(os.path.join(OUT, "xfs_damage.facts"), "w") as out:
    for k, v in damage.items():
        out.write(f"{k} {v}\n")

shutil.rmtree(work)
PYEOF
