/* SPDX-License-Identifier: MIT */
/*
 * Read-only FAT12/16/32 ("Microsoft FAT Specification", 2005; cited as
 * "FAT spec"). Opening a file walks its whole cluster chain once, checking
 * it against the file size, and keeps it as a list of contiguous runs:
 * reads then go to the device one run at a time and never touch the FAT
 * again. FAT sectors are read through a small window cache, so the walk
 * costs one device read per few thousand clusters.
 */
#include "boot/fs.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

#define FAT_BOOT_SIZE 512
#define FAT_DIRENT_SIZE 32
/* FAT spec §6: a directory holds at most 65536 entries. */
#define FAT_DIR_MAX_BYTES (65536u * FAT_DIRENT_SIZE)
#define FAT_DIR_CHUNK 4096
/* FAT spec §7: at most 20 long-name entries of 13 UTF-16 units each. */
#define FAT_LFN_MAX_ENTRIES 20
#define FAT_LFN_UNITS 13
#define FAT_NAME_MAX 255
#define FAT_MSG_NAME 96

/* Four 16 KiB windows of the FAT (64 KiB). A 16 KiB request costs about
 * what a 4 KiB one does on virtio-blk under QEMU, and one window maps 4096
 * FAT32 clusters, so walking a 32 MiB file of 4 KiB clusters takes two
 * requests. */
#define FAT_CACHE_SLOTS 4
#define FAT_CACHE_WINDOW 16384

#define FAT_ATTR_READ_ONLY 0x01
#define FAT_ATTR_HIDDEN 0x02
#define FAT_ATTR_SYSTEM 0x04
#define FAT_ATTR_VOLUME_ID 0x08
#define FAT_ATTR_DIRECTORY 0x10
#define FAT_ATTR_LONG_NAME 0x0f
#define FAT_ATTR_LONG_MASK 0x3f
#define FAT_LAST_LONG_ENTRY 0x40
#define FAT_DELETED 0xe5

/* Short-entry field offsets, FAT spec §6 table 18. */
#define FAT_D_ATTR 11
#define FAT_D_NTRES 12
#define FAT_D_CLUS_HI 20
#define FAT_D_CLUS_LO 26
#define FAT_D_SIZE 28
/* Windows NT and Linux mark an all-lower-case base or extension here. */
#define FAT_NTRES_LOWER_BASE 0x08
#define FAT_NTRES_LOWER_EXT 0x10

/* Long-entry field offsets, FAT spec §7 table 20. */
#define FAT_L_ORD 0
#define FAT_L_NAME1 1
#define FAT_L_CHKSUM 13
#define FAT_L_NAME2 14
#define FAT_L_CLUS 26
#define FAT_L_NAME3 28

/* BPB field offsets, FAT spec §3.1-3.3. */
#define BPB_BYTS_PER_SEC 11
#define BPB_SEC_PER_CLUS 13
#define BPB_RSVD_SEC_CNT 14
#define BPB_NUM_FATS 16
#define BPB_ROOT_ENT_CNT 17
#define BPB_TOT_SEC16 19
#define BPB_FAT_SZ16 22
#define BPB_TOT_SEC32 32
#define BPB_FAT_SZ32 36
#define BPB_EXT_FLAGS 40
#define BPB_FS_VER 42
#define BPB_ROOT_CLUS 44
#define BS_BOOT_SIG_16 38
#define BS_VOL_LAB_16 43
#define BS_BOOT_SIG_32 66
#define BS_VOL_LAB_32 71

struct fat_cache_slot {
	uint64_t start; /* byte offset in the FAT; UINT64_MAX when empty */
	uint32_t len;
	uint32_t stamp; /* last use, for eviction */
	uint8_t *data;
};

/* A decoded directory entry. */
struct fat_dent {
	char name[FAT_NAME_MAX + 1]; /* long name, else the 8.3 name */
	char short_name[13];
	uint8_t attr;
	uint32_t cluster;
	uint32_t size;
};

/* Bytes of a directory path the lookup cache keeps (longer ones are not
 * kept). */
#define FAT_PREFIX_MAX 256
/* Open directories the lookup keeps: the root, EFI, EFI/Linux, loader and
 * loader/entries of a boot, with room to spare. */
#define FAT_DIR_SLOTS 8

struct fat_file;

struct fat_fs {
	struct fs base;
	uint32_t sector_size;
	uint32_t cluster_size;  /* bytes */
	uint32_t cluster_count; /* data clusters: numbers 2..cluster_count+1 */
	uint64_t fat_offset;    /* bytes: the FAT we read */
	uint64_t fat_bytes;
	uint64_t root_offset;   /* FAT12/16: the fixed root directory */
	uint32_t root_bytes;
	uint32_t root_cluster;  /* FAT32 */
	uint64_t data_offset;   /* bytes: cluster 2 */
	struct fat_cache_slot cache[FAT_CACHE_SLOTS];
	uint32_t cache_clock;
	uint8_t *cache_mem;
	/*
	 * The lookup's caches. A boot opens many files of one directory
	 * (loader/entries, EFI/Linux), and each open would find that
	 * directory from the root again, loading every cluster chain on the
	 * way: the last directory path resolved (the bytes before a path's
	 * last '/', as given) with its entry, and the directories searched or
	 * listed last, kept open with their chains. The volume is only read,
	 * so what was found stays true; a failed lookup keeps nothing.
	 */
	char prefix[FAT_PREFIX_MAX];
	size_t prefix_len; /* 0: none */
	struct fat_dent prefix_dent;
	struct fat_file *dirs[FAT_DIR_SLOTS]; /* NULL: free slot */
	uint32_t dir_clock;
};

/* @count clusters from disk cluster @cluster hold the file's clusters
 * @index..@index+@count-1. */
struct fat_run {
	uint32_t index;
	uint32_t cluster;
	uint32_t count;
};

/* An open file or directory. */
struct fat_file {
	struct fat_fs *fs;
	uint64_t size;       /* readable bytes */
	bool fixed_root;     /* FAT12/16 root: one region, no chain */
	uint32_t nruns;
	uint32_t cap;
	uint32_t hint;       /* run of the last read: sequential reads hit it */
	struct fat_run *runs;
	char name[FAT_MSG_NAME];
	/* A directory in fs->dirs: walks under way, and when last used. */
	bool cached;
	uint32_t busy;
	uint32_t stamp;
};

