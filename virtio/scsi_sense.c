/* SPDX-License-Identifier: MIT */
/*
 * SCSI sense data in words, for messages: sense keys, the common additional
 * sense codes (SPC-4 Annex D), peripheral device types, and the parser of
 * fixed (0x70/0x71) and descriptor (0x72/0x73) sense data. Every length in
 * a sense buffer is the device's and is bounded by what was received.
 */
#include "virtio/virtio_scsi.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

const char *vscsi_sense_key_name(uint8_t key)
{
	static const char *const names[16] = {
		"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR",
		"HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
		"BLANK CHECK", "VENDOR SPECIFIC", "COPY ABORTED", "ABORTED COMMAND",
		"RESERVED (0xC)", "VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED",
	};

	return names[key & 0xF];
}

static const struct {
	uint8_t asc, ascq;
	const char *what;
} asc_names[] = {
	{ 0x00, 0x00, "no additional sense information" },
	{ 0x00, 0x06, "I/O process terminated" },
	{ 0x04, 0x00, "logical unit not ready, cause not reportable" },
	{ 0x04, 0x01, "logical unit is becoming ready" },
	{ 0x04, 0x02, "logical unit not ready, initializing command required" },
	{ 0x04, 0x03, "logical unit not ready, manual intervention required" },
	{ 0x08, 0x00, "logical unit communication failure" },
	{ 0x0C, 0x00, "write error" },
	{ 0x11, 0x00, "unrecovered read error" },
	{ 0x11, 0x01, "read retries exhausted" },
	{ 0x14, 0x01, "record not found" },
	{ 0x1A, 0x00, "parameter list length error" },
	{ 0x20, 0x00, "invalid command operation code" },
	{ 0x21, 0x00, "logical block address out of range" },
	{ 0x24, 0x00, "invalid field in CDB" },
	{ 0x25, 0x00, "logical unit not supported" },
	{ 0x27, 0x00, "write protected" },
	{ 0x28, 0x00, "not ready to ready change, medium may have changed" },
	{ 0x29, 0x00, "power on, reset, or bus device reset occurred" },
	{ 0x29, 0x01, "power on occurred" },
	{ 0x29, 0x02, "SCSI bus reset occurred" },
	{ 0x2A, 0x01, "mode parameters changed" },
	{ 0x2A, 0x09, "capacity data has changed" },
	{ 0x31, 0x00, "medium format corrupted" },
	{ 0x3A, 0x00, "medium not present" },
	{ 0x3F, 0x0E, "reported LUNs data has changed" },
	{ 0x44, 0x00, "internal target failure" },
	{ 0x47, 0x00, "SCSI parity error" },
};

const char *vscsi_asc_name(uint8_t asc, uint8_t ascq)
{
	for (size_t i = 0; i < ARRAY_SIZE(asc_names); i++)
		if (asc_names[i].asc == asc && asc_names[i].ascq == ascq)
			return asc_names[i].what;
	return NULL;
}

const char *vscsi_type_name(uint8_t type)
{
	switch (type) {
	case 0x00: return "disk";
	case 0x01: return "tape";
	case 0x05: return "CD/DVD";
	case 0x07: return "optical memory";
	case 0x08: return "medium changer";
	case 0x0C: return "storage array controller";
	case 0x0D: return "enclosure";
	case 0x0E: return "simplified direct-access";
	case 0x1F: return "unknown or no device";
	default: return "other";
	}
}

/* Descriptor format: walk the descriptors for the information one (type 0). */
static void parse_descriptors(const uint8_t *s, uint32_t len, struct vscsi_sense *r)
{
	uint32_t end = VQ_MIN(len, 8u + s[7]);

	for (uint32_t at = 8; at + 2 <= end;) {
		uint32_t dlen = 2u + s[at + 1];

		if (dlen > end - at)
			break;
		/* SPC-4 §4.5.2.2: type 0, additional length 0x0A, VALID bit. */
		if (s[at] == 0x00 && dlen >= 12 && (s[at + 2] & 0x80)) {
			r->info_valid = true;
			r->info = be64(s + at + 4);
		}
		at += dlen;
	}
}

void vscsi_parse_sense(const uint8_t *s, uint32_t len, struct vscsi_sense *ret)
{
	struct vscsi_sense r = { 0 };
	uint8_t code = len ? s[0] & 0x7F : 0;

	if ((code == 0x70 || code == 0x71) && len >= 3) {
		r.valid = true;
		r.key = s[2] & 0xF;
		/* ASC and ASCQ only when the device sent that far. */
		if (len >= 14 && 7u + s[7] >= 13) {
			r.asc = s[12];
			r.ascq = s[13];
		}
		if ((s[0] & 0x80) && len >= 7) {
			r.info_valid = true;
			r.info = be32(s + 3);
		}
	} else if ((code == 0x72 || code == 0x73) && len >= 4) {
		r.valid = true;
		r.key = s[1] & 0xF;
		r.asc = s[2];
		r.ascq = s[3];
		if (len >= 8)
			parse_descriptors(s, len, &r);
	}
	*ret = r;
}
