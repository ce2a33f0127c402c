/* SPDX-License-Identifier: MIT */
/*
 * vqdiag bench: disk read speed on the first virtio disk, in one boot (with
 * --scsi, or when there is no virtio-blk disk: the first disk behind the
 * first virtio-scsi controller). Each test runs through the firmware
 * (OVMF's virtio-blk driver, or VirtioScsiDxe + ScsiDiskDxe, behind
 * EFI_BLOCK_IO, its FAT driver behind EFI_FILE_PROTOCOL) and straight after
 * through vqboot's own driver and FAT, the device taken from the firmware
 * for it and given back after; --rounds repeats that and each row reports
 * the round with the median ratio. Both sides read the same bytes:
 * sequential reads with 4 KiB .. 4 MiB requests, 4 KiB random reads at the
 * same pseudo-random offsets, and whole files read by path in LOAD_CHUNK
 * pieces, the way vqboot loads a kernel. Timing: plat_now_us (the TSC,
 * calibrated against the firmware's Stall).
 *
 * The bench disk (scripts/mkbench.py): a FAT partition holding /bench/
 * kernel.bin, initrd.bin (contiguous) and kernfrag.bin, initfrag.bin
 * (fragmented), and a partition named "vqbench-raw" of random data for the
 * block tests (the whole disk when there is none).
 *
 * GPU figures are `vqdiag gpu`'s: that command measures the firmware's GOP
 * against vqboot's driver itself.
 */
#include "apps/vqdiag/diag.h"
#include "apps/vqdiag/blockio_bdev.h"
#include "boot/fs.h"
#include "boot/load.h"
#include "lib/log.h"
#include "boot/part.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_scsi.h"
#include "efi/vdevs.h"
#include "lib/plat.h"

#define BENCH_BUF (16u << 20)
#define BENCH_MAX_REQUEST (4u << 20) /* the largest test request */
#define BENCH_DEFAULT_MIB 64
#define BENCH_RANDOM_OPS 2000
#define BENCH_ROUNDS_MAX 9
#define BENCH_BATCH 64          /* requests handed to a driver at once */
#define BENCH_RANDOM_SIZE 4096
#define BENCH_RAW_NAME "vqbench-raw"
#define BENCH_FILE_MAX (64u << 20)

enum { SIDE_FW, SIDE_VQ, SIDES };

enum bench_test {
	T_SEQ_4K, T_SEQ_64K, T_SEQ_1M, T_SEQ_4M, T_RAND_4K,
	T_KERNEL, T_INITRD, T_KERNEL_FRAG, T_INITRD_FRAG,
	T_BOTH, T_BOTH_FRAG,
	T_SEQ_4K_QD1, T_SEQ_64K_QD1, T_SEQ_1M_QD1, T_RAND_4K_QD1,
	T_COUNT
};

/*
 * Block tests hand each driver the same list of requests through
 * bdev_read_vec, BENCH_BATCH at a time: the firmware's BlockIo takes them
 * one by one, vqboot's driver keeps several in flight. The _qd1 rows give
 * both one request at a time (read_blocks calls).
 */
