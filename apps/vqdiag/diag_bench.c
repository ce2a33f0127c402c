/* SPDX-License-Identifier: MIT */
/*
 * vqdiag bench: disk read speed on the first virtio disk, firmware against
 * vqboot, in one boot (with --scsi, or when there is no virtio-blk disk: the
 * first disk behind the first virtio-scsi controller).
 *
 * Each test runs through the firmware (OVMF's virtio-blk driver, or
 * VirtioScsiDxe + ScsiDiskDxe, behind EFI_BLOCK_IO; its FAT driver behind
 * EFI_FILE_PROTOCOL) and through vqboot's own driver and FAT, on the same
 * device: for vqboot's side the device is taken from the firmware's driver
 * and given back after. What makes the figures checkable:
 *
 * - Every side of every round first fills the buffer with a pattern of its
 *   own, reads, and then (outside the timed interval) hashes what it read
 *   with xxh64. The hash must equal the other side's and the hash of the
 *   disk's known content: the bench disk is made by scripts/mkbench.py from
 *   seeds (see expect_blocks), so the expected bytes are generated here. A
 *   mismatch, an error, or vqboot keeping more than one request in flight
 *   in a one-at-a-time row makes the row FAIL.
 * - The order alternates per round and test (ABBA over the rounds): neither
 *   side always reads what the other just pulled into the host's caches.
 * - Each side reports min / median / max over the rounds; the ratio is of
 *   the medians.
 * - Two sections. "Like for like": one request at a time on both sides, the
 *   same request sizes (the firmware's BlockIo has no other mode). "What
 *   vqboot's design adds": vqboot with several requests in flight (64 handed
 *   to it at once through bdev_read_vec, or a file's extents batched) against
 *   the firmware at one. Every row carries the queue depth each side had
 *   (vqboot's as measured by its driver).
 * - File rows time the same steps on both sides: open the volume (vqboot:
 *   read the partition table and mount), open the file, read it in
 *   LOAD_CHUNK pieces as boot/load.c does, close.
 *
 * The host states its conditions (cache mode, request merging, page cache)
 * with --conditions=TEXT; they are printed with the table. Hidden options
 * for the tests: --corrupt=TEST flips a byte of vqboot's data after the read,
 * --skip-read=TEST leaves vqboot's buffer as filled; either must make that
 * row FAIL.
 */
#include "apps/vqdiag/diag.h"
#include "apps/vqdiag/blockio_bdev.h"
#include "boot/fs.h"
#include "boot/load.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/zstd.h"
#include "boot/part.h"
#include "virtio/virtio_blk.h"
#include "virtio/virtio_scsi.h"
#include "efi/vdevs.h"
#include "lib/plat.h"

#define BENCH_MAX_REQUEST (4u << 20) /* the largest test request */
#define BENCH_DEFAULT_MIB 64
#define BENCH_MAX_MIB 256
#define BENCH_RANDOM_OPS 2000
#define BENCH_ROUNDS_MAX 16
#define BENCH_DEFAULT_ROUNDS 4
#define BENCH_BATCH 64          /* requests handed to a driver at once */
#define BENCH_RANDOM_SIZE 4096
#define BENCH_RAW_NAME "vqbench-raw"
#define BENCH_FILE_MAX (64u << 20)
#define BENCH_BLOCK 4096        /* mkbench.py's unit of known content */

/* scripts/mkbench.py's seeds: the raw partition and each file. */
#define BENCH_RAW_SEED 0x2000

enum { SIDE_FW, SIDE_VQ, SIDES };
enum { SEC_LIKE, SEC_DESIGN, SECTIONS };

enum bench_test {
	T_SEQ_4K_QD1, T_SEQ_64K_QD1, T_SEQ_1M_QD1, T_RAND_4K_QD1,
	T_SEQ_4K, T_SEQ_64K, T_SEQ_1M, T_SEQ_4M, T_RAND_4K,
	T_KERNEL, T_INITRD, T_KERNEL_FRAG, T_INITRD_FRAG,
	T_BOTH, T_BOTH_FRAG,
	T_COUNT
};

