/* SPDX-License-Identifier: MIT */
/*
 * Read-only XFS: version 5 (metadata CRCs) and version 4.
 *
 * On-disk layout as described in "XFS Algorithms & Data Structures" (the
 * xfs-documentation design document, cited below as "xfs doc §<chapter>"):
 * the superblock in the first sector, allocation groups (AGs) of
 * sb_agblocks blocks, inodes addressed by AG, block and slot, file data
 * mapped by extent records held in the inode or in a B+tree of extent
 * records (bmbt) rooted in it, and directories in five shapes: short form
 * in the inode, one block (entries, hash leaf and tail together), leaf
 * (data blocks and one hash leaf), node (a hash B+tree over leaves) and any
 * of the last three with a bmbt for a map.
 *
 * All metadata is big-endian, CRCs little-endian. On v5 every block read is
 * checked before use: magic, CRC32C, the block number it claims, the
 * filesystem UUID and its owner; a bad one is named ("xfs p2: directory
 * block 0x1234 of inode 131: CRC mismatch", the block as a 512-byte disk
 * address like the kernel's messages and xfs_db's "daddr") and the read
 * fails. Every count, offset and length is checked against the structure
 * that holds it and against the filesystem before use. File data goes from
 * the device straight into the caller's buffer, contiguous runs gathered
 * into one bdev_batch so that fragmented files reach the device as a list
 * of large requests.
 *
 * Not read (refused, or ignored where reading does not depend on it): the
 * journal (never replayed), the realtime device, extended attributes,
 * quotas, the free-space, inode, reverse-map and refcount B+trees, and the
 * features named in XFS_INCOMPAT_READABLE's comment.
 */
#include "boot/fs.h"
#include "lib/crc32c.h"
#include "lib/log.h"
#include "lib/plat.h"

/* ---- on-disk constants ------------------------------------------------- */

/* xfs doc §Superblocks. */
#define XFS_SB_MAGIC 0x58465342u /* "XFSB" */
#define XFS_SB_READ 512          /* enough for every field we use */
#define XFS_SB_CRC_OFF 224
#define XFS_SB_V5_END 264        /* the v5 fields end here */

#define XFS_VERSION_NUMBITS 0x000f
#define XFS_VERSION_4 4
#define XFS_VERSION_5 5
#define XFS_VERSION_SHAREDBIT 0x0200
#define XFS_VERSION_DIRV2BIT 0x2000
#define XFS_VERSION_BORGBIT 0x4000 /* ASCII case-insensitive names */
#define XFS_VERSION_MOREBITSBIT 0x8000

#define XFS_VERSION2_LAZYSBCOUNT 0x0002
#define XFS_VERSION2_ATTR2 0x0008
#define XFS_VERSION2_PARENT 0x0010
#define XFS_VERSION2_PROJID32 0x0080
#define XFS_VERSION2_CRC 0x0100
#define XFS_VERSION2_FTYPE 0x0200
/* sb_features2 bits a v4 filesystem may carry and we read. */
#define XFS_VERSION2_READABLE                                            \
	(XFS_VERSION2_LAZYSBCOUNT | XFS_VERSION2_ATTR2 |                 \
	 XFS_VERSION2_PROJID32 | XFS_VERSION2_FTYPE)

#define XFS_INCOMPAT_FTYPE 0x0001
#define XFS_INCOMPAT_SPINODES 0x0002
#define XFS_INCOMPAT_META_UUID 0x0004
#define XFS_INCOMPAT_BIGTIME 0x0008
#define XFS_INCOMPAT_NEEDSREPAIR 0x0010
#define XFS_INCOMPAT_NREXT64 0x0020
#define XFS_INCOMPAT_EXCHRANGE 0x0040
#define XFS_INCOMPAT_PARENT 0x0080
#define XFS_INCOMPAT_METADIR 0x0100
#define XFS_INCOMPAT_ZONED 0x0200
#define XFS_INCOMPAT_ZONE_GAPS 0x0400

/*
 * v5 incompatible features a reader can follow: file types in directory
 * entries, sparse inode chunks (only the inode B+trees change), a metadata
 * UUID (what blocks are stamped with), large timestamps, 64-bit extent
 * counters (an inode field moves), exchange-range and parent pointers (log
 * items and attributes, which we do not read). Refused: needsrepair (an
 * interrupted xfs_repair left it inconsistent), metadir, zoned and
 * zone-gaps (metadata directory tree and realtime groups, not read here),
 * and every bit not known.
 */
#define XFS_INCOMPAT_READABLE                                             \
	(XFS_INCOMPAT_FTYPE | XFS_INCOMPAT_SPINODES |                     \
	 XFS_INCOMPAT_META_UUID | XFS_INCOMPAT_BIGTIME |                  \
	 XFS_INCOMPAT_NREXT64 | XFS_INCOMPAT_EXCHRANGE | XFS_INCOMPAT_PARENT)

/* xfs doc §Superblocks: limits mkfs and the kernel keep to. */
#define XFS_MIN_BLOCKLOG 9
#define XFS_MAX_BLOCKLOG 16
#define XFS_MIN_SECTLOG 9
#define XFS_MAX_SECTLOG 15
#define XFS_MIN_INODELOG 8
#define XFS_MAX_INODELOG 11
#define XFS_MIN_AG_BLOCKS 64
#define XFS_MAX_DIRBLOCK_LOG 16

/* xfs doc §On-disk Inode. */
#define XFS_DINODE_MAGIC 0x494e /* "IN" */
#define XFS_DINODE_V2_CORE 100  /* literal area of v1/v2 inodes */
#define XFS_DINODE_V3_CORE 176  /* and of v3 inodes */
#define XFS_DINODE_CRC_OFF 100
#define XFS_FORK_MAX ((1 << XFS_MAX_INODELOG) - XFS_DINODE_V2_CORE)

#define XFS_DINODE_FMT_LOCAL 1
#define XFS_DINODE_FMT_EXTENTS 2
#define XFS_DINODE_FMT_BTREE 3

#define XFS_DIFLAG_REALTIME 0x0001
#define XFS_DIFLAG2_NREXT64 0x0010

#define XFS_S_IFMT 0xF000
#define XFS_S_IFLNK 0xA000
#define XFS_S_IFREG 0x8000
#define XFS_S_IFDIR 0x4000

/* xfs doc §Data Extents: a 128-bit record; 54-bit file offsets. */
#define XFS_BMBT_REC_SIZE 16
#define XFS_BMBT_MAX_OFF ((uint64_t)1 << 54)
#define XFS_BMAP_MAGIC 0x424d4150u     /* "BMAP" */
#define XFS_BMAP_CRC_MAGIC 0x424d4133u /* "BMA3" */
#define XFS_BTREE_LBLOCK_LEN 24
#define XFS_BTREE_LBLOCK_CRC_LEN 72
#define XFS_BMDR_HDR 4
/* Far more than 2^48 extents need with the smallest blocks. */
#define XFS_BMAP_MAX_LEVELS 16

/* xfs doc §Directories. */
#define XFS_DIR2_BLOCK_MAGIC 0x58443242u /* "XD2B" */
#define XFS_DIR3_BLOCK_MAGIC 0x58444233u /* "XDB3" */
#define XFS_DIR2_DATA_MAGIC 0x58443244u  /* "XD2D" */
#define XFS_DIR3_DATA_MAGIC 0x58444433u  /* "XDD3" */
#define XFS_DIR2_LEAF1_MAGIC 0xd2f1
#define XFS_DIR3_LEAF1_MAGIC 0x3df1
#define XFS_DIR2_LEAFN_MAGIC 0xd2ff
#define XFS_DIR3_LEAFN_MAGIC 0x3dff
#define XFS_DA_NODE_MAGIC 0xfebe
#define XFS_DA3_NODE_MAGIC 0x3ebe
#define XFS_DIR2_DATA_HDR 16
#define XFS_DIR3_DATA_HDR 64
#define XFS_DIR2_LEAF_HDR 16
#define XFS_DIR3_LEAF_HDR 64
#define XFS_DA_NODE_HDR 16
#define XFS_DA3_NODE_HDR 64
#define XFS_DIR2_BLOCK_TAIL 8
#define XFS_DIR2_LEAF_TAIL 4
#define XFS_DIR2_LEAF_ENTRY 8
#define XFS_DA_NODE_ENTRY 8
#define XFS_DIR2_FREE_TAG 0xffff
#define XFS_DIR2_DATA_ALIGN 8
#define XFS_DA_NODE_MAXDEPTH 5
/* The data section ends and the leaf section starts at 32 GiB. */
#define XFS_DIR2_LEAF_OFFSET ((uint64_t)32 << 30)
#define XFS_DIR2_FREE_OFFSET ((uint64_t)64 << 30)
/* Hash collisions never fill more leaves than this. */
#define XFS_DIR_MAX_LEAF_HOPS 1024

/* xfs doc §Symbolic Links. */
#define XFS_SYMLINK_MAGIC 0x58534c4du /* "XSLM" */
#define XFS_SYMLINK_HDR 56
#define XFS_SYMLINK_MAXLEN 1024

/* Linux's limits: MAXSYMLINKS is 40, PATH_MAX 4096. */
#define XFS_MAX_SYMLINK_HOPS 40
#define XFS_PATH_MAX 4096
#define XFS_NAME_MAX 255

/* Where the self-describing fields of a v5 block sit (byte offsets). */
struct xfs_v5_layout {
	uint16_t crc, blkno, uuid, owner;
};

/* xfs doc §Block Directories (xfs_dir3_blk_hdr), §Block Headers
 * (xfs_da3_blkinfo), §Long Format B+trees, §Extent Symbolic Links. */
static const struct xfs_v5_layout xfs_dir3_hdr = { 4, 8, 24, 40 };
static const struct xfs_v5_layout xfs_da3_hdr = { 12, 16, 32, 48 };
static const struct xfs_v5_layout xfs_bmbt3_hdr = { 64, 24, 40, 56 };
static const struct xfs_v5_layout xfs_symlink3_hdr = { 12, 40, 16, 32 };

/* ---- in-memory state ---------------------------------------------------- */

struct xfs_inode {
	uint64_t ino;
	uint64_t daddr;      /* of the inode's block, for messages */
	uint16_t mode;
	uint8_t format;
	uint16_t flags;
	uint64_t size;
	uint64_t nextents;
	uint32_t fork_size;  /* bytes of the data fork in the inode */
	uint8_t fork[XFS_FORK_MAX];
};

struct xfs_fs {
	struct fs base;
	uint32_t block_size;
	uint32_t blocklog;
	uint32_t sect_size;
	uint64_t dblocks;
	uint32_t agblocks;
	uint32_t agblklog;
	uint32_t agcount;
	uint32_t inode_size;
	uint32_t inodelog;
	uint32_t inopblog;
	uint64_t rootino;
	uint32_t dirblklog;  /* log2 of fs blocks per directory block */
	uint32_t dirblk_size;
	bool v5;
	bool ftype;          /* directory entries carry a file type byte */
	bool ascii_ci;
	uint8_t meta_uuid[16];
	struct xfs_inode root; /* read at mount: every path starts there */
	uint8_t ibuf[1 << XFS_MAX_INODELOG]; /* one raw inode */
};

/* An open inode, with one cached bmbt block per tree level. */
struct xfs_file {
	struct xfs_fs *fs;
	struct xfs_inode inode;
	uint64_t cache_blk[XFS_BMAP_MAX_LEVELS]; /* linear block + 1; 0 empty */
	uint8_t *cache_buf[XFS_BMAP_MAX_LEVELS];
};

enum xfs_run_kind {
	XFS_RUN_DATA,
	XFS_RUN_HOLE,
	XFS_RUN_UNWRITTEN,
};

