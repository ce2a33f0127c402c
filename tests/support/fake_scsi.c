/* SPDX-License-Identifier: MIT */
/* A fake virtio-scsi controller and its targets; see fake_scsi.h. */
#include <stdlib.h>
#include <string.h>

#include "tests/support/fake_scsi.h"

/* Config offsets (virtio 1.2 §5.6.4), by hand like fake_pci's registers. */
#define CFG_NUM_QUEUES 0
#define CFG_SEG_MAX 4
#define CFG_MAX_SECTORS 8
#define CFG_CMD_PER_LUN 12
#define CFG_EVENT_INFO 16
#define CFG_SENSE_SIZE 20
#define CFG_CDB_SIZE 24
#define CFG_MAX_CHANNEL 28
#define CFG_MAX_TARGET 30
#define CFG_MAX_LUN 32

#define REQ_HDR 19
#define RESP_HDR 12
#define REQUESTQ 2

#define S_OK 0
#define S_OVERRUN 1
#define S_BAD_TARGET 3

#define ST_GOOD 0
#define ST_CHECK 2
#define ST_BUSY 8

#define KEY_NOT_READY 2
#define KEY_MEDIUM_ERROR 3
#define KEY_ILLEGAL 5
#define KEY_UNIT_ATTENTION 6

struct cmd {
	struct fake_scsi *fs;
	const struct ring_sim_chain *c;
	struct fake_scsi_lun *l;        /* NULL: no such LUN on the target */
	uint8_t cdb[32];
	uint64_t data_len;              /* data-in buffer bytes */
	uint32_t sense_size;
	/* the answer */
	uint8_t response, status;
	uint8_t sense[256];
	uint32_t sense_len;
	uint32_t resid;
	uint64_t sent;                  /* data bytes written */
	bool is_read;
};

static uint32_t cfg_rd(const struct fake_pci *fp, unsigned off, unsigned width)
{
	uint32_t v = 0;

	memcpy(&v, fp->devcfg + off, width);
	return v;
}

void fake_scsi_config(struct fake_scsi *fs, unsigned off, uint32_t val, unsigned width)
{
	memcpy(fs->fp->devcfg + off, &val, width);
}

