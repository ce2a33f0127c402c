/* SPDX-License-Identifier: MIT */
/*
 * Read-only btrfs.
 *
 * On-disk format as described by the btrfs documentation ("On-disk format",
 * cited as "btrfs doc") and the kernel's uapi btrfs_tree.h (cited by the
 * struct name): a superblock at 64 KiB (copies at 64 MiB and 256 GiB), the
 * system chunks in it that map the chunk tree, the chunk tree that maps
 * every other logical address to a place on the device, and B-trees of
 * (objectid, type, offset) keys: the root tree, which holds a ROOT_ITEM for
 * each other tree, and one FS tree per subvolume holding inodes, directory
 * entries and file extents.
 *
 * Nothing read from the disk is trusted. Every tree block is checked
 * (crc32c, fsid, bytenr, level, generation, item bounds, key order inside
 * the block and against the parent's key) before anything in it is used;
 * a DUP or RAID1 copy is tried when one copy is bad. Every item offset and
 * length is bounded by the item that holds it. File data goes from the
 * device straight into the caller's buffer through a bdev_batch, so the
 * extents of a file reach the driver together; compressed extents are read
 * the same way into scratch buffers and decompressed afterwards.
 */
#include "boot/fs.h"
#include "lib/crc32c.h"
#include "lib/log.h"
#include "lib/plat.h"

#include "lib/inflate.h"
#include "lib/lzo.h"
#include "lib/zstd.h"

/* btrfs doc §Superblock: the primary copy and its mirrors. */
#define BTRFS_SB_OFFSET 0x10000ull
#define BTRFS_SB_SIZE 4096
#define BTRFS_SB_COPIES 3
#define BTRFS_MAGIC "_BHRfS_M"
#define BTRFS_CSUM_SIZE 32
#define BTRFS_FSID_SIZE 16
#define BTRFS_SYS_CHUNK_ARRAY_SIZE 2048
#define BTRFS_LABEL_SIZE 256

#define BTRFS_CSUM_CRC32C 0
#define BTRFS_CSUM_XXHASH 1

#define BTRFS_MAX_LEVEL 8
#define BTRFS_NAME_LEN 255
#define BTRFS_MIN_BLOCK 4096u
#define BTRFS_MAX_BLOCK 65536u

/* Objectids (btrfs_tree.h). */
#define BTRFS_ROOT_TREE_OBJECTID 1
#define BTRFS_CHUNK_TREE_OBJECTID 3
#define BTRFS_FS_TREE_OBJECTID 5
#define BTRFS_ROOT_TREE_DIR_OBJECTID 6
#define BTRFS_FIRST_FREE_OBJECTID 256
#define BTRFS_LAST_FREE_OBJECTID (-256ull)
#define BTRFS_FIRST_CHUNK_TREE_OBJECTID 256

/* Item types (btrfs_tree.h). */
#define BTRFS_INODE_ITEM_KEY 1
#define BTRFS_INODE_REF_KEY 12
#define BTRFS_DIR_ITEM_KEY 84
#define BTRFS_DIR_INDEX_KEY 96
#define BTRFS_EXTENT_DATA_KEY 108
#define BTRFS_ROOT_ITEM_KEY 132
#define BTRFS_ROOT_BACKREF_KEY 144
#define BTRFS_CHUNK_ITEM_KEY 228

/* Incompatible features (btrfs_tree.h, BTRFS_FEATURE_INCOMPAT_*). */
#define BTRFS_INCOMPAT_MIXED_BACKREF (1ull << 0)
#define BTRFS_INCOMPAT_DEFAULT_SUBVOL (1ull << 1)
#define BTRFS_INCOMPAT_MIXED_GROUPS (1ull << 2)
#define BTRFS_INCOMPAT_COMPRESS_LZO (1ull << 3)
#define BTRFS_INCOMPAT_COMPRESS_ZSTD (1ull << 4)
#define BTRFS_INCOMPAT_BIG_METADATA (1ull << 5)
#define BTRFS_INCOMPAT_EXTENDED_IREF (1ull << 6)
#define BTRFS_INCOMPAT_RAID56 (1ull << 7)
#define BTRFS_INCOMPAT_SKINNY_METADATA (1ull << 8)
#define BTRFS_INCOMPAT_NO_HOLES (1ull << 9)
#define BTRFS_INCOMPAT_METADATA_UUID (1ull << 10)
#define BTRFS_INCOMPAT_RAID1C34 (1ull << 11)
#define BTRFS_INCOMPAT_SIMPLE_QUOTA (1ull << 16)

/*
 * What a reader can handle. RAID5/6 chunks are refused one by one at mount;
 * zoned (superblocks in log zones), extent-tree-v2 and the raid stripe tree
 * (which remaps data) change where things are, and unknown bits are unknown.
 */
#define BTRFS_INCOMPAT_READABLE                                              \
	(BTRFS_INCOMPAT_MIXED_BACKREF | BTRFS_INCOMPAT_DEFAULT_SUBVOL |      \
	 BTRFS_INCOMPAT_MIXED_GROUPS | BTRFS_INCOMPAT_COMPRESS_LZO |         \
	 BTRFS_INCOMPAT_COMPRESS_ZSTD | BTRFS_INCOMPAT_BIG_METADATA |        \
	 BTRFS_INCOMPAT_EXTENDED_IREF | BTRFS_INCOMPAT_RAID56 |              \
	 BTRFS_INCOMPAT_SKINNY_METADATA | BTRFS_INCOMPAT_NO_HOLES |          \
	 BTRFS_INCOMPAT_METADATA_UUID | BTRFS_INCOMPAT_RAID1C34 |            \
	 BTRFS_INCOMPAT_SIMPLE_QUOTA)

/* Block group profile bits of a chunk's type (BTRFS_BLOCK_GROUP_*). */
#define BTRFS_BG_RAID0 (1ull << 3)
#define BTRFS_BG_RAID1 (1ull << 4)
#define BTRFS_BG_DUP (1ull << 5)
#define BTRFS_BG_RAID10 (1ull << 6)
#define BTRFS_BG_RAID5 (1ull << 7)
#define BTRFS_BG_RAID6 (1ull << 8)
#define BTRFS_BG_RAID1C3 (1ull << 9)
#define BTRFS_BG_RAID1C4 (1ull << 10)
#define BTRFS_BG_PROFILES                                                   \
	(BTRFS_BG_RAID0 | BTRFS_BG_RAID1 | BTRFS_BG_DUP | BTRFS_BG_RAID10 | \
	 BTRFS_BG_RAID5 | BTRFS_BG_RAID6 | BTRFS_BG_RAID1C3 | BTRFS_BG_RAID1C4)

/* More stripes than this are refused: a boot disk has a few devices. */
#define BTRFS_MAX_STRIPES 16
#define BTRFS_MAX_CHUNKS 65536

/* Tree blocks kept after their checks, so path walks and directory
 * listings reread nothing. */
#define BTRFS_CACHE_NODES 16

/* btrfs_file_extent_item: type and compression. */
#define BTRFS_FILE_EXTENT_INLINE 0
#define BTRFS_FILE_EXTENT_REG 1
#define BTRFS_FILE_EXTENT_PREALLOC 2
#define BTRFS_COMPRESS_NONE 0
#define BTRFS_COMPRESS_ZLIB 1
#define BTRFS_COMPRESS_LZO 2
#define BTRFS_COMPRESS_ZSTD 3
/* The kernel never writes a compressed extent of more than 128 KiB, before
 * or after compression (BTRFS_MAX_COMPRESSED). */
#define BTRFS_MAX_COMPRESSED (128u * 1024)
/* Compressed extents decoded after one batch of reads. */
#define BTRFS_ZJOBS 16

/* Dir item types (BTRFS_FT_*). */
#define BTRFS_FT_DIR 2
#define BTRFS_FT_SYMLINK 7

#define BTRFS_S_IFMT 0xF000
#define BTRFS_S_IFLNK 0xA000
#define BTRFS_S_IFREG 0x8000
#define BTRFS_S_IFDIR 0x4000

/* Linux's limits: MAXSYMLINKS is 40, PATH_MAX 4096. */
#define BTRFS_MAX_SYMLINK_HOPS 40
#define BTRFS_PATH_MAX 4096

/* ---- on-disk structures (btrfs_tree.h; all little-endian, packed) ------- */

struct btrfs_disk_key {
	uint64_t objectid;
	uint8_t type;
	uint64_t offset;
} __attribute__((packed));

struct btrfs_header {
	uint8_t csum[BTRFS_CSUM_SIZE];
	uint8_t fsid[BTRFS_FSID_SIZE];
	uint64_t bytenr;
	uint64_t flags;
	uint8_t chunk_tree_uuid[16];
	uint64_t generation;
	uint64_t owner;
	uint32_t nritems;
	uint8_t level;
} __attribute__((packed));

struct btrfs_item {
	struct btrfs_disk_key key;
	uint32_t offset; /* from the end of the header */
	uint32_t size;
} __attribute__((packed));

struct btrfs_key_ptr {
	struct btrfs_disk_key key;
	uint64_t blockptr;
	uint64_t generation;
} __attribute__((packed));

struct btrfs_dev_item {
	uint64_t devid;
	uint64_t total_bytes;
	uint64_t bytes_used;
	uint32_t io_align;
	uint32_t io_width;
	uint32_t sector_size;
	uint64_t type;
	uint64_t generation;
	uint64_t start_offset;
	uint32_t dev_group;
	uint8_t seek_speed;
	uint8_t bandwidth;
	uint8_t uuid[16];
	uint8_t fsid[16];
} __attribute__((packed));

struct btrfs_super_block {
	uint8_t csum[BTRFS_CSUM_SIZE];
	uint8_t fsid[BTRFS_FSID_SIZE];
	uint64_t bytenr;
	uint64_t flags;
	char magic[8];
	uint64_t generation;
	uint64_t root;
	uint64_t chunk_root;
	uint64_t log_root;
	uint64_t unused_log_root_transid;
	uint64_t total_bytes;
	uint64_t bytes_used;
	uint64_t root_dir_objectid;
	uint64_t num_devices;
	uint32_t sectorsize;
	uint32_t nodesize;
	uint32_t unused_leafsize;
	uint32_t stripesize;
	uint32_t sys_chunk_array_size;
	uint64_t chunk_root_generation;
	uint64_t compat_flags;
	uint64_t compat_ro_flags;
	uint64_t incompat_flags;
	uint16_t csum_type;
	uint8_t root_level;
	uint8_t chunk_root_level;
	uint8_t log_root_level;
	struct btrfs_dev_item dev_item;
	char label[BTRFS_LABEL_SIZE];
	uint64_t cache_generation;
	uint64_t uuid_tree_generation;
	uint8_t metadata_uuid[BTRFS_FSID_SIZE];
	uint64_t nr_global_roots;
	uint64_t reserved[27];
	uint8_t sys_chunk_array[BTRFS_SYS_CHUNK_ARRAY_SIZE];
	uint8_t rest[BTRFS_SB_SIZE - 0xb2b];
} __attribute__((packed));

struct btrfs_chunk {
	uint64_t length;
	uint64_t owner;
	uint64_t stripe_len;
	uint64_t type;
	uint32_t io_align;
	uint32_t io_width;
	uint32_t sector_size;
	uint16_t num_stripes;
	uint16_t sub_stripes;
	/* struct btrfs_stripe stripes[num_stripes] follow */
} __attribute__((packed));

struct btrfs_stripe {
	uint64_t devid;
	uint64_t offset;
	uint8_t dev_uuid[16];
} __attribute__((packed));

struct btrfs_timespec {
	uint64_t sec;
	uint32_t nsec;
} __attribute__((packed));

struct btrfs_inode_item {
	uint64_t generation;
	uint64_t transid;
	uint64_t size;
	uint64_t nbytes;
	uint64_t block_group;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t mode;
	uint64_t rdev;
	uint64_t flags;
	uint64_t sequence;
	uint64_t reserved[4];
	struct btrfs_timespec atime, ctime, mtime, otime;
} __attribute__((packed));

/* The part of btrfs_root_item every version has. */
struct btrfs_root_item {
	struct btrfs_inode_item inode;
	uint64_t generation;
	uint64_t root_dirid;
	uint64_t bytenr;
	uint64_t byte_limit;
	uint64_t bytes_used;
	uint64_t last_snapshot;
	uint64_t flags;
	uint32_t refs;
	struct btrfs_disk_key drop_progress;
	uint8_t drop_level;
	uint8_t level;
} __attribute__((packed));

struct btrfs_root_ref {
	uint64_t dirid;
	uint64_t sequence;
	uint16_t name_len;
} __attribute__((packed));

