/* SPDX-License-Identifier: MIT */
/*
 * vqdiag blk: read each virtio disk (or a range of it) through the
 * firmware's BlockIo, when it has one, and then through vqboot's own
 * driver, and compare what came back. Also reports what vqboot sees of the
 * disk: serial (GET_ID), capacity, block sizes, request limits, partitions
 * and the filesystem on each. Behind a virtio-scsi controller every LUN
 * the scan finds is listed (vendor, product, revision, type, capacity,
 * block size) and each disk compared the same way. Never writes.
 *
 * The firmware pass runs first, while OVMF's driver owns the device;
 * efi_pci_take then stops that driver, vqboot reads, and efi_pci_give_back
 * reconnects it. Each side says which path read (firmware BlockIo, or
 * vqboot's driver and its transport) and how many requests it took; the
 * buffer is filled with a poison pattern before every read, so a read that
 * moved nothing cannot pass for the other side's bytes.
 */
#include "apps/vqdiag/diag.h"
#include "apps/vqdiag/blockio_bdev.h"
#include "boot/fs.h"
#include "lib/log.h"
#include "boot/part.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_scsi.h"
#include "efi/vdevs.h"
#include "lib/plat.h"
#include "lib/fmt.h"

#define BLK_CHUNK (4u << 20)        /* bytes per read_blocks call */
#define BLK_HASH_SEED 0x7671646961672121ULL
#define BLK_HASH_MUL 0x9E3779B97F4A7C15ULL

/* What one path (firmware or vqboot) read. */
struct blk_pass {
	bool tried;
	int err;
	uint64_t err_sector;     /* 512-byte sector of the first bad block */
	uint64_t bytes;
	uint64_t us;
	uint64_t hash;
	uint64_t calls;          /* read_blocks calls */
	uint64_t requests;       /* requests vqboot's driver sent (0: firmware) */
	const char *path;        /* who read: "firmware BlockIo", ... */
	const char *why;         /* why not tried */
};

#define BLK_POISON 0xA5u
#define FW_PATH "firmware BlockIo"

struct blk_range {
	uint64_t start;          /* bytes */
	uint64_t len;            /* bytes; UINT64_MAX: to the end of the disk */
};

/*
 * A 64-bit hash of 8-byte little-endian words, fast enough under TCG that a
 * whole disk is cheap (a byte-wise CRC is not). tests/qemu/test_diag_blk.py
 * computes the same: h = rotl(h ^ w, 29) * MUL per word, then once more
 * with the byte count.
 */
static uint64_t hash_mix(uint64_t h, uint64_t w)
{
	h ^= w;
	return ((h << 29) | (h >> 35)) * BLK_HASH_MUL;
}

static uint64_t hash_words(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 8 <= len; i += 8)
		h = hash_mix(h, get_le64(p + i));
	return h;
}

/* Which block of [lba, lba + count) fails first: read them one by one. */
static uint64_t find_bad_block(struct blockdev *bd, uint64_t lba,
			       uint64_t count, uint8_t *buf)
{
	for (uint64_t i = 0; i < count; i++)
		if (bd->ops->read_blocks(bd, lba + i, 1, buf))
			return lba + i;
	return lba;
}

/* Read @r of @bd into @buf (BLK_CHUNK bytes), hashing, timing the reads;
 * @path names who reads. */
static void read_pass(struct blockdev *bd, const struct blk_range *r,
		      uint8_t *buf, const char *path, struct blk_pass *ret)
{
	uint32_t bs = bd->block_size;
	uint64_t len = r->len == UINT64_MAX ? bd->size - VQ_MIN(r->start, bd->size)
					    : r->len;
	uint64_t h = BLK_HASH_SEED;

	*ret = (struct blk_pass){ .tried = true, .path = path };
	if (r->start % bs || len % bs || r->start > bd->size ||
	    len > bd->size - r->start) {
		ret->err = log_err(-VQ_ERANGE,
				   "%s: range at byte %llu + %llu not inside %llu bytes in %u-byte blocks",
				   bd->name, (unsigned long long)r->start,
				   (unsigned long long)len,
				   (unsigned long long)bd->size, bs);
		return;
	}
	for (uint64_t off = 0; off < len;) {
		uint64_t n = VQ_MIN((uint64_t)BLK_CHUNK, len - off);
		uint64_t lba = (r->start + off) / bs, t0;
		int e;

		memset(buf, BLK_POISON, (size_t)n);
		t0 = plat_now_us();
		e = bd->ops->read_blocks(bd, lba, n / bs, buf);
		ret->us += plat_now_us() - t0;
		ret->calls++;
		if (e) {
			ret->err = e;
			ret->err_sector = find_bad_block(bd, lba, n / bs, buf) *
					  (bs / 512);
			return;
		}
		h = hash_words(h, buf, (size_t)n);
		off += n;
		ret->bytes = off;
	}
	ret->hash = hash_mix(h, ret->bytes);
}

