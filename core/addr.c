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

/* Fails with why; the _LONG reasons are ADDR_TOO_LONG. */
static enum addr_result fail(struct smtp_addr *out, enum addr_why why)
{
	out->why = (uint8_t)why;
	return why >= ADDR_WHY_LOCAL_LONG ? ADDR_TOO_LONG : ADDR_SYNTAX;
}

/* The UTF-8 sequence at u[0..n) (u[0] > 0x7f): its length, or 0 after
 * fail() when utf8 is off or the sequence is malformed. */
static size_t eight_bit(const unsigned char *u, size_t n, int utf8,
                        struct smtp_addr *out)
{
	size_t k;

	if (!utf8) {
		fail(out, ADDR_WHY_8BIT);
		return 0;
	}
	k = utf8_seq(u, n);
	if (!k)
		fail(out, ADDR_WHY_UTF8);
	else
		out->has_utf8 = 1;
	return k;
}

/* Domain = sub-domain *("." sub-domain), each label 1*(alnum / "-" / "_" /
 * UTF-8 with utf8) not beginning or ending with "-".  The underscore is not
 * RFC 5321 but common in the wild (Postfix accepts it too).  Advances *i to
 * the first octet after the domain. */
static enum addr_result parse_domain(const unsigned char *u, size_t n,
                                     size_t *i, int utf8, struct smtp_addr *out)
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
				size_t k = eight_bit(u + j, n - j, utf8, out);

				if (!k)
					return ADDR_SYNTAX;
				j += k;
			} else {
				break;
			}
			last = c;
			if (j - *i > ADDR_DOMAIN_MAX)
				return fail(out, ADDR_WHY_DOMAIN_LONG);
		}
		if (j == label) {
			if (j > *i || (j < n && u[j] == '.'))
				return fail(out, ADDR_WHY_DOMAIN_DOT);
			return fail(out, j < n ? ADDR_WHY_DOMAIN_CHAR
			                       : ADDR_WHY_DOMAIN_EMPTY);
		}
		if (u[label] == '-')
			return fail(out, ADDR_WHY_HYPHEN_START);
		if (last == '-')
			return fail(out, ADDR_WHY_HYPHEN_END);
		if (j < n && u[j] == '.') {
			j++;
			continue;
		}
		break;
	}
	*i = j;
	return ADDR_OK;
}

static int ip4(const char *s, size_t n, uint8_t out[4], int lead0);

/* The inside of an address literal, u[0..n) without the brackets:
 * IPv4 dotted quad, "IPv6:" and RFC 4291 text, or a general "tag:content". */
static int literal_ok(const unsigned char *u, size_t n)
{
	const char *s = (const char *)u;
	uint8_t ip[16];
	size_t i;

	if (n > 5 && text_ncasecmp(s, "IPv6:", 5) == 0)
		return addr_ip6(s + 5, n - 5, ip) == 0;
	if (!memchr(u, ':', n))
		return ip4(s, n, ip, 1) == 0;
	/* General-address-literal: Standardized-tag ":" 1*dcontent */
	for (i = 0; u[i] != ':'; i++)
		if (!is_alnum(u[i]) && u[i] != '-')
			return 0;
	return i > 0 && i + 1 < n;
}

/* Domain or address literal at u[*i..n), copied to out->domain; *i ends
 * just past it. */
static enum addr_result parse_host(const unsigned char *u, size_t n,
                                   size_t *i, int utf8, struct smtp_addr *out)
{
	size_t j = *i, dstart = j;
	enum addr_result r;

	if (j < n && u[j] == '[') {
		for (j++; j < n && u[j] != ']'; j++) {
			if (u[j] < 33 || u[j] > 126 || u[j] == '[' || u[j] == '\\')
				return fail(out, ADDR_WHY_LITERAL);
			if (j - dstart >= ADDR_DOMAIN_MAX)
				return fail(out, ADDR_WHY_DOMAIN_LONG);
		}
		if (j >= n || !literal_ok(u + dstart + 1, j - dstart - 1))
			return fail(out, ADDR_WHY_LITERAL);
		j++;
	} else {
		r = parse_domain(u, n, &j, utf8, out);
		if (r != ADDR_OK)
			return r;
	}
	if (j - dstart > ADDR_DOMAIN_MAX)
		return fail(out, ADDR_WHY_DOMAIN_LONG);
	memcpy(out->domain, u + dstart, j - dstart);
	out->domain[j - dstart] = '\0';
	*i = j;
	return ADDR_OK;
}

/* Local part at u[*i..n), copied unquoted into out->local as it is
 * checked; *i ends just past it. */