static const struct bench_def {
	const char *key;
	const char *what;
	uint32_t request;  /* block tests: bytes per read */
	const char *path;  /* file tests */
	bool qd1;          /* one request at a time on both sides */
} defs[T_COUNT] = {
	[T_SEQ_4K] = { "seq_4k", "sequential 4 KiB requests", 4096 },
	[T_SEQ_64K] = { "seq_64k", "sequential 64 KiB requests", 65536 },
	[T_SEQ_1M] = { "seq_1m", "sequential 1 MiB requests", 1u << 20 },
	[T_SEQ_4M] = { "seq_4m", "sequential 4 MiB requests", 4u << 20 },
	[T_RAND_4K] = { "rand_4k", "random 4 KiB reads", BENCH_RANDOM_SIZE },
	[T_KERNEL] = { "file_kernel", "kernel by path contiguous", 0, "/bench/kernel.bin" },
	[T_INITRD] = { "file_initrd", "initrd by path contiguous", 0, "/bench/initrd.bin" },
	[T_KERNEL_FRAG] = { "file_kernel_frag", "kernel by path fragmented", 0, "/bench/kernfrag.bin" },
	[T_INITRD_FRAG] = { "file_initrd_frag", "initrd by path fragmented", 0, "/bench/initfrag.bin" },
	[T_BOTH] = { "files_contiguous", "kernel + initrd contiguous" },
	[T_BOTH_FRAG] = { "files_fragmented", "kernel + initrd fragmented" },
	[T_SEQ_4K_QD1] = { "seq_4k_qd1", "sequential 4 KiB one at a time", 4096,
			   .qd1 = true },
	[T_SEQ_64K_QD1] = { "seq_64k_qd1", "sequential 64 KiB one at a time", 65536,
			    .qd1 = true },
	[T_SEQ_1M_QD1] = { "seq_1m_qd1", "sequential 1 MiB one at a time", 1u << 20,
			   .qd1 = true },
	[T_RAND_4K_QD1] = { "rand_4k_qd1", "random 4 KiB one at a time", BENCH_RANDOM_SIZE,
			    .qd1 = true },
};

#define BENCH_FAILS_KEPT 8

struct bench_fail {
	unsigned round, test;
	int err;
};

struct bench_result {
	int err;
	uint64_t bytes;
	uint64_t ops;
	uint64_t us;
};

/* Reading files by path on one side. */
struct bench_files {
	int (*read_file)(struct bench_files *f, const char *path, uint8_t *buf,
			 size_t cap, uint64_t *ret_size);
	EFI_FILE_IO_INTERFACE *sfs;  /* firmware */
	struct fs *fs;               /* vqboot */
};

struct bench {
	struct efi_pci_dev *dev;
	bool scsi;                          /* a SCSI LUN of dev */
	uint16_t target, lun;
	uint64_t seq_bytes;
	uint64_t region_start, region_len;  /* bytes on the disk */
	unsigned fat_part;                  /* partition number; 0: none */
	bool bounce;
	uint8_t *buf;
	uint8_t *file_buf;
	size_t file_cap;
	unsigned rounds;
	unsigned vq_errors;                 /* vqboot tests that failed */
	struct bench_fail fails[BENCH_FAILS_KEPT];
	struct bench_result runs[BENCH_ROUNDS_MAX][SIDES][T_COUNT];
	struct bench_result res[SIDES][T_COUNT];  /* the median round */
	struct bdev_iov iov[BENCH_BATCH];
	struct vblk_stats stats;
	uint64_t tsc_per_us;
};

/* ---- block tests ----------------------------------------------------------- */

#define BENCH_SEED 0x5EED5EED12345ULL

/* xorshift64: the same offsets on both sides. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Request @i of test @t: where it reads on the disk. */
static uint64_t request_offset(const struct bench *b, unsigned t, uint64_t i,
			       uint64_t *seed)
{
	if (t == T_RAND_4K || t == T_RAND_4K_QD1)
		return b->region_start +
		       (next_rand(seed) % (b->region_len / BENCH_RANDOM_SIZE)) *
		       BENCH_RANDOM_SIZE;
	return b->region_start + i * defs[t].request;
}

static uint64_t request_count(const struct bench *b, unsigned t)
{
	if (t == T_RAND_4K || t == T_RAND_4K_QD1)
		return BENCH_RANDOM_OPS;
	return b->seq_bytes / defs[t].request;
}

/* Reads one batch: through bdev_read_vec, or one read_blocks at a time. */
static int run_batch(struct blockdev *bd, struct bdev_iov *iov, unsigned n,
		     bool qd1)
{
	int r = 0;

	if (!qd1)
		return bdev_read_vec(bd, iov, n);
	for (unsigned i = 0; i < n && !r; i++)
		r = bd->ops->read_blocks(bd, iov[i].lba, iov[i].count, iov[i].buf);
	return r;
}

