/* SPDX-License-Identifier: MIT */
/*
 * Read-only ext2, ext3 and ext4.
 *
 * On-disk layout as described in the kernel's
 * Documentation/filesystems/ext4/ (cited below as "ext4 doc §<page>"):
 * the superblock at byte 1024, group descriptors after it (or spread over
 * meta groups with meta_bg), an inode table per group, file data mapped by
 * an extent tree (ext4) or by direct/indirect block pointers (ext2/3), and
 * directories as chains of variable-length entries.
 *
 * Nothing read from the disk is trusted: every count, length and block
 * number is checked against the structure that holds it and against the
 * size of the filesystem before it is used. Data goes from the device
 * straight into the caller's buffer, one bdev_read per physically
 * contiguous run.
 */
#include "boot/fs.h"
#include "lib/log.h"
#include "lib/plat.h"

#define EXT4_SB_OFFSET 1024
#define EXT4_MAGIC 0xEF53
#define EXT4_ROOT_INO 2
#define EXT4_GOOD_OLD_INODE_SIZE 128
#define EXT4_MIN_LOG_BLOCK 10
#define EXT4_MAX_LOG_BLOCK 16
#define EXT4_DESC_SIZE_32 32
#define EXT4_DESC_SIZE_64 64
#define EXT4_MAX_DESC_SIZE 1024
#define EXT4_I_BLOCK_SIZE 60
#define EXT4_NDIR_BLOCKS 12
#define EXT4_IND_LEVELS 3

/* ext4 doc §Extent Tree: the kernel refuses trees deeper than 5. */
#define EXT4_EXT_MAGIC 0xF30A
#define EXT4_EXT_MAX_DEPTH 5
#define EXT4_EXT_INIT_MAX_LEN 32768
#define EXT4_EXT_ENTRY_SIZE 12

/* Block caches per tree level: extent nodes below the root, or the
 * indirect, double and triple indirect blocks. */
#define EXT4_CACHE_LEVELS EXT4_EXT_MAX_DEPTH

/* Linux's limits: MAXSYMLINKS is 40, PATH_MAX 4096. */
#define EXT4_MAX_SYMLINK_HOPS 40
#define EXT4_PATH_MAX 4096
#define EXT4_NAME_MAX 255

/* Far beyond any directory a boot loader walks, and a bound on the work a
 * damaged i_size can cause. */
#define EXT4_DIR_MAX (256ull << 20)

/* ext4 doc §Super Block, s_feature_incompat. */
#define EXT4_INCOMPAT_COMPRESSION 0x0001
#define EXT4_INCOMPAT_FILETYPE 0x0002
#define EXT4_INCOMPAT_RECOVER 0x0004
#define EXT4_INCOMPAT_JOURNAL_DEV 0x0008
#define EXT4_INCOMPAT_META_BG 0x0010
#define EXT4_INCOMPAT_EXTENTS 0x0040
#define EXT4_INCOMPAT_64BIT 0x0080
#define EXT4_INCOMPAT_MMP 0x0100
#define EXT4_INCOMPAT_FLEX_BG 0x0200
#define EXT4_INCOMPAT_EA_INODE 0x0400
#define EXT4_INCOMPAT_DIRDATA 0x1000
#define EXT4_INCOMPAT_CSUM_SEED 0x2000
#define EXT4_INCOMPAT_LARGEDIR 0x4000
#define EXT4_INCOMPAT_INLINE_DATA 0x8000
#define EXT4_INCOMPAT_ENCRYPT 0x10000
#define EXT4_INCOMPAT_CASEFOLD 0x20000

/*
 * What a reader needs to know. Not here, so refused: compression (never
 * finished upstream), journal_dev (an external journal, not a filesystem),
 * dirdata (extra data in directory entries), and every unknown bit.
 * inline_data, encrypt and casefold are per-inode matters: the filesystem
 * mounts and the affected inodes are refused or handled one by one.
 */
#define EXT4_INCOMPAT_READABLE                                            \
	(EXT4_INCOMPAT_FILETYPE | EXT4_INCOMPAT_RECOVER |                 \
	 EXT4_INCOMPAT_META_BG | EXT4_INCOMPAT_EXTENTS |                  \
	 EXT4_INCOMPAT_64BIT | EXT4_INCOMPAT_MMP | EXT4_INCOMPAT_FLEX_BG | \
	 EXT4_INCOMPAT_EA_INODE | EXT4_INCOMPAT_CSUM_SEED |               \
	 EXT4_INCOMPAT_LARGEDIR | EXT4_INCOMPAT_INLINE_DATA |             \
	 EXT4_INCOMPAT_ENCRYPT | EXT4_INCOMPAT_CASEFOLD)

#define EXT4_COMPAT_SPARSE_SUPER2 0x0200
#define EXT4_RO_COMPAT_SPARSE_SUPER 0x0001

/* ext4 doc §Index Nodes, i_flags. */
#define EXT4_ENCRYPT_FL 0x00000800
#define EXT4_EXTENTS_FL 0x00080000
#define EXT4_INLINE_DATA_FL 0x10000000

/* ext4 doc §Extended Attributes: attributes inside the inode follow
 * i_extra_isize; inline data past i_block is the value of "system.data". */
#define EXT4_XATTR_MAGIC 0xEA020000u
#define EXT4_XATTR_INDEX_SYSTEM 7
#define EXT4_INLINE_NAME "data"

#define EXT4_S_IFMT 0xF000
#define EXT4_S_IFLNK 0xA000
#define EXT4_S_IFREG 0x8000
#define EXT4_S_IFDIR 0x4000

/* ext4 doc §Super Block (the fields up to s_backup_bgs). */
struct ext4_super_block {
	uint32_t s_inodes_count;
	uint32_t s_blocks_count_lo;
	uint32_t s_r_blocks_count_lo;
	uint32_t s_free_blocks_count_lo;
	uint32_t s_free_inodes_count;
	uint32_t s_first_data_block;
	uint32_t s_log_block_size;
	uint32_t s_log_cluster_size;
	uint32_t s_blocks_per_group;
	uint32_t s_clusters_per_group;
	uint32_t s_inodes_per_group;
	uint32_t s_mtime;
	uint32_t s_wtime;
	uint16_t s_mnt_count;
	uint16_t s_max_mnt_count;
	uint16_t s_magic;
	uint16_t s_state;
	uint16_t s_errors;
	uint16_t s_minor_rev_level;
	uint32_t s_lastcheck;
	uint32_t s_checkinterval;
	uint32_t s_creator_os;
	uint32_t s_rev_level;
	uint16_t s_def_resuid;
	uint16_t s_def_resgid;
	uint32_t s_first_ino;
	uint16_t s_inode_size;
	uint16_t s_block_group_nr;
	uint32_t s_feature_compat;
	uint32_t s_feature_incompat;
	uint32_t s_feature_ro_compat;
	uint8_t s_uuid[16];
	char s_volume_name[16];
	char s_last_mounted[64];
	uint32_t s_algorithm_usage_bitmap;
	uint8_t s_prealloc_blocks;
	uint8_t s_prealloc_dir_blocks;
	uint16_t s_reserved_gdt_blocks;
	uint8_t s_journal_uuid[16];
	uint32_t s_journal_inum;
	uint32_t s_journal_dev;
	uint32_t s_last_orphan;
	uint32_t s_hash_seed[4];
	uint8_t s_def_hash_version;
	uint8_t s_jnl_backup_type;
	uint16_t s_desc_size;
	uint32_t s_default_mount_opts;
	uint32_t s_first_meta_bg;
	uint32_t s_mkfs_time;
	uint32_t s_jnl_blocks[17];
	uint32_t s_blocks_count_hi;
	uint8_t s_pad0[0x24C - 0x154];
	uint32_t s_backup_bgs[2];
};

_Static_assert(offsetof(struct ext4_super_block, s_magic) == 0x38, "sb");
_Static_assert(offsetof(struct ext4_super_block, s_volume_name) == 0x78, "sb");
_Static_assert(offsetof(struct ext4_super_block, s_desc_size) == 0xFE, "sb");
_Static_assert(offsetof(struct ext4_super_block, s_blocks_count_hi) == 0x150,
	       "sb");
