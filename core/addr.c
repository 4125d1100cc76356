/* see addr.h
 *
 * RFC 5321 4.1.2, with RFC 6531 3.3 for UTF-8:
 *
 *   Path          = "<" [ A-d-l ":" ] Mailbox ">"
 *   A-d-l         = At-domain *( "," At-domain )      (skipped)
 *   Mailbox       = Local-part "@" ( Domain / address-literal )
 *   Local-part    = Dot-string / Quoted-string
 *   Dot-string    = Atom *( "." Atom )
 *   Quoted-string = DQUOTE *( qtextSMTP / "\" %d32-126 ) DQUOTE
 *
 * Every index is checked against n before the byte is read: the parser
 * never looks past s[n - 1], whatever the input.  Lengths are checked on the
 * text as sent, before anything is copied, so the fixed fields of struct
 * smtp_addr cannot overflow.
 */
#include "addr.h"

#include <string.h>

#include "fmt.h"
#include "text.h"

static int is_alnum(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int is_atext(unsigned c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", (int)c));
}

/* Length of the well-formed UTF-8 sequence (2..4 octets, no overlong form,
 * no surrogate, at most U+10FFFF) at u[0..n), or 0. */
static size_t utf8_seq(const unsigned char *u, size_t n)
{
	size_t len, i;
	unsigned lo = 0x80, hi = 0xbf;

	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		len = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		len = 3;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (u[0] == 0xe0)
		lo = 0xa0;
	else if (u[0] == 0xed)
		hi = 0x9f;
	else if (u[0] == 0xf0)
		lo = 0x90;
	else if (u[0] == 0xf4)
		hi = 0x8f;
	if (n < len || u[1] < lo || u[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (u[i] < 0x80 || u[i] > 0xbf)
			return 0;
	return len;
}

/* Domain = sub-domain *("." sub-domain), each label 1*(alnum / "-" / "_" /
 * UTF-8 with utf8) not beginning or ending with "-".  The underscore is not
 * RFC 5321 but common in the wild (Postfix accepts it too).  Advances *i to
 * the first octet after the domain. */
static enum addr_result parse_domain(const unsigned char *u, size_t n,
                                     size_t *i, int utf8, uint8_t *has8)
{
	size_t j = *i;

	for (;;) {
		size_t label = j;
		unsigned last = 0;

		while (j < n) {
			unsigned c = u[j];

			if (is_alnum(c) || c == '-' || c == '_') {
				j++;
			} else if (c >= 0x80) {
				size_t k;

				if (!utf8 || !(k = utf8_seq(u + j, n - j)))
					return ADDR_SYNTAX;
				*has8 = 1;
				j += k;
			} else {
				break;
			}
			last = c;
			if (j - *i > ADDR_DOMAIN_MAX)
				return ADDR_TOO_LONG;
		}
		if (j == label || u[label] == '-' || last == '-')
			return ADDR_SYNTAX;
		if (j < n && u[j] == '.') {
			j++;
			continue;
		}
		break;
	}
	*i = j;
	return ADDR_OK;
}

/* The inside of an address literal, u[0..n) without the brackets:
 * IPv4 dotted quad, "IPv6:" hex/colons/dots, or a general "tag:content". */
static int literal_ok(const unsigned char *u, size_t n)
{
	size_t i;

	if (n > 5 && text_ncasecmp((const char *)u, "IPv6:", 5) == 0) {
		size_t colons = 0;

		for (i = 5; i < n; i++) {
			unsigned c = u[i];

			if (c == ':')
				colons++;
			else if (!(c == '.' || (c >= '0' && c <= '9') ||
			           (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
				return 0;
		}
		return colons >= 2;
	}
	if (memchr(u, ':', n)) {
		/* General-address-literal: Standardized-tag ":" 1*dcontent */
		for (i = 0; u[i] != ':'; i++)
			if (!is_alnum(u[i]) && u[i] != '-')
				return 0;
		return i > 0 && i + 1 < n;
	} else {
		unsigned parts = 0, val = 0, digits = 0;

		for (i = 0; i <= n; i++) {
			if (i == n || u[i] == '.') {
				if (!digits || val > 255)
					return 0;
				parts++;
				val = digits = 0;
			} else if (u[i] >= '0' && u[i] <= '9' && digits < 3) {
				val = val * 10 + (u[i] - '0');
				digits++;
			} else {
				return 0;
			}
		}
		return parts == 4;
	}
}

enum addr_result addr_parse_path(const char *s, size_t n, int utf8,
                                 int allow_null, int allow_postmaster,
                                 struct smtp_addr *out, size_t *end)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, start, llen = 0, dstart;
	int quoted = 0, routed = 0;
	enum addr_result r;

	memset(out, 0, sizeof(*out));
	if (n < 2 || u[0] != '<')
		return ADDR_SYNTAX;
	if (u[1] == '>') {
		if (!allow_null)
			return ADDR_SYNTAX;
		out->is_null = 1;
		*end = 2;
		return ADDR_OK;
	}
	i = 1;

	/* Source route "@a,@b:" (RFC 5321 appendix C): checked, then ignored. */
	if (u[i] == '@') {
		routed = 1;
		for (;;) {
			i++;
			r = parse_domain(u, n, &i, utf8, &out->has_utf8);
			if (r != ADDR_OK)
				return r;
			if (i + 1 < n && u[i] == ',' && u[i + 1] == '@') {
				i++;
				continue;
			}
			if (i < n && u[i] == ':') {
				i++;
				break;
			}
			return ADDR_SYNTAX;
		}
	}

	/* Local part: copied unquoted into out->local as it is checked. */
	start = i;
	if (i < n && u[i] == '"') {
		quoted = 1;
		for (i++;; i++) {
			unsigned c;
			size_t k = 1;

			if (i >= n)
				return ADDR_SYNTAX;
			c = u[i];
			if (c == '"') {
				i++;
				break;
			}
			if (c == '\\') {
				if (++i >= n)
					return ADDR_SYNTAX;
				c = u[i];
				if (c < 32 || c > 126)
					return ADDR_SYNTAX;
			} else if (c < 32 || c == 127) {
				return ADDR_SYNTAX;
			} else if (c >= 0x80) {
				if (!utf8 || !(k = utf8_seq(u + i, n - i)))
					return ADDR_SYNTAX;
				out->has_utf8 = 1;
			}
			/* as sent, the closing quote included */
			if (i + k + 1 - start > ADDR_LOCAL_MAX)
				return ADDR_TOO_LONG;
			memcpy(out->local + llen, u + i, k);
			llen += k;
			i += k - 1;
		}
	} else {
		for (;;) {
			size_t atom = i;

			while (i < n) {
				size_t k = 1;

				if (u[i] >= 0x80) {
					if (!utf8 || !(k = utf8_seq(u + i, n - i)))
						return ADDR_SYNTAX;
					out->has_utf8 = 1;
				} else if (!is_atext(u[i])) {
					break;
				}
				if (i + k - start > ADDR_LOCAL_MAX)
					return ADDR_TOO_LONG;
				memcpy(out->local + llen, u + i, k);
				llen += k;
				i += k;
			}
			if (i == atom)
				return ADDR_SYNTAX;   /* empty atom: leading, trailing or double dot */
			if (i < n && u[i] == '.') {
				if (i + 1 - start > ADDR_LOCAL_MAX)
					return ADDR_TOO_LONG;
				out->local[llen++] = '.';
				i++;
				continue;
			}
			break;
		}
	}
	out->local[llen] = '\0';
	if (i >= n)
		return ADDR_SYNTAX;

	if (u[i] == '>') {
		/* Only the bare <postmaster> goes without a domain. */
		if (!allow_postmaster || quoted || routed ||
		    text_casecmp(out->local, "postmaster") != 0)
			return ADDR_SYNTAX;
		out->is_postmaster = 1;
		memcpy(out->text, out->local, llen + 1);
		*end = i + 1;
		return ADDR_OK;
	}
	if (u[i] != '@')
		return ADDR_SYNTAX;
	dstart = ++i;
	if (i < n && u[i] == '[') {
		for (i++; i < n && u[i] != ']'; i++) {
			if (u[i] < 33 || u[i] > 126 || u[i] == '[' || u[i] == '\\')
				return ADDR_SYNTAX;
			if (i - dstart >= ADDR_DOMAIN_MAX)
				return ADDR_TOO_LONG;
		}
		if (i >= n || !literal_ok(u + dstart + 1, i - dstart - 1))
			return ADDR_SYNTAX;
		i++;
	} else {
		r = parse_domain(u, n, &i, utf8, &out->has_utf8);
		if (r != ADDR_OK)
			return r;
	}
	if (i - dstart > ADDR_DOMAIN_MAX)
		return ADDR_TOO_LONG;
	if (i >= n || u[i] != '>')
		return ADDR_SYNTAX;
	/* RFC 5321 4.5.3.1.3: the path, "<" and ">" included, is at most 256. */
	if (i - start + 2 > ADDR_PATH_MAX)
		return ADDR_TOO_LONG;
	memcpy(out->domain, u + dstart, i - dstart);
	out->domain[i - dstart] = '\0';
	memcpy(out->text, u + start, i - start);
	out->text[i - start] = '\0';
	*end = i + 1;
	return ADDR_OK;
}

/* see addr.h */
int addr_same_client(int v6a, const uint8_t *a, int v6b, const uint8_t *b)
{
	return v6a == v6b && memcmp(a, b, v6a ? 8 : 4) == 0;
}

static size_t dotted(char *p, const uint8_t *b)
{
	return fmt_into(p, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
}

/* see addr.h */
size_t addr_ip_text(char *buf, int v6, const uint8_t *b)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	unsigned i, run, best = 8, blen = 1;
	size_t n = 0;
	int sep = 0;

	if (!v6)
		return dotted(buf, b);
	if (memcmp(b, mapped, 12) == 0) {
		memcpy(buf, "::ffff:", 7);
		return 7 + dotted(buf + 7, b + 12);
	}
	/* RFC 5952 4.2: the longest run of two or more zero groups, the
	 * first one on a tie, becomes "::" */
	for (i = 0; i < 8; i += run ? run : 1) {
		for (run = 0; i + run < 8 && !b[2 * (i + run)] &&
		     !b[2 * (i + run) + 1]; run++)
			;
		if (run > blen) {
			best = i;
			blen = run;
		}
	}
	for (i = 0; i < 8; i++) {
		if (i == best) {
			memcpy(buf + n, "::", 2);
			n += 2;
			i += blen - 1;
			sep = 0;
			continue;
		}
		if (sep)
			buf[n++] = ':';
		n += fmt_into(buf + n, 5, "%x",
		              (unsigned)(b[2 * i] << 8 | b[2 * i + 1]));
		sep = 1;
	}
	buf[n] = '\0';
	return n;
}