static int block_test(struct blockdev *bd, struct bench *b, unsigned t,
		      struct bench_result *ret)
{
	uint32_t req = defs[t].request;
	uint64_t n = request_count(b, t), seed = BENCH_SEED, t0;
	unsigned batch = (unsigned)VQ_MIN((uint64_t)BENCH_BATCH, BENCH_BUF / req);
	int r = 0;

	t0 = plat_now_us();
	for (uint64_t i = 0; i < n && !r;) {
		unsigned k = 0;

		for (; k < batch && i < n; k++, i++)
			b->iov[k] = (struct bdev_iov){
				.lba = request_offset(b, t, i, &seed) / bd->block_size,
				.count = req / bd->block_size,
				.buf = b->buf + (uint64_t)k * req };
		r = run_batch(bd, b->iov, k, defs[t].qd1);
	}
	*ret = (struct bench_result){ .err = r, .bytes = n * req, .ops = n,
				      .us = plat_now_us() - t0 };
	return r;
}

static void file_test(struct bench *b, unsigned t, struct bench_files *f,
		      struct bench_result *ret)
{
	uint64_t size = 0, t0 = plat_now_us();
	int r = f->read_file(f, defs[t].path, b->file_buf, b->file_cap, &size);

	*ret = (struct bench_result){ .err = r, .bytes = size, .ops = 1,
				      .us = plat_now_us() - t0 };
}

/* The kernel + initrd rows: sums of two file rows of the same round. */
static void sum_rows(struct bench_result *res)
{
	for (unsigned t = T_BOTH; t <= T_BOTH_FRAG; t++) {
		const struct bench_result *k = &res[t == T_BOTH ? T_KERNEL : T_KERNEL_FRAG];
		const struct bench_result *i = &res[t == T_BOTH ? T_INITRD : T_INITRD_FRAG];

		res[t] = (struct bench_result){ .err = k->err ? k->err : i->err,
						.bytes = k->bytes + i->bytes, .ops = 2,
						.us = k->us + i->us };
	}
}

/* Firmware: EFI_FILE_PROTOCOL, '\'-separated UTF-16 paths. */
static int fw_read_file(struct bench_files *f, const char *path, uint8_t *buf,
			size_t cap, uint64_t *ret_size)
{
	CHAR16 wpath[64];
	EFI_FILE_HANDLE root, fh;
	EFI_FILE_INFO *info;
	UINTN n = 0;
	size_t i;
	int r = 0;

	for (i = 0; path[i] && i + 1 < ARRAY_SIZE(wpath); i++)
		wpath[i] = path[i] == '/' ? L'\\' : (CHAR16)path[i];
	wpath[i] = 0;
	if (f->sfs->OpenVolume(f->sfs, &root) != EFI_SUCCESS)
		return log_err(-VQ_EIO, "bench: firmware cannot open the FAT volume");
	if (root->Open(root, &fh, wpath, EFI_FILE_MODE_READ, 0) != EFI_SUCCESS) {
		root->Close(root);
		return log_err(-VQ_ENOENT, "bench: firmware: %s not found", path);
	}
	info = LibFileInfo(fh);
	uint64_t size = info ? info->FileSize : 0;
	if (info)
		FreePool(info);
	if (!size || size > cap)
		r = log_err(-VQ_E2BIG, "bench: firmware: %s has %llu bytes (room for %zu)",
			    path, (unsigned long long)size, cap);
	for (uint64_t off = 0; !r && off < size; off += n) {
		n = (UINTN)VQ_MIN((uint64_t)LOAD_CHUNK, size - off);
		UINTN want = n;
		if (fh->Read(fh, &n, buf + off) != EFI_SUCCESS || n != want)
			r = log_err(-VQ_EIO, "bench: firmware: %s: read failed at byte %llu",
				    path, (unsigned long long)off);
	}
	fh->Close(fh);
	root->Close(root);
	if (!r)
		*ret_size = size;
	return r;
}