struct btrfs_dir_item {
	struct btrfs_disk_key location;
	uint64_t transid;
	uint16_t data_len;
	uint16_t name_len;
	uint8_t type;
	/* name, then data */
} __attribute__((packed));

struct btrfs_file_extent_item {
	uint64_t generation;
	uint64_t ram_bytes;
	uint8_t compression;
	uint8_t encryption;
	uint16_t other_encoding;
	uint8_t type;
	/* inline data starts here; regular extents have these: */
	uint64_t disk_bytenr;
	uint64_t disk_num_bytes;
	uint64_t offset;
	uint64_t num_bytes;
} __attribute__((packed));

#define BTRFS_HEADER_SIZE sizeof(struct btrfs_header)
#define BTRFS_FILE_EXTENT_INLINE_DATA \
	offsetof(struct btrfs_file_extent_item, disk_bytenr)

_Static_assert(sizeof(struct btrfs_disk_key) == 17, "disk_key");
_Static_assert(sizeof(struct btrfs_header) == 101, "header");
_Static_assert(sizeof(struct btrfs_item) == 25, "item");
_Static_assert(sizeof(struct btrfs_key_ptr) == 33, "key_ptr");
_Static_assert(sizeof(struct btrfs_dev_item) == 98, "dev_item");
_Static_assert(offsetof(struct btrfs_super_block, magic) == 0x40, "sb");
_Static_assert(offsetof(struct btrfs_super_block, csum_type) == 0xc4, "sb");
_Static_assert(offsetof(struct btrfs_super_block, label) == 0x12b, "sb");
_Static_assert(offsetof(struct btrfs_super_block, sys_chunk_array) == 0x32b,
	       "sb");
_Static_assert(sizeof(struct btrfs_super_block) == BTRFS_SB_SIZE, "sb");
_Static_assert(sizeof(struct btrfs_chunk) == 48, "chunk");
_Static_assert(sizeof(struct btrfs_stripe) == 32, "stripe");
_Static_assert(sizeof(struct btrfs_inode_item) == 160, "inode_item");
_Static_assert(sizeof(struct btrfs_root_item) == 239, "root_item");
_Static_assert(sizeof(struct btrfs_dir_item) == 30, "dir_item");
_Static_assert(sizeof(struct btrfs_file_extent_item) == 53, "extent");
_Static_assert(BTRFS_FILE_EXTENT_INLINE_DATA == 21, "extent");

/* ---- in-memory state ---------------------------------------------------- */

struct btrfs_key {
	uint64_t objectid;
	uint8_t type;
	uint64_t offset;
};

/* One chunk: logical [logical, logical + length) on num_stripes stripes. */
struct btrfs_chunk_map {
	uint64_t logical;
	uint64_t length;
	uint64_t type;
	uint64_t stripe_len;
	uint16_t num_stripes;
	uint16_t sub_stripes;
	struct {
		uint64_t devid;
		uint64_t offset;
	} stripe[BTRFS_MAX_STRIPES];
};

struct btrfs_cached_node {
	uint64_t addr; /* 0: empty */
	uint64_t stamp;
	uint8_t *buf;
};

struct btrfs_fs {
	struct fs base;
	const char *dev;      /* the blockdev's name, for messages */
	uint32_t nodesize;
	uint32_t sectorsize;
	uint64_t generation;
	uint64_t incompat;
	uint16_t csum_type;
	uint64_t devid;       /* this device in the chunk stripes */
	uint64_t num_devices;
	uint8_t meta_fsid[BTRFS_FSID_SIZE];
	struct btrfs_chunk_map *chunks; /* sorted by logical */
	unsigned nchunks, chunk_cap;
	struct btrfs_cached_node cache[BTRFS_CACHE_NODES];
	uint64_t cache_clock;
	uint64_t root_bytenr, root_gen;
	uint8_t root_level;
	uint64_t default_subvol;
};

/* A tree to search: its root block. */
struct btrfs_tree {
	uint64_t bytenr;
	uint64_t generation;
	uint8_t level;
};

/* A subvolume: its FS tree and the objectid of its top directory. */
struct btrfs_root {
	uint64_t id;
	struct btrfs_tree tree;
	uint64_t dirid;
};

struct btrfs_inode {
	struct btrfs_root root;
	uint64_t ino;
	uint32_t mode;
	uint64_t size;
};

/*
 * A position in a tree: a copy of one block per level and the slot in it.
 * A block stays loaded until the walk leaves it, so stepping through a
 * leaf's items rereads nothing. hi[l] bounds the keys of the block at level
 * l (from the parent's next key), to check key order across blocks.
 */
struct btrfs_path {
	struct btrfs_fs *fs;
	struct btrfs_tree tree;
	uint8_t *buf[BTRFS_MAX_LEVEL];
	uint64_t addr[BTRFS_MAX_LEVEL];
	uint32_t nritems[BTRFS_MAX_LEVEL];
	int slot[BTRFS_MAX_LEVEL];
	struct btrfs_key hi[BTRFS_MAX_LEVEL];
	bool has_hi[BTRFS_MAX_LEVEL];
};

struct btrfs_file {
	struct btrfs_fs *fs;
	struct btrfs_inode inode;
	struct btrfs_path path;
	/* The last compressed extent decoded in part, for reads in pieces. */
	uint8_t *zbuf;        /* zbuf_cap bytes: the largest extent decoded */
	uint32_t zbuf_cap;
	uint64_t zcache_addr; /* its disk_bytenr; 0: none */
	uint32_t zcache_len;
	uint8_t zcache_alg;
};

static struct btrfs_fs *to_btrfs_fs(struct fs *fs)
{
	return (struct btrfs_fs *)fs;
}

static struct btrfs_file *to_btrfs_file(struct fs_file *f)
{
	return (struct btrfs_file *)f;
}

static bool btrfs_is_dir(uint32_t mode)
{
	return (mode & BTRFS_S_IFMT) == BTRFS_S_IFDIR;
}

static bool btrfs_is_reg(uint32_t mode)
{
	return (mode & BTRFS_S_IFMT) == BTRFS_S_IFREG;
}

static bool btrfs_is_symlink(uint32_t mode)
{
	return (mode & BTRFS_S_IFMT) == BTRFS_S_IFLNK;
}

static bool btrfs_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int btrfs_key_cmp(const struct btrfs_key *a, const struct btrfs_key *b)
{
	if (a->objectid != b->objectid)
		return a->objectid < b->objectid ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return 0;
}

static void btrfs_key_get(struct btrfs_key *k, const void *disk)
{
	struct btrfs_disk_key d;

	memcpy(&d, disk, sizeof(d));
	k->objectid = d.objectid;
	k->type = d.type;
	k->offset = d.offset;
}

/* btrfs doc §Directory items: the DIR_ITEM key offset of a name is the
 * kernel's crc32c(~1, name) without the final inversion. */
static uint64_t btrfs_name_hash(const char *name, size_t len)
{
	return crc32c_update(~1u, name, len);
}

/* ---- chunks: logical to physical --------------------------------------- */

static unsigned btrfs_chunk_mirrors(const struct btrfs_chunk_map *c)
{
	if (c->type & BTRFS_BG_DUP)
		return 2;
	if (c->type & (BTRFS_BG_RAID1 | BTRFS_BG_RAID1C3 | BTRFS_BG_RAID1C4))
		return c->num_stripes;
	if (c->type & BTRFS_BG_RAID10)
		return c->sub_stripes;
	return 1;
}

static const char *btrfs_profile_name(uint64_t type)
{
	switch (type & BTRFS_BG_PROFILES) {
	case 0:
		return "single";
	case BTRFS_BG_RAID0:
		return "RAID0";
	case BTRFS_BG_RAID1:
		return "RAID1";
	case BTRFS_BG_DUP:
		return "DUP";
	case BTRFS_BG_RAID10:
		return "RAID10";
	case BTRFS_BG_RAID5:
		return "RAID5";
	case BTRFS_BG_RAID6:
		return "RAID6";
	case BTRFS_BG_RAID1C3:
		return "RAID1C3";
	case BTRFS_BG_RAID1C4:
		return "RAID1C4";
	default:
		return "mixed profiles";
	}
}

/* The stripe counts each profile needs (the kernel's btrfs_raid_array). */
static bool btrfs_chunk_shape_ok(const struct btrfs_chunk_map *c)
{
	uint64_t p = c->type & BTRFS_BG_PROFILES;
	unsigned n = c->num_stripes;

	if (p & (p - 1))
		return false;
	switch (p) {
	case 0:
		return n == 1;
	case BTRFS_BG_DUP:
		return n == 2;
	case BTRFS_BG_RAID1:
		return n == 2;
	case BTRFS_BG_RAID1C3:
		return n == 3;
	case BTRFS_BG_RAID1C4:
		return n == 4;
	case BTRFS_BG_RAID10:
		return c->sub_stripes == 2 && n >= 2 && n % 2 == 0;
	default: /* RAID0, RAID5, RAID6 */
		return n >= 1;
	}
}

static int btrfs_check_chunk(const struct btrfs_fs *fs,
			     const struct btrfs_chunk_map *c)
{
	if (c->length == 0 || c->logical + c->length < c->logical ||
	    !btrfs_is_pow2(c->stripe_len) || c->stripe_len < BTRFS_MIN_BLOCK ||
	    c->stripe_len > (1ull << 30) || !btrfs_chunk_shape_ok(c))
		return log_err(-VQ_ECORRUPT,
			       "btrfs %s: chunk 0x%llx: length 0x%llx, stripe "
			       "length 0x%llx, %u stripes (%s)",
			       fs->dev, (unsigned long long)c->logical,
			       (unsigned long long)c->length,
			       (unsigned long long)c->stripe_len, c->num_stripes,
			       btrfs_profile_name(c->type));
	return 0;
}

/*
 * Parse a chunk item (@len bytes at @p) for logical address @logical into
 * @ret; @ret_size is the item's real size (it has one stripe per device).
 */
static int btrfs_parse_chunk(const struct btrfs_fs *fs, uint64_t logical,
			     const uint8_t *p, size_t len,
			     struct btrfs_chunk_map *ret, size_t *ret_size)
{
	struct btrfs_chunk c;
	size_t need;

	if (len < sizeof(c))
		return log_err(-VQ_ECORRUPT,
			       "btrfs %s: chunk 0x%llx: item of %zu bytes",
			       fs->dev, (unsigned long long)logical, len);
	memcpy(&c, p, sizeof(c));
	need = sizeof(c) + (size_t)c.num_stripes * sizeof(struct btrfs_stripe);
	if (c.num_stripes == 0 || need > len)
		return log_err(-VQ_ECORRUPT,
			       "btrfs %s: chunk 0x%llx: %u stripes in %zu bytes",
			       fs->dev, (unsigned long long)logical,
			       c.num_stripes, len);
	if (c.num_stripes > BTRFS_MAX_STRIPES)
		return log_err(-VQ_ENOTSUP,
			       "btrfs %s: chunk 0x%llx has %u stripes, more than "
			       "%u",
			       fs->dev, (unsigned long long)logical,
			       c.num_stripes, BTRFS_MAX_STRIPES);
	memset(ret, 0, sizeof(*ret));
	ret->logical = logical;
	ret->length = c.length;
	ret->type = c.type;
	ret->stripe_len = c.stripe_len;
	ret->num_stripes = c.num_stripes;
	ret->sub_stripes = c.sub_stripes;
	for (unsigned i = 0; i < c.num_stripes; i++) {
		struct btrfs_stripe s;

		memcpy(&s, p + sizeof(c) + i * sizeof(s), sizeof(s));
		ret->stripe[i].devid = s.devid;
		ret->stripe[i].offset = s.offset;
	}
	*ret_size = need;
	return btrfs_check_chunk(fs, ret);
}

