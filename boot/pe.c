/* SPDX-License-Identifier: MIT */
/*
 * Kernel image header checks. Field layouts follow the Microsoft PE/COFF
 * specification ("MS-DOS stub", "COFF File Header", "Optional Header
 * (Image Only)", "Section Table") and Linux Documentation/arch/x86/boot.rst
 * ("The Real-Mode Kernel Header"). Structures are copied out of the image
 * with memcpy after a bounds check, then read by member: no hand-counted
 * offsets, no unaligned loads, no reads past the end.
 */
#include "boot/pe.h"
#include "lib/log.h"

struct pe_dos_header {
	uint8_t e_magic[2];     /* "MZ" */
	uint8_t unused[58];
	uint32_t e_lfanew;      /* file offset of the PE signature */
} __attribute__((packed));

struct pe_coff_header {
	uint8_t signature[4];   /* "PE\0\0" */
	uint16_t machine;
	uint16_t number_of_sections;
	uint32_t time_date_stamp;
	uint32_t pointer_to_symbol_table;
	uint32_t number_of_symbols;
	uint16_t size_of_optional_header;
	uint16_t characteristics;
} __attribute__((packed));

/* PE32+ optional header up to the data directories. */
struct pe_opt_header64 {
	uint16_t magic;
	uint8_t major_linker_version;
	uint8_t minor_linker_version;
	uint32_t size_of_code;
	uint32_t size_of_initialized_data;
	uint32_t size_of_uninitialized_data;
	uint32_t address_of_entry_point;
	uint32_t base_of_code;
	uint64_t image_base;
	uint32_t section_alignment;
	uint32_t file_alignment;
	uint16_t major_os_version;
	uint16_t minor_os_version;
	uint16_t major_image_version;
	uint16_t minor_image_version;
	uint16_t major_subsystem_version;
	uint16_t minor_subsystem_version;
	uint32_t win32_version_value;
	uint32_t size_of_image;
	uint32_t size_of_headers;
	uint32_t checksum;
	uint16_t subsystem;
	uint16_t dll_characteristics;
	uint64_t size_of_stack_reserve;
	uint64_t size_of_stack_commit;
	uint64_t size_of_heap_reserve;
	uint64_t size_of_heap_commit;
	uint32_t loader_flags;
	uint32_t number_of_rva_and_sizes;
} __attribute__((packed));

struct pe_section_header {
	char name[8];
	uint32_t virtual_size;
	uint32_t virtual_address;
	uint32_t size_of_raw_data;
	uint32_t pointer_to_raw_data;
	uint32_t pointer_to_relocations;
	uint32_t pointer_to_linenumbers;
	uint16_t number_of_relocations;
	uint16_t number_of_linenumbers;
	uint32_t characteristics;
} __attribute__((packed));

/* boot.rst "The Real-Mode Kernel Header", from offset 0x1f1 up to
 * cmdline_size (protocol 2.06). */
struct linux_setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
} __attribute__((packed));

#define SETUP_HDR_OFF 0x1f1
#define SETUP_OFF(f) (SETUP_HDR_OFF + offsetof(struct linux_setup_header, f))

