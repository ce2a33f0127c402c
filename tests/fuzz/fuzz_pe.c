/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for boot/pe.c: the input is a kernel image. Besides
 * crashes and sanitizer reports, it aborts when pe_check accepts an image
 * and reports values that contradict its own checks.
 *
 * Build: `make fuzz-build` (build/fuzz/fuzz_pe); run: `make fuzz`.
 * Seeds: the first 64 KiB of a real kernel and of an EFI application, e.g.
 *   mkdir -p build/fuzz/pe_seeds
 *   head -c 65536 cache/kernel/root/boot/vmlinuz-* > build/fuzz/pe_seeds/linux
 *   head -c 65536 build/vqboot.efi > build/fuzz/pe_seeds/vqboot
 * (cut files fail the section checks; full ones reach further but are slow).
 * Run:
 *   build/fuzz/fuzz_pe -max_len=65536 -timeout=10 build/fuzz/pe_seeds
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/pe.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pe_info info;
	int r = pe_check(data, size, "fuzz", &info);

	if (r != 0 && r != -VQ_ECORRUPT && r != -VQ_ENOTSUP)
		abort();
	if (r != 0)
		return 0;
	if (strlen(info.linux_version) >= PE_VERSION_STR_MAX ||
	    (!info.is_pe && !info.is_linux) ||
	    (info.is_pe && (info.machine != PE_MACHINE_NATIVE ||
			    info.subsystem != PE_SUBSYSTEM_EFI_APPLICATION ||
			    info.size_of_image == 0 ||
			    info.entry_point >= info.size_of_image)) ||
	    (info.is_linux && info.cmdline_max == 0) ||
	    (info.supports_initrd_lf2 && !(info.is_pe && info.is_linux)))
		abort();
	return 0;
}
