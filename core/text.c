#include "text.h"

#include <string.h>

int text_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int d = text_lower_c((unsigned char)*a) - text_lower_c((unsigned char)*b);
		if (d || !*a)
			return d;
	}
}

int text_ncasecmp(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int d = text_lower_c((unsigned char)a[i]) - text_lower_c((unsigned char)b[i]);
		if (d)
			return d;
	}
	return 0;
}

void text_lower(char *s)
{
	for (; *s; s++)
		*s = (char)text_lower_c((unsigned char)*s);
}

size_t text_u64(char *buf, uint64_t v)
{
	char tmp[21];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

int text_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

size_t text_copy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}