_Static_assert(offsetof(struct ext4_super_block, s_backup_bgs) == 0x24C, "sb");

/* ext4 doc §Block Group Descriptors; the _hi half only when 64bit and
 * s_desc_size >= 64. */
struct ext4_group_desc {
	uint32_t bg_block_bitmap_lo;
	uint32_t bg_inode_bitmap_lo;
	uint32_t bg_inode_table_lo;
	uint16_t bg_free_blocks_count_lo;
	uint16_t bg_free_inodes_count_lo;
	uint16_t bg_used_dirs_count_lo;
	uint16_t bg_flags;
	uint32_t bg_exclude_bitmap_lo;
	uint16_t bg_block_bitmap_csum_lo;
	uint16_t bg_inode_bitmap_csum_lo;
	uint16_t bg_itable_unused_lo;
	uint16_t bg_checksum;
	uint32_t bg_block_bitmap_hi;
	uint32_t bg_inode_bitmap_hi;
	uint32_t bg_inode_table_hi;
};

_Static_assert(offsetof(struct ext4_group_desc, bg_inode_table_hi) == 0x28,
	       "gd");

/* ext4 doc §Index Nodes: the 128 bytes every inode size has. */
struct ext4_inode_disk {
	uint16_t i_mode;
	uint16_t i_uid;
	uint32_t i_size_lo;
	uint32_t i_atime;
	uint32_t i_ctime;
	uint32_t i_mtime;
	uint32_t i_dtime;
	uint16_t i_gid;
	uint16_t i_links_count;
	uint32_t i_blocks_lo;
	uint32_t i_flags;
	uint32_t i_osd1;
	uint8_t i_block[EXT4_I_BLOCK_SIZE];
	uint32_t i_generation;
	uint32_t i_file_acl_lo;
	uint32_t i_size_high;
	uint32_t i_obso_faddr;
	uint8_t i_osd2[12];
};

_Static_assert(offsetof(struct ext4_inode_disk, i_block) == 0x28, "inode");
_Static_assert(offsetof(struct ext4_inode_disk, i_size_high) == 0x6C, "inode");
_Static_assert(sizeof(struct ext4_inode_disk) == EXT4_GOOD_OLD_INODE_SIZE,
	       "inode");

/* ext4 doc §Extent Tree. */
struct ext4_extent_header {
	uint16_t eh_magic;
	uint16_t eh_entries;
	uint16_t eh_max;
	uint16_t eh_depth;
	uint32_t eh_generation;
};

struct ext4_extent {
	uint32_t ee_block;
	uint16_t ee_len;
	uint16_t ee_start_hi;
	uint32_t ee_start_lo;
};

struct ext4_extent_idx {
	uint32_t ei_block;
	uint32_t ei_leaf_lo;
	uint16_t ei_leaf_hi;
	uint16_t ei_unused;
};

_Static_assert(sizeof(struct ext4_extent_header) == EXT4_EXT_ENTRY_SIZE, "eh");
_Static_assert(sizeof(struct ext4_extent) == EXT4_EXT_ENTRY_SIZE, "ee");
_Static_assert(sizeof(struct ext4_extent_idx) == EXT4_EXT_ENTRY_SIZE, "ei");

/* ext4 doc §Directory Entries (ext4_dir_entry_2); the name follows. */
struct ext4_dir_entry {
	uint32_t inode;
	uint16_t rec_len;
	uint8_t name_len;
	uint8_t file_type;
};

struct ext4_xattr_entry {
	uint8_t e_name_len;
	uint8_t e_name_index;
	uint16_t e_value_offs; /* from the first entry */
	uint32_t e_value_inum;
	uint32_t e_value_size;
	uint32_t e_hash;
	/* the name follows; entries are padded to 4 bytes */
};

#define EXT4_DIRENT_HEADER sizeof(struct ext4_dir_entry)
/* The smallest entry the kernel accepts: an 8-byte header and a 1-byte
 * name, rounded up to 4. */
#define EXT4_DIRENT_MIN 12

struct ext4_fs {
	struct fs base;
	uint32_t log_block_size;
	uint32_t block_size;
	uint64_t blocks_count;
	uint32_t first_data_block;
	uint32_t blocks_per_group;
	uint32_t inodes_per_group;
	uint32_t inodes_count;
	uint32_t groups_count;
	uint32_t inode_size;
	uint32_t desc_size;
	uint32_t descs_per_block;
	uint64_t itable_blocks;
	uint32_t feature_compat;
	uint32_t feature_incompat;
	uint32_t feature_ro_compat;
	uint32_t first_meta_bg;
	uint32_t backup_bgs[2];
	/* The last group whose inode table was looked up. */
	uint32_t cached_group;
	uint64_t cached_itable;
};

struct ext4_inode {
	uint32_t ino;
	uint16_t mode;
	uint32_t flags;
	uint64_t size;
	uint8_t i_block[EXT4_I_BLOCK_SIZE];
};

/*
 * An open inode: the filesystem, the inode, and one cached block per tree
 * level so that walking the map for consecutive runs rereads nothing.
 */
struct ext4_file {
	struct ext4_fs *fs;
	struct ext4_inode inode;
	uint64_t cache_blk[EXT4_CACHE_LEVELS]; /* 0: empty */
	uint8_t *cache_buf[EXT4_CACHE_LEVELS];
	/* Inline data: i_block then the system.data value, once loaded. */
	uint8_t *inline_buf;
	uint32_t inline_len;
};

/* Logical blocks mapped to consecutive physical blocks, or to nothing (a
 * hole or an unwritten extent: reads as zeros). */
struct ext4_run {
	uint64_t pblk; /* 0 for zeros */
	uint64_t len;  /* blocks, at least 1 */
};

static struct ext4_fs *to_ext4_fs(struct fs *fs)
{
	return (struct ext4_fs *)fs;
}

static struct ext4_file *to_ext4_file(struct fs_file *f)
{
	return (struct ext4_file *)f;
}

static bool ext4_is_dir(const struct ext4_inode *inode)
{
	return (inode->mode & EXT4_S_IFMT) == EXT4_S_IFDIR;
}

static bool ext4_is_reg(const struct ext4_inode *inode)
{
	return (inode->mode & EXT4_S_IFMT) == EXT4_S_IFREG;
}

static bool ext4_is_symlink(const struct ext4_inode *inode)
{
	return (inode->mode & EXT4_S_IFMT) == EXT4_S_IFLNK;
}

/* ---- superblock and group descriptors ----------------------------------- */

static bool ext4_is_power_of(uint32_t a, uint32_t b)
{
	while (a > 1 && a % b == 0)
		a /= b;
	return a == 1;
}

/*
 * ext4 doc §Layout: whether group @g starts with a superblock backup (and
 * so, with meta_bg, the descriptor block sits one block later).
 */
static bool ext4_group_has_super(const struct ext4_fs *fs, uint64_t g)
{
	if (g == 0)
		return true;
	if (fs->feature_compat & EXT4_COMPAT_SPARSE_SUPER2)
		return g == fs->backup_bgs[0] || g == fs->backup_bgs[1];
	if (g == 1 || !(fs->feature_ro_compat & EXT4_RO_COMPAT_SPARSE_SUPER))
		return true;
	if (g > UINT32_MAX || !(g & 1))
		return false;
	return ext4_is_power_of((uint32_t)g, 3) ||
	       ext4_is_power_of((uint32_t)g, 5) ||
	       ext4_is_power_of((uint32_t)g, 7);
}

/*
 * ext4 doc §Meta Block Groups: descriptor block @i follows the superblock,
 * unless meta_bg moved it (i >= s_first_meta_bg) into the first group of
 * meta group @i.
 */
static uint64_t ext4_desc_block(const struct ext4_fs *fs, uint32_t i)
{
	uint64_t g;

	if (!(fs->feature_incompat & EXT4_INCOMPAT_META_BG) ||
	    i < fs->first_meta_bg)
		return (uint64_t)fs->first_data_block + 1 + i;
	g = (uint64_t)i * fs->descs_per_block;
	return fs->first_data_block + g * fs->blocks_per_group +
	       (ext4_group_has_super(fs, g) ? 1 : 0);
}

