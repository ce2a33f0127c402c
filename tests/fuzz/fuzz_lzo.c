/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for lib/lzo.c: the input is one LZO1X stream (either
 * bitstream version). Besides crashes and sanitizer reports, it aborts on a
 * return value outside the documented set, on a length beyond the buffer,
 * and when a stream that decoded into 64 KiB is not refused with
 * -VQ_ENOSPC in one byte less.
 * Seeds: the streams of tests/unit/images/mk_decomp.sh (tests/fuzz/seeds.sh).
 * Run: build/fuzz/fuzz_lzo -max_len=4096 build/fuzz/seeds/fuzz_lzo
 */
#include <stdint.h>
#include <stdlib.h>

#include "lib/err.h"
#include "lib/lzo.h"

#define CAP (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = malloc(CAP);
	size_t len = 0, len2 = 0;
	int r;

	if (!out)
		return 0;
	r = vq_lzo1x_decompress(data, size, out, CAP, &len);
	if (r != 0 && r != -VQ_ECORRUPT && r != -VQ_ENOSPC && r != -VQ_ENOTSUP)
		abort();
	if (r == 0 && len > CAP)
		abort();
	if (r == 0 && len > 0 && (size & 1) &&
	    vq_lzo1x_decompress(data, size, out, len - 1, &len2) != -VQ_ENOSPC)
		abort();
	free(out);
	return 0;
}
