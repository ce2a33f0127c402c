/* SPDX-License-Identifier: MIT */
/* Logging for the EFI-free layers; lines go out through plat_log_write. */
#include "lib/log.h"
#include "lib/fmt.h"
#include "lib/plat.h"

int log_max_level = LOG_INFO;

static char last_error[256];

const char *log_last_error(void)
{
	return last_error;
}

static void log_vmsg(int level, const char *fmt, va_list ap)
{
	char line[512];

	if (level > log_max_level && level != LOG_ERR)
		return;
	vq_vsnprintf(line, sizeof(line), fmt, ap);
	if (level == LOG_ERR)
		vq_snprintf(last_error, sizeof(last_error), "%s", line);
	if (level <= log_max_level)
		plat_log_write(level, line);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* The name in parentheses: log.h wraps log_err in a macro for the static
 * analyzer, which must not rewrite the definition. */
int (log_err)(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
	return err;
}