static int ext4_check_itable(const struct ext4_fs *fs, uint32_t group,
			     uint64_t itable)
{
	if (itable <= fs->first_data_block || itable >= fs->blocks_count ||
	    fs->itable_blocks > fs->blocks_count - itable)
		return log_err(-VQ_ECORRUPT,
			       "ext4: group %u inode table at block %llu "
			       "(%llu blocks) beyond filesystem (%llu blocks)",
			       group, (unsigned long long)itable,
			       (unsigned long long)fs->itable_blocks,
			       (unsigned long long)fs->blocks_count);
	return 0;
}

static int ext4_inode_table(struct ext4_fs *fs, uint32_t group,
			    uint64_t *ret)
{
	struct ext4_group_desc gd = { 0 };
	uint64_t blk, itable;
	size_t len;
	int r;

	if (fs->cached_itable && fs->cached_group == group) {
		*ret = fs->cached_itable;
		return 0;
	}
	blk = ext4_desc_block(fs, group / fs->descs_per_block);
	if (blk >= fs->blocks_count)
		return log_err(-VQ_ECORRUPT,
			       "ext4: descriptor of group %u at block %llu "
			       "beyond filesystem (%llu blocks)",
			       group, (unsigned long long)blk,
			       (unsigned long long)fs->blocks_count);
	len = VQ_MIN((size_t)fs->desc_size, sizeof(gd));
	r = bdev_read(fs->base.bd,
		      (blk << fs->log_block_size) +
			      (uint64_t)(group % fs->descs_per_block) *
				      fs->desc_size,
		      &gd, len);
	if (r < 0)
		return r;
	itable = gd.bg_inode_table_lo;
	if (fs->desc_size >= EXT4_DESC_SIZE_64)
		itable |= (uint64_t)gd.bg_inode_table_hi << 32;
	r = ext4_check_itable(fs, group, itable);
	if (r < 0)
		return r;
	fs->cached_group = group;
	fs->cached_itable = itable;
	*ret = itable;
	return 0;
}

/* ---- inodes ------------------------------------------------------------- */

/*
 * The largest size an inode's map can describe: 2^32 blocks for extents
 * (32-bit logical block numbers), 12 + p + p^2 + p^3 blocks for block maps
 * with p pointers per block. Inline data lives in the inode.
 */
static uint64_t ext4_max_size(const struct ext4_fs *fs,
			      const struct ext4_inode *inode)
{
	uint32_t shift = fs->log_block_size - 2;
	uint64_t blocks;

	if (inode->flags & EXT4_INLINE_DATA_FL)
		return EXT4_I_BLOCK_SIZE + fs->inode_size;
	if (inode->flags & EXT4_EXTENTS_FL)
		return (uint64_t)1 << (32 + fs->log_block_size);
	blocks = EXT4_NDIR_BLOCKS + ((uint64_t)1 << shift) +
		 ((uint64_t)1 << 2 * shift) + ((uint64_t)1 << 3 * shift);
	return blocks << fs->log_block_size;
}

/* Byte offset of inode @ino on the device. */
static int ext4_inode_offset(struct ext4_fs *fs, uint32_t ino, uint64_t *ret)
{
	uint32_t group, index;
	uint64_t itable = 0;
	int r;

	if (ino == 0 || ino > fs->inodes_count)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u out of range (1..%u)", ino,
			       fs->inodes_count);
	group = (ino - 1) / fs->inodes_per_group;
	index = (ino - 1) % fs->inodes_per_group;
	r = ext4_inode_table(fs, group, &itable);
	if (r < 0)
		return r;
	*ret = (itable << fs->log_block_size) + (uint64_t)index * fs->inode_size;
	return 0;
}

static int ext4_read_inode(struct ext4_fs *fs, uint32_t ino,
			   struct ext4_inode *ret)
{
	struct ext4_inode_disk d;
	struct ext4_inode inode;
	uint64_t off = 0;
	int r;

	r = ext4_inode_offset(fs, ino, &off);
	if (r < 0)
		return r;
	r = bdev_read(fs->base.bd, off, &d, sizeof(d));
	if (r < 0)
		return r;
	inode.ino = ino;
	inode.mode = d.i_mode;
	inode.flags = d.i_flags;
	inode.size = d.i_size_lo | (uint64_t)d.i_size_high << 32;
	memcpy(inode.i_block, d.i_block, sizeof(inode.i_block));
	if (inode.size > ext4_max_size(fs, &inode))
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u size %llu exceeds what its map "
			       "can hold (%llu)",
			       ino, (unsigned long long)inode.size,
			       (unsigned long long)ext4_max_size(fs, &inode));
	*ret = inode;
	return 0;
}

/* ---- block mapping ------------------------------------------------------ */

static int ext4_check_run(const struct ext4_file *f, const char *what,
			  uint64_t blk, uint64_t count)
{
	const struct ext4_fs *fs = f->fs;

	if (blk <= fs->first_data_block)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u %s at block %llu inside the "
			       "superblock area",
			       f->inode.ino, what, (unsigned long long)blk);
	if (blk >= fs->blocks_count || count > fs->blocks_count - blk)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u %s at block %llu beyond "
			       "filesystem (%llu blocks)",
			       f->inode.ino, what, (unsigned long long)blk,
			       (unsigned long long)fs->blocks_count);
	return 0;
}

/* Load block @blk (a map node at tree level @level) through the cache. */
static int ext4_load_node(struct ext4_file *f, unsigned level, uint64_t blk,
			  const uint8_t **ret)
{
	struct ext4_fs *fs = f->fs;
	int r;

	if (f->cache_blk[level] != blk) {
		if (!f->cache_buf[level]) {
			f->cache_buf[level] = plat_alloc(fs->block_size);
			if (!f->cache_buf[level])
				return log_err(-VQ_ENOMEM,
					       "ext4: no memory for a %u-byte "
					       "map block",
					       fs->block_size);
		}
		f->cache_blk[level] = 0;
		r = bdev_read(fs->base.bd, blk << fs->log_block_size,
			      f->cache_buf[level], fs->block_size);
		if (r < 0)
			return r;
		f->cache_blk[level] = blk;
	}
	*ret = f->cache_buf[level];
	return 0;
}

static int ext4_ext_header(const struct ext4_file *f, const uint8_t *node,
			   size_t size, int want_depth,
			   struct ext4_extent_header *ret)
{
	struct ext4_extent_header h;
	size_t room = (size - sizeof(h)) / EXT4_EXT_ENTRY_SIZE;
	uint32_t ino = f->inode.ino;

	memcpy(&h, node, sizeof(h));
	if (h.eh_magic != EXT4_EXT_MAGIC)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u extent header magic 0x%04x, "
			       "expected 0x%04x",
			       ino, h.eh_magic, EXT4_EXT_MAGIC);
	if (h.eh_depth > EXT4_EXT_MAX_DEPTH)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u extent depth %u exceeds %u", ino,
			       h.eh_depth, EXT4_EXT_MAX_DEPTH);
	if (want_depth >= 0 && h.eh_depth != want_depth)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u extent node depth %u, parent "
			       "expects %d",
			       ino, h.eh_depth, want_depth);
	if (h.eh_max > room || h.eh_entries > h.eh_max)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u extent node has %u entries, max "
			       "%u, room for %zu",
			       ino, h.eh_entries, h.eh_max, room);
	*ret = h;
	return 0;
}

/* The first field of extents and index entries alike: a logical block. */
static uint32_t ext4_ext_lblk(const uint8_t *node, unsigned i)
{
	return get_le32(node + EXT4_EXT_ENTRY_SIZE * (1 + (size_t)i));
}

/* Index of the last entry starting at or before @lblk, or -1. A binary
 * search: on a corrupt, unsorted node it still ends, and the caller checks
 * what it finds. */
