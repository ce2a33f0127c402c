/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the initrd's LoadFile2 answer (boot/initrd.c), the
 * logic under efi/image.c's protocol. The input:
 *
 *   byte 0       number of calls (1..16)
 *   then per call 4 bytes: le16 *BufferSize as passed (low 13 bits) (the buffer really
 *                has that many bytes), a flags byte (bit 0: Buffer NULL,
 *                bit 1: BootPolicy TRUE, bit 2: BufferSize NULL, bit 4:
 *                through a reading source as from the disk, bit 5: whose
 *                read fails) and a byte added to the size when bit 3 is set
 *                (a stale value)
 *   the rest     the initrd
 *
 * Every answer is checked against UEFI's LoadFile2 and what the Linux stub
 * expects: NULL Buffer or too small gives -VQ_ENOSPC and the initrd's size
 * with the buffer untouched; enough room gives 0, the bytes and the size,
 * and nothing written past the initrd; BootPolicy is refused, a NULL
 * BufferSize is invalid. A reading source is read once exactly when the
 * bytes are due, and its failure comes back with the size. Any other
 * answer aborts.
 *
 * Run: build/fuzz/fuzz_lf2 -max_len=4096 build/fuzz/seeds/fuzz_lf2
 * fuzz-options: -max_len=4096
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/initrd.h"
#include "lib/err.h"

#define FUZZ_CALL 4
#define FUZZ_CANARY 0x3c

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_src {
	const uint8_t *data;
	unsigned reads;
	bool fail;
};

static int fuzz_read(void *ctx, void *buf, size_t size)
{
	struct fuzz_src *f = ctx;

	f->reads++;
	if (f->fail) {
		memset(buf, 0, size / 2); /* a read that stopped half way */
		return -VQ_EIO;
	}
	memcpy(buf, f->data, size);
	return 0;
}

static void one_call(const uint8_t *initrd, size_t len, const uint8_t *c)
{
	uint8_t flags = c[2];
	/* Sizes up to 8 KiB: the initrd is at most -max_len bytes. */
	size_t passed = (size_t)((c[0] | c[1] << 8) & 0x1fff) + (flags & 8 ? c[3] : 0);
	size_t n = passed;
	uint8_t *buf = malloc(passed + 1);
	bool null_buf = flags & 1, policy = flags & 2, null_size = flags & 4;
	bool written = false;
	int r;

	if (!buf)
		abort();
	bool from_src = flags & 16, fail = from_src && (flags & 32);
	struct fuzz_src fs = { initrd, 0, fail };
	struct initrd_src src = { len, fuzz_read, &fs };
	bool due = !null_size && !policy && !null_buf && passed >= len && len;

	memset(buf, FUZZ_CANARY, passed + 1);
	if (from_src)
		r = initrd_lf2_read(&src, policy, null_size ? NULL : &n,
				    null_buf ? NULL : buf);
	else
		r = initrd_lf2_load(initrd, len, policy, null_size ? NULL : &n,
				    null_buf ? NULL : buf);
	if (from_src && fs.reads != (due ? 1u : 0u))
		abort();
	if (fail && due) {
		if (r != -VQ_EIO || n != len)
			abort();
		written = true; /* part of it, within the initrd's length */
	} else if (null_size) {
		if (r != -VQ_EINVAL)
			abort();
	} else if (policy) {
		if (r != -VQ_ENOTSUP || n != passed)
			abort();
	} else if (null_buf || passed < len) {
		if (r != -VQ_ENOSPC || n != len)
			abort();
	} else {
		if (r != 0 || n != len || memcmp(buf, initrd, len))
			abort();
		written = true;
	}
	/* Nothing past the initrd, and nothing at all unless it fitted. */
	for (size_t i = written ? len : 0; i <= passed; i++)
		if (buf[i] != FUZZ_CANARY)
			abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned calls;
	size_t head;

	if (size < 1)
		return 0;
	calls = data[0] % 16 + 1;
	head = 1 + (size_t)calls * FUZZ_CALL;
	if (size < head)
		return 0;
	for (unsigned i = 0; i < calls; i++)
		one_call(data + head, size - head, data + 1 + i * FUZZ_CALL);
	return 0;
}
