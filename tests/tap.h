/*
 * A tiny TAP producer for the C unit tests, run by prove(1).
 *   ok(cond, "name %d", i);  is_int(got, want, "name");
 *   is_str(got, want, "name");  is_mem(got, glen, want, wlen, "name");
 *   tap_skip("why");  return tap_done();
 */
#ifndef MAILNOOK_TAP_H
#define MAILNOOK_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

static void tap_vline(int pass, const char *file, int line, const char *fmt,
                      va_list ap)
{
	tap_count++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_count);
	vprintf(fmt, ap);
	printf("\n");
	if (!pass)
		printf("#   failed at %s line %d\n", file, line);
	fflush(stdout);
}

static int __attribute__((format(printf, 4, 5), unused))
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline(pass, file, line, fmt, ap);
	va_end(ap);
	return pass;
}

static void __attribute__((unused)) tap_diag_mem(const char *what, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	printf("#   %s (%zu): \"", what, n);
	for (i = 0; i < n && i < 400; i++) {
		if (c[i] == '\r')
			printf("\\r");
		else if (c[i] == '\n')
			printf("\\n");
		else if (c[i] < 0x20 || c[i] >= 0x7f)
			printf("\\x%02x", c[i]);
		else
			putchar(c[i]);
	}
	printf("%s\"\n", i < n ? "..." : "");
}

/* A test that cannot run here: counted, with the reason, as TAP says. */
static void __attribute__((unused)) tap_skip(const char *why)
{
	tap_count++;
	printf("ok %d # skip %s\n", tap_count, why);
	fflush(stdout);
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!tap_ok(g_ == w_, __FILE__, __LINE__, __VA_ARGS__)) \
		printf("#   got %lld, want %lld\n", g_, w_); \
} while (0)

#define is_str(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	int p_ = g_ && w_ && strcmp(g_, w_) == 0; \
	if (!tap_ok(p_, __FILE__, __LINE__, __VA_ARGS__)) { \
		tap_diag_mem("got ", g_ ? g_ : "(null)", g_ ? strlen(g_) : 6); \
		tap_diag_mem("want", w_ ? w_ : "(null)", w_ ? strlen(w_) : 6); \
	} \
} while (0)

#define is_mem(got, glen, want, wlen, ...) do { \
	const void *g_ = (got), *w_ = (want); \
	size_t gl_ = (glen), wl_ = (wlen); \
	int p_ = gl_ == wl_ && memcmp(g_, w_, gl_) == 0; \
	if (!tap_ok(p_, __FILE__, __LINE__, __VA_ARGS__)) { \
		tap_diag_mem("got ", g_, gl_); \
		tap_diag_mem("want", w_, wl_); \
	} \
} while (0)

static int __attribute__((unused)) tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