/* File blocks mapped to consecutive disk blocks, or to nothing. */
struct xfs_run {
	enum xfs_run_kind kind;
	uint64_t lin; /* linear block number (AG * agblocks + AG block) */
	uint64_t len; /* blocks, at least 1 */
};

static struct xfs_fs *to_xfs_fs(struct fs *fs)
{
	return (struct xfs_fs *)fs;
}

static struct xfs_file *to_xfs_file(struct fs_file *f)
{
	return (struct xfs_file *)f;
}

static const char *xfs_dev(const struct xfs_fs *fs)
{
	return fs->base.bd->name;
}

static bool xfs_is_dir(const struct xfs_inode *inode)
{
	return (inode->mode & XFS_S_IFMT) == XFS_S_IFDIR;
}

static bool xfs_is_reg(const struct xfs_inode *inode)
{
	return (inode->mode & XFS_S_IFMT) == XFS_S_IFREG;
}

static bool xfs_is_symlink(const struct xfs_inode *inode)
{
	return (inode->mode & XFS_S_IFMT) == XFS_S_IFLNK;
}

/* ---- big-endian fields and checks shared by every block ----------------- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((uint32_t)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* xfs doc §Metadata Integrity: CRC32C of the whole block with its own CRC
 * field counted as zero, stored little-endian. */
static bool xfs_crc_ok(const uint8_t *buf, size_t len, size_t off)
{
	static const uint8_t zero[4];
	uint32_t c = crc32c_update(~0u, buf, off);

	c = crc32c_update(c, zero, sizeof(zero));
	c = crc32c_update(c, buf + off + 4, len - off - 4);
	return ~c == get_le32(buf + off);
}

/* Disk address (512-byte units from the start of the filesystem) of a
 * linear block: what v5 blocks record as their own number. */
static uint64_t xfs_daddr(const struct xfs_fs *fs, uint64_t lin)
{
	return lin << (fs->blocklog - 9);
}

static int xfs_bad_block(const struct xfs_fs *fs, const char *what,
			 uint64_t daddr, uint64_t ino, const char *why)
{
	return log_err(-VQ_ECORRUPT, "xfs %s: %s block 0x%llx of inode %llu: %s",
		       xfs_dev(fs), what, (unsigned long long)daddr,
		       (unsigned long long)ino, why);
}

/*
 * The v5 self-describing fields of a @len-byte block read from @daddr and
 * owned by inode @ino: CRC first (a torn or rotten block), then the block
 * number it claims (a misdirected write), the filesystem it belongs to and
 * its owner.
 */
static int xfs_check_v5(const struct xfs_fs *fs, const char *what,
			const struct xfs_v5_layout *l, const uint8_t *buf,
			size_t len, uint64_t daddr, uint64_t ino)
{
	if (!xfs_crc_ok(buf, len, l->crc))
		return xfs_bad_block(fs, what, daddr, ino, "CRC mismatch");
	if (be64(buf + l->blkno) != daddr)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: %s block 0x%llx of inode %llu claims to "
			       "be block 0x%llx",
			       xfs_dev(fs), what, (unsigned long long)daddr,
			       (unsigned long long)ino,
			       (unsigned long long)be64(buf + l->blkno));
	if (memcmp(buf + l->uuid, fs->meta_uuid, sizeof(fs->meta_uuid)))
		return xfs_bad_block(fs, what, daddr, ino,
				     "UUID of another filesystem");
	if (be64(buf + l->owner) != ino)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: %s block 0x%llx of inode %llu is owned "
			       "by inode %llu",
			       xfs_dev(fs), what, (unsigned long long)daddr,
			       (unsigned long long)ino,
			       (unsigned long long)be64(buf + l->owner));
	return 0;
}

/* ---- addresses ------------------------------------------------------------ */

/*
 * xfs doc §Data Extents: a filesystem block number is the AG number above
 * sb_agblklog bits of AG block. Check that @count blocks from @fsb stay in
 * one AG and in the filesystem; the linear number is AG * agblocks + block.
 */
static int xfs_fsb_to_lin(const struct xfs_fs *fs, uint64_t ino,
			  const char *what, uint64_t fsb, uint64_t count,
			  uint64_t *ret)
{
	uint64_t agno = fsb >> fs->agblklog;
	uint64_t agbno = fsb & (((uint64_t)1 << fs->agblklog) - 1);
	uint64_t lin = agno * fs->agblocks + agbno;

	if (agno >= fs->agcount || agbno >= fs->agblocks ||
	    count > fs->agblocks - agbno || lin >= fs->dblocks ||
	    count > fs->dblocks - lin)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: inode %llu %s at block 0x%llx (%llu "
			       "blocks) outside the filesystem (%u AGs of %u "
			       "blocks)",
			       xfs_dev(fs), (unsigned long long)ino, what,
			       (unsigned long long)fsb,
			       (unsigned long long)count, fs->agcount,
			       fs->agblocks);
	*ret = lin;
	return 0;
}

/*
 * xfs doc §Inode Numbers: AG number, then AG block, then the slot in the
 * block. The byte offset of inode @ino, or -VQ_ECORRUPT.
 */
static int xfs_ino_offset(const struct xfs_fs *fs, uint64_t ino,
			  uint64_t *ret)
{
	uint32_t agino_bits = fs->agblklog + fs->inopblog;
	uint64_t agno = ino >> agino_bits;
	uint64_t agino = ino & (((uint64_t)1 << agino_bits) - 1);
	uint64_t agbno = agino >> fs->inopblog;
	uint64_t lin = agno * fs->agblocks + agbno;

	if (ino == 0 || agno >= fs->agcount || agbno >= fs->agblocks ||
	    lin >= fs->dblocks)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: inode number %llu outside the "
			       "filesystem",
			       xfs_dev(fs), (unsigned long long)ino);
	*ret = (lin << fs->blocklog) +
	       ((agino & ((1u << fs->inopblog) - 1)) << fs->inodelog);
	return 0;
}

/* ---- inodes ------------------------------------------------------------- */

static int xfs_bad_inode(const struct xfs_fs *fs, const struct xfs_inode *in,
			 const char *why)
{
	return log_err(-VQ_ECORRUPT, "xfs %s: inode %llu (block 0x%llx): %s",
		       xfs_dev(fs), (unsigned long long)in->ino,
		       (unsigned long long)in->daddr, why);
}

/* The core's checks that do not depend on the inode's type. */
static int xfs_check_dinode(const struct xfs_fs *fs, const uint8_t *d,
			    const struct xfs_inode *in)
{
	uint8_t version = d[4];

	if (be16(d) != XFS_DINODE_MAGIC)
		return xfs_bad_inode(fs, in, "bad magic");
	if (fs->v5 ? version != 3 : version != 1 && version != 2)
		return xfs_bad_inode(fs, in, "unexpected inode version");
	if (!fs->v5)
		return 0;
	if (!xfs_crc_ok(d, fs->inode_size, XFS_DINODE_CRC_OFF))
		return xfs_bad_inode(fs, in, "CRC mismatch");
	if (be64(d + 152) != in->ino)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: inode %llu (block 0x%llx) claims to be "
			       "inode %llu",
			       xfs_dev(fs), (unsigned long long)in->ino,
			       (unsigned long long)in->daddr,
			       (unsigned long long)be64(d + 152));
	if (memcmp(d + 160, fs->meta_uuid, sizeof(fs->meta_uuid)))
		return xfs_bad_inode(fs, in, "UUID of another filesystem");
	return 0;
}

/* Data fork geometry, format and extent count. */
static int xfs_parse_fork(const struct xfs_fs *fs, const uint8_t *d,
			  struct xfs_inode *in)
{
	uint32_t core = fs->v5 ? XFS_DINODE_V3_CORE : XFS_DINODE_V2_CORE;
	uint32_t literal = fs->inode_size - core;
	uint32_t forkoff = (uint32_t)d[82] * 8;
	uint64_t flags2 = fs->v5 ? be64(d + 120) : 0;

	if (forkoff >= literal)
		return xfs_bad_inode(fs, in, "attribute fork offset past the "
					     "inode");
	in->fork_size = forkoff ? forkoff : literal;
	in->format = d[5];
	in->nextents = (flags2 & XFS_DIFLAG2_NREXT64) ? be64(d + 24) :
							 be32(d + 76);
	if (in->format == XFS_DINODE_FMT_EXTENTS &&
	    in->nextents > in->fork_size / XFS_BMBT_REC_SIZE)
		return xfs_bad_inode(fs, in, "more extents than its fork holds");
	memcpy(in->fork, d + core, in->fork_size);
	return 0;
}

/* Formats a reader meets: local data only for directories and symlinks,
 * extent maps for all three, a bmbt for files and directories. */
static int xfs_check_format(const struct xfs_fs *fs, const struct xfs_inode *in)
{
	bool ok;

	switch (in->format) {
	case XFS_DINODE_FMT_LOCAL:
		ok = xfs_is_dir(in) || xfs_is_symlink(in);
		break;
	case XFS_DINODE_FMT_EXTENTS:
		ok = true;
		break;
	case XFS_DINODE_FMT_BTREE:
		ok = !xfs_is_symlink(in);
		break;
	default:
		/* Devices and the like: nothing to read, but listable. */
		ok = !xfs_is_dir(in) && !xfs_is_reg(in) && !xfs_is_symlink(in);
		break;
	}
	if (!ok)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: inode %llu (block 0x%llx): data fork "
			       "format %u for mode 0%o",
			       xfs_dev(fs), (unsigned long long)in->ino,
			       (unsigned long long)in->daddr, in->format,
			       in->mode);
	return 0;
}

static int xfs_read_inode(struct xfs_fs *fs, uint64_t ino,
			  struct xfs_inode *ret)
{
	const uint8_t *d = fs->ibuf;
	uint64_t off = 0;
	int r;

	r = xfs_ino_offset(fs, ino, &off);
	if (r < 0)
		return r;
	ret->ino = ino;
	ret->daddr = (off >> fs->blocklog) << (fs->blocklog - 9);
	r = bdev_read(fs->base.bd, off, fs->ibuf, fs->inode_size);
	if (r < 0)
		return r;
	r = xfs_check_dinode(fs, d, ret);
	if (r < 0)
		return r;
	ret->mode = be16(d + 2);
	ret->flags = be16(d + 90);
	ret->size = be64(d + 56);
	if (ret->size > INT64_MAX)
		return xfs_bad_inode(fs, ret, "negative size");
	r = xfs_parse_fork(fs, d, ret);
	if (r == 0)
		r = xfs_check_format(fs, ret);
	return r;
}

/* ---- block mapping -------------------------------------------------------- */

struct xfs_ext {
	uint64_t off, fsb, len;
	bool unwritten;
};

/* xfs doc §Data Extents: flag (1 bit), file offset (54), block (52),
 * length (21), most significant first. */
static void xfs_ext_decode(const uint8_t *rec, struct xfs_ext *ret)
{
	uint64_t l0 = be64(rec), l1 = be64(rec + 8);

	ret->unwritten = l0 >> 63;
	ret->off = (l0 >> 9) & (XFS_BMBT_MAX_OFF - 1);
	ret->fsb = (l0 & 0x1ff) << 43 | l1 >> 21;
	ret->len = l1 & ((1u << 21) - 1);
}

/* The file offset that entry @i of @base starts at: a bmbt key (8 bytes,
 * the offset itself) or an extent record (16 bytes, the offset in bits
 * 62..9 of the first half). Keys past the 54-bit range are clamped there,
 * which the callers' ordering checks then refuse. */