struct fat_lfn {
	uint16_t units[FAT_LFN_MAX_ENTRIES * FAT_LFN_UNITS];
	uint8_t checksum;
	uint8_t total;  /* entries in the name being assembled; 0 = none */
	uint8_t expect; /* next sequence number due; 0 = complete */
};

/* Return > 0 to stop the walk (passed back), < 0 on error. */
typedef int (*fat_dent_fn)(void *ctx, const struct fat_dent *d);

static struct fat_fs *to_fat(struct fs *fs)
{
	return (struct fat_fs *)fs;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* ---- the FAT ------------------------------------------------------------ */

/* A pointer to FAT byte @off with the rest of its window behind it. */
static int fat_cache_get(struct fat_fs *fs, uint64_t off, const uint8_t **ret,
			 uint32_t *ret_avail)
{
	uint64_t start = off & ~(uint64_t)(FAT_CACHE_WINDOW - 1);
	struct fat_cache_slot *victim = &fs->cache[0];
	int r;

	for (size_t i = 0; i < FAT_CACHE_SLOTS; i++) {
		struct fat_cache_slot *s = &fs->cache[i];

		if (s->start == start) {
			s->stamp = ++fs->cache_clock;
			*ret = s->data + (off - start);
			*ret_avail = (uint32_t)(s->len - (off - start));
			return 0;
		}
		if (s->stamp < victim->stamp)
			victim = s;
	}
	victim->start = UINT64_MAX;
	victim->len = (uint32_t)VQ_MIN((uint64_t)FAT_CACHE_WINDOW,
				       fs->fat_bytes - start);
	r = bdev_read(fs->base.bd, fs->fat_offset + start, victim->data,
		      victim->len);
	if (r < 0)
		return r;
	victim->start = start;
	victim->stamp = ++fs->cache_clock;
	*ret = victim->data + (off - start);
	*ret_avail = (uint32_t)(victim->len - (off - start));
	return 0;
}

static int fat_read_fat_bytes(struct fat_fs *fs, uint64_t off, void *buf,
			      uint32_t len)
{
	uint8_t *out = buf;

	/* Mount checked that every cluster's entry lies inside the FAT. A
	 * FAT12 entry may straddle two windows, so copy piecewise. */
	while (len) {
		const uint8_t *p;
		uint32_t avail, n;
		int r = fat_cache_get(fs, off, &p, &avail);

		if (r < 0)
			return r;
		n = VQ_MIN(len, avail);
		memcpy(out, p, n);
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* FAT spec §4: the entry of @cluster, as the next cluster or an EOC mark. */
static int fat_get_entry(struct fat_fs *fs, uint32_t cluster, uint32_t *ret)
{
	uint8_t b[4] = { 0 };
	uint32_t v;
	int r;

	switch (fs->base.type) {
	case FS_FAT12:
		r = fat_read_fat_bytes(fs, cluster + cluster / 2, b, 2);
		v = get_le16(b);
		v = (cluster & 1) ? v >> 4 : v & 0xfff;
		break;
	case FS_FAT16:
		r = fat_read_fat_bytes(fs, (uint64_t)cluster * 2, b, 2);
		v = get_le16(b);
		break;
	default:
		/* FAT spec §4.1: the high 4 bits of a FAT32 entry are reserved. */
		r = fat_read_fat_bytes(fs, (uint64_t)cluster * 4, b, 4);
		v = get_le32(b) & 0x0fffffff;
		break;
	}
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}

static bool fat_is_eoc(const struct fat_fs *fs, uint32_t v)
{
	switch (fs->base.type) {
	case FS_FAT12:
		return v >= 0xff8;
	case FS_FAT16:
		return v >= 0xfff8;
	default:
		return v >= 0x0ffffff8;
	}
}

static bool fat_cluster_valid(const struct fat_fs *fs, uint32_t c)
{
	return c >= 2 && c - 2 < fs->cluster_count;
}

/* ---- cluster chains ----------------------------------------------------- */

static int fat_run_append(struct fat_file *f, uint32_t index, uint32_t cluster)
{
	struct fat_run *last = f->nruns ? &f->runs[f->nruns - 1] : NULL;
	struct fat_run *grown;

	if (last && last->cluster + last->count == cluster) {
		last->count++;
		return 0;
	}
	if (f->nruns == f->cap) {
		uint32_t cap = f->cap ? f->cap * 2 : 8;

		grown = plat_alloc(sizeof(*grown) * cap);
		if (!grown)
			return log_err(-VQ_ENOMEM, "fat: %s: no memory for %u runs",
				       f->name, cap);
		if (f->nruns)
			memcpy(grown, f->runs, sizeof(*grown) * f->nruns);
		plat_free(f->runs);
		f->runs = grown;
		f->cap = cap;
	}
	f->runs[f->nruns++] = (struct fat_run){ index, cluster, 1 };
	return 0;
}

/* The next cluster of a chain: 0 with @ret set, 1 at the end or on a link
 * that is not a cluster, or an I/O error. */
static int fat_step(struct fat_fs *fs, uint32_t c, uint32_t *ret)
{
	uint32_t next;
	int r = fat_get_entry(fs, c, &next);

	if (r < 0)
		return r;
	if (fat_is_eoc(fs, next) || !fat_cluster_valid(fs, next))
		return 1;
	*ret = next;
	return 0;
}

/*
 * Find where the chain from @first closes a loop, if it does: Floyd's
 * cycle finding, O(chain length) FAT reads and no memory. On success
 * @ret_from is the last cluster before the chain repeats and @ret_to the
 * cluster it links back to. Returns 1 when there is no loop.
 */
static int fat_find_loop(struct fat_fs *fs, uint32_t first, uint32_t *ret_from,
			 uint32_t *ret_to)
{
	uint32_t t = first, h = first, prev;
	int r;

	do {
		r = fat_step(fs, t, &t);
		if (r == 0)
			r = fat_step(fs, h, &h);
		if (r == 0)
			r = fat_step(fs, h, &h);
		if (r)
			return r;
	} while (t != h);
	/* Meet again walking one step each: at the start of the loop. */
	for (t = first; t != h;) {
		r = fat_step(fs, t, &t);
		if (r == 0)
			r = fat_step(fs, h, &h);
		if (r)
			return r;
	}
	/* Go round once to find the cluster that links back to it. */
	for (prev = t, r = fat_step(fs, prev, &h); r == 0 && h != t;
	     r = fat_step(fs, h, &h))
		prev = h;
	if (r)
		return r;
	*ret_from = prev;
	*ret_to = t;
	return 0;
}

/* The chain goes on after @cur although @limit clusters were all we
 * allowed: name the file and say whether, and where, it loops. */
static int fat_chain_too_long(const struct fat_file *f, uint32_t first,
			      uint32_t cur, uint32_t next, uint32_t limit,
			      bool is_dir)
{
	uint32_t from, to;
	int r = fat_find_loop(f->fs, first, &from, &to);

	if (r < 0)
		return r;
	if (r == 0)
		return log_err(-VQ_ECORRUPT, "fat: %s: cluster chain loops: cluster %u links back to %u",
			       f->name, from, to);
	if (is_dir)
		return log_err(-VQ_ECORRUPT, "fat: %s: directory longer than %u clusters (%u entries): cluster %u links to %u",
			       f->name, limit, FAT_DIR_MAX_BYTES / FAT_DIRENT_SIZE,
			       cur, next);
	return log_err(-VQ_ECORRUPT, "fat: %s: cluster chain runs past %u clusters (size %llu): cluster %u links to %u",
		       f->name, limit, (unsigned long long)f->size, cur,
		       next);
}

/*
 * FAT16/32: how many links from @cur on go to the very next cluster
 * (entry of c == c + 1), read straight from the cached FAT window: most
 * chains are long contiguous stretches, and one entry at a time costs a
 * cache lookup each. At most @max, never past the last cluster.
 */
static uint32_t fat_contiguous_links(struct fat_fs *fs, uint32_t cur,
				     uint32_t max)
{
	uint32_t w = fs->base.type == FS_FAT32 ? 4 : 2, avail, n = 0;
	const uint8_t *p;

	if (fs->base.type == FS_FAT12 ||
	    fat_cache_get(fs, (uint64_t)cur * w, &p, &avail) < 0)
		return 0;
	max = VQ_MIN(max, VQ_MIN(avail / w, fs->cluster_count + 1 - cur));
	while (n < max) {
		uint32_t v = w == 4 ? get_le32(p + n * 4) & 0x0fffffff
				    : get_le16(p + n * 2);

		if (v != cur + n + 1)
			break;
		n++;
	}
	return n;
}

/*
 * Walk the chain from @first into f->runs. A file (@is_dir false) needs
 * exactly @limit clusters; a directory ends where its chain ends but at
 * most @limit clusters. Both bounds also stop a looping chain.
 */
static int fat_chain_load(struct fat_file *f, uint32_t first, uint32_t limit,
			  bool is_dir)
{
	struct fat_fs *fs = f->fs;
	uint32_t cur = first, next, index = 0;
	int r;

	if (!fat_cluster_valid(fs, first))
		return log_err(-VQ_ECORRUPT, "fat: %s: first cluster %u outside 2..%u",
			       f->name, first, fs->cluster_count + 1);
	for (;;) {
		uint32_t k;

		r = fat_run_append(f, index++, cur);
		if (r < 0)
			return r;
		/* Whole contiguous stretches at once; they cannot loop. */
		k = fat_contiguous_links(fs, cur, limit - index);
		f->runs[f->nruns - 1].count += k;
		index += k;
		cur += k;
		r = fat_get_entry(fs, cur, &next);
		if (r < 0)
			return r;
		if (fat_is_eoc(fs, next))
			break;
		if (index >= limit)
			return fat_chain_too_long(f, first, cur, next, limit,
						  is_dir);
		if (!fat_cluster_valid(fs, next))
			return log_err(-VQ_ECORRUPT, "fat: %s: cluster %u links to %u (free, bad or outside 2..%u)",
				       f->name, cur, next,
				       fs->cluster_count + 1);
		cur = next;
	}
	if (!is_dir && index < limit)
		return log_err(-VQ_ECORRUPT, "fat: %s: cluster chain ends at cluster %u after %u of %u clusters (size %llu)",
			       f->name, cur, index, limit,
			       (unsigned long long)f->size);
	if (is_dir)
		f->size = (uint64_t)index * fs->cluster_size;
	return 0;
}

static void fat_file_free(struct fat_file *f)
{
	if (!f)
		return;
	plat_free(f->runs);
	plat_free(f);
}

static const struct fat_run *fat_find_run(struct fat_file *f, uint32_t index)
{
	uint32_t lo = 0, hi = f->nruns;
	const struct fat_run *h = &f->runs[f->hint];

	if (index - h->index < h->count)
		return h;
	if (f->hint + 1 < f->nruns && index - h[1].index < h[1].count) {
		f->hint++;
		return h + 1;
	}
	/* Runs are sorted by index and cover 0..clusters-1 without gaps. */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (f->runs[mid].index <= index)
			lo = mid;
		else
			hi = mid;
	}
	f->hint = lo;
	return &f->runs[lo];
}

/* Read a range the caller has checked against f->size: one piece per
 * cluster run, the runs handed to the device together (bdev_batch), so a
 * fragmented file keeps several requests in flight. */
static int fat_file_read_range(struct fat_file *f, uint64_t offset,
			       uint8_t *buf, size_t len)
{
	struct fat_fs *fs = f->fs;
	struct bdev_batch batch;
	int r = 0;

	if (f->fixed_root)
		return bdev_read(fs->base.bd, fs->root_offset + offset, buf, len);
	bdev_batch_init(&batch, fs->base.bd);
	while (len && !r) {
		uint32_t index = (uint32_t)(offset / fs->cluster_size);
		const struct fat_run *run = fat_find_run(f, index);
		uint64_t within = offset - (uint64_t)run->index * fs->cluster_size;
		uint64_t run_bytes = (uint64_t)run->count * fs->cluster_size;
		size_t n = (size_t)VQ_MIN((uint64_t)len, run_bytes - within);
		uint64_t disk = fs->data_offset +
				(uint64_t)(run->cluster - 2) * fs->cluster_size +
				within;

		r = bdev_batch_add(&batch, disk, buf, n);
		buf += n;
		offset += n;
		len -= n;
	}
	if (!r)
		r = bdev_batch_flush(&batch);
	return r;
}

/* ---- opening files and directories -------------------------------------- */

static int fat_file_new(struct fat_fs *fs, const char *name,
			struct fat_file **ret)
{
	struct fat_file *f = plat_alloc(sizeof(*f));

	if (!f)
		return log_err(-VQ_ENOMEM, "fat: %s: no memory", name);
	f->fs = fs;
	vq_snprintf(f->name, sizeof(f->name), "%s", name);
	*ret = f;
	return 0;
}

static int fat_open_dir(struct fat_fs *fs, uint32_t cluster, const char *name,
			struct fat_file **ret)
{
	uint32_t limit = FAT_DIR_MAX_BYTES / fs->cluster_size;
	struct fat_file *f = NULL;
	int r;

	r = fat_file_new(fs, name, &f);
	if (r < 0)
		return r;
	/* Cluster 0 in a directory entry (a ".." of a top-level directory)
	 * means the root (FAT spec §6.7). */
	if (cluster == 0 && fs->base.type != FS_FAT32) {
		f->fixed_root = true;
		f->size = fs->root_bytes;
		*ret = f;
		return 0;
	}
	if (cluster == 0)
		cluster = fs->root_cluster;
	r = fat_chain_load(f, cluster, VQ_MAX(limit, 1u), true);
	if (r < 0) {
		fat_file_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

static int fat_open_regular(struct fat_fs *fs, const struct fat_dent *d,
			    const char *name, struct fat_file **ret)
{
	uint64_t clusters = ((uint64_t)d->size + fs->cluster_size - 1) /
			    fs->cluster_size;
	struct fat_file *f = NULL;
	int r;

	if (clusters > fs->cluster_count)
		return log_err(-VQ_ECORRUPT, "fat: %s: size %u needs %llu clusters, volume has %u",
			       name, d->size, (unsigned long long)clusters,
			       fs->cluster_count);
	r = fat_file_new(fs, name, &f);
	if (r < 0)
		return r;
	f->size = d->size;
	/* An empty file has no chain (FAT spec §6: cluster 0). */
	if (clusters)
		r = fat_chain_load(f, d->cluster, (uint32_t)clusters, false);
	if (r < 0) {
		fat_file_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

/* ---- directory entries -------------------------------------------------- */

/* FAT spec §7.2: the checksum of the 11-byte short name. */
static uint8_t fat_lfn_checksum(const uint8_t *short_name)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < 11; i++)
		sum = (uint8_t)(((sum & 1) ? 0x80 : 0) + (sum >> 1) +
				short_name[i]);
	return sum;
}

static void fat_lfn_take(struct fat_lfn *l, const uint8_t *e, unsigned seq)
{
	static const uint8_t offs[FAT_LFN_UNITS] = { 1, 3, 5, 7, 9, 14, 16,
						     18, 20, 22, 24, 28, 30 };
	uint16_t *dst = &l->units[(seq - 1) * FAT_LFN_UNITS];

	for (size_t i = 0; i < FAT_LFN_UNITS; i++)
		dst[i] = get_le16(e + offs[i]);
}

/*
 * FAT spec §7: long-name entries come last-first (the one flagged
 * LAST_LONG_ENTRY, then N-1 .. 1) right before their short entry, all
 * with the short name's checksum. Anything out of order drops the long
 * name; the short name is then used.
 */
static void fat_lfn_feed(struct fat_lfn *l, const uint8_t *e)
{
	unsigned ord = e[FAT_L_ORD], seq = ord & 0x1f;

	if (get_le16(e + FAT_L_CLUS) != 0 || seq == 0 ||
	    seq > FAT_LFN_MAX_ENTRIES) {
		l->total = 0;
		return;
	}
	if (ord & FAT_LAST_LONG_ENTRY) {
		l->total = (uint8_t)seq;
		l->checksum = e[FAT_L_CHKSUM];
	} else if (!l->total || seq != l->expect ||
		   e[FAT_L_CHKSUM] != l->checksum) {
		l->total = 0;
		return;
	}
	fat_lfn_take(l, e, seq);
	l->expect = (uint8_t)(seq - 1);
}

static size_t utf8_put(char *out, size_t o, size_t size, uint32_t cp)
{
	size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;

	if (o + n >= size)
		return 0;
	if (n == 1) {
		out[o] = (char)cp;
		return 1;
	}
	out[o] = (char)(((0xff00u >> n) & 0xff) | (cp >> (6 * (n - 1))));
	for (size_t i = 1; i < n; i++)
		out[o + i] = (char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3f));
	return n;
}

/* UTF-16 (up to a 0x0000) to NUL-terminated UTF-8; an unpaired surrogate
 * becomes '?'. False when it does not fit or is empty. */
static bool fat_utf16_to_utf8(const uint16_t *u, size_t n, char *out,
			      size_t size)
{
	size_t o = 0, put;

	for (size_t i = 0; i < n && u[i]; i++) {
		uint32_t cp = u[i];

		if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < n &&
		    u[i + 1] >= 0xdc00 && u[i + 1] < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (u[i + 1] - 0xdc00);
			i++;
		} else if (cp >= 0xd800 && cp < 0xe000) {
			cp = '?';
		}
		put = utf8_put(out, o, size, cp);
		if (!put)
			return false;
		o += put;
	}
	out[o] = '\0';
	return o > 0;
}

/* One part of a short name (the base or the extension) without its
 * trailing spaces, lower-cased if @lower; bytes outside printable ASCII (an
 * OEM code page) become '?', 0x05 too, which stands for a leading 0xE5
 * (FAT spec §6.1). Every entry of every directory searched comes through
 * here, so it tests each byte twice, not eight times. */
static size_t fat_short_part(const uint8_t *s, size_t n, bool lower, char *out)
{
	while (n > 0 && s[n - 1] == ' ')
		n--;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];

		if ((uint8_t)(c - 0x20) >= 0x80 - 0x20)
			c = '?';
		else if (lower && (uint8_t)(c - 'A') < 26)
			c = (uint8_t)(c + 'a' - 'A');
		out[i] = (char)c;
	}
	return n;
}

