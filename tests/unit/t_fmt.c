/* fmt_into(): mailnook's own printf, checked against the C library's snprintf
 * for every conversion it supports, at every buffer size from 0 to past
 * the end; addr_ip_text() against inet_ntop(). */
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "fmt.h"
#include "tap.h"

/* The C library's, through a va_list, where gcc does not warn of the
 * truncation that is the point of the test. */
static int __attribute__((format(printf, 3, 4)))
ref(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	return n;
}

/* Each size 0..want+2 into a buffer with guard bytes: the same length
 * returned, the same text, nothing written past size. */
#define SAME(f, ...) do { \
	char w_[200], g_[210]; \
	int wn_ = snprintf(w_, sizeof w_, f, __VA_ARGS__); \
	size_t sz_, bad_ = 0; \
	for (sz_ = 0; sz_ <= (size_t)wn_ + 2; sz_++) { \
		char e_[200]; \
		size_t n_; \
		memset(g_, 'G', sizeof g_); \
		n_ = fmt_into(sz_ ? g_ : NULL, sz_, f, __VA_ARGS__); \
		(void)ref(e_, sz_ ? sz_ : 1, f, __VA_ARGS__); \
		if (n_ != (size_t)wn_ || (sz_ && strcmp(g_, e_) != 0) || \
		    g_[sz_] != 'G') \
			bad_++; \
	} \
	(void)fmt_into(g_, sizeof g_, f, __VA_ARGS__); \
	ok(bad_ == 0 && strcmp(g_, w_) == 0, "%-14s -> \"%s\" at every size", \
	   #f " " #__VA_ARGS__, w_); \
} while (0)

int main(void)
{
	SAME("%s", "");
	SAME("%s", "abc");
	SAME("x%sy%sz", "1", "22");
	SAME("%-30s|", "ab");
	SAME("%-3s|", "abcdef");
	SAME("%5s|", "ab");
	SAME("%c%c", 'a', 'Z');
	SAME("%3c|", 'q');
	SAME("%d", 0);
	SAME("%d", -1);
	SAME("%d", 42);
	SAME("%d", INT_MAX);
	SAME("%d", INT_MIN);
	SAME("%02d", 0);
	SAME("%02d", 7);
	SAME("%02d", 59);
	SAME("%02d", 123);
	SAME("%02d", -5);
	SAME("%04d", 2026);
	SAME("%04d", 12);
	SAME("%04d", -12);
	SAME("%5d|", -12);
	SAME("%-5d|", -12);
	SAME("%u", 0u);
	SAME("%u", UINT_MAX);
	SAME("%ld", 0L);
	SAME("%ld", LONG_MIN);
	SAME("%ld", LONG_MAX);
	SAME("%lu", ULONG_MAX);
	SAME("%lld", 0LL);
	SAME("%lld", -1LL);
	SAME("%lld", LLONG_MIN);
	SAME("%lld", LLONG_MAX);
	SAME("%llu", 0ULL);
	SAME("%llu", ULLONG_MAX);
	SAME("%zu", (size_t)0);
	SAME("%zu", SIZE_MAX);
	SAME("%x", 0u);
	SAME("%x", 0xabcdu);
	SAME("%x", UINT_MAX);
	SAME("%lx", ULONG_MAX);
	SAME("%016lx", 0x1fUL);
	SAME("%016lx", ULONG_MAX);
	SAME("%%%s", "");
	SAME("100%% %d%%", 5);
	SAME("%04d-%02d-%02dT%02d:%02d:%02dZ mailnook[%ld]: %s\n",
	     2026, 1, 2, 3, 4, 5, 123L, "line");
	{
		char b[8];
		const char *volatile null = NULL;

		is_int((int)fmt_into(b, sizeof b, "%s", null), 6,
		       "%%s of NULL: the length of (null)");
		is_str(b, "(null)", "  and the text");
	}

	{
		/* outside the supported set: '?' and nothing more, since the
		 * arguments after it can no longer be told apart */
		static const char *const odd[] = { "a%fb%s", "a%zdb%s", "a%",
		                                   "a%.3sb%s", "a%pb%s" };
		char b[16];
		unsigned i;

		for (i = 0; i < sizeof odd / sizeof odd[0]; i++) {
			const char *volatile f = odd[i];

			is_int((int)fmt_into(b, sizeof b, f, "x"), 2,
			       "unsupported \"%s\": the length", odd[i]);
			is_str(b, "a?", "  the text");
		}
	}

	/* addr_ip_text() */
	{
		static const char *const v6[] = {
			"::", "::1", "1::", "1:0:0:1:0:0:0:1", "1:0:0:0:1:0:0:1",
			"::ffff:1.2.3.4", "::ffff:0.0.0.0", "fe80::1",
			"2001:db8::", "2001:db8:0:1:1:1:1:1", "2001:db8::1:0:0:1",
			"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
			"0:1:0:1:0:1:0:1", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8",
			"abcd:ef01:2345:6789:abcd:ef01:2345:6789",
			"1:0:1:0:0:1:0:0", "ffff::", "::ffff:0:1",
		};
		static const char *const v4[] = {
			"0.0.0.0", "127.0.0.1", "255.255.255.255", "10.0.200.9",
		};
		uint8_t bin[16];
		char got[ADDR_IP_TEXT_MAX], want[INET6_ADDRSTRLEN];
		uint32_t seed = 12345;
		unsigned i, j, bad = 0, n = 0;

		for (i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
			if (inet_pton(AF_INET6, v6[i], bin) != 1) {
				ok(0, "inet_pton %s", v6[i]);
				continue;
			}
			(void)inet_ntop(AF_INET6, bin, want, sizeof want);
			is_int((int)addr_ip_text(got, 1, bin), (int)strlen(want),
			       "IPv6 %s: the length", v6[i]);
			is_str(got, want, "  the text");
		}
		for (i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
			(void)inet_pton(AF_INET, v4[i], bin);
			is_int((int)addr_ip_text(got, 0, bin), (int)strlen(v4[i]),
			       "IPv4 %s: the length", v4[i]);
			is_str(got, v4[i], "  the text");
		}
		/* glibc writes ::1.2.3.4 (IPv4-compatible, deprecated by RFC
		 * 4291 2.5.5.1) where RFC 5952 and musl write hex */
		memset(bin, 0, 16);
		bin[12] = 1, bin[13] = 2, bin[14] = 3, bin[15] = 4;
		(void)addr_ip_text(got, 1, bin);
		is_str(got, "::102:304", "IPv4-compatible ::1.2.3.4 in hex");

		/* many addresses with many zero groups */
		for (i = 0; i < 20000; i++) {
			for (j = 0; j < 8; j++) {
				seed = seed * 1103515245u + 12345u;
				unsigned r = seed >> 16;
				unsigned g = r % 3 == 0 ? r >> 4 & 0xffff :
				             r % 5 == 1 ? 0xffff : r % 7 == 1 ? 1 : 0;
				bin[2 * j] = (uint8_t)(g >> 8);
				bin[2 * j + 1] = (uint8_t)g;
			}
			if (memcmp(bin, "\0\0\0\0\0\0\0\0\0\0\0\0", 12) == 0)
				continue;       /* the compatible form, above */
			(void)inet_ntop(AF_INET6, bin, want, sizeof want);
			n++;
			if (addr_ip_text(got, 1, bin) != strlen(want) ||
			    strcmp(got, want) != 0) {
				if (bad++ < 5)
					printf("# got %s want %s\n", got, want);
			}
		}
		ok(bad == 0 && n > 10000, "%u pseudo-random IPv6 addresses as inet_ntop writes them", n);
	}
	return tap_done();
}