static int ext4_ext_find(const uint8_t *node, unsigned entries, uint32_t lblk)
{
	int lo = 0, hi = (int)entries - 1, found = -1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (ext4_ext_lblk(node, (unsigned)mid) <= lblk) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

/* Where the entry after @i starts; @limit when @i is the last. */
static uint64_t ext4_ext_next(const uint8_t *node, unsigned entries, int i,
			      uint64_t limit)
{
	if (i + 1 < (int)entries)
		return VQ_MIN((uint64_t)ext4_ext_lblk(node, (unsigned)(i + 1)),
			      limit);
	return limit;
}

static int ext4_ext_leaf(const struct ext4_file *f, const uint8_t *node,
			 int i, uint32_t lblk, uint64_t next,
			 struct ext4_run *ret)
{
	struct ext4_extent e;
	uint64_t start, len, skip;
	int r;

	if (i < 0) {
		ret->pblk = 0;
		ret->len = next - lblk;
		return 0;
	}
	memcpy(&e, node + EXT4_EXT_ENTRY_SIZE * (1 + (size_t)i), sizeof(e));
	/* ext4 doc §Extent Tree: ee_len above 32768 marks an unwritten
	 * extent of ee_len - 32768 blocks, which reads as zeros. */
	len = e.ee_len > EXT4_EXT_INIT_MAX_LEN ?
		      e.ee_len - EXT4_EXT_INIT_MAX_LEN :
		      e.ee_len;
	start = (uint64_t)e.ee_start_hi << 32 | e.ee_start_lo;
	if (len == 0)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u extent at logical block %u has "
			       "length 0",
			       f->inode.ino, e.ee_block);
	r = ext4_check_run(f, "extent", start, len);
	if (r < 0)
		return r;
	skip = lblk - e.ee_block;
	if (skip >= len) {
		/* Past this extent: a hole up to the next one. */
		ret->pblk = 0;
		ret->len = next - lblk;
		return 0;
	}
	ret->pblk = e.ee_len > EXT4_EXT_INIT_MAX_LEN ? 0 : start + skip;
	ret->len = len - skip;
	return 0;
}

static int ext4_ext_child(struct ext4_file *f, const uint8_t *node, int i,
			  unsigned level, const uint8_t **ret)
{
	struct ext4_extent_idx idx;
	uint64_t leaf;
	int r;

	memcpy(&idx, node + EXT4_EXT_ENTRY_SIZE * (1 + (size_t)i), sizeof(idx));
	leaf = (uint64_t)idx.ei_leaf_hi << 32 | idx.ei_leaf_lo;
	r = ext4_check_run(f, "extent node", leaf, 1);
	if (r < 0)
		return r;
	return ext4_load_node(f, level, leaf, ret);
}

/*
 * ext4 doc §Extent Tree: walk from the root in i_block down to the leaf
 * covering @lblk. Each level must be exactly one shallower than its parent,
 * so the walk ends after at most EXT4_EXT_MAX_DEPTH blocks.
 */
static int ext4_ext_map(struct ext4_file *f, uint32_t lblk,
			struct ext4_run *ret)
{
	const uint8_t *node = f->inode.i_block;
	size_t size = EXT4_I_BLOCK_SIZE;
	uint64_t limit = (uint64_t)1 << 32;
	int want = -1;

	for (unsigned level = 0;; level++) {
		struct ext4_extent_header h = { 0 };
		uint64_t next;
		int i, r;

		r = ext4_ext_header(f, node, size, want, &h);
		if (r < 0)
			return r;
		i = ext4_ext_find(node, h.eh_entries, lblk);
		next = ext4_ext_next(node, h.eh_entries, i, limit);
		if (next <= lblk)
			return log_err(-VQ_ECORRUPT,
				       "ext4: inode %u extents out of order "
				       "near logical block %u",
				       f->inode.ino, lblk);
		if (h.eh_depth == 0)
			return ext4_ext_leaf(f, node, i, lblk, next, ret);
		if (i < 0) {
			/* Before the first subtree: a hole. */
			ret->pblk = 0;
			ret->len = next - lblk;
			return 0;
		}
		r = ext4_ext_child(f, node, i, level, &node);
		if (r < 0)
			return r;
		size = f->fs->block_size;
		want = h.eh_depth - 1;
		limit = next;
	}
}

/* A run in an array of @count block pointers from index @i: either zeros
 * (holes) or physically consecutive blocks. */
static int ext4_ptr_run(const struct ext4_file *f, const uint8_t *ptrs,
			uint64_t count, uint64_t i, struct ext4_run *ret)
{
	uint32_t first = get_le32(ptrs + 4 * i);
	uint64_t n = 1;
	int r;

	if (first == 0) {
		while (i + n < count && get_le32(ptrs + 4 * (i + n)) == 0)
			n++;
		ret->pblk = 0;
		ret->len = n;
		return 0;
	}
	while (i + n < count && get_le32(ptrs + 4 * (i + n)) == first + n)
		n++;
	r = ext4_check_run(f, "block", first, n);
	if (r < 0)
		return r;
	ret->pblk = first;
	ret->len = n;
	return 0;
}

/*
 * ext2/3 block map: i_block[0..11] point at data, [12] at a block of
 * pointers, [13] at a block of pointers to those, [14] one level more.
 * A zero pointer at any level is a hole covering its whole subtree.
 */
static int ext4_bmap(struct ext4_file *f, uint64_t lblk, struct ext4_run *ret)
{
	uint32_t shift = f->fs->log_block_size - 2; /* log2 pointers per block */
	uint64_t per = (uint64_t)1 << shift;
	unsigned levels = 1;
	uint32_t blk;

	if (lblk < EXT4_NDIR_BLOCKS)
		return ext4_ptr_run(f, f->inode.i_block, EXT4_NDIR_BLOCKS,
				    lblk, ret);
	lblk -= EXT4_NDIR_BLOCKS;
	while (lblk >= (uint64_t)1 << (shift * levels)) {
		lblk -= (uint64_t)1 << (shift * levels);
		if (++levels > EXT4_IND_LEVELS)
			return log_err(-VQ_ECORRUPT,
				       "ext4: inode %u block beyond triple "
				       "indirect",
				       f->inode.ino);
	}
	blk = get_le32(f->inode.i_block + 4 * (EXT4_NDIR_BLOCKS - 1 + levels));
	for (unsigned l = 0; l < levels; l++) {
		uint32_t below = shift * (levels - 1 - l);
		uint64_t span = (uint64_t)1 << (below + shift);
		const uint8_t *ptrs;
		int r;

		if (blk == 0) {
			ret->pblk = 0;
			ret->len = span - (lblk & (span - 1));
			return 0;
		}
		r = ext4_check_run(f, "indirect block", blk, 1);
		if (r < 0)
			return r;
		r = ext4_load_node(f, l, blk, &ptrs);
		if (r < 0)
			return r;
		if (l + 1 == levels)
			return ext4_ptr_run(f, ptrs, per, lblk & (per - 1), ret);
		blk = get_le32(ptrs + 4 * ((lblk >> below) & (per - 1)));
	}
	return log_err(-VQ_ECORRUPT, "ext4: inode %u block map walk", f->inode.ino);
}

static int ext4_map(struct ext4_file *f, uint64_t lblk, struct ext4_run *ret)
{
	if (!(f->inode.flags & EXT4_EXTENTS_FL))
		return ext4_bmap(f, lblk, ret);
	if (lblk > UINT32_MAX)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u logical block %llu beyond the "
			       "extent range",
			       f->inode.ino, (unsigned long long)lblk);
	return ext4_ext_map(f, (uint32_t)lblk, ret);
}

/* The longest run from @lblk, up to @max blocks, merging map entries that
 * continue each other on disk (or are all zeros). */
static int ext4_run_at(struct ext4_file *f, uint64_t lblk, uint64_t max,
		       struct ext4_run *ret)
{
	struct ext4_run run, next;
	int r;

