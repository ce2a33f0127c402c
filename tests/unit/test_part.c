/* SPDX-License-Identifier: MIT */
/*
 * Partition tables: GPT at 512- and 4096-byte LBAs, the backup GPT when the
 * primary is damaged, MBR with logical partitions, no table. Images come
 * from tests/unit/images/mk_part_fat.sh; the field-by-field GPT checks use
 * a GPT built here in memory, damaged one field at a time with valid CRCs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/err.h"
#include "boot/fs.h"
#include "boot/part.h"
#include "tests/support/file_bdev.h"
#include "tests/support/host_platform.h"
#include "lib/plat.h"

static const char esp_guid[] = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";

static void open_image(const char *name, uint32_t bs, struct blockdev *bd)
{
	/* A missing image is a failure, not a skip. */
	assert_int_equal(file_bdev_open(test_image(name), bs, bd), 0);
}

static void read_table(const char *name, uint32_t bs, struct part_table *t)
{
	struct blockdev bd;

	open_image(name, bs, &bd);
	assert_int_equal(part_read_table(&bd, t), 0);
	file_bdev_close(&bd);
}

static void guid_is(const struct part_guid *g, const char *want)
{
	char s[37];

	part_guid_str(g, s);
	assert_string_equal(s, want);
}

static void part_is(const struct partition *p, unsigned number,
		    uint64_t start, uint64_t count, enum part_kind kind)
{
	assert_int_equal(p->number, number);
	assert_int_equal(p->start_lba, start);
	assert_int_equal(p->num_lba, count);
	assert_int_equal(p->kind, kind);
}

/* The table of pf_gpt512.img, whichever copy it was read from. */
static void check_gpt512(const struct part_table *t)
{
	assert_int_equal(t->scheme, PART_SCHEME_GPT);
	assert_int_equal(t->count, 3);
	guid_is(&t->disk_guid, "5a1d5a1d-0000-4000-8000-000000000001");
	part_is(&t->parts[0], 1, 2048, 81920, PART_KIND_ESP);
	assert_string_equal(t->parts[0].name, "EFI System");
	guid_is(&t->parts[0].type_guid, esp_guid);
	guid_is(&t->parts[0].part_guid, "11111111-2222-4333-8444-555555555555");
	part_is(&t->parts[1], 2, 83968, 32768, PART_KIND_XBOOTLDR);
	assert_string_equal(t->parts[1].name, "XBOOTLDR");
	part_is(&t->parts[2], 3, 116736, 8192, PART_KIND_LINUX);
	assert_string_equal(t->parts[2].name, "root");
}

static void test_crc32(void **state)
{
	/* The CRC-32 check value of "123456789" (IEEE 802.3). */
	assert_int_equal(crc32_ieee(0, "123456789", 9), 0xcbf43926);
	assert_int_equal(crc32_ieee(crc32_ieee(0, "1234", 4), "56789", 5),
			 0xcbf43926);
	assert_int_equal(crc32_ieee(0, "", 0), 0);
}

static void test_names(void **state)
{
	assert_string_equal(part_kind_name(PART_KIND_ESP), "esp");
	assert_string_equal(part_kind_name(PART_KIND_XBOOTLDR), "xbootldr");
	assert_string_equal(part_kind_name(PART_KIND_LINUX), "linux");
	assert_string_equal(part_kind_name(PART_KIND_OTHER), "other");
}

static void test_gpt512(void **state)
{
	struct part_table t;

	read_table("pf_gpt512.img", 512, &t);
	check_gpt512(&t);
	assert_false(t.used_backup);
}

/* Mount partition @index of @disk and read /hello.txt. */
static void check_hello_on(struct blockdev *disk, const struct partition *p,
			   enum fs_type type)
{
	struct blockdev part;
	struct fs *fs;
	void *buf;
	size_t size;

	assert_int_equal(part_open(disk, p, &part), 0);
	assert_int_equal(part.size, p->num_lba * disk->block_size);
	assert_int_equal(fs_mount(&part, &fs), 0);
	assert_int_equal(fs->type, type);
	assert_int_equal(fs_read_all(fs, "/hello.txt", 100, &buf, &size), 0);
	assert_int_equal(size, 11);
	assert_memory_equal(buf, "hello, fat\n", 11);
	plat_free(buf);
	fs_unmount(fs);
}

