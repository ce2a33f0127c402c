/* SPDX-License-Identifier: MIT */
#include "efi/bli.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

static EFI_GUID loader_guid = { 0x4a67b082, 0x0a4c, 0x41cf,
	{ 0xb6, 0xc7, 0x44, 0x0b, 0x29, 0xbb, 0x8c, 0x4f } };

#define VQBOOT_VERSION "vqboot 0.1"

/* The same text as LoaderInfo, between markers that vqboot-install (and
 * anyone else) can find in the image file to tell vqboot and its version
 * from other loaders on an ESP; systemd-boot marks its images the same way. */
static const char loader_marker[] __attribute__((used)) =
	"#### LoaderInfo: " VQBOOT_VERSION " ####";

/* Volatile, boot-service and runtime access, like systemd-boot's. */
static void set_string(const CHAR16 *name, const char *value)
{
	CHAR16 buf[128];
	size_t n = 0;

	for (; n < ARRAY_SIZE(buf) - 1 && value[n]; n++)
		buf[n] = (unsigned char)value[n];
	buf[n] = 0;
	EFI_STATUS st = RT->SetVariable((CHAR16 *)name, &loader_guid,
					EFI_VARIABLE_BOOTSERVICE_ACCESS |
						EFI_VARIABLE_RUNTIME_ACCESS,
					(n + 1) * sizeof(CHAR16), buf);
	if (EFI_ERROR(st))
		log_warn("cannot set a Boot Loader Interface variable (status 0x%llx)",
			 (unsigned long long)st);
}

/* The TSC counts from reset on QEMU and on real machines alike, so ticks
 * divided by the calibrated rate are microseconds since power-on, which is
 * what the interface asks for. */
uint64_t bli_now_us(void)
{
	return plat_now_us();
}

static void set_time(const CHAR16 *name, uint64_t us)
{
	char num[24];

	vq_snprintf(num, sizeof(num), "%llu", (unsigned long long)us);
	set_string(name, num);
}

void bli_set_init(uint64_t entry_counter)
{
	set_time(L"LoaderTimeInitUSec", efi_counter_to_us(entry_counter));
	set_string(L"LoaderInfo", VQBOOT_VERSION);
}

/* systemd's tools name an entry by its file name without the boot counter
 * ("debian-6.1.conf", "debian-6.1.efi"): bootctl list marks the entry whose
 * name equals LoaderEntrySelected. Automatic entries have no file and keep
 * their id. */
void bli_set_entry(const struct bls_entry *e)
{
	static const char *const suffix[] = {
		[BLS_KIND_TYPE1] = ".conf", [BLS_KIND_UKI] = ".efi", [BLS_KIND_AUTO] = "",
	};
	const char *sfx = (size_t)e->kind < ARRAY_SIZE(suffix) && suffix[e->kind] ?
		suffix[e->kind] : "";
	char id[BLS_NAME_MAX + sizeof(".conf")];

	vq_snprintf(id, sizeof(id), "%s%s", e->id, sfx);
	set_string(L"LoaderEntrySelected", id);
}

void bli_set_exec(void)
{
	set_time(L"LoaderTimeExecUSec", bli_now_us());
}