/* "NAME.EXT" from the 11-byte short name, honouring the NT lower-case
 * flags. */
static void fat_short_name(const uint8_t *e, char out[13])
{
	uint8_t nt = e[FAT_D_NTRES];
	size_t o = fat_short_part(e, 8, nt & FAT_NTRES_LOWER_BASE, out), n;

	out[o] = '.';
	n = fat_short_part(e + 8, 3, nt & FAT_NTRES_LOWER_EXT, out + o + 1);
	out[n ? o + 1 + n : o] = '\0';
}

static void fat_decode_short(const struct fat_fs *fs, const uint8_t *e,
			     struct fat_lfn *l, struct fat_dent *d)
{
	bool have_long = l->total && l->expect == 0 &&
			 l->checksum == fat_lfn_checksum(e);

	fat_short_name(e, d->short_name);
	if (!have_long ||
	    !fat_utf16_to_utf8(l->units, (size_t)l->total * FAT_LFN_UNITS,
			       d->name, sizeof(d->name)))
		memcpy(d->name, d->short_name, sizeof(d->short_name));
	l->total = 0;
	d->attr = e[FAT_D_ATTR];
	d->size = get_le32(e + FAT_D_SIZE);
	d->cluster = get_le16(e + FAT_D_CLUS_LO);
	/* FAT spec §6: the high word is only meaningful on FAT32. */
	if (fs->base.type == FS_FAT32)
		d->cluster |= (uint32_t)get_le16(e + FAT_D_CLUS_HI) << 16;
}