/* ---- output -------------------------------------------------------------- */

static uint64_t milli_mb_s(uint64_t bytes, uint64_t us)
{
	return us ? bytes * 1000 / us : 0;
}

static void put_pass(struct diag_out *o, const char *key, const struct blk_pass *p)
{
	char hash[20];

	vq_snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)p->hash);
	if (o->json) {
		json_begin_object(&o->j, key);
		json_bool(&o->j, "tried", p->tried);
		if (p->tried) {
			json_string(&o->j, "path", p->path ? p->path : "");
			json_uint(&o->j, "calls", p->calls);
			json_uint(&o->j, "driver_requests", p->requests);
		}
		if (!p->tried)
			json_string(&o->j, "why", p->why ? p->why : "");
		if (p->tried && !p->err)
			json_string(&o->j, "hash64", hash);
		if (p->tried && p->err) {
			json_string(&o->j, "error", vq_strerror(p->err));
			json_uint(&o->j, "error_sector", p->err_sector);
		}
		json_uint(&o->j, "bytes", p->bytes);
		json_uint(&o->j, "us", p->us);
		json_milli(&o->j, "mb_s", milli_mb_s(p->bytes, p->us));
		json_end_object(&o->j);
		return;
	}
	if (!p->tried)
		con_printf("  %-9s not read: %s\n", key, p->why ? p->why : "");
	else if (p->err)
		con_printf("  %-9s read error %s at sector %llu (after %llu good bytes)\n",
			   key, vq_strerror(p->err), (unsigned long long)p->err_sector,
			   (unsigned long long)p->bytes);
	else
		con_printf("  %-9s hash64 %s, %llu bytes in %llu us, %llu.%03llu MB/s\n",
			   key, hash, (unsigned long long)p->bytes,
			   (unsigned long long)p->us,
			   (unsigned long long)(milli_mb_s(p->bytes, p->us) / 1000),
			   (unsigned long long)(milli_mb_s(p->bytes, p->us) % 1000));
	if (p->tried)
		con_printf("  %-9s read by %s: %llu calls, %llu requests from vqboot's driver\n",
			   "", p->path ? p->path : "?", (unsigned long long)p->calls,
			   (unsigned long long)p->requests);
}

/* "vqboot's virtio-blk driver, modern transport" */
static const char *vq_path(const struct vdev *v, bool scsi)
{
	if (scsi)
		return v->legacy ? "vqboot's virtio-scsi driver, legacy transport"
				 : "vqboot's virtio-scsi driver, modern transport";
	return v->legacy ? "vqboot's virtio-blk driver, legacy transport"
			 : "vqboot's virtio-blk driver, modern transport";
}

static void put_info(struct diag_out *o, struct vblk *b, const char *serial)
{
	const struct vblk_info *in = vblk_get_info(b);
	uint32_t phys = in->blk_size << (in->physical_block_exp < 16 ?
					 in->physical_block_exp : 0);

	if (o->json) {
		if (serial)
			json_string(&o->j, "serial", serial);
		else
			json_null(&o->j, "serial");
		json_uint(&o->j, "capacity_sectors", in->capacity);
		json_uint(&o->j, "capacity_bytes", in->capacity * 512);
		json_uint(&o->j, "logical_block_size", in->blk_size);
		json_uint(&o->j, "physical_block_size", phys);
		json_uint(&o->j, "seg_max", in->seg_max);
		json_uint(&o->j, "size_max", in->size_max);
		json_bool(&o->j, "read_only", in->read_only);
		json_uint(&o->j, "queue_size", in->queue_size);
		json_uint(&o->j, "max_request", in->max_request);
		return;
	}
	con_printf("  serial:   %s%s%s\n", serial ? "\"" : "",
		   serial ? serial : "(GET_ID not supported)", serial ? "\"" : "");
	con_printf("  capacity: %llu sectors (%llu MiB), logical block %u, physical %u\n",
		   (unsigned long long)in->capacity,
		   (unsigned long long)(in->capacity >> 11), in->blk_size, phys);
	con_printf("  limits:   seg_max %u, size_max %u, queue %u, requests up to %u bytes, read-only %s\n",
		   in->seg_max, in->size_max, in->queue_size, in->max_request,
		   in->read_only ? "yes" : "no");
}