static const struct bench_def {
	const char *key;
	const char *what;
	uint32_t request;  /* block tests: bytes per read */
	bool qd1;          /* one request at a time on both sides */
	bool random;
	const char *path;  /* file tests */
	uint64_t seed;     /* file tests: mkbench.py's seed of the file */
	uint8_t section;
	uint8_t passes;    /* timed passes per round (0: 1), each filled and hashed:
			    * short tests are stretched past the host's time slices */
} defs[T_COUNT] = {
	[T_SEQ_4K_QD1] = { "seq_4k_qd1", "sequential 4 KiB", 4096, true },
	[T_SEQ_64K_QD1] = { "seq_64k_qd1", "sequential 64 KiB", 65536, true, .passes = 2 },
	[T_SEQ_1M_QD1] = { "seq_1m_qd1", "sequential 1 MiB", 1u << 20, true, .passes = 8 },
	[T_RAND_4K_QD1] = { "rand_4k_qd1", "random 4 KiB", BENCH_RANDOM_SIZE, true, true },
	[T_SEQ_4K] = { "seq_4k", "sequential 4 KiB, 64 at once", 4096,
		       .section = SEC_DESIGN },
	[T_SEQ_64K] = { "seq_64k", "sequential 64 KiB, 64 at once", 65536,
			.section = SEC_DESIGN, .passes = 4 },
	[T_SEQ_1M] = { "seq_1m", "sequential 1 MiB, 64 at once", 1u << 20,
		       .section = SEC_DESIGN, .passes = 8 },
	[T_SEQ_4M] = { "seq_4m", "sequential 4 MiB, 64 at once", 4u << 20,
		       .section = SEC_DESIGN, .passes = 8 },
	[T_RAND_4K] = { "rand_4k", "random 4 KiB, 64 at once", BENCH_RANDOM_SIZE,
			.random = true, .section = SEC_DESIGN, .passes = 4 },
	[T_KERNEL] = { "file_kernel", "kernel by path contiguous", .path = "/bench/kernel.bin",
		       .seed = 0x1000, .section = SEC_DESIGN, .passes = 4 },
	[T_INITRD] = { "file_initrd", "initrd by path contiguous", .path = "/bench/initrd.bin",
		       .seed = 0x1001, .section = SEC_DESIGN, .passes = 4 },
	[T_KERNEL_FRAG] = { "file_kernel_frag", "kernel by path fragmented",
			    .path = "/bench/kernfrag.bin", .seed = 0x1002, .section = SEC_DESIGN,
			    .passes = 2 },
	[T_INITRD_FRAG] = { "file_initrd_frag", "initrd by path fragmented",
			    .path = "/bench/initfrag.bin", .seed = 0x1003, .section = SEC_DESIGN },
	[T_BOTH] = { "files_contiguous", "kernel + initrd contiguous", .section = SEC_DESIGN },
	[T_BOTH_FRAG] = { "files_fragmented", "kernel + initrd fragmented", .section = SEC_DESIGN },
};

static const char *const section_key[SECTIONS] = { "like_for_like", "design" };
static const char *const section_what[SECTIONS] = {
	"like for like: one request at a time on both sides, the same requests",
	"what vqboot's design adds: several requests in flight, batched extents "
	"(the firmware's BlockIo reads one at a time)",
};

#define BENCH_FAILS_KEPT 8

struct bench_fail {
	unsigned round, test, side;
	int err;
};

/* One side of one test in one round. */
struct bench_result {
	int err;
	uint64_t bytes;
	uint64_t ops;
	uint64_t us;
	uint64_t digest;     /* xxh64 of the bytes read, chained over the passes */
	unsigned passes;     /* each read @bytes */
	uint32_t qd;         /* most requests in flight */
	uint64_t requests;   /* vqboot: requests its driver sent */
};

/* One side of a row over the rounds. */
struct bench_side {
	uint64_t min, median, max;   /* rates, thousandths */
	uint32_t qd;
};

struct bench_row {
	struct bench_side side[SIDES];
	uint64_t ratio;              /* of the medians, thousandths */
	bool have_expected;
	uint64_t expected_size, expected;  /* known content: size and xxh64 */
	bool fail;
	char why[120];
};

enum sabotage { SAB_NONE, SAB_CORRUPT, SAB_SKIP };

/* Reading files by path on one side: open the volume, the file, read, close. */
struct bench_files {
	int (*read_file)(struct bench_files *f, const char *path, uint8_t *buf,
			 size_t cap, uint64_t *ret_size);
	EFI_FILE_IO_INTERFACE *sfs;  /* firmware */
	struct blockdev *disk;       /* vqboot: the whole disk */
	unsigned part;               /* vqboot: the FAT partition's number */
};

struct bench {
	struct efi_pci_dev *dev;
	bool scsi;                          /* a SCSI LUN of dev */
	uint16_t target, lun;
	uint64_t seq_bytes;
	uint64_t region_start, region_len;  /* the raw partition, bytes on the disk */
	unsigned fat_part;                  /* partition number; 0: none */
	bool bounce;
	const char *conditions;             /* what the host said of itself */
	enum sabotage sabotage[T_COUNT];     /* hidden test options */
	uint8_t *buf;
	size_t buf_cap;
	uint8_t *file_buf;
	size_t file_cap;
	unsigned rounds;
	unsigned cur_round, cur_side;       /* the side being run */
	unsigned failures;                  /* sides of tests that failed */
	struct bench_fail fails[BENCH_FAILS_KEPT];
	struct bench_result runs[BENCH_ROUNDS_MAX][SIDES][T_COUNT];
	struct bench_row rows[T_COUNT];
	struct bdev_iov iov[BENCH_BATCH];
	struct vblk_stats stats;
	uint64_t tsc_per_us;
};

static const char *const side_name[SIDES] = { "firmware", "vqboot" };

/* ---- known content ----------------------------------------------------------- */

/*
 * scripts/mkbench.py's random_file(seed): 4 KiB block i of the file (or of
 * the raw partition) is le64 seed, le64 i, then bytes 16.. of one 4 KiB
 * chunk of 64-bit LCG outputs started at seed; the last block is cut short.
 */
static void make_chunk(uint64_t seed, uint8_t chunk[BENCH_BLOCK])
{
	uint64_t s = seed;

	for (unsigned i = 0; i < BENCH_BLOCK / 8; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		put_le64(chunk + 8 * i, s);
	}
}