uint8_t fake_scsi_pattern(uint16_t target, uint16_t lun, uint64_t offset)
{
	uint64_t s = offset >> 9;

	return (uint8_t)(s * 151 + (s >> 8) * 13 + (offset & 511) * 5 + target * 41 +
			 lun * 7 + 3);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static void check_condition(struct cmd *k, uint8_t key, uint8_t asc, uint8_t ascq,
			    bool info_valid, uint64_t info)
{
	uint8_t *s = k->sense;

	memset(s, 0, sizeof(k->sense));
	k->status = ST_CHECK;
	if (k->l && k->l->descriptor_sense) {
		s[0] = 0x72;
		s[1] = key;
		s[2] = asc;
		s[3] = ascq;
		s[7] = info_valid ? 12 : 0;
		if (info_valid) {
			s[8] = 0x00;        /* information descriptor */
			s[9] = 0x0A;
			s[10] = 0x80;
			put_be64(s + 12, info);
		}
		k->sense_len = 8 + s[7];
	} else {
		s[0] = (uint8_t)(0x70 | (info_valid ? 0x80 : 0));
		s[2] = key;
		put_be32(s + 3, (uint32_t)info);
		s[7] = 10;
		s[12] = asc;
		s[13] = ascq;
		k->sense_len = 18;
	}
	if (k->sense_len > k->sense_size)
		k->sense_len = k->sense_size;
}

/* Data-in: at most the buffer and @len, after the response area. */
static void send(struct cmd *k, const void *p, uint64_t len)
{
	uint64_t n = len < k->data_len ? len : k->data_len;

	ring_sim_chain_write(k->c, RESP_HDR + k->sense_size, p, (size_t)n);
	k->sent = n;
}

static void do_report_luns(struct cmd *k, uint16_t target)
{
	uint8_t buf[8 + 8 * FAKE_SCSI_LUNS] = { 0 };
	uint32_t n = 0;
	struct fake_scsi *fs = k->fs;

	if (fs->no_report_luns) {
		check_condition(k, KEY_ILLEGAL, 0x20, 0, false, 0);
		return;
	}
	for (unsigned i = 0; i < fs->nluns; i++) {
		uint8_t *e = buf + 8 + 8 * n;
		uint16_t lun = fs->luns[i].lun;

		if (fs->luns[i].target != target)
			continue;
		e[0] = lun < 256 ? 0 : (uint8_t)(0x40 | lun >> 8);
		e[1] = (uint8_t)lun;
		n++;
	}
	put_be32(buf, n * 8);
	send(k, buf, 8 + 8 * n < be32(k->cdb + 6) ? 8 + 8 * n : be32(k->cdb + 6));
}

static void do_inquiry(struct cmd *k)
{
	uint8_t buf[96] = { 0 };
	uint32_t alloc = (uint32_t)k->cdb[3] << 8 | k->cdb[4];

	if (k->cdb[1] & 1) {
		check_condition(k, KEY_ILLEGAL, 0x24, 0, false, 0);
		return;
	}
	if (!k->l) {
		buf[0] = 0x7F;          /* qualifier 3: no device here */
	} else {
		buf[0] = k->l->type;
		buf[2] = 5;
		buf[4] = 91;
		memset(buf + 8, ' ', 28);
		memcpy(buf + 8, k->l->vendor, strlen(k->l->vendor));
		memcpy(buf + 16, k->l->product, strlen(k->l->product));
		memcpy(buf + 32, k->l->revision, strlen(k->l->revision));
	}
	send(k, buf, alloc < sizeof(buf) ? alloc : sizeof(buf));
}

static void do_tur(struct cmd *k)
{
	if (k->l->no_medium)
		check_condition(k, KEY_NOT_READY, 0x3A, 0, false, 0);
	else if (k->l->not_ready) {
		k->l->not_ready--;
		check_condition(k, KEY_NOT_READY, 0x04, 0x01, false, 0);
	}
}

static void do_capacity(struct cmd *k, bool rc16)
{
	uint8_t buf[32] = { 0 };
	uint64_t last = k->l->blocks - 1;

	if (rc16 && k->l->no_rc16) {
		check_condition(k, KEY_ILLEGAL, 0x20, 0, false, 0);
		return;
	}
	if (rc16) {
		put_be64(buf, last);
		put_be32(buf + 8, k->l->block_size);
		buf[13] = k->l->phys_exp;
		send(k, buf, be32(k->cdb + 10) < 32 ? be32(k->cdb + 10) : 32);
		return;
	}
	put_be32(buf, last > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)last);
	put_be32(buf + 4, k->l->block_size);
	send(k, buf, 8);
}

/* Pattern fills and checks run per byte in every fuzzer input: keep the
 * coverage instrumentation out of their loops. */
#if defined(__clang__)
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))
#else
#define NO_COVERAGE
#endif

/* Within a 512-byte sector the pattern is its first byte plus 5 per byte:
 * row b holds the sector that starts at b, so fills and checks go a
 * sector at a time (memcpy, memcmp: one sanitizer check a piece, not one a
 * byte; they took a sixth of each fuzz_vscsi run). */
static uint8_t pattern_rows[256][512];

static const uint8_t *pattern_piece(uint16_t target, uint16_t lun,
				    uint64_t off, uint64_t left, size_t *ret_n)
{
	size_t j = (size_t)(off & 511);
	uint8_t first = (uint8_t)(fake_scsi_pattern(target, lun, off) - 5 * j);

	if (!pattern_rows[1][1])
		for (unsigned b = 0; b < 256; b++)
			for (unsigned i = 0; i < 512; i++)
				pattern_rows[b][i] = (uint8_t)(b + 5 * i);
	*ret_n = (size_t)(left < 512 - j ? left : 512 - j);
	return &pattern_rows[first][j];
}

NO_COVERAGE static void fill_pattern(uint8_t *p, uint16_t target, uint16_t lun,
				     uint64_t off, uint64_t bytes)
{
	for (uint64_t i = 0; i < bytes;) {
		size_t n;
		const uint8_t *src = pattern_piece(target, lun, off + i,
						   bytes - i, &n);

		memcpy(p + i, src, n);
		i += n;
	}
}

NO_COVERAGE bool fake_scsi_check(const struct fake_scsi_lun *l, uint64_t off,
				 const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n;
		const uint8_t *want = pattern_piece(l->target, l->lun, off + i,
						    len - i, &n);

		if (memcmp(buf + i, want, n))
			return false;
		i += n;
	}
	return true;
}

