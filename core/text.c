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

long text_b64_decode(void *dst, size_t cap, const char *src, size_t n)
{
	static const char al[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char *out = dst;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i, pad = 0, len = 0;

	/* at most two '=', and only to fill the last group of four */
	while (n > 0 && src[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if ((pad && (n + pad) % 4) || n % 4 == 1)
		return -1;
	/* 6 bits in, a whole octet out when there are 8: an octet is
	 * written only after the input it overwrites was read */
	for (i = 0; i < n; i++) {
		const char *c = src[i] ? strchr(al, src[i]) : NULL;

		if (!c)
			return -1;
		acc = acc << 6 | (uint32_t)(c - al);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len == cap)
				return -1;
			out[len++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)len;
}

void text_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

/* Days since 1970-01-01 to a civil date, after Howard Hinnant's
 * civil_from_days: exact for any int64 day. */
void text_date(int64_t t, struct text_date *d)
{
	int64_t days = t / 86400, secs = t % 86400, era;
	unsigned doe, yoe, doy, mp;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	d->hour = (unsigned)(secs / 3600);
	d->min = (unsigned)(secs / 60 % 60);
	d->sec = (unsigned)(secs % 60);
	d->wday = (unsigned)(((days % 7) + 7 + 4) % 7);   /* day 0 was a Thursday */
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = (unsigned)(days - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d->mday = doy - (153 * mp + 2) / 5 + 1;
	d->mon = mp < 10 ? mp + 3 : mp - 9;
	d->year = (int64_t)yoe + era * 400 + (d->mon <= 2);
}
