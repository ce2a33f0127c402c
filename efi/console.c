/* SPDX-License-Identifier: MIT */
/* Text output and key input on the firmware console (serial and screen). */
#include "efi/vqefi.h"
#include "lib/log.h"
#include "lib/plat.h"
#include "lib/fmt.h"

/* Converts to UCS-2 in chunks; '\n' becomes CR LF for the serial terminal. */
void con_puts(const char *s)
{
	CHAR16 buf[130];
	unsigned n = 0;

	for (; *s; s++) {
		if (*s == '\n')
			buf[n++] = L'\r';
		buf[n++] = (unsigned char)*s;
		if (n >= 128) {
			buf[n] = 0;
			ST->ConOut->OutputString(ST->ConOut, buf);
			n = 0;
		}
	}
	buf[n] = 0;
	if (n)
		ST->ConOut->OutputString(ST->ConOut, buf);
}

void con_printf(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vq_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	con_puts(line);
}

EFI_STATUS con_read_key(uint64_t timeout_us, EFI_INPUT_KEY *ret)
{
	uint64_t end = plat_now_us() + timeout_us;
	EFI_INPUT_KEY key;

	for (;;) {
		if (ST->ConIn->ReadKeyStroke(ST->ConIn, &key) == EFI_SUCCESS) {
			*ret = key;
			return EFI_SUCCESS;
		}
		if (plat_now_us() >= end)
			return EFI_TIMEOUT;
		BS->Stall(1000);
	}
}

char *efi_load_options_ascii(EFI_HANDLE image)
{
	EFI_LOADED_IMAGE *li = NULL;
	char *out;

	if (BS->HandleProtocol(image, &LoadedImageProtocol, (void **)&li) != EFI_SUCCESS)
		return NULL;
	UINTN n = li->LoadOptions ? li->LoadOptionsSize / sizeof(CHAR16) : 0;
	out = plat_alloc(n + 1);
	if (!out)
		return NULL;
	const CHAR16 *w = li->LoadOptions;
	for (UINTN i = 0; i < n && w[i]; i++)
		out[i] = w[i] < 0x80 ? (char)w[i] : '?';
	return out;
}
