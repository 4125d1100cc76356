/* see conf_int.h: addresses, networks and names in option values */
#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "conf_hash.h"
#include "conf_int.h"
#include "text.h"

/* ---- addresses, networks, names ---- */

/* The configuration reads IP addresses with addr.c's parsers, the very
 * ones address literals in RCPT go through. */
int cf_parse_ip4(const char *s, size_t n, uint8_t out[4])
{
	return addr_ip4(s, n, out);
}

int cf_parse_ip6(const char *s, size_t n, uint8_t out[16])
{
	return addr_ip6(s, n, out);
}

/* addr.h's enum addr_why, worded for a configuration value: one string,
 * a NUL after each message, in the enum's order from ADDR_WHY_NO_AT
 * (smaller than a table of pointers). */
static const char why_text[] =
	"not an address (local@domain, or @domain for a catch-all)\0"
	"a character not allowed in a local part\0"
	/* RCPT refuses them unquoted (RFC 5321 Dot-string) */
	"a leading, trailing or doubled dot in the local part (quote it)\0"
	"a quote is not closed\0"
	"more than one '@'\0"
	"empty domain\0"
	"only letters, digits, '-' and '.' are allowed in a domain\0"
	"empty label (a leading, trailing or doubled dot)\0"
	"a label starts with '-'\0"
	"a label ends with '-'\0"
	"bad address literal ([a.b.c.d] or [IPv6:...])\0"
	"not ASCII (write an internationalised domain as its xn-- form)\0"
	"not valid UTF-8\0"
	"local part longer than 64 octets\0"
	"domain longer than 255 octets\0"
	"address longer than 254 octets\0";

static const char *why_not(unsigned why)
{
	const char *s = why_text;

	/* ADDR_WHY_SYNTAX (only around a path) reads as ADDR_WHY_NO_AT */
	if (why)
		why--;
	while (why-- && s[strlen(s) + 1])
		s += strlen(s) + 1;
	return s;
}

/* A domain name or an address literal [a.b.c.d] / [IPv6:...], as addr.c
 * reads the part after '@', and then what a configured domain must also
 * be: ASCII (RCPT compares it octet for octet, so the xn-- form), LDH
 * labels of at most 63 octets (RFC 1035; RCPT takes '_' and longer labels
 * only to answer 550), no bare IPv4 address, no general literal (it names
 * no address of this host).  Returns why not, or NULL. */
const char *cf_check_domain(const char *s)
{
	size_t n = strlen(s), i, label = 0;
	struct smtp_addr a;
	uint8_t ip[4];

	if (addr_parse_domain(s, n, 0, &a) != ADDR_OK) {
		if (a.why == ADDR_WHY_LITERAL && s[n - 1] != ']')
			return "bad address literal (missing ']')";
		return why_not(a.why);
	}
	if (s[0] == '[') {
		if (memchr(s, ':', n) && text_ncasecmp(s + 1, "ipv6:", 5) != 0)
			return why_not(ADDR_WHY_LITERAL);
		return NULL;
	}
	if (addr_ip4(s, n, ip) == 0)
		return "an IP address, not a domain (an address literal is written [a.b.c.d])";
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			label = 0;
		} else if (s[i] == '_') {
			return why_not(ADDR_WHY_DOMAIN_CHAR);
		} else if (++label > 63) {
			return "a label is longer than 63 octets";
		}
	}
	return NULL;
}

/* "local@domain" as RCPT reads it (quoted local parts and UTF-8 included),
 * or "@domain" (a catch-all).  A quoted local part is rewritten in place to
 * its unquoted text, which is what RCPT looks up.  Returns why not, or
 * NULL. */
const char *cf_check_address(char *s)
{
	struct smtp_addr a;
	const char *why;
	size_t ll, dl;

	if (s[0] == '@') {
		if (strchr(s + 1, '@'))
			return why_not(ADDR_WHY_AT);
		why = cf_check_domain(s + 1);
		if (!why && strlen(s) + 1 > ADDR_PATH_MAX - 2)
			return why_not(ADDR_WHY_PATH_LONG);
		return why;
	}
	if (addr_parse_mailbox(s, strlen(s), 1, &a) != ADDR_OK)
		return why_not(a.why);
	ll = strlen(a.local);
	if (ll == 0)
		return "empty local part";
	/* the lookup key's domain starts after its first '@' */
	if (memchr(a.local, '@', ll))
		return "'@' in a quoted local part";
	why = cf_check_domain(a.domain);
	if (why)
		return why;
	dl = strlen(a.domain);
	memcpy(s, a.local, ll);
	s[ll] = '@';
	memcpy(s + ll + 1, a.domain, dl + 1);
	return NULL;
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

int cf_host_bits_clear(uint8_t *a, unsigned len, unsigned bits)
{
	unsigned i, set = 0;

	for (i = 0; i < len; i++) {
		unsigned keep = bits >= (i + 1) * 8 ? 8 : bits > i * 8 ? bits - i * 8 : 0;
		uint8_t mask = (uint8_t)(keep ? 0xff << (8 - keep) : 0);

		set |= a[i] & (uint8_t)~mask;
		a[i] &= mask;
	}
	return set != 0;
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
