/* SPDX-License-Identifier: MIT */
/*
 * Partition tables: GPT (UEFI 2.10 §5.3), the MBR and the protective MBR
 * (UEFI 2.10 §5.2), extended MBR partitions through a bounded walk of the
 * EBR chain. Nothing read from the disk is trusted: every header field,
 * LBA and length is checked against the disk before it is used.
 */
#include "boot/part.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

#define MBR_SIZE 512
#define MBR_TABLE_OFF 446
#define MBR_ENTRY_SIZE 16
#define MBR_SIG_OFF 510
#define MBR_TYPE_PROTECTIVE 0xEE
#define MBR_TYPE_ESP 0xEF
#define MBR_TYPE_XBOOTLDR 0xEA
#define MBR_TYPE_LINUX 0x83
/* A chain of EBRs longer than this is a loop or garbage. */
#define MBR_EBR_MAX_HOPS 128

#define GPT_HEADER_LBA 1
#define GPT_HEADER_MIN 92          /* UEFI 2.10 table 5.5: HeaderSize >= 92 */
#define GPT_ENTRY_MIN 128          /* UEFI 2.10 §5.3.3: 128 * 2^n bytes */
#define GPT_ENTRY_MAX 4096         /* our sanity bound */
#define GPT_ARRAY_MAX (1024 * 1024) /* our bound on the entry array bytes */
#define GPT_NAME_UNITS 36

/* GPT header field offsets, UEFI 2.10 table 5.5. */
#define GPT_H_SIG 0
#define GPT_H_SIZE 12
#define GPT_H_CRC 16
#define GPT_H_MY_LBA 24
#define GPT_H_ALT_LBA 32
#define GPT_H_FIRST_USABLE 40
#define GPT_H_LAST_USABLE 48
#define GPT_H_DISK_GUID 56
#define GPT_H_ENTRIES_LBA 72
#define GPT_H_NUM_ENTRIES 80
#define GPT_H_ENTRY_SIZE 84
#define GPT_H_ENTRIES_CRC 88

/* GPT partition entry offsets, UEFI 2.10 table 5.6. */
#define GPT_E_TYPE 0
#define GPT_E_UNIQUE 16
#define GPT_E_FIRST 32
#define GPT_E_LAST 40
#define GPT_E_NAME 56

struct gpt_header {
	uint64_t lba;
	uint64_t alternate_lba;
	uint64_t first_usable;
	uint64_t last_usable;
	uint64_t entries_lba;
	uint32_t num_entries;
	uint32_t entry_size;
	uint32_t entries_crc;
	struct part_guid disk_guid;
};

/* Type GUIDs in on-disk byte order (first three fields little-endian). */
static const struct {
	struct part_guid guid;
	enum part_kind kind;
} gpt_kinds[] = {
	/* C12A7328-F81F-11D2-BA4B-00A0C93EC93B, EFI System Partition */
	{ { { 0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
	      0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b } },
	  PART_KIND_ESP },
	/* BC13C2FF-59E6-4262-A352-B275FD6F7172, Extended Boot Loader */
	{ { { 0xff, 0xc2, 0x13, 0xbc, 0xe6, 0x59, 0x62, 0x42,
	      0xa3, 0x52, 0xb2, 0x75, 0xfd, 0x6f, 0x71, 0x72 } },
	  PART_KIND_XBOOTLDR },
	/* 0FC63DAF-8483-4772-8E79-3D69D8477DE4, Linux filesystem data */
	{ { { 0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
	      0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4 } },
	  PART_KIND_LINUX },
};

const char *part_kind_name(enum part_kind kind)
{
	switch (kind) {
	case PART_KIND_ESP:
		return "esp";
	case PART_KIND_XBOOTLDR:
		return "xbootldr";
	case PART_KIND_LINUX:
		return "linux";
	default:
		return "other";
	}
}

void part_guid_str(const struct part_guid *g, char out[37])
{
	/* UEFI 2.10 appendix A: the first three fields are little-endian. */
	static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6,
					   8, 9, 10, 11, 12, 13, 14, 15 };
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[g->b[order[i]] >> 4];
		out[o++] = hex[g->b[order[i]] & 0xf];
	}
	out[o] = '\0';
}

static uint64_t disk_blocks(const struct blockdev *bd)
{
	return bd->size / bd->block_size;
}

/* True when [start, start + count) lies inside [0, limit), without
 * overflowing. */
