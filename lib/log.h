/* SPDX-License-Identifier: MIT */
/*
 * Logging for the EFI-free layers. Messages name the thing and the value:
 * "vblk 00:03.0: sector 12 beyond capacity 8192".
 */
#ifndef VQ_LOG_H
#define VQ_LOG_H

#include "lib/compat.h"
#include "lib/err.h"

enum log_level {
	LOG_ERR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

/** Messages above this level are dropped (default LOG_INFO). */
extern int log_max_level;

void log_msg(int level, const char *fmt, ...) VQ_PRINTF(2, 3);

/**
 * The text of the last error-level message (also when nothing was written
 * out), "" before the first: for a menu line that has to say why.
 */
const char *log_last_error(void);

/** Log at error level and return @err (a negative VQ_E* value). */
int log_err(int err, const char *fmt, ...) VQ_PRINTF(2, 3);

/* Static analysis only (make lint): the analyzer cannot see into log.c, so
 * without this every `return log_err(-VQ_E..., ...)` looks to it like a
 * possible success and it walks on into paths that cannot happen. */
#ifdef __clang_analyzer__
#define log_err(err, ...) \
	({ int log_err_ret_ = (err); log_err(log_err_ret_, __VA_ARGS__); log_err_ret_; })
#endif

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