/* @len bytes of known content from block @first of @seed's data. */
static void expect_blocks(uint8_t *dst, const uint8_t *chunk, uint64_t seed,
			  uint64_t first, size_t len)
{
	for (size_t off = 0; off < len; off += BENCH_BLOCK) {
		size_t n = VQ_MIN((size_t)BENCH_BLOCK, len - off);
		uint8_t hdr[16];

		put_le64(hdr, seed);
		put_le64(hdr + 8, first + off / BENCH_BLOCK);
		BS->CopyMem(dst + off, (void *)chunk, n);
		BS->CopyMem(dst + off, hdr, VQ_MIN(n, sizeof(hdr)));
	}
}

static unsigned passes_of(unsigned t)
{
	return defs[t].passes ? defs[t].passes : 1;
}

/* A fill byte of this side and round: a side that moved nothing leaves it. */
static uint8_t fill_byte(unsigned round, unsigned side)
{
	return (uint8_t)(0xA5 ^ (side ? 0xFF : 0) ^ (round * 0x3B));
}

/* Before each pass (not timed): the side's pattern over @len bytes, with
 * boot services' SetMem (gnu-efi's memset writes a byte at a time). */
static void pass_fill(const struct bench *b, uint8_t *buf, size_t len)
{
	BS->SetMem(buf, len, fill_byte(b->cur_round, b->cur_side));
}

/* After each pass (not timed): chain the hash of what it read. */
static void pass_hash(const struct bench *b, unsigned t, uint8_t *buf, uint64_t len,
		      struct bench_result *ret)
{
	if (b->cur_side == SIDE_VQ && b->sabotage[t] == SAB_CORRUPT && len)
		buf[len / 2] ^= 0x40;
	ret->digest = vq_xxh64(buf, (size_t)len, ret->digest);
}

/* The same content read @passes times hashes like this. */
static uint64_t chain_digest(const uint8_t *buf, size_t len, unsigned passes)
{
	uint64_t d = 0;

	for (unsigned p = 0; p < passes; p++)
		d = vq_xxh64(buf, len, d);
	return d;
}

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

/* Request @i of test @t: where it reads, in bytes from the raw partition. */
static uint64_t request_offset(const struct bench *b, unsigned t, uint64_t i,
			       uint64_t *seed)
{
	if (defs[t].random)
		return (next_rand(seed) % (b->region_len / BENCH_RANDOM_SIZE)) *
		       BENCH_RANDOM_SIZE;
	return i * defs[t].request;
}

static uint64_t request_count(const struct bench *b, unsigned t)
{
	if (defs[t].random)
		return BENCH_RANDOM_OPS;
	return b->seq_bytes / defs[t].request;
}

/* The hash of what test @t must read: the raw partition's known content
 * at each request's offset, in request order. */