/* vqboot: boot/fs.h, the way boot/load.c reads a kernel. */
static int vq_read_file(struct bench_files *f, const char *path, uint8_t *buf,
			size_t cap, uint64_t *ret_size)
{
	const struct fs_ops *ops = f->fs->ops;
	struct fs_file *fh;
	int r = ops->open(f->fs, path, &fh);

	if (r)
		return r;
	uint64_t size = ops->size(fh);
	if (!size || size > cap)
		r = log_err(-VQ_E2BIG, "bench: %s has %llu bytes (room for %zu)",
			    path, (unsigned long long)size, cap);
	for (uint64_t off = 0; !r && off < size;) {
		size_t n = (size_t)VQ_MIN((uint64_t)LOAD_CHUNK, size - off);

		r = ops->read(fh, off, buf + off, n);
		off += n;
	}
	ops->close(fh);
	if (!r)
		*ret_size = size;
	return r;
}

/* ---- layout: where the raw data and the files are --------------------------- */

static bool is_fat(struct blockdev *bd)
{
	struct fs *fs;

	if (fs_mount(bd, &fs))
		return false;
	bool fat = fs->type != FS_EXT;
	fs_unmount(fs);
	return fat;
}

static int find_layout(struct bench *b, struct blockdev *disk)
{
	struct part_table *t = plat_alloc(sizeof(*t));
	int r = t ? part_read_table(disk, t) : -VQ_ENOMEM;

	b->region_start = 0;
	b->region_len = disk->size;
	for (unsigned i = 0; !r && i < t->count; i++) {
		const struct partition *p = &t->parts[i];
		struct blockdev pbd;

		if (!strcmp(p->name, BENCH_RAW_NAME)) {
			b->region_start = p->start_lba * disk->block_size;
			b->region_len = p->num_lba * disk->block_size;
		} else if (!b->fat_part && !part_open(disk, p, &pbd) && is_fat(&pbd)) {
			b->fat_part = p->number;
		}
	}
	plat_free(t);
	if (r)
		return r;
	b->seq_bytes = VQ_MIN(b->seq_bytes, b->region_len);
	b->seq_bytes -= b->seq_bytes % BENCH_MAX_REQUEST;
	if (!b->seq_bytes || !b->fat_part)
		return log_err(-VQ_ENOENT,
			       "bench: %s: need a FAT partition and at least 4 MiB to read (%llu bytes found)",
			       disk->name, (unsigned long long)b->region_len);
	return 0;
}

/* ---- the two sides --------------------------------------------------------- */

/* One test through the firmware: BlockIo, or its FAT driver. */
static int firmware_test(struct bench *b, unsigned t, struct bench_result *ret)
{
	struct efi_blockio fw;
	struct bench_files files = { .read_file = fw_read_file };
	int r;

	EFI_STATUS st = b->scsi ? efi_blockio_find_scsi(b->dev->handle, b->target, b->lun, &fw)
				: efi_blockio_find(b->dev->handle, &fw);

	if (EFI_ERROR(st))
		return log_err(-VQ_ENODEV, "bench: the firmware has no BlockIo on %s",
			       b->dev->vdev.bus.name);
	if (!b->fat_part && (r = find_layout(b, &fw.bdev)))
		return r;
	if (defs[t].request)
		return block_test(&fw.bdev, b, t, ret);
	if (EFI_ERROR(efi_blockio_find_fs(fw.handle, b->fat_part, &files.sfs)))
		return log_err(-VQ_ENOENT, "bench: the firmware did not mount partition %u",
			       b->fat_part);
	file_test(b, t, &files, ret);
	return ret->err;
}