	r = ext4_map(f, lblk, &run);
	if (r < 0)
		return r;
	run.len = VQ_MIN(run.len, max);
	while (run.len < max) {
		r = ext4_map(f, lblk + run.len, &next);
		if (r < 0)
			return r;
		if (run.pblk ? next.pblk != run.pblk + run.len : next.pblk != 0)
			break;
		run.len += VQ_MIN(next.len, max - run.len);
	}
	*ret = run;
	return 0;
}

/* ---- file data ---------------------------------------------------------- */

static void ext4_file_init(struct ext4_file *f, struct ext4_fs *fs,
			   const struct ext4_inode *inode)
{
	memset(f, 0, sizeof(*f));
	f->fs = fs;
	f->inode = *inode;
}

static void ext4_file_release(struct ext4_file *f)
{
	/* Blocks read into: kept if the disk would not stop. */
	for (unsigned i = 0; i < EXT4_CACHE_LEVELS; i++) {
		bdev_free(f->fs->base.bd, f->cache_buf[i]);
		f->cache_buf[i] = NULL;
		f->cache_blk[i] = 0;
	}
	plat_free(f->inline_buf);
	f->inline_buf = NULL;
	f->inline_len = 0;
}

/* Where the in-inode attributes of @raw (a whole inode) start, or 0. */
static int ext4_xattr_start(const struct ext4_file *f, const uint8_t *raw,
			    uint32_t *ret)
{
	uint32_t isize = f->fs->inode_size;
	uint32_t extra, start;

	*ret = 0;
	/* ext4 doc §Index Nodes: i_extra_isize exists past 128 bytes. */
	if (isize <= EXT4_GOOD_OLD_INODE_SIZE + 2)
		return 0;
	extra = get_le16(raw + EXT4_GOOD_OLD_INODE_SIZE);
	if (extra % 4 || extra > isize - EXT4_GOOD_OLD_INODE_SIZE)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u i_extra_isize %u of %u", f->inode.ino,
			       extra, isize - EXT4_GOOD_OLD_INODE_SIZE);
	start = EXT4_GOOD_OLD_INODE_SIZE + extra;
	if (isize - start >= 4 && get_le32(raw + start) == EXT4_XATTR_MAGIC)
		*ret = start + 4;
	return 0;
}

static bool ext4_is_inline_value(const struct ext4_xattr_entry *e,
				 const uint8_t *name)
{
	return e->e_name_index == EXT4_XATTR_INDEX_SYSTEM &&
	       e->e_name_len == sizeof(EXT4_INLINE_NAME) - 1 &&
	       !memcmp(name, EXT4_INLINE_NAME, e->e_name_len);
}

/* The system.data value among the entries from @base: offset and length
 * within @raw, length 0 when there is none. A list ends with 4 zero bytes
 * or at the end of the inode. */
static int ext4_inline_value(const struct ext4_file *f, const uint8_t *raw,
			     uint32_t base, uint32_t *ret_off, uint32_t *ret_len)
{
	uint32_t isize = f->fs->inode_size, pos = base;

	while (isize - pos >= 4 && get_le32(raw + pos) != 0) {
		struct ext4_xattr_entry e;
		uint32_t size = 0;

		if (isize - pos >= sizeof(e)) {
			memcpy(&e, raw + pos, sizeof(e));
			size = VQ_ALIGN_UP((uint32_t)sizeof(e) + e.e_name_len, 4u);
		}
		if (size == 0 || size > isize - pos)
			return log_err(-VQ_ECORRUPT,
				       "ext4: inode %u attribute at %u runs past "
				       "the inode (%u bytes)",
				       f->inode.ino, pos, isize);
		if (ext4_is_inline_value(&e, raw + pos + sizeof(e))) {
			if (e.e_value_inum != 0 || e.e_value_offs > isize - base ||
			    e.e_value_size > isize - base - e.e_value_offs)
				return log_err(-VQ_ECORRUPT,
					       "ext4: inode %u inline data of %u "
					       "bytes at %u outside the inode",
					       f->inode.ino, e.e_value_size,
					       e.e_value_offs);
			*ret_off = base + e.e_value_offs;
			*ret_len = e.e_value_size;
			return 0;
		}
		pos += size;
	}
	*ret_off = 0;
	*ret_len = 0;
	return 0;
}

static int ext4_inline_gather(struct ext4_file *f, const uint8_t *raw)
{
	uint32_t base = 0, off = 0, len = 0;
	int r;

	r = ext4_xattr_start(f, raw, &base);
	if (r == 0 && base)
		r = ext4_inline_value(f, raw, base, &off, &len);
	if (r < 0)
		return r;
	if (f->inode.size > EXT4_I_BLOCK_SIZE + (uint64_t)len)
		return log_err(-VQ_ECORRUPT,
			       "ext4: inode %u has %llu bytes, inline data "
			       "holds %u",
			       f->inode.ino, (unsigned long long)f->inode.size,
			       EXT4_I_BLOCK_SIZE + len);
	f->inline_buf = plat_alloc(EXT4_I_BLOCK_SIZE + len);
	if (!f->inline_buf)
		return log_err(-VQ_ENOMEM, "ext4: no memory for inline data");
	memcpy(f->inline_buf, f->inode.i_block, EXT4_I_BLOCK_SIZE);
	memcpy(f->inline_buf + EXT4_I_BLOCK_SIZE, raw + off, len);
	f->inline_len = EXT4_I_BLOCK_SIZE + len;
	return 0;
}

/*
 * ext4 doc §Inline Data: the first 60 bytes live in i_block, the rest in
 * the "system.data" attribute inside the inode. Gather both once.
 */
static int ext4_load_inline(struct ext4_file *f)
{
	struct ext4_fs *fs = f->fs;
	uint64_t off = 0;
	uint8_t *raw;
	int r;

	if (f->inline_buf)
		return 0;
	r = ext4_inode_offset(fs, f->inode.ino, &off);
	if (r < 0)
		return r;
	raw = plat_alloc(fs->inode_size);
	if (!raw)
		return log_err(-VQ_ENOMEM, "ext4: no memory for inode %u",
			       f->inode.ino);
	r = bdev_read(fs->base.bd, off, raw, fs->inode_size);
	if (r == 0)
		r = ext4_inline_gather(f, raw);
	bdev_free(fs->base.bd, raw);
	return r;
}

static int ext4_read_inline(struct ext4_file *f, uint64_t offset,
			    uint8_t *buf, size_t len)
{
	int r = ext4_load_inline(f);

	if (r < 0)
		return r;
	/* ext4_inline_gather() checked i_size against what was gathered. */
	memcpy(buf, f->inline_buf + offset, len);
	return 0;
}

/* Read a range already checked against i_size. */
static int ext4_read_data(struct ext4_file *f, uint64_t offset, uint8_t *buf,
			  size_t len)
{
	struct ext4_fs *fs = f->fs;
	uint32_t bs = fs->block_size;

	struct bdev_batch batch;
	int r = 0;

	if (f->inode.flags & EXT4_INLINE_DATA_FL)
		return ext4_read_inline(f, offset, buf, len);
	/* Extents go to the device together: several requests in flight. */
	bdev_batch_init(&batch, fs->base.bd);
	while (len > 0 && !r) {
		uint64_t lblk = offset >> fs->log_block_size;
		uint32_t in = (uint32_t)(offset & (bs - 1));
		uint64_t want = ((uint64_t)in + len + bs - 1) >> fs->log_block_size;
		struct ext4_run run;
		size_t n;

		r = ext4_run_at(f, lblk, want, &run);
		if (r < 0)
			break;
		n = (size_t)VQ_MIN((run.len << fs->log_block_size) - in,
				   (uint64_t)len);
		if (run.pblk == 0)
			memset(buf, 0, n);
		else
			r = bdev_batch_add(&batch,
					   (run.pblk << fs->log_block_size) + in,
					   buf, n);
		buf += n;
		offset += n;
		len -= n;
	}
	/* Nothing was sent yet for the gathered pieces: an error drops them. */
	return r ? r : bdev_batch_flush(&batch);
}