static void do_read(struct cmd *k)
{
	struct fake_scsi *fs = k->fs;
	struct fake_scsi_lun *l = k->l;
	bool r16 = k->cdb[0] == 0x88;
	uint64_t lba = r16 ? (uint64_t)be32(k->cdb + 2) << 32 | be32(k->cdb + 6)
			   : be32(k->cdb + 2);
	uint64_t count = r16 ? be32(k->cdb + 10) : (uint32_t)(k->cdb[7] << 8 | k->cdb[8]);
	uint64_t bytes = count * l->block_size;

	k->is_read = true;
	if (!r16 && k->cdb[0] != 0x28)
		return;
	if (lba > l->blocks || count > l->blocks - lba) {
		fs->beyond_capacity++;
		check_condition(k, KEY_ILLEGAL, 0x21, 0, false, 0);
		return;
	}
	if (bytes > k->data_len) {
		k->response = S_OVERRUN;
		return;
	}
	if (l->medium_error_lba >= lba && l->medium_error_lba < lba + count) {
		check_condition(k, KEY_MEDIUM_ERROR, 0x11, 0, true, l->medium_error_lba);
		return;
	}
	if (fs->busy_reads) {
		fs->busy_reads--;
		k->status = ST_BUSY;
		return;
	}
	if (fs->short_by && bytes > fs->short_by)
		bytes -= fs->short_by;
	if (l->data) {
		send(k, l->data + lba * l->block_size, bytes);
	} else {
		/* A LUN too large to hold: the pattern made on the fly. */
		uint8_t *tmp = malloc(bytes ? bytes : 1);

		if (!tmp)
			abort();
		fill_pattern(tmp, l->target, l->lun, lba * l->block_size, bytes);
		send(k, tmp, bytes);
		free(tmp);
	}
	fs->read_bytes += k->sent;
}

static struct fake_scsi_lun *find_lun(struct fake_scsi *fs, uint16_t target,
				      uint16_t lun, bool *target_exists)
{
	*target_exists = false;
	for (unsigned i = 0; i < fs->nluns; i++) {
		if (fs->luns[i].target != target)
			continue;
		*target_exists = true;
		if (fs->luns[i].lun == lun)
			return &fs->luns[i];
	}
	return NULL;
}

/* SAM-5: INQUIRY and REPORT LUNS are answered whatever the unit attention. */
static bool takes_unit_attention(uint8_t op)
{
	return op != 0x12 && op != 0xA0;
}

static void execute(struct cmd *k, uint16_t target)
{
	uint8_t op = k->cdb[0];

	if (op == 0xA0) {
		do_report_luns(k, target);
		return;
	}
	if (op == 0x12) {
		do_inquiry(k);
		return;
	}
	if (!k->l) {
		check_condition(k, KEY_ILLEGAL, 0x25, 0, false, 0);
		return;
	}
	if (takes_unit_attention(op) && k->l->unit_attention) {
		k->l->unit_attention--;
		check_condition(k, KEY_UNIT_ATTENTION, 0x29, 0, false, 0);
		return;
	}
	switch (op) {
	case 0x00: do_tur(k); break;
	case 0x25: do_capacity(k, false); break;
	case 0x9E:
		if ((k->cdb[1] & 0x1F) == 0x10) {
			do_capacity(k, true);
			break;
		}
		/* fall through */
	default:
		if (op == 0x28 || op == 0x88) {
			do_read(k);
			break;
		}
		k->fs->unknown_ops++;
		check_condition(k, KEY_ILLEGAL, 0x20, 0, false, 0);
	}
}

/* Misbehaviour for READs, applied to the finished answer. */
static void misbehave(struct cmd *k)
{
	struct fake_scsi *fs = k->fs;

	if (!k->is_read && !fs->misbehave_all)
		return;
	if (fs->response >= 0)
		k->response = (uint8_t)fs->response;
	if (fs->status >= 0)
		k->status = (uint8_t)fs->status;
	if (fs->resid_over)
		k->resid = (uint32_t)k->data_len + fs->resid_over;
	if (fs->sense_len_over && k->status == ST_CHECK)
		k->sense_len = k->sense_size + fs->sense_len_over;
}

static void write_response(struct cmd *k)
{
	uint8_t resp[RESP_HDR + 256] = { 0 };
	uint32_t sense_copy = k->sense_len < k->sense_size ? k->sense_len : k->sense_size;

	memcpy(resp, &k->sense_len, 4);
	memcpy(resp + 4, &k->resid, 4);
	resp[10] = k->status;
	resp[11] = k->response;
	memcpy(resp + RESP_HDR, k->sense, sense_copy);
	ring_sim_chain_write(k->c, 0, resp, RESP_HDR + k->sense_size);
}