/*
 * Whether short entry @e could be @find (fat_find_fn's test) going by the
 * first byte of its short name, when no long name stands before it. A
 * search walks past every entry until it finds its name, mostly entries
 * of other names, and this spares it their decoding. The short name
 * starts with @e's first byte (decoded as fat_short_part does; case does
 * not matter) unless that is a space (an empty base: decode it).
 */
static bool fat_short_may_be(const uint8_t *e, const struct fat_lfn *l,
			     const char *find)
{
	uint8_t c = e[0];

	if (l->total || c == ' ')
		return true;
	if ((uint8_t)(c - 0x20) >= 0x80 - 0x20)
		c = '?';
	return ascii_lower((char)c) == ascii_lower(find[0]);
}

/* Feed one raw entry. 1: @d holds an entry; 0: keep going; -1: end. When
 * the walk looks for a name (@find), entries that cannot be it are passed
 * over undecoded. */
static int fat_dent_step(const struct fat_fs *fs, const uint8_t *e,
			 struct fat_lfn *l, struct fat_dent *d,
			 const char *find)
{
	uint8_t attr = e[FAT_D_ATTR];

	if (e[0] == 0x00)
		return -1; /* FAT spec §6: this and all later entries free */
	if (e[0] == FAT_DELETED) {
		l->total = 0;
		return 0;
	}
	if ((attr & FAT_ATTR_LONG_MASK) == FAT_ATTR_LONG_NAME) {
		fat_lfn_feed(l, e);
		return 0;
	}
	if ((attr & FAT_ATTR_VOLUME_ID) ||
	    (find && !fat_short_may_be(e, l, find))) {
		l->total = 0;
		return 0;
	}
	fat_decode_short(fs, e, l, d);
	return 1;
}

