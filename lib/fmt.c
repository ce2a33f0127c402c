/* SPDX-License-Identifier: MIT */
/* A small vsnprintf for the EFI-free layers and the console. */
#include "lib/fmt.h"

struct fmt_out {
	char *buf;
	size_t size;
	size_t len;
};

static void out_char(struct fmt_out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct fmt_out *o, char c, int n)
{
	while (n-- > 0)
		out_char(o, c);
}

struct fmt_spec {
	bool left;
	bool zero;
	int width;
	int precision; /* -1: none; for %s only */
};

static void out_str(struct fmt_out *o, const char *s, const struct fmt_spec *sp)
{
	size_t n = 0;

	if (!s)
		s = "(null)";
	/* The bound first: %.*s may point at text with no NUL after it. */
	while ((sp->precision < 0 || n < (size_t)sp->precision) && s[n])
		n++;
	if (!sp->left)
		out_pad(o, ' ', sp->width - (int)n);
	for (size_t i = 0; i < n; i++)
		out_char(o, s[i]);
	if (sp->left)
		out_pad(o, ' ', sp->width - (int)n);
}

static void out_num(struct fmt_out *o, uint64_t v, bool neg, unsigned base,
		    bool upper, const struct fmt_spec *sp)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int total = n + (neg ? 1 : 0);
	if (!sp->left && !sp->zero)
		out_pad(o, ' ', sp->width - total);
	if (neg)
		out_char(o, '-');
	if (!sp->left && sp->zero)
		out_pad(o, '0', sp->width - total);
	while (n)
		out_char(o, tmp[--n]);
	if (sp->left)
		out_pad(o, ' ', sp->width - total);
}

/* Reads one argument of the given length modifier (0 int, 1 long, 2 long
 * long, 3 size_t) as unsigned, sign-extending for signed conversions. */
static uint64_t fetch_arg(va_list *ap, int lmod, bool is_signed)
{
	if (is_signed) {
		switch (lmod) {
		case 1: return (uint64_t)va_arg(*ap, long);
		case 2: return (uint64_t)va_arg(*ap, long long);
		case 3: return (uint64_t)va_arg(*ap, long);
		default: return (uint64_t)(int64_t)va_arg(*ap, int);
		}
	}
	switch (lmod) {
	case 1: return va_arg(*ap, unsigned long);
	case 2: return va_arg(*ap, unsigned long long);
	case 3: return va_arg(*ap, size_t);
	default: return va_arg(*ap, unsigned int);
	}
}

static const char *parse_spec(const char *f, struct fmt_spec *sp, int *lmod,
			      va_list *ap)
{
	*sp = (struct fmt_spec){ .precision = -1 };
	for (;; f++) {
		if (*f == '-')
			sp->left = true;
		else if (*f == '0')
			sp->zero = true;
		else
			break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		f++;
	}
	while (*f >= '0' && *f <= '9')
		sp->width = sp->width * 10 + (*f++ - '0');
	if (*f == '.') {
		f++;
		sp->precision = 0;
		if (*f == '*') {
			sp->precision = va_arg(*ap, int);
			f++;
		}
		while (*f >= '0' && *f <= '9')
			sp->precision = sp->precision * 10 + (*f++ - '0');
	}
	*lmod = 0;
	while (*f == 'l' || *f == 'z' || *f == 'h') {
		if (*f == 'l')
			*lmod = *lmod ? 2 : 1;
		else if (*f == 'z')
			*lmod = 3;
		f++; /* 'h': promoted to int anyway */
	}
	return f;
}

int vq_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap0)
{
	struct fmt_out o = { buf, size, 0 };
	va_list ap;

	va_copy(ap, ap0);
	for (const char *f = fmt; *f; f++) {
		struct fmt_spec sp;
		int lmod;

		if (*f != '%') {
			out_char(&o, *f);
			continue;
		}
		f = parse_spec(f + 1, &sp, &lmod, &ap);
		switch (*f) {
		case 'd':
		case 'i': {
			int64_t v = (int64_t)fetch_arg(&ap, lmod, true);
			out_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0,
				10, false, &sp);
			break;
		}
		case 'u':
			out_num(&o, fetch_arg(&ap, lmod, false), false, 10, false, &sp);
			break;
		case 'x':
		case 'X':
			out_num(&o, fetch_arg(&ap, lmod, false), false, 16,
				*f == 'X', &sp);
			break;
		case 'p':
			out_str(&o, "0x", &(struct fmt_spec){ .precision = -1 });
			out_num(&o, (uintptr_t)va_arg(ap, void *), false, 16, false, &sp);
			break;
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			break;
		case 's':
			out_str(&o, va_arg(ap, const char *), &sp);
			break;
		case '%':
			out_char(&o, '%');
			break;
		case '\0':
			f--;
			break;
		default:
			out_char(&o, '%');
			out_char(&o, *f);
			break;
		}
	}
	va_end(ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int vq_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vq_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