/* Processes one chain; returns the used length to report. */
static uint32_t scsi_request(struct fake_scsi *fs, const struct ring_sim_chain *c)
{
	struct fake_pci *fp = fs->fp;
	struct cmd k = { .fs = fs, .c = c };
	uint32_t cdb_size = cfg_rd(fp, CFG_CDB_SIZE, 4);
	uint8_t req[REQ_HDR + 256];
	uint16_t target, lun;
	bool target_exists;
	uint64_t used;

	k.sense_size = cfg_rd(fp, CFG_SENSE_SIZE, 4);
	if (cdb_size > 256 || k.sense_size > 256 || c->readable_bytes < REQ_HDR + cdb_size ||
	    c->writable_bytes < RESP_HDR + k.sense_size) {
		fake_pci_fail(fp, "malformed scsi request (%llu readable, %llu writable bytes)",
			      (unsigned long long)c->readable_bytes,
			      (unsigned long long)c->writable_bytes);
		return 0;
	}
	for (unsigned i = 0; i < c->n_segs; i++)
		if (c->seg[i].writable && !fake_pci_dev_writable(fp, c->seg[i].addr, c->seg[i].len))
			fake_pci_fail(fp, "device asked to write a TO_DEVICE buffer");
	if (c->readable_bytes > REQ_HDR + cdb_size)
		fs->data_out++;
	ring_sim_chain_read(c, 0, req, REQ_HDR + cdb_size);
	memcpy(k.cdb, req + REQ_HDR, cdb_size < sizeof(k.cdb) ? cdb_size : sizeof(k.cdb));
	k.data_len = c->writable_bytes - RESP_HDR - k.sense_size;
	fs->commands++;
	fs->op_count[k.cdb[0]]++;
	if (fs->nstream < FAKE_SCSI_STREAM)
		fs->ops_stream[fs->nstream++] = k.cdb[0];
	target = req[1];
	lun = (uint16_t)((req[2] << 8 | req[3]) & 0x3FFF);
	if (req[0] != 1 || (req[2] & 0xC0) != 0x40) {
		fs->bad_lun_format++;
		k.response = S_BAD_TARGET;
	} else {
		k.l = find_lun(fs, target, lun, &target_exists);
		if (!target_exists || fs->all_bad_target)
			k.response = S_BAD_TARGET;
		else
			execute(&k, target);
	}
	if (k.response == S_OK && k.status == ST_GOOD)
		k.resid = (uint32_t)(k.data_len - k.sent);
	else if (k.response == S_OK)
		k.resid = (uint32_t)k.data_len;
	misbehave(&k);
	write_response(&k);
	/* QEMU reports every writable byte posted. */
	used = c->writable_bytes;
	if ((k.is_read || fs->misbehave_all) && fs->used_short)
		used = used > fs->used_short ? used - fs->used_short : 0;
	return (uint32_t)used;
}

static void complete_all(struct fake_scsi *fs)
{
	struct fake_queue *q = &fs->fp->q[REQUESTQ];

	if (fs->bad_id && fs->nheld) {
		ring_sim_push_raw(q->sim, q->size + 5u, 0);
		fs->nheld = 0;
		return;
	}
	for (unsigned i = 0; i < fs->nheld; i++)
		if (ring_sim_push(q->sim, fs->held[i].head, fs->held[i].len))
			fake_pci_fail(fs->fp, "push: %s", q->sim->error);
	if (fs->nheld)
		fs->fp->isr |= 1;
	fs->nheld = 0;
}

static void scsi_notify(struct fake_pci *fp, uint16_t qi)
{
	struct fake_scsi *fs = fp->backend_ctx;
	struct ring_sim *sim = fp->q[qi].sim;
	unsigned first = fs->nheld;
	int r = 0;

	if (qi != REQUESTQ) {
		fake_pci_fail(fp, "scsi notify of queue %u", qi);
		return;
	}
	while (fs->nheld < FAKE_SCSI_HELD && (r = ring_sim_pop(sim, fs->chain)) == 1) {
		uint32_t len = scsi_request(fs, fs->chain);

		fs->held[fs->nheld].head = fs->chain->head;
		fs->held[fs->nheld++].len = len;
	}
	if (r < 0)
		fake_pci_fail(fp, "ring: %s", sim->error);
	if (fs->nheld > fs->max_held)
		fs->max_held = fs->nheld;
	if (fs->reverse)
		for (unsigned a = first, b = fs->nheld; a + 1 < b; a++, b--) {
			__typeof__(fs->held[0]) t = fs->held[a];

			fs->held[a] = fs->held[b - 1];
			fs->held[b - 1] = t;
		}
	if (fs->never_complete)
		return;
	if (fs->delay_polls)
		fs->polls_left = fs->delay_polls;
	else
		complete_all(fs);
}

