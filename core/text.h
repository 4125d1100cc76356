/* Small text helpers for core/, which may not use the C library's locale or
 * stdio: ASCII-only case rules, decimal formatting, parsing. */
#ifndef MAILNOOK_TEXT_H
#define MAILNOOK_TEXT_H

#include <stddef.h>
#include <stdint.h>

static inline int text_lower_c(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* 0 when equal ignoring ASCII case. */
int text_casecmp(const char *a, const char *b);
/* 0 when a[0..n) equals b[0..n) ignoring ASCII case. */
int text_ncasecmp(const char *a, const char *b, size_t n);
void text_lower(char *s);
/* Writes v in decimal, NUL-terminated; returns the length (buf >= 21). */
size_t text_u64(char *buf, uint64_t v);
/* Parses all of s[0..n) as a decimal number; -1 on junk or overflow. */
int text_parse_u64(const char *s, size_t n, uint64_t *out);
/* Copies src into dst[size], cut to fit, NUL-terminated; returns the length. */
size_t text_copy(char *dst, size_t size, const char *src);

/* Decodes base64 (RFC 4648 section 4) src[0..n) into dst, which may be
 * src itself (the output never overtakes the input); the final "=" padding
 * may be left out.  Returns the decoded length, or -1 for anything else:
 * a character outside the alphabet (spaces included), "=" before the end,
 * a length that no encoding has, or more than cap octets of output. */
long text_b64_decode(void *dst, size_t cap, const char *src, size_t n);

/* UNIX time t as a UTC date and time of day, proleptic Gregorian, exact
 * for any t (no C library time code: in a static build gmtime_r brings
 * the time zone code).  wday: 0 is Sunday. */
struct text_date {
	int64_t year;
	unsigned mon;           /* 1-12 */
	unsigned mday;          /* 1-31 */
	unsigned hour, min, sec;
	unsigned wday;
};
void text_date(int64_t t, struct text_date *d);

/* Overwrites p[0..n) with zeros in a way the compiler may not drop (a dead
 * store to a buffer about to go out of use is otherwise fair game). */
void text_wipe(void *p, size_t n);

#endif
