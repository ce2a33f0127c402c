/* SPDX-License-Identifier: MIT */
/*
 * vqboot's own load options, already converted from UTF-16 by the EFI
 * layer: a shell-like command line. The first word is skipped when it does
 * not start with '-' (the UEFI shell passes the program name first; a boot
 * entry's optional data usually does not).
 *
 *   --entry ID  --entry=ID     boot this entry id (no menu countdown)
 *   --timeout N --timeout=N    menu timeout in seconds, 0..3600
 *   --append TEXT              added to the kernel command line (repeatable)
 *   --io-timeout MS            deadline of one disk request, 1..600000 ms
 *   --verbose --bounce --no-gpu --help
 *
 * Words may be quoted with "..." or '...'; inside "...", \" and \\ escape.
 */
#ifndef VQ_OPTS_H
#define VQ_OPTS_H

#include "lib/compat.h"

#define OPTS_ENTRY_MAX 128
#define OPTS_APPEND_MAX 1024
#define OPTS_TIMEOUT_MAX 3600
#define OPTS_IO_TIMEOUT_MAX 600000
#define OPTS_CMDLINE_MAX 4096 /* longer load options are refused */

struct vq_opts {
	char entry[OPTS_ENTRY_MAX];   /* "" when not given */
	int timeout_s;                /* valid when timeout_set */
	bool timeout_set;
	char append[OPTS_APPEND_MAX]; /* every --append, space-joined */
	uint32_t io_timeout_ms;       /* 0: the disk driver's default */
	bool verbose;
	bool bounce;                  /* force bounce buffers for DMA */
	bool no_gpu;
	bool help;
};

/**
 * Parse @cmdline (NUL-terminated; NULL or "" gives the defaults).
 * Returns 0, or -VQ_EINVAL naming the unknown option, the missing or bad
 * value, or the unclosed quote; -VQ_E2BIG when a value or the line is
 * longer than its bound.
 */
int opts_parse(const char *cmdline, struct vq_opts *ret);

/** The --help text, lines separated by '\n'. */
const char *opts_help_text(void);

#endif