static uint64_t xfs_entry_off(const uint8_t *base, unsigned i, bool rec)
{
	uint64_t v;

	if (rec)
		return (be64(base + (size_t)i * XFS_BMBT_REC_SIZE) >> 9) &
		       (XFS_BMBT_MAX_OFF - 1);
	v = be64(base + (size_t)i * 8);
	return VQ_MIN(v, XFS_BMBT_MAX_OFF);
}

/* Index of the last of @n entries starting at or before @off, or -1. A
 * binary search: on a corrupt, unsorted node it still ends, and the caller
 * checks what it finds. */
static int xfs_find(const uint8_t *base, unsigned n, bool rec, uint64_t off)
{
	int lo = 0, hi = (int)n - 1, found = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (xfs_entry_off(base, (unsigned)mid, rec) <= off) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

/* Where the entry after @i starts; @limit when @i is the last. */
static uint64_t xfs_next_off(const uint8_t *base, unsigned n, bool rec,
			     int i, uint64_t limit)
{
	if (i + 1 >= (int)n)
		return limit;
	return VQ_MIN(xfs_entry_off(base, (unsigned)(i + 1), rec), limit);
}

/*
 * The run at file block @lblk from @n extent records (sorted by offset),
 * none of which may reach @limit (the next key above them in the tree, or
 * the end of the offset space).
 */
static int xfs_ext_run(const struct xfs_file *f, const uint8_t *recs,
		       unsigned n, uint64_t lblk, uint64_t limit,
		       struct xfs_run *ret)
{
	int i = xfs_find(recs, n, true, lblk);
	uint64_t next = xfs_next_off(recs, n, true, i, limit);
	struct xfs_ext e;
	uint64_t lin = 0;
	int r;

	if (next <= lblk)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: inode %llu extents out of order near "
			       "file block %llu",
			       xfs_dev(f->fs), (unsigned long long)f->inode.ino,
			       (unsigned long long)lblk);
	ret->kind = XFS_RUN_HOLE;
	ret->len = next - lblk;
	if (i < 0)
		return 0;
	xfs_ext_decode(recs + (size_t)i * XFS_BMBT_REC_SIZE, &e);
	if (e.len == 0 || e.len > next - e.off)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: inode %llu extent at file block %llu "
			       "of %llu blocks overlaps the next",
			       xfs_dev(f->fs), (unsigned long long)f->inode.ino,
			       (unsigned long long)e.off,
			       (unsigned long long)e.len);
	r = xfs_fsb_to_lin(f->fs, f->inode.ino, "extent", e.fsb, e.len, &lin);
	if (r < 0)
		return r;
	if (lblk - e.off >= e.len) {
		/* Past this extent: a hole up to the next one. */
		ret->len = next - lblk;
		return 0;
	}
	ret->kind = e.unwritten ? XFS_RUN_UNWRITTEN : XFS_RUN_DATA;
	ret->lin = lin + (lblk - e.off);
	ret->len = e.len - (lblk - e.off);
	return 0;
}

/* A bmbt node or leaf below the root, checked: magic, the level its parent
 * expects, its record count, and on v5 the self-describing fields. */
static int xfs_bmbt_check(const struct xfs_file *f, const uint8_t *blk,
			  uint64_t daddr, unsigned level, unsigned *ret_n)
{
	const struct xfs_fs *fs = f->fs;
	uint32_t hdr = fs->v5 ? XFS_BTREE_LBLOCK_CRC_LEN : XFS_BTREE_LBLOCK_LEN;
	unsigned max = (fs->block_size - hdr) / XFS_BMBT_REC_SIZE;
	uint64_t ino = f->inode.ino;
	unsigned n;
	int r;

	if (be32(blk) != (fs->v5 ? XFS_BMAP_CRC_MAGIC : XFS_BMAP_MAGIC))
		return xfs_bad_block(fs, "extent btree", daddr, ino, "bad magic");
	if (fs->v5) {
		r = xfs_check_v5(fs, "extent btree", &xfs_bmbt3_hdr, blk,
				 fs->block_size, daddr, ino);
		if (r < 0)
			return r;
	}
	if (be16(blk + 4) != level)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: extent btree block 0x%llx of inode %llu "
			       "at level %u, its parent expects %u",
			       xfs_dev(fs), (unsigned long long)daddr,
			       (unsigned long long)ino, be16(blk + 4), level);
	n = be16(blk + 6);
	if (n == 0 || n > max)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: extent btree block 0x%llx of inode %llu "
			       "has %u records, room for %u",
			       xfs_dev(fs), (unsigned long long)daddr,
			       (unsigned long long)ino, n, max);
	*ret_n = n;
	return 0;
}

/* Load the bmbt block at @fsb, expected at @level, through the cache. */
static int xfs_bmbt_load(struct xfs_file *f, uint64_t fsb, unsigned level,
			 const uint8_t **ret, unsigned *ret_n)
{
	struct xfs_fs *fs = f->fs;
	uint64_t lin = 0;
	int r;

	r = xfs_fsb_to_lin(fs, f->inode.ino, "extent btree block", fsb, 1, &lin);
	if (r < 0)
		return r;
	if (!f->cache_buf[level]) {
		f->cache_buf[level] = plat_alloc(fs->block_size);
		if (!f->cache_buf[level])
			return log_err(-VQ_ENOMEM,
				       "xfs: no memory for a %u-byte extent "
				       "btree block",
				       fs->block_size);
	}
	if (f->cache_blk[level] != lin + 1) {
		f->cache_blk[level] = 0;
		r = bdev_read(fs->base.bd, lin << fs->blocklog,
			      f->cache_buf[level], fs->block_size);
		if (r < 0)
			return r;
		r = xfs_bmbt_check(f, f->cache_buf[level], xfs_daddr(fs, lin),
				   level, ret_n);
		if (r < 0)
			return r;
		f->cache_blk[level] = lin + 1;
	}
	*ret = f->cache_buf[level];
	*ret_n = be16(f->cache_buf[level] + 6);
	return 0;
}

/*
 * xfs doc §B+tree Extent List: from the root in the inode (level, count,
 * keys, then pointers after room for all the keys the fork holds) down to
 * the leaf covering @lblk. Each level must be one below its parent, so the
 * walk ends after at most XFS_BMAP_MAX_LEVELS blocks.
 */
static int xfs_bmbt_map(struct xfs_file *f, uint64_t lblk, struct xfs_run *ret)
{
	const struct xfs_fs *fs = f->fs;
	const uint8_t *keys = f->inode.fork + XFS_BMDR_HDR, *blk = NULL;
	unsigned level = be16(f->inode.fork);
	unsigned n = be16(f->inode.fork + 2);
	unsigned max = (f->inode.fork_size - XFS_BMDR_HDR) / XFS_BMBT_REC_SIZE;
	uint32_t hdr = fs->v5 ? XFS_BTREE_LBLOCK_CRC_LEN : XFS_BTREE_LBLOCK_LEN;
	uint64_t limit = XFS_BMBT_MAX_OFF;
	const uint8_t *ptrs = keys + (size_t)max * 8;
	int r;

	if (level == 0 || level >= XFS_BMAP_MAX_LEVELS || n == 0 || n > max)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: inode %llu extent btree root at level "
			       "%u with %u records, room for %u",
			       xfs_dev(fs), (unsigned long long)f->inode.ino,
			       level, n, max);
	for (;;) {
		int i = xfs_find(keys, n, false, lblk);
		uint64_t next = xfs_next_off(keys, n, false, i, limit);

		if (next <= lblk)
			return log_err(-VQ_ECORRUPT,
				       "xfs %s: inode %llu extent btree keys out "
				       "of order near file block %llu",
				       xfs_dev(fs),
				       (unsigned long long)f->inode.ino,
				       (unsigned long long)lblk);
		if (i < 0) {
			/* Before the first subtree: a hole. */
			ret->kind = XFS_RUN_HOLE;
			ret->len = next - lblk;
			return 0;
		}
		level--;
		r = xfs_bmbt_load(f, be64(ptrs + (size_t)i * 8), level, &blk, &n);
		if (r < 0)
			return r;
		if (level == 0)
			return xfs_ext_run(f, blk + hdr, n, lblk, next, ret);
		max = (fs->block_size - hdr) / XFS_BMBT_REC_SIZE;
		keys = blk + hdr;
		ptrs = keys + (size_t)max * 8;
		limit = next;
	}
}

/* The run at file block @lblk, one extent (or hole) at most. */
static int xfs_map(struct xfs_file *f, uint64_t lblk, struct xfs_run *ret)
{
	if (lblk >= XFS_BMBT_MAX_OFF)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: inode %llu file block %llu beyond the "
			       "offset range",
			       xfs_dev(f->fs), (unsigned long long)f->inode.ino,
			       (unsigned long long)lblk);
	switch (f->inode.format) {
	case XFS_DINODE_FMT_EXTENTS:
		return xfs_ext_run(f, f->inode.fork, (unsigned)f->inode.nextents,
				   lblk, XFS_BMBT_MAX_OFF, ret);
	case XFS_DINODE_FMT_BTREE:
		return xfs_bmbt_map(f, lblk, ret);
	default:
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: inode %llu has no block map (format %u)",
			       xfs_dev(f->fs), (unsigned long long)f->inode.ino,
			       f->inode.format);
	}
}

static bool xfs_runs_join(const struct xfs_run *a, const struct xfs_run *b)
{
	if (a->kind == XFS_RUN_DATA)
		return b->kind == XFS_RUN_DATA && b->lin == a->lin + a->len;
	return b->kind != XFS_RUN_DATA;
}

/* The longest run from @lblk, up to @max blocks, merging extents that
 * continue each other on disk (or all read as zeros). */
static int xfs_run_at(struct xfs_file *f, uint64_t lblk, uint64_t max,
		      struct xfs_run *ret)
{
	struct xfs_run run, next;
	int r;

	r = xfs_map(f, lblk, &run);
	if (r < 0)
		return r;
	run.len = VQ_MIN(run.len, max);
	while (run.len < max) {
		r = xfs_map(f, lblk + run.len, &next);
		if (r < 0)
			return r;
		if (!xfs_runs_join(&run, &next))
			break;
		if (run.kind != XFS_RUN_DATA)
			run.kind = XFS_RUN_HOLE;
		run.len += VQ_MIN(next.len, max - run.len);
	}
	*ret = run;
	return 0;
}

/* ---- file data ---------------------------------------------------------- */

static void xfs_file_init(struct xfs_file *f, struct xfs_fs *fs,
			  const struct xfs_inode *inode)
{
	memset(f, 0, sizeof(*f));
	f->fs = fs;
	f->inode = *inode;
}

static void xfs_file_release(struct xfs_file *f)
{
	/* Blocks read into: kept if the disk would not stop. */
	for (unsigned i = 0; i < XFS_BMAP_MAX_LEVELS; i++) {
		bdev_free(f->fs->base.bd, f->cache_buf[i]);
		f->cache_buf[i] = NULL;
		f->cache_blk[i] = 0;
	}
}

/* Read a range already checked against the size. Holes and unwritten
 * extents read as zeros; extents go to the device together. */
static int xfs_read_data(struct xfs_file *f, uint64_t offset, uint8_t *buf,
			 size_t len)
{
	struct xfs_fs *fs = f->fs;
	uint32_t bs = fs->block_size;
	struct bdev_batch batch;
	int r = 0;

	bdev_batch_init(&batch, fs->base.bd);
	while (len > 0 && !r) {
		uint64_t lblk = offset >> fs->blocklog;
		uint32_t in = (uint32_t)(offset & (bs - 1));
		uint64_t want = ((uint64_t)in + len + bs - 1) >> fs->blocklog;
		struct xfs_run run;
		size_t n;

		r = xfs_run_at(f, lblk, want, &run);
		if (r < 0)
			break;
		n = (size_t)VQ_MIN((run.len << fs->blocklog) - in, (uint64_t)len);
		if (run.kind != XFS_RUN_DATA)
			memset(buf, 0, n);
		else
			r = bdev_batch_add(&batch, (run.lin << fs->blocklog) + in,
					   buf, n);
		buf += n;
		offset += n;
		len -= n;
	}
	/* Nothing was sent yet for the gathered pieces: an error drops them. */
	return r ? r : bdev_batch_flush(&batch);
}

