/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for boot/grubenv.c and the expansion of entries in
 * boot/bls.c: the input is a GRUB environment block. Each variable found
 * is expanded back by name and must come out as its value (control bytes
 * as spaces); the input is also expanded as a template, and an entry using
 * the variables is expanded through bls_entry_expand. Aborts when a result
 * breaks its bounds.
 *
 * Build: make fuzz-build (build/fuzz/fuzz_grubenv). Seeds: tests/fuzz/seeds.sh
 * (blocks written by grub-editenv). Run:
 *   build/fuzz/fuzz_grubenv -max_len=8192 build/fuzz/seeds/fuzz_grubenv
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bls.h"
#include "boot/grubenv.h"
#include "lib/err.h"

#define OUT_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expand_back(const struct grubenv *env, unsigned i)
{
	char tmpl[GRUBENV_NAME_MAX + 4], out[OUT_MAX];
	const char *v = env->values[i];
	size_t n = strlen(v);
	int r;

	strcpy(tmpl, "${");
	strcat(tmpl, env->names[i]);
	strcat(tmpl, "}");
	r = grubenv_expand(env, "fuzz", tmpl, out, sizeof(out));
	if (r != 0 && r != -VQ_E2BIG)
		abort();
	if (strlen(out) >= sizeof(out))
		abort();
	if (r == 0) {
		if (strlen(out) != n)
			abort();
		for (size_t k = 0; k < n; k++)
			if (out[k] != v[k] && !((unsigned char)v[k] < 0x20 || v[k] == 0x7f))
				abort();
	}
}

static void expand_input(const struct grubenv *env, const uint8_t *data, size_t size)
{
	char *tmpl = malloc(size + 1), out[OUT_MAX];
	int r;

	memcpy(tmpl, data, size);
	tmpl[size] = '\0';
	r = grubenv_expand(env, "fuzz", tmpl, out, sizeof(out));
	if ((r != 0 && r != -VQ_E2BIG) || strlen(out) >= sizeof(out))
		abort();
	free(tmpl);
}

static void expand_entry(const struct grubenv *env)
{
	static const char text[] =
		"linux /vmlinuz\ninitrd /initramfs.img $tuned_initrd ${v0}\n"
		"options $kernelopts $tuned_params ${saved_entry}\n";
	struct bls_entry *e;

	if (bls_parse_entry("fuzz.conf", text, sizeof(text) - 1, &e))
		abort();
	bls_entry_expand(e, env);
	if (e->initrd_count > BLS_INITRD_MAX || strlen(e->options) >= BLS_OPTIONS_MAX ||
	    (e->broken && !e->reason[0]))
		abort();
	for (unsigned i = 0; i < e->initrd_count; i++)
		if (!e->initrd[i][0] || strchr(e->initrd[i], ' '))
			abort();
	bls_entry_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct grubenv *env = NULL;
	int r = grubenv_parse("fuzz", data, size, &env);

	if (r != 0 && r != -VQ_ECORRUPT && r != -VQ_E2BIG)
		abort();
	if (r == 0) {
		if (env->count > GRUBENV_VARS_MAX)
			abort();
		for (unsigned i = 0; i < env->count; i++) {
			if (!env->names[i][0] || strlen(env->names[i]) >= GRUBENV_NAME_MAX)
				abort();
			expand_back(env, i);
		}
	}
	expand_input(env, data, size < 4096 ? size : 4096);
	expand_entry(env);
	grubenv_free(env);
	return 0;
}
