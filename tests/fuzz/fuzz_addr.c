/*
 * libFuzzer target: addr_parse_path() on an exact-size heap copy of the
 * input (no NUL after it, so ASan sees any read past n).
 *
 *   byte 0: bit 0 utf8 (SMTPUTF8), bit 1 allow_null, bit 2 allow_postmaster
 *   the rest: the path, starting at '<'
 *
 * Invariants on ADDR_OK: 2 <= consumed <= n and the path ends at '>';
 * local, domain and text are NUL-terminated inside their fields and within
 * their RFC 5321 lengths; none holds a control character; octets above 0x7f
 * only with utf8, and then has_utf8 says so; <> only with allow_null,
 * <postmaster> only with allow_postmaster; text ends in "@" domain; and
 * parsing exactly the consumed octets again gives the same result.
 *
 * One grammar for RCPT and the configuration: the input without its '<'
 * and '>' goes to addr_parse_mailbox() as well, which must agree with
 * addr_parse_path() (the configuration's checks are built on it).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_addr: invariant failed: %s (line %d)\n", \
		        #cond, __LINE__); \
		abort(); \
	} \
} while (0)

/* Length of a NUL-terminated field of size cap; aborts when unterminated. */
static size_t field_len(const char *f, size_t cap)
{
	const char *z = memchr(f, '\0', cap);

	CHECK(z != NULL);
	return (size_t)(z - f);
}

static void check_text(const char *f, size_t n, int utf8, int has_utf8)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)f[i];

		CHECK(c >= 0x20 && c != 0x7f);
		if (c >= 0x80)
			CHECK(utf8 && has_utf8);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct smtp_addr a, b;
	int utf8, null, pm;
	size_t n, end = (size_t)-1, end2 = (size_t)-1, ll, dl, tl;
	char *s;
	enum addr_result r, r2;

	if (size < 1)
		return 0;
	utf8 = data[0] & 1;
	null = (data[0] >> 1) & 1;
	pm = (data[0] >> 2) & 1;
	n = size - 1;
	s = malloc(n);
	if (!s)
		return 0;
	memcpy(s, data + 1, n);

	r = addr_parse_path(s, n, utf8, null, pm, &a, &end);
	CHECK(r == ADDR_OK || r == ADDR_SYNTAX || r == ADDR_TOO_LONG);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>' && s[1] != '@') {
		/* "<" MAILBOX ">" and nothing after: a path exactly when a
		 * mailbox (bare <postmaster> and <> apart) */
		r2 = addr_parse_mailbox(s + 1, n - 2, utf8, &b);
		if (r == ADDR_OK && end == n && !a.is_null && !a.is_postmaster) {
			CHECK(r2 == ADDR_OK);
			CHECK(memcmp(&a, &b, sizeof(a)) == 0);
		} else {
			CHECK(r2 != ADDR_OK);
		}
	}
	if (r != ADDR_OK) {
		free(s);
		return 0;
	}
	CHECK(end >= 2 && end <= n);
	CHECK(s[0] == '<' && s[end - 1] == '>');
	ll = field_len(a.local, sizeof(a.local));
	dl = field_len(a.domain, sizeof(a.domain));
	tl = field_len(a.text, sizeof(a.text));
	CHECK(ll <= ADDR_LOCAL_MAX && dl <= ADDR_DOMAIN_MAX);
	CHECK(tl + 2 <= ADDR_PATH_MAX);
	check_text(a.local, ll, utf8, a.has_utf8);
	check_text(a.domain, dl, utf8, a.has_utf8);
	check_text(a.text, tl, utf8, a.has_utf8);
	if (!utf8)
		CHECK(!a.has_utf8);
	CHECK(!(a.is_null && a.is_postmaster));
	if (a.is_null) {
		CHECK(null && end == 2 && ll == 0 && dl == 0 && tl == 0);
	} else if (a.is_postmaster) {
		CHECK(pm && dl == 0 && ll == 10 && strcmp(a.text, a.local) == 0);
	} else {
		/* only a quoted local part may be empty: <""@domain> */
		CHECK((ll > 0 || a.text[0] == '"') && dl > 0 && tl > dl);
		CHECK(a.text[tl - dl - 1] == '@');
		CHECK(memcmp(a.text + tl - dl, a.domain, dl) == 0);
	}

	/* the octets consumed alone give the very same path */
	r2 = addr_parse_path(s, end, utf8, null, pm, &b, &end2);
	CHECK(r2 == ADDR_OK && end2 == end);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	free(s);
	return 0;
}