static void scsi_poll(struct fake_pci *fp)
{
	struct fake_scsi *fs = fp->backend_ctx;

	if (!fs->nheld || fs->never_complete || !fp->q[REQUESTQ].sim)
		return;
	if (fs->polls_left)
		fs->polls_left--;
	else
		complete_all(fs);
}

static void scsi_reset(struct fake_pci *fp)
{
	struct fake_scsi *fs = fp->backend_ctx;

	fs->nheld = 0;
}

static const struct fake_backend scsi_backend = {
	.notify = scsi_notify,
	.reset = scsi_reset,
	.poll = scsi_poll,
};

struct fake_scsi *fake_scsi_attach(struct fake_pci *fp)
{
	struct fake_scsi *fs = calloc(1, sizeof(*fs));

	if (!fs)
		abort();
	fs->fp = fp;
	fs->response = fs->status = -1;
	fs->chain = malloc(sizeof(*fs->chain));
	if (!fs->chain)
		abort();
	fp->num_queues = 3;
	fake_scsi_config(fs, CFG_NUM_QUEUES, 1, 4);
	fake_scsi_config(fs, CFG_SEG_MAX, 254, 4);
	fake_scsi_config(fs, CFG_MAX_SECTORS, 0xFFFF, 4);
	fake_scsi_config(fs, CFG_CMD_PER_LUN, 128, 4);
	fake_scsi_config(fs, CFG_EVENT_INFO, 16, 4);
	fake_scsi_config(fs, CFG_SENSE_SIZE, 96, 4);
	fake_scsi_config(fs, CFG_CDB_SIZE, 32, 4);
	fake_scsi_config(fs, CFG_MAX_CHANNEL, 0, 2);
	fake_scsi_config(fs, CFG_MAX_TARGET, 255, 2);
	fake_scsi_config(fs, CFG_MAX_LUN, 16383, 4);
	fp->backend = &scsi_backend;
	fp->backend_ctx = fs;
	return fs;
}

struct fake_scsi_lun *fake_scsi_add(struct fake_scsi *fs, uint16_t target,
				    uint16_t lun, uint8_t type, uint32_t block_size,
				    uint64_t blocks)
{
	struct fake_scsi_lun *l;
	uint64_t bytes = blocks * block_size;

	if (fs->nluns == FAKE_SCSI_LUNS)
		abort();
	l = &fs->luns[fs->nluns++];
	*l = (struct fake_scsi_lun){ .target = target, .lun = lun, .type = type,
				     .block_size = block_size, .blocks = blocks,
				     .medium_error_lba = ~0ull };
	memcpy(l->vendor, "VQFAKE", 7);
	memcpy(l->product, type ? "FAKE OTHER" : "FAKE DISK", type ? 11 : 10);
	memcpy(l->revision, "1.0", 4);
	if (!type && bytes && bytes <= (64u << 20) && !fs->lazy) {
		l->data = malloc(bytes);
		if (!l->data)
			abort();
		fill_pattern(l->data, target, lun, 0, bytes);
	}
	return l;
}

bool fake_scsi_reads_only(const struct fake_scsi *fs)
{
	static const uint8_t allowed[] = { 0x00, 0x12, 0x25, 0x28, 0x88, 0x9E, 0xA0 };

	if (fs->data_out || fs->unknown_ops)
		return false;
	for (unsigned i = 0; i < fs->nstream; i++)
		if (!memchr(allowed, fs->ops_stream[i], sizeof(allowed)))
			return false;
	return true;
}

void fake_scsi_detach(struct fake_scsi *fs)
{
	if (!fs)
		return;
	fs->fp->backend = NULL;
	for (unsigned i = 0; i < fs->nluns; i++)
		free(fs->luns[i].data);
	free(fs->chain);
	free(fs);
}
