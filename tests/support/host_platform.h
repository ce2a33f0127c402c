/* SPDX-License-Identifier: MIT */
/* Host implementation of the plat_* services, with a controllable clock. */
#ifndef VQ_HOST_PLATFORM_H
#define VQ_HOST_PLATFORM_H

#include <stdint.h>
#include <stddef.h>

/* The clock is fake: it starts at 0 and moves only when told. With
 * auto-advance set, every plat_now_us() call adds that many microseconds, so
 * polling loops with deadlines end. plat_delay_us advances it too. */
void host_clock_advance(uint64_t us);
void host_clock_set_auto_advance(uint64_t us_per_call);
uint64_t host_clock_now(void);
/* Called on every plat_now_us(), after the auto-advance, with the time it is
 * about to return (NULL: none): a test's device may act "while the driver
 * reads the clock", or the clock may jump as if the VM had been frozen. */
void host_clock_on_read(void (*fn)(void *ctx, uint64_t now), void *ctx);

/* The last log lines, for tests that assert on messages. */
const char *host_log_last(void);
int host_log_contains(const char *needle);
void host_log_clear(void);
/* Print log lines to stderr as well (default: only with VQ_TEST_VERBOSE). */
void host_log_echo(int on);

/* Memory a device that would not stop may still write: a plat_free of a
 * block holding any watched byte is counted and not done (the test goes on
 * and asserts the count is 0). Up to 64 ranges; clear drops them all. */
void host_free_watch(const void *p, size_t len);
unsigned host_free_watch_hits(void);
void host_free_watch_clear(void);

#endif
