/* see conf_int.h: addresses, networks and names in option values */
#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "conf_hash.h"
#include "conf_int.h"
#include "text.h"

/* ---- addresses, networks, names ---- */

int cf_hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = text_lower_c(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Dotted quad, four decimal parts 0..255, no leading zeros. */
int cf_parse_ip4(const char *s, size_t n, uint8_t out[4])
{
	unsigned part = 0, v = 0, digits = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= '0' && ch <= '9') {
			if (digits && v == 0)
				return -1;
			v = v * 10 + (ch - '0');
			if (v > 255)
				return -1;
			digits++;
		} else if (ch == '.') {
			if (!digits || part == 3)
				return -1;
			out[part++] = (uint8_t)v;
			v = digits = 0;
		} else {
			return -1;
		}
	}
	if (!digits || part != 3)
		return -1;
	out[3] = (uint8_t)v;
	return 0;
}

/* RFC 4291 2.2 text: eight groups, one "::", an IPv4 tail. */
int cf_parse_ip6(const char *s, size_t n, uint8_t out[16])
{
	uint8_t t[16];
	size_t i = 0, tp = 0, tok, colonp = (size_t)-1;
	unsigned v = 0, digits = 0;

	memset(t, 0, sizeof(t));
	if (n == 0)
		return -1;
	if (s[0] == ':') {
		if (n < 2 || s[1] != ':')
			return -1;
		i = 1;
	}
	tok = i;
	for (; i < n; i++) {
		int h = cf_hexval((unsigned char)s[i]);
		if (h >= 0) {
			if (++digits > 4)
				return -1;
			v = v << 4 | (unsigned)h;
			continue;
		}
		if (s[i] == ':') {
			tok = i + 1;
			if (!digits) {
				if (colonp != (size_t)-1)
					return -1;
				colonp = tp;
				continue;
			}
			if (i + 1 == n || tp + 2 > 16)
				return -1;
			t[tp++] = (uint8_t)(v >> 8);
			t[tp++] = (uint8_t)v;
			v = digits = 0;
			continue;
		}
		if (s[i] == '.' && tp + 4 <= 16 &&
		    cf_parse_ip4(s + tok, n - tok, t + tp) == 0) {
			tp += 4;
			digits = 0;
			break;
		}
		return -1;
	}
	if (digits) {
		if (tp + 2 > 16)
			return -1;
		t[tp++] = (uint8_t)(v >> 8);
		t[tp++] = (uint8_t)v;
	}
	if (colonp != (size_t)-1) {
		size_t moved = tp - colonp;
		if (tp == 16)
			return -1;
		memmove(t + 16 - moved, t + colonp, moved);
		memset(t + colonp, 0, 16 - tp);
		tp = 16;
	}
	if (tp != 16)
		return -1;
	memcpy(out, t, 16);
	return 0;
}

static int is_alnum(int ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z');
}

/* A domain name (LDH labels) or an address literal [a.b.c.d] /
 * [IPv6:...].  Returns why not, or NULL. */
const char *cf_check_domain(const char *s)
{
	size_t n = strlen(s), i, label = 0;
	uint8_t ip[16];

	if (n == 0)
		return "empty domain";
	if (n > ADDR_DOMAIN_MAX)
		return "domain longer than 255 octets";
	if (s[0] == '[') {
		if (s[n - 1] != ']')
			return "bad address literal (missing ']')";
		if (n > 6 && text_ncasecmp(s + 1, "ipv6:", 5) == 0) {
			if (cf_parse_ip6(s + 6, n - 7, ip) == 0)
				return NULL;
		} else if (cf_parse_ip4(s + 1, n - 2, ip) == 0) {
			return NULL;
		}
		return "bad address literal ([a.b.c.d] or [IPv6:...])";
	}
	if (cf_parse_ip4(s, n, ip) == 0)
		return "an IP address, not a domain (an address literal is written [a.b.c.d])";
	for (i = 0; i <= n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '.' || ch == '\0') {
			if (label == 0)
				return "empty label (a leading, trailing or doubled dot)";
			if (s[i - 1] == '-')
				return "a label ends with '-'";
			label = 0;
			continue;
		}
		if (ch >= 0x80)
			return "not ASCII (write an internationalised domain as its xn-- form)";
		if (!is_alnum(ch) && ch != '-')
			return "only letters, digits, '-' and '.' are allowed in a domain";
		if (label == 0 && ch == '-')
			return "a label starts with '-'";
		if (++label > 63)
			return "a label is longer than 63 octets";
	}
	return NULL;
}

/* "local@domain" or "@domain" (a catch-all).  Returns why not, or NULL. */
const char *cf_check_address(const char *s)
{
	const char *at = strchr(s, '@'), *q;

	if (!at)
		return "not an address (local@domain, or @domain for a catch-all)";
	if (strchr(at + 1, '@'))
		return "more than one '@'";
	if (at - s > ADDR_LOCAL_MAX)
		return "local part longer than 64 octets";
	for (q = s; q < at; q++) {
		unsigned char ch = (unsigned char)*q;
		if (!is_alnum(ch) && ch < 0x80 && !strchr("!#$%&'*+-/=?^_`{|}~.", ch))
			return "a character not allowed in a local part";
	}
	return cf_check_domain(at + 1);
}
int cf_prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, net, full) != 0)
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((a[full] & mask) != (net[full] & mask))
			return 0;
	}
	return 1;
}

int cf_host_bits_set(const uint8_t *a, unsigned len, unsigned bits)
{
	unsigned i;

	for (i = 0; i < len; i++) {
		unsigned keep = bits >= (i + 1) * 8 ? 8 : bits > i * 8 ? bits - i * 8 : 0;
		uint8_t mask = (uint8_t)(keep ? 0xff << (8 - keep) : 0);
		if (a[i] & (uint8_t)~mask)
			return 1;
	}
	return 0;
}
int conf_allowed(const struct mn_config *c, int v6, const uint8_t *addr)
{
	return c->n_allow == 0 || conf_cidr_match(c->allow_from, c->n_allow, v6, addr);
}

int conf_cidr_match(const struct conf_cidr *list, unsigned n, int v6,
                    const uint8_t *addr)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint8_t a6[16];
	const uint8_t *a4 = NULL;
	unsigned i;

	if (v6) {
		memcpy(a6, addr, 16);
		if (memcmp(addr, mapped, 12) == 0)
			a4 = addr + 12;
	} else {
		memcpy(a6, mapped, 12);
		memcpy(a6 + 12, addr, 4);
		a4 = addr;
	}
	for (i = 0; i < n; i++) {
		const struct conf_cidr *r = &list[i];
		if (r->v6 ? cf_prefix_match(a6, r->addr, r->bits)
		          : a4 && cf_prefix_match(a4, r->addr, r->bits))
			return 1;
	}
	return 0;
}
