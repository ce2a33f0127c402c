/* SPDX-License-Identifier: MIT */
/* vqdiag's reports. Each prints text, or one JSON document between the
 * VQDIAG_JSON_BEGIN/END marker lines when @json is set. */
#ifndef VQ_DIAG_H
#define VQ_DIAG_H

#include "efi/vqefi.h"
#include "lib/json.h"

#define VQDIAG_JSON_BEGIN "=== vqdiag json begin ==="
#define VQDIAG_JSON_END "=== vqdiag json end ==="

/** Output of one report: text lines or a JSON document. */
struct diag_out {
	bool json;
	struct json j;
};

void diag_out_begin(struct diag_out *o, bool json, const char *command);
void diag_out_end(struct diag_out *o);

#define DIAG_MAX_ARGS 16

/** What follows the command word: other words and --options, in order. */
struct diag_params {
	const char *argv[DIAG_MAX_ARGS];
	unsigned argc;
};

struct diag_command {
	const char *name;
	EFI_STATUS (*run)(struct diag_out *o, const struct diag_params *p);
};

/**
 * "--NAME=N" among @p's words: 1 when found (*@ret set), 0 when absent,
 * a negative VQ_E* after logging when the value is not a number up to @max.
 */
int diag_param_u64(const struct diag_params *p, const char *name, uint64_t max,
		   uint64_t *ret);

/** Every virtio-pci device: transport, features, queues, config. */
EFI_STATUS diag_list(struct diag_out *o, const struct diag_params *p);

/** Each virtio disk read through the firmware and through vqboot, compared. */
EFI_STATUS diag_blk(struct diag_out *o, const struct diag_params *p);

/** Firmware versus vqboot disk throughput on the first virtio disk. */
EFI_STATUS diag_bench(struct diag_out *o, const struct diag_params *p);

/** The first virtio-gpu: firmware GOP vs vqboot timings, scanouts, test pattern. */
EFI_STATUS diag_gpu(struct diag_out *o, const struct diag_params *p);

#endif
