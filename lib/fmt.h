/* SPDX-License-Identifier: MIT */
/* The formatter every log line and console line goes through. */
#ifndef VQ_FMT_H
#define VQ_FMT_H

#include "lib/compat.h"

/*
 * A small vsnprintf: %d %i %u %x %X %c %s %p %% with the l, ll, z and h
 * length modifiers, '-', '0' flags and a field width. Always NUL-terminates
 * when @size > 0; returns the length the full output would have had.
 */
int vq_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int vq_snprintf(char *buf, size_t size, const char *fmt, ...) VQ_PRINTF(3, 4);

#endif