static int mount_fat(struct blockdev *disk, unsigned number, struct blockdev *pbd,
		     struct fs **ret)
{
	struct part_table *t = plat_alloc(sizeof(*t));
	int r = t ? part_read_table(disk, t) : -VQ_ENOMEM;

	for (unsigned i = 0; !r && i < t->count; i++)
		if (t->parts[i].number == number) {
			r = part_open(disk, &t->parts[i], pbd);
			if (!r)
				r = fs_mount(pbd, ret);
			plat_free(t);
			return r;
		}
	plat_free(t);
	return r ? r : -VQ_ENOENT;
}

static void add_stats(struct vblk_stats *sum, const struct vblk_stats *s)
{
	sum->requests += s->requests;
	sum->bytes += s->bytes;
	sum->bounced_bytes += s->bounced_bytes;
	sum->max_inflight = VQ_MAX(sum->max_inflight, s->max_inflight);
}

/* One test on a blockdev of vqboot's. */
static int vqboot_run(struct bench *b, unsigned t, struct blockdev *bd,
		      struct bench_result *ret)
{
	struct bench_files files = { .read_file = vq_read_file };
	struct blockdev pbd;
	int r;

	if (defs[t].request)
		return block_test(bd, b, t, ret);
	r = mount_fat(bd, b->fat_part, &pbd, &files.fs);
	if (!r) {
		file_test(b, t, &files, ret);
		r = ret->err;
		fs_unmount(files.fs);
	}
	return r;
}

/* The same test through vqboot on a SCSI LUN: take, scan, test, give back. */
static int vqboot_test_scsi(struct bench *b, unsigned t, struct bench_result *ret)
{
	struct vscsi_stats st;
	struct vscsi *c;
	int r = -VQ_ENOENT;

	if (EFI_ERROR(vdevs_take_scsi(b->dev, b->bounce, 0, &c)))
		return -VQ_ENODEV;
	for (unsigned i = 0; i < vscsi_lun_count(c); i++) {
		struct vscsi_lun *l = vscsi_lun_at(c, i);

		if (l->target == b->target && l->lun == b->lun && l->disk)
			r = vqboot_run(b, t, vscsi_lun_bdev(l), ret);
	}
	vscsi_get_stats(c, &st);
	b->stats.requests += st.reads;
	b->stats.bytes += st.bytes;
	b->stats.bounced_bytes += st.bounced_bytes;
	b->stats.max_inflight = VQ_MAX(b->stats.max_inflight, st.max_inflight);
	vdevs_release_scsi(b->dev, c);
	return r;
}

/* The same test through vqboot: take the device, open, test, give back. */
static int vqboot_test(struct bench *b, unsigned t, struct bench_result *ret)
{
	struct vblk_stats st;
	struct vblk *vb;
	int r;

	if (b->scsi)
		return vqboot_test_scsi(b, t, ret);
	if (EFI_ERROR(vdevs_take_blk(b->dev, b->bounce, 0, &vb)))
		return -VQ_ENODEV;
	r = vqboot_run(b, t, vblk_bdev(vb), ret);
	vblk_get_stats(vb, &st);
	add_stats(&b->stats, &st);
	vdevs_release_blk(b->dev, vb);
	return r;
}

/* One round: each test through the firmware and at once through vqboot,
 * so that the two figures of a row are seconds apart on a shared host. */
static int bench_round(struct bench *b, unsigned round)
{
	struct bench_result (*res)[T_COUNT] = b->runs[round];

	for (unsigned t = 0; t < T_COUNT; t++) {
		int r;

		if (t == T_BOTH || t == T_BOTH_FRAG)
			continue;
		r = firmware_test(b, t, &res[SIDE_FW][t]);
		if (r)
			return r;
		/* A failure on our side is a result: the row says so, the
		 * driver re-initialises the device, the other rounds go on. */
		r = vqboot_test(b, t, &res[SIDE_VQ][t]);
		if (r) {
			res[SIDE_VQ][t].err = r;
			if (b->vq_errors < BENCH_FAILS_KEPT)
				b->fails[b->vq_errors] = (struct bench_fail){
					.round = round, .test = t, .err = r };
			b->vq_errors++;
		}
	}
	sum_rows(res[SIDE_FW]);
	sum_rows(res[SIDE_VQ]);
	return 0;
}

