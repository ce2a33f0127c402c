/* SPDX-License-Identifier: MIT */
/*
 * The one place that knows whether we are compiled for the host (unit tests,
 * fuzzers) or for UEFI. Every EFI-free source includes this and nothing
 * else from the C library.
 */
#ifndef VQ_COMPAT_H
#define VQ_COMPAT_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdarg.h>

#ifdef VQ_EFI
/* gnu-efi's libefi provides memcpy and memset for compiler-generated calls;
 * the rest are ours (boot/util.c). */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
#define VQ_HOST 0
#else
#include <string.h>
#define VQ_HOST 1
#endif

/* The machine vqboot runs on: UEFI's short name for it (BOOTX64.EFI,
 * BOOTAA64.EFI; the Boot Loader Specification's `architecture` values) and
 * its PE/COFF machine type. Host builds describe the host. */
#if defined(__aarch64__)
#define VQ_ARCH_NAME "aa64"
#define VQ_ARCH_PE_MACHINE 0xAA64
#elif defined(__x86_64__)
#define VQ_ARCH_NAME "x64"
#define VQ_ARCH_PE_MACHINE 0x8664
#else
#error "vqboot: builds for x86-64 and AArch64 only"
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define VQ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VQ_MAX(a, b) ((a) > (b) ? (a) : (b))
#define VQ_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define VQ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define VQ_UNUSED __attribute__((unused))

/* Little-endian accessors for on-disk and on-wire fields that may be
 * unaligned. Both our targets are little-endian; the memcpy keeps UBSan
 * quiet about alignment and compiles to a plain load. */
static inline uint16_t get_le16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t get_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t get_le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void put_le16(void *p, uint16_t v) { memcpy(p, &v, sizeof(v)); }
static inline void put_le32(void *p, uint32_t v) { memcpy(p, &v, sizeof(v)); }
static inline void put_le64(void *p, uint64_t v) { memcpy(p, &v, sizeof(v)); }

#endif