/* The filesystem on @bd, if any, as type and label. */
static void put_fs(struct diag_out *o, struct blockdev *bd)
{
	struct fs *fs;
	int r = fs_mount(bd, &fs);

	if (o->json) {
		json_string(&o->j, "fs", r ? "none" : fs_type_name(fs->type));
		json_string(&o->j, "label", r ? "" : fs->label);
	} else {
		con_printf(" %s", r ? "no filesystem" : fs_type_name(fs->type));
		if (!r && fs->label[0])
			con_printf(" \"%s\"", fs->label);
		con_printf("\n");
	}
	if (!r)
		fs_unmount(fs);
}

static void put_part(struct diag_out *o, struct blockdev *disk,
		     const struct partition *p)
{
	struct blockdev pbd;

	if (o->json) {
		json_begin_object(&o->j, NULL);
		json_uint(&o->j, "number", p->number);
		json_string(&o->j, "kind", part_kind_name(p->kind));
		json_uint(&o->j, "start_lba", p->start_lba);
		json_uint(&o->j, "blocks", p->num_lba);
		json_string(&o->j, "name", p->name);
	} else {
		con_printf("    p%u %-8s LBA %llu + %llu \"%s\":", p->number,
			   part_kind_name(p->kind), (unsigned long long)p->start_lba,
			   (unsigned long long)p->num_lba, p->name);
	}
	if (!part_open(disk, p, &pbd))
		put_fs(o, &pbd);
	else if (o->json)
		json_string(&o->j, "fs", "unreadable");
	else
		con_printf(" outside the disk\n");
	if (o->json)
		json_end_object(&o->j);
}

static const char *scheme_name(enum part_scheme s)
{
	return s == PART_SCHEME_GPT ? "gpt" : s == PART_SCHEME_MBR ? "mbr" : "none";
}

static void put_parts(struct diag_out *o, struct blockdev *disk)
{
	struct part_table *t = plat_alloc(sizeof(*t));
	int r = t ? part_read_table(disk, t) : -VQ_ENOMEM;

	if (o->json) {
		json_string(&o->j, "partition_table", r ? vq_strerror(r) :
							  scheme_name(t->scheme));
		json_begin_array(&o->j, "partitions");
	} else {
		con_printf("  table:    %s\n", r ? vq_strerror(r) : scheme_name(t->scheme));
	}
	for (unsigned i = 0; !r && i < t->count; i++)
		put_part(o, disk, &t->parts[i]);
	if (o->json)
		json_end_array(&o->j);
	/* No table: maybe a filesystem on the whole disk. */
	if (!r && t->scheme == PART_SCHEME_NONE) {
		if (o->json) {
			json_begin_object(&o->j, "whole_disk");
			put_fs(o, disk);
			json_end_object(&o->j);
		} else {
			con_printf("  whole disk:");
			put_fs(o, disk);
		}
	}
	plat_free(t);
}

/* ---- one disk ------------------------------------------------------------ */

struct blk_disk {
	struct blk_pass fw, vq;
	struct blk_range range;
	uint8_t *buf;
};

static void firmware_pass(struct efi_pci_dev *d, struct blk_disk *k)
{
	struct efi_blockio fw;

	if (EFI_ERROR(efi_blockio_find(d->handle, &fw))) {
		k->fw = (struct blk_pass){ .why = "the firmware has no BlockIo on this disk" };
		return;
	}
	read_pass(&fw.bdev, &k->range, k->buf, FW_PATH, &k->fw);
}