/* Index of the first chunk ending after @logical. */
static unsigned btrfs_chunk_index(const struct btrfs_fs *fs, uint64_t logical)
{
	unsigned lo = 0, hi = fs->nchunks;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct btrfs_chunk_map *c = &fs->chunks[mid];

		if (c->logical + c->length <= logical)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool btrfs_chunk_equal(const struct btrfs_chunk_map *a,
			      const struct btrfs_chunk_map *b)
{
	if (a->logical != b->logical || a->length != b->length ||
	    a->type != b->type || a->stripe_len != b->stripe_len ||
	    a->num_stripes != b->num_stripes ||
	    a->sub_stripes != b->sub_stripes)
		return false;
	for (unsigned i = 0; i < a->num_stripes; i++)
		if (a->stripe[i].devid != b->stripe[i].devid ||
		    a->stripe[i].offset != b->stripe[i].offset)
			return false;
	return true;
}

/* Insert a chunk; the system chunks come twice (superblock, chunk tree). */
static int btrfs_add_chunk(struct btrfs_fs *fs, const struct btrfs_chunk_map *c)
{
	unsigned i = btrfs_chunk_index(fs, c->logical);

	if (i < fs->nchunks && fs->chunks[i].logical < c->logical + c->length) {
		if (btrfs_chunk_equal(&fs->chunks[i], c))
			return 0;
		return log_err(-VQ_ECORRUPT,
			       "btrfs %s: chunk 0x%llx overlaps chunk 0x%llx",
			       fs->dev, (unsigned long long)c->logical,
			       (unsigned long long)fs->chunks[i].logical);
	}
	if (fs->nchunks == fs->chunk_cap) {
		unsigned cap = fs->chunk_cap ? fs->chunk_cap * 2 : 16;
		struct btrfs_chunk_map *n;

		if (cap > BTRFS_MAX_CHUNKS)
			return log_err(-VQ_E2BIG, "btrfs %s: more than %u chunks",
				       fs->dev, BTRFS_MAX_CHUNKS);
		n = plat_alloc(cap * sizeof(*n));
		if (!n)
			return log_err(-VQ_ENOMEM, "btrfs %s: no memory for %u "
				       "chunks", fs->dev, cap);
		if (fs->nchunks)
			memcpy(n, fs->chunks, fs->nchunks * sizeof(*n));
		plat_free(fs->chunks);
		fs->chunks = n;
		fs->chunk_cap = cap;
	}
	memmove(&fs->chunks[i + 1], &fs->chunks[i],
		(fs->nchunks - i) * sizeof(*c));
	fs->chunks[i] = *c;
	fs->nchunks++;
	return 0;
}

static const struct btrfs_chunk_map *btrfs_find_chunk(const struct btrfs_fs *fs,
						      uint64_t logical)
{
	unsigned i = btrfs_chunk_index(fs, logical);

	if (i < fs->nchunks && fs->chunks[i].logical <= logical)
		return &fs->chunks[i];
	return NULL;
}

/*
 * btrfs doc §Chunk tree: where copy @mirror of @logical lives on this
 * device, and how many bytes from there are contiguous (to the end of the
 * stripe or chunk). -VQ_ENOENT when that copy is on another device.
 */
static int btrfs_map_mirror(const struct btrfs_fs *fs,
			    const struct btrfs_chunk_map *c, uint64_t logical,
			    unsigned mirror, uint64_t *ret_phys,
			    uint64_t *ret_len)
{
	uint64_t off = logical - c->logical, in = off, sn = 0, row = 0;
	uint64_t contig = c->length - off, phys;
	unsigned idx = mirror;

	if (c->type & (BTRFS_BG_RAID0 | BTRFS_BG_RAID10)) {
		unsigned per = c->type & BTRFS_BG_RAID10 ? c->sub_stripes : 1;
		unsigned width = c->num_stripes / per;

		sn = off / c->stripe_len;
		in = off % c->stripe_len;
		idx = (unsigned)(sn % width) * per + mirror;
		row = sn / width;
		contig = VQ_MIN(contig, c->stripe_len - in);
		in += row * c->stripe_len;
	}
	if (c->stripe[idx].devid != fs->devid)
		return -VQ_ENOENT;
	phys = c->stripe[idx].offset + in;
	if (phys < in || phys > fs->base.bd->size ||
	    contig > fs->base.bd->size - phys)
		return log_err(-VQ_ECORRUPT,
			       "btrfs %s: logical 0x%llx maps to 0x%llx, beyond "
			       "the device (0x%llx bytes)",
			       fs->dev, (unsigned long long)logical,
			       (unsigned long long)phys,
			       (unsigned long long)fs->base.bd->size);
	*ret_phys = phys;
	*ret_len = contig;
	return 0;
}

static int btrfs_chunk_at(const struct btrfs_fs *fs, uint64_t logical,
			  const struct btrfs_chunk_map **ret)
{
	const struct btrfs_chunk_map *c = btrfs_find_chunk(fs, logical);

	if (!c)
		return log_err(-VQ_ECORRUPT,
			       "btrfs %s: logical 0x%llx is in no chunk", fs->dev,
			       (unsigned long long)logical);
	*ret = c;
	return 0;
}

/* The first copy of @logical on this device (file data: nothing to check
 * a copy against, so the first one that is here). */
static int btrfs_map(const struct btrfs_fs *fs, uint64_t logical,
		     uint64_t *ret_phys, uint64_t *ret_len)
{
	const struct btrfs_chunk_map *c = NULL;
	int r = btrfs_chunk_at(fs, logical, &c);

	if (r < 0)
		return r;
	for (unsigned m = 0; m < btrfs_chunk_mirrors(c); m++) {
		r = btrfs_map_mirror(fs, c, logical, m, ret_phys, ret_len);
		if (r != -VQ_ENOENT)
			return r;
	}
	return log_err(-VQ_ENODEV,
		       "btrfs %s: logical 0x%llx (%s chunk 0x%llx) has no copy "
		       "on this device (devid %llu)",
		       fs->dev, (unsigned long long)logical,
		       btrfs_profile_name(c->type),
		       (unsigned long long)c->logical,
		       (unsigned long long)fs->devid);
}

/* Read @len bytes at @logical into @buf (data: no checksum to try copies
 * against). Pieces go through @batch when given, else are read now. */
static int btrfs_read_logical(struct btrfs_fs *fs, struct bdev_batch *batch,
			      uint64_t logical, uint8_t *buf, size_t len)
{
	while (len > 0) {
		uint64_t phys, contig;
		size_t n;
		int r = btrfs_map(fs, logical, &phys, &contig);

		if (r < 0)
			return r;
		n = (size_t)VQ_MIN(contig, (uint64_t)len);
		r = batch ? bdev_batch_add(batch, phys, buf, n) :
			    bdev_read(fs->base.bd, phys, buf, n);
		if (r < 0)
			return r;
		logical += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/* ---- checksums ---------------------------------------------------------- */

static const char *btrfs_csum_name(uint16_t type)
{
	static const char *const names[] = { "crc32c", "xxhash64", "sha256",
					     "blake2b" };

	return type < ARRAY_SIZE(names) ? names[type] : "unknown";
}

static bool btrfs_csum_known(uint16_t type)
{
	return type == BTRFS_CSUM_CRC32C || type == BTRFS_CSUM_XXHASH;
}

/* btrfs doc §Checksums: the sum of a block's bytes after its csum field,
 * stored little-endian at its start (crc32c: 4 bytes, xxhash64: 8). */
static bool btrfs_csum_ok(uint16_t type, const uint8_t *blk, size_t len)
{
	const uint8_t *data = blk + BTRFS_CSUM_SIZE;
	size_t n = len - BTRFS_CSUM_SIZE;

	if (type == BTRFS_CSUM_XXHASH)
		return vq_xxh64(data, n, 0) == get_le64(blk);
	return crc32c(data, n) == get_le32(blk);
}

/* ---- tree blocks -------------------------------------------------------- */

static const char *btrfs_block_kind(unsigned level)
{
	return level ? "node" : "leaf";
}

static void btrfs_item_at(const uint8_t *blk, unsigned slot,
			  struct btrfs_item *ret)
{
	memcpy(ret, blk + BTRFS_HEADER_SIZE + slot * sizeof(*ret), sizeof(*ret));
}

static void btrfs_ptr_at(const uint8_t *blk, unsigned slot,
			 struct btrfs_key_ptr *ret)
{
	memcpy(ret, blk + BTRFS_HEADER_SIZE + slot * sizeof(*ret), sizeof(*ret));
}

/* Key @slot of a leaf or node. */
static void btrfs_block_key(const uint8_t *blk, unsigned level, unsigned slot,
			    struct btrfs_key *ret)
{
	size_t step = level ? sizeof(struct btrfs_key_ptr) :
			      sizeof(struct btrfs_item);

	btrfs_key_get(ret, blk + BTRFS_HEADER_SIZE + slot * step);
}

/* Leaf items: inside the data area, after the item array, keys rising. */
static int btrfs_check_leaf(const struct btrfs_fs *fs, uint64_t addr,
			    const uint8_t *blk, uint32_t n)
{
	uint32_t data = fs->nodesize - BTRFS_HEADER_SIZE;
	uint64_t array_end = (uint64_t)n * sizeof(struct btrfs_item);
	struct btrfs_key prev = { 0 }, k;

	for (uint32_t i = 0; i < n; i++) {
		struct btrfs_item it;

		btrfs_item_at(blk, i, &it);
		btrfs_key_get(&k, &it.key);
		if (it.offset < array_end || it.size > data - it.offset ||
		    it.offset > data)
			return log_err(-VQ_ECORRUPT,
				       "btrfs %s: leaf 0x%llx: item %u at %u, %u "
				       "bytes, outside the leaf",
				       fs->dev, (unsigned long long)addr, i,
				       it.offset, it.size);
		if (i && btrfs_key_cmp(&prev, &k) >= 0)
			return log_err(-VQ_ECORRUPT,
				       "btrfs %s: leaf 0x%llx: item %u out of key "
				       "order",
				       fs->dev, (unsigned long long)addr, i);
		prev = k;
	}
	return 0;
}

static int btrfs_check_node(const struct btrfs_fs *fs, uint64_t addr,
			    const uint8_t *blk, uint32_t n)
{
	struct btrfs_key prev = { 0 }, k;

	for (uint32_t i = 0; i < n; i++) {
		struct btrfs_key_ptr p;

		btrfs_ptr_at(blk, i, &p);
		btrfs_key_get(&k, &p.key);
		if (p.blockptr == 0 || p.blockptr % fs->sectorsize)
			return log_err(-VQ_ECORRUPT,
				       "btrfs %s: node 0x%llx: pointer %u to "
				       "0x%llx",
				       fs->dev, (unsigned long long)addr, i,
				       (unsigned long long)p.blockptr);
		if (i && btrfs_key_cmp(&prev, &k) >= 0)
			return log_err(-VQ_ECORRUPT,
				       "btrfs %s: node 0x%llx: pointer %u out of "
				       "key order",
				       fs->dev, (unsigned long long)addr, i);
		prev = k;
	}
	return 0;
}

/*
 * btrfs doc §Tree blocks: the checks that make a block safe to use, against
 * what the parent (or the superblock or root item) says it is.
 */
static int btrfs_check_block(const struct btrfs_fs *fs, uint64_t addr,
			     const uint8_t *blk, unsigned level, uint64_t gen)
{
	const char *kind = btrfs_block_kind(level);
	struct btrfs_header h;
	uint32_t max_items;

	memcpy(&h, blk, sizeof(h));
	if (!btrfs_csum_ok(fs->csum_type, blk, fs->nodesize))
		return log_err(-VQ_ECORRUPT, "btrfs %s: %s 0x%llx: checksum "
			       "mismatch", fs->dev, kind,
			       (unsigned long long)addr);
	if (h.bytenr != addr)
		return log_err(-VQ_ECORRUPT, "btrfs %s: %s 0x%llx: header says "
			       "0x%llx", fs->dev, kind, (unsigned long long)addr,
			       (unsigned long long)h.bytenr);
	if (memcmp(h.fsid, fs->meta_fsid, BTRFS_FSID_SIZE))
		return log_err(-VQ_ECORRUPT, "btrfs %s: %s 0x%llx: fsid of "
			       "another file system", fs->dev, kind,
			       (unsigned long long)addr);
	if (h.level != level)
		return log_err(-VQ_ECORRUPT, "btrfs %s: %s 0x%llx: level %u, "
			       "expected %u", fs->dev, kind,
			       (unsigned long long)addr, h.level, level);
	if (h.generation != gen)
		return log_err(-VQ_ECORRUPT, "btrfs %s: %s 0x%llx: generation "
			       "%llu, expected %llu", fs->dev, kind,
			       (unsigned long long)addr,
			       (unsigned long long)h.generation,
			       (unsigned long long)gen);
	max_items = (fs->nodesize - BTRFS_HEADER_SIZE) /
		    (level ? sizeof(struct btrfs_key_ptr) :
			     sizeof(struct btrfs_item));
	if (h.nritems > max_items || (level && h.nritems == 0))
		return log_err(-VQ_ECORRUPT, "btrfs %s: %s 0x%llx: %u items",
			       fs->dev, kind, (unsigned long long)addr,
			       h.nritems);
	return level ? btrfs_check_node(fs, addr, blk, h.nritems) :
		       btrfs_check_leaf(fs, addr, blk, h.nritems);
}

/* Read and check block @addr into @buf, trying each copy on this device. */
static int btrfs_read_block(struct btrfs_fs *fs, uint64_t addr, unsigned level,
			    uint64_t gen, uint8_t *buf)
{
	const struct btrfs_chunk_map *c = NULL;
	int first = 0, r;
	unsigned copies = 0;

	if (addr % fs->sectorsize)
		return log_err(-VQ_ECORRUPT, "btrfs %s: %s 0x%llx not aligned",
			       fs->dev, btrfs_block_kind(level),
			       (unsigned long long)addr);
	r = btrfs_chunk_at(fs, addr, &c);
	if (r < 0)
		return r;
	for (unsigned m = 0; m < btrfs_chunk_mirrors(c); m++) {
		uint64_t phys, contig;

		r = btrfs_map_mirror(fs, c, addr, m, &phys, &contig);
		if (r == -VQ_ENOENT)
			continue;
		copies++;
		if (r == 0 && contig < fs->nodesize)
			r = log_err(-VQ_ECORRUPT, "btrfs %s: %s 0x%llx crosses "
				    "a stripe", fs->dev,
				    btrfs_block_kind(level),
				    (unsigned long long)addr);
		if (r == 0)
			r = bdev_read(fs->base.bd, phys, buf, fs->nodesize);
		if (r == 0)
			r = btrfs_check_block(fs, addr, buf, level, gen);
		if (r == 0) {
			if (first)
				log_warn("btrfs %s: %s 0x%llx: read copy %u "
					 "instead", fs->dev,
					 btrfs_block_kind(level),
					 (unsigned long long)addr, m + 1);
			return 0;
		}
		if (!first)
			first = r;
	}
	if (!copies)
		return log_err(-VQ_ENODEV, "btrfs %s: %s 0x%llx has no copy on "
			       "this device (devid %llu)", fs->dev,
			       btrfs_block_kind(level),
			       (unsigned long long)addr,
			       (unsigned long long)fs->devid);
	return first;
}

/* A checked copy of block @addr in @buf, through the node cache. */
static int btrfs_get_block(struct btrfs_fs *fs, uint64_t addr, unsigned level,
			   uint64_t gen, uint8_t *buf)
{
	struct btrfs_cached_node *slot = &fs->cache[0];
	struct btrfs_header h;
	int r;

	for (unsigned i = 0; i < BTRFS_CACHE_NODES; i++) {
		struct btrfs_cached_node *c = &fs->cache[i];

		if (c->addr == addr && c->buf) {
			memcpy(buf, c->buf, fs->nodesize);
			c->stamp = ++fs->cache_clock;
			/* Checked when read; this parent may expect another
			 * level or generation, and then it is bad here. */
			memcpy(&h, buf, sizeof(h));
			if (h.level != level || h.generation != gen)
				return btrfs_check_block(fs, addr, buf, level,
							 gen);
			return 0;
		}
		if (c->stamp < slot->stamp)
			slot = c;
	}
	r = btrfs_read_block(fs, addr, level, gen, buf);
	if (r < 0)
		return r;
	if (!slot->buf)
		slot->buf = plat_alloc(fs->nodesize);
	if (slot->buf) {
		memcpy(slot->buf, buf, fs->nodesize);
		slot->addr = addr;
		slot->stamp = ++fs->cache_clock;
	}
	return 0;
}

/* ---- paths: searching and walking a tree -------------------------------- */

static void btrfs_path_init(struct btrfs_path *p, struct btrfs_fs *fs,
			    const struct btrfs_tree *tree)
{
	memset(p, 0, sizeof(*p));
	p->fs = fs;
	p->tree = *tree;
}

/* Point an existing path at another tree, keeping its buffers. */
static void btrfs_path_retarget(struct btrfs_path *p,
				const struct btrfs_tree *tree)
{
	if (p->tree.bytenr != tree->bytenr ||
	    p->tree.generation != tree->generation ||
	    p->tree.level != tree->level)
		memset(p->addr, 0, sizeof(p->addr));
	p->tree = *tree;
}

static void btrfs_path_release(struct btrfs_path *p)
{
	/* Blocks read into: kept if the disk would not stop. */
	for (unsigned i = 0; i < BTRFS_MAX_LEVEL; i++) {
		bdev_free(p->fs->base.bd, p->buf[i]);
		p->buf[i] = NULL;
		p->addr[i] = 0;
	}
}

static uint32_t btrfs_nritems(const uint8_t *blk)
{
	return get_le32(blk + offsetof(struct btrfs_header, nritems));
}

/* Load block @addr at @level of the path, unless it is already there. */
static int btrfs_path_load(struct btrfs_path *p, unsigned level,
			   uint64_t addr, uint64_t gen)
{
	struct btrfs_fs *fs = p->fs;
	int r;

	if (p->addr[level] == addr)
		return 0;
	if (!p->buf[level]) {
		p->buf[level] = plat_alloc(fs->nodesize);
		if (!p->buf[level])
			return log_err(-VQ_ENOMEM, "btrfs %s: no memory for a "
				       "tree block", fs->dev);
	}
	p->addr[level] = 0;
	r = btrfs_get_block(fs, addr, level, gen, p->buf[level]);
	if (r < 0)
		return r;
	p->addr[level] = addr;
	p->nritems[level] = btrfs_nritems(p->buf[level]);
	return 0;
}

/*
 * Load the child under slot p->slot[level] into level - 1 and check that
 * its keys lie between the parent's key for it and the next one.
 */
static int btrfs_path_down(struct btrfs_path *p, unsigned level)
{
	const uint8_t *parent = p->buf[level];
	unsigned s = (unsigned)p->slot[level], cl = level - 1;
	struct btrfs_key_ptr ptr;
	struct btrfs_key lo, first, last;
	int r;

	btrfs_ptr_at(parent, s, &ptr);
	btrfs_key_get(&lo, &ptr.key);
	r = btrfs_path_load(p, cl, ptr.blockptr, ptr.generation);
	if (r < 0)
		return r;
	if (s + 1 < p->nritems[level]) {
		btrfs_block_key(parent, level, s + 1, &p->hi[cl]);
		p->has_hi[cl] = true;
	} else {
		p->hi[cl] = p->hi[level];
		p->has_hi[cl] = p->has_hi[level];
	}
	if (p->nritems[cl] == 0)
		return log_err(-VQ_ECORRUPT, "btrfs %s: %s 0x%llx is empty",
			       p->fs->dev, btrfs_block_kind(cl),
			       (unsigned long long)ptr.blockptr);
	btrfs_block_key(p->buf[cl], cl, 0, &first);
	btrfs_block_key(p->buf[cl], cl, p->nritems[cl] - 1, &last);
	if (btrfs_key_cmp(&first, &lo) ||
	    (p->has_hi[cl] && btrfs_key_cmp(&last, &p->hi[cl]) >= 0)) {
		p->addr[cl] = 0;
		return log_err(-VQ_ECORRUPT, "btrfs %s: %s 0x%llx: keys do not "
			       "match its parent 0x%llx", p->fs->dev,
			       btrfs_block_kind(cl),
			       (unsigned long long)ptr.blockptr,
			       (unsigned long long)p->addr[level]);
	}
	return 0;
}

/* The last slot whose key is <= @key in a node (0 when all are greater). */
static int btrfs_node_slot(const uint8_t *blk, uint32_t n,
			   const struct btrfs_key *key)
{
	int lo = 0, hi = (int)n - 1, best = 0;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		struct btrfs_key k;

		btrfs_block_key(blk, 1, (unsigned)mid, &k);
		if (btrfs_key_cmp(&k, key) <= 0) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

/* The first slot whose key is >= @key in a leaf (n when none is). */
static int btrfs_leaf_slot(const uint8_t *blk, uint32_t n,
			   const struct btrfs_key *key)
{
	int lo = 0, hi = (int)n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		struct btrfs_key k;

		btrfs_block_key(blk, 0, (unsigned)mid, &k);
		if (btrfs_key_cmp(&k, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int btrfs_path_next(struct btrfs_path *p);

/*
 * Put the path on the first item whose key is >= @key. Returns 0, 1 when
 * no such item exists (the path then sits past the last item), or an error.
 */
static int btrfs_search(struct btrfs_path *p, const struct btrfs_key *key)
{
	unsigned level = p->tree.level;
	int r;

	if (level >= BTRFS_MAX_LEVEL)
		return log_err(-VQ_ECORRUPT, "btrfs %s: tree 0x%llx of level %u",
			       p->fs->dev, (unsigned long long)p->tree.bytenr,
			       level);
	r = btrfs_path_load(p, level, p->tree.bytenr, p->tree.generation);
	if (r < 0)
		return r;
	p->has_hi[level] = false;
	for (; level > 0; level--) {
		p->slot[level] = btrfs_node_slot(p->buf[level],
						 p->nritems[level], key);
		r = btrfs_path_down(p, level);
		if (r < 0)
			return r;
	}
	p->slot[0] = btrfs_leaf_slot(p->buf[0], p->nritems[0], key);
	if ((uint32_t)p->slot[0] < p->nritems[0])
		return 0;
	if (p->nritems[0] == 0)
		return 1;
	p->slot[0]--;
	return btrfs_path_next(p);
}

/* Step to the next item: 0, 1 past the last item, or an error. */
static int btrfs_path_next(struct btrfs_path *p)
{
	unsigned top = p->tree.level, l;
	int r;

	if ((uint32_t)++p->slot[0] < p->nritems[0])
		return 0;
	for (l = 1; l <= top; l++)
		if ((uint32_t)p->slot[l] + 1 < p->nritems[l])
			break;
	if (l > top)
		return 1;
	p->slot[l]++;
	for (; l > 0; l--) {
		r = btrfs_path_down(p, l);
		if (r < 0)
			return r;
		p->slot[l - 1] = 0;
	}
	return 0;
}

/* Step to the previous item: 0, 1 before the first item, or an error. */
static int btrfs_path_prev(struct btrfs_path *p)
{
	unsigned top = p->tree.level, l;
	int r;

	if (p->slot[0] > 0) {
		p->slot[0]--;
		return 0;
	}
	for (l = 1; l <= top; l++)
		if (p->slot[l] > 0)
			break;
	if (l > top)
		return 1;
	p->slot[l]--;
	for (; l > 0; l--) {
		r = btrfs_path_down(p, l);
		if (r < 0)
			return r;
		p->slot[l - 1] = (int)p->nritems[l - 1] - 1;
	}
	return 0;
}

/* The item under the path: its key, data and size (checked at load). */
static void btrfs_path_item(const struct btrfs_path *p, struct btrfs_key *key,
			    const uint8_t **data, uint32_t *size)
{
	struct btrfs_item it;

	btrfs_item_at(p->buf[0], (unsigned)p->slot[0], &it);
	btrfs_key_get(key, &it.key);
	*data = p->buf[0] + BTRFS_HEADER_SIZE + it.offset;
	*size = it.size;
}

/* The item with exactly @key: 0, -VQ_ENOENT, or an error. */
static int btrfs_lookup(struct btrfs_path *p, const struct btrfs_key *key,
			const uint8_t **data, uint32_t *size)
{
	struct btrfs_key found;
	int r = btrfs_search(p, key);

	if (r < 0)
		return r;
	if (r > 0)
		return -VQ_ENOENT;
	btrfs_path_item(p, &found, data, size);
	return btrfs_key_cmp(&found, key) ? -VQ_ENOENT : 0;
}

/* The first item of (@objectid, @type, any offset): 0, -VQ_ENOENT, or an
 * error; @ret_key gets its key. */
static int btrfs_lookup_first(struct btrfs_path *p, uint64_t objectid,
			      uint8_t type, struct btrfs_key *ret_key,
			      const uint8_t **data, uint32_t *size)
{
	struct btrfs_key key = { objectid, type, 0 };
	int r = btrfs_search(p, &key);

	if (r < 0)
		return r;
	if (r > 0)
		return -VQ_ENOENT;
	btrfs_path_item(p, ret_key, data, size);
	if (ret_key->objectid != objectid || ret_key->type != type)
		return -VQ_ENOENT;
	return 0;
}

static void btrfs_root_tree(const struct btrfs_fs *fs, struct btrfs_tree *ret)
{
	ret->bytenr = fs->root_bytenr;
	ret->generation = fs->root_gen;
	ret->level = fs->root_level;
}

/* ---- subvolumes and inodes ---------------------------------------------- */

/* The ROOT_ITEM of tree @id (any offset: snapshots carry a transid). */
static int btrfs_load_root(struct btrfs_fs *fs, uint64_t id,
			   struct btrfs_root *ret)
{
	struct btrfs_tree rt;
	struct btrfs_path p;
	struct btrfs_root_item ri = { 0 };
	struct btrfs_key k;
	const uint8_t *data;
	uint32_t size;
	int r;

	btrfs_root_tree(fs, &rt);
	btrfs_path_init(&p, fs, &rt);
	r = btrfs_lookup_first(&p, id, BTRFS_ROOT_ITEM_KEY, &k, &data, &size);
	if (r == -VQ_ENOENT)
		r = log_err(-VQ_ECORRUPT, "btrfs %s: subvolume %llu has no "
			    "root item", fs->dev, (unsigned long long)id);
	if (r == 0 && size < sizeof(ri))
		r = log_err(-VQ_ECORRUPT, "btrfs %s: root item of %llu: %u "
			    "bytes", fs->dev, (unsigned long long)id, size);
	if (r == 0) {
		memcpy(&ri, data, sizeof(ri));
		if (ri.level >= BTRFS_MAX_LEVEL || ri.bytenr == 0 ||
		    ri.root_dirid < BTRFS_FIRST_FREE_OBJECTID)
			r = log_err(-VQ_ECORRUPT, "btrfs %s: root item of %llu: "
				    "tree 0x%llx level %u, directory %llu",
				    fs->dev, (unsigned long long)id,
				    (unsigned long long)ri.bytenr, ri.level,
				    (unsigned long long)ri.root_dirid);
	}
	btrfs_path_release(&p);
	if (r < 0)
		return r;
	ret->id = id;
	ret->tree.bytenr = ri.bytenr;
	ret->tree.generation = ri.generation;
	ret->tree.level = ri.level;
	ret->dirid = ri.root_dirid;
	return 0;
}

static int btrfs_read_inode(struct btrfs_path *p, const struct btrfs_root *root,
			    uint64_t ino, struct btrfs_inode *ret)
{
	struct btrfs_key key = { ino, BTRFS_INODE_ITEM_KEY, 0 };
	struct btrfs_inode_item ii;
	const uint8_t *data;
	uint32_t size;
	int r;

	btrfs_path_retarget(p, &root->tree);
	r = btrfs_lookup(p, &key, &data, &size);
	if (r == -VQ_ENOENT)
		return log_err(-VQ_ECORRUPT, "btrfs %s: subvolume %llu: inode "
			       "%llu has no inode item", p->fs->dev,
			       (unsigned long long)root->id,
			       (unsigned long long)ino);
	if (r < 0)
		return r;
	if (size < sizeof(ii))
		return log_err(-VQ_ECORRUPT, "btrfs %s: inode %llu: item of %u "
			       "bytes", p->fs->dev, (unsigned long long)ino,
			       size);
	memcpy(&ii, data, sizeof(ii));
	ret->root = *root;
	ret->ino = ino;
	ret->mode = ii.mode;
	ret->size = ii.size;
	return 0;
}

/* ---- directories -------------------------------------------------------- */

struct btrfs_dirent {
	const char *name;
	size_t name_len;
	struct btrfs_key location;
	uint8_t type;
};

/*
 * The @i-th entry packed into a DIR_ITEM or DIR_INDEX item (names whose
 * hashes collide share one item). *@pos walks the item; returns 1 at the
 * end, 0 with @ret filled, or an error.
 */
static int btrfs_dir_entry(const struct btrfs_fs *fs, const uint8_t *data,
			   uint32_t size, uint32_t *pos,
			   struct btrfs_dirent *ret)
{
	struct btrfs_dir_item di;
	uint32_t left = size - *pos;

	if (*pos >= size)
		return 1;
	if (left < sizeof(di))
		return log_err(-VQ_ECORRUPT, "btrfs %s: directory entry of %u "
			       "bytes", fs->dev, left);
	memcpy(&di, data + *pos, sizeof(di));
	if (di.name_len == 0 || di.name_len > BTRFS_NAME_LEN ||
	    (uint32_t)di.name_len + di.data_len > left - sizeof(di))
		return log_err(-VQ_ECORRUPT, "btrfs %s: directory entry name of "
			       "%u bytes, data %u, in %u", fs->dev, di.name_len,
			       di.data_len, left);
	ret->name = (const char *)data + *pos + sizeof(di);
	ret->name_len = di.name_len;
	btrfs_key_get(&ret->location, &di.location);
	ret->type = di.type;
	*pos += (uint32_t)sizeof(di) + di.name_len + di.data_len;
	return 0;
}

/* Directory @dir's entry called @name (DIR_ITEM, keyed by the name hash). */
static int btrfs_dir_lookup(struct btrfs_path *p, const struct btrfs_root *root,
			    uint64_t dir, const char *name, size_t len,
			    struct btrfs_dirent *ret)
{
	struct btrfs_key key = { dir, BTRFS_DIR_ITEM_KEY,
				 btrfs_name_hash(name, len) };
	const uint8_t *data;
	uint32_t size, pos = 0;
	int r;

	btrfs_path_retarget(p, &root->tree);
	r = btrfs_lookup(p, &key, &data, &size);
	if (r < 0)
		return r;
	while ((r = btrfs_dir_entry(p->fs, data, size, &pos, ret)) == 0)
		if (ret->name_len == len && !memcmp(ret->name, name, len))
			return 0;
	return r < 0 ? r : -VQ_ENOENT;
}

/* ---- file data ---------------------------------------------------------- */

/*
 * btrfs doc §Compression, zstd: a compressed extent is padded with zeros to
 * a sector, and one zstd frame holds the data. The frame's length (RFC 8878
 * §3.1.1), so that the decoder is not handed the padding.
 */
static size_t btrfs_zstd_frame_len(const uint8_t *src, size_t len)
{
	static const uint8_t did_size[4] = { 0, 1, 2, 4 };
	static const uint8_t fcs_size[4] = { 0, 2, 4, 8 };
	size_t pos;
	uint8_t fhd;

	if (len < 5 || get_le32(src) != 0xFD2FB528u)
		return len;
	fhd = src[4];
	pos = 5 + !(fhd & 0x20) + did_size[fhd & 3] +
	      (fhd >> 6 ? fcs_size[fhd >> 6] : (fhd & 0x20) ? 1 : 0);
	for (;;) {
		uint32_t h, bsize;

		if (pos > len || len - pos < 3)
			return len;
		h = src[pos] | src[pos + 1] << 8 | (uint32_t)src[pos + 2] << 16;
		bsize = ((h >> 1) & 3) == 1 ? 1 : h >> 3;
		if (bsize > len - pos - 3)
			return len;
		pos += 3 + bsize;
		if (h & 1)
			break;
	}
	if (fhd & 4)
		pos += 4;
	return VQ_MIN(pos, len);
}

/*
 * btrfs doc §Compression, LZO: le32 total length (itself included), then
 * segments of le32 length + LZO1X data, each at most one sector of output;
 * a segment header never straddles a sector boundary (the rest of the
 * sector is padding then).
 */
static int btrfs_lzo(const struct btrfs_fs *fs, const uint8_t *src, size_t len,
		     uint8_t *dst, size_t cap, size_t *ret_len)
{
	uint32_t sector = fs->sectorsize, total;
	size_t pos = 4, out = 0;

	if (len < 4 || (total = get_le32(src)) < 4 || total > len)
		return -VQ_ECORRUPT;
	while (pos < total && out < cap) {
		size_t room = sector - pos % sector, n = 0;
		uint32_t seg;
		int r;

		if (room < 4) {
			pos += room;
			continue;
		}
		if (total - pos < 4)
			return -VQ_ECORRUPT;
		seg = get_le32(src + pos);
		pos += 4;
		if (seg == 0 || seg > total - pos)
			return -VQ_ECORRUPT;
		r = vq_lzo1x_decompress(src + pos, seg, dst + out,
					VQ_MIN(cap - out, (size_t)sector), &n);
		if (r < 0)
			return r;
		out += n;
		pos += seg;
	}
	*ret_len = out;
	return 0;
}

static const char *btrfs_compress_name(uint8_t alg)
{
	switch (alg) {
	case BTRFS_COMPRESS_ZLIB:
		return "zlib";
	case BTRFS_COMPRESS_LZO:
		return "lzo";
	case BTRFS_COMPRESS_ZSTD:
		return "zstd";
	default:
		return "unknown";
	}
}

/* Decode @len bytes of @alg into exactly @ram bytes at @dst (a short result
 * is zero-filled, as the kernel does). */
static int btrfs_decompress(const struct btrfs_file *f, uint8_t alg,
			    const uint8_t *src, size_t len, uint8_t *dst,
			    size_t ram)
{
	const struct btrfs_fs *fs = f->fs;
	size_t out = 0;
	int r = -VQ_ENOTSUP;

	switch (alg) {
	case BTRFS_COMPRESS_ZLIB:
		r = vq_inflate_zlib(src, len, dst, ram, &out);
		break;
	case BTRFS_COMPRESS_LZO:
		r = btrfs_lzo(fs, src, len, dst, ram, &out);
		break;
	case BTRFS_COMPRESS_ZSTD:
		r = vq_zstd_decompress(src, btrfs_zstd_frame_len(src, len), dst,
				       ram, &out);
		break;
	}
	/* Only a zstd frame with a dictionary, which btrfs never writes. */
	if (r == -VQ_ENOTSUP)
		return log_err(r, "btrfs %s: inode %llu: %s data uses a feature "
			       "not supported", fs->dev,
			       (unsigned long long)f->inode.ino,
			       btrfs_compress_name(alg));
	if (r < 0)
		return log_err(-VQ_ECORRUPT, "btrfs %s: inode %llu: %s data of "
			       "%zu bytes does not decode to %zu (%s)", fs->dev,
			       (unsigned long long)f->inode.ino,
			       btrfs_compress_name(alg), len, ram,
			       vq_strerror(r));
	memset(dst + out, 0, ram - out);
	return 0;
}

/* A compressed extent read into @raw, to be decoded after the batch. */
struct btrfs_zjob {
	uint8_t *raw;
	uint32_t raw_len;
	uint32_t ram;
	uint8_t alg;
	uint64_t addr;  /* disk_bytenr */
	uint64_t skip;  /* bytes of the decoded extent before @dst's */
	uint8_t *dst;
	size_t n;
};

/* The state of one read: the batch of device reads and the pending jobs. */
struct btrfs_reader {
	struct btrfs_file *f;
	struct bdev_batch batch;
	struct btrfs_zjob job[BTRFS_ZJOBS];
	unsigned njobs;
};

/* Room for @ram decoded bytes (at most BTRFS_MAX_COMPRESSED, checked):
 * sized to the extents met, as most are far smaller than the limit. */
static int btrfs_zbuf(struct btrfs_file *f, uint32_t ram)
{
	if (f->zbuf && f->zbuf_cap >= ram)
		return 0;
	plat_free(f->zbuf);
	f->zcache_addr = 0;
	f->zbuf_cap = 0;
	f->zbuf = plat_alloc(ram ? ram : 1);
	if (!f->zbuf)
		return log_err(-VQ_ENOMEM, "btrfs %s: no memory to decompress "
			       "%u bytes", f->fs->dev, ram);
	f->zbuf_cap = ram;
	return 0;
}

/*
 * Decode @src into the part [@skip, @skip + @n) that @dst wants. A whole
 * extent decodes in place; a part goes through f->zbuf, which then keeps
 * it for the next read of the same extent.
 */
static int btrfs_zcopy(struct btrfs_file *f, uint8_t alg, uint64_t addr,
		       const uint8_t *src, size_t len, uint32_t ram,
		       uint64_t skip, uint8_t *dst, size_t n)
{
	int r;

	if (skip == 0 && n == ram)
		return btrfs_decompress(f, alg, src, len, dst, ram);
	r = btrfs_zbuf(f, ram);
	if (r < 0)
		return r;
	f->zcache_addr = 0;
	r = btrfs_decompress(f, alg, src, len, f->zbuf, ram);
	if (r < 0)
		return r;
	if (addr) {
		f->zcache_addr = addr;
		f->zcache_len = ram;
		f->zcache_alg = alg;
	}
	memcpy(dst, f->zbuf + skip, n);
	return 0;
}

static void btrfs_jobs_free(struct btrfs_reader *rd)
{
	for (unsigned i = 0; i < rd->njobs; i++)
		bdev_free(rd->f->fs->base.bd, rd->job[i].raw);
	rd->njobs = 0;
}

/* Read everything batched, then decode the compressed extents. */
static int btrfs_reader_flush(struct btrfs_reader *rd)
{
	int r = bdev_batch_flush(&rd->batch);

	for (unsigned i = 0; i < rd->njobs && !r; i++) {
		struct btrfs_zjob *j = &rd->job[i];

		r = btrfs_zcopy(rd->f, j->alg, j->addr, j->raw, j->raw_len,
				j->ram, j->skip, j->dst, j->n);
	}
	btrfs_jobs_free(rd);
	return r;
}

static int btrfs_extent_error(const struct btrfs_file *f, uint64_t start,
			      const char *what)
{
	return log_err(-VQ_ECORRUPT, "btrfs %s: inode %llu: extent at %llu: %s",
		       f->fs->dev, (unsigned long long)f->inode.ino,
		       (unsigned long long)start, what);
}

/* A compressed regular extent: from the cache, or read into a new job. */
static int btrfs_read_zextent(struct btrfs_reader *rd,
			      const struct btrfs_file_extent_item *e,
			      uint64_t skip, uint8_t *dst, size_t n)
{
	struct btrfs_file *f = rd->f;
	struct btrfs_zjob *j;
	int r;

	if (f->zcache_addr == e->disk_bytenr && f->zcache_len == e->ram_bytes &&
	    f->zcache_alg == e->compression) {
		memcpy(dst, f->zbuf + skip, n);
		return 0;
	}
	if (rd->njobs == BTRFS_ZJOBS) {
		r = btrfs_reader_flush(rd);
		if (r < 0)
			return r;
	}
	j = &rd->job[rd->njobs];
	*j = (struct btrfs_zjob){
		.raw_len = (uint32_t)e->disk_num_bytes,
		.ram = (uint32_t)e->ram_bytes,
		.alg = e->compression,
		.addr = e->disk_bytenr,
		.skip = skip,
		.dst = dst,
		.n = n,
	};
	j->raw = plat_alloc(j->raw_len);
	if (!j->raw)
		return log_err(-VQ_ENOMEM, "btrfs %s: no memory for a compressed "
			       "extent of %u bytes", f->fs->dev, j->raw_len);
	rd->njobs++;
	return btrfs_read_logical(f->fs, &rd->batch, e->disk_bytenr, j->raw,
				  j->raw_len);
}

/* An inline extent: its data (maybe compressed) is the rest of the item. */
static int btrfs_read_inline(struct btrfs_reader *rd, uint64_t start,
			     const uint8_t *item, uint32_t size,
			     const struct btrfs_file_extent_item *e,
			     uint64_t skip, uint8_t *dst, size_t n)
{
	const uint8_t *data = item + BTRFS_FILE_EXTENT_INLINE_DATA;
	uint32_t len = size - BTRFS_FILE_EXTENT_INLINE_DATA;

	if (e->compression == BTRFS_COMPRESS_NONE) {
		if (e->ram_bytes > len)
			return btrfs_extent_error(rd->f, start, "inline data "
						  "shorter than ram_bytes");
		memcpy(dst, data + skip, n);
		return 0;
	}
	if (e->ram_bytes > BTRFS_MAX_COMPRESSED)
		return btrfs_extent_error(rd->f, start, "compressed inline "
					  "extent too large");
	return btrfs_zcopy(rd->f, e->compression, 0, data, len,
			   (uint32_t)e->ram_bytes, skip, dst, n);
}

/*
 * The checks one file extent item must pass: its type and encoding, and
 * that the part of the extent it names lies inside the extent. Sets
 * *@ret_len to the file bytes it covers.
 */
static int btrfs_check_extent(const struct btrfs_file *f, uint64_t start,
			      const struct btrfs_file_extent_item *e,
			      uint32_t size, uint64_t *ret_len)
{
	uint64_t limit;

	if (size < BTRFS_FILE_EXTENT_INLINE_DATA)
		return btrfs_extent_error(f, start, "item too short");
	if (e->encryption || e->other_encoding)
		return log_err(-VQ_ENOTSUP, "btrfs %s: inode %llu: encrypted or "
			       "encoded extent", f->fs->dev,
			       (unsigned long long)f->inode.ino);
	if (e->compression > BTRFS_COMPRESS_ZSTD)
		return log_err(-VQ_ENOTSUP, "btrfs %s: inode %llu: compression "
			       "type %u", f->fs->dev,
			       (unsigned long long)f->inode.ino, e->compression);
	if (e->type == BTRFS_FILE_EXTENT_INLINE) {
		*ret_len = e->ram_bytes;
		return e->ram_bytes > f->fs->nodesize && !e->compression ?
			       btrfs_extent_error(f, start, "inline too long") :
			       0;
	}
	if (e->type != BTRFS_FILE_EXTENT_REG &&
	    e->type != BTRFS_FILE_EXTENT_PREALLOC)
		return btrfs_extent_error(f, start, "unknown type");
	if (size < sizeof(*e))
		return btrfs_extent_error(f, start, "item too short");
	limit = e->compression ? e->ram_bytes : e->disk_num_bytes;
	if (e->offset > limit || e->num_bytes > limit - e->offset ||
	    e->disk_bytenr + e->disk_num_bytes < e->disk_bytenr)
		return btrfs_extent_error(f, start, "range outside the extent");
	if (e->compression && e->disk_bytenr &&
	    (e->ram_bytes > BTRFS_MAX_COMPRESSED || e->disk_num_bytes == 0 ||
	     e->disk_num_bytes > BTRFS_MAX_COMPRESSED))
		return btrfs_extent_error(f, start, "compressed extent too "
					  "large");
	*ret_len = e->num_bytes;
	return 0;
}

/* Bytes [@skip, @skip + @n) of the extent item under rd->f->path. */
static int btrfs_read_piece(struct btrfs_reader *rd, uint64_t start,
			    const uint8_t *item, uint32_t size,
			    const struct btrfs_file_extent_item *e,
			    uint64_t skip, uint8_t *dst, size_t n)
{
	if (e->type == BTRFS_FILE_EXTENT_INLINE)
		return btrfs_read_inline(rd, start, item, size, e, skip, dst, n);
	if (e->type == BTRFS_FILE_EXTENT_PREALLOC || e->disk_bytenr == 0) {
		memset(dst, 0, n);
		return 0;
	}
	if (e->compression)
		return btrfs_read_zextent(rd, e, e->offset + skip, dst, n);
	return btrfs_read_logical(rd->f->fs, &rd->batch,
				  e->disk_bytenr + e->offset + skip, dst, n);
}

/*
 * Put the file's path on the extent item holding @pos, or on the first one
 * after it: 0 when there is an extent item there, 1 when none follows.
 */
static int btrfs_seek_extent(struct btrfs_file *f, uint64_t pos)
{
	struct btrfs_key key = { f->inode.ino, BTRFS_EXTENT_DATA_KEY, pos };
	struct btrfs_key k;
	const uint8_t *data;
	uint32_t size;
	int r = btrfs_search(&f->path, &key);

	if (r < 0)
		return r;
	if (r == 0)
		btrfs_path_item(&f->path, &k, &data, &size);
	if (r > 0 || btrfs_key_cmp(&k, &key) > 0) {
		r = btrfs_path_prev(&f->path);
		if (r < 0)
			return r;
		if (r > 0)
			return btrfs_search(&f->path, &key);
		btrfs_path_item(&f->path, &k, &data, &size);
		if (k.objectid != key.objectid || k.type != key.type)
			r = btrfs_path_next(&f->path);
	}
	return r;
}

static bool btrfs_at_extent(const struct btrfs_file *f)
{
	struct btrfs_key k;
	const uint8_t *data;
	uint32_t size;

	btrfs_path_item(&f->path, &k, &data, &size);
	return k.objectid == f->inode.ino && k.type == BTRFS_EXTENT_DATA_KEY;
}

/* Read a range already checked against the file size. */
static int btrfs_read_data(struct btrfs_file *f, uint64_t pos, uint8_t *buf,
			   size_t len)
{
	struct btrfs_reader *rd;
	uint64_t end = pos + len;
	int r, more;

	if (len == 0)
		return 0;
	rd = plat_alloc(sizeof(*rd));
	if (!rd)
		return log_err(-VQ_ENOMEM, "btrfs %s: no memory to read",
			       f->fs->dev);
	rd->f = f;
	bdev_batch_init(&rd->batch, f->fs->base.bd);
	more = r = btrfs_seek_extent(f, pos);
	while (r >= 0 && pos < end) {
		struct btrfs_file_extent_item e = { 0 };
		struct btrfs_key k;
		const uint8_t *item;
		uint32_t size;
		uint64_t elen = 0, eend;
		size_t n;

		if (more != 0 || !btrfs_at_extent(f)) {
			/* No extent item to the end: a hole (no-holes). */
			memset(buf, 0, (size_t)(end - pos));
			break;
		}
		btrfs_path_item(&f->path, &k, &item, &size);
		memcpy(&e, item, VQ_MIN((size_t)size, sizeof(e)));
		r = btrfs_check_extent(f, k.offset, &e, size, &elen);
		if (r < 0)
			break;
		eend = k.offset + elen < k.offset ? UINT64_MAX : k.offset + elen;
		if (k.offset > pos) {
			n = (size_t)(VQ_MIN(k.offset, end) - pos);
			memset(buf, 0, n);
		} else if (eend > pos) {
			n = (size_t)(VQ_MIN(eend, end) - pos);
			r = btrfs_read_piece(rd, k.offset, item, size, &e,
					     pos - k.offset, buf, n);
		} else {
			more = r = btrfs_path_next(&f->path);
			continue;
		}
		buf += n;
		pos += n;
	}
	if (r >= 0)
		r = btrfs_reader_flush(rd);
	else
		btrfs_jobs_free(rd);
	plat_free(rd);
	return r < 0 ? r : 0;
}

static void btrfs_file_init(struct btrfs_file *f, struct btrfs_fs *fs,
			    const struct btrfs_inode *inode)
{
	memset(f, 0, sizeof(*f));
	f->fs = fs;
	f->inode = *inode;
	btrfs_path_init(&f->path, fs, &inode->root.tree);
}

static void btrfs_file_release(struct btrfs_file *f)
{
	btrfs_path_release(&f->path);
	plat_free(f->zbuf);
	f->zbuf = NULL;
	f->zbuf_cap = 0;
}

/* ---- paths and symbolic links ------------------------------------------ */

static int btrfs_read_link(struct btrfs_fs *fs, const struct btrfs_inode *link,
			   char *buf, size_t cap, size_t *ret_len)
{
	struct btrfs_file *f;
	int r;

	if (link->size == 0 || link->size >= cap)
		return log_err(-VQ_ECORRUPT, "btrfs %s: symlink inode %llu "
			       "target of %llu bytes", fs->dev,
			       (unsigned long long)link->ino,
			       (unsigned long long)link->size);
	f = plat_alloc(sizeof(*f));
	if (!f)
		return log_err(-VQ_ENOMEM, "btrfs %s: no memory for a symlink",
			       fs->dev);
	btrfs_file_init(f, fs, link);
	r = btrfs_read_data(f, 0, (uint8_t *)buf, (size_t)link->size);
	btrfs_file_release(f);
	plat_free(f);
	if (r < 0)
		return r;
	buf[link->size] = '\0';
	if (strlen(buf) != link->size)
		return log_err(-VQ_ECORRUPT, "btrfs %s: symlink inode %llu "
			       "target contains a NUL", fs->dev,
			       (unsigned long long)link->ino);
	*ret_len = (size_t)link->size;
	return 0;
}

/* Path resolution state: the remaining path, rewritten in place when a
 * symlink is followed; @base is the subvolume the path starts in. */
struct btrfs_walk {
	struct btrfs_fs *fs;
	struct btrfs_path path;
	struct btrfs_root base;
	char *buf;    /* BTRFS_PATH_MAX bytes */
	char *target; /* BTRFS_PATH_MAX bytes */
	unsigned hops;
};

/* The inode a directory entry names: in this subvolume, or the top
 * directory of another one. */
static int btrfs_follow_entry(struct btrfs_walk *w, const struct btrfs_inode *dir,
			      const struct btrfs_dirent *de,
			      struct btrfs_inode *ret)
{
	struct btrfs_root sub;
	int r;

	if (de->location.type == BTRFS_INODE_ITEM_KEY)
		return btrfs_read_inode(&w->path, &dir->root,
					de->location.objectid, ret);
	if (de->location.type != BTRFS_ROOT_ITEM_KEY)
		return log_err(-VQ_ECORRUPT, "btrfs %s: directory %llu: entry "
			       "points at key type %u", w->fs->dev,
			       (unsigned long long)dir->ino, de->location.type);
	r = btrfs_load_root(w->fs, de->location.objectid, &sub);
	if (r < 0)
		return r;
	return btrfs_read_inode(&w->path, &sub, sub.dirid, ret);
}

/* The parent of directory @cur: its INODE_REF, or, at the top of a
 * subvolume, the directory its ROOT_BACKREF names. The walk's base
 * subvolume is its own parent, as a mounted subvolume is. */
static int btrfs_parent(struct btrfs_walk *w, struct btrfs_inode *cur)
{
	struct btrfs_root_ref ref;
	struct btrfs_tree rt;
	struct btrfs_root up;
	struct btrfs_key k;
	const uint8_t *data;
	uint32_t size;
	int r;

	if (cur->ino != cur->root.dirid) {
		btrfs_path_retarget(&w->path, &cur->root.tree);
		r = btrfs_lookup_first(&w->path, cur->ino, BTRFS_INODE_REF_KEY,
				       &k, &data, &size);
		if (r == -VQ_ENOENT)
			r = log_err(-VQ_ECORRUPT, "btrfs %s: directory %llu has "
				    "no parent", w->fs->dev,
				    (unsigned long long)cur->ino);
		return r < 0 ? r :
			       btrfs_read_inode(&w->path, &cur->root, k.offset,
						cur);
	}
	if (cur->root.id == w->base.id)
		return 0;
	btrfs_root_tree(w->fs, &rt);
	btrfs_path_retarget(&w->path, &rt);
	r = btrfs_lookup_first(&w->path, cur->root.id, BTRFS_ROOT_BACKREF_KEY,
			       &k, &data, &size);
	if (r == -VQ_ENOENT || (r == 0 && size < sizeof(ref)))
		r = log_err(-VQ_ECORRUPT, "btrfs %s: subvolume %llu has no "
			    "parent", w->fs->dev,
			    (unsigned long long)cur->root.id);
	if (r < 0)
		return r;
	memcpy(&ref, data, sizeof(ref));
	r = btrfs_load_root(w->fs, k.offset, &up);
	return r < 0 ? r : btrfs_read_inode(&w->path, &up, ref.dirid, cur);
}

/* Replace the walk's remaining path by "<target>/<rest>". */
static int btrfs_splice_link(struct btrfs_walk *w, const struct btrfs_inode *link,
			     const char *rest)
{
	size_t tlen = 0, rlen = strlen(rest);
	int r;

	if (++w->hops > BTRFS_MAX_SYMLINK_HOPS)
		return log_err(-VQ_ELOOP, "btrfs %s: more than %u symlinks (at "
			       "inode %llu)", w->fs->dev,
			       BTRFS_MAX_SYMLINK_HOPS,
			       (unsigned long long)link->ino);
	r = btrfs_read_link(w->fs, link, w->target, BTRFS_PATH_MAX, &tlen);
	if (r < 0)
		return r;
	if (tlen + 1 + rlen >= BTRFS_PATH_MAX)
		return log_err(-VQ_E2BIG, "btrfs %s: path through symlink inode "
			       "%llu too long", w->fs->dev,
			       (unsigned long long)link->ino);
	fs_join_link(w->target, tlen, rest, rlen, w->buf);
	return 0;
}

static int btrfs_step(struct btrfs_walk *w, const struct btrfs_inode *dir,
		      const char *name, size_t len, struct btrfs_inode *ret)
{
	struct btrfs_dirent de;
	int r;

	if (!btrfs_is_dir(dir->mode))
		return -VQ_ENOTDIR;
	if (len > BTRFS_NAME_LEN)
		return -VQ_ENOENT;
	r = btrfs_dir_lookup(&w->path, &dir->root, dir->ino, name, len, &de);
	if (r < 0)
		return r;
	return btrfs_follow_entry(w, dir, &de, ret);
}

/*
 * Resolve w->buf from the top of w->base. Symlinks in the middle are always
 * followed, the last one only with @follow_last; relative targets resolve
 * from the directory holding the link, absolute ones from the base.
 */
static int btrfs_walk_path(struct btrfs_walk *w, bool follow_last,
			   struct btrfs_inode *ret)
{
	struct btrfs_inode top, cur, next;
	const char *p = w->buf, *name;
	size_t len;
	int r;

	r = btrfs_read_inode(&w->path, &w->base, w->base.dirid, &top);
	if (r < 0)
		return r;
	cur = top;
	while (fs_next_name(&p, &name, &len)) {
		if (len <= 2 && name[0] == '.' && (len == 1 || name[1] == '.')) {
			if (!btrfs_is_dir(cur.mode))
				return -VQ_ENOTDIR;
			r = len == 2 ? btrfs_parent(w, &cur) : 0;
			if (r < 0)
				return r;
			continue;
		}
		r = btrfs_step(w, &cur, name, len, &next);
		if (r < 0)
			return r;
		if (!btrfs_is_symlink(next.mode) || (!*p && !follow_last)) {
			cur = next;
			continue;
		}
		r = btrfs_splice_link(w, &next, p);
		if (r < 0)
			return r;
		p = w->buf;
		if (*p == '/')
			cur = top;
	}
	*ret = cur;
	return 0;
}

static int btrfs_resolve_in(struct btrfs_fs *fs, uint64_t subvol,
			    const char *path, struct btrfs_inode *ret)
{
	struct btrfs_walk w = { .fs = fs };
	size_t len = strlen(path);
	int r;

	if (len >= BTRFS_PATH_MAX)
		return log_err(-VQ_E2BIG, "btrfs %s: path of %zu bytes too long",
			       fs->dev, len);
	r = btrfs_load_root(fs, subvol, &w.base);
	if (r < 0)
		return r;
	btrfs_path_init(&w.path, fs, &w.base.tree);
	w.buf = plat_alloc(BTRFS_PATH_MAX);
	w.target = plat_alloc(BTRFS_PATH_MAX);
	if (!w.buf || !w.target) {
		r = log_err(-VQ_ENOMEM, "btrfs %s: no memory for path "
			    "resolution", fs->dev);
		goto out;
	}
	memcpy(w.buf, path, len + 1);
	r = btrfs_walk_path(&w, true, ret);
out:
	plat_free(w.target);
	plat_free(w.buf);
	btrfs_path_release(&w.path);
	return r;
}

/*
 * Paths start in the default subvolume, as the file system is mounted.
 * Distributions whose default is a subvolume also write paths from the top
 * of the file system ("/@/boot/vmlinuz", "/root/boot/vmlinuz"); a path not
 * found from the default is tried from the top level.
 */
static int btrfs_resolve(struct btrfs_fs *fs, const char *path,
			 struct btrfs_inode *ret)
{
	int r = btrfs_resolve_in(fs, fs->default_subvol, path, ret);

	if (r == -VQ_ENOENT && fs->default_subvol != BTRFS_FS_TREE_OBJECTID) {
		r = btrfs_resolve_in(fs, BTRFS_FS_TREE_OBJECTID, path, ret);
		if (r == 0)
			log_debug("btrfs %s: %s found from the top level", fs->dev,
				  path);
	}
	return r;
}

/* ---- mount -------------------------------------------------------------- */

/* One superblock copy: 0 when good, -VQ_ENOENT without the magic. */
static int btrfs_check_super(const char *dev, uint64_t at,
			     const struct btrfs_super_block *sb)
{
	if (memcmp(sb->magic, BTRFS_MAGIC, sizeof(sb->magic)))
		return -VQ_ENOENT;
	if (!btrfs_csum_known(sb->csum_type))
		return log_err(-VQ_ENOTSUP, "btrfs %s: checksum type %s (%u) not "
			       "supported", dev, btrfs_csum_name(sb->csum_type),
			       sb->csum_type);
	if (!btrfs_csum_ok(sb->csum_type, (const uint8_t *)sb, BTRFS_SB_SIZE))
		return log_err(-VQ_ECORRUPT, "btrfs %s: superblock at 0x%llx: "
			       "checksum mismatch", dev,
			       (unsigned long long)at);
	if (sb->bytenr != at)
		return log_err(-VQ_ECORRUPT, "btrfs %s: superblock at 0x%llx "
			       "says 0x%llx", dev, (unsigned long long)at,
			       (unsigned long long)sb->bytenr);
	return 0;
}

/*
 * btrfs doc §Superblock: the primary copy, or, when it carries the magic
 * but is damaged, the good mirror of the highest generation.
 */
static int btrfs_read_super(struct blockdev *bd, struct btrfs_super_block *sb)
{
	static const uint64_t at[BTRFS_SB_COPIES] = { BTRFS_SB_OFFSET,
						      64ull << 20, 256ull << 30 };
	struct btrfs_super_block *copy;
	uint64_t best_gen = 0;
	int r, first;

	if (bd->size < BTRFS_SB_OFFSET + BTRFS_SB_SIZE)
		return -VQ_ENOENT;
	r = bdev_read(bd, BTRFS_SB_OFFSET, sb, sizeof(*sb));
	if (r < 0)
		return r;
	first = btrfs_check_super(bd->name, BTRFS_SB_OFFSET, sb);
	if (first != -VQ_ECORRUPT)
		return first;
	copy = plat_alloc(sizeof(*copy));
	if (!copy)
		return log_err(-VQ_ENOMEM, "btrfs %s: no memory", bd->name);
	for (unsigned i = 1; i < BTRFS_SB_COPIES; i++) {
		if (bd->size < at[i] + BTRFS_SB_SIZE)
			continue;
		r = bdev_read(bd, at[i], copy, sizeof(*copy));
		if (r == -VQ_ESTUCK)
			break; /* no copy is worth a disk that would not stop */
		if (r < 0 || btrfs_check_super(bd->name, at[i], copy) < 0 ||
		    copy->generation <= best_gen)
			continue;
		log_warn("btrfs %s: using the superblock copy at 0x%llx",
			 bd->name, (unsigned long long)at[i]);
		best_gen = copy->generation;
		memcpy(sb, copy, sizeof(*sb));
	}
	bdev_free(bd, copy);
	if (r == -VQ_ESTUCK)
		return r;
	return best_gen ? 0 : first;
}

static int btrfs_parse_super(struct btrfs_fs *fs,
			     const struct btrfs_super_block *sb)
{
	uint64_t unknown = sb->incompat_flags & ~BTRFS_INCOMPAT_READABLE;

	if (unknown)
		return log_err(-VQ_ENOTSUP, "btrfs %s: unsupported incompatible "
			       "features 0x%llx", fs->dev,
			       (unsigned long long)unknown);
	if (!btrfs_is_pow2(sb->sectorsize) || sb->sectorsize < BTRFS_MIN_BLOCK ||
	    sb->sectorsize > BTRFS_MAX_BLOCK || !btrfs_is_pow2(sb->nodesize) ||
	    sb->nodesize < sb->sectorsize || sb->nodesize > BTRFS_MAX_BLOCK)
		return log_err(-VQ_ECORRUPT, "btrfs %s: sector size %u, node "
			       "size %u", fs->dev, sb->sectorsize, sb->nodesize);
	if (sb->sys_chunk_array_size > BTRFS_SYS_CHUNK_ARRAY_SIZE ||
	    sb->root_level >= BTRFS_MAX_LEVEL ||
	    sb->chunk_root_level >= BTRFS_MAX_LEVEL)
		return log_err(-VQ_ECORRUPT, "btrfs %s: system chunk array of %u "
			       "bytes, tree levels %u and %u", fs->dev,
			       sb->sys_chunk_array_size, sb->root_level,
			       sb->chunk_root_level);
	fs->sectorsize = sb->sectorsize;
	fs->nodesize = sb->nodesize;
	fs->generation = sb->generation;
	fs->incompat = sb->incompat_flags;
	fs->csum_type = sb->csum_type;
	fs->devid = sb->dev_item.devid;
	fs->num_devices = sb->num_devices;
	memcpy(fs->meta_fsid, fs->incompat & BTRFS_INCOMPAT_METADATA_UUID ?
				      sb->metadata_uuid : sb->fsid,
	       BTRFS_FSID_SIZE);
	fs->root_bytenr = sb->root;
	fs->root_gen = sb->generation;
	fs->root_level = sb->root_level;
	memcpy(fs->base.label, sb->label,
	       VQ_MIN(sizeof(fs->base.label) - 1, sizeof(sb->label)));
	if (sb->log_root)
		log_warn("btrfs %s: a log tree is not replayed; files synced "
			 "since the last commit may read as before", fs->dev);
	return 0;
}

/* btrfs doc §Superblock: the system chunks, (key, chunk item) pairs. */
static int btrfs_sys_chunks(struct btrfs_fs *fs,
			    const struct btrfs_super_block *sb)
{
	const uint8_t *a = sb->sys_chunk_array;
	uint32_t n = sb->sys_chunk_array_size, pos = 0;

	while (pos < n) {
		struct btrfs_chunk_map c;
		struct btrfs_key k;
		size_t size;
		int r;

		if (n - pos < sizeof(struct btrfs_disk_key))
			return log_err(-VQ_ECORRUPT, "btrfs %s: system chunk "
				       "array ends inside a key", fs->dev);
		btrfs_key_get(&k, a + pos);
		pos += sizeof(struct btrfs_disk_key);
		if (k.type != BTRFS_CHUNK_ITEM_KEY)
			return log_err(-VQ_ECORRUPT, "btrfs %s: system chunk "
				       "array holds key type %u", fs->dev,
				       k.type);
		r = btrfs_parse_chunk(fs, k.offset, a + pos, n - pos, &c, &size);
		if (r == 0)
			r = btrfs_add_chunk(fs, &c);
		if (r < 0)
			return r;
		pos += (uint32_t)size;
	}
	if (!fs->nchunks)
		return log_err(-VQ_ECORRUPT, "btrfs %s: no system chunk",
			       fs->dev);
	return 0;
}

/* btrfs doc §Chunk tree: every CHUNK_ITEM joins the map. */
static int btrfs_chunk_tree(struct btrfs_fs *fs,
			    const struct btrfs_super_block *sb)
{
	struct btrfs_tree t = { sb->chunk_root, sb->chunk_root_generation,
				sb->chunk_root_level };
	struct btrfs_key key = { BTRFS_FIRST_CHUNK_TREE_OBJECTID,
				 BTRFS_CHUNK_ITEM_KEY, 0 };
	struct btrfs_path p;
	int r;

	btrfs_path_init(&p, fs, &t);
	for (r = btrfs_search(&p, &key); r == 0; r = btrfs_path_next(&p)) {
		struct btrfs_chunk_map c;
		struct btrfs_key k;
		const uint8_t *data;
		uint32_t size;
		size_t used;

		btrfs_path_item(&p, &k, &data, &size);
		if (k.objectid != key.objectid || k.type != key.type)
			break;
		r = btrfs_parse_chunk(fs, k.offset, data, size, &c, &used);
		if (r == 0)
			r = btrfs_add_chunk(fs, &c);
		if (r < 0)
			break;
	}
	btrfs_path_release(&p);
	return r < 0 ? r : 0;
}

/*
 * This loader sees one device. A file system on several can still be read
 * when every chunk has a whole copy here (RAID1 and its kin); say which
 * chunk has none instead of failing on some file later. RAID5/6 parity
 * layouts are not read at all.
 */
static int btrfs_check_devices(const struct btrfs_fs *fs)
{
	for (unsigned i = 0; i < fs->nchunks; i++) {
		const struct btrfs_chunk_map *c = &fs->chunks[i];
		unsigned m, mirrors = btrfs_chunk_mirrors(c);
		uint64_t stripes = c->type & BTRFS_BG_RAID0 ? c->num_stripes :
				   c->type & BTRFS_BG_RAID10 ?
						c->num_stripes / c->sub_stripes : 1;

		if (c->type & (BTRFS_BG_RAID5 | BTRFS_BG_RAID6))
			return log_err(-VQ_ENOTSUP, "btrfs %s: chunk 0x%llx is "
				       "%s, not supported", fs->dev,
				       (unsigned long long)c->logical,
				       btrfs_profile_name(c->type));
		for (m = 0; m < mirrors; m++) {
			uint64_t s;

			for (s = 0; s < stripes; s++) {
				unsigned per = c->type & BTRFS_BG_RAID10 ?
						       c->sub_stripes : 1;
				unsigned idx = (unsigned)s * per + m;

				if (c->stripe[idx].devid != fs->devid)
					break;
			}
			if (s == stripes)
				break;
		}
		if (m == mirrors)
			return log_err(-VQ_ENOTSUP, "btrfs %s: file system on %llu "
				       "devices: %s chunk 0x%llx has no whole "
				       "copy on this one (devid %llu) and its "
				       "other devices are not read",
				       fs->dev,
				       (unsigned long long)fs->num_devices,
				       btrfs_profile_name(c->type),
				       (unsigned long long)c->logical,
				       (unsigned long long)fs->devid);
	}
	return 0;
}

/* btrfs doc §Subvolumes: the "default" entry of the root tree directory
 * names the subvolume a plain mount shows (the top level without it). */
static int btrfs_find_default(struct btrfs_fs *fs)
{
	static const char name[] = "default";
	struct btrfs_root top = { .id = BTRFS_ROOT_TREE_OBJECTID };
	struct btrfs_dirent de;
	struct btrfs_path p;
	int r;

	btrfs_root_tree(fs, &top.tree);
	btrfs_path_init(&p, fs, &top.tree);
	r = btrfs_dir_lookup(&p, &top, BTRFS_ROOT_TREE_DIR_OBJECTID, name,
			     sizeof(name) - 1, &de);
	btrfs_path_release(&p);
	fs->default_subvol = BTRFS_FS_TREE_OBJECTID;
	if (r == -VQ_ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (de.location.type != BTRFS_ROOT_ITEM_KEY ||
	    (de.location.objectid != BTRFS_FS_TREE_OBJECTID &&
	     (de.location.objectid < BTRFS_FIRST_FREE_OBJECTID ||
	      de.location.objectid > BTRFS_LAST_FREE_OBJECTID)))
		return log_err(-VQ_ECORRUPT, "btrfs %s: default subvolume %llu",
			       fs->dev,
			       (unsigned long long)de.location.objectid);
	fs->default_subvol = de.location.objectid;
	return 0;
}

static int btrfs_check_top(struct btrfs_fs *fs)
{
	struct btrfs_inode top;
	int r = btrfs_resolve_in(fs, fs->default_subvol, "/", &top);

	if (r < 0)
		return r;
	if (!btrfs_is_dir(top.mode))
		return log_err(-VQ_ECORRUPT, "btrfs %s: top directory mode 0x%x",
			       fs->dev, top.mode);
	return 0;
}

static void btrfs_free(struct btrfs_fs *fs)
{
	if (!fs)
		return;
	for (unsigned i = 0; i < BTRFS_CACHE_NODES; i++)
		plat_free(fs->cache[i].buf);
	plat_free(fs->chunks);
	plat_free(fs);
}

static int btrfs_mount_sb(struct btrfs_fs *fs, const struct btrfs_super_block *sb)
{
	int r = btrfs_parse_super(fs, sb);

	if (r == 0)
		r = btrfs_sys_chunks(fs, sb);
	if (r == 0)
		r = btrfs_chunk_tree(fs, sb);
	if (r == 0)
		r = btrfs_check_devices(fs);
	if (r == 0)
		r = btrfs_find_default(fs);
	if (r == 0)
		r = btrfs_check_top(fs);
	return r;
}

static int btrfs_mount(struct blockdev *bd, struct fs **ret)
{
	struct btrfs_super_block *sb = plat_alloc(sizeof(*sb));
	struct btrfs_fs *fs = plat_alloc(sizeof(*fs));
	int r;

	if (!sb || !fs) {
		r = log_err(-VQ_ENOMEM, "btrfs: no memory to mount %s", bd->name);
		goto fail;
	}
	fs->base.ops = &btrfs_fs_ops;
	fs->base.bd = bd;
	fs->base.type = FS_BTRFS;
	fs->dev = bd->name;
	r = btrfs_read_super(bd, sb);
	if (r == 0)
		r = btrfs_mount_sb(fs, sb);
	if (r < 0)
		goto fail;
	log_debug("btrfs %s: %u-byte nodes, %u-byte sectors, %u chunks, "
		  "default subvolume %llu, label \"%s\"", bd->name,
		  fs->nodesize, fs->sectorsize, fs->nchunks,
		  (unsigned long long)fs->default_subvol, fs->base.label);
	bdev_free(bd, sb);
	*ret = &fs->base;
	return 0;
fail:
	bdev_free(bd, sb);
	btrfs_free(fs);
	return r;
}

static void btrfs_unmount(struct fs *fs)
{
	btrfs_free(to_btrfs_fs(fs));
}

/* ---- fs_ops ------------------------------------------------------------- */

static int btrfs_open(struct fs *base, const char *path, struct fs_file **ret)
{
	struct btrfs_fs *fs = to_btrfs_fs(base);
	struct btrfs_inode inode;
	struct btrfs_file *f;
	int r;

	r = btrfs_resolve(fs, path, &inode);
	if (r < 0)
		return r;
	if (!btrfs_is_reg(inode.mode))
		return log_err(btrfs_is_dir(inode.mode) ? -VQ_EINVAL :
							   -VQ_ENOTSUP,
			       "btrfs %s: %s: %s (mode 0x%x)", fs->dev, path,
			       btrfs_is_dir(inode.mode) ? "is a directory" :
							  "not a regular file",
			       inode.mode);
	f = plat_alloc(sizeof(*f));
	if (!f)
		return log_err(-VQ_ENOMEM, "btrfs %s: no memory to open %s",
			       fs->dev, path);
	btrfs_file_init(f, fs, &inode);
	*ret = (struct fs_file *)f;
	return 0;
}

static int btrfs_read(struct fs_file *file, uint64_t offset, void *buf,
		      size_t len)
{
	struct btrfs_file *f = to_btrfs_file(file);
	uint64_t size = f->inode.size;

	if (offset > size || len > size - offset)
		return log_err(-VQ_ERANGE, "btrfs %s: inode %llu: %zu bytes at "
			       "%llu pass the end (%llu bytes)", f->fs->dev,
			       (unsigned long long)f->inode.ino, len,
			       (unsigned long long)offset,
			       (unsigned long long)size);
	return btrfs_read_data(f, offset, buf, len);
}

static uint64_t btrfs_size(const struct fs_file *file)
{
	return ((const struct btrfs_file *)file)->inode.size;
}

static void btrfs_close(struct fs_file *file)
{
	struct btrfs_file *f = to_btrfs_file(file);

	if (!f)
		return;
	btrfs_file_release(f);
	plat_free(f);
}

/* One listing: the directory's DIR_INDEX items in order, and a second path
 * for the inode of each entry. */
struct btrfs_list {
	struct btrfs_walk w;
	struct btrfs_path items;
	struct fs_dirent ent;
};

static int btrfs_list_entry(struct btrfs_list *l, const struct btrfs_inode *dir,
			    const struct btrfs_dirent *de)
{
	struct btrfs_inode inode;
	int r;

	memcpy(l->ent.name, de->name, de->name_len);
	l->ent.name[de->name_len] = '\0';
	if (de->location.type == BTRFS_ROOT_ITEM_KEY) {
		/* A subvolume: a directory, whose tree need not be read. */
		l->ent.is_dir = true;
		l->ent.size = 0;
		return 0;
	}
	r = btrfs_follow_entry(&l->w, dir, de, &inode);
	if (r < 0)
		return r;
	l->ent.is_dir = btrfs_is_dir(inode.mode);
	l->ent.size = inode.size;
	return 0;
}

static int btrfs_list_dir(struct btrfs_list *l, const struct btrfs_inode *dir,
			  fs_dir_fn fn, void *ctx)
{
	struct btrfs_key key = { dir->ino, BTRFS_DIR_INDEX_KEY, 0 };
	int r, stop = 0;

	btrfs_path_init(&l->items, l->w.fs, &dir->root.tree);
	for (r = btrfs_search(&l->items, &key); r == 0;
	     r = btrfs_path_next(&l->items)) {
		struct btrfs_dirent de;
		struct btrfs_key k;
		const uint8_t *data;
		uint32_t size, pos = 0;

		btrfs_path_item(&l->items, &k, &data, &size);
		if (k.objectid != key.objectid || k.type != key.type)
			break;
		while ((r = btrfs_dir_entry(l->w.fs, data, size, &pos, &de)) == 0) {
			r = btrfs_list_entry(l, dir, &de);
			if (r < 0)
				goto out;
			stop = fn(ctx, &l->ent);
			if (stop)
				goto out;
		}
		if (r < 0)
			goto out;
	}
out:
	btrfs_path_release(&l->items);
	return r < 0 ? r : stop;
}

static int btrfs_list(struct fs *base, const char *path, fs_dir_fn fn,
		      void *ctx)
{
	struct btrfs_fs *fs = to_btrfs_fs(base);
	struct btrfs_inode dir;
	struct btrfs_list *l;
	int r;

	r = btrfs_resolve(fs, path, &dir);
	if (r < 0)
		return r;
	if (!btrfs_is_dir(dir.mode))
		return log_err(-VQ_ENOTDIR, "btrfs %s: %s: not a directory",
			       fs->dev, path);
	l = plat_alloc(sizeof(*l));
	if (!l)
		return log_err(-VQ_ENOMEM, "btrfs %s: no memory to list %s",
			       fs->dev, path);
	l->w.fs = fs;
	btrfs_path_init(&l->w.path, fs, &dir.root.tree);
	r = btrfs_list_dir(l, &dir, fn, ctx);
	btrfs_path_release(&l->w.path);
	plat_free(l);
	return r;
}

const struct fs_ops btrfs_fs_ops = {
	.name = "btrfs",
	.mount = btrfs_mount,
	.unmount = btrfs_unmount,
	.open = btrfs_open,
	.read = btrfs_read,
	.size = btrfs_size,
	.close = btrfs_close,
	.list = btrfs_list,
};