static uint64_t expected_block_digest(struct bench *b, unsigned t)
{
	uint8_t chunk[BENCH_BLOCK];
	uint32_t req = defs[t].request;
	uint64_t n = request_count(b, t), seed = BENCH_SEED;

	make_chunk(BENCH_RAW_SEED, chunk);
	for (uint64_t i = 0; i < n; i++)
		expect_blocks(b->buf + i * req, chunk, BENCH_RAW_SEED,
			      request_offset(b, t, i, &seed) / BENCH_BLOCK, req);
	return chain_digest(b->buf, n * req, passes_of(t));
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

/* The whole test lands in b->buf, request i at i * request bytes, so that
 * it can be hashed after the timer stops. */
static int block_test(struct blockdev *bd, struct bench *b, unsigned t,
		      struct bench_result *ret)
{
	uint32_t req = defs[t].request;
	uint64_t n = request_count(b, t);
	int r = 0;

	ret->bytes = n * req;
	ret->ops = n;
	for (unsigned p = 0; p < passes_of(t) && !r; p++) {
		uint64_t seed = BENCH_SEED, t0;

		pass_fill(b, b->buf, n * req);
		t0 = plat_now_us();
		for (uint64_t i = 0; i < n && !r;) {
			unsigned k = 0;

			for (; k < BENCH_BATCH && i < n; k++, i++)
				b->iov[k] = (struct bdev_iov){
					.lba = (b->region_start + request_offset(b, t, i, &seed)) /
					       bd->block_size,
					.count = req / bd->block_size,
					.buf = b->buf + i * req };
			r = run_batch(bd, b->iov, k, defs[t].qd1);
		}
		ret->us += plat_now_us() - t0;
		ret->passes++;
		if (!r)
			pass_hash(b, t, b->buf, n * req, ret);
	}
	ret->err = r;
	return r;
}

/* ---- file tests ------------------------------------------------------------ */

static void file_test(struct bench *b, unsigned t, struct bench_files *f,
		      struct bench_result *ret)
{
	int r = 0;

	ret->ops = 1;
	for (unsigned p = 0; p < passes_of(t) && !r; p++) {
		uint64_t size = 0, t0;

		pass_fill(b, b->file_buf, b->file_cap);
		t0 = plat_now_us();
		r = f->read_file(f, defs[t].path, b->file_buf, b->file_cap, &size);
		ret->us += plat_now_us() - t0;
		ret->passes++;
		if (r)
			break;
		if (p && size != ret->bytes)
			r = log_err(-VQ_EIO, "bench: %s changed size between passes", defs[t].path);
		ret->bytes = size;
		pass_hash(b, t, b->file_buf, size, ret);
	}
	ret->err = r;
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

static int mount_fat(struct blockdev *disk, unsigned number, struct blockdev *pbd,
		     struct fs **ret);

/* vqboot: the partition table, the mount, then boot/fs.h the way boot/load.c
 * reads a kernel: the same steps as OpenVolume + Open + Read + Close. */
static int vq_read_file(struct bench_files *f, const char *path, uint8_t *buf,
			size_t cap, uint64_t *ret_size)
{
	struct blockdev pbd;
	struct fs *fs;
	struct fs_file *fh;
	int r = mount_fat(f->disk, f->part, &pbd, &fs);

	if (r)
		return log_err(r, "bench: %s: cannot mount partition %u", f->disk->name,
			       f->part);
	r = fs->ops->open(fs, path, &fh);
	if (r) {
		fs_unmount(fs);
		return r;
	}
	uint64_t size = fs->ops->size(fh);
	if (!size || size > cap)
		r = log_err(-VQ_E2BIG, "bench: %s has %llu bytes (room for %zu)",
			    path, (unsigned long long)size, cap);
	for (uint64_t off = 0; !r && off < size;) {
		size_t n = (size_t)VQ_MIN((uint64_t)LOAD_CHUNK, size - off);

		r = fs->ops->read(fh, off, buf + off, n);
		off += n;
	}
	fs->ops->close(fh);
	fs_unmount(fs);
	if (!r)
		*ret_size = size;
	return r;
}

/* The known content of file test @t, @size bytes long (the size the file
 * system gave; both sides must agree on it). */
static uint64_t expected_file_digest(struct bench *b, unsigned t, uint64_t size)
{
	uint8_t chunk[BENCH_BLOCK];

	make_chunk(defs[t].seed, chunk);
	expect_blocks(b->file_buf, chunk, defs[t].seed, 0, (size_t)size);
	return chain_digest(b->file_buf, (size_t)size, passes_of(t));
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
	/* Known content needs mkbench.py's raw partition, 4 KiB aligned. */
	if (!b->seq_bytes || !b->fat_part || b->region_len == disk->size ||
	    b->region_start % BENCH_BLOCK)
		return log_err(-VQ_ENOENT,
			       "bench: %s: need scripts/mkbench.py's disk: a FAT partition and a \"%s\" partition of at least 4 MiB (%llu bytes found)",
			       disk->name, BENCH_RAW_NAME, (unsigned long long)b->region_len);
	return 0;
}

/* ---- the two sides --------------------------------------------------------- */

static int firmware_disk(struct bench *b, struct efi_blockio *ret)
{
	EFI_STATUS st = b->scsi ? efi_blockio_find_scsi(b->dev->handle, b->target, b->lun, ret)
				: efi_blockio_find(b->dev->handle, ret);

	if (EFI_ERROR(st))
		return log_err(-VQ_ENODEV, "bench: the firmware has no BlockIo on %s",
			       b->dev->vdev.bus.name);
	return 0;
}

/* One test through the firmware: BlockIo, or its FAT driver. */
static int firmware_test(struct bench *b, unsigned t, struct bench_result *ret)
{
	struct efi_blockio fw;
	struct bench_files files = { .read_file = fw_read_file };
	int r = firmware_disk(b, &fw);

	if (r)
		return r;
	ret->qd = 1;  /* EFI_BLOCK_IO: one call, one request, no other mode */
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

/* One test on a blockdev of vqboot's (the whole disk). */
static int vqboot_run(struct bench *b, unsigned t, struct blockdev *bd,
		      struct bench_result *ret)
{
	struct bench_files files = { .read_file = vq_read_file, .disk = bd,
				     .part = b->fat_part };

	if (defs[t].request)
		return block_test(bd, b, t, ret);
	file_test(b, t, &files, ret);
	return ret->err;
}

static void note_stats(struct bench *b, struct bench_result *ret, uint64_t requests,
		       uint64_t bytes, uint64_t bounced, uint32_t max_inflight)
{
	ret->requests = requests;
	ret->qd = max_inflight;
	b->stats.requests += requests;
	b->stats.bytes += bytes;
	b->stats.bounced_bytes += bounced;
	b->stats.max_inflight = VQ_MAX(b->stats.max_inflight, max_inflight);
}

/* The same test through vqboot on a SCSI LUN: take, scan, test, give back. */
static int vqboot_test_scsi(struct bench *b, unsigned t, struct bench_result *ret)
{
	struct vscsi_stats st;
	struct vscsi *c;
	int r = -VQ_ENOENT;

	if (EFI_ERROR(vdevs_take_scsi(b->dev, b->bounce, 0, &c)))
		return -VQ_ENODEV;
	/* The scan's own commands (all in flight at once) are not the test's. */
	vscsi_reset_stats(c);
	for (unsigned i = 0; i < vscsi_lun_count(c); i++) {
		struct vscsi_lun *l = vscsi_lun_at(c, i);

		if (l->target == b->target && l->lun == b->lun && l->disk)
			r = vqboot_run(b, t, vscsi_lun_bdev(l), ret);
	}
	vscsi_get_stats(c, &st);
	note_stats(b, ret, st.reads, st.bytes, st.bounced_bytes, st.max_inflight);
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
	note_stats(b, ret, st.requests, st.bytes, st.bounced_bytes, st.max_inflight);
	vdevs_release_blk(b->dev, vb);
	return r;
}

static void note_failure(struct bench *b, unsigned round, unsigned t, unsigned side,
			 int err)
{
	if (b->failures < BENCH_FAILS_KEPT)
		b->fails[b->failures] = (struct bench_fail){
			.round = round, .test = t, .side = side, .err = err };
	b->failures++;
}

/* One side of one test: per pass fill, read (timed), hash (not timed). */
static void run_side(struct bench *b, unsigned round, unsigned t, unsigned side)
{
	struct bench_result *res = &b->runs[round][side][t];
	bool block = defs[t].request != 0;
	uint8_t *buf = block ? b->buf : b->file_buf;
	enum sabotage sab = side == SIDE_VQ ? b->sabotage[t] : SAB_NONE;
	int r;

	b->cur_round = round;
	b->cur_side = side;
	*res = (struct bench_result){ 0 };
	if (sab == SAB_SKIP) {
		/* What a read that moved nothing would report. */
		*res = (struct bench_result){ .us = 1, .ops = block ? request_count(b, t) : 1,
					      .qd = 1, .passes = 1 };
		res->bytes = block ? res->ops * defs[t].request
				   : b->rows[t].have_expected ? b->rows[t].expected_size : 1;
		pass_fill(b, buf, (size_t)res->bytes);
		pass_hash(b, t, buf, res->bytes, res);
		r = 0;
	} else {
		r = side == SIDE_FW ? firmware_test(b, t, res) : vqboot_test(b, t, res);
	}
	if (r && !res->err)
		res->err = r;
	if (res->err) {
		note_failure(b, round, t, side, res->err);
		return;
	}
	/* Files: the known content is made once their size is known (the
	 * buffer is free again: this side's hash is taken). */
	if (!block && !b->rows[t].have_expected) {
		b->rows[t].expected_size = res->bytes;
		b->rows[t].expected = expected_file_digest(b, t, res->bytes);
		b->rows[t].have_expected = true;
	}
}

/* The kernel + initrd rows: sums of two file rows of the same round. */
static void sum_rows(struct bench_result *res)
{
	for (unsigned t = T_BOTH; t <= T_BOTH_FRAG; t++) {
		const struct bench_result *k = &res[t == T_BOTH ? T_KERNEL : T_KERNEL_FRAG];
		const struct bench_result *i = &res[t == T_BOTH ? T_INITRD : T_INITRD_FRAG];

		res[t] = (struct bench_result){ .err = k->err ? k->err : i->err,
						.bytes = k->bytes * k->passes + i->bytes * i->passes,
						.ops = 2, .passes = 1,
						.us = k->us + i->us, .qd = VQ_MAX(k->qd, i->qd),
						.requests = k->requests + i->requests };
	}
}

/* One round. The side that goes first alternates with the round and the
 * test, so that over the rounds each test runs ABBA... */
static void bench_round(struct bench *b, unsigned round)
{
	for (unsigned t = 0; t < T_COUNT; t++) {
		unsigned first = (round + t) & 1 ? SIDE_VQ : SIDE_FW;

		if (t == T_BOTH || t == T_BOTH_FRAG)
			continue;
		run_side(b, round, t, first);
		run_side(b, round, t, first ^ 1);
	}
	sum_rows(b->runs[round][SIDE_FW]);
	sum_rows(b->runs[round][SIDE_VQ]);
}

/* ---- checks and spread ------------------------------------------------------ */

static bool is_ops(unsigned t)
{
	return defs[t].random;
}

static bool is_sum(unsigned t)
{
	return t == T_BOTH || t == T_BOTH_FRAG;
}

/* MB/s (10^6 bytes/s) or operations/s, times 1000. */
static uint64_t rate_milli(unsigned t, const struct bench_result *r)
{
	if (r->err || !r->us)
		return 0;
	return is_ops(t) ? r->ops * r->passes * 1000000000ULL / r->us
			 : r->bytes * r->passes * 1000 / r->us;
}

/* The first reason a row failed is the one it shows. */
static void VQ_PRINTF(2, 3) row_fail(struct bench_row *row, const char *fmt, ...)
{
	va_list ap;

	if (row->fail)
		return;
	row->fail = true;
	va_start(ap, fmt);
	vq_vsnprintf(row->why, sizeof(row->why), fmt, ap);
	va_end(ap);
}

static void check_round(struct bench *b, unsigned t, unsigned round)
{
	struct bench_row *row = &b->rows[t];
	const struct bench_result *res[SIDES] = { &b->runs[round][SIDE_FW][t],
						  &b->runs[round][SIDE_VQ][t] };

	for (unsigned s = 0; s < SIDES; s++) {
		if (res[s]->err)
			row_fail(row, "%s: %s (round %u)", side_name[s],
				 vq_strerror(res[s]->err), round);
		else if (!is_sum(t) && (res[s]->bytes != row->expected_size ||
					res[s]->digest != row->expected))
			row_fail(row, "%s: not the disk's known content (round %u)",
				 side_name[s], round);
	}
	if (!is_sum(t) && (res[0]->digest != res[1]->digest || res[0]->bytes != res[1]->bytes))
		row_fail(row, "the two sides read different data (round %u)", round);
	if (defs[t].qd1 && res[SIDE_VQ]->qd > 1)
		row_fail(row, "vqboot kept %u requests in flight in a one-at-a-time test",
			 res[SIDE_VQ]->qd);
}

static void sort_u64(uint64_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j] < v[j - 1]; j--) {
			uint64_t x = v[j];

			v[j] = v[j - 1];
			v[j - 1] = x;
		}
}

static void spread(struct bench *b, unsigned t, unsigned s, struct bench_side *ret)
{
	uint64_t v[BENCH_ROUNDS_MAX] = { 0 };
	unsigned n = b->rounds;

	ret->qd = 0;
	for (unsigned i = 0; i < n; i++) {
		v[i] = rate_milli(t, &b->runs[i][s][t]);
		ret->qd = VQ_MAX(ret->qd, b->runs[i][s][t].qd);
	}
	sort_u64(v, n);
	ret->min = v[0];
	ret->max = v[n - 1];
	ret->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void summarise(struct bench *b)
{
	for (unsigned t = 0; t < T_COUNT; t++) {
		struct bench_row *row = &b->rows[t];

		for (unsigned i = 0; i < b->rounds; i++)
			check_round(b, t, i);
		if (is_sum(t)) {
			unsigned k = t == T_BOTH ? T_KERNEL : T_KERNEL_FRAG;

			if (b->rows[k].fail || b->rows[k + 1].fail)
				row_fail(row, "its kernel or initrd row failed");
		}
		for (unsigned s = 0; s < SIDES; s++)
			spread(b, t, s, &row->side[s]);
		row->ratio = row->side[SIDE_FW].median ?
			row->side[SIDE_VQ].median * 1000 / row->side[SIDE_FW].median : 0;
	}
}

/* ---- output ---------------------------------------------------------------- */

static void put_milli(char *buf, size_t size, uint64_t v)
{
	if (v >= 100000)
		vq_snprintf(buf, size, "%llu", (unsigned long long)(v / 1000));
	else
		vq_snprintf(buf, size, "%llu.%01llu", (unsigned long long)(v / 1000),
			    (unsigned long long)(v % 1000 / 100));
}

static void put_hex(char *buf, size_t size, uint64_t v)
{
	vq_snprintf(buf, size, "%016llx", (unsigned long long)v);
}

static void json_side(struct diag_out *o, const struct bench *b, unsigned t, unsigned s)
{
	const struct bench_side *sd = &b->rows[t].side[s];
	const struct bench_result *r0 = &b->runs[0][s][t];
	char hex[20];

	json_begin_object(&o->j, side_name[s]);
	json_uint(&o->j, "qd", sd->qd);
	json_milli(&o->j, "min", sd->min);
	json_milli(&o->j, "median", sd->median);
	json_milli(&o->j, "max", sd->max);
	json_uint(&o->j, "bytes", r0->bytes);
	json_uint(&o->j, "ops", r0->ops);
	json_uint(&o->j, "passes", r0->passes);
	if (!is_sum(t)) {
		put_hex(hex, sizeof(hex), r0->digest);
		json_string(&o->j, "xxh64", hex);
	}
	if (s == SIDE_VQ)
		json_uint(&o->j, "requests", r0->requests);
	json_begin_array(&o->j, "us");
	for (unsigned i = 0; i < b->rounds; i++)
		json_uint(&o->j, NULL, b->runs[i][s][t].us);
	json_end_array(&o->j);
	json_begin_array(&o->j, "errors");
	for (unsigned i = 0; i < b->rounds; i++)
		if (b->runs[i][s][t].err)
			json_string(&o->j, NULL, vq_strerror(b->runs[i][s][t].err));
	json_end_array(&o->j);
	json_end_object(&o->j);
}

static void json_row(struct diag_out *o, const struct bench *b, unsigned t)
{
	const struct bench_row *row = &b->rows[t];
	char hex[20];

	json_begin_object(&o->j, NULL);
	json_string(&o->j, "test", defs[t].key);
	json_string(&o->j, "what", defs[t].what);
	json_string(&o->j, "section", section_key[defs[t].section]);
	json_string(&o->j, "unit", is_ops(t) ? "ops/s" : "MB/s");
	json_string(&o->j, "status", row->fail ? "FAIL" : "ok");
	if (row->fail)
		json_string(&o->j, "fail", row->why);
	if (!is_sum(t)) {
		put_hex(hex, sizeof(hex), row->expected);
		json_string(&o->j, "expected_xxh64", hex);
		json_uint(&o->j, "expected_bytes", row->expected_size);
	}
	json_side(o, b, t, SIDE_FW);
	json_side(o, b, t, SIDE_VQ);
	json_milli(&o->j, "ratio", row->ratio);
	json_end_object(&o->j);
}

static void text_row(const struct bench *b, unsigned t)
{
	const struct bench_row *row = &b->rows[t];
	char v[SIDES][3][16], hex[20] = "";

	for (unsigned s = 0; s < SIDES; s++) {
		put_milli(v[s][0], sizeof(v[s][0]), row->side[s].min);
		put_milli(v[s][1], sizeof(v[s][1]), row->side[s].median);
		put_milli(v[s][2], sizeof(v[s][2]), row->side[s].max);
	}
	if (!is_sum(t))
		put_hex(hex, sizeof(hex), b->runs[0][SIDE_VQ][t].digest);
	con_printf("  %-30s %2u/%-2u %8s %8s %8s  %8s %8s %8s %-5s %3llu.%02llux %s %.8s\n",
		   defs[t].what, row->side[SIDE_FW].qd, row->side[SIDE_VQ].qd,
		   v[0][0], v[0][1], v[0][2], v[1][0], v[1][1], v[1][2],
		   is_ops(t) ? "ops/s" : "MB/s", (unsigned long long)(row->ratio / 1000),
		   (unsigned long long)(row->ratio % 1000 / 10), row->fail ? "FAIL" : "ok", hex);
	if (row->fail)
		con_printf("    FAIL: %s\n", row->why);
}

static const char *conditions(const struct bench *b)
{
	return b->conditions ? b->conditions : "not stated (the host passes --conditions=)";
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
		json_string(&o->j, "timing", efi_clock_name());
		json_uint(&o->j, "tsc_per_us", b->tsc_per_us);
		json_string(&o->j, "conditions", conditions(b));
		json_string(&o->j, "order", "ABBA: the first side alternates with round and test");
		json_string(&o->j, "check", "each side fills its buffer with its own pattern, reads, then hashes with xxh64 (not timed); both must equal the hash of the disk's known content (scripts/mkbench.py)");
		json_string(&o->j, "spread", "min, median, max over the rounds; ratio of the medians");
		json_uint(&o->j, "sequential_bytes", b->seq_bytes);
		json_uint(&o->j, "region_start", b->region_start);
		json_uint(&o->j, "region_bytes", b->region_len);
		json_uint(&o->j, "random_ops", BENCH_RANDOM_OPS);
		json_uint(&o->j, "batch", BENCH_BATCH);
		json_uint(&o->j, "rounds", b->rounds);
		json_uint(&o->j, "file_chunk", LOAD_CHUNK);
		json_bool(&o->j, "bounce", b->bounce);
		json_begin_object(&o->j, "sections");
		for (unsigned s = 0; s < SECTIONS; s++)
			json_string(&o->j, section_key[s], section_what[s]);
		json_end_object(&o->j);
		return;
	}
	if (b->scsi)
		con_printf("vqdiag bench on vscsi %s target %u lun %u", b->dev->vdev.bus.name,
			   b->target, b->lun);
	else
		con_printf("vqdiag bench on vblk %s", b->dev->vdev.bus.name);
	con_printf(": %llu MiB sequential from byte %llu, %u random reads, %u rounds in ABBA order\n",
		   (unsigned long long)(b->seq_bytes >> 20),
		   (unsigned long long)b->region_start, BENCH_RANDOM_OPS, b->rounds);
	con_printf("timing: %llu ticks/us (%s)\n", (unsigned long long)b->tsc_per_us,
		   efi_clock_name());
	con_printf("conditions: %s\n", conditions(b));
	con_printf("check: each side fills its buffer with its own pattern, reads, hashes with xxh64 (not timed);\n"
		   "  both hashes must equal that of the disk's known content; min / median / max over the rounds,\n"
		   "  ratio of the medians, qd = most requests in flight (firmware / vqboot)\n");
}

static void put_stats(struct diag_out *o, const struct bench *b)
{
	const struct vblk_stats *s = &b->stats;
	unsigned failed_rows = 0;

	for (unsigned t = 0; t < T_COUNT; t++)
		failed_rows += b->rows[t].fail;
	if (o->json) {
		json_uint(&o->j, "failed_rows", failed_rows);
		json_begin_object(&o->j, "vqboot_stats");
		json_uint(&o->j, "requests", s->requests);
		json_uint(&o->j, "bytes", s->bytes);
		json_uint(&o->j, "bounced_bytes", s->bounced_bytes);
		json_uint(&o->j, "max_inflight", s->max_inflight);
		json_uint(&o->j, "failed_tests", b->failures);
		json_end_object(&o->j);
		json_begin_array(&o->j, "failures");
		for (unsigned i = 0; i < VQ_MIN(b->failures, (unsigned)BENCH_FAILS_KEPT); i++) {
			json_begin_object(&o->j, NULL);
			json_uint(&o->j, "round", b->fails[i].round);
			json_string(&o->j, "test", defs[b->fails[i].test].key);
			json_string(&o->j, "side", side_name[b->fails[i].side]);
			json_string(&o->j, "error", vq_strerror(b->fails[i].err));
			json_end_object(&o->j);
		}
		json_end_array(&o->j);
		return;
	}
	con_printf("vqboot driver: %llu requests, %llu bytes (%llu bounced), up to %u in flight; "
		   "%u failed reads, %u failed rows\n",
		   (unsigned long long)s->requests, (unsigned long long)s->bytes,
		   (unsigned long long)s->bounced_bytes, s->max_inflight, b->failures,
		   failed_rows);
}

static void put_report(struct diag_out *o, const struct bench *b)
{
	put_header(o, b);
	if (o->json)
		json_begin_array(&o->j, "rows");
	for (unsigned sec = 0; sec < SECTIONS; sec++) {
		if (!o->json) {
			con_printf("== %s\n", section_what[sec]);
			con_printf("  %-30s %5s %26s  %26s %-5s %8s %s\n", "test", "qd",
				   "firmware min / med / max", "vqboot min / med / max",
				   "unit", "ratio", "check xxh64");
		}
		for (unsigned t = 0; t < T_COUNT; t++) {
			if (defs[t].section != sec)
				continue;
			if (o->json)
				json_row(o, b, t);
			else
				text_row(b, t);
		}
	}
	if (o->json)
		json_end_array(&o->j);
	put_stats(o, b);
}

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

/* The known content of every block test; a file's once its size is read. */
static void expect_all(struct bench *b)
{
	for (unsigned t = 0; t < T_COUNT; t++)
		if (defs[t].request) {
			b->rows[t].expected = expected_block_digest(b, t);
			b->rows[t].expected_size = request_count(b, t) * defs[t].request;
			b->rows[t].have_expected = true;
		}
}

static EFI_STATUS bench_run(struct diag_out *o, struct bench *b)
{
	struct efi_blockio fw;
	int r;

	b->buf_cap = (size_t)VQ_MAX(b->seq_bytes, (uint64_t)BENCH_RANDOM_OPS * BENCH_RANDOM_SIZE);
	b->buf = efi_pages_alloc(b->buf_cap);
	b->file_buf = efi_pages_alloc(b->file_cap);
	if (!b->buf || !b->file_buf) {
		log_error("bench: no memory for %zu bytes of buffers", b->file_cap + b->buf_cap);
		return EFI_OUT_OF_RESOURCES;
	}
	/* Touch every page first: the host backs guest memory lazily, and the
	 * first side to write a page would pay for it. */
	BS->SetMem(b->buf, b->buf_cap, 0);
	BS->SetMem(b->file_buf, b->file_cap, 0);
	/* The layout first (through the firmware, untimed): the known content
	 * needs the raw partition's size. */
	r = firmware_disk(b, &fw);
	if (!r)
		r = find_layout(b, &fw.bdev);
	if (r)
		return efi_from_vq(r);
	expect_all(b);
	for (unsigned i = 0; i < b->rounds; i++)
		bench_round(b, i);
	summarise(b);
	put_report(o, b);
	return EFI_SUCCESS;
}

/* "--NAME=TEXT" among @p's words, or NULL. */
static const char *param_str(const struct diag_params *p, const char *name)
{
	size_t n = strlen(name);

	for (unsigned i = 0; i < p->argc; i++)
		if (!strncmp(p->argv[i], name, n) && p->argv[i][n] == '=')
			return p->argv[i] + n + 1;
	return NULL;
}

static EFI_STATUS parse_sabotage(const struct diag_params *p, struct bench *b)
{
	static const struct { const char *opt; enum sabotage kind; } opts[] = {
		{ "--corrupt", SAB_CORRUPT }, { "--skip-read", SAB_SKIP } };

	for (unsigned i = 0; i < ARRAY_SIZE(opts); i++) {
		const char *key = param_str(p, opts[i].opt);
		bool found = false;

		if (!key)
			continue;
		for (unsigned t = 0; t < T_COUNT; t++)
			if (!is_sum(t) && !strcmp(defs[t].key, key)) {
				b->sabotage[t] = opts[i].kind;
				found = true;
			}
		if (!found) {
			log_error("bench: %s=%s: no such test", opts[i].opt, key);
			return EFI_INVALID_PARAMETER;
		}
	}
	return EFI_SUCCESS;
}

EFI_STATUS diag_bench(struct diag_out *o, const struct diag_params *p)
{
	static struct bench b;
	struct efi_pci_dev *devs;
	uint64_t mib = BENCH_DEFAULT_MIB, rounds = BENCH_DEFAULT_ROUNDS;
	unsigned n;
	EFI_STATUS st;

	if (diag_param_u64(p, "--size", BENCH_MAX_MIB, &mib) < 0 || mib < 4 ||
	    diag_param_u64(p, "--rounds", BENCH_ROUNDS_MAX, &rounds) < 0 || !rounds) {
		log_error("bench: --size wants 4..%u MiB, --rounds 1..%u", BENCH_MAX_MIB,
			  BENCH_ROUNDS_MAX);
		return EFI_INVALID_PARAMETER;
	}
	b = (struct bench){ .seq_bytes = mib << 20,
			    .rounds = (unsigned)rounds,
			    .conditions = param_str(p, "--conditions"),
			    .file_cap = BENCH_FILE_MAX, .tsc_per_us = efi_tsc_per_us() };
	st = parse_sabotage(p, &b);
	if (EFI_ERROR(st))
		return st;
	st = efi_pci_find_virtio(&devs, &n);
	if (EFI_ERROR(st))
		return st;
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
	efi_pages_free(b.buf, b.buf_cap);
	efi_pages_free(b.file_buf, b.file_cap);
	efi_pci_free_list(devs, n);
	return st;
}