struct fat_walk {
	struct fat_lfn lfn;
	struct fat_dent dent;
	uint8_t *buf;
	const char *find; /* the name searched for, or NULL */
};

static int fat_dir_walk_chunk(struct fat_file *dir, struct fat_walk *w,
			      size_t len, fat_dent_fn fn, void *ctx, bool *end)
{
	for (size_t i = 0; i < len; i += FAT_DIRENT_SIZE) {
		int r = fat_dent_step(dir->fs, w->buf + i, &w->lfn, &w->dent,
				      w->find);

		if (r < 0) {
			*end = true;
			return 0;
		}
		if (r == 0)
			continue;
		r = fn(ctx, &w->dent);
		if (r)
			return r;
	}
	return 0;
}

/* Call @fn for every entry of @dir, "." and ".." included, or when @find
 * is set, for the entries that may be named @find (at least every one that
 * is). Returns 0 at the end, or what @fn returned when non-zero. */
static int fat_dir_walk(struct fat_file *dir, const char *find,
			fat_dent_fn fn, void *ctx)
{
	struct fat_walk *w = plat_alloc(sizeof(*w));
	uint64_t off = 0;
	bool end = false;
	int r = 0;

	if (w)
		w->buf = plat_alloc(FAT_DIR_CHUNK);
	if (!w || !w->buf) {
		r = log_err(-VQ_ENOMEM, "fat: %s: no memory for directory walk",
			    dir->name);
		goto out;
	}
	w->find = find;
	while (off < dir->size && !end) {
		size_t len = (size_t)VQ_MIN((uint64_t)FAT_DIR_CHUNK,
					    dir->size - off);

		r = fat_file_read_range(dir, off, w->buf, len);
		if (r < 0)
			break;
		r = fat_dir_walk_chunk(dir, w, len, fn, ctx, &end);
		if (r)
			break;
		off += len;
	}
out:
	if (w)
		bdev_free(dir->fs->base.bd, w->buf); /* kept if the disk stuck */
	plat_free(w);
	return r;
}

/* ---- path lookup -------------------------------------------------------- */

struct fat_find {
	const char *name;
	struct fat_dent *out;
};

static bool fat_name_eq(const char *a, const char *b)
{
	/* FAT names are case-insensitive; we fold ASCII only. */
	for (; *a && *b; a++, b++)
		if (ascii_lower(*a) != ascii_lower(*b))
			return false;
	return *a == *b;
}

static int fat_find_fn(void *ctx, const struct fat_dent *d)
{
	struct fat_find *f = ctx;

	if (!fat_name_eq(f->name, d->name) &&
	    !fat_name_eq(f->name, d->short_name))
		return 0;
	*f->out = *d;
	return 1;
}

static void fat_root_dent(const struct fat_fs *fs, struct fat_dent *d)
{
	memset(d, 0, sizeof(*d));
	d->name[0] = '/';
	d->attr = FAT_ATTR_DIRECTORY;
	d->cluster = fs->base.type == FS_FAT32 ? fs->root_cluster : 0;
}

/* Directory @d, open, for a walk: from fs->dirs if it is there, else
 * opened and put there in place of the least recently used one that no
 * walk is using (or kept out of it when every slot is in use). Hand it
 * back with fat_dir_put. A callback of the walk may look up paths and so
 * fill slots: the one in use is never taken from under it. */
