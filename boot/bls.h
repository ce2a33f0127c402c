/* SPDX-License-Identifier: MIT */
/*
 * Boot Loader Specification type #1 entries (/loader/entries/NAME.conf),
 * /loader/loader.conf, the spec's ordering, the default-entry glob, and
 * entries made up for plain ext partitions (/vmlinuz, /boot/vmlinuz-*).
 *
 * Everything here works on bytes already read from a file: no I/O. Text is
 * never trusted: NULs, control bytes, bad UTF-8 and overlong lines make an
 * entry broken (kept, shown marked, never booted), never a crash.
 */
#ifndef VQ_BLS_H
#define VQ_BLS_H

#include "lib/compat.h"

#define BLS_NAME_MAX 128     /* file name / id, with NUL */
#define BLS_TITLE_MAX 256
#define BLS_SHORT_MAX 128    /* version, machine-id, sort-key */
#define BLS_ARCH_MAX 16
#define BLS_PATH_MAX 256
#define BLS_INITRD_MAX 8
#define BLS_OPTIONS_MAX 2048 /* x86-64 cmdline_size is 2047, plus NUL */
#define BLS_LINE_MAX 4096    /* longer lines are refused */
#define BLS_REASON_MAX 128
#define BLS_PATTERN_MAX 128
#define BLS_ENTRIES_MAX 64   /* bls_list refuses more */

/** The EFI architecture name entries must match (spec: `architecture`). */
#define BLS_LOCAL_ARCH VQ_ARCH_NAME

enum bls_kind {
	BLS_KIND_TYPE1 = 0, /* /loader/entries/NAME.conf */
	BLS_KIND_UKI,       /* type #2: /EFI/Linux/NAME.efi (boot/uki.h) */
	BLS_KIND_AUTO,      /* made up for /vmlinuz and /boot/vmlinuz-* */
};

struct bls_entry {
	enum bls_kind kind;
	char name[BLS_NAME_MAX];     /* file name as found, for messages */
	char id[BLS_NAME_MAX];       /* name without ".conf" and boot counter */
	char title[BLS_TITLE_MAX];
	char version[BLS_SHORT_MAX];
	char machine_id[BLS_SHORT_MAX];
	char sort_key[BLS_SHORT_MAX];
	char linux_path[BLS_PATH_MAX]; /* `linux` (a predefined macro in GNU C) */
	char initrd[BLS_INITRD_MAX][BLS_PATH_MAX];
	unsigned initrd_count;
	char options[BLS_OPTIONS_MAX]; /* every `options` line, space-joined */
	char efi_path[BLS_PATH_MAX];
	char architecture[BLS_ARCH_MAX];
	char devicetree[BLS_PATH_MAX];
	/* Type #2: `uname -r` of the kernel inside (.uname), and whether the
	 * image carries its own .cmdline (then held in options). */
	char uname[BLS_SHORT_MAX];
	bool has_cmdline;
	/* Boot counting (spec "Boot counting"): "+LEFT[-DONE]" before .conf.
	 * tries_left < 0 when the name carries no counter. */
	int tries_left;
	int tries_done;
	/* Filled by the caller: where the entry came from. */
	unsigned disk_index;
	unsigned part_index;
	/* Set when the text is unusable; reason says why, for the menu. */
	bool broken;
	char reason[BLS_REASON_MAX];
	/* Set by bls_list_make_titles when titles repeat. */
	char display_title[BLS_TITLE_MAX];
};

/**
 * Parse one entry file's @len bytes of @text. @file_name is the name in
 * loader/entries ("debian-6.1.conf"). Allocates the entry (plat_alloc; free
 * with bls_entry_free). Content problems (garbage bytes, a line longer than
 * BLS_LINE_MAX, a value too long for its field, too many initrds, no `linux`
 * or `efi`) are logged naming the file and line and give a broken entry, not
 * an error. Returns 0, -VQ_EINVAL (no name), -VQ_ENOMEM.
 *
 * The keys RHEL and Fedora add (`id`, `grub_users`, `grub_arg`,
 * `grub_class`) are accepted without a word. An `initrd` value may list
 * several files separated by spaces, as GRUB's blscfg reads it (RHEL 8:
 * `initrd /initramfs.img $tuned_initrd`); `$variables` are kept for
 * bls_entry_expand.
 */
int bls_parse_entry(const char *file_name, const void *text, size_t len,
		    struct bls_entry **ret);
void bls_entry_free(struct bls_entry *e);

/**
 * An empty entry named @file_name, for the other kinds of entries: the id is
 * the name without @suffix (".efi") and the boot counter, as for .conf files.
 * -VQ_EINVAL without a name, -VQ_ENOMEM.
 */
int bls_entry_alloc(const char *file_name, const char *suffix,
		    struct bls_entry **ret);

/**
 * Replace `$name` and `${name}` in options and initrd with their values in
 * @env (boot/grubenv.h; NULL: none is set, each use is a warning). An initrd
 * that expands to several words becomes several initrds, to nothing none.
 * A result that does not fit marks the entry broken.
 */
