/* SPDX-License-Identifier: MIT */
#include "efi/secureboot.h"
#include "lib/log.h"

static EFI_GUID global_guid = EFI_GLOBAL_VARIABLE;
/* shim's SHIM_LOCK protocol (shim.h). */
static EFI_GUID shim_lock_guid = { 0x605dab50, 0xe046, 0x4300,
	{ 0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23 } };
/* PI spec, DXE architectural protocols: the firmware's LoadImage asks this
 * one whether an image may be loaded (image verification, measurement). */
static EFI_GUID security2_guid = { 0x94ab2f58, 0x1438, 0x4ef1,
	{ 0x91, 0x52, 0x18, 0x94, 0x1a, 0x3a, 0x0e, 0x68 } };

/* shim's functions are plain C, not EFIAPI: System V ABI on x86-64, which
 * is what an unadorned function pointer is here. */
struct shim_lock {
	EFI_STATUS (*verify)(void *buffer, UINT32 size);
	void *hash;
	void *context;
};

struct security2;
typedef EFI_STATUS (EFIAPI *security2_auth_fn)(const struct security2 *self,
					       const EFI_DEVICE_PATH *path,
					       void *buf, UINTN size,
					       BOOLEAN boot_policy);
struct security2 {
	security2_auth_fn file_authentication;
};

#define SB_REFUSED "refused by Secure Boot (not signed by a trusted key)"

static struct sb_state state;
static bool state_read;
static struct shim_lock *shim;

static bool read_bool_var(const CHAR16 *name)
{
	UINT8 v = 0;
	UINTN size = sizeof(v);

	if (RT->GetVariable((CHAR16 *)name, &global_guid, NULL, &size, &v) != EFI_SUCCESS)
		return false;
	return size == 1 && v == 1;
}

const struct sb_state *sb_state(void)
{
	if (state_read)
		return &state;
	state.secure_boot = read_bool_var(L"SecureBoot");
	state.setup_mode = read_bool_var(L"SetupMode");
	if (BS->LocateProtocol(&shim_lock_guid, NULL, (void **)&shim) != EFI_SUCCESS)
		shim = NULL;
	state.shim = shim != NULL;
	state_read = true;
	return &state;
}

const char *sb_state_text(const struct sb_state *s)
{
	static char buf[64];

	vq_snprintf(buf, sizeof(buf), "%s, setup mode %s, shim %s",
		    s->secure_boot ? "on" : "off", s->setup_mode ? "on" : "off",
		    s->shim ? "present" : "absent");
	return buf;
}

/* The one buffer shim verified, accepted by the firmware's check while
 * sb_load_image's LoadImage runs. */
static struct security2 *sec2;
static security2_auth_fn sec2_orig;
static const void *trusted_buf;
static size_t trusted_size;

static EFI_STATUS EFIAPI sec2_auth(const struct security2 *self,
				   const EFI_DEVICE_PATH *path, void *buf,
				   UINTN size, BOOLEAN boot_policy)
{
	EFI_STATUS st = sec2_orig(self, path, buf, size, boot_policy);

	/* Ask the firmware first, so that it still measures the image; only
	 * its refusal of the very buffer shim accepted is overridden. */
	if ((st == EFI_SECURITY_VIOLATION || st == EFI_ACCESS_DENIED) &&
	    buf && buf == trusted_buf && size == trusted_size)
		return EFI_SUCCESS;
	return st;
}

static void override_install(const void *buf, size_t size)
{
	if (BS->LocateProtocol(&security2_guid, NULL, (void **)&sec2) != EFI_SUCCESS) {
		sec2 = NULL;
		return;
	}
	trusted_buf = buf;
	trusted_size = size;
	sec2_orig = sec2->file_authentication;
	sec2->file_authentication = sec2_auth;
}

static void override_remove(void)
{
	if (sec2)
		sec2->file_authentication = sec2_orig;
	sec2 = NULL;
	trusted_buf = NULL;
	trusted_size = 0;
}

static bool is_refusal(EFI_STATUS st)
{
	/* UEFI 2.10 LoadImage: SECURITY_VIOLATION (loaded, may not start)
	 * and ACCESS_DENIED (not loaded) are the Secure Boot verdicts. */
	return st == EFI_SECURITY_VIOLATION || st == EFI_ACCESS_DENIED;
}

EFI_STATUS sb_load_image(EFI_DEVICE_PATH *dp, const void *buf, size_t size,
			 const char *name, EFI_HANDLE *ret)
{
	const struct sb_state *s = sb_state();
	bool by_shim = s->secure_boot && !s->setup_mode && s->shim;
	EFI_HANDLE h = NULL;
	EFI_STATUS st;

	if (by_shim) {
		if (size > UINT32_MAX) {
			log_error("%s: %llu bytes, too large for shim to verify", name,
				  (unsigned long long)size);
			return EFI_BAD_BUFFER_SIZE;
		}
		st = shim->verify((void *)buf, (UINT32)size);
		if (EFI_ERROR(st)) {
			log_error("%s: " SB_REFUSED, name);
			log_debug("%s: shim's verifier said 0x%llx", name,
				  (unsigned long long)st);
			return EFI_SECURITY_VIOLATION;
		}
		log_info("%s: verified by shim", name);
		override_install(buf, size);
	}
	st = BS->LoadImage(FALSE, efi_image, dp, (void *)buf, size, &h);
	if (by_shim)
		override_remove();
	if (is_refusal(st)) {
		/* A SECURITY_VIOLATION image was loaded all the same. */
		if (h)
			BS->UnloadImage(h);
		log_error("%s: " SB_REFUSED, name);
		log_debug("%s: LoadImage said 0x%llx", name, (unsigned long long)st);
		return EFI_SECURITY_VIOLATION;
	}
	if (EFI_ERROR(st)) {
		log_error("%s: the firmware refused to load the image (status 0x%llx)",
			  name, (unsigned long long)st);
		return st;
	}
	*ret = h;
	return EFI_SUCCESS;
}
