/* SPDX-License-Identifier: MIT */
/*
 * The CPU's free-running counter, for the platform clock (efi/platform.c):
 * the TSC on x86-64, the generic timer's virtual count on AArch64.
 */
#ifndef VQ_EFI_CPU_H
#define VQ_EFI_CPU_H

#include <stdint.h>

#if defined(__x86_64__)
static inline uint64_t cpu_counter(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* The TSC's rate is not architectural: 0 asks the caller to measure it. */
static inline uint64_t cpu_counter_hz(void)
{
	return 0;
}

static inline void cpu_relax(void)
{
	__asm__ __volatile__("pause");
}
#elif defined(__aarch64__)
/* Arm ARM D11.2: CNTVCT_EL0 counts at CNTFRQ_EL0, which the firmware set;
 * the ISB keeps the read from being taken early, before the code it times. */
static inline uint64_t cpu_counter(void)
{
	uint64_t v;

	__asm__ __volatile__("isb; mrs %0, cntvct_el0" : "=r"(v) :: "memory");
	return v;
}

static inline uint64_t cpu_counter_hz(void)
{
	uint64_t v;

	__asm__ __volatile__("mrs %0, cntfrq_el0" : "=r"(v));
	return v;
}

static inline void cpu_relax(void)
{
	__asm__ __volatile__("yield");
}
#else
#error "vqboot: no CPU counter for this architecture"
#endif

#endif
