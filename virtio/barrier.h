/* SPDX-License-Identifier: MIT */
/*
 * Memory barriers for the split ring (virtio 1.2 §2.7.13).
 *
 * The device is another observer of normal cacheable memory, so SMP-style
 * barriers are enough (like Linux's virt_*mb()):
 *   vq_wmb  - order our ring writes before the index that publishes them;
 *   vq_rmb  - order reading used->idx before reading the used elements;
 *   vq_mb   - order a store before a later load (publishing avail->idx and
 *             then reading used->flags or avail_event).
 * On x86-64 (TSO) only store->load can be reordered, so wmb/rmb are compiler
 * barriers and mb needs a fence. AArch64 is weakly ordered: DMB ISHST orders
 * stores, DMB ISHLD orders a load before later loads and stores (the
 * device's threads are in the inner shareable domain). vq_mb comes between
 * publishing and the kick, a Device-memory write through the firmware's
 * PciIo, so it is DMB OSH: outer shareable covers that write too (Linux
 * orders ring stores before writel() with DMB OSHST). 32-bit x86 is not a
 * target: it gets no barriers and does not build.
 */
#ifndef VQ_BARRIER_H
#define VQ_BARRIER_H

#include <stdint.h>

#define vq_compiler_barrier() __asm__ __volatile__("" ::: "memory")

#if defined(__x86_64__)
#define vq_wmb() vq_compiler_barrier()
#define vq_rmb() vq_compiler_barrier()
/* MFENCE, not the cheaper locked add to the stack: QEMU's TCG before 8.1
 * drops barriers for a single vCPU and emulates a locked add without one,
 * and here the cost of a fence per kick does not matter. */
#define vq_mb() __asm__ __volatile__("mfence" ::: "memory")
#elif defined(__aarch64__)
#define vq_wmb() __asm__ __volatile__("dmb ishst" ::: "memory")
#define vq_rmb() __asm__ __volatile__("dmb ishld" ::: "memory")
#define vq_mb() __asm__ __volatile__("dmb osh" ::: "memory")
#else
#error "vqboot: no memory barriers for this architecture"
#endif

/* Shared ring fields are read and written exactly once per access. */
static inline uint16_t vq_read16(const volatile void *p)
{
	return *(const volatile uint16_t *)p;
}

static inline void vq_write16(volatile void *p, uint16_t v)
{
	*(volatile uint16_t *)p = v;
}

#endif