static int xfs_read_checked(struct xfs_file *f, uint64_t offset, void *buf,
			    size_t len)
{
	uint64_t size = f->inode.size;

	if (offset > size || len > size - offset)
		return log_err(-VQ_ERANGE,
			       "xfs %s: inode %llu: %zu bytes at %llu pass the "
			       "end (%llu bytes)",
			       xfs_dev(f->fs), (unsigned long long)f->inode.ino,
			       len, (unsigned long long)offset,
			       (unsigned long long)size);
	return xfs_read_data(f, offset, buf, len);
}

/* ---- directory blocks ---------------------------------------------------- */

typedef int (*xfs_dirent_fn)(void *ctx, uint64_t ino, const char *name,
			     size_t name_len);

static uint64_t xfs_dir_leaf_blk(const struct xfs_fs *fs)
{
	return XFS_DIR2_LEAF_OFFSET >> fs->blocklog;
}

/*
 * Read directory block @dablk (a file block, the first of 2^dirblklog) of
 * @dir into @buf. A directory block wholly unmapped is a hole (*@ret_hole);
 * one partly mapped, or unwritten, is damage. *@ret_daddr is where the
 * block starts on disk, what a v5 block records as its number.
 */
static int xfs_dir_read(struct xfs_file *dir, uint64_t dablk, uint8_t *buf,
			uint64_t *ret_daddr, bool *ret_hole)
{
	struct xfs_fs *fs = dir->fs;
	uint64_t nfsb = (uint64_t)1 << fs->dirblklog, done = 0;
	struct bdev_batch batch;
	int r = 0;

	bdev_batch_init(&batch, fs->base.bd);
	*ret_hole = false;
	while (done < nfsb && !r) {
		struct xfs_run run;

		r = xfs_map(dir, dablk + done, &run);
		if (r < 0)
			return r;
		if (run.kind == XFS_RUN_HOLE && done == 0 && run.len >= nfsb) {
			*ret_hole = true;
			return 0;
		}
		if (run.kind != XFS_RUN_DATA)
			return log_err(-VQ_ECORRUPT,
				       "xfs %s: directory inode %llu block %llu "
				       "is partly %s",
				       xfs_dev(fs),
				       (unsigned long long)dir->inode.ino,
				       (unsigned long long)dablk,
				       run.kind == XFS_RUN_HOLE ? "a hole" :
								  "unwritten");
		run.len = VQ_MIN(run.len, nfsb - done);
		if (done == 0)
			*ret_daddr = xfs_daddr(fs, run.lin);
		r = bdev_batch_add(&batch, run.lin << fs->blocklog,
				   buf + (done << fs->blocklog),
				   (size_t)run.len << fs->blocklog);
		done += run.len;
	}
	return r ? r : bdev_batch_flush(&batch);
}

static int xfs_bad_dir_block(const struct xfs_file *dir, uint64_t daddr,
			     const char *why)
{
	return xfs_bad_block(dir->fs, "directory", daddr, dir->inode.ino, why);
}

static uint32_t xfs_data_hdr(const struct xfs_fs *fs)
{
	return fs->v5 ? XFS_DIR3_DATA_HDR : XFS_DIR2_DATA_HDR;
}

/*
 * xfs doc §Block Directories, §Leaf Directories: a data block (or the one
 * block of a block directory, whose hash leaf and tail end it). Checks the
 * header and returns where the entries end.
 */
static int xfs_dir_data_check(const struct xfs_file *dir, const uint8_t *blk,
			      uint64_t daddr, bool block, uint32_t *ret_end)
{
	const struct xfs_fs *fs = dir->fs;
	uint32_t want, end = fs->dirblk_size, hdr = xfs_data_hdr(fs), count;
	int r;

	if (block)
		want = fs->v5 ? XFS_DIR3_BLOCK_MAGIC : XFS_DIR2_BLOCK_MAGIC;
	else
		want = fs->v5 ? XFS_DIR3_DATA_MAGIC : XFS_DIR2_DATA_MAGIC;
	if (be32(blk) != want)
		return xfs_bad_dir_block(dir, daddr,
					 block ? "bad magic for a block "
						 "directory" :
						 "bad magic for a data block");
	if (fs->v5) {
		r = xfs_check_v5(fs, "directory", &xfs_dir3_hdr, blk,
				 fs->dirblk_size, daddr, dir->inode.ino);
		if (r < 0)
			return r;
	}
	if (block) {
		count = be32(blk + end - XFS_DIR2_BLOCK_TAIL);
		if (count > (end - hdr - XFS_DIR2_BLOCK_TAIL) / XFS_DIR2_LEAF_ENTRY)
			return xfs_bad_dir_block(dir, daddr,
						 "leaf count larger than the "
						 "block");
		end -= XFS_DIR2_BLOCK_TAIL + count * XFS_DIR2_LEAF_ENTRY;
	}
	*ret_end = end;
	return 0;
}

/* One record of a data block: an entry or unused space. */
struct xfs_dirent {
	bool used;
	uint32_t size;
	uint64_t ino;
	const char *name;
	uint8_t name_len;
};

static int xfs_bad_dirent(const struct xfs_file *dir, uint64_t daddr,
			  uint32_t pos, const char *why)
{
	return log_err(-VQ_ECORRUPT,
		       "xfs %s: directory block 0x%llx of inode %llu: entry at "
		       "0x%x %s",
		       xfs_dev(dir->fs), (unsigned long long)daddr,
		       (unsigned long long)dir->inode.ino, pos, why);
}

static bool xfs_name_ok(const char *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (name[i] == '\0' || name[i] == '/')
			return false;
	return true;
}

/*
 * xfs doc §Block Directories: the record at @pos, before @end. Unused space
 * starts with 0xffff and its length; an entry is the inode number, the name
 * length, the name, the file type (with ftype) and a tag, padded to 8
 * bytes. Both end with a tag holding their own offset.
 */
static int xfs_dirent_at(const struct xfs_file *dir, const uint8_t *blk,
			 uint32_t pos, uint32_t end, uint64_t daddr,
			 struct xfs_dirent *ret)
{
	uint32_t room = end - pos, size;

	if (room < XFS_DIR2_DATA_ALIGN || pos % XFS_DIR2_DATA_ALIGN)
		return xfs_bad_dirent(dir, daddr, pos, "runs past the entries");
	ret->used = be16(blk + pos) != XFS_DIR2_FREE_TAG;
	if (ret->used) {
		/* The smallest entry: a one-byte name, padded to 16. */
		if (room < 2 * XFS_DIR2_DATA_ALIGN)
			return xfs_bad_dirent(dir, daddr, pos,
					      "runs past the entries");
		ret->ino = be64(blk + pos);
		ret->name_len = blk[pos + 8];
		ret->name = (const char *)blk + pos + 9;
		size = VQ_ALIGN_UP(9u + ret->name_len + dir->fs->ftype + 2,
				   (uint32_t)XFS_DIR2_DATA_ALIGN);
		if (ret->name_len == 0)
			return xfs_bad_dirent(dir, daddr, pos, "has no name");
	} else {
		size = be16(blk + pos + 2);
		if (size < XFS_DIR2_DATA_ALIGN || size % XFS_DIR2_DATA_ALIGN)
			return xfs_bad_dirent(dir, daddr, pos,
					      "is unused space of a bad length");
	}
	if (size > room)
		return xfs_bad_dirent(dir, daddr, pos, "runs past the entries");
	if (be16(blk + pos + size - 2) != pos)
		return xfs_bad_dirent(dir, daddr, pos, "has a wrong tag");
	if (ret->used && !xfs_name_ok(ret->name, ret->name_len))
		return xfs_bad_dirent(dir, daddr, pos, "has '/' or NUL in its "
						       "name");
	ret->size = size;
	return 0;
}

/* Call @fn (if any: else only check) on every entry between the header and
 * @end. */
static int xfs_dir_entries(const struct xfs_file *dir, const uint8_t *blk,
			   uint32_t end, uint64_t daddr, xfs_dirent_fn fn,
			   void *ctx)
{
	for (uint32_t pos = xfs_data_hdr(dir->fs); pos < end;) {
		struct xfs_dirent e;
		int r = xfs_dirent_at(dir, blk, pos, end, daddr, &e);

		if (r < 0)
			return r;
		if (e.used && fn) {
			r = fn(ctx, e.ino, e.name, e.name_len);
			if (r)
				return r;
		}
		pos += e.size;
	}
	return 0;
}

/* ---- short form directories ---------------------------------------------- */

static uint64_t xfs_sf_ino(const uint8_t *p, uint32_t isize)
{
	return isize == 8 ? be64(p) : be32(p);
}

/*
 * xfs doc §Short Form Directories: in the inode, a count, whether inode
 * numbers take 8 bytes, the parent, then entries (name length, offset tag,
 * name, file type with ftype, inode number) filling exactly di_size bytes.
 * "." is not stored; ".." is the parent. The whole area is checked before
 * the first entry is used, with @fn NULL.
 */
static int xfs_sf_entries(const struct xfs_fs *fs, const struct xfs_inode *dir,
			  xfs_dirent_fn fn, void *ctx)
{
	const uint8_t *sf = dir->fork;
	uint32_t isize = sf[1] ? 8 : 4, size = (uint32_t)dir->size;
	uint32_t pos = 2 + isize;

	for (unsigned i = 0; i < sf[0]; i++) {
		uint32_t len = pos + 3 <= size ? sf[pos] : 0;
		uint32_t entsize = 3 + len + fs->ftype + isize;
		const char *name = (const char *)sf + pos + 3;
		int r;

		if (len == 0 || entsize > size - pos || !xfs_name_ok(name, len))
			return log_err(-VQ_ECORRUPT,
				       "xfs %s: short form directory inode %llu "
				       "entry %u at %u is damaged",
				       xfs_dev(fs), (unsigned long long)dir->ino,
				       i, pos);
		if (fn) {
			r = fn(ctx, xfs_sf_ino(sf + pos + entsize - isize, isize),
			       name, len);
			if (r)
				return r;
		}
		pos += entsize;
	}
	if (pos != size)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: short form directory inode %llu: %u "
			       "entries end at %u of %u bytes",
			       xfs_dev(fs), (unsigned long long)dir->ino, sf[0],
			       pos, size);
	return 0;
}

static int xfs_sf_walk(const struct xfs_fs *fs, const struct xfs_inode *dir,
		       xfs_dirent_fn fn, void *ctx, uint64_t *ret_parent)
{
	uint32_t isize = dir->fork[1] ? 8 : 4;
	int r;

	if (dir->size > dir->fork_size || dir->size < 2 + isize)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: short form directory inode %llu of %llu "
			       "bytes, its fork holds %u",
			       xfs_dev(fs), (unsigned long long)dir->ino,
			       (unsigned long long)dir->size, dir->fork_size);
	r = xfs_sf_entries(fs, dir, NULL, NULL);
	if (r < 0)
		return r;
	*ret_parent = xfs_sf_ino(dir->fork + 2, isize);
	return xfs_sf_entries(fs, dir, fn, ctx);
}

/* ---- listing ------------------------------------------------------------- */

/* Whether a directory in extents or btree format is a block directory:
 * it then maps nothing at the leaf offset (xfs doc §Leaf Directories). */