static void test_gpt512_mount(void **state)
{
	struct part_table t;
	struct blockdev disk;

	open_image("pf_gpt512.img", 512, &disk);
	assert_int_equal(part_read_table(&disk, &t), 0);
	check_hello_on(&disk, &t.parts[0], FS_FAT32);
	check_hello_on(&disk, &t.parts[1], FS_FAT16);
	file_bdev_close(&disk);
}

static void test_gpt_bad_primary_header(void **state)
{
	struct part_table t;

	host_log_clear();
	read_table("pf_gpt512_badhdr.img", 512, &t);
	check_gpt512(&t);
	assert_true(t.used_backup);
	assert_true(host_log_contains("header at LBA 1 CRC"));
	assert_true(host_log_contains("trying backup at LBA 131071"));
}

static void test_gpt_bad_primary_array(void **state)
{
	struct part_table t;

	host_log_clear();
	read_table("pf_gpt512_badarr.img", 512, &t);
	check_gpt512(&t);
	assert_true(t.used_backup);
	assert_true(host_log_contains("entry array at LBA 2 CRC"));
}

static void test_gpt_bad_both(void **state)
{
	struct part_table t = { .count = 99 };
	struct blockdev bd;

	host_log_clear();
	open_image("pf_gpt512_badboth.img", 512, &bd);
	assert_int_equal(part_read_table(&bd, &t), -VQ_ECORRUPT);
	assert_int_equal(t.count, 99); /* ret untouched on failure */
	assert_true(host_log_contains("header at LBA 1 CRC"));
	assert_true(host_log_contains("header at LBA 131071 CRC"));
	assert_true(host_log_contains("both damaged"));
	file_bdev_close(&bd);
}

static void test_gpt_bad_backup_only(void **state)
{
	struct part_table t;

	read_table("pf_gpt512_badbackup.img", 512, &t);
	check_gpt512(&t);
	assert_false(t.used_backup);
}

static void check_gpt4k(const struct part_table *t)
{
	assert_int_equal(t->scheme, PART_SCHEME_GPT);
	assert_int_equal(t->count, 2);
	part_is(&t->parts[0], 1, 256, 8192, PART_KIND_ESP);
	part_is(&t->parts[1], 2, 8448, 2048, PART_KIND_LINUX);
}

static void test_gpt4k(void **state)
{
	struct part_table t;
	struct blockdev disk;

	open_image("pf_gpt4k.img", 4096, &disk);
	assert_int_equal(part_read_table(&disk, &t), 0);
	check_gpt4k(&t);
	assert_false(t.used_backup);
	check_hello_on(&disk, &t.parts[0], FS_FAT16);
	file_bdev_close(&disk);
}

static void test_gpt4k_bad_header(void **state)
{
	struct part_table t;

	host_log_clear();
	read_table("pf_gpt4k_badhdr.img", 4096, &t);
	check_gpt4k(&t);
	assert_true(t.used_backup);
	assert_true(host_log_contains("trying backup at LBA 16383"));
}

/* The same disk read with the wrong LBA size finds no GPT at byte 512. */
static void test_gpt4k_as_512(void **state)
{
	struct part_table t;
	struct blockdev bd;

	open_image("pf_gpt4k.img", 512, &bd);
	assert_int_equal(part_read_table(&bd, &t), -VQ_ECORRUPT);
	file_bdev_close(&bd);
}

static void test_mbr(void **state)
{
	struct part_table t;
	struct blockdev disk;

	open_image("pf_mbr.img", 512, &disk);
	assert_int_equal(part_read_table(&disk, &t), 0);
	assert_int_equal(t.scheme, PART_SCHEME_MBR);
	assert_int_equal(t.count, 4);
	part_is(&t.parts[0], 1, 2048, 4096, PART_KIND_ESP);
	assert_int_equal(t.parts[0].mbr_type, 0xef);
	part_is(&t.parts[1], 2, 6144, 4096, PART_KIND_LINUX);
	part_is(&t.parts[2], 5, 12288, 4096, PART_KIND_LINUX);
	part_is(&t.parts[3], 6, 18432, 4096, PART_KIND_XBOOTLDR);
	assert_int_equal(t.parts[3].mbr_type, 0xea);
	check_hello_on(&disk, &t.parts[0], FS_FAT12);
	file_bdev_close(&disk);
}

