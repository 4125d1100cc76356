#include "fmt.h"

#include <string.h>

struct out {
	char *buf;
	size_t size;
	size_t n;       /* would-be length so far */
};

static void put(struct out *o, char c, size_t times)
{
	for (; times; times--, o->n++)
		if (o->n + 1 < o->size)
			o->buf[o->n] = c;
}

size_t fmt_vinto(char *buf, size_t size, const char *f, va_list ap)
{
	struct out o = { buf, size, 0 };
	char tmp[24];

	for (; *f; f++) {
		char *d = tmp + sizeof tmp;
		const char *s;
		unsigned long long v = 0;
		size_t w = 0, n, pad;
		int left = 0, zero = 0, lng = 0, z = 0;
		unsigned base;
		char sign = 0;

		if (*f != '%') {
			put(&o, *f, 1);
			continue;
		}
		for (f++; *f == '-' || *f == '0'; f++) {
			if (*f == '-')
				left = 1;
			else
				zero = 1;
		}
		for (; *f >= '0' && *f <= '9'; f++)
			w = w * 10 + (size_t)(*f - '0');
		for (; *f == 'l'; f++)
			lng++;
		if (*f == 'z') {
			z = 1;
			f++;
		}
		switch (*f) {
		case 'd': {
			long long x;

			if (z)
				goto unsupported;       /* %zd: ssize_t */
			x = lng > 1 ? va_arg(ap, long long) :
			              lng ? va_arg(ap, long) : va_arg(ap, int);
			/* negate as unsigned: LLONG_MIN has no positive twin */
			v = x < 0 ? 0 - (unsigned long long)x : (unsigned long long)x;
			if (x < 0)
				sign = '-';
			goto number;
		}
		case 'u':
		case 'x':
			v = z ? va_arg(ap, size_t) :
			    lng > 1 ? va_arg(ap, unsigned long long) :
			    lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
		number:
			base = *f == 'x' ? 16 : 10;
			do {
				*--d = "0123456789abcdef"[v % base];
				v /= base;
			} while (v);
			s = d;
			n = (size_t)(tmp + sizeof tmp - d);
			break;
		case 's':
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			n = strlen(s);
			zero = 0;
			break;
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			s = tmp;
			n = 1;
			zero = 0;
			break;
		case '%':
			s = "%";
			n = 1;
			break;
		default:
		unsupported:
			/* not supported: mark it and stop, the arguments can no
			 * longer be matched */
			put(&o, '?', 1);
			goto end;
		}
		n += sign != 0;
		pad = w > n ? w - n : 0;
		if (left)
			zero = 0;
		if (!left && !zero)
			put(&o, ' ', pad);
		if (sign)
			put(&o, sign, 1);
		if (zero)
			put(&o, '0', pad);
		for (n -= sign != 0; n; n--)
			put(&o, *s++, 1);
		if (left)
			put(&o, ' ', pad);
	}
end:
	if (size)
		buf[o.n < size ? o.n : size - 1] = '\0';
	return o.n;
}

size_t fmt_into(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, f);
	n = fmt_vinto(buf, size, f, ap);
	va_end(ap);
	return n;
}
