/* SPDX-License-Identifier: MIT */
/*
 * GRUB's environment block (grubenv), read-only, and the expansion of the
 * `$name` / `${name}` variables RHEL 8 and Fedora write into Boot Loader
 * Specification entries (`options $kernelopts $tuned_params`,
 * `initrd /initramfs.img $tuned_initrd`).
 *
 * The block is a text file, 1024 bytes as grub-editenv writes it: the line
 * "# GRUB Environment Block", then NAME=VALUE lines, then '#' bytes up to
 * the end. In a value a backslash takes the next byte literally (that is
 * how a backslash or a newline is stored). Lines starting with '#' are
 * comments. Nothing is trusted: a block without the signature is logged and
 * refused, a bad line logged and skipped.
 */
#ifndef VQ_GRUBENV_H
#define VQ_GRUBENV_H

#include "lib/compat.h"

#define GRUBENV_SIGNATURE "# GRUB Environment Block\n"
#define GRUBENV_FILE_MAX (64u << 10) /* larger files are refused */
#define GRUBENV_VARS_MAX 64
#define GRUBENV_NAME_MAX 64          /* with NUL; longer names are skipped */
#define GRUBENV_SOURCE_MAX 128

struct grubenv {
	char source[GRUBENV_SOURCE_MAX]; /* for messages: "/grub2/grubenv on vblk 00:03.0 p2" */
	unsigned count;
	const char *names[GRUBENV_VARS_MAX];
	const char *values[GRUBENV_VARS_MAX]; /* unescaped, NUL-terminated */
	char *store;                     /* holds the names and values */
};

/**
 * Parse @len bytes of @text read from @source. Returns 0 and a plat_alloc()ed
 * environment (free with grubenv_free); -VQ_ECORRUPT when the signature is
 * missing (logged naming @source); -VQ_E2BIG over GRUBENV_FILE_MAX;
 * -VQ_ENOMEM. Lines without '=', names that are empty, too long or not
 * [A-Za-z0-9_], and variables past GRUBENV_VARS_MAX are logged and skipped;
 * a NUL byte (grub-editenv pads with '#') ends the block, with a warning.
 * When a name repeats, the last value wins, as in GRUB.
 */
int grubenv_parse(const char *source, const void *text, size_t len,
		  struct grubenv **ret);
void grubenv_free(struct grubenv *env);

/** The value of @name, or NULL when @env (may be NULL) does not set it. */
const char *grubenv_get(const struct grubenv *env, const char *name);

/** Does @s use a variable ("$x" or "${x}")? */
bool grubenv_has_vars(const char *s);

/**
 * Copy @in to @out (@size bytes) with every `$name` and `${name}` replaced
 * by its value in @env (NULL: nothing is set). Names are [A-Za-z0-9_]; a '$'
 * before anything else stays as it is. An unset variable expands to nothing
 * and is logged as a warning naming it and @what (the entry). Control bytes
 * in values become spaces: the result goes on a kernel command line. Values
 * are not expanded again. Returns 0, or -VQ_E2BIG (logged) when the result
 * does not fit; @out then holds as much as fitted.
 */
int grubenv_expand(const struct grubenv *env, const char *what, const char *in,
		   char *out, size_t size);

#endif