/* ---- output ---------------------------------------------------------------- */

static bool is_ops(unsigned t)
{
	return t == T_RAND_4K || t == T_RAND_4K_QD1;
}

/* MB/s (10^6 bytes/s) or operations/s, times 1000. */
static uint64_t rate_milli(unsigned t, const struct bench_result *r)
{
	if (r->err || !r->us)
		return 0;
	return is_ops(t) ? r->ops * 1000000000ULL / r->us : r->bytes * 1000 / r->us;
}

static void put_side(struct diag_out *o, const char *key, unsigned t,
		     const struct bench_result *r)
{
	json_begin_object(&o->j, key);
	if (r->err)
		json_string(&o->j, "error", vq_strerror(r->err));
	json_uint(&o->j, "bytes", r->bytes);
	json_uint(&o->j, "ops", r->ops);
	json_uint(&o->j, "us", r->us);
	json_milli(&o->j, "value", rate_milli(t, r));
	json_end_object(&o->j);
}

static void put_row(struct diag_out *o, const struct bench *b, unsigned t)
{
	uint64_t fw = rate_milli(t, &b->res[SIDE_FW][t]);
	uint64_t vq = rate_milli(t, &b->res[SIDE_VQ][t]);
	uint64_t ratio = fw ? vq * 1000 / fw : 0;

	if (o->json) {
		json_begin_object(&o->j, NULL);
		json_string(&o->j, "test", defs[t].key);
		json_string(&o->j, "what", defs[t].what);
		json_string(&o->j, "unit", is_ops(t) ? "ops/s" : "MB/s");
		put_side(o, "firmware", t, &b->res[SIDE_FW][t]);
		put_side(o, "vqboot", t, &b->res[SIDE_VQ][t]);
		json_milli(&o->j, "ratio", ratio);
		json_end_object(&o->j);
		return;
	}
	con_printf("  %-30s %9llu.%01llu %9llu.%01llu %-5s %3llu.%02llux\n", defs[t].what,
		   (unsigned long long)(fw / 1000), (unsigned long long)(fw % 1000 / 100),
		   (unsigned long long)(vq / 1000), (unsigned long long)(vq % 1000 / 100),
		   is_ops(t) ? "ops/s" : "MB/s", (unsigned long long)(ratio / 1000),
		   (unsigned long long)(ratio % 1000 / 10));
}

static void put_header(struct diag_out *o, const struct bench *b)
{
	if (o->json) {
		json_string(&o->j, "pci", b->dev->vdev.bus.name);
		json_string(&o->j, "disk_kind", b->scsi ? "scsi" : "blk");
		if (b->scsi) {
			json_uint(&o->j, "target", b->target);
			json_uint(&o->j, "lun", b->lun);
		}
		json_string(&o->j, "timing", "plat_now_us: TSC calibrated against the firmware's Stall(10000)");
		json_uint(&o->j, "tsc_per_us", b->tsc_per_us);
		json_uint(&o->j, "sequential_bytes", b->seq_bytes);
		json_uint(&o->j, "region_start", b->region_start);
		json_uint(&o->j, "region_bytes", b->region_len);
		json_uint(&o->j, "random_ops", BENCH_RANDOM_OPS);
		json_uint(&o->j, "batch", BENCH_BATCH);
		json_uint(&o->j, "rounds", b->rounds);
		json_uint(&o->j, "file_chunk", LOAD_CHUNK);
		json_bool(&o->j, "bounce", b->bounce);
		json_string(&o->j, "gpu", "not measured here: see vqdiag gpu");
		return;
	}
	if (b->scsi)
		con_printf("vqdiag bench on vscsi %s target %u lun %u", b->dev->vdev.bus.name,
			   b->target, b->lun);
	else
		con_printf("vqdiag bench on vblk %s", b->dev->vdev.bus.name);
	con_printf(": %llu MiB sequential from byte %llu, %u random reads\n",
		   (unsigned long long)(b->seq_bytes >> 20),
		   (unsigned long long)b->region_start, BENCH_RANDOM_OPS);
	con_printf("timing: TSC, %llu ticks/us, calibrated against the firmware's Stall\n",
		   (unsigned long long)b->tsc_per_us);
	con_printf("  %-30s %11s %11s %-5s %8s\n", "test", "firmware", "vqboot", "unit",
		   "ratio");
}