static void put_compare(struct diag_out *o, const struct blk_disk *k)
{
	bool both = k->fw.tried && k->vq.tried && !k->fw.err && !k->vq.err;
	bool match = both && k->fw.hash == k->vq.hash && k->fw.bytes == k->vq.bytes;

	if (o->json) {
		if (both)
			json_bool(&o->j, "match", match);
		else
			json_null(&o->j, "match");
		return;
	}
	con_printf("  match:    %s\n", !both ? "(only one path read)" :
					    match ? "yes, same bytes" : "NO, the two paths differ");
}

/* Takes the device, reports, reads through vqboot's driver, gives it back. */
static int vqboot_pass(struct diag_out *o, struct efi_pci_dev *d,
		       struct blk_disk *k, bool bounce)
{
	struct vblk *b;
	struct vblk_stats before, after;
	char serial[21];
	EFI_STATUS st = vdevs_take_blk(d, bounce, 0, &b);

	if (EFI_ERROR(st))
		return vq_from_efi(st);
	bool have_serial = !vblk_get_id(b, serial);
	put_info(o, b, have_serial ? serial : NULL);
	put_parts(o, vblk_bdev(b));
	vblk_get_stats(b, &before);
	read_pass(vblk_bdev(b), &k->range, k->buf, vq_path(&d->vdev, false), &k->vq);
	vblk_get_stats(b, &after);
	k->vq.requests = after.requests - before.requests;
	vdevs_release_blk(d, b);
	return 0;
}

static EFI_STATUS blk_one(struct diag_out *o, struct efi_pci_dev *d,
			  struct blk_disk *k, bool bounce)
{
	int r;

	if (o->json) {
		json_begin_object(&o->j, NULL);
		json_string(&o->j, "pci", d->vdev.bus.name);
		json_string(&o->j, "kind", "blk");
	} else {
		con_printf("vblk %s:\n", d->vdev.bus.name);
	}
	firmware_pass(d, k);
	r = vqboot_pass(o, d, k, bounce);
	if (r)
		k->vq = (struct blk_pass){ .tried = true, .err = r };
	if (o->json) {
		json_uint(&o->j, "start_sector", k->range.start / 512);
		put_pass(o, "firmware", &k->fw);
		put_pass(o, "vqboot", &k->vq);
	} else {
		con_printf("  range:    from sector %llu\n",
			   (unsigned long long)(k->range.start / 512));
		put_pass(o, "firmware", &k->fw);
		put_pass(o, "vqboot", &k->vq);
	}
	put_compare(o, k);
	if (o->json)
		json_end_object(&o->j);
	return k->vq.err || k->fw.err ? EFI_DEVICE_ERROR : EFI_SUCCESS;
}

/* ---- SCSI controllers ----------------------------------------------------- */

#define SCSI_FW_MAX 32

/* What the firmware read of each of its SCSI disks, before the take. */
struct scsi_fw {
	struct efi_scsi_addr addr[SCSI_FW_MAX];
	struct blk_pass pass[SCSI_FW_MAX];
	unsigned n;
};

static void scsi_firmware_passes(struct efi_pci_dev *d, struct blk_disk *k,
				 struct scsi_fw *fw)
{
	fw->n = efi_blockio_scsi_luns(d->handle, fw->addr, SCSI_FW_MAX);
	for (unsigned i = 0; i < fw->n; i++) {
		struct efi_blockio bio;

		if (EFI_ERROR(efi_blockio_find_scsi(d->handle, fw->addr[i].target,
						    fw->addr[i].lun, &bio)))
			fw->pass[i] = (struct blk_pass){ .why = "BlockIo vanished" };
		else
			read_pass(&bio.bdev, &k->range, k->buf, FW_PATH, &fw->pass[i]);
	}
}

static const struct blk_pass *scsi_fw_pass(const struct scsi_fw *fw,
					   const struct vscsi_lun *l)
{
	static const struct blk_pass none = {
		.why = "the firmware has no BlockIo on this LUN" };

	for (unsigned i = 0; i < fw->n; i++)
		if (fw->addr[i].target == l->target && fw->addr[i].lun == l->lun)
			return &fw->pass[i];
	return &none;
}