static int xfs_dir_is_block(struct xfs_file *dir, bool *ret)
{
	struct xfs_run run;
	int r = xfs_map(dir, xfs_dir_leaf_blk(dir->fs), &run);

	if (r == 0)
		*ret = run.kind == XFS_RUN_HOLE;
	return r;
}

static int xfs_dir_check_size(const struct xfs_file *dir, bool block)
{
	const struct xfs_fs *fs = dir->fs;
	uint64_t size = dir->inode.size;

	if (block ? size != fs->dirblk_size :
		    size == 0 || size % fs->dirblk_size ||
			    size > XFS_DIR2_LEAF_OFFSET)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: %s directory inode %llu of %llu bytes "
			       "(directory blocks of %u)",
			       xfs_dev(fs), block ? "block" : "leaf or node",
			       (unsigned long long)dir->inode.ino,
			       (unsigned long long)size, fs->dirblk_size);
	return 0;
}

/* The data blocks of a leaf or node directory: every block of the data
 * section that is mapped (freed blocks leave holes). */
static int xfs_dir_walk_data(struct xfs_file *dir, uint8_t *buf,
			     xfs_dirent_fn fn, void *ctx)
{
	const struct xfs_fs *fs = dir->fs;
	uint64_t nfsb = (uint64_t)1 << fs->dirblklog;
	uint64_t end = dir->inode.size >> fs->blocklog;
	int r = 0;

	for (uint64_t dablk = 0; dablk < end && r == 0; dablk += nfsb) {
		uint64_t daddr = 0;
		uint32_t stop = 0;
		bool hole = false;
		struct xfs_run run;

		/* Skip long holes without reading block by block. */
		r = xfs_map(dir, dablk, &run);
		if (r == 0 && run.kind == XFS_RUN_HOLE && run.len > nfsb) {
			dablk += (run.len & ~(nfsb - 1)) - nfsb;
			continue;
		}
		if (r == 0)
			r = xfs_dir_read(dir, dablk, buf, &daddr, &hole);
		if (r < 0 || hole)
			continue;
		r = xfs_dir_data_check(dir, buf, daddr, false, &stop);
		if (r == 0)
			r = xfs_dir_entries(dir, buf, stop, daddr, fn, ctx);
	}
	return r;
}

static int xfs_dir_walk_blocks(struct xfs_file *dir, xfs_dirent_fn fn,
			       void *ctx)
{
	uint8_t *buf;
	uint64_t daddr = 0;
	uint32_t end = 0;
	bool block = false, hole = false;
	int r;

	r = xfs_dir_is_block(dir, &block);
	if (r == 0)
		r = xfs_dir_check_size(dir, block);
	if (r < 0)
		return r;
	buf = plat_alloc(dir->fs->dirblk_size);
	if (!buf)
		return log_err(-VQ_ENOMEM, "xfs: no memory for a directory block");
	if (!block) {
		r = xfs_dir_walk_data(dir, buf, fn, ctx);
		goto out;
	}
	r = xfs_dir_read(dir, 0, buf, &daddr, &hole);
	if (r == 0 && hole)
		r = log_err(-VQ_ECORRUPT,
			    "xfs %s: block directory inode %llu has no block",
			    xfs_dev(dir->fs), (unsigned long long)dir->inode.ino);
	if (r == 0)
		r = xfs_dir_data_check(dir, buf, daddr, true, &end);
	if (r == 0)
		r = xfs_dir_entries(dir, buf, end, daddr, fn, ctx);
out:
	bdev_free(dir->fs->base.bd, buf);
	return r;
}

/* Every entry of a directory, "." and ".." included where stored. */
static int xfs_dir_walk(struct xfs_fs *fs, const struct xfs_inode *inode,
			xfs_dirent_fn fn, void *ctx)
{
	struct xfs_file *dir;
	uint64_t parent;
	int r;

	if (inode->format == XFS_DINODE_FMT_LOCAL)
		return xfs_sf_walk(fs, inode, fn, ctx, &parent);
	dir = plat_alloc(sizeof(*dir));
	if (!dir)
		return log_err(-VQ_ENOMEM, "xfs: no memory for a directory");
	xfs_file_init(dir, fs, inode);
	r = xfs_dir_walk_blocks(dir, fn, ctx);
	xfs_file_release(dir);
	plat_free(dir);
	return r;
}

/* ---- hashed lookups ------------------------------------------------------ */

static uint8_t xfs_fold(uint8_t c, bool ci)
{
	return ci && c >= 'A' && c <= 'Z' ? (uint8_t)(c ^ 0x20) : c;
}

static uint32_t xfs_rol32(uint32_t x, unsigned n)
{
	return x << n | x >> (32 - n);
}

/* xfs doc §Variable Length Record B+trees: the name hash, four bytes a
 * round; ASCII case-insensitive filesystems hash the lower-case name. */
static uint32_t xfs_da_hash(const char *name, size_t len, bool ci)
{
	const uint8_t *p = (const uint8_t *)name;
	uint32_t h = 0;

	for (; len >= 4; len -= 4, p += 4)
		h = (uint32_t)xfs_fold(p[0], ci) << 21 ^
		    (uint32_t)xfs_fold(p[1], ci) << 14 ^
		    (uint32_t)xfs_fold(p[2], ci) << 7 ^ xfs_fold(p[3], ci) ^
		    xfs_rol32(h, 28);
	switch (len) {
	case 3:
		return (uint32_t)xfs_fold(p[0], ci) << 14 ^
		       (uint32_t)xfs_fold(p[1], ci) << 7 ^ xfs_fold(p[2], ci) ^
		       xfs_rol32(h, 21);
	case 2:
		return (uint32_t)xfs_fold(p[0], ci) << 7 ^ xfs_fold(p[1], ci) ^
		       xfs_rol32(h, 14);
	case 1:
		return xfs_fold(p[0], ci) ^ xfs_rol32(h, 7);
	default:
		return h;
	}
}

static bool xfs_name_eq(const char *a, const char *b, size_t len, bool ci)
{
	for (size_t i = 0; i < len; i++)
		if (xfs_fold((uint8_t)a[i], ci) != xfs_fold((uint8_t)b[i], ci))
			return false;
	return true;
}

/* A lookup in progress: the name, the directory and two block buffers,
 * one for hash leaves and nodes and one for the data block last read. */
struct xfs_lookup {
	struct xfs_file dir;
	const char *name;
	size_t len;
	uint32_t hash;
	bool block;          /* a block directory */
	uint8_t *leaf;
	uint8_t *data;
	uint64_t data_blk;   /* dablk + 1 of the data block held; 0 none */
	uint64_t data_daddr;
	uint32_t data_end;
	uint64_t ino;        /* the match, or 0 */
	uint64_t ci_ino;     /* a case-insensitive match (ascii-ci only) */
};

/* Compare @name with the entry leaf address @addr points at (xfs doc
 * §Block Directories: the entry's directory byte offset over 8). */
static int xfs_lookup_addr(struct xfs_lookup *l, uint32_t addr)
{
	struct xfs_fs *fs = l->dir.fs;
	uint64_t byte = (uint64_t)addr * XFS_DIR2_DATA_ALIGN;
	uint64_t dablk = (byte >> fs->blocklog) & ~(((uint64_t)1 << fs->dirblklog) - 1);
	uint32_t off = (uint32_t)(byte & (fs->dirblk_size - 1));
	struct xfs_dirent e;
	bool hole = false;
	int r;

	if (byte >= XFS_DIR2_LEAF_OFFSET || (l->block && dablk != 0))
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: directory inode %llu hash leaf points "
			       "outside its data (address 0x%x)",
			       xfs_dev(fs), (unsigned long long)l->dir.inode.ino,
			       addr);
	if (l->data_blk != dablk + 1) {
		l->data_blk = 0;
		r = xfs_dir_read(&l->dir, dablk, l->data, &l->data_daddr, &hole);
		if (r == 0 && hole)
			r = log_err(-VQ_ECORRUPT,
				    "xfs %s: directory inode %llu hash leaf "
				    "points into a hole (address 0x%x)",
				    xfs_dev(fs),
				    (unsigned long long)l->dir.inode.ino, addr);
		if (r == 0)
			r = xfs_dir_data_check(&l->dir, l->data, l->data_daddr,
					       l->block, &l->data_end);
		/* The whole block, not just the entry looked for. */
		if (r == 0)
			r = xfs_dir_entries(&l->dir, l->data, l->data_end,
					    l->data_daddr, NULL, NULL);
		if (r < 0)
			return r;
		l->data_blk = dablk + 1;
	}
	if (off < xfs_data_hdr(fs) || off >= l->data_end)
		return xfs_bad_dirent(&l->dir, l->data_daddr, off,
				      "named by the hash leaf is outside the "
				      "entries");
	r = xfs_dirent_at(&l->dir, l->data, off, l->data_end, l->data_daddr, &e);
	if (r < 0)
		return r;
	if (!e.used)
		return xfs_bad_dirent(&l->dir, l->data_daddr, off,
				      "named by the hash leaf is unused space");
	if (e.name_len != l->len ||
	    !xfs_name_eq(e.name, l->name, l->len, fs->ascii_ci))
		return 0;
	if (!fs->ascii_ci || !memcmp(e.name, l->name, l->len)) {
		l->ino = e.ino;
		return 1;
	}
	if (!l->ci_ino)
		l->ci_ino = e.ino;
	return 0;
}

static uint32_t xfs_leaf_hash(const uint8_t *ents, unsigned i)
{
	return be32(ents + (size_t)i * XFS_DIR2_LEAF_ENTRY);
}

/*
 * Try every entry of the sorted hash leaf @ents (@n entries) carrying the
 * name's hash; 1 when found. *@ret_more: the last entry still carried it,
 * so the next leaf may too.
 */
static int xfs_lookup_leaf(struct xfs_lookup *l, const uint8_t *ents,
			   unsigned n, bool *ret_more)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (xfs_leaf_hash(ents, mid) < l->hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && xfs_leaf_hash(ents, lo) == l->hash; lo++) {
		uint32_t addr = be32(ents + (size_t)lo * XFS_DIR2_LEAF_ENTRY + 4);
		int r;

		if (addr == 0) /* a stale entry */
			continue;
		r = xfs_lookup_addr(l, addr);
		if (r)
			return r;
	}
	*ret_more = n > 0 && lo == n && xfs_leaf_hash(ents, n - 1) == l->hash;
	return 0;
}

/* Binary searches need sorted hashes: the first 4 bytes of each entry. */
static bool xfs_hashes_sorted(const uint8_t *ents, unsigned n, size_t stride)
{
	for (unsigned i = 1; i < n; i++)
		if (be32(ents + (size_t)i * stride) <
		    be32(ents + (size_t)(i - 1) * stride))
			return false;
	return true;
}

static int xfs_bad_leaf(const struct xfs_lookup *l, uint64_t daddr,
			const char *why)
{
	return xfs_bad_block(l->dir.fs, "directory leaf", daddr,
			     l->dir.inode.ino, why);
}

/* The block directory's hash leaf sits before its tail. */
static int xfs_lookup_block(struct xfs_lookup *l)
{
	uint64_t daddr = 0;
	uint32_t end = 0;
	bool hole = false, more;
	int r;

	r = xfs_dir_read(&l->dir, 0, l->data, &daddr, &hole);
	if (r == 0 && hole)
		r = log_err(-VQ_ECORRUPT,
			    "xfs %s: block directory inode %llu has no block",
			    xfs_dev(l->dir.fs), (unsigned long long)l->dir.inode.ino);
	if (r == 0)
		r = xfs_dir_data_check(&l->dir, l->data, daddr, true, &end);
	if (r < 0)
		return r;
	r = xfs_dir_entries(&l->dir, l->data, end, daddr, NULL, NULL);
	if (r < 0)
		return r;
	l->data_blk = 1;
	l->data_daddr = daddr;
	l->data_end = end;
	return xfs_lookup_leaf(l, l->data + end,
			       be32(l->data + l->dir.fs->dirblk_size -
				    XFS_DIR2_BLOCK_TAIL),
			       &more);
}