static void put_stats(struct diag_out *o, const struct bench *b)
{
	const struct vblk_stats *s = &b->stats;

	if (o->json) {
		json_begin_object(&o->j, "vqboot_stats");
		json_uint(&o->j, "requests", s->requests);
		json_uint(&o->j, "bytes", s->bytes);
		json_uint(&o->j, "bounced_bytes", s->bounced_bytes);
		json_uint(&o->j, "max_inflight", s->max_inflight);
		json_uint(&o->j, "failed_tests", b->vq_errors);
		json_end_object(&o->j);
		json_begin_array(&o->j, "failures");
		for (unsigned i = 0; i < VQ_MIN(b->vq_errors, (unsigned)BENCH_FAILS_KEPT); i++) {
			json_begin_object(&o->j, NULL);
			json_uint(&o->j, "round", b->fails[i].round);
			json_string(&o->j, "test", defs[b->fails[i].test].key);
			json_string(&o->j, "error", vq_strerror(b->fails[i].err));
			json_end_object(&o->j);
		}
		json_end_array(&o->j);
		return;
	}
	con_printf("vqboot driver: %llu requests, %llu bytes (%llu bounced), up to %u in flight; %u failed tests\n",
		   (unsigned long long)s->requests, (unsigned long long)s->bytes,
		   (unsigned long long)s->bounced_bytes, s->max_inflight, b->vq_errors);
	con_printf("GPU: not measured here, see vqdiag gpu\n");
}

static void put_report(struct diag_out *o, const struct bench *b)
{
	put_header(o, b);
	if (o->json)
		json_begin_array(&o->j, "rows");
	for (unsigned t = 0; t < T_COUNT; t++)
		put_row(o, b, t);
	if (o->json)
		json_end_array(&o->j);
	put_stats(o, b);
}

/* ---- parameters and setup --------------------------------------------------- */

static struct efi_pci_dev *first_of(struct efi_pci_dev *devs, unsigned n, uint16_t type)
{
	for (unsigned i = 0; i < n; i++)
		if (devs[i].vdev.type == type)
			return &devs[i];
	return NULL;
}

/* The first virtio-blk disk, or (--scsi, or none) the first SCSI disk the
 * firmware sees behind the first virtio-scsi controller. */
static void pick_disk(struct bench *b, struct efi_pci_dev *devs, unsigned n, bool scsi)
{
	struct efi_scsi_addr luns[8];

	b->dev = scsi ? NULL : first_of(devs, n, VIRTIO_ID_BLOCK);
	if (b->dev)
		return;
	b->dev = first_of(devs, n, VIRTIO_ID_SCSI);
	if (!b->dev)
		return;
	if (!efi_blockio_scsi_luns(b->dev->handle, luns, ARRAY_SIZE(luns))) {
		b->dev = NULL;
		return;
	}
	b->scsi = true;
	b->target = luns[0].target;
	b->lun = luns[0].lun;
}

static uint64_t round_ratio(const struct bench *b, unsigned round, unsigned t)
{
	uint64_t fw = rate_milli(t, &b->runs[round][SIDE_FW][t]);

	return fw ? rate_milli(t, &b->runs[round][SIDE_VQ][t]) * 1000 / fw : 0;
}