static void put_lun_info(struct diag_out *o, const struct vscsi_lun *l)
{
	uint64_t bytes = l->blocks * l->block_size;

	if (o->json) {
		json_uint(&o->j, "target", l->target);
		json_uint(&o->j, "lun", l->lun);
		json_string(&o->j, "type", vscsi_type_name(l->type));
		json_string(&o->j, "vendor", l->vendor);
		json_string(&o->j, "product", l->product);
		json_string(&o->j, "revision", l->revision);
		json_bool(&o->j, "disk", l->disk);
		if (!l->disk)
			json_string(&o->j, "why", l->why ? l->why : "");
		json_uint(&o->j, "capacity_blocks", l->blocks);
		json_uint(&o->j, "logical_block_size", l->block_size);
		json_uint(&o->j, "capacity_bytes", bytes);
		return;
	}
	con_printf("  target %u lun %u: %s \"%s\" \"%s\" rev \"%s\"", l->target, l->lun,
		   vscsi_type_name(l->type), l->vendor, l->product, l->revision);
	if (l->disk)
		con_printf(", %llu blocks of %u bytes (%llu MiB)\n",
			   (unsigned long long)l->blocks, l->block_size,
			   (unsigned long long)(bytes >> 20));
	else
		con_printf(", %s\n", l->why ? l->why : "not used");
}

static EFI_STATUS scsi_lun(struct diag_out *o, struct vscsi *c, struct vscsi_lun *l,
			   struct blk_disk *k, const struct scsi_fw *fw, const char *path)
{
	struct blk_pass vq = { .why = "not a disk" };
	struct vscsi_stats before, after;
	const struct blk_pass *fp = scsi_fw_pass(fw, l);

	if (o->json)
		json_begin_object(&o->j, NULL);
	put_lun_info(o, l);
	if (l->disk) {
		put_parts(o, vscsi_lun_bdev(l));
		vscsi_get_stats(c, &before);
		read_pass(vscsi_lun_bdev(l), &k->range, k->buf, path, &vq);
		vscsi_get_stats(c, &after);
		vq.requests = after.reads - before.reads;
	}
	k->fw = *fp;
	k->vq = vq;
	put_pass(o, "firmware", &k->fw);
	put_pass(o, "vqboot", &k->vq);
	if (l->disk)
		put_compare(o, k);
	if (o->json)
		json_end_object(&o->j);
	return l->disk && (vq.err || fp->err) ? EFI_DEVICE_ERROR : EFI_SUCCESS;
}

static void put_scsi_ctrl(struct diag_out *o, const struct vscsi *c)
{
	const struct vscsi_info *in = vscsi_get_info(c);

	if (o->json) {
		json_uint(&o->j, "targets_scanned", in->targets_scanned);
		json_uint(&o->j, "scan_us", in->scan_us);
		json_uint(&o->j, "max_target", in->max_target);
		json_uint(&o->j, "max_lun", in->max_lun);
		json_uint(&o->j, "queue_size", in->queue_size);
		json_uint(&o->j, "max_request", in->max_request);
		return;
	}
	con_printf("  scan:     %u targets in %llu us; max_lun %u, queue %u, reads up to %u bytes\n",
		   in->targets_scanned, (unsigned long long)in->scan_us, in->max_lun,
		   in->queue_size, in->max_request);
}

/* One controller: the firmware reads its disks, then vqboot takes it, scans
 * it and reads each disk the scan found, then gives it back. */
static EFI_STATUS scsi_one(struct diag_out *o, struct efi_pci_dev *d, struct blk_disk *k,
			   bool bounce)
{
	static struct scsi_fw fw;
	EFI_STATUS st = EFI_SUCCESS;
	struct vscsi *c;

	if (o->json) {
		json_begin_object(&o->j, NULL);
		json_string(&o->j, "pci", d->vdev.bus.name);
		json_string(&o->j, "kind", "scsi");
	} else {
		con_printf("vscsi %s:\n", d->vdev.bus.name);
	}
	scsi_firmware_passes(d, k, &fw);
	if (EFI_ERROR(vdevs_take_scsi(d, bounce, 0, &c))) {
		if (o->json) {
			json_string(&o->j, "error", "cannot take or scan the controller");
			json_end_object(&o->j);
		}
		return EFI_DEVICE_ERROR;
	}
	put_scsi_ctrl(o, c);
	if (o->json)
		json_begin_array(&o->j, "luns");
	for (unsigned i = 0; i < vscsi_lun_count(c); i++)
		if (EFI_ERROR(scsi_lun(o, c, vscsi_lun_at(c, i), k, &fw,
				       vq_path(&d->vdev, true))))
			st = EFI_DEVICE_ERROR;
	if (o->json) {
		json_end_array(&o->j);
		json_end_object(&o->j);
	}
	vdevs_release_scsi(d, c);
	return st;
}