static int ext4_read_checked(struct ext4_file *f, uint64_t offset, void *buf,
			     size_t len)
{
	uint64_t size = f->inode.size;

	if (offset > size || len > size - offset)
		return log_err(-VQ_ERANGE,
			       "ext4: inode %u: %zu bytes at %llu pass the end "
			       "(%llu bytes)",
			       f->inode.ino, len, (unsigned long long)offset,
			       (unsigned long long)size);
	return ext4_read_data(f, offset, buf, len);
}

/* ---- directories -------------------------------------------------------- */

typedef int (*ext4_dirent_fn)(void *ctx, uint32_t ino, const char *name,
			      size_t name_len);

/* ext4 doc §Linear (Classic) Directories: with 64 KiB blocks, rec_len 0 or
 * 65535 means the whole block and the low two bits carry bits 16-17. */
static uint32_t ext4_rec_len(const struct ext4_fs *fs, uint16_t raw)
{
	if (fs->block_size < 65536)
		return raw;
	if (raw == 0 || raw == 65535)
		return fs->block_size;
	return (raw & 65532u) | ((uint32_t)(raw & 3) << 16);
}

static int ext4_check_dirent(const struct ext4_file *dir, uint64_t pos,
			     uint32_t room, uint32_t rec_len, uint8_t name_len)
{
	uint32_t need = VQ_ALIGN_UP(EXT4_DIRENT_HEADER + name_len, 4u);

	if (rec_len < EXT4_DIRENT_MIN || rec_len % 4 || rec_len > room ||
	    rec_len < need)
		return log_err(-VQ_ECORRUPT,
			       "ext4: directory inode %u entry at %llu: rec_len "
			       "%u, name_len %u, %u bytes left in block",
			       dir->inode.ino, (unsigned long long)pos, rec_len,
			       name_len, room);
	return 0;
}

/* Walk one directory block (or inline area) of @bs bytes; stop on a
 * non-zero callback result. */
static int ext4_dir_block(struct ext4_file *dir, uint64_t base,
			  const uint8_t *blk, uint32_t bs, ext4_dirent_fn fn,
			  void *ctx)
{
	uint32_t pos = 0;

	while (pos < bs) {
		struct ext4_dir_entry de;
		uint32_t rec_len;
		int r;

		if (bs - pos < EXT4_DIRENT_HEADER)
			return log_err(-VQ_ECORRUPT,
				       "ext4: directory inode %u entry at %llu "
				       "truncated",
				       dir->inode.ino,
				       (unsigned long long)(base + pos));
		memcpy(&de, blk + pos, sizeof(de));
		rec_len = ext4_rec_len(dir->fs, de.rec_len);
		r = ext4_check_dirent(dir, base + pos, bs - pos, rec_len,
				      de.name_len);
		if (r < 0)
			return r;
		/* Inode 0 marks unused space (and the htree nodes, and the
		 * checksum tail), which a linear walk skips. */
		if (de.inode != 0 && de.name_len > 0) {
			r = fn(ctx, de.inode,
			       (const char *)blk + pos + EXT4_DIRENT_HEADER,
			       de.name_len);
			if (r)
				return r;
		}
		pos += rec_len;
	}
	return 0;
}

static int ext4_dir_inline(struct ext4_file *dir, ext4_dirent_fn fn,
			   void *ctx);

static int ext4_dir_walk(struct ext4_fs *fs, const struct ext4_inode *inode,
			 ext4_dirent_fn fn, void *ctx)
{
	struct ext4_file dir;
	uint8_t *blk;
	int r = 0;

	ext4_file_init(&dir, fs, inode);
	if (inode->flags & EXT4_INLINE_DATA_FL)
		return ext4_dir_inline(&dir, fn, ctx);
	if (inode->size & (fs->block_size - 1) || inode->size > EXT4_DIR_MAX)
		return log_err(-VQ_ECORRUPT,
			       "ext4: directory inode %u size %llu not a "
			       "multiple of the block size %u or over %llu",
			       inode->ino, (unsigned long long)inode->size,
			       fs->block_size, EXT4_DIR_MAX);
	blk = plat_alloc(fs->block_size);
	if (!blk)
		return log_err(-VQ_ENOMEM, "ext4: no memory for a directory block");
	for (uint64_t off = 0; off < inode->size && r == 0;
	     off += fs->block_size) {
		r = ext4_read_data(&dir, off, blk, fs->block_size);
		if (r == 0)
			r = ext4_dir_block(&dir, off, blk, fs->block_size,
					   fn, ctx);
	}
	bdev_free(fs->base.bd, blk);
	ext4_file_release(&dir);
	return r;
}

/*
 * ext4 doc §Inline Data: a small directory kept in i_block starts with the
 * parent's inode number (4 bytes) and continues with ordinary entries; the
 * system.data value, if any, is a second area of entries.
 */
static int ext4_dir_inline(struct ext4_file *dir, ext4_dirent_fn fn, void *ctx)
{
	const uint32_t head = 4;
	int r;

	r = ext4_load_inline(dir);
	if (r == 0)
		r = fn(ctx, get_le32(dir->inline_buf), "..", 2);
	if (r == 0)
		r = ext4_dir_block(dir, head, dir->inline_buf + head,
				   EXT4_I_BLOCK_SIZE - head, fn, ctx);
	if (r == 0 && dir->inline_len > EXT4_I_BLOCK_SIZE)
		r = ext4_dir_block(dir, EXT4_I_BLOCK_SIZE,
				   dir->inline_buf + EXT4_I_BLOCK_SIZE,
				   dir->inline_len - EXT4_I_BLOCK_SIZE, fn, ctx);
	ext4_file_release(dir);
	return r;
}

struct ext4_lookup {
	const char *name;
	size_t len;
	uint32_t ino;
};

static int ext4_lookup_fn(void *ctx, uint32_t ino, const char *name,
			  size_t name_len)
{
	struct ext4_lookup *l = ctx;

	if (name_len != l->len || memcmp(name, l->name, name_len) != 0)
		return 0;
	l->ino = ino;
	return 1;
}

static int ext4_lookup(struct ext4_fs *fs, const struct ext4_inode *dir,
		       const char *name, size_t len, uint32_t *ret)
{
	struct ext4_lookup l = { .name = name, .len = len };
	int r;

	r = ext4_dir_walk(fs, dir, ext4_lookup_fn, &l);
	if (r < 0)
		return r;
	if (r == 0)
		return -VQ_ENOENT;
	*ret = l.ino;
	return 0;
}

/* ---- paths and symbolic links ------------------------------------------ */

/*
 * A symlink's target: in i_block when shorter than 60 bytes and not mapped
 * by extents (a "fast" symlink), otherwise in its data blocks.
 */
static int ext4_read_link(struct ext4_fs *fs, const struct ext4_inode *inode,
			  char *buf, size_t size, size_t *ret_len)
{
	struct ext4_file link;
	int r;

	if (inode->size == 0 || inode->size >= size)
		return log_err(-VQ_ECORRUPT,
			       "ext4: symlink inode %u target of %llu bytes",
			       inode->ino, (unsigned long long)inode->size);
	if (inode->size < EXT4_I_BLOCK_SIZE &&
	    !(inode->flags & EXT4_EXTENTS_FL)) {
		memcpy(buf, inode->i_block, (size_t)inode->size);
	} else {
		ext4_file_init(&link, fs, inode);
		r = ext4_read_data(&link, 0, (uint8_t *)buf, (size_t)inode->size);
		ext4_file_release(&link);
		if (r < 0)
			return r;
	}
	buf[inode->size] = '\0';
	if (strlen(buf) != inode->size)
		return log_err(-VQ_ECORRUPT,
			       "ext4: symlink inode %u target contains a NUL",
			       inode->ino);
	*ret_len = (size_t)inode->size;
	return 0;
}

/* Path resolution state: the remaining path, rewritten in place when a
 * symlink is followed. */
struct ext4_walk {
	struct ext4_fs *fs;
	char *path;   /* EXT4_PATH_MAX bytes */
	char *target; /* EXT4_PATH_MAX bytes */
	unsigned hops;
};