static void test_no_table(void **state)
{
	struct part_table t;

	read_table("pf_zero.img", 512, &t);
	assert_int_equal(t.scheme, PART_SCHEME_NONE);
	assert_int_equal(t.count, 0);
	/* A FAT boot sector ends in 55 AA too, but is not an MBR. */
	read_table("pf_fat16.img", 512, &t);
	assert_int_equal(t.scheme, PART_SCHEME_NONE);
	assert_int_equal(t.count, 0);
	read_table("pf_fat32.img", 512, &t);
	assert_int_equal(t.scheme, PART_SCHEME_NONE);
}

static void test_part_open_range(void **state)
{
	struct partition p = { .number = 9, .start_lba = 1999, .num_lba = 49 };
	struct blockdev disk, part;

	open_image("pf_zero.img", 512, &disk); /* 2048 blocks */
	assert_int_equal(part_open(&disk, &p, &part), 0);
	assert_int_equal(part.base, 1999 * 512);
	assert_string_equal(part.name, "pf_zero.imgp9");
	p.num_lba = 49 + 1;
	assert_int_equal(part_open(&disk, &p, &part), -VQ_ERANGE);
	p.start_lba = UINT64_MAX - 10;
	p.num_lba = 20;
	assert_int_equal(part_open(&disk, &p, &part), -VQ_ERANGE);
	file_bdev_close(&disk);
}

/* ---- a GPT built in memory ---------------------------------------------- */

#define MEM_BS 512
#define MEM_BLOCKS 2048
#define MEM_ENTRIES 128
#define MEM_ARRAY_BLOCKS (MEM_ENTRIES * 128 / MEM_BS)

static uint8_t *mem_disk;

static uint8_t *hdr_at(uint64_t lba)
{
	return mem_disk + lba * MEM_BS;
}

static void gpt_fix_crcs(uint64_t lba)
{
	uint8_t *h = hdr_at(lba);
	uint64_t entries = get_le64(h + 72);
	uint32_t n = get_le32(h + 80), size = get_le32(h + 84);

	if (entries < MEM_BLOCKS && (uint64_t)n * size <= 1 << 20 &&
	    entries * MEM_BS + (uint64_t)n * size <= MEM_BLOCKS * MEM_BS)
		put_le32(h + 88, crc32_ieee(0, mem_disk + entries * MEM_BS,
					    (size_t)n * size));
	put_le32(h + 16, 0);
	put_le32(h + 16, crc32_ieee(0, h, get_le32(h + 12) <= MEM_BS ?
					    get_le32(h + 12) : 92));
}

static void gpt_put_header(uint64_t lba, uint64_t alt, uint64_t entries)
{
	uint8_t *h = hdr_at(lba);

	memcpy(h, "EFI PART", 8);
	put_le32(h + 8, 0x00010000);
	put_le32(h + 12, 92);
	put_le64(h + 24, lba);
	put_le64(h + 32, alt);
	put_le64(h + 40, 2 + MEM_ARRAY_BLOCKS);
	put_le64(h + 48, MEM_BLOCKS - 2 - MEM_ARRAY_BLOCKS);
	memset(h + 56, 0xab, 16);
	put_le64(h + 72, entries);
	put_le32(h + 80, MEM_ENTRIES);
	put_le32(h + 84, 128);
	gpt_fix_crcs(lba);
}