static int fat_dir_get(struct fat_fs *fs, const struct fat_dent *d,
		       const char *name, struct fat_file **ret)
{
	bool fixed = d->cluster == 0 && fs->base.type != FS_FAT32;
	uint32_t first = d->cluster ? d->cluster : fs->root_cluster;
	struct fat_file *f = NULL;
	size_t victim = FAT_DIR_SLOTS;
	int r;

	for (size_t i = 0; i < FAT_DIR_SLOTS; i++) {
		struct fat_file *c = fs->dirs[i];

		if (c && c->fixed_root == fixed &&
		    (fixed || c->runs[0].cluster == first)) {
			f = c;
			break;
		}
		if (!c || (!c->busy && (victim == FAT_DIR_SLOTS ||
					(fs->dirs[victim] &&
					 c->stamp < fs->dirs[victim]->stamp))))
			victim = i;
	}
	if (!f) {
		/* Messages name the directory: the damage may be on the way. */
		r = fat_open_dir(fs, d->cluster, name, &f);
		if (r < 0)
			return r;
		if (victim < FAT_DIR_SLOTS) {
			fat_file_free(fs->dirs[victim]);
			fs->dirs[victim] = f;
			f->cached = true;
		}
	}
	f->busy++;
	f->stamp = ++fs->dir_clock;
	*ret = f;
	return 0;
}

static void fat_dir_put(struct fat_file *f)
{
	if (!f->cached)
		fat_file_free(f);
	else
		f->busy--;
}

/* Find @name in directory @d; @d becomes the entry found. */
static int fat_lookup_in(struct fat_fs *fs, struct fat_dent *d,
			 const char *name, const char *path)
{
	struct fat_dent found;
	struct fat_find find = { name, &found };
	struct fat_file *dir = NULL;
	int r;

	if (!(d->attr & FAT_ATTR_DIRECTORY))
		return log_err(-VQ_ENOTDIR, "fat: %s: %s is not a directory",
			       path, d->name);
	r = fat_dir_get(fs, d, d->name, &dir);
	if (r < 0)
		return r;
	r = fat_dir_walk(dir, name, fat_find_fn, &find);
	fat_dir_put(dir);
	if (r < 0)
		return r;
	if (r == 0) {
		log_debug("fat: %s: no entry %s", path, name);
		return -VQ_ENOENT;
	}
	*d = found;
	return 0;
}

/* Walk the @n bytes of path at @p ('/'-separated; empty components and
 * "." ignored) from directory @d, which becomes the entry found; @path is
 * the whole path, for messages. */
static int fat_walk_path(struct fat_fs *fs, struct fat_dent *d,
			 const char *p, size_t n, const char *path)
{
	const char *end = p + n;
	char comp[FAT_NAME_MAX + 1];
	int r;

	while (p < end) {
		const char *q = p;
		size_t len;

		while (q < end && *q != '/')
			q++;
		len = (size_t)(q - p);
		if (len > FAT_NAME_MAX)
			return log_err(-VQ_ENOENT, "fat: %s: component of %zu bytes is longer than %u",
				       path, len, FAT_NAME_MAX);
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (len && strcmp(comp, ".")) {
			r = fat_lookup_in(fs, d, comp, path);
			if (r < 0)
				return r;
		}
		p = q < end ? q + 1 : q;
	}
	return 0;
}

/* Walk @path from the root; the directory before its last '/' from the
 * lookup cache when it holds that path. */
static int fat_lookup(struct fat_fs *fs, const char *path,
		      struct fat_dent *ret)
{
	struct fat_dent *d = plat_alloc(sizeof(*d));
	const char *name = path; /* after the last '/' */
	size_t dir_len = 0;      /* up to the last '/' */
	int r = 0;

	if (!d)
		return log_err(-VQ_ENOMEM, "fat: %s: no memory", path);
	for (const char *q = path; *q; q++)
		if (*q == '/')
			name = q + 1;
	if (name > path)
		dir_len = (size_t)(name - 1 - path);
	if (dir_len && dir_len == fs->prefix_len &&
	    !memcmp(path, fs->prefix, dir_len)) {
		*d = fs->prefix_dent;
	} else {
		fat_root_dent(fs, d);
		r = fat_walk_path(fs, d, path, dir_len, path);
		if (r == 0 && dir_len && dir_len <= sizeof(fs->prefix) &&
		    (d->attr & FAT_ATTR_DIRECTORY)) {
			memcpy(fs->prefix, path, dir_len);
			fs->prefix_len = dir_len;
			fs->prefix_dent = *d;
		}
	}
	if (r == 0)
		r = fat_walk_path(fs, d, name, strlen(name), path);
	if (r == 0)
		*ret = *d;
	plat_free(d);
	return r;
}

/* ---- mount -------------------------------------------------------------- */

struct fat_bpb {
	uint32_t bytes_per_sec;
	uint32_t sec_per_clus;
	uint32_t rsvd;
	uint32_t num_fats;
	uint32_t root_ent;
	uint64_t tot_sec;
	uint64_t fat_sz;
	uint32_t fat_sz16;
	uint64_t root_sectors;
	uint64_t meta_sectors;
	uint64_t clusters;
};

static void fat_decode_bpb(const uint8_t *b, struct fat_bpb *p)
{
	uint32_t tot16 = get_le16(b + BPB_TOT_SEC16);

	p->bytes_per_sec = get_le16(b + BPB_BYTS_PER_SEC);
	p->sec_per_clus = b[BPB_SEC_PER_CLUS];
	p->rsvd = get_le16(b + BPB_RSVD_SEC_CNT);
	p->num_fats = b[BPB_NUM_FATS];
	p->root_ent = get_le16(b + BPB_ROOT_ENT_CNT);
	p->fat_sz16 = get_le16(b + BPB_FAT_SZ16);
	p->fat_sz = p->fat_sz16 ? p->fat_sz16 : get_le32(b + BPB_FAT_SZ32);
	p->tot_sec = tot16 ? tot16 : get_le32(b + BPB_TOT_SEC32);
}

