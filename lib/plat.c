/* SPDX-License-Identifier: MIT */
/* The platform's services, through the table it installed. */
#include "lib/plat.h"

static const struct plat_ops *plat;

void plat_set_ops(const struct plat_ops *ops)
{
	plat = ops;
}

uint64_t plat_now_us(void)
{
	return plat ? plat->now_us() : 0;
}

void plat_delay_us(uint32_t us)
{
	if (plat)
		plat->delay_us(us);
}

void *plat_alloc(size_t size)
{
	return plat ? plat->alloc(size) : NULL;
}

void plat_free(void *p)
{
	if (plat && p)
		plat->free(p);
}

void plat_copy(void *dst, const void *src, size_t n)
{
	if (plat && n)
		plat->copy(dst, src, n);
}

void plat_log_write(int level, const char *line)
{
	if (plat)
		plat->log_write(level, line);
}