/* Read a leaf or node block at @dablk (in the leaf section) into l->leaf;
 * returns its magic. */
static int xfs_lookup_read_leaf(struct xfs_lookup *l, uint64_t dablk,
				uint64_t *ret_daddr, uint16_t *ret_magic)
{
	const struct xfs_fs *fs = l->dir.fs;
	bool hole = false;
	int r;

	if (dablk < xfs_dir_leaf_blk(fs) ||
	    dablk >= XFS_DIR2_FREE_OFFSET >> fs->blocklog ||
	    dablk & (((uint64_t)1 << fs->dirblklog) - 1))
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: directory inode %llu hash tree points "
			       "at block %llu, outside its leaf section",
			       xfs_dev(fs), (unsigned long long)l->dir.inode.ino,
			       (unsigned long long)dablk);
	r = xfs_dir_read(&l->dir, dablk, l->leaf, ret_daddr, &hole);
	if (r == 0 && hole)
		r = log_err(-VQ_ECORRUPT,
			    "xfs %s: directory inode %llu hash tree block %llu "
			    "is a hole",
			    xfs_dev(fs), (unsigned long long)l->dir.inode.ino,
			    (unsigned long long)dablk);
	if (r < 0)
		return r;
	*ret_magic = be16(l->leaf + 8);
	if (fs->v5)
		r = xfs_check_v5(fs, "directory leaf", &xfs_da3_hdr, l->leaf,
				 fs->dirblk_size, *ret_daddr, l->dir.inode.ino);
	return r;
}

/*
 * xfs doc §Leaf Directories, §Node Directories: a leaf's entries after its
 * header; a single leaf (LEAF1) ends with the best-free array and its
 * count, a node directory's leaves (LEAFN) fill the block.
 */
static int xfs_leaf_entries(const struct xfs_lookup *l, uint64_t daddr,
			    bool leaf1, unsigned *ret_n)
{
	const struct xfs_fs *fs = l->dir.fs;
	uint32_t hdr = fs->v5 ? XFS_DIR3_LEAF_HDR : XFS_DIR2_LEAF_HDR;
	uint32_t end = fs->dirblk_size;
	unsigned n = be16(l->leaf + (fs->v5 ? 56 : 12));

	if (leaf1) {
		uint32_t bests = be32(l->leaf + end - XFS_DIR2_LEAF_TAIL);

		if (bests > (end - hdr - XFS_DIR2_LEAF_TAIL) / 2)
			return xfs_bad_leaf(l, daddr, "best-free count larger "
						      "than the block");
		end -= XFS_DIR2_LEAF_TAIL + bests * 2;
	}
	if (n > (end - hdr) / XFS_DIR2_LEAF_ENTRY)
		return xfs_bad_leaf(l, daddr, "more entries than the block "
					      "holds");
	if (!xfs_hashes_sorted(l->leaf + hdr, n, XFS_DIR2_LEAF_ENTRY))
		return xfs_bad_leaf(l, daddr, "hashes out of order");
	*ret_n = n;
	return 0;
}

/* The child of node l->leaf to descend into: the first entry whose hash is
 * at least the name's, else the last. @want is the level the node must be
 * at (-1 for the root); returns the node's level. */
static int xfs_node_child(const struct xfs_lookup *l, uint64_t daddr,
			  int want, uint64_t *ret)
{
	const struct xfs_fs *fs = l->dir.fs;
	uint32_t hdr = fs->v5 ? XFS_DA3_NODE_HDR : XFS_DA_NODE_HDR;
	unsigned n = be16(l->leaf + (fs->v5 ? 56 : 12));
	unsigned level = be16(l->leaf + (fs->v5 ? 58 : 14));
	const uint8_t *ents = l->leaf + hdr;
	unsigned lo = 0, hi;

	if (n == 0 || n > (fs->dirblk_size - hdr) / XFS_DA_NODE_ENTRY)
		return xfs_bad_leaf(l, daddr, "node entry count out of range");
	if (!xfs_hashes_sorted(ents, n, XFS_DA_NODE_ENTRY))
		return xfs_bad_leaf(l, daddr, "node hashes out of order");
	if (level == 0 || level > XFS_DA_NODE_MAXDEPTH ||
	    (want >= 0 && level != (unsigned)want))
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: directory leaf block 0x%llx of inode "
			       "%llu: node at level %u, its parent expects %d",
			       xfs_dev(fs), (unsigned long long)daddr,
			       (unsigned long long)l->dir.inode.ino, level, want);
	hi = n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (be32(ents + (size_t)mid * XFS_DA_NODE_ENTRY) < l->hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == n)
		lo = n - 1;
	*ret = be32(ents + (size_t)lo * XFS_DA_NODE_ENTRY + 4);
	return (int)level;
}

/*
 * From the hash tree's root at the leaf offset down to a leaf, then along
 * leaves to the right while they may still hold the name's hash.
 */
static int xfs_lookup_tree(struct xfs_lookup *l)
{
	const struct xfs_fs *fs = l->dir.fs;
	uint32_t hdr = fs->v5 ? XFS_DIR3_LEAF_HDR : XFS_DIR2_LEAF_HDR;
	uint16_t leaf1 = fs->v5 ? XFS_DIR3_LEAF1_MAGIC : XFS_DIR2_LEAF1_MAGIC;
	uint16_t leafn = fs->v5 ? XFS_DIR3_LEAFN_MAGIC : XFS_DIR2_LEAFN_MAGIC;
	uint16_t node = fs->v5 ? XFS_DA3_NODE_MAGIC : XFS_DA_NODE_MAGIC;
	uint64_t dablk = xfs_dir_leaf_blk(fs), daddr = 0;
	unsigned hops = 0, n = 0;
	uint16_t magic = 0;
	bool more = false;
	int want = -1, r; /* the level the next block must be at */

	l->leaf = plat_alloc(fs->dirblk_size);
	if (!l->leaf)
		return log_err(-VQ_ENOMEM, "xfs: no memory for a directory block");
	for (unsigned depth = 0;; depth++) {
		r = xfs_lookup_read_leaf(l, dablk, &daddr, &magic);
		if (r < 0)
			return r;
		if (magic != node)
			break;
		if (want == 0)
			return xfs_bad_leaf(l, daddr, "a node where a leaf "
						      "belongs");
		if (depth >= XFS_DA_NODE_MAXDEPTH)
			return xfs_bad_leaf(l, daddr, "hash tree too deep");
		r = xfs_node_child(l, daddr, want, &dablk);
		if (r < 0)
			return r;
		want = r - 1;
	}
	if (want > 0)
		return xfs_bad_leaf(l, daddr, "a leaf where a node belongs");
	/* LEAF1 only as the root (a leaf directory); LEAFN below a node, or
	 * as the root of a node directory with one leaf. */
	for (;;) {
		if (magic != leafn && (magic != leaf1 || want == 0))
			return xfs_bad_leaf(l, daddr, "bad magic");
		r = xfs_leaf_entries(l, daddr, magic == leaf1, &n);
		if (r == 0)
			r = xfs_lookup_leaf(l, l->leaf + hdr, n, &more);
		if (r || !more || magic == leaf1)
			return r;
		/* xfs doc §Block Headers: forw, the next leaf at this level. */
		dablk = be32(l->leaf);
		if (dablk == 0)
			return 0;
		if (++hops > XFS_DIR_MAX_LEAF_HOPS)
			return xfs_bad_leaf(l, daddr, "too many leaves with one "
						      "hash");
		r = xfs_lookup_read_leaf(l, dablk, &daddr, &magic);
		if (r < 0)
			return r;
		want = 0;
	}
}

/* The inode named @name in the extents or btree directory @dir_inode. */
static int xfs_lookup_blocks(struct xfs_fs *fs, const struct xfs_inode *dir_inode,
			     const char *name, size_t len, uint64_t *ret)
{
	struct xfs_lookup *l = plat_alloc(sizeof(*l));
	int r;

	if (!l)
		return log_err(-VQ_ENOMEM, "xfs: no memory for a lookup");
	xfs_file_init(&l->dir, fs, dir_inode);
	l->name = name;
	l->len = len;
	l->hash = xfs_da_hash(name, len, fs->ascii_ci);
	l->data = plat_alloc(fs->dirblk_size);
	if (!l->data) {
		r = log_err(-VQ_ENOMEM, "xfs: no memory for directory blocks");
		goto out;
	}
	r = xfs_dir_is_block(&l->dir, &l->block);
	if (r == 0)
		r = xfs_dir_check_size(&l->dir, l->block);
	if (r == 0)
		r = l->block ? xfs_lookup_block(l) : xfs_lookup_tree(l);
	if (r >= 0) {
		*ret = l->ino ? l->ino : l->ci_ino;
		r = *ret ? 0 : -VQ_ENOENT;
	}
out:
	bdev_free(fs->base.bd, l->data);
	bdev_free(fs->base.bd, l->leaf);
	xfs_file_release(&l->dir);
	plat_free(l);
	return r;
}

struct xfs_sf_lookup {
	const char *name;
	size_t len;
	bool ci;
	uint64_t ino, ci_ino;
};

static int xfs_sf_lookup_fn(void *ctx, uint64_t ino, const char *name,
			    size_t name_len)
{
	struct xfs_sf_lookup *l = ctx;

	if (name_len != l->len || !xfs_name_eq(name, l->name, name_len, l->ci))
		return 0;
	if (!l->ci || !memcmp(name, l->name, name_len)) {
		l->ino = ino;
		return 1;
	}
	if (!l->ci_ino)
		l->ci_ino = ino;
	return 0;
}

/* The inode named @name (not NUL-terminated) in directory @dir. */
static int xfs_lookup(struct xfs_fs *fs, const struct xfs_inode *dir,
		      const char *name, size_t len, uint64_t *ret)
{
	struct xfs_sf_lookup l = { .name = name, .len = len, .ci = fs->ascii_ci };
	uint64_t parent = 0;
	int r;

	if (dir->format != XFS_DINODE_FMT_LOCAL)
		return xfs_lookup_blocks(fs, dir, name, len, ret);
	r = xfs_sf_walk(fs, dir, xfs_sf_lookup_fn, &l, &parent);
	if (r < 0)
		return r;
	if (len == 2 && name[0] == '.' && name[1] == '.')
		l.ino = parent;
	*ret = l.ino ? l.ino : l.ci_ino;
	return *ret ? 0 : -VQ_ENOENT;
}

/* ---- symbolic links ------------------------------------------------------ */

/*
 * xfs doc §Extent Symbolic Links: the target in the link's blocks; on v5
 * each extent starts with a header naming the link, the byte offset of
 * its part and how many bytes follow.
 */
static int xfs_link_extent(struct xfs_file *link, const struct xfs_run *run,
			   uint8_t *blk, char *buf, size_t *done)
{
	struct xfs_fs *fs = link->fs;
	size_t len = (size_t)run->len << fs->blocklog, want = (size_t)link->inode.size;
	uint64_t daddr = xfs_daddr(fs, run->lin), ino = link->inode.ino;
	size_t hdr = 0, n;
	int r;

	r = bdev_read(fs->base.bd, run->lin << fs->blocklog, blk, len);
	if (r < 0)
		return r;
	n = VQ_MIN(len, want - *done);
	if (fs->v5) {
		if (be32(blk) != XFS_SYMLINK_MAGIC)
			return xfs_bad_block(fs, "symlink", daddr, ino, "bad magic");
		r = xfs_check_v5(fs, "symlink", &xfs_symlink3_hdr, blk, len,
				 daddr, ino);
		if (r < 0)
			return r;
		hdr = XFS_SYMLINK_HDR;
		n = be32(blk + 8);
		if (be32(blk + 4) != *done || n > want - *done ||
		    n > len - hdr || n == 0)
			return xfs_bad_block(fs, "symlink", daddr, ino,
					     "target piece out of place");
	}
	memcpy(buf + *done, blk + hdr, n);
	*done += n;
	return 0;
}