/* The checks of FAT spec §3.1-3.5 that do not depend on the FAT type. */
static int fat_check_bpb(const struct blockdev *bd, struct fat_bpb *p)
{
	if (!is_pow2(p->bytes_per_sec) || p->bytes_per_sec < 512 ||
	    p->bytes_per_sec > 4096)
		return log_err(-VQ_ECORRUPT, "fat: %s: bytes per sector %u not a power of 2 in 512..4096",
			       bd->name, p->bytes_per_sec);
	if (!is_pow2(p->sec_per_clus))
		return log_err(-VQ_ECORRUPT, "fat: %s: sectors per cluster %u not a power of 2",
			       bd->name, p->sec_per_clus);
	if (p->rsvd == 0 || p->num_fats == 0 || p->num_fats > 4)
		return log_err(-VQ_ECORRUPT, "fat: %s: %u reserved sectors, %u FATs",
			       bd->name, p->rsvd, p->num_fats);
	if (p->fat_sz == 0 || p->tot_sec == 0)
		return log_err(-VQ_ECORRUPT, "fat: %s: FAT size %llu, total sectors %llu",
			       bd->name, (unsigned long long)p->fat_sz,
			       (unsigned long long)p->tot_sec);
	if (p->tot_sec > bd->size / p->bytes_per_sec)
		return log_err(-VQ_ECORRUPT, "fat: %s: %llu sectors of %u bytes exceed device of %llu bytes",
			       bd->name, (unsigned long long)p->tot_sec,
			       p->bytes_per_sec, (unsigned long long)bd->size);
	/* FAT spec §3.5: the cluster count alone decides the FAT type. */
	p->root_sectors = ((uint64_t)p->root_ent * FAT_DIRENT_SIZE +
			   p->bytes_per_sec - 1) / p->bytes_per_sec;
	p->meta_sectors = p->rsvd + p->num_fats * p->fat_sz + p->root_sectors;
	if (p->meta_sectors >= p->tot_sec)
		return log_err(-VQ_ECORRUPT, "fat: %s: %llu metadata sectors leave no data in %llu",
			       bd->name, (unsigned long long)p->meta_sectors,
			       (unsigned long long)p->tot_sec);
	p->clusters = (p->tot_sec - p->meta_sectors) / p->sec_per_clus;
	if (p->clusters == 0 || p->clusters > 0x0ffffff5)
		return log_err(-VQ_ECORRUPT, "fat: %s: %llu clusters", bd->name,
			       (unsigned long long)p->clusters);
	return 0;
}

static enum fs_type fat_type_of(uint64_t clusters)
{
	if (clusters < 4085)
		return FS_FAT12;
	if (clusters < 65525)
		return FS_FAT16;
	return FS_FAT32;
}

/* FAT32 needs a BPB of the FAT32 shape and a root cluster; FAT12/16 a
 * fixed root directory (FAT spec §3.2, §3.3). */
static int fat_check_type(struct fat_fs *fs, const uint8_t *b,
			  const struct fat_bpb *p)
{
	const char *dev = fs->base.bd->name;

	if (fs->base.type != FS_FAT32) {
		if (p->root_ent == 0 || p->fat_sz16 == 0)
			return log_err(-VQ_ECORRUPT, "fat: %s: FAT%s with %u root entries, FATSz16 %u",
				       dev, fs->base.type == FS_FAT12 ? "12" : "16",
				       p->root_ent, p->fat_sz16);
		return 0;
	}
	if (p->root_ent != 0 || p->fat_sz16 != 0 || get_le16(b + BPB_FS_VER))
		return log_err(-VQ_ECORRUPT, "fat: %s: FAT32 with %u root entries, FATSz16 %u, version 0x%x",
			       dev, p->root_ent, p->fat_sz16,
			       get_le16(b + BPB_FS_VER));
	fs->root_cluster = get_le32(b + BPB_ROOT_CLUS);
	if (!fat_cluster_valid(fs, fs->root_cluster))
		return log_err(-VQ_ECORRUPT, "fat: %s: root cluster %u outside 2..%u",
			       dev, fs->root_cluster, fs->cluster_count + 1);
	return 0;
}

/* Which FAT to read: FAT32 may turn mirroring off and name the active one
 * (FAT spec §3.3 BPB_ExtFlags). */
static int fat_active_fat(struct fat_fs *fs, const uint8_t *b,
			  const struct fat_bpb *p, uint32_t *ret)
{
	uint16_t flags = get_le16(b + BPB_EXT_FLAGS);

	if (fs->base.type != FS_FAT32 || !(flags & 0x80)) {
		*ret = 0;
		return 0;
	}
	if ((flags & 0xf) >= p->num_fats)
		return log_err(-VQ_ECORRUPT, "fat: %s: active FAT %u of %u",
			       fs->base.bd->name, flags & 0xf, p->num_fats);
	*ret = flags & 0xf;
	return 0;
}

static int fat_layout(struct fat_fs *fs, const uint8_t *b,
		      const struct fat_bpb *p)
{
	uint64_t bps = p->bytes_per_sec;
	uint64_t entries = fs->cluster_count + 2ull;
	uint64_t need;
	uint32_t active = 0;
	int r;

	r = fat_active_fat(fs, b, p, &active);
	if (r < 0)
		return r;
	fs->fat_bytes = p->fat_sz * bps;
	fs->fat_offset = (p->rsvd + active * p->fat_sz) * bps;
	fs->root_offset = (p->rsvd + p->num_fats * p->fat_sz) * bps;
	fs->root_bytes = p->root_ent * FAT_DIRENT_SIZE;
	fs->data_offset = p->meta_sectors * bps;
	need = fs->base.type == FS_FAT12 ? (entries * 3 + 1) / 2 :
	       fs->base.type == FS_FAT16 ? entries * 2 : entries * 4;
	if (need > fs->fat_bytes)
		return log_err(-VQ_ECORRUPT, "fat: %s: FAT of %llu bytes too small for %u clusters",
			       fs->base.bd->name,
			       (unsigned long long)fs->fat_bytes,
			       fs->cluster_count);
	return 0;
}

static void fat_read_label(struct fat_fs *fs, const uint8_t *b)
{
	bool f32 = fs->base.type == FS_FAT32;
	const uint8_t *lab = b + (f32 ? BS_VOL_LAB_32 : BS_VOL_LAB_16);
	size_t n = 11;

	/* FAT spec §3.2: the label is there only with boot signature 0x29. */
	if (b[f32 ? BS_BOOT_SIG_32 : BS_BOOT_SIG_16] != 0x29 ||
	    !memcmp(lab, "NO NAME    ", 11))
		return;
	while (n > 0 && lab[n - 1] == ' ')
		n--;
	for (size_t i = 0; i < n; i++)
		fs->base.label[i] = (lab[i] >= 0x20 && lab[i] < 0x7f) ?
				    (char)lab[i] : '?';
	fs->base.label[n] = '\0';
}

/* Jump instruction present and not another filesystem that shares it. */
static bool fat_boot_sector_plausible(const uint8_t *b)
{
	if (b[0] != 0xeb && b[0] != 0xe9)
		return false;
	return memcmp(b + 3, "EXFAT   ", 8) && memcmp(b + 3, "NTFS    ", 8) &&
	       get_le16(b + BPB_BYTS_PER_SEC) != 0;
}