_Static_assert(sizeof(struct pe_dos_header) == 64, "DOS header");
_Static_assert(offsetof(struct pe_dos_header, e_lfanew) == 0x3c, "e_lfanew");
_Static_assert(sizeof(struct pe_coff_header) == 24, "COFF header");
_Static_assert(sizeof(struct pe_opt_header64) == 112, "PE32+ header");
_Static_assert(offsetof(struct pe_opt_header64, subsystem) == 68, "Subsystem");
_Static_assert(sizeof(struct pe_section_header) == 40, "section header");
_Static_assert(SETUP_OFF(boot_flag) == 0x1fe, "boot_flag");
_Static_assert(SETUP_OFF(header) == 0x202, "HdrS");
_Static_assert(SETUP_OFF(kernel_version) == 0x20e, "kernel_version");
_Static_assert(SETUP_OFF(cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(SETUP_OFF(cmdline_size) == 0x238, "cmdline_size");

#define PE_OPT_MAGIC_PE32 0x10b
#define PE_OPT_MAGIC_PE32PLUS 0x20b
#define LINUX_HDRS_MAGIC 0x53726448 /* "HdrS" */
#define LINUX_BOOT_FLAG 0xaa55
/* No real kernel asks for more; a larger value is a damaged header. */
#define LINUX_CMDLINE_SANE_MAX (1u << 20)

/* Is [off, off + len) inside @size bytes? No overflow: off and len are at
 * most 32-bit quantities widened to 64 bits. */
static bool in_file(uint64_t size, uint64_t off, uint64_t len)
{
	return off <= size && len <= size - off;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

const char *pe_machine_name(uint16_t machine)
{
	switch (machine) {
	case PE_MACHINE_X64: return "x86-64";
	case PE_MACHINE_ARM64: return "arm64";
	case 0x14c: return "i386";
	case 0x1c2: return "thumb";
	case 0x5064: return "riscv64";
	case 0x6264: return "loongarch64";
	default: return "unknown";
	}
}

/* ---- PE/COFF ------------------------------------------------------------- */

/* The headers are read from the first @avail bytes at @img; sections are
 * checked against the whole file of @size bytes, which may be larger (a
 * unified kernel image is looked at through its first 64 KiB). */
struct pe_ctx {
	const uint8_t *img;
	size_t avail;
	uint64_t size;
	const char *name;
	struct pe_section *sections; /* NULL, or room for PE_SECTIONS_MAX */
	struct pe_coff_header coff;
	struct pe_opt_header64 opt;
	uint64_t opt_off;
};

static int read_coff(struct pe_ctx *c, uint32_t *ret_lfanew)
{
	struct pe_dos_header dos;
	const uint8_t *s;

	if (c->avail < sizeof(dos))
		return log_err(-VQ_ECORRUPT, "pe: %s: %zu bytes, too short for the %zu-byte DOS header",
			       c->name, c->avail, sizeof(dos));
	memcpy(&dos, c->img, sizeof(dos));
	if (dos.e_magic[0] != 'M' || dos.e_magic[1] != 'Z')
		return log_err(-VQ_ECORRUPT, "pe: %s: DOS signature %02x %02x is not MZ",
			       c->name, dos.e_magic[0], dos.e_magic[1]);
	if (dos.e_lfanew < sizeof(dos) || !in_file(c->avail, dos.e_lfanew, sizeof(c->coff)))
		return log_err(-VQ_ECORRUPT, "pe: %s: e_lfanew 0x%x is inside the DOS header or leaves no room for the PE header in %zu bytes",
			       c->name, dos.e_lfanew, c->avail);
	memcpy(&c->coff, c->img + dos.e_lfanew, sizeof(c->coff));
	s = c->coff.signature;
	if (memcmp(s, "PE\0\0", 4) != 0)
		return log_err(-VQ_ECORRUPT, "pe: %s: signature at 0x%x is %02x %02x %02x %02x, not PE\\0\\0",
			       c->name, dos.e_lfanew, s[0], s[1], s[2], s[3]);
	if (c->coff.number_of_sections == 0 || c->coff.number_of_sections > PE_SECTIONS_MAX)
		return log_err(-VQ_ECORRUPT, "pe: %s: NumberOfSections %u outside 1..%u",
			       c->name, c->coff.number_of_sections, PE_SECTIONS_MAX);
	*ret_lfanew = dos.e_lfanew;
	return 0;
}

static int read_opt(struct pe_ctx *c)
{
	uint16_t soh = c->coff.size_of_optional_header;
	uint16_t magic;

	if (soh < sizeof(magic) || !in_file(c->avail, c->opt_off, soh))
		return log_err(-VQ_ECORRUPT, "pe: %s: optional header of %u bytes at 0x%llx does not fit in %zu bytes",
			       c->name, soh, (unsigned long long)c->opt_off, c->avail);
	memcpy(&magic, c->img + c->opt_off, sizeof(magic));
	if (magic == PE_OPT_MAGIC_PE32)
		return log_err(-VQ_ENOTSUP, "pe: %s: PE32 (32-bit) image, need PE32+",
			       c->name);
	if (magic != PE_OPT_MAGIC_PE32PLUS)
		return log_err(-VQ_ECORRUPT, "pe: %s: optional header magic 0x%x is not PE32+ (0x20b)",
			       c->name, magic);
	if (soh < sizeof(c->opt))
		return log_err(-VQ_ECORRUPT, "pe: %s: SizeOfOptionalHeader %u below the %zu bytes of PE32+",
			       c->name, soh, sizeof(c->opt));
	memcpy(&c->opt, c->img + c->opt_off, sizeof(c->opt));
	/* Each data directory is 8 bytes after the fixed part. */
	if (c->opt.number_of_rva_and_sizes > (soh - sizeof(c->opt)) / 8)
		return log_err(-VQ_ECORRUPT, "pe: %s: NumberOfRvaAndSizes %u does not fit in SizeOfOptionalHeader %u",
			       c->name, c->opt.number_of_rva_and_sizes, soh);
	return 0;
}

static int check_opt(const struct pe_ctx *c)
{
	const struct pe_opt_header64 *o = &c->opt;

	if (!is_pow2(o->section_alignment) || !is_pow2(o->file_alignment))
		return log_err(-VQ_ECORRUPT, "pe: %s: SectionAlignment 0x%x / FileAlignment 0x%x not powers of two",
			       c->name, o->section_alignment, o->file_alignment);
	if (o->size_of_image == 0 || o->size_of_image > PE_IMAGE_MAX)
		return log_err(-VQ_ECORRUPT, "pe: %s: SizeOfImage 0x%x outside 1..0x%x",
			       c->name, o->size_of_image, PE_IMAGE_MAX);
	if (o->size_of_headers > c->size || o->size_of_headers > o->size_of_image)
		return log_err(-VQ_ECORRUPT, "pe: %s: SizeOfHeaders 0x%x beyond the file (0x%llx) or SizeOfImage (0x%x)",
			       c->name, o->size_of_headers, (unsigned long long)c->size,
			       o->size_of_image);
	if (o->address_of_entry_point >= o->size_of_image)
		return log_err(-VQ_ECORRUPT, "pe: %s: AddressOfEntryPoint 0x%x beyond SizeOfImage 0x%x",
			       c->name, o->address_of_entry_point, o->size_of_image);
	return 0;
}

static void section_name(const struct pe_section_header *s, char out[9])
{
	for (size_t i = 0; i < 8; i++) {
		char ch = s->name[i];

		out[i] = (ch >= 0x20 && ch < 0x7f) ? ch : (ch ? '?' : '\0');
	}
	out[8] = '\0';
}

static int check_section(const struct pe_ctx *c, const struct pe_section_header *s)
{
	uint32_t vsize = s->virtual_size ? s->virtual_size : s->size_of_raw_data;
	char nm[9];

	section_name(s, nm);
	if (s->size_of_raw_data &&
	    (UINT32_MAX - s->pointer_to_raw_data < s->size_of_raw_data ||
	     !in_file(c->size, s->pointer_to_raw_data, s->size_of_raw_data)))
		return log_err(-VQ_ECORRUPT, "pe: %s: section '%s' raw data 0x%x + 0x%x beyond the file (0x%llx bytes)",
			       c->name, nm, s->pointer_to_raw_data,
			       s->size_of_raw_data, (unsigned long long)c->size);
	if (UINT32_MAX - s->virtual_address < vsize ||
	    s->virtual_address + vsize > c->opt.size_of_image)
		return log_err(-VQ_ECORRUPT, "pe: %s: section '%s' at RVA 0x%x + 0x%x beyond SizeOfImage 0x%x",
			       c->name, nm, s->virtual_address, vsize,
			       c->opt.size_of_image);
	return 0;
}

static void keep_section(const struct pe_section_header *h, struct pe_section *out)
{
	section_name(h, out->name);
	out->rva = h->virtual_address;
	out->virtual_size = h->virtual_size;
	out->file_offset = h->pointer_to_raw_data;
	out->file_size = h->size_of_raw_data;
}

static int check_sections(const struct pe_ctx *c)
{
	uint64_t off = c->opt_off + c->coff.size_of_optional_header;
	uint64_t len = (uint64_t)c->coff.number_of_sections * sizeof(struct pe_section_header);
	struct pe_section_header s;
	int r;

	if (!in_file(c->size, off, len))
		return log_err(-VQ_ECORRUPT, "pe: %s: section table (%u entries at 0x%llx) beyond the file (0x%llx bytes)",
			       c->name, c->coff.number_of_sections,
			       (unsigned long long)off, (unsigned long long)c->size);
	if (!in_file(c->avail, off, len))
		return log_err(-VQ_ENOTSUP, "pe: %s: section table (%u entries at 0x%llx) past the first %zu bytes, which is all vqboot reads for headers",
			       c->name, c->coff.number_of_sections,
			       (unsigned long long)off, c->avail);
	for (uint16_t i = 0; i < c->coff.number_of_sections; i++) {
		memcpy(&s, c->img + off + (uint64_t)i * sizeof(s), sizeof(s));
		if ((r = check_section(c, &s)) < 0)
			return r;
		if (c->sections)
			keep_section(&s, &c->sections[i]);
	}
	return 0;
}

/* Things a well-formed image can still get wrong for us. */
static int check_runnable(const struct pe_ctx *c)
{
	if (c->coff.machine != PE_MACHINE_NATIVE)
		return log_err(-VQ_ENOTSUP, "pe: %s: machine 0x%x (%s) cannot run here, need 0x%x (%s)",
			       c->name, c->coff.machine, pe_machine_name(c->coff.machine),
			       PE_MACHINE_NATIVE, pe_machine_name(PE_MACHINE_NATIVE));
	if (c->opt.subsystem != PE_SUBSYSTEM_EFI_APPLICATION)
		return log_err(-VQ_ENOTSUP, "pe: %s: subsystem %u is not an EFI application (%u)",
			       c->name, c->opt.subsystem, PE_SUBSYSTEM_EFI_APPLICATION);
	return 0;
}

int pe_check_headers(const void *hdr, size_t avail, uint64_t file_size,
		     const char *name, struct pe_info *ret,
		     struct pe_section *ret_sections)
{
	struct pe_ctx c = { .img = hdr, .avail = VQ_MIN((uint64_t)avail, file_size),
			    .size = file_size, .name = name,
			    .sections = ret_sections };
	struct pe_info info = { 0 };
	uint32_t lfanew = 0;
	int r;

	if (!hdr || !name)
		return log_err(-VQ_EINVAL, "pe: no image or name");
	if ((r = read_coff(&c, &lfanew)) < 0)
		return r;
	c.opt_off = (uint64_t)lfanew + sizeof(c.coff);
	if ((r = read_opt(&c)) < 0 || (r = check_opt(&c)) < 0 ||
	    (r = check_sections(&c)) < 0 || (r = check_runnable(&c)) < 0)
		return r;
	info.is_pe = true;
	info.machine = c.coff.machine;
	info.subsystem = c.opt.subsystem;
	info.major_image_version = c.opt.major_image_version;
	info.section_count = c.coff.number_of_sections;
	info.size_of_image = c.opt.size_of_image;
	info.entry_point = c.opt.address_of_entry_point;
	*ret = info;
	return 0;
}

uint32_t pe_section_data_size(const struct pe_section *s)
{
	/* VirtualSize is what the section holds; SizeOfRawData is that
	 * rounded up to FileAlignment (or less, the rest being zeros). */
	return s->virtual_size ? VQ_MIN(s->virtual_size, s->file_size) : s->file_size;
}

/* ---- Linux setup header ------------------------------------------------------ */

/* boot.rst kernel_version: "a pointer to a NUL-terminated human-readable
 * kernel version number string, less 0x200 ... should be less than
 * (0x200 * setup_sects)". A bad pointer only costs us the string. */
static void read_kernel_version(const uint8_t *img, size_t setup_end,
				const struct linux_setup_header *h,
				const char *name, struct pe_info *info)
{
	size_t off = (size_t)h->kernel_version + 0x200, n = 0;

	if (h->kernel_version == 0)
		return;
	if (off >= setup_end) {
		log_warn("pe: %s: kernel_version 0x%x points past the setup area (0x%zx)",
			 name, h->kernel_version, setup_end);
		return;
	}
	while (off + n < setup_end && n < sizeof(info->linux_version) - 1 &&
	       img[off + n] != '\0') {
		if (img[off + n] < 0x20 || img[off + n] >= 0x7f) {
			log_warn("pe: %s: kernel version string has byte 0x%02x at 0x%zx",
				 name, img[off + n], off + n);
			return;
		}
		n++;
	}
	memcpy(info->linux_version, img + off, n);
	info->linux_version[n] = '\0';
}

static int linux_cmdline_max(const struct linux_setup_header *h, size_t size,
			     const char *name, uint32_t *ret)
{
	/* boot.rst: cmdline_size exists from 2.06; before that the limit
	 * is 255. */
	if (h->version < 0x206) {
		*ret = LINUX_CMDLINE_OLD_MAX;
		return 0;
	}
	if (size < SETUP_OFF(cmdline_size) + sizeof(h->cmdline_size))
		return log_err(-VQ_ECORRUPT, "pe: %s: protocol %u.%02u setup header cut off at %zu bytes",
			       name, h->version >> 8, h->version & 0xff, size);
	if (h->cmdline_size == 0 || h->cmdline_size > LINUX_CMDLINE_SANE_MAX)
		return log_err(-VQ_ECORRUPT, "pe: %s: cmdline_size %u outside 1..%u",
			       name, h->cmdline_size, LINUX_CMDLINE_SANE_MAX);
	*ret = h->cmdline_size;
	return 0;
}

static int check_linux(const uint8_t *img, size_t size, const char *name,
		       struct pe_info *info)
{
	struct linux_setup_header h = { 0 };
	size_t setup_end;
	int r;

	if (size < SETUP_OFF(version) + sizeof(h.version) ||
	    get_le32(img + SETUP_OFF(header)) != LINUX_HDRS_MAGIC)
		return 0; /* not a Linux kernel: fine for an EFI application */
	memcpy(&h, img + SETUP_HDR_OFF, VQ_MIN(size - SETUP_HDR_OFF, sizeof(h)));
	/* boot.rst setup_sects: "If this field is 0, the real value is 4." */
	setup_end = ((size_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	if (setup_end > size)
		return log_err(-VQ_ECORRUPT, "pe: %s: setup_sects %u needs %zu bytes, file has %zu",
			       name, h.setup_sects, setup_end, size);
	if (h.boot_flag != LINUX_BOOT_FLAG)
		log_warn("pe: %s: boot_flag 0x%x is not 0xaa55", name, h.boot_flag);
	if ((r = linux_cmdline_max(&h, size, name, &info->cmdline_max)) < 0)
		return r;
	info->is_linux = true;
	info->boot_protocol = h.version;
	read_kernel_version(img, setup_end, &h, name, info);
	return 0;
}

/* An arm64 Image (arm64 booting.rst) has no version string in its header. */
static void check_linux_arm64(const uint8_t *img, size_t size, struct pe_info *info)
{
	if (info->is_linux || size < LINUX_ARM64_MAGIC_OFF + 4 ||
	    get_le32(img + LINUX_ARM64_MAGIC_OFF) != LINUX_ARM64_MAGIC)
		return;
	info->is_linux = true;
	info->cmdline_max = LINUX_ARM64_CMDLINE_MAX;
}

int pe_check(const void *image, size_t size, const char *name,
	     struct pe_info *ret)
{
	const uint8_t *img = image;
	struct pe_info info = { 0 };
	int r;

	if (!image || !name)
		return log_err(-VQ_EINVAL, "pe: no image or name");
	if (size >= 2 && img[0] == 'M' && img[1] == 'Z' &&
	    (r = pe_check_headers(img, size, size, name, &info, NULL)) < 0)
		return r;
	if ((r = check_linux(img, size, name, &info)) < 0)
		return r;
	check_linux_arm64(img, size, &info);
	if (!info.is_pe && !info.is_linux)
		return log_err(-VQ_ECORRUPT, "pe: %s: neither a PE image (MZ) nor a Linux bzImage (HdrS at 0x202); %zu bytes",
			       name, size);
	info.supports_initrd_lf2 = info.is_pe && info.is_linux &&
				   info.major_image_version >= 1;
	*ret = info;
	return 0;
}
