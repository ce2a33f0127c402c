/* SPDX-License-Identifier: MIT */
/* The platform services (lib/plat.h) on UEFI: the CPU counter as clock
 * (efi/cpu.h), pool memory, console logging. */
#include "efi/cpu.h"
#include "efi/vqefi.h"
#include "lib/log.h"
#include "lib/plat.h"

EFI_HANDLE efi_image;
void (*efi_log_hook)(int level, const char *line);

static uint64_t tsc_per_us = 1000;
static const char *clock_name = "TSC, not calibrated";

/* The firmware's Stall is accurate but coarse to call in a loop; the TSC is
 * cheap. Measure one against the other over 1 ms: the firmware's timer
 * (OVMF: the ACPI PM timer, 3.58 MHz) resolves a millisecond to better than
 * 0.1%. The Stall only times its own loop, though: whatever the counter
 * also sees (the call, the return, under TCG the first translation of the
 * firmware's timer code, on a loaded host the vCPU thread descheduled
 * there) can only make a round too long, and a 4 ms round once made every
 * deadline and boot time four times too short. So the code is run once
 * before, and the shortest of three rounds counts (some 4 ms per boot).
 * AArch64's generic timer states its rate (CNTFRQ_EL0): nothing to
 * measure there. */
#define CALIBRATE_US 1000
#define CALIBRATE_ROUNDS 3

static void calibrate_tsc(void)
{
	uint64_t hz = cpu_counter_hz(), best = UINT64_MAX;

	if (hz >= 1000000) {
		tsc_per_us = hz / 1000000;
		clock_name = "generic timer, at the rate CNTFRQ_EL0 states";
		return;
	}
	BS->Stall(10);
	for (int i = 0; i < CALIBRATE_ROUNDS; i++) {
		uint64_t t0 = cpu_counter();

		BS->Stall(CALIBRATE_US);
		uint64_t ticks = cpu_counter() - t0;
		if (ticks < best)
			best = ticks;
	}
	if (best >= CALIBRATE_US && best != UINT64_MAX) {
		tsc_per_us = best / CALIBRATE_US;
		clock_name = "TSC, calibrated against the firmware's Stall";
	}
}

const char *efi_clock_name(void)
{
	return clock_name;
}

uint64_t efi_tsc_per_us(void)
{
	return tsc_per_us;
}

uint64_t efi_counter(void)
{
	return cpu_counter();
}

uint64_t efi_counter_to_us(uint64_t ticks)
{
	return ticks / tsc_per_us;
}

static uint64_t efi_now_us(void)
{
	return efi_counter_to_us(efi_counter());
}

static void efi_delay_us(uint32_t us)
{
	uint64_t end = cpu_counter() + (uint64_t)us * tsc_per_us;

	while (cpu_counter() < end)
		cpu_relax();
}

static void *efi_alloc(size_t size)
{
	void *p = NULL;

	if (BS->AllocatePool(EfiLoaderData, size ? size : 1, &p) != EFI_SUCCESS)
		return NULL;
	memset(p, 0, size);
	return p;
}

static void efi_free(void *p)
{
	if (p)
		BS->FreePool(p);
}

static void efi_log_write(int level, const char *line)
{
	static const char *const prefix[] = { "error: ", "warning: ", "", "debug: " };

	con_printf("%s%s\n", level >= 0 && level <= LOG_DEBUG ? prefix[level] : "",
		   line);
	if (efi_log_hook)
		efi_log_hook(level, line);
}

/* The firmware's CopyMem copies words (OVMF: rep movs); libefi's memcpy
 * copies bytes, five times slower under TCG for a large initrd. */
static void efi_copy(void *dst, const void *src, size_t n)
{
	BS->CopyMem(dst, (void *)src, n);
}

static const struct plat_ops efi_plat_ops = {
	.now_us = efi_now_us,
	.delay_us = efi_delay_us,
	.alloc = efi_alloc,
	.free = efi_free,
	.log_write = efi_log_write,
	.copy = efi_copy,
};

void efi_platform_init(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
	InitializeLib(image, st);
	efi_image = image;
	plat_set_ops(&efi_plat_ops);
	/* We poll our own deadlines; the firmware's 5-minute one would reset
	 * the machine under a long interactive menu. */
	BS->SetWatchdogTimer(0, 0, 0, NULL);
	calibrate_tsc();
}