/* Replace the walk's remaining path by "<target>/<rest>". */
static int ext4_splice_link(struct ext4_walk *w, const struct ext4_inode *link,
			    const char *rest)
{
	size_t tlen = 0, rlen = strlen(rest);
	int r;

	if (++w->hops > EXT4_MAX_SYMLINK_HOPS)
		return log_err(-VQ_ELOOP,
			       "ext4: more than %u symlinks (at inode %u)",
			       EXT4_MAX_SYMLINK_HOPS, link->ino);
	r = ext4_read_link(w->fs, link, w->target, EXT4_PATH_MAX, &tlen);
	if (r < 0)
		return r;
	if (tlen + 1 + rlen >= EXT4_PATH_MAX)
		return log_err(-VQ_E2BIG,
			       "ext4: path through symlink inode %u too long",
			       link->ino);
	fs_join_link(w->target, tlen, rest, rlen, w->path);
	return 0;
}

/* The inode named @name (not NUL-terminated) in directory @dir. */
static int ext4_step(struct ext4_fs *fs, const struct ext4_inode *dir,
		     const char *name, size_t len, struct ext4_inode *ret)
{
	uint32_t ino = 0;
	int r;

	if (!ext4_is_dir(dir))
		return -VQ_ENOTDIR;
	if (len > EXT4_NAME_MAX)
		return -VQ_ENOENT;
	r = ext4_lookup(fs, dir, name, len, &ino);
	if (r < 0)
		return r;
	return ext4_read_inode(fs, ino, ret);
}

/*
 * Resolve w->path from the root. Symlinks in the middle are always
 * followed, the last one only with @follow_last; relative targets resolve
 * from the directory holding the link, absolute ones from the root.
 */
static int ext4_walk_path(struct ext4_walk *w, bool follow_last,
			  struct ext4_inode *ret)
{
	struct ext4_inode root, cur, next;
	const char *p = w->path, *name;
	size_t len;
	int r;

	r = ext4_read_inode(w->fs, EXT4_ROOT_INO, &root);
	if (r < 0)
		return r;
	cur = root;
	while (fs_next_name(&p, &name, &len)) {
		/* Inline directories store no "." entry. */
		if (len == 1 && name[0] == '.' && ext4_is_dir(&cur))
			continue;
		r = ext4_step(w->fs, &cur, name, len, &next);
		if (r < 0)
			return r;
		if (!ext4_is_symlink(&next) || (!*p && !follow_last)) {
			cur = next;
			continue;
		}
		r = ext4_splice_link(w, &next, p);
		if (r < 0)
			return r;
		p = w->path;
		if (*p == '/')
			cur = root;
	}
	*ret = cur;
	return 0;
}

static int ext4_resolve(struct ext4_fs *fs, const char *path, bool follow_last,
			struct ext4_inode *ret)
{
	struct ext4_walk w = { .fs = fs };
	size_t len = strlen(path);
	int r;

	if (len >= EXT4_PATH_MAX)
		return log_err(-VQ_E2BIG, "ext4: path of %zu bytes too long", len);
	w.path = plat_alloc(EXT4_PATH_MAX);
	w.target = plat_alloc(EXT4_PATH_MAX);
	if (!w.path || !w.target) {
		r = log_err(-VQ_ENOMEM, "ext4: no memory for path resolution");
		goto out;
	}
	memcpy(w.path, path, len + 1);
	r = ext4_walk_path(&w, follow_last, ret);
out:
	plat_free(w.target);
	plat_free(w.path);
	return r;
}

/* ---- mount -------------------------------------------------------------- */

static int ext4_check_features(const struct ext4_fs *fs, const char *dev)
{
	uint32_t unknown = fs->feature_incompat & ~EXT4_INCOMPAT_READABLE;

	if (unknown)
		return log_err(-VQ_ENOTSUP,
			       "ext4: %s: unsupported incompatible features "
			       "0x%x",
			       dev, unknown);
	if (fs->feature_incompat & EXT4_INCOMPAT_RECOVER)
		log_warn("ext4: %s: journal needs recovery; reading without "
			 "replaying it",
			 dev);
	return 0;
}

static int ext4_check_geometry(struct ext4_fs *fs, const struct ext4_super_block *sb,
			       const char *dev)
{
	if (sb->s_log_block_size > EXT4_MAX_LOG_BLOCK - EXT4_MIN_LOG_BLOCK)
		return log_err(-VQ_ECORRUPT, "ext4: %s: block size 2^%u",
			       dev, sb->s_log_block_size + EXT4_MIN_LOG_BLOCK);
	fs->log_block_size = sb->s_log_block_size + EXT4_MIN_LOG_BLOCK;
	fs->block_size = (uint32_t)1 << fs->log_block_size;
	fs->blocks_count = sb->s_blocks_count_lo;
	if (fs->feature_incompat & EXT4_INCOMPAT_64BIT)
		fs->blocks_count |= (uint64_t)sb->s_blocks_count_hi << 32;
	fs->first_data_block = sb->s_first_data_block;
	fs->blocks_per_group = sb->s_blocks_per_group;
	fs->inodes_per_group = sb->s_inodes_per_group;
	fs->inodes_count = sb->s_inodes_count;
	/* Each group's bitmaps are one block: 8 bits per byte. */
	if (fs->blocks_per_group == 0 || fs->blocks_per_group > 8 * fs->block_size ||
	    fs->inodes_per_group == 0 || fs->inodes_per_group > 8 * fs->block_size)
		return log_err(-VQ_ECORRUPT,
			       "ext4: %s: %u blocks and %u inodes per group "
			       "with %u-byte blocks",
			       dev, fs->blocks_per_group, fs->inodes_per_group,
			       fs->block_size);
	if (fs->first_data_block > 1 || fs->first_data_block >= fs->blocks_count)
		return log_err(-VQ_ECORRUPT,
			       "ext4: %s: first data block %u of %llu", dev,
			       fs->first_data_block,
			       (unsigned long long)fs->blocks_count);
	if (fs->blocks_count > fs->base.bd->size >> fs->log_block_size)
		return log_err(-VQ_ECORRUPT,
			       "ext4: %s: %llu blocks of %u bytes exceed the "
			       "device (%llu bytes)",
			       dev, (unsigned long long)fs->blocks_count,
			       fs->block_size,
			       (unsigned long long)fs->base.bd->size);
	return 0;
}

static int ext4_check_inodes(struct ext4_fs *fs, const struct ext4_super_block *sb,
			     const char *dev)
{
	fs->inode_size = EXT4_GOOD_OLD_INODE_SIZE;
	if (sb->s_rev_level > 0)
		fs->inode_size = sb->s_inode_size;
	if (fs->inode_size < EXT4_GOOD_OLD_INODE_SIZE ||
	    fs->inode_size > fs->block_size ||
	    (fs->inode_size & (fs->inode_size - 1)))
		return log_err(-VQ_ECORRUPT, "ext4: %s: inode size %u", dev,
			       fs->inode_size);
	if (fs->inodes_count < EXT4_ROOT_INO ||
	    fs->inodes_count > (uint64_t)fs->groups_count * fs->inodes_per_group)
		return log_err(-VQ_ECORRUPT,
			       "ext4: %s: %u inodes in %u groups of %u", dev,
			       fs->inodes_count, fs->groups_count,
			       fs->inodes_per_group);
	fs->itable_blocks = ((uint64_t)fs->inodes_per_group * fs->inode_size +
			     fs->block_size - 1) >> fs->log_block_size;
	return 0;
}