static int fat_cache_init(struct fat_fs *fs)
{
	fs->cache_mem = plat_alloc(FAT_CACHE_SLOTS * FAT_CACHE_WINDOW);
	if (!fs->cache_mem)
		return log_err(-VQ_ENOMEM, "fat: %s: no memory for FAT cache",
			       fs->base.bd->name);
	for (size_t i = 0; i < FAT_CACHE_SLOTS; i++) {
		fs->cache[i].start = UINT64_MAX;
		fs->cache[i].data = fs->cache_mem + i * FAT_CACHE_WINDOW;
	}
	return 0;
}

static int fat_setup(struct fat_fs *fs, const uint8_t *b)
{
	struct blockdev *bd = fs->base.bd;
	struct fat_bpb p = { 0 };
	int r;

	fat_decode_bpb(b, &p);
	r = fat_check_bpb(bd, &p);
	if (r < 0)
		return r;
	fs->base.type = fat_type_of(p.clusters);
	fs->sector_size = p.bytes_per_sec;
	fs->cluster_size = p.bytes_per_sec * p.sec_per_clus;
	fs->cluster_count = (uint32_t)p.clusters;
	r = fat_check_type(fs, b, &p);
	if (r == 0)
		r = fat_layout(fs, b, &p);
	if (r == 0)
		r = fat_cache_init(fs);
	if (r < 0)
		return r;
	fat_read_label(fs, b);
	log_debug("fat: %s: %s, %u clusters of %u bytes, label \"%s\"",
		  bd->name, fs_type_name(fs->base.type), fs->cluster_count,
		  fs->cluster_size, fs->base.label);
	return 0;
}

static void fat_unmount(struct fs *base)
{
	struct fat_fs *fs = to_fat(base);

	if (!fs)
		return;
	bdev_free(fs->base.bd, fs->cache_mem); /* kept if the disk stuck */
	for (size_t i = 0; i < FAT_DIR_SLOTS; i++)
		fat_file_free(fs->dirs[i]);
	plat_free(fs);
}

static int fat_mount(struct blockdev *bd, struct fs **ret)
{
	struct fat_fs *fs = NULL;
	uint8_t *b;
	int r = -VQ_ENOENT;

	if (bd->size < FAT_BOOT_SIZE)
		return -VQ_ENOENT;
	b = plat_alloc(FAT_BOOT_SIZE);
	if (!b)
		return log_err(-VQ_ENOMEM, "fat: %s: no memory", bd->name);
	r = bdev_read(bd, 0, b, FAT_BOOT_SIZE);
	if (r < 0)
		goto out;
	if (!fat_boot_sector_plausible(b)) {
		r = -VQ_ENOENT;
		goto out;
	}
	fs = plat_alloc(sizeof(*fs));
	if (!fs) {
		r = log_err(-VQ_ENOMEM, "fat: %s: no memory", bd->name);
		goto out;
	}
	fs->base.ops = &fat_fs_ops;
	fs->base.bd = bd;
	r = fat_setup(fs, b);
	if (r == 0)
		*ret = &fs->base;
	else
		fat_unmount(&fs->base);
out:
	bdev_free(bd, b);
	return r;
}

/* ---- fs_ops ------------------------------------------------------------- */

static int fat_open(struct fs *base, const char *path, struct fs_file **ret)
{
	struct fat_fs *fs = to_fat(base);
	struct fat_dent *d = plat_alloc(sizeof(*d));
	struct fat_file *f = NULL;
	int r;

	if (!d)
		return log_err(-VQ_ENOMEM, "fat: %s: no memory", path);
	r = fat_lookup(fs, path, d);
	if (r == 0 && (d->attr & FAT_ATTR_DIRECTORY))
		r = log_err(-VQ_EINVAL, "fat: %s: is a directory", path);
	if (r == 0)
		r = fat_open_regular(fs, d, path, &f);
	plat_free(d);
	if (r == 0)
		*ret = (struct fs_file *)f;
	return r;
}

static int fat_read(struct fs_file *file, uint64_t offset, void *buf,
		    size_t len)
{
	struct fat_file *f = (struct fat_file *)file;

	if (offset > f->size || len > f->size - offset)
		return log_err(-VQ_ERANGE, "fat: %s: read of %zu bytes at %llu past size %llu",
			       f->name, len, (unsigned long long)offset,
			       (unsigned long long)f->size);
	return fat_file_read_range(f, offset, buf, len);
}

static uint64_t fat_size(const struct fs_file *file)
{
	return ((const struct fat_file *)file)->size;
}

static void fat_close(struct fs_file *file)
{
	fat_file_free((struct fat_file *)file);
}

struct fat_list {
	fs_dir_fn fn;
	void *ctx;
	struct fs_dirent ent;
};

static int fat_list_fn(void *ctx, const struct fat_dent *d)
{
	struct fat_list *l = ctx;

	if (!strcmp(d->name, ".") || !strcmp(d->name, ".."))
		return 0;
	memcpy(l->ent.name, d->name, sizeof(l->ent.name));
	l->ent.is_dir = d->attr & FAT_ATTR_DIRECTORY;
	l->ent.size = l->ent.is_dir ? 0 : d->size;
	return l->fn(l->ctx, &l->ent);
}

static int fat_list(struct fs *base, const char *path, fs_dir_fn fn, void *ctx)
{
	struct fat_fs *fs = to_fat(base);
	struct fat_dent *d = plat_alloc(sizeof(*d));
	struct fat_list *l = plat_alloc(sizeof(*l));
	struct fat_file *dir = NULL;
	int r;

	if (!d || !l) {
		r = log_err(-VQ_ENOMEM, "fat: %s: no memory", path);
		goto out;
	}
	r = fat_lookup(fs, path, d);
	if (r == 0 && !(d->attr & FAT_ATTR_DIRECTORY))
		r = log_err(-VQ_ENOTDIR, "fat: %s: not a directory", path);
	if (r == 0)
		r = fat_dir_get(fs, d, path, &dir);
	if (r == 0) {
		l->fn = fn;
		l->ctx = ctx;
		r = fat_dir_walk(dir, NULL, fat_list_fn, l);
		fat_dir_put(dir);
	}
out:
	plat_free(l);
	plat_free(d);
	return r;
}

const struct fs_ops fat_fs_ops = {
	.name = "fat",
	.mount = fat_mount,
	.unmount = fat_unmount,
	.open = fat_open,
	.read = fat_read,
	.size = fat_size,
	.close = fat_close,
	.list = fat_list,
};
