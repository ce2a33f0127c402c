/* SPDX-License-Identifier: MIT */
/*
 * A virtio-scsi controller (virtio 1.2 §5.6) behind the fake virtio-pci
 * function, for host tests and the fuzzer: targets with LUNs (disks over
 * in-memory data, or other peripheral types), answering TEST UNIT READY,
 * INQUIRY, REPORT LUNS, READ CAPACITY(10)/(16) and READ(10)/(16) the way a
 * SCSI target does (BAD_TARGET for absent targets, ILLEGAL REQUEST for
 * absent LUNs and unknown opcodes, autosense in fixed or descriptor
 * format), with knobs to misbehave: UNIT ATTENTION first, NOT READY for a
 * while, MEDIUM ERROR at an LBA, short transfers, and hostile lengths
 * (resid beyond the transfer, sense_len beyond sense_size, a short used
 * length, any response code or status).
 *
 * Every command's opcode is recorded in order (ops_stream) so that tests can
 * assert what the driver sent; a command with a device-readable data buffer
 * (data-out) or an opcode the model does not know is counted as well.
 * Malformed chains are protocol violations (fake_pci_fail).
 */
#ifndef VQ_FAKE_SCSI_H
#define VQ_FAKE_SCSI_H

#include "tests/support/fake_pci.h"

#define FAKE_SCSI_LUNS 16
#define FAKE_SCSI_STREAM 4096
#define FAKE_SCSI_HELD 512

struct fake_scsi_lun {
	uint16_t target, lun;
	uint8_t type;               /* peripheral device type; 0 disk */
	uint32_t block_size;
	uint64_t blocks;
	uint8_t *data;              /* blocks * block_size bytes; NULL for LUNs
				     * over 64 MiB: reads make the pattern */
	char vendor[9], product[17], revision[5];

	unsigned unit_attention;    /* the next N commands (not INQUIRY or
				     * REPORT LUNS) get UNIT ATTENTION 29/00 */
	unsigned not_ready;         /* the next N TURs: NOT READY 04/01 */
	bool no_medium;             /* TUR: NOT READY 3A/00 */
	bool no_rc16;               /* READ CAPACITY(16): ILLEGAL REQUEST */
	bool descriptor_sense;      /* sense in descriptor format (0x72) */
	uint64_t medium_error_lba;  /* a READ covering it: MEDIUM ERROR 11/00,
				     * INFORMATION = this LBA; ~0: none */
	uint8_t phys_exp;
};

struct fake_scsi {
	struct fake_pci *fp;
	struct fake_scsi_lun luns[FAKE_SCSI_LUNS];
	unsigned nluns;
	bool no_report_luns;        /* REPORT LUNS: ILLEGAL REQUEST */
	bool lazy;                  /* LUNs added keep no data: reads make the
				     * pattern (fast fuzzing) */

	/* misbehaviour on READ(10)/(16) */
	uint32_t short_by;          /* transfer this much less, resid says so */
	uint32_t resid_over;        /* resid = buffer + this (a lie) */
	uint32_t sense_len_over;    /* sense_len = sense_size + this on errors */
	uint32_t used_short;        /* used len this much below the truth */
	int response;               /* >= 0: answer READs with this response */
	int status;                 /* >= 0: answer READs with this status */
	unsigned busy_reads;        /* the next N READs: status BUSY */
	bool misbehave_all;         /* ... on every command, the scan's too */
	/* misbehaviour on every command */
	bool never_complete;
	bool reverse;
	unsigned delay_polls;
	bool bad_id;
	bool all_bad_target;        /* BAD_TARGET for everything */

	/* observations */
	unsigned commands;
	uint8_t ops_stream[FAKE_SCSI_STREAM];
	unsigned nstream;
	unsigned op_count[256];
	unsigned data_out;          /* commands with device-readable data */
	unsigned unknown_ops;       /* opcodes the model does not implement */
	unsigned bad_lun_format;
	unsigned beyond_capacity;
	unsigned max_held;
	uint64_t read_bytes;

	unsigned nheld;
	unsigned polls_left;
	struct { uint16_t head; uint32_t len; } held[FAKE_SCSI_HELD];
	struct ring_sim_chain *chain;
};

/** Make @fp a virtio-scsi controller (3 queues, QEMU's default config). */
struct fake_scsi *fake_scsi_attach(struct fake_pci *fp);
void fake_scsi_detach(struct fake_scsi *fs);

/** Add a LUN of @type; disks get @blocks of @block_size patterned data. */
struct fake_scsi_lun *fake_scsi_add(struct fake_scsi *fs, uint16_t target,
				    uint16_t lun, uint8_t type, uint32_t block_size,
				    uint64_t blocks);

/** The byte the pattern puts at @offset of LUN (@target, @lun). */
uint8_t fake_scsi_pattern(uint16_t target, uint16_t lun, uint64_t offset);

/** Whether @len bytes at byte @off of LUN @l are the pattern. */
bool fake_scsi_check(const struct fake_scsi_lun *l, uint64_t off, const uint8_t *buf,
		     size_t len);

/** Set a config field (virtio_scsi_config offsets, 2 or 4 bytes). */
void fake_scsi_config(struct fake_scsi *fs, unsigned off, uint32_t val, unsigned width);

/** Whether the recorded stream holds only opcodes that read (none written). */
bool fake_scsi_reads_only(const struct fake_scsi *fs);

#endif