static enum addr_result parse_local(const unsigned char *u, size_t n,
                                    size_t *i, int utf8, struct smtp_addr *out)
{
	size_t j = *i, start = j, llen = 0;

	if (j < n && u[j] == '"') {
		for (j++;; j++) {
			unsigned c;
			size_t k = 1;

			if (j >= n)
				return fail(out, ADDR_WHY_QUOTE);
			c = u[j];
			if (c == '"') {
				j++;
				break;
			}
			if (c == '\\') {
				if (++j >= n)
					return fail(out, ADDR_WHY_QUOTE);
				c = u[j];
				if (c < 32 || c > 126)
					return fail(out, ADDR_WHY_LOCAL_CHAR);
			} else if (c < 32 || c == 127) {
				return fail(out, ADDR_WHY_LOCAL_CHAR);
			} else if (c >= 0x80) {
				if (!(k = eight_bit(u + j, n - j, utf8, out)))
					return ADDR_SYNTAX;
			}
			/* as sent, the closing quote included */
			if (j + k + 1 - start > ADDR_LOCAL_MAX)
				return fail(out, ADDR_WHY_LOCAL_LONG);
			memcpy(out->local + llen, u + j, k);
			llen += k;
			j += k - 1;
		}
	} else {
		for (;;) {
			size_t atom = j;

			while (j < n) {
				size_t k = 1;

				if (u[j] >= 0x80) {
					if (!(k = eight_bit(u + j, n - j, utf8, out)))
						return ADDR_SYNTAX;
				} else if (!is_atext(u[j])) {
					break;
				}
				if (j + k - start > ADDR_LOCAL_MAX)
					return fail(out, ADDR_WHY_LOCAL_LONG);
				memcpy(out->local + llen, u + j, k);
				llen += k;
				j += k;
			}
			if (j == atom) {
				/* empty atom: leading, trailing or double dot */
				if (atom > start || (j < n && u[j] == '.'))
					return fail(out, ADDR_WHY_LOCAL_DOT);
				return fail(out, j < n ? ADDR_WHY_LOCAL_CHAR
				                       : ADDR_WHY_NO_AT);
			}
			if (j < n && u[j] == '.') {
				if (j + 1 - start > ADDR_LOCAL_MAX)
					return fail(out, ADDR_WHY_LOCAL_LONG);
				out->local[llen++] = '.';
				j++;
				continue;
			}
			break;
		}
	}
	out->local[llen] = '\0';
	*i = j;
	return ADDR_OK;
}

/* Mailbox = Local-part "@" ( Domain / address-literal ) at u[*i..n);
 * *i ends just past it, or (ADDR_WHY_LOCAL_CHAR) at what followed the
 * local part instead of '@'. */
static enum addr_result parse_mailbox(const unsigned char *u, size_t n,
                                      size_t *i, int utf8,
                                      struct smtp_addr *out)
{
	enum addr_result r = parse_local(u, n, i, utf8, out);

	if (r != ADDR_OK)
		return r;
	if (*i >= n)
		return fail(out, ADDR_WHY_NO_AT);
	if (u[*i] != '@')
		return fail(out, ADDR_WHY_LOCAL_CHAR);
	++*i;
	return parse_host(u, n, i, utf8, out);
}

/* The mailbox u[start..end) as text.  RFC 5321 4.5.3.1.3: the path, "<"
 * and ">" included, is at most 256 octets. */
static enum addr_result keep_text(const unsigned char *u, size_t start,
                                  size_t end, struct smtp_addr *out)
{
	if (end - start + 2 > ADDR_PATH_MAX)
		return fail(out, ADDR_WHY_PATH_LONG);
	memcpy(out->text, u + start, end - start);
	out->text[end - start] = '\0';
	return ADDR_OK;
}

enum addr_result addr_parse_path(const char *s, size_t n, int utf8,
                                 int allow_null, int allow_postmaster,
                                 struct smtp_addr *out, size_t *end)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, start;
	int routed = 0;
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
			r = parse_domain(u, n, &i, utf8, out);
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

	start = i;
	r = parse_mailbox(u, n, &i, utf8, out);
	if (r == ADDR_SYNTAX && out->why == ADDR_WHY_LOCAL_CHAR && u[i] == '>') {
		/* Only the bare <postmaster> goes without a domain. */
		if (!allow_postmaster || u[start] == '"' || routed ||
		    text_casecmp(out->local, "postmaster") != 0)
			return r;
		out->why = 0;
		out->is_postmaster = 1;
		memcpy(out->text, out->local, sizeof(out->local));
		*end = i + 1;
		return ADDR_OK;
	}
	if (r != ADDR_OK)
		return r;
	if (i >= n || u[i] != '>')
		return ADDR_SYNTAX;
	*end = i + 1;
	return keep_text(u, start, i, out);
}

/* see addr.h */
enum addr_result addr_parse_mailbox(const char *s, size_t n, int utf8,
                                    struct smtp_addr *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	enum addr_result r;

	memset(out, 0, sizeof(*out));
	r = parse_mailbox(u, n, &i, utf8, out);
	if (r != ADDR_OK)
		return r;
	if (i < n)
		return fail(out, u[i] == '@' ? ADDR_WHY_AT : ADDR_WHY_DOMAIN_CHAR);
	return keep_text(u, 0, n, out);
}

/* see addr.h */
enum addr_result addr_parse_domain(const char *s, size_t n, int utf8,
                                   struct smtp_addr *out)
{
	size_t i = 0;
	enum addr_result r;

	memset(out, 0, sizeof(*out));
	r = parse_host((const unsigned char *)s, n, &i, utf8, out);
	if (r == ADDR_OK && i < n)
		return fail(out, ADDR_WHY_DOMAIN_CHAR);
	return r;
}

/* A dotted quad.  lead0: RFC 5321's Snum (1*3DIGIT), where "01" is one;
 * otherwise no leading zeros, which inet_aton() would read as octal. */
static int ip4(const char *s, size_t n, uint8_t out[4], int lead0)
{
	unsigned part = 0, v = 0, digits = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= '0' && ch <= '9') {
			if (digits && (lead0 ? digits == 3 : v == 0))
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

/* see addr.h */
int addr_ip4(const char *s, size_t n, uint8_t out[4])
{
	return ip4(s, n, out, 0);
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = text_lower_c(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* see addr.h */
int addr_ip6(const char *s, size_t n, uint8_t out[16])
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
		int h = hexval((unsigned char)s[i]);

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
		    addr_ip4(s + tok, n - tok, t + tp) == 0) {
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