static void gpt_put_entry(uint64_t array_lba, unsigned i, uint64_t first,
			  uint64_t last)
{
	static const uint8_t esp[16] = { 0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8,
					 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0,
					 0xc9, 0x3e, 0xc9, 0x3b };
	uint8_t *e = mem_disk + array_lba * MEM_BS + i * 128;

	memcpy(e, esp, 16);
	memset(e + 16, i + 1, 16);
	put_le64(e + 32, first);
	put_le64(e + 40, last);
	put_le16(e + 56, 'p');
	put_le16(e + 58, (uint16_t)('0' + i));
	put_le16(e + 60, 0x263a); /* not ASCII: becomes '?' */
}

static int setup_mem_gpt(void **state)
{
	uint64_t backup_array = MEM_BLOCKS - 1 - MEM_ARRAY_BLOCKS;

	mem_disk = calloc(MEM_BLOCKS, MEM_BS);
	mem_disk[446 + 4] = 0xee;
	put_le32(mem_disk + 446 + 8, 1);
	put_le32(mem_disk + 446 + 12, MEM_BLOCKS - 1);
	mem_disk[510] = 0x55;
	mem_disk[511] = 0xaa;
	for (uint64_t a = 2; a; a = a == 2 ? backup_array : 0) {
		gpt_put_entry(a, 0, 100, 199);
		gpt_put_entry(a, 1, 200, 1000);
	}
	gpt_put_header(1, MEM_BLOCKS - 1, 2);
	gpt_put_header(MEM_BLOCKS - 1, 1, backup_array);
	return 0;
}

static int teardown_mem_gpt(void **state)
{
	free(mem_disk);
	return 0;
}

static int mem_read(struct part_table *t)
{
	struct blockdev bd;
	int r;

	mem_bdev_init(mem_disk, MEM_BLOCKS * MEM_BS, MEM_BS, &bd);
	r = part_read_table(&bd, t);
	file_bdev_close(&bd);
	return r;
}

static void test_mem_gpt_good(void **state)
{
	struct part_table t;

	assert_int_equal(mem_read(&t), 0);
	assert_false(t.used_backup);
	assert_int_equal(t.count, 2);
	part_is(&t.parts[0], 1, 100, 100, PART_KIND_ESP);
	part_is(&t.parts[1], 2, 200, 801, PART_KIND_ESP);
	assert_string_equal(t.parts[1].name, "p1?");
}

/*
 * The backup array differs from the primary (the second partition is
 * shorter there): a good primary is believed, and after a damaged primary
 * header the entries are the backup's own, not the primary's read again.
 */
static void test_mem_gpt_backup_entries_differ(void **state)
{
	uint64_t backup_array = MEM_BLOCKS - 1 - MEM_ARRAY_BLOCKS;
	struct part_table t;

	gpt_put_entry(backup_array, 1, 200, 900);
	gpt_fix_crcs(MEM_BLOCKS - 1);
	assert_int_equal(mem_read(&t), 0);
	assert_false(t.used_backup);
	part_is(&t.parts[1], 2, 200, 801, PART_KIND_ESP);

	hdr_at(1)[60] ^= 0xff;      /* disk GUID byte: the header CRC fails */
	host_log_clear();
	assert_int_equal(mem_read(&t), 0);
	assert_true(t.used_backup);
	assert_int_equal(t.count, 2);
	part_is(&t.parts[0], 1, 100, 100, PART_KIND_ESP);
	part_is(&t.parts[1], 2, 200, 701, PART_KIND_ESP);
}

/* A protective MBR with an odd boot indicator still means GPT; without
 * the 55 AA signature there is no table at all. */
static void test_mem_pmbr(void **state)
{
	struct part_table t;

	mem_disk[446] = 0x12;
	assert_int_equal(mem_read(&t), 0);
	assert_int_equal(t.scheme, PART_SCHEME_GPT);
	assert_int_equal(t.count, 2);
	mem_disk[511] = 0;
	assert_int_equal(mem_read(&t), 0);
	assert_int_equal(t.scheme, PART_SCHEME_NONE);
	assert_int_equal(t.count, 0);
}

/* Damage one field of the primary header (CRC kept valid): the backup is
 * used and the log names the field and value. */