struct grubenv;
void bls_entry_expand(struct bls_entry *e, const struct grubenv *env);

/** Does the entry use `$variables`? */
bool bls_entry_has_vars(const struct bls_entry *e);

/**
 * Prefix @prefix ("/boot") to every path of @e: its entry file sits under
 * @prefix on its file system, and the paths in it are relative to that
 * directory. A path that no longer fits marks the entry broken.
 */
void bls_entry_prefix_paths(struct bls_entry *e, const char *prefix);

/** Spec: hide entries whose `architecture` is not ours (case-insensitive). */
bool bls_entry_hidden(const struct bls_entry *e);

/** Not broken and has `linux` or `efi`. */
bool bls_entry_bootable(const struct bls_entry *e);

/** Spec "Boot counting": tries left reached 0, so it sorts last. */
bool bls_entry_bad(const struct bls_entry *e);

/** The text for the menu: display_title, else title, else the id. */
const char *bls_entry_title(const struct bls_entry *e);

/**
 * The kernel command line: options, then @append (may be NULL), joined by
 * one space, into @buf of @size bytes. -VQ_E2BIG naming the entry and both
 * lengths when it does not fit in @size - 1 bytes.
 */
int bls_entry_cmdline(const struct bls_entry *e, const char *append,
		      char *buf, size_t size);

/* ---- loader.conf ----------------------------------------------------- */

#define BLS_TIMEOUT_FOREVER (-1) /* "menu-force": wait for a key */
#define BLS_TIMEOUT_DEFAULT 5    /* seconds, when loader.conf says nothing */
#define BLS_TIMEOUT_MAX 3600

struct bls_config {
	int timeout_s;    /* 0 boots the default at once; BLS_TIMEOUT_FOREVER */
	bool timeout_set; /* loader.conf had a valid timeout line */
	char default_pattern[BLS_PATTERN_MAX]; /* "" when unset or "@saved" */
	bool editor;      /* default true */
};

void bls_config_init(struct bls_config *c);

/**
 * Parse loader.conf (@len bytes of @text) over the defaults of
 * bls_config_init. Bad values and bad lines are logged with the file and
 * line number and skipped: a damaged loader.conf never stops the boot.
 */
int bls_parse_loader_conf(const char *file_name, const void *text, size_t len,
			  struct bls_config *ret);

/* ---- ordering and selection ------------------------------------------- */

/**
 * UAPI Version Format Specification comparison: <0 when @a is older than
 * @b, 0 equal, >0 newer. NULL compares as "".
 */
int bls_version_cmp(const char *a, const char *b);

/**
 * Spec "Sorting": <0 when @a is shown before @b. Bad (boot-counted out)
 * entries last; entries with sort-key before those without; by sort-key,
 * machine-id (increasing), version (decreasing); then id (decreasing
 * version order).
 */
int bls_entry_cmp(const struct bls_entry *a, const struct bls_entry *b);

/** fnmatch-style glob: * ? [abc] [a-z] [!x]; ASCII case-insensitive. */
bool bls_glob_match(const char *pattern, const char *s);

/** An ordered set of entries; owns them. Zero-initialise before use. */
struct bls_list {
	struct bls_entry **v;
	size_t count;
	size_t cap;
};

/**
 * Take ownership of @e in every case. Hidden entries (other architecture)
 * are logged and freed (returns 0); -VQ_ENOSPC past BLS_ENTRIES_MAX,
 * -VQ_ENOMEM.
 */
int bls_list_add(struct bls_list *l, struct bls_entry *e);
void bls_list_sort(struct bls_list *l);

/**
 * Spec: "If a boot loader discovers two entries with the same title it is a
 * good idea to show more than just the raw title in the UI, for example by
 * appending the version field." Gives each entry whose title repeats a
 * display_title of "TITLE (VERSION)", or "TITLE (ID)" when that would not
 * tell them apart. Call after the last bls_list_add.
 */
void bls_list_make_titles(struct bls_list *l);
void bls_list_free(struct bls_list *l);

/**
 * Index of the default entry in sorted @l: the first bootable entry whose
 * id matches @pattern (a trailing ".conf" or ".efi" in the pattern is
 * ignored), else
 * the first bootable entry, else 0. -VQ_ENOENT when @l is empty.
 */
int bls_list_default(const struct bls_list *l, const char *pattern);

/** Index of the entry with exactly this id (or this id once a ".conf" or
 * ".efi" is taken off, as systemd-boot names them), or -VQ_ENOENT. */
int bls_list_find(const struct bls_list *l, const char *id);

/**
 * Entries for an ext root or /boot partition without loader/entries:
 * "/vmlinuz" (+ "/initrd.img") as id "vmlinuz", and each
 * "/boot/vmlinuz-VER" (+ "/boot/initrd.img-VER") as id "vmlinuz-VER",
 * titled "Linux VER". @paths are the absolute paths found in / and /boot.
 * Options are left empty: the caller knows the root device.
 */
int bls_auto_entries(const char *const *paths, size_t n, unsigned disk_index,
		     unsigned part_index, struct bls_list *l);

#endif
