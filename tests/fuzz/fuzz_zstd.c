/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for lib/zstd.c: the input is a stream of zstd and
 * skippable frames. Besides crashes and sanitizer reports, it aborts on a
 * return value outside the documented set, on a length beyond the buffer,
 * and when a stream that decoded into 64 KiB is not refused with
 * -VQ_ENOSPC in one byte less.
 * Seeds: the streams of tests/unit/images/mk_decomp.sh (tests/fuzz/seeds.sh).
 * Run: build/fuzz/fuzz_zstd -max_len=4096 build/fuzz/seeds/fuzz_zstd
 */
#include <stdint.h>
#include <stdlib.h>

#include "lib/err.h"
#include "lib/zstd.h"

#define CAP (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = malloc(CAP);
	size_t len = 0, len2 = 0;
	int r;

	if (!out)
		return 0;
	r = vq_zstd_decompress(data, size, out, CAP, &len);
	if (r != 0 && r != -VQ_ECORRUPT && r != -VQ_ENOSPC && r != -VQ_ENOTSUP)
		abort();
	if (r == 0 && len > CAP)
		abort();
	if (r == 0 && len > 0 && (size & 1) &&
	    vq_zstd_decompress(data, size, out, len - 1, &len2) != -VQ_ENOSPC)
		abort();
	free(out);
	return 0;
}
