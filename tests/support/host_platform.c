/* SPDX-License-Identifier: MIT */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/compat.h"
#include "tests/support/host_platform.h"
#include "lib/plat.h"

static uint64_t clock_us;
static uint64_t clock_auto;
static void (*clock_hook)(void *ctx, uint64_t now);
static void *clock_hook_ctx;

void host_clock_advance(uint64_t us) { clock_us += us; }
void host_clock_set_auto_advance(uint64_t us_per_call) { clock_auto = us_per_call; }
uint64_t host_clock_now(void) { return clock_us; }

void host_clock_on_read(void (*fn)(void *ctx, uint64_t now), void *ctx)
{
	clock_hook = fn;
	clock_hook_ctx = ctx;
}

static uint64_t host_now_us(void)
{
	clock_us += clock_auto;
	if (clock_hook)
		clock_hook(clock_hook_ctx, clock_us); /* may move the clock */
	return clock_us;
}

static void host_delay_us(uint32_t us)
{
	clock_us += us;
}

static void *host_alloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

#define WATCH_MAX 64
static struct {
	const uint8_t *p;
	size_t len;
} watch[WATCH_MAX];
static unsigned nwatch, watch_hits;

void host_free_watch(const void *p, size_t len)
{
	if (nwatch < WATCH_MAX && len)
		watch[nwatch++] = (typeof(watch[0])){ p, len };
}

unsigned host_free_watch_hits(void) { return watch_hits; }

void host_free_watch_clear(void)
{
	nwatch = 0;
	watch_hits = 0;
}

static void host_free(void *p)
{
	const uint8_t *b = p;
	size_t n = p && nwatch ? malloc_usable_size(p) : 0;

	for (unsigned i = 0; i < nwatch && n; i++) {
		if (watch[i].p < b + n && b < watch[i].p + watch[i].len) {
			fprintf(stderr, "host_platform: plat_free(%p) of %zu bytes would "
				"free a buffer a stuck device may still write\n", p, n);
			watch_hits++;
			return;
		}
	}
	free(p);
}

#define LOG_KEEP 64
static char log_ring[LOG_KEEP][512];
static unsigned log_next;
static int log_echo = -1;

void host_log_echo(int on) { log_echo = on; }

static void host_log_write(int level, const char *line)
{
	if (log_echo < 0)
		log_echo = getenv("VQ_TEST_VERBOSE") != NULL;
	snprintf(log_ring[log_next % LOG_KEEP], sizeof(log_ring[0]), "%s", line);
	log_next++;
	if (log_echo)
		fprintf(stderr, "[log %d] %s\n", level, line);
}

const char *host_log_last(void)
{
	return log_next ? log_ring[(log_next - 1) % LOG_KEEP] : "";
}

int host_log_contains(const char *needle)
{
	unsigned n = log_next < LOG_KEEP ? log_next : LOG_KEEP;

	for (unsigned i = 0; i < n; i++)
		if (strstr(log_ring[(log_next - 1 - i) % LOG_KEEP], needle))
			return 1;
	return 0;
}

void host_log_clear(void)
{
	log_next = 0;
}

static void host_copy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
}

static const struct plat_ops host_plat_ops = {
	.now_us = host_now_us,
	.delay_us = host_delay_us,
	.alloc = host_alloc,
	.free = host_free,
	.log_write = host_log_write,
	.copy = host_copy,
};

/* Installed before main() (and before libFuzzer's first input), so every
 * test and harness has the services without asking for them. */
__attribute__((constructor)) static void host_plat_install(void)
{
	plat_set_ops(&host_plat_ops);
}