static void primary_field(unsigned off, unsigned width, uint64_t value,
			  const char *log)
{
	struct part_table t;

	setup_mem_gpt(NULL);
	if (width == 4)
		put_le32(hdr_at(1) + off, (uint32_t)value);
	else
		put_le64(hdr_at(1) + off, value);
	gpt_fix_crcs(1);
	host_log_clear();
	assert_int_equal(mem_read(&t), 0);
	assert_true(t.used_backup);
	assert_int_equal(t.count, 2);
	if (!host_log_contains(log))
		fail_msg("log lacks \"%s\"; last: %s", log, host_log_last());
	teardown_mem_gpt(NULL);
}

static void test_mem_gpt_fields(void **state)
{
	primary_field(12, 4, 91, "size 91 outside 92..512");
	primary_field(12, 4, 513, "size 513 outside 92..512");
	primary_field(24, 8, 5, "says MyLBA 5");
	primary_field(84, 4, 100, "entry size 100 invalid");
	primary_field(84, 4, 132, "entry size 132 invalid");
	primary_field(84, 4, 1u << 20, "invalid");
	primary_field(80, 4, 100000, "has 100000 entries of 128 bytes");
	primary_field(80, 4, 0xffffffff, "entries of 128 bytes");
	primary_field(48, 8, MEM_BLOCKS, "usable LBAs 34..2048 outside disk");
	primary_field(40, 8, 3000, "usable LBAs 3000..2014");
	primary_field(72, 8, MEM_BLOCKS - 10, "misplaced");
	primary_field(72, 8, 1, "misplaced");
	primary_field(72, 8, 20, "misplaced"); /* overlaps the usable range */
	primary_field(72, 8, UINT64_MAX - 1, "misplaced");
}

static void test_mem_gpt_signature(void **state)
{
	struct part_table t;

	hdr_at(1)[0] = 'X';
	host_log_clear();
	assert_int_equal(mem_read(&t), 0);
	assert_true(t.used_backup);
	assert_true(host_log_contains("no GPT signature at LBA 1"));
}

/* Entries outside the usable range are dropped, the rest kept. */
static void test_mem_gpt_bad_entry(void **state)
{
	struct part_table t;

	gpt_put_entry(2, 2, 1500, MEM_BLOCKS + 5);
	gpt_put_entry(2, 3, 10, 20);
	gpt_put_entry(2, 4, 600, 500);
	gpt_put_entry(2, 5, 300, 310);
	gpt_fix_crcs(1);
	host_log_clear();
	assert_int_equal(mem_read(&t), 0);
	assert_false(t.used_backup);
	assert_int_equal(t.count, 3);
	part_is(&t.parts[2], 6, 300, 11, PART_KIND_ESP);
	assert_true(host_log_contains("entry 3 LBAs 1500..2053 outside usable 34..2014"));
	assert_true(host_log_contains("entry 4 LBAs 10..20"));
	assert_true(host_log_contains("entry 5 LBAs 600..500"));
}

/* More used entries than PART_MAX: the first PART_MAX are kept. */
static void test_mem_gpt_many(void **state)
{
	struct part_table t;

	for (unsigned i = 0; i < 40; i++)
		gpt_put_entry(2, i, 100 + i * 10, 109 + i * 10);
	gpt_fix_crcs(1);
	assert_int_equal(mem_read(&t), 0);
	assert_int_equal(t.count, PART_MAX);
	assert_int_equal(t.parts[PART_MAX - 1].number, PART_MAX);
	assert_true(host_log_contains("entry 33 and later ignored"));
}

/* The primary header is good but points at a bogus AlternateLBA, and its
 * array is damaged: AlternateLBA is tried, then the last LBA. */
static void test_mem_gpt_alternate(void **state)
{
	struct part_table t;

	put_le64(hdr_at(1) + 32, 1000);
	gpt_fix_crcs(1);
	hdr_at(2)[100] ^= 1;
	host_log_clear();
	assert_int_equal(mem_read(&t), 0);
	assert_true(t.used_backup);
	assert_true(host_log_contains("entry array at LBA 2 CRC"));
	assert_true(host_log_contains("trying backup at LBA 1000"));
	assert_true(host_log_contains("no GPT signature at LBA 1000"));
	assert_int_equal(t.count, 2);
}