/* Per test, the round with the median ratio (both figures from it): the
 * host is shared, and one slow moment should not decide a row. */
static void pick_medians(struct bench *b)
{
	for (unsigned t = 0; t < T_COUNT; t++) {
		unsigned idx[BENCH_ROUNDS_MAX];

		for (unsigned i = 0; i < b->rounds; i++)
			idx[i] = i;
		/* Insertion sort by ratio: at most 9 rounds. */
		for (unsigned i = 1; i < b->rounds; i++)
			for (unsigned j = i; j > 0 && round_ratio(b, idx[j], t) <
						      round_ratio(b, idx[j - 1], t); j--) {
				unsigned x = idx[j];

				idx[j] = idx[j - 1];
				idx[j - 1] = x;
			}
		for (unsigned side = 0; side < SIDES; side++)
			b->res[side][t] = b->runs[idx[b->rounds / 2]][side][t];
	}
}

static EFI_STATUS bench_run(struct diag_out *o, struct bench *b)
{
	int r;

	b->buf = efi_pages_alloc(BENCH_BUF);
	b->file_buf = efi_pages_alloc(b->file_cap);
	if (!b->buf || !b->file_buf) {
		log_error("bench: no memory for %zu bytes of buffers", b->file_cap + BENCH_BUF);
		return EFI_OUT_OF_RESOURCES;
	}
	/* Touch every page first: the host backs guest memory lazily, and the
	 * first side to write a page would pay for it. */
	memset(b->buf, 0, BENCH_BUF);
	memset(b->file_buf, 0, b->file_cap);
	/* Each test: the firmware, then vqboot after taking the device, which
	 * goes back to the firmware's driver for the next one. */
	for (unsigned i = 0; i < b->rounds; i++) {
		r = bench_round(b, i);
		if (r)
			return efi_from_vq(r);
	}
	pick_medians(b);
	put_report(o, b);
	return EFI_SUCCESS;
}

EFI_STATUS diag_bench(struct diag_out *o, const struct diag_params *p)
{
	static struct bench b;
	struct efi_pci_dev *devs;
	uint64_t mib = BENCH_DEFAULT_MIB, rounds = 1;
	unsigned n;
	EFI_STATUS st;

	if (diag_param_u64(p, "--size", 999999, &mib) < 0 || !mib ||
	    diag_param_u64(p, "--rounds", BENCH_ROUNDS_MAX, &rounds) < 0 || !rounds) {
		log_error("bench: --size wants a number of MiB, --rounds 1..%u",
			  BENCH_ROUNDS_MAX);
		return EFI_INVALID_PARAMETER;
	}
	st = efi_pci_find_virtio(&devs, &n);
	if (EFI_ERROR(st))
		return st;
	b = (struct bench){ .seq_bytes = mib << 20,
			    .rounds = (unsigned)rounds,
			    .file_cap = BENCH_FILE_MAX, .tsc_per_us = efi_tsc_per_us() };
	bool scsi = false;

	for (unsigned i = 0; i < p->argc; i++) {
		if (!strcmp(p->argv[i], "--bounce"))
			b.bounce = true;
		if (!strcmp(p->argv[i], "--scsi"))
			scsi = true;
	}
	pick_disk(&b, devs, n, scsi);
	if (!b.dev) {
		log_error("bench: no virtio disk");
		st = EFI_NOT_FOUND;
	} else {
		/* Log lines would land inside the JSON: errors go into it instead. */
		int level = log_max_level;
		if (o->json && level == LOG_INFO)
			log_max_level = -1;
		st = bench_run(o, &b);
		log_max_level = level;
	}
	efi_pages_free(b.buf, BENCH_BUF);
	efi_pages_free(b.file_buf, b.file_cap);
	efi_pci_free_list(devs, n);
	return st;
}
