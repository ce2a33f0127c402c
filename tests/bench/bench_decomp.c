/* SPDX-License-Identifier: MIT */
/*
 * Host throughput of the decompressors (`make bench-decomp`): each stream
 * of the manifest named on the command line is decompressed again and again
 * for about half a second of this process's CPU time; the figures are
 * output megabytes (10^6) per CPU second, over the fastest run and over
 * all of them. CPU time, not wall time: the machine is shared, and time
 * spent waiting for a core is other people's work.
 *   bench_decomp IMAGES_DIR/decomp NAME...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/err.h"
#include "lib/inflate.h"
#if __has_include("lib/zstd.h")
#include "lib/zstd.h"
#endif
#if __has_include("lib/lzo.h")
#include "lib/lzo.h"
#endif

typedef int (*decomp_fn)(const void *src, size_t src_len, void *dst, size_t dst_cap,
			 size_t *ret_len);

static decomp_fn codec_fn(const char *name)
{
	size_t n = strlen(name);

	if (n > 5 && !strcmp(name + n - 5, ".zlib"))
		return vq_inflate_zlib;
	if (n > 8 && !strcmp(name + n - 8, ".deflate"))
		return vq_inflate_raw;
#ifdef VQ_ZSTD_H
	if (n > 4 && !strcmp(name + n - 4, ".zst"))
		return vq_zstd_decompress;
#endif
#ifdef VQ_LZO_H
	if (n > 4 && !strcmp(name + n - 4, ".lzo"))
		return vq_lzo1x_decompress;
#endif
	return NULL;
}

static void *slurp(const char *dir, const char *name, size_t *ret_size)
{
	char path[4096];
	FILE *f;
	void *buf;
	long size;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc((size_t)size + 1)) || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "bench_decomp: cannot read %s\n", path);
		exit(1);
	}
	fclose(f);
	*ret_size = (size_t)size;
	return buf;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_decomp DIR STREAM...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		decomp_fn fn = codec_fn(argv[i]);
		size_t clen, len, cap = 64u << 20;
		void *comp = slurp(argv[1], argv[i], &clen);
		void *out = malloc(cap);
		double t0, t, best = 1e9;
		long reps = 0;
		int r = 0;

		if (!fn || !out) {
			fprintf(stderr, "bench_decomp: %s: no decompressor\n", argv[i]);
			return 1;
		}
		t0 = now();
		do {
			double t1 = now();

			r = fn(comp, clen, out, cap, &len);
			reps++;
			t = now();
			if (t - t1 < best)
				best = t - t1;
			t -= t0;
		} while (r == 0 && t < 0.5);
		if (r) {
			fprintf(stderr, "bench_decomp: %s: %s\n", argv[i], vq_strerror(r));
			return 1;
		}
		printf("%-24s %8zu -> %8zu bytes  best %7.1f MB/s, mean %7.1f MB/s (CPU time)\n",
		       argv[i], clen, len, (double)len / best / 1e6,
		       (double)len * (double)reps / t / 1e6);
		free(comp);
		free(out);
	}
	return 0;
}