/* ---- MBR in memory ------------------------------------------------------ */

static void mbr_entry(uint8_t *sector, unsigned i, uint8_t type,
		      uint32_t start, uint32_t count)
{
	uint8_t *e = sector + 446 + 16 * i;

	e[4] = type;
	put_le32(e + 8, start);
	put_le32(e + 12, count);
	sector[510] = 0x55;
	sector[511] = 0xaa;
}

static void test_mem_mbr(void **state)
{
	struct part_table t;

	/* Past the end, overflowing, fine, and an EBR chain that links to
	 * itself (walk must stop). */
	mbr_entry(mem_disk, 0, 0x83, 2000, 100);
	mbr_entry(mem_disk, 1, 0x0c, 0xffffff00, 0x200);
	mbr_entry(mem_disk, 2, 0xef, 10, 90);
	mbr_entry(mem_disk, 3, 0x05, 100, 900);
	mbr_entry(mem_disk + 100 * MEM_BS, 0, 0x83, 1, 10);
	mbr_entry(mem_disk + 100 * MEM_BS, 1, 0x05, 0, 10);
	host_log_clear();
	assert_int_equal(mem_read(&t), 0);
	assert_int_equal(t.scheme, PART_SCHEME_MBR);
	assert_int_equal(t.count, 2);
	part_is(&t.parts[0], 3, 10, 90, PART_KIND_ESP);
	part_is(&t.parts[1], 5, 101, 10, PART_KIND_LINUX);
	assert_true(host_log_contains("partition 1 LBAs 2000+100 outside 1..2048"));
	assert_true(host_log_contains("outside or backwards"));
}

static void test_mem_mbr_bad_boot_flag(void **state)
{
	struct part_table t;

	mbr_entry(mem_disk, 0, 0x83, 10, 100);
	mem_disk[446] = 0x12; /* not 0x00 or 0x80: not an MBR */
	assert_int_equal(mem_read(&t), 0);
	assert_int_equal(t.scheme, PART_SCHEME_NONE);
}

static int setup_zero(void **state)
{
	mem_disk = calloc(MEM_BLOCKS, MEM_BS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_gpt512),
		cmocka_unit_test(test_gpt512_mount),
		cmocka_unit_test(test_gpt_bad_primary_header),
		cmocka_unit_test(test_gpt_bad_primary_array),
		cmocka_unit_test(test_gpt_bad_both),
		cmocka_unit_test(test_gpt_bad_backup_only),
		cmocka_unit_test(test_gpt4k),
		cmocka_unit_test(test_gpt4k_bad_header),
		cmocka_unit_test(test_gpt4k_as_512),
		cmocka_unit_test(test_mbr),
		cmocka_unit_test(test_no_table),
		cmocka_unit_test(test_part_open_range),
		cmocka_unit_test_setup_teardown(test_mem_gpt_backup_entries_differ,
						setup_mem_gpt, teardown_mem_gpt),
		cmocka_unit_test_setup_teardown(test_mem_gpt_good, setup_mem_gpt,
						teardown_mem_gpt),
		cmocka_unit_test_setup_teardown(test_mem_pmbr, setup_mem_gpt,
						teardown_mem_gpt),
		cmocka_unit_test(test_mem_gpt_fields),
		cmocka_unit_test_setup_teardown(test_mem_gpt_signature,
						setup_mem_gpt, teardown_mem_gpt),
		cmocka_unit_test_setup_teardown(test_mem_gpt_bad_entry,
						setup_mem_gpt, teardown_mem_gpt),
		cmocka_unit_test_setup_teardown(test_mem_gpt_many, setup_mem_gpt,
						teardown_mem_gpt),
		cmocka_unit_test_setup_teardown(test_mem_gpt_alternate,
						setup_mem_gpt, teardown_mem_gpt),
		cmocka_unit_test_setup_teardown(test_mem_mbr, setup_zero,
						teardown_mem_gpt),
		cmocka_unit_test_setup_teardown(test_mem_mbr_bad_boot_flag,
						setup_zero, teardown_mem_gpt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