static int xfs_link_remote(struct xfs_fs *fs, const struct xfs_inode *inode,
			   char *buf)
{
	struct xfs_file *link = plat_alloc(sizeof(*link));
	uint64_t lblk = 0;
	size_t done = 0;
	uint8_t *blk = NULL;
	int r = 0;

	if (!link)
		return log_err(-VQ_ENOMEM, "xfs: no memory for a symlink");
	xfs_file_init(link, fs, inode);
	while (done < inode->size && r == 0) {
		struct xfs_run run;

		r = xfs_map(link, lblk, &run);
		if (r < 0)
			break;
		if (run.kind != XFS_RUN_DATA ||
		    run.len > (XFS_SYMLINK_MAXLEN + XFS_SYMLINK_HDR +
			       fs->block_size - 1) >> fs->blocklog) {
			r = log_err(-VQ_ECORRUPT,
				    "xfs %s: symlink inode %llu block %llu is "
				    "not a short extent of data",
				    xfs_dev(fs), (unsigned long long)inode->ino,
				    (unsigned long long)lblk);
			break;
		}
		bdev_free(fs->base.bd, blk);
		blk = plat_alloc((size_t)run.len << fs->blocklog);
		if (!blk) {
			r = log_err(-VQ_ENOMEM, "xfs: no memory for a symlink");
			break;
		}
		r = xfs_link_extent(link, &run, blk, buf, &done);
		lblk += run.len;
	}
	bdev_free(fs->base.bd, blk);
	xfs_file_release(link);
	plat_free(link);
	return r;
}

/* A symlink's target, NUL-terminated: in the inode (local) or in blocks. */
static int xfs_read_link(struct xfs_fs *fs, const struct xfs_inode *inode,
			 char *buf, size_t size, size_t *ret_len)
{
	int r = 0;

	if (inode->size == 0 || inode->size > XFS_SYMLINK_MAXLEN ||
	    inode->size >= size ||
	    (inode->format == XFS_DINODE_FMT_LOCAL &&
	     inode->size > inode->fork_size))
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: symlink inode %llu target of %llu bytes",
			       xfs_dev(fs), (unsigned long long)inode->ino,
			       (unsigned long long)inode->size);
	if (inode->format == XFS_DINODE_FMT_LOCAL)
		memcpy(buf, inode->fork, (size_t)inode->size);
	else
		r = xfs_link_remote(fs, inode, buf);
	if (r < 0)
		return r;
	buf[inode->size] = '\0';
	if (strlen(buf) != inode->size)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: symlink inode %llu target contains a NUL",
			       xfs_dev(fs), (unsigned long long)inode->ino);
	*ret_len = (size_t)inode->size;
	return 0;
}

/* ---- paths ----------------------------------------------------------------- */

/* Path resolution state. The path is the caller's until a symlink is
 * followed; then it is rewritten in @buf, whose second half receives link
 * targets. */
struct xfs_walk {
	struct xfs_fs *fs;
	char *buf; /* 2 * XFS_PATH_MAX bytes, once needed */
	unsigned hops;
	struct xfs_inode cur, next;
};

/* Make the walk's remaining path "<target of w->next>/<rest>". */
static int xfs_splice_link(struct xfs_walk *w, const char *rest)
{
	size_t tlen = 0, rlen = strlen(rest);
	char *target;
	int r;

	if (++w->hops > XFS_MAX_SYMLINK_HOPS)
		return log_err(-VQ_ELOOP,
			       "xfs %s: more than %u symlinks (at inode %llu)",
			       xfs_dev(w->fs), XFS_MAX_SYMLINK_HOPS,
			       (unsigned long long)w->next.ino);
	if (!w->buf) {
		w->buf = plat_alloc(2 * XFS_PATH_MAX);
		if (!w->buf)
			return log_err(-VQ_ENOMEM,
				       "xfs: no memory to follow a symlink");
	}
	target = w->buf + XFS_PATH_MAX;
	r = xfs_read_link(w->fs, &w->next, target, XFS_PATH_MAX, &tlen);
	if (r < 0)
		return r;
	if (tlen + 1 + rlen >= XFS_PATH_MAX)
		return log_err(-VQ_E2BIG,
			       "xfs %s: path through symlink inode %llu too long",
			       xfs_dev(w->fs), (unsigned long long)w->next.ino);
	fs_join_link(target, tlen, rest, rlen, w->buf);
	return 0;
}

/* w->next = the inode named @name in w->cur. */
static int xfs_step(struct xfs_walk *w, const char *name, size_t len)
{
	uint64_t ino = 0;
	int r;

	if (!xfs_is_dir(&w->cur))
		return -VQ_ENOTDIR;
	if (len > XFS_NAME_MAX)
		return -VQ_ENOENT;
	r = xfs_lookup(w->fs, &w->cur, name, len, &ino);
	if (r < 0)
		return r;
	return xfs_read_inode(w->fs, ino, &w->next);
}

/*
 * Resolve @path from the root into w->cur. Symlinks in the middle are
 * always followed, the last one only with @follow_last; relative targets
 * resolve from the directory holding the link, absolute ones from the root.
 */
static int xfs_walk_path(struct xfs_walk *w, const char *path, bool follow_last)
{
	const char *p = path, *name;
	size_t len;
	int r;

	w->cur = w->fs->root;
	while (fs_next_name(&p, &name, &len)) {
		if (len == 1 && name[0] == '.' && xfs_is_dir(&w->cur))
			continue;
		r = xfs_step(w, name, len);
		if (r < 0)
			return r;
		if (!xfs_is_symlink(&w->next) || (!*p && !follow_last)) {
			w->cur = w->next;
			continue;
		}
		r = xfs_splice_link(w, p);
		if (r < 0)
			return r;
		p = w->buf;
		if (*p == '/')
			w->cur = w->fs->root;
	}
	return 0;
}

static int xfs_resolve(struct xfs_fs *fs, const char *path, bool follow_last,
		       struct xfs_inode *ret)
{
	size_t len = strlen(path);
	struct xfs_walk *w;
	int r;

	if (len >= XFS_PATH_MAX)
		return log_err(-VQ_E2BIG, "xfs: path of %zu bytes too long", len);
	w = plat_alloc(sizeof(*w));
	if (!w)
		return log_err(-VQ_ENOMEM, "xfs: no memory for path resolution");
	w->fs = fs;
	r = xfs_walk_path(w, path, follow_last);
	if (r == 0)
		*ret = w->cur;
	plat_free(w->buf);
	plat_free(w);
	return r;
}

/* ---- mount ---------------------------------------------------------------- */

static const struct {
	uint32_t bit;
	const char *name;
} xfs_incompat_names[] = {
	{ XFS_INCOMPAT_FTYPE, "ftype" },
	{ XFS_INCOMPAT_SPINODES, "sparse" },
	{ XFS_INCOMPAT_META_UUID, "meta_uuid" },
	{ XFS_INCOMPAT_BIGTIME, "bigtime" },
	{ XFS_INCOMPAT_NEEDSREPAIR, "needsrepair" },
	{ XFS_INCOMPAT_NREXT64, "nrext64" },
	{ XFS_INCOMPAT_EXCHRANGE, "exchange" },
	{ XFS_INCOMPAT_PARENT, "parent" },
	{ XFS_INCOMPAT_METADIR, "metadir" },
	{ XFS_INCOMPAT_ZONED, "zoned" },
	{ XFS_INCOMPAT_ZONE_GAPS, "zone_gaps" },
};

/* "metadir zoned 0x800" for the bits of @bits. */
static void xfs_feature_names(uint32_t bits, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(xfs_incompat_names) && n < size; i++) {
		const char *s = xfs_incompat_names[i].name;

		if (!(bits & xfs_incompat_names[i].bit))
			continue;
		bits &= ~xfs_incompat_names[i].bit;
		while (*s && n + 2 < size)
			buf[n++] = *s++;
		buf[n++] = ' ';
	}
	if (bits && n + 12 < size) {
		static const char hex[] = "0123456789abcdef";
		unsigned shift = 32;

		buf[n++] = '0';
		buf[n++] = 'x';
		while (shift > 4 && !(bits >> (shift - 4)))
			shift -= 4;
		while (shift) {
			shift -= 4;
			buf[n++] = hex[(bits >> shift) & 15];
		}
		buf[n++] = ' ';
	}
	if (n)
		buf[n - 1] = '\0';
}

/* xfs doc §Superblocks: v4 feature bits in sb_versionnum and sb_features2
 * (mirrored in sb_bad_features2 by old kernels, so both count). */
static int xfs_check_v4(struct xfs_fs *fs, const uint8_t *sb)
{
	uint16_t version = be16(sb + 100);
	uint32_t f2 = 0;

	if (version & XFS_VERSION_MOREBITSBIT)
		f2 = be32(sb + 200) | be32(sb + 204);
	if (!(version & XFS_VERSION_DIRV2BIT) ||
	    (version & XFS_VERSION_SHAREDBIT) || (f2 & ~XFS_VERSION2_READABLE))
		return log_err(-VQ_ENOTSUP,
			       "xfs %s: unsupported v4 features (version 0x%04x, "
			       "features2 0x%x: unknown 0x%x)",
			       xfs_dev(fs), version, f2,
			       f2 & ~XFS_VERSION2_READABLE);
	fs->ftype = f2 & XFS_VERSION2_FTYPE;
	memcpy(fs->meta_uuid, sb + 32, sizeof(fs->meta_uuid));
	return 0;
}

static int xfs_check_v5_features(struct xfs_fs *fs, const uint8_t *sb)
{
	uint32_t incompat = be32(sb + 216), log_incompat = be32(sb + 220);
	uint32_t unknown = incompat & ~XFS_INCOMPAT_READABLE;
	char names[96];

	if (!(be32(sb + 200) & XFS_VERSION2_CRC))
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: version 5 superblock without the CRC "
			       "feature",
			       xfs_dev(fs));
	if (!xfs_crc_ok(sb, fs->sect_size, XFS_SB_CRC_OFF))
		return log_err(-VQ_ECORRUPT, "xfs %s: superblock: CRC mismatch",
			       xfs_dev(fs));
	if (unknown) {
		xfs_feature_names(unknown, names, sizeof(names));
		return log_err(-VQ_ENOTSUP,
			       "xfs %s: unsupported incompatible features 0x%x "
			       "(%s)",
			       xfs_dev(fs), unknown, names);
	}
	if (log_incompat)
		log_warn("xfs %s: the journal holds items of features 0x%x: not "
			 "cleanly unmounted; reading without replaying it",
			 xfs_dev(fs), log_incompat);
	fs->ftype = incompat & XFS_INCOMPAT_FTYPE;
	memcpy(fs->meta_uuid, sb + ((incompat & XFS_INCOMPAT_META_UUID) ? 248 : 32),
	       sizeof(fs->meta_uuid));
	return 0;
}

static bool xfs_log2_ok(uint32_t value, uint32_t log, uint32_t min,
			uint32_t max)
{
	return log >= min && log <= max && value == (uint32_t)1 << log;
}