static int ext4_check_descs(struct ext4_fs *fs, const struct ext4_super_block *sb,
			    const char *dev)
{
	uint64_t groups, desc_blocks;

	groups = (fs->blocks_count - fs->first_data_block +
		  fs->blocks_per_group - 1) / fs->blocks_per_group;
	if (groups > UINT32_MAX)
		return log_err(-VQ_ECORRUPT, "ext4: %s: %llu groups", dev,
			       (unsigned long long)groups);
	fs->groups_count = (uint32_t)groups;
	fs->desc_size = EXT4_DESC_SIZE_32;
	if (fs->feature_incompat & EXT4_INCOMPAT_64BIT) {
		fs->desc_size = sb->s_desc_size;
		if (fs->desc_size < EXT4_DESC_SIZE_64 ||
		    fs->desc_size > EXT4_MAX_DESC_SIZE ||
		    (fs->desc_size & (fs->desc_size - 1)))
			return log_err(-VQ_ECORRUPT,
				       "ext4: %s: group descriptor size %u",
				       dev, fs->desc_size);
	}
	fs->descs_per_block = fs->block_size / fs->desc_size;
	desc_blocks = (groups + fs->descs_per_block - 1) / fs->descs_per_block;
	fs->first_meta_bg = sb->s_first_meta_bg;
	if (!(fs->feature_incompat & EXT4_INCOMPAT_META_BG) ||
	    fs->first_meta_bg > desc_blocks)
		fs->first_meta_bg = (uint32_t)VQ_MIN(desc_blocks, (uint64_t)UINT32_MAX);
	/* Descriptor blocks that follow the superblock must fit. */
	if (fs->first_data_block + 1 + (uint64_t)fs->first_meta_bg >
	    fs->blocks_count)
		return log_err(-VQ_ECORRUPT,
			       "ext4: %s: %u descriptor blocks beyond filesystem "
			       "(%llu blocks)",
			       dev, fs->first_meta_bg,
			       (unsigned long long)fs->blocks_count);
	fs->backup_bgs[0] = sb->s_backup_bgs[0];
	fs->backup_bgs[1] = sb->s_backup_bgs[1];
	return 0;
}

static void ext4_set_label(struct ext4_fs *fs, const struct ext4_super_block *sb)
{
	size_t n = 0;

	while (n < sizeof(sb->s_volume_name) && sb->s_volume_name[n]) {
		char c = sb->s_volume_name[n];

		fs->base.label[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	fs->base.label[n] = '\0';
}

static int ext4_parse_super(struct ext4_fs *fs, const struct ext4_super_block *sb)
{
	const char *dev = fs->base.bd->name;
	int r;

	if (sb->s_magic != EXT4_MAGIC)
		return -VQ_ENOENT;
	/* The original ext2 (revision 0) has no feature fields. */
	if (sb->s_rev_level > 0) {
		fs->feature_compat = sb->s_feature_compat;
		fs->feature_incompat = sb->s_feature_incompat;
		fs->feature_ro_compat = sb->s_feature_ro_compat;
	}
	r = ext4_check_features(fs, dev);
	if (r == 0)
		r = ext4_check_geometry(fs, sb, dev);
	if (r == 0)
		r = ext4_check_descs(fs, sb, dev);
	if (r == 0)
		r = ext4_check_inodes(fs, sb, dev);
	if (r < 0)
		return r;
	ext4_set_label(fs, sb);
	return 0;
}

static int ext4_check_root(struct ext4_fs *fs)
{
	struct ext4_inode root;
	int r;

	r = ext4_read_inode(fs, EXT4_ROOT_INO, &root);
	if (r < 0)
		return r;
	if (!ext4_is_dir(&root))
		return log_err(-VQ_ECORRUPT,
			       "ext4: %s: root inode mode 0x%x is not a directory",
			       fs->base.bd->name, root.mode);
	return 0;
}

static int ext4_mount(struct blockdev *bd, struct fs **ret)
{
	struct ext4_super_block *sb;
	struct ext4_fs *fs;
	int r;

	if (bd->size < EXT4_SB_OFFSET + sizeof(*sb))
		return -VQ_ENOENT;
	sb = plat_alloc(sizeof(*sb));
	fs = plat_alloc(sizeof(*fs));
	if (!sb || !fs) {
		r = log_err(-VQ_ENOMEM, "ext4: no memory to mount %s", bd->name);
		goto fail;
	}
	fs->base.ops = &ext4_fs_ops;
	fs->base.bd = bd;
	fs->base.type = FS_EXT;
	r = bdev_read(bd, EXT4_SB_OFFSET, sb, sizeof(*sb));
	if (r < 0)
		goto fail;
	r = ext4_parse_super(fs, sb);
	if (r < 0)
		goto fail;
	r = ext4_check_root(fs);
	if (r < 0)
		goto fail;
	log_debug("ext4: %s: %llu blocks of %u bytes, %u groups, label \"%s\"",
		  bd->name, (unsigned long long)fs->blocks_count,
		  fs->block_size, fs->groups_count, fs->base.label);
	bdev_free(bd, sb);
	*ret = &fs->base;
	return 0;
fail:
	bdev_free(bd, sb);
	plat_free(fs);
	return r;
}

static void ext4_unmount(struct fs *fs)
{
	plat_free(fs);
}

/* ---- fs_ops ------------------------------------------------------------- */

static int ext4_open(struct fs *base, const char *path, struct fs_file **ret)
{
	struct ext4_fs *fs = to_ext4_fs(base);
	struct ext4_inode inode;
	struct ext4_file *f;
	int r;

	r = ext4_resolve(fs, path, true, &inode);
	if (r < 0)
		return r;
	if (!ext4_is_reg(&inode))
		return log_err(ext4_is_dir(&inode) ? -VQ_EINVAL : -VQ_ENOTSUP,
			       "ext4: %s: %s (mode 0x%x)", path,
			       ext4_is_dir(&inode) ? "is a directory" :
						     "not a regular file",
			       inode.mode);
	if (inode.flags & EXT4_ENCRYPT_FL)
		return log_err(-VQ_ENOTSUP, "ext4: %s: encrypted", path);
	f = plat_alloc(sizeof(*f));
	if (!f)
		return log_err(-VQ_ENOMEM, "ext4: no memory to open %s", path);
	ext4_file_init(f, fs, &inode);
	*ret = (struct fs_file *)f;
	return 0;
}

static int ext4_read(struct fs_file *file, uint64_t offset, void *buf,
		     size_t len)
{
	return ext4_read_checked(to_ext4_file(file), offset, buf, len);
}

static uint64_t ext4_size(const struct fs_file *file)
{
	return ((const struct ext4_file *)file)->inode.size;
}

static void ext4_close(struct fs_file *file)
{
	struct ext4_file *f = to_ext4_file(file);

	if (!f)
		return;
	ext4_file_release(f);
	plat_free(f);
}

struct ext4_list {
	struct ext4_fs *fs;
	fs_dir_fn fn;
	void *ctx;
	struct fs_dirent ent;
};

static int ext4_list_fn(void *ctx, uint32_t ino, const char *name,
			size_t name_len)
{
	struct ext4_list *l = ctx;
	struct ext4_inode inode;
	int r;

	if ((name_len == 1 && name[0] == '.') ||
	    (name_len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	r = ext4_read_inode(l->fs, ino, &inode);
	if (r < 0)
		return r;
	memcpy(l->ent.name, name, name_len);
	l->ent.name[name_len] = '\0';
	l->ent.is_dir = ext4_is_dir(&inode);
	l->ent.size = inode.size;
	return l->fn(l->ctx, &l->ent);
}

static int ext4_list(struct fs *base, const char *path, fs_dir_fn fn,
		     void *ctx)
{
	struct ext4_fs *fs = to_ext4_fs(base);
	struct ext4_inode dir;
	struct ext4_list *l;
	int r;

	r = ext4_resolve(fs, path, true, &dir);
	if (r < 0)
		return r;
	if (!ext4_is_dir(&dir))
		return log_err(-VQ_ENOTDIR, "ext4: %s: not a directory", path);
	l = plat_alloc(sizeof(*l));
	if (!l)
		return log_err(-VQ_ENOMEM, "ext4: no memory to list %s", path);
	l->fs = fs;
	l->fn = fn;
	l->ctx = ctx;
	r = ext4_dir_walk(fs, &dir, ext4_list_fn, l);
	plat_free(l);
	return r;
}

const struct fs_ops ext4_fs_ops = {
	.name = "ext4",
	.mount = ext4_mount,
	.unmount = ext4_unmount,
	.open = ext4_open,
	.read = ext4_read,
	.size = ext4_size,
	.close = ext4_close,
	.list = ext4_list,
};