/* The PCI address named on the command line, if any ("00:03.0"). */
static const char *wanted_pci(const struct diag_params *p)
{
	for (unsigned i = 0; i < p->argc; i++)
		if (p->argv[i][0] != '-')
			return p->argv[i];
	return NULL;
}

static bool has_flag(const struct diag_params *p, const char *flag)
{
	for (unsigned i = 0; i < p->argc; i++)
		if (!strcmp(p->argv[i], flag))
			return true;
	return false;
}

static EFI_STATUS parse_range(const struct diag_params *p, struct blk_range *ret)
{
	uint64_t start = 0, sectors = 0;
	int has_sectors = diag_param_u64(p, "--sectors", UINT64_MAX / 512, &sectors);
	int has_start = diag_param_u64(p, "--start", UINT64_MAX / 512, &start);

	if (has_sectors < 0 || has_start < 0 || (has_sectors && !sectors)) {
		log_error("vqdiag blk: bad range: start %llu, %llu sectors",
			  (unsigned long long)start, (unsigned long long)sectors);
		return EFI_INVALID_PARAMETER;
	}
	*ret = (struct blk_range){ .start = start * 512,
				   .len = has_sectors ? sectors * 512 : UINT64_MAX };
	return EFI_SUCCESS;
}

static EFI_STATUS blk_all(struct diag_out *o, const struct diag_params *p,
			  struct efi_pci_dev *devs, unsigned n, uint8_t *buf)
{
	const char *want = wanted_pci(p);
	EFI_STATUS st = EFI_SUCCESS;
	unsigned seen = 0;
	struct blk_disk k = { .buf = buf };

	if (EFI_ERROR(parse_range(p, &k.range)))
		return EFI_INVALID_PARAMETER;
	if (o->json)
		json_begin_array(&o->j, "disks");
	for (unsigned i = 0; i < n; i++) {
		uint16_t type = devs[i].vdev.type;
		EFI_STATUS r;

		if ((type != VIRTIO_ID_BLOCK && type != VIRTIO_ID_SCSI) ||
		    (want && strcmp(want, devs[i].vdev.bus.name)))
			continue;
		seen++;
		if (type == VIRTIO_ID_SCSI)
			r = scsi_one(o, &devs[i], &k, has_flag(p, "--bounce"));
		else
			r = blk_one(o, &devs[i], &k, has_flag(p, "--bounce"));
		if (EFI_ERROR(r))
			st = EFI_DEVICE_ERROR;
	}
	if (o->json)
		json_end_array(&o->j);
	if (!seen) {
		log_error("vqdiag blk: no virtio disk%s%s", want ? " at " : "",
			  want ? want : "");
		return EFI_NOT_FOUND;
	}
	return st;
}

EFI_STATUS diag_blk(struct diag_out *o, const struct diag_params *p)
{
	struct efi_pci_dev *devs;
	unsigned n;
	EFI_STATUS st = efi_pci_find_virtio(&devs, &n);
	uint8_t *buf;

	if (EFI_ERROR(st))
		return st;
	buf = efi_pages_alloc(BLK_CHUNK);
	if (!buf) {
		efi_pci_free_list(devs, n);
		log_error("vqdiag blk: no memory for a %u-byte buffer", BLK_CHUNK);
		return EFI_OUT_OF_RESOURCES;
	}
	/* The first path to write a fresh page would pay for the host backing
	 * it: touch the buffer before either reads. */
	memset(buf, 0, BLK_CHUNK);
	/* Log lines would land inside the JSON: errors go into it instead. */
	int level = log_max_level;
	if (o->json && level == LOG_INFO)
		log_max_level = -1;
	st = blk_all(o, p, devs, n, buf);
	log_max_level = level;
	efi_pages_free(buf, BLK_CHUNK);
	efi_pci_free_list(devs, n);
	return st;
}
