/* SPDX-License-Identifier: MIT */
/*
 * Unified kernel images (Boot Loader Specification type #2; UAPI.5 Unified
 * Kernel Image): a PE file, an EFI stub with the kernel in `.linux`, and
 * optionally `.osrel` (os-release text), `.cmdline`, `.initrd`, `.uname`,
 * `.splash`, `.dtb`, ... in sections of their own. vqboot lists them from
 * /EFI/Linux/ *.efi, titles and sorts them from `.osrel` as systemd-boot
 * does, and starts them through the firmware's LoadImage: the stub inside
 * does the rest. EFI-free; files are read through struct fs.
 */
#ifndef VQ_UKI_H
#define VQ_UKI_H

#include "boot/bls.h"
#include "boot/fs.h"
#include "boot/pe.h"

#define UKI_DIR "/EFI/Linux"
#define UKI_HEADER_READ (64u << 10) /* bytes read to check the PE headers */
#define UKI_TEXT_MAX (16u << 10)    /* a larger .osrel, .cmdline or .uname is refused */

/* The sections vqboot looks at; the rest belong to the stub. */
enum uki_section {
	UKI_SEC_LINUX,
	UKI_SEC_OSREL,
	UKI_SEC_CMDLINE,
	UKI_SEC_INITRD,
	UKI_SEC_UNAME,
	UKI_SEC_SPLASH,
	UKI_SEC_DTB,
	UKI_SEC_COUNT
};

struct uki_span {
	bool present;
	uint32_t offset;  /* in the file */
	uint32_t size;    /* bytes the section holds (pe_section_data_size) */
};

struct uki_layout {
	struct pe_info pe;                 /* the stub's PE headers */
	struct uki_span sec[UKI_SEC_COUNT];
	unsigned profiles;                 /* .profile sections (not offered) */
};

/**
 * Check a unified kernel image of @file_size bytes from its first @avail
 * bytes at @hdr (the whole file, or at least UKI_HEADER_READ bytes of it):
 * a PE32+ EFI application for this machine (pe_check_headers: every section
 * inside the file), with a non-empty `.linux` section, no section of ours
 * twice before the first `.profile`, and `.osrel`, `.cmdline`, `.uname` of
 * at most UKI_TEXT_MAX bytes. Every failure is logged naming @name and what
 * is wrong. Returns 0, -VQ_ECORRUPT, -VQ_ENOTSUP (other machine, not an EFI
 * application, no `.linux`: not a unified kernel image).
 */
int uki_layout(const void *hdr, size_t avail, uint64_t file_size,
	       const char *name, struct uki_layout *ret);

/** "linux", "osrel", ... for messages. */
const char *uki_section_name(enum uki_section s);

/* ---- os-release ---------------------------------------------------------- */

/* os-release(5) fields the menu uses; "" when absent. */
struct uki_osrel {
	char pretty_name[BLS_TITLE_MAX];
	char name[BLS_TITLE_MAX];
	char id[BLS_SHORT_MAX];
	char image_id[BLS_SHORT_MAX];
	char version[BLS_SHORT_MAX];
	char version_id[BLS_SHORT_MAX];
	char image_version[BLS_SHORT_MAX];
	char build_id[BLS_SHORT_MAX];
};

/**
 * Parse os-release text (@len bytes; a NUL ends it early, as section
 * padding does): KEY=VALUE lines, values unquoted or in "..." (backslash
 * escapes \" \\ \$ \`) or '...'; '#' comments. Bad lines and values too
 * long for their field are logged naming @name and skipped. Always fills
 * *ret; returns 0.
 */
int uki_osrel_parse(const char *name, const void *text, size_t len,
		    struct uki_osrel *ret);

/**
 * What the menu shows, as systemd-boot picks it: title PRETTY_NAME, else
 * IMAGE_ID, NAME, ID; version IMAGE_VERSION, else VERSION, VERSION_ID,
 * BUILD_ID; sort key IMAGE_ID, else ID. Each may be "" (never NULL).
 */
void uki_osrel_pick(const struct uki_osrel *os, const char **ret_title,
		    const char **ret_version, const char **ret_sort_key);

/* ---- entries ---------------------------------------------------------------- */

/**
 * The entry for @file_name ("debian-6.1.efi") in @dir on @fs: checks the
 * headers (uki_layout), reads `.osrel`, `.cmdline` and `.uname`, and fills a
 * BLS_KIND_UKI entry (efi_path @dir/@file_name; options the `.cmdline`,
 * has_cmdline set when there is one; title, version and sort-key from
 * `.osrel`, else the id; uname). A file that is not a usable unified kernel
 * image gives a broken entry saying why; only -VQ_ENOMEM and -VQ_EINVAL are
 * errors. @vol names the volume in messages.
 */
int uki_read_entry(struct fs *fs, const char *dir, const char *file_name,
		   const char *vol, struct bls_entry **ret);

/**
 * Check a whole image in memory before it is started (the file may have
 * changed since the scan): uki_layout over all of it, and the `.linux`
 * section as a kernel (pe_check; a kernel that is not Linux is a warning).
 * Fills *ret_kernel with what pe_check says of `.linux`.
 */
int uki_check_image(const void *image, size_t size, const char *name,
		    struct pe_info *ret_kernel);

/**
 * systemd-stub(7): "If UEFI SecureBoot is enabled and the .cmdline section
 * is present in the executed image, any attempts to override the kernel
 * command line by passing one as invocation parameters to the EFI binary
 * are ignored." So: under Secure Boot with a `.cmdline`, pass nothing (and
 * say so when @line was edited or @append given); otherwise pass the line
 * when it was edited (differs from the entry's options) or something is
 * appended, and nothing when it was not, so the stub uses its own.
 * Returns whether to pass load options.
 */
bool uki_pass_cmdline(const struct bls_entry *e, const char *line,
		      const char *append, bool secure_boot);

#endif