/* Block, sector and inode sizes, each a power of two with its log. */
static int xfs_check_sizes(struct xfs_fs *fs, const uint8_t *sb)
{
	fs->block_size = be32(sb + 4);
	fs->blocklog = sb[120];
	fs->sect_size = be16(sb + 102);
	fs->inode_size = be16(sb + 104);
	fs->inodelog = sb[122];
	fs->inopblog = sb[123];
	fs->dirblklog = sb[192];
	if (!xfs_log2_ok(fs->block_size, fs->blocklog, XFS_MIN_BLOCKLOG,
			 XFS_MAX_BLOCKLOG) ||
	    !xfs_log2_ok(fs->sect_size, sb[121], XFS_MIN_SECTLOG,
			 XFS_MAX_SECTLOG) ||
	    fs->sect_size > fs->block_size ||
	    !xfs_log2_ok(fs->inode_size, fs->inodelog,
			 fs->v5 ? XFS_MIN_INODELOG + 1 : XFS_MIN_INODELOG,
			 XFS_MAX_INODELOG) ||
	    fs->inode_size > fs->block_size ||
	    fs->inopblog != fs->blocklog - fs->inodelog ||
	    be16(sb + 106) != fs->block_size >> fs->inodelog ||
	    fs->dirblklog > XFS_MAX_DIRBLOCK_LOG - fs->blocklog)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: block size %u, sector size %u, inode "
			       "size %u, directory blocks of 2^%u blocks",
			       xfs_dev(fs), fs->block_size, fs->sect_size,
			       fs->inode_size, fs->dirblklog);
	fs->dirblk_size = fs->block_size << fs->dirblklog;
	return 0;
}

/* Allocation groups: sb_agcount groups of sb_agblocks blocks (the last may
 * be shorter) cover sb_dblocks, which the device must hold. */
static int xfs_check_ags(struct xfs_fs *fs, const uint8_t *sb)
{
	uint64_t full;

	fs->dblocks = be64(sb + 8);
	fs->agblocks = be32(sb + 84);
	fs->agcount = be32(sb + 88);
	fs->agblklog = sb[124];
	full = (uint64_t)fs->agcount * fs->agblocks;
	if (fs->agblocks < XFS_MIN_AG_BLOCKS || fs->agblklog > 31 ||
	    fs->agblocks > (uint32_t)1 << fs->agblklog ||
	    fs->agblocks <= (uint32_t)1 << fs->agblklog >> 1 ||
	    fs->agcount == 0 || fs->dblocks > full ||
	    fs->dblocks <= full - fs->agblocks)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: %llu blocks in %u AGs of %u blocks "
			       "(2^%u)",
			       xfs_dev(fs), (unsigned long long)fs->dblocks,
			       fs->agcount, fs->agblocks, fs->agblklog);
	if (fs->dblocks > fs->base.bd->size >> fs->blocklog)
		return log_err(-VQ_ECORRUPT,
			       "xfs %s: %llu blocks of %u bytes exceed the "
			       "device (%llu bytes)",
			       xfs_dev(fs), (unsigned long long)fs->dblocks,
			       fs->block_size,
			       (unsigned long long)fs->base.bd->size);
	return 0;
}

static void xfs_set_label(struct xfs_fs *fs, const uint8_t *sb)
{
	size_t n = 0;

	/* sb_fname: 12 bytes, NUL-padded. */
	while (n < 12 && sb[108 + n]) {
		char c = (char)sb[108 + n];

		fs->base.label[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	fs->base.label[n] = '\0';
}

/* Everything in the superblock (already read: @sb holds a whole sector). */
static int xfs_parse_super(struct xfs_fs *fs, const uint8_t *sb)
{
	uint16_t version = be16(sb + 100);
	int r;

	if (sb[126])
		return log_err(-VQ_ECORRUPT, "xfs %s: mkfs did not finish",
			       xfs_dev(fs));
	r = fs->v5 ? xfs_check_v5_features(fs, sb) : xfs_check_v4(fs, sb);
	if (r == 0)
		r = xfs_check_sizes(fs, sb);
	if (r == 0)
		r = xfs_check_ags(fs, sb);
	if (r < 0)
		return r;
	fs->ascii_ci = version & XFS_VERSION_BORGBIT;
	fs->rootino = be64(sb + 56);
	xfs_set_label(fs, sb);
	return 0;
}

/* The primary superblock, one sector, whose size it states. */
static int xfs_read_super(struct blockdev *bd, uint8_t **ret)
{
	uint8_t *head, *sb;
	uint32_t sect;
	int r;

	/* On the heap, not the stack: a whole block goes to the device, which
	 * may still write it after a -VQ_ESTUCK (then it is kept). */
	head = plat_alloc(XFS_SB_READ);
	if (!head)
		return log_err(-VQ_ENOMEM, "xfs: no memory to mount %s", bd->name);
	r = bdev_read(bd, 0, head, XFS_SB_READ);
	if (r == 0 && be32(head) != XFS_SB_MAGIC)
		r = -VQ_ENOENT;
	if (r < 0) {
		bdev_free(bd, head);
		return r;
	}
	sect = be16(head + 102);
	if (sect <= XFS_SB_READ || sect > 1u << XFS_MAX_SECTLOG || sect > bd->size) {
		*ret = head;
		return 0;
	}
	sb = plat_alloc(sect);
	plat_free(head);
	if (!sb)
		return log_err(-VQ_ENOMEM, "xfs: no memory to mount %s", bd->name);
	r = bdev_read(bd, 0, sb, sect);
	if (r < 0) {
		bdev_free(bd, sb);
		return r;
	}
	*ret = sb;
	return 0;
}

static int xfs_read_root(struct xfs_fs *fs)
{
	int r = xfs_read_inode(fs, fs->rootino, &fs->root);

	if (r == 0 && !xfs_is_dir(&fs->root))
		r = log_err(-VQ_ECORRUPT,
			    "xfs %s: root inode %llu mode 0%o is not a directory",
			    xfs_dev(fs), (unsigned long long)fs->rootino,
			    fs->root.mode);
	return r;
}

static int xfs_mount(struct blockdev *bd, struct fs **ret)
{
	uint8_t *sb = NULL;
	struct xfs_fs *fs;
	uint16_t version;
	int r;

	if (bd->size < XFS_SB_READ)
		return -VQ_ENOENT;
	r = xfs_read_super(bd, &sb);
	if (r < 0)
		return r;
	fs = plat_alloc(sizeof(*fs));
	if (!fs) {
		r = log_err(-VQ_ENOMEM, "xfs: no memory to mount %s", bd->name);
		goto fail;
	}
	fs->base.ops = &xfs_fs_ops;
	fs->base.bd = bd;
	fs->base.type = FS_XFS;
	version = be16(sb + 100) & XFS_VERSION_NUMBITS;
	fs->v5 = version == XFS_VERSION_5;
	fs->sect_size = be16(sb + 102);
	if (version != XFS_VERSION_4 && version != XFS_VERSION_5) {
		r = log_err(-VQ_ENOTSUP, "xfs %s: superblock version %u",
			    bd->name, version);
		goto fail;
	}
	if (fs->v5 && (fs->sect_size < XFS_SB_V5_END ||
		       fs->sect_size > 1u << XFS_MAX_SECTLOG ||
		       fs->sect_size > bd->size)) {
		r = log_err(-VQ_ECORRUPT, "xfs %s: sector size %u", bd->name,
			    fs->sect_size);
		goto fail;
	}
	r = xfs_parse_super(fs, sb);
	if (r == 0)
		r = xfs_read_root(fs);
	if (r < 0)
		goto fail;
	log_debug("xfs %s: v%u, %llu blocks of %u bytes, %u AGs, label \"%s\"",
		  bd->name, version, (unsigned long long)fs->dblocks,
		  fs->block_size, fs->agcount, fs->base.label);
	bdev_free(bd, sb);
	*ret = &fs->base;
	return 0;
fail:
	bdev_free(bd, sb);
	bdev_free(bd, fs); /* its inode buffer is read into */
	return r;
}

static void xfs_unmount(struct fs *fs)
{
	bdev_free(fs->bd, fs); /* its inode buffer is read into */
}

/* ---- fs_ops ------------------------------------------------------------- */

static int xfs_open(struct fs *base, const char *path, struct fs_file **ret)
{
	struct xfs_fs *fs = to_xfs_fs(base);
	struct xfs_file *f = plat_alloc(sizeof(*f));
	struct xfs_inode *inode;
	int r;

	if (!f)
		return log_err(-VQ_ENOMEM, "xfs: no memory to open %s", path);
	inode = &f->inode;
	r = xfs_resolve(fs, path, true, inode);
	if (r == 0 && !xfs_is_reg(inode))
		r = log_err(xfs_is_dir(inode) ? -VQ_EINVAL : -VQ_ENOTSUP,
			    "xfs: %s: %s (mode 0%o)", path,
			    xfs_is_dir(inode) ? "is a directory" :
						"not a regular file",
			    inode->mode);
	if (r == 0 && (inode->flags & XFS_DIFLAG_REALTIME))
		r = log_err(-VQ_ENOTSUP,
			    "xfs: %s: data on the realtime device, which is "
			    "not read",
			    path);
	if (r < 0) {
		plat_free(f);
		return r;
	}
	f->fs = fs;
	*ret = (struct fs_file *)f;
	return 0;
}

static int xfs_read(struct fs_file *file, uint64_t offset, void *buf,
		    size_t len)
{
	return xfs_read_checked(to_xfs_file(file), offset, buf, len);
}

static uint64_t xfs_size(const struct fs_file *file)
{
	return ((const struct xfs_file *)file)->inode.size;
}

static void xfs_close(struct fs_file *file)
{
	struct xfs_file *f = to_xfs_file(file);

	if (!f)
		return;
	xfs_file_release(f);
	plat_free(f);
}

struct xfs_list {
	struct xfs_fs *fs;
	fs_dir_fn fn;
	void *ctx;
	struct xfs_inode inode;
	struct fs_dirent ent;
};

static int xfs_list_fn(void *ctx, uint64_t ino, const char *name,
		       size_t name_len)
{
	struct xfs_list *l = ctx;
	int r;

	if ((name_len == 1 && name[0] == '.') ||
	    (name_len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	r = xfs_read_inode(l->fs, ino, &l->inode);
	if (r < 0)
		return r;
	memcpy(l->ent.name, name, name_len);
	l->ent.name[name_len] = '\0';
	l->ent.is_dir = xfs_is_dir(&l->inode);
	l->ent.size = l->inode.size;
	return l->fn(l->ctx, &l->ent);
}

static int xfs_list(struct fs *base, const char *path, fs_dir_fn fn,
		    void *ctx)
{
	struct xfs_fs *fs = to_xfs_fs(base);
	struct xfs_list *l = plat_alloc(sizeof(*l));
	int r;

	if (!l)
		return log_err(-VQ_ENOMEM, "xfs: no memory to list %s", path);
	r = xfs_resolve(fs, path, true, &l->inode);
	if (r == 0 && !xfs_is_dir(&l->inode))
		r = log_err(-VQ_ENOTDIR, "xfs: %s: not a directory", path);
	if (r == 0) {
		struct xfs_inode *dir = plat_alloc(sizeof(*dir));

		if (!dir) {
			plat_free(l);
			return log_err(-VQ_ENOMEM, "xfs: no memory to list %s",
				       path);
		}
		*dir = l->inode;
		l->fs = fs;
		l->fn = fn;
		l->ctx = ctx;
		r = xfs_dir_walk(fs, dir, xfs_list_fn, l);
		plat_free(dir);
	}
	plat_free(l);
	return r;
}

const struct fs_ops xfs_fs_ops = {
	.name = "xfs",
	.mount = xfs_mount,
	.unmount = xfs_unmount,
	.open = xfs_open,
	.read = xfs_read,
	.size = xfs_size,
	.close = xfs_close,
	.list = xfs_list,
};