static bool range_fits(uint64_t start, uint64_t count, uint64_t limit)
{
	return start <= limit && count <= limit - start;
}

static bool guid_is_zero(const struct part_guid *g)
{
	for (size_t i = 0; i < sizeof(g->b); i++)
		if (g->b[i])
			return false;
	return true;
}

static enum part_kind gpt_kind(const struct part_guid *type)
{
	for (size_t i = 0; i < ARRAY_SIZE(gpt_kinds); i++)
		if (!memcmp(type->b, gpt_kinds[i].guid.b, sizeof(type->b)))
			return gpt_kinds[i].kind;
	return PART_KIND_OTHER;
}

static enum part_kind mbr_kind(uint8_t type)
{
	switch (type) {
	case MBR_TYPE_ESP:
		return PART_KIND_ESP;
	case MBR_TYPE_XBOOTLDR:
		return PART_KIND_XBOOTLDR;
	case MBR_TYPE_LINUX:
		return PART_KIND_LINUX;
	default:
		return PART_KIND_OTHER;
	}
}

/* The GPT name is UTF-16LE; part.h promises the ASCII subset, so anything
 * else becomes '?'. */
static void gpt_copy_name(const uint8_t *src, char *dst, size_t dst_size)
{
	size_t o = 0;

	for (size_t i = 0; i < GPT_NAME_UNITS && o + 1 < dst_size; i++) {
		uint16_t c = get_le16(src + 2 * i);

		if (c == 0)
			break;
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
}

/* ---- GPT ---------------------------------------------------------------- */

static int gpt_check_crc(const struct blockdev *bd, uint8_t *hdr,
			 uint32_t size, uint64_t lba)
{
	uint32_t stored = get_le32(hdr + GPT_H_CRC);
	uint32_t computed;

	/* UEFI 2.10 §5.3.2: the CRC is computed with its own field zeroed. */
	put_le32(hdr + GPT_H_CRC, 0);
	computed = crc32_ieee(0, hdr, size);
	put_le32(hdr + GPT_H_CRC, stored);
	if (stored != computed) {
		log_warn("gpt: %s: header at LBA %llu CRC 0x%08x, computed 0x%08x",
			 bd->name, (unsigned long long)lba, stored, computed);
		return -VQ_ECORRUPT;
	}
	return 0;
}

static void gpt_decode_header(const uint8_t *hdr, struct gpt_header *h)
{
	h->lba = get_le64(hdr + GPT_H_MY_LBA);
	h->alternate_lba = get_le64(hdr + GPT_H_ALT_LBA);
	h->first_usable = get_le64(hdr + GPT_H_FIRST_USABLE);
	h->last_usable = get_le64(hdr + GPT_H_LAST_USABLE);
	h->entries_lba = get_le64(hdr + GPT_H_ENTRIES_LBA);
	h->num_entries = get_le32(hdr + GPT_H_NUM_ENTRIES);
	h->entry_size = get_le32(hdr + GPT_H_ENTRY_SIZE);
	h->entries_crc = get_le32(hdr + GPT_H_ENTRIES_CRC);
	memcpy(h->disk_guid.b, hdr + GPT_H_DISK_GUID, sizeof(h->disk_guid.b));
}

static uint64_t gpt_array_blocks(const struct blockdev *bd,
				 const struct gpt_header *h)
{
	uint64_t bytes = (uint64_t)h->num_entries * h->entry_size;

	return (bytes + bd->block_size - 1) / bd->block_size;
}

/* Checks of the decoded fields (UEFI 2.10 §5.3.2), given a good CRC. */
static int gpt_check_fields(const struct blockdev *bd, uint64_t lba,
			    const struct gpt_header *h)
{
	uint64_t nblocks = disk_blocks(bd);
	uint64_t array_blocks;

	if (h->lba != lba) {
		log_warn("gpt: %s: header at LBA %llu says MyLBA %llu",
			 bd->name, (unsigned long long)lba,
			 (unsigned long long)h->lba);
		return -VQ_ECORRUPT;
	}
	if (h->entry_size < GPT_ENTRY_MIN || h->entry_size > GPT_ENTRY_MAX ||
	    h->entry_size % 8) {
		log_warn("gpt: %s: header at LBA %llu entry size %u invalid",
			 bd->name, (unsigned long long)lba, h->entry_size);
		return -VQ_ECORRUPT;
	}
	if ((uint64_t)h->num_entries * h->entry_size > GPT_ARRAY_MAX) {
		log_warn("gpt: %s: header at LBA %llu has %u entries of %u bytes, more than %u bytes",
			 bd->name, (unsigned long long)lba, h->num_entries,
			 h->entry_size, GPT_ARRAY_MAX);
		return -VQ_ECORRUPT;
	}
	if (h->first_usable > h->last_usable || h->last_usable >= nblocks ||
	    h->first_usable <= GPT_HEADER_LBA) {
		log_warn("gpt: %s: header at LBA %llu usable LBAs %llu..%llu outside disk of %llu blocks",
			 bd->name, (unsigned long long)lba,
			 (unsigned long long)h->first_usable,
			 (unsigned long long)h->last_usable,
			 (unsigned long long)nblocks);
		return -VQ_ECORRUPT;
	}
	array_blocks = gpt_array_blocks(bd, h);
	/* The array must be on the disk, clear of LBA 0, of this header and
	 * of the usable range (UEFI 2.10 §5.3.1). */
	if (h->entries_lba <= GPT_HEADER_LBA ||
	    !range_fits(h->entries_lba, array_blocks, nblocks) ||
	    (lba >= h->entries_lba && lba - h->entries_lba < array_blocks) ||
	    !(h->entries_lba + array_blocks <= h->first_usable ||
	      h->entries_lba > h->last_usable)) {
		log_warn("gpt: %s: header at LBA %llu entry array at LBA %llu (%llu blocks) misplaced",
			 bd->name, (unsigned long long)lba,
			 (unsigned long long)h->entries_lba,
			 (unsigned long long)array_blocks);
		return -VQ_ECORRUPT;
	}
	return 0;
}

/* Read and validate the header at @lba. I/O errors are returned as is;
 * a damaged header is -VQ_ECORRUPT after a warning saying why. */
static int gpt_read_header(struct blockdev *bd, uint64_t lba,
			   struct gpt_header *ret)
{
	struct gpt_header h;
	uint8_t *hdr;
	uint32_t size;
	int r;

	hdr = plat_alloc(bd->block_size);
	if (!hdr)
		return log_err(-VQ_ENOMEM, "gpt: %s: no memory for header",
			       bd->name);
	r = bdev_read(bd, lba * bd->block_size, hdr, bd->block_size);
	if (r < 0)
		goto out;
	r = -VQ_ECORRUPT;
	if (memcmp(hdr + GPT_H_SIG, "EFI PART", 8)) {
		log_warn("gpt: %s: no GPT signature at LBA %llu", bd->name,
			 (unsigned long long)lba);
		goto out;
	}
	size = get_le32(hdr + GPT_H_SIZE);
	if (size < GPT_HEADER_MIN || size > bd->block_size) {
		log_warn("gpt: %s: header at LBA %llu size %u outside %u..%u",
			 bd->name, (unsigned long long)lba, size,
			 GPT_HEADER_MIN, bd->block_size);
		goto out;
	}
	r = gpt_check_crc(bd, hdr, size, lba);
	if (r < 0)
		goto out;
	gpt_decode_header(hdr, &h);
	r = gpt_check_fields(bd, lba, &h);
	if (r == 0)
		*ret = h;
out:
	bdev_free(bd, hdr);
	return r;
}

/* Read the entry array of @h and check its CRC. */
static int gpt_read_entries(struct blockdev *bd, const struct gpt_header *h,
			    uint8_t **ret)
{
	size_t bytes = (size_t)h->num_entries * h->entry_size;
	uint32_t computed;
	uint8_t *array;
	int r;

	/* plat_alloc(0) may return NULL; keep one byte for an empty array. */
	array = plat_alloc(bytes ? bytes : 1);
	if (!array)
		return log_err(-VQ_ENOMEM, "gpt: %s: no memory for %zu-byte entry array",
			       bd->name, bytes);
	r = bdev_read(bd, h->entries_lba * bd->block_size, array, bytes);
	if (r < 0) {
		bdev_free(bd, array);
		return r;
	}
	computed = crc32_ieee(0, array, bytes);
	if (computed != h->entries_crc) {
		log_warn("gpt: %s: entry array at LBA %llu CRC 0x%08x, header says 0x%08x",
			 bd->name, (unsigned long long)h->entries_lba, computed,
			 h->entries_crc);
		bdev_free(bd, array);
		return -VQ_ECORRUPT;
	}
	*ret = array;
	return 0;
}

static void gpt_add_entry(struct blockdev *bd, const struct gpt_header *h,
			  const uint8_t *e, unsigned index,
			  struct part_table *t)
{
	struct partition *p;
	uint64_t first = get_le64(e + GPT_E_FIRST);
	uint64_t last = get_le64(e + GPT_E_LAST);

	/* UEFI 2.10 §5.3.3: an entry lies inside the usable range. A bad one
	 * is dropped so the rest of the disk stays usable. */
	if (first > last || first < h->first_usable || last > h->last_usable) {
		log_warn("gpt: %s: entry %u LBAs %llu..%llu outside usable %llu..%llu, ignored",
			 bd->name, index + 1, (unsigned long long)first,
			 (unsigned long long)last,
			 (unsigned long long)h->first_usable,
			 (unsigned long long)h->last_usable);
		return;
	}
	p = &t->parts[t->count++];
	memset(p, 0, sizeof(*p));
	p->number = index + 1;
	p->start_lba = first;
	p->num_lba = last - first + 1;
	memcpy(p->type_guid.b, e + GPT_E_TYPE, sizeof(p->type_guid.b));
	memcpy(p->part_guid.b, e + GPT_E_UNIQUE, sizeof(p->part_guid.b));
	p->kind = gpt_kind(&p->type_guid);
	gpt_copy_name(e + GPT_E_NAME, p->name, sizeof(p->name));
}

static void gpt_fill_table(struct blockdev *bd, const struct gpt_header *h,
			   const uint8_t *array, struct part_table *t)
{
	t->scheme = PART_SCHEME_GPT;
	t->disk_guid = h->disk_guid;
	t->count = 0;
	for (uint32_t i = 0; i < h->num_entries; i++) {
		const uint8_t *e = array + (size_t)i * h->entry_size;
		struct part_guid type;

		memcpy(type.b, e + GPT_E_TYPE, sizeof(type.b));
		if (guid_is_zero(&type))
			continue;
		if (t->count == PART_MAX) {
			log_warn("gpt: %s: more than %u partitions, entry %u and later ignored",
				 bd->name, PART_MAX, i + 1);
			return;
		}
		gpt_add_entry(bd, h, e, i, t);
	}
}

/* Header and entry array at @lba, both good, or an error. */
static int gpt_load(struct blockdev *bd, uint64_t lba, struct gpt_header *ret_h,
		    uint8_t **ret_array)
{
	struct gpt_header h;
	int r;

	r = gpt_read_header(bd, lba, &h);
	if (r < 0)
		return r;
	r = gpt_read_entries(bd, &h, ret_array);
	if (r < 0)
		return r;
	*ret_h = h;
	return 0;
}

/* Where the backup header is: the primary's AlternateLBA when the primary
 * header itself was good and points into the disk, else the last LBA
 * (UEFI 2.10 §5.3.2). */
static uint64_t gpt_backup_lba(struct blockdev *bd, bool primary_header_ok,
			       const struct gpt_header *primary)
{
	uint64_t last = disk_blocks(bd) - 1;

	if (primary_header_ok && primary->alternate_lba > GPT_HEADER_LBA &&
	    primary->alternate_lba <= last)
		return primary->alternate_lba;
	return last;
}

static int gpt_read(struct blockdev *bd, struct part_table *t)
{
	uint64_t last = disk_blocks(bd) - 1;
	bool header_ok = false;
	struct gpt_header h;
	uint8_t *array = NULL;
	uint64_t backup;
	int r;

	r = gpt_read_header(bd, GPT_HEADER_LBA, &h);
	if (r == 0) {
		header_ok = true;
		r = gpt_read_entries(bd, &h, &array);
	}
	if (r == -VQ_ECORRUPT) {
		backup = gpt_backup_lba(bd, header_ok, &h);
		log_warn("gpt: %s: primary GPT damaged, trying backup at LBA %llu",
			 bd->name, (unsigned long long)backup);
		r = gpt_load(bd, backup, &h, &array);
		if (r == -VQ_ECORRUPT && backup != last)
			r = gpt_load(bd, last, &h, &array);
		if (r == -VQ_ECORRUPT)
			return log_err(r, "gpt: %s: primary and backup GPT both damaged",
				       bd->name);
		t->used_backup = true;
	}
	if (r < 0)
		return r;
	gpt_fill_table(bd, &h, array, t);
	plat_free(array);
	return 0;
}

/* ---- MBR ---------------------------------------------------------------- */

struct mbr_entry {
	uint8_t boot;
	uint8_t type;
	uint32_t start;
	uint32_t count;
};

static void mbr_decode(const uint8_t *sector, unsigned i, struct mbr_entry *e)
{
	const uint8_t *p = sector + MBR_TABLE_OFF + i * MBR_ENTRY_SIZE;

	e->boot = p[0];
	e->type = p[4];
	e->start = get_le32(p + 8);
	e->count = get_le32(p + 12);
}

static bool mbr_is_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

/* A boot sector of a FAT filesystem (no table) also ends in 55 AA. Its BPB
 * starts with a jump and names "FAT" at offset 54 (FAT12/16) or 82 (FAT32). */
static bool mbr_looks_like_fat_vbr(const uint8_t *s)
{
	if (s[0] != 0xeb && s[0] != 0xe9)
		return false;
	return !memcmp(s + 54, "FAT", 3) || !memcmp(s + 82, "FAT", 3);
}

/* UEFI 2.10 §5.2.1: a valid MBR has the signature and boot indicators of
 * 0x00 or 0x80 only. */
static bool mbr_valid(const uint8_t *s)
{
	if (s[MBR_SIG_OFF] != 0x55 || s[MBR_SIG_OFF + 1] != 0xaa)
		return false;
	for (unsigned i = 0; i < 4; i++) {
		uint8_t boot = s[MBR_TABLE_OFF + i * MBR_ENTRY_SIZE];

		if (boot != 0x00 && boot != 0x80)
			return false;
	}
	return true;
}

static bool mbr_has_protective(const uint8_t *s)
{
	struct mbr_entry e;

	for (unsigned i = 0; i < 4; i++) {
		mbr_decode(s, i, &e);
		if (e.type == MBR_TYPE_PROTECTIVE)
			return true;
	}
	return false;
}

/* Add a partition of @count blocks at absolute @start if it fits in
 * [@lo, @hi) and the table has room. */
static void mbr_add(struct blockdev *bd, struct part_table *t, unsigned number,
		    uint8_t type, uint64_t start, uint64_t count, uint64_t lo,
		    uint64_t hi)
{
	struct partition *p;

	if (start < lo || !range_fits(start, count, hi)) {
		log_warn("mbr: %s: partition %u LBAs %llu+%llu outside %llu..%llu, ignored",
			 bd->name, number, (unsigned long long)start,
			 (unsigned long long)count, (unsigned long long)lo,
			 (unsigned long long)hi);
		return;
	}
	if (t->count == PART_MAX) {
		log_warn("mbr: %s: more than %u partitions, %u ignored",
			 bd->name, PART_MAX, number);
		return;
	}
	p = &t->parts[t->count++];
	memset(p, 0, sizeof(*p));
	p->number = number;
	p->start_lba = start;
	p->num_lba = count;
	p->mbr_type = type;
	p->kind = mbr_kind(type);
}

/*
 * Logical partitions: each EBR holds the logical partition (relative to the
 * EBR) and the link to the next EBR (relative to the extended partition).
 * The walk must move forward and stops after MBR_EBR_MAX_HOPS, so a looping
 * chain ends; a broken link ends the walk with a warning, keeping what was
 * found.
 */
static int mbr_walk_extended(struct blockdev *bd, struct part_table *t,
			     uint64_t ext_start, uint64_t ext_count)
{
	uint64_t ext_end = ext_start + ext_count;
	uint64_t ebr = ext_start;
	unsigned number = 5;
	uint8_t *s;
	int r = 0;

	s = plat_alloc(MBR_SIZE);
	if (!s)
		return log_err(-VQ_ENOMEM, "mbr: %s: no memory for EBR", bd->name);
	for (unsigned hop = 0; hop < MBR_EBR_MAX_HOPS; hop++) {
		struct mbr_entry logical, link;

		r = bdev_read(bd, ebr * bd->block_size, s, MBR_SIZE);
		if (r < 0)
			break;
		if (s[MBR_SIG_OFF] != 0x55 || s[MBR_SIG_OFF + 1] != 0xaa) {
			log_warn("mbr: %s: no signature in EBR at LBA %llu, logical partitions end",
				 bd->name, (unsigned long long)ebr);
			break;
		}
		mbr_decode(s, 0, &logical);
		mbr_decode(s, 1, &link);
		if (logical.type && logical.count)
			mbr_add(bd, t, number++, logical.type,
				ebr + logical.start, logical.count, ebr + 1,
				ext_end);
		if (!mbr_is_extended(link.type) || !link.count)
			break;
		if (ext_start + link.start <= ebr ||
		    ext_start + link.start >= ext_end) {
			log_warn("mbr: %s: EBR at LBA %llu links to LBA %llu, outside or backwards; logical partitions end",
				 bd->name, (unsigned long long)ebr,
				 (unsigned long long)(ext_start + link.start));
			break;
		}
		ebr = ext_start + link.start;
	}
	bdev_free(bd, s);
	return r;
}

static int mbr_read(struct blockdev *bd, const uint8_t *s,
		    struct part_table *t)
{
	uint64_t nblocks = disk_blocks(bd);
	struct mbr_entry e, ext = { 0 };

	t->scheme = PART_SCHEME_MBR;
	t->count = 0;
	for (unsigned i = 0; i < 4; i++) {
		mbr_decode(s, i, &e);
		if (!e.type || !e.count)
			continue;
		if (mbr_is_extended(e.type)) {
			if (!ext.count && range_fits(e.start, e.count, nblocks) &&
			    e.start)
				ext = e;
			else
				log_warn("mbr: %s: extended partition %u at LBA %u+%u ignored",
					 bd->name, i + 1, e.start, e.count);
			continue;
		}
		/* LBA 0 holds the MBR itself. */
		mbr_add(bd, t, i + 1, e.type, e.start, e.count, 1, nblocks);
	}
	if (ext.count)
		return mbr_walk_extended(bd, t, ext.start, ext.count);
	return 0;
}

/* ---- entry points ------------------------------------------------------- */

static int part_check_disk(const struct blockdev *bd)
{
	uint32_t bs = bd->block_size;

	if (bs < 512 || bs > 65536 || (bs & (bs - 1)))
		return log_err(-VQ_EINVAL, "part: %s: block size %u unsupported",
			       bd->name, bs);
	return 0;
}

static int part_scan(struct blockdev *bd, const uint8_t *s,
		     struct part_table *t)
{
	if (s[MBR_SIG_OFF] != 0x55 || s[MBR_SIG_OFF + 1] != 0xaa)
		return 0;
	/* An 0xEE entry means GPT whatever the boot indicators say, as in
	 * Linux; UEFI 2.10 §5.2.3 wants them 0 but tools differ. */
	if (mbr_has_protective(s)) {
		if (disk_blocks(bd) < 3)
			return log_err(-VQ_ECORRUPT, "gpt: %s: protective MBR on a disk of %llu blocks",
				       bd->name,
				       (unsigned long long)disk_blocks(bd));
		return gpt_read(bd, t);
	}
	if (!mbr_valid(s) || mbr_looks_like_fat_vbr(s))
		return 0;
	return mbr_read(bd, s, t);
}

int part_read_table(struct blockdev *bd, struct part_table *ret)
{
	struct part_table *t;
	uint8_t *s;
	int r;

	r = part_check_disk(bd);
	if (r < 0)
		return r;
	/* The table is about 5 KiB: too big for the stack. */
	t = plat_alloc(sizeof(*t));
	s = plat_alloc(MBR_SIZE);
	if (!t || !s) {
		r = log_err(-VQ_ENOMEM, "part: %s: no memory", bd->name);
		goto out;
	}
	t->scheme = PART_SCHEME_NONE;
	if (bd->size >= MBR_SIZE) {
		r = bdev_read(bd, 0, s, MBR_SIZE);
		if (r == 0)
			r = part_scan(bd, s, t);
	}
	if (r == 0)
		*ret = *t;
out:
	bdev_free(bd, s);
	plat_free(t);
	return r;
}

int part_open(struct blockdev *disk, const struct partition *p,
	      struct blockdev *ret)
{
	uint64_t nblocks = disk_blocks(disk);
	char name[sizeof(ret->name)];

	if (!range_fits(p->start_lba, p->num_lba, nblocks))
		return log_err(-VQ_ERANGE, "part: %s: partition %u LBAs %llu+%llu beyond %llu blocks",
			       disk->name, p->number,
			       (unsigned long long)p->start_lba,
			       (unsigned long long)p->num_lba,
			       (unsigned long long)nblocks);
	vq_snprintf(name, sizeof(name), "%sp%u", disk->name, p->number);
	return bdev_sub(disk, p->start_lba * disk->block_size,
			p->num_lba * disk->block_size, name, ret);
}
