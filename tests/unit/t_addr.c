/* addr_parse_path(): RFC 5321 paths.  Every parse runs on an exact-length
 * heap copy of the input (no NUL after it), so ASan catches any read past n. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "tap.h"

/* The input, printable, for test names. */
static const char *show(const char *in)
{
	static char out[4][200];
	static int k;
	char *o = out[k++ & 3];
	size_t j = 0;

	for (; *in && j < sizeof(out[0]) - 5; in++) {
		unsigned char c = (unsigned char)*in;

		if (c < 0x20 || c >= 0x7f) {
			static const char hex[] = "0123456789abcdef";

			o[j++] = '\\';
			o[j++] = 'x';
			o[j++] = hex[c >> 4];
			o[j++] = hex[c & 15];
		} else {
			o[j++] = (char)c;
		}
	}
	o[j] = '\0';
	return o;
}

static enum addr_result parse(const char *in, size_t n, int utf8, int null,
                              int pm, struct smtp_addr *a, size_t *end)
{
	char *copy = malloc(n ? n : 1);
	enum addr_result r;

	memcpy(copy, in, n);
	r = addr_parse_path(copy, n, utf8, null, pm, a, end);
	free(copy);
	return r;
}

/* A path that parses: check every field. */
static void good(const char *in, int utf8, const char *local,
                 const char *domain, const char *text, size_t end_want)
{
	struct smtp_addr a;
	size_t end = 0;
	enum addr_result r = parse(in, strlen(in), utf8, 1, 1, &a, &end);

	is_int(r, ADDR_OK, "ok: %s", show(in));
	if (r != ADDR_OK)
		return;
	is_str(a.local, local, "  local of %s", show(in));
	is_str(a.domain, domain, "  domain of %s", show(in));
	is_str(a.text, text, "  text of %s", show(in));
	is_int(end, end_want, "  end of %s", show(in));
}

static void bad(const char *in, int utf8, enum addr_result want)
{
	struct smtp_addr a;
	size_t end = 0;

	is_int(parse(in, strlen(in), utf8, 1, 1, &a, &end), want, "rejected: %s", show(in));
}

static char *repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* Every prefix of in, and every one-octet change of it, on exact-length
 * copies: the parser must never read past n (ASan), whatever it answers. */
static void robust(const char *in)
{
	size_t n = strlen(in), k, i;
	struct smtp_addr a;
	size_t end;
	int sane = 1;
	static const unsigned char subst[] = { 0, '<', '>', '@', '"', '\\', '.',
	                                       ':', ',', '[', ']', ' ', 0x80, 0xc3, 0xff };

	for (k = 0; k <= n; k++) {
		int utf8;

		for (utf8 = 0; utf8 < 2; utf8++) {
			if (parse(in, k, utf8, 1, 1, &a, &end) == ADDR_OK &&
			    (end > k || strlen(a.text) > ADDR_PATH_MAX))
				sane = 0;
		}
	}
	for (k = 0; k < n; k++) {
		for (i = 0; i < sizeof(subst); i++) {
			char buf[1100];

			memcpy(buf, in, n);
			buf[k] = (char)subst[i];
			if (parse(buf, n, 1, 1, 1, &a, &end) == ADDR_OK) {
				if (end > n || memchr(a.text, 0x7f, strlen(a.text)))
					sane = 0;
				for (size_t j = 0; a.local[j]; j++)
					if ((unsigned char)a.local[j] < 0x20)
						sane = 0;
			}
		}
	}
	ok(sane, "robust: prefixes and one-octet mutations of %s", show(in));
}

/* addr_parse_mailbox() and addr_parse_domain(): the grammar above without
 * the <>, and why each refusal is one (the configuration's messages). */
struct why_case {
	const char *in;
	int domain_only;
	enum addr_result r;
	enum addr_why why;
};

static const struct why_case why_cases[] = {
	{ "user@example.org", 0, ADDR_OK, 0 },
	{ "\"a b\"@x.example", 0, ADDR_OK, 0 },
	{ "j\xc3\xb6rg@d.example", 0, ADDR_OK, 0 },
	{ "u@[192.0.2.1]", 0, ADDR_OK, 0 },
	{ "user", 0, ADDR_SYNTAX, ADDR_WHY_NO_AT },
	{ "", 0, ADDR_SYNTAX, ADDR_WHY_NO_AT },
	{ ".user@d", 0, ADDR_SYNTAX, ADDR_WHY_LOCAL_DOT },
	{ "user.@d", 0, ADDR_SYNTAX, ADDR_WHY_LOCAL_DOT },
	{ "us..er@d", 0, ADDR_SYNTAX, ADDR_WHY_LOCAL_DOT },
	{ "us er@d", 0, ADDR_SYNTAX, ADDR_WHY_LOCAL_CHAR },
	{ "@d", 0, ADDR_SYNTAX, ADDR_WHY_LOCAL_CHAR },
	{ "a\"b@d", 0, ADDR_SYNTAX, ADDR_WHY_LOCAL_CHAR },
	{ "\"ab@d", 0, ADDR_SYNTAX, ADDR_WHY_QUOTE },
	{ "a@b@d", 0, ADDR_SYNTAX, ADDR_WHY_AT },
	{ "a@", 0, ADDR_SYNTAX, ADDR_WHY_DOMAIN_EMPTY },
	{ "a@b c", 0, ADDR_SYNTAX, ADDR_WHY_DOMAIN_CHAR },
	{ "a@b.", 0, ADDR_SYNTAX, ADDR_WHY_DOMAIN_DOT },
	{ "a@-b", 0, ADDR_SYNTAX, ADDR_WHY_HYPHEN_START },
	{ "a@b-", 0, ADDR_SYNTAX, ADDR_WHY_HYPHEN_END },
	{ "a@[1.2.3.400]", 0, ADDR_SYNTAX, ADDR_WHY_LITERAL },
	{ "a@[1.2.3.4", 0, ADDR_SYNTAX, ADDR_WHY_LITERAL },
	{ "\xff@d", 0, ADDR_SYNTAX, ADDR_WHY_UTF8 },
	{ "example.org", 1, ADDR_OK, 0 },
	{ "[IPv6:2001:db8::1]", 1, ADDR_OK, 0 },
	{ "", 1, ADDR_SYNTAX, ADDR_WHY_DOMAIN_EMPTY },
	{ "exa mple.org", 1, ADDR_SYNTAX, ADDR_WHY_DOMAIN_CHAR },
	{ "a@b", 1, ADDR_SYNTAX, ADDR_WHY_DOMAIN_CHAR },
	{ "b\xc3\xbc" "cher.de", 1, ADDR_SYNTAX, ADDR_WHY_8BIT },
};

static void mailbox_tests(void)
{
	char buf[1200], part[300];
	struct smtp_addr a;
	size_t i;

	for (i = 0; i < sizeof(why_cases) / sizeof(why_cases[0]); i++) {
		const struct why_case *c = &why_cases[i];
		size_t n = strlen(c->in);
		char *copy = malloc(n ? n : 1);
		enum addr_result r;

		memcpy(copy, c->in, n);
		r = c->domain_only ? addr_parse_domain(copy, n, 0, &a)
		                   : addr_parse_mailbox(copy, n, 1, &a);
		free(copy);
		is_int(r, c->r, "%s %s", c->domain_only ? "domain" : "mailbox", show(c->in));
		if (r != ADDR_OK)
			is_int(a.why, c->why, "  why");
	}
	is_int(addr_parse_mailbox("\"a\\\"b\"@X.example", 16, 0, &a), ADDR_OK,
	       "mailbox with a quoted-pair");
	ok(strcmp(a.local, "a\"b") == 0 && strcmp(a.domain, "X.example") == 0 &&
	   strcmp(a.text, "\"a\\\"b\"@X.example") == 0, "mailbox: fields as RCPT's");

	/* the address is at most 254: a path of 256 with <> */
	snprintf(buf, sizeof(buf), "%s@%.63s.%.63s.%.61s", repeat(part, 'l', 64),
	         repeat(part + 100, 'd', 63), part + 100, part + 100);
	is_int(strlen(buf), 254, "  (test address of 254)");
	is_int(addr_parse_mailbox(buf, strlen(buf), 0, &a), ADDR_OK, "mailbox of 254");
	strcat(buf, "d");
	is_int(addr_parse_mailbox(buf, strlen(buf), 0, &a), ADDR_TOO_LONG, "mailbox of 255");
	is_int(a.why, ADDR_WHY_PATH_LONG, "  why: the path");

	/* every prefix on an exact-length copy */
	{
		static const char in[] = "\"a\\\"b c\"@[IPv6:2001:db8::1]";
		size_t k;
		int sane = 1;

		for (k = 0; k < sizeof(in); k++) {
			char *copy = malloc(k ? k : 1);

			memcpy(copy, in, k);
			if (addr_parse_mailbox(copy, k, 1, &a) == ADDR_OK && k != sizeof(in) - 1)
				sane = 0;
			addr_parse_domain(copy, k, 1, &a);
			free(copy);
		}
		ok(sane, "mailbox: only the whole of %s parses; no overread", show(in));
	}
}

static void ip_tests(void)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 192, 0, 2, 1 };
	static const uint8_t db8[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const char *const bad4[] = { "", "1.2.3", "1.2.3.4.5", "1.2.3.256",
	                                    "01.2.3.4", "1.2.3.4.", ".1.2.3.4", "1..2.3",
	                                    "1.2.3.a", " 1.2.3.4" };
	static const char *const bad6[] = { "", ":", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9",
	                                    "12345::", "1:2:3:4:5:6:7:8::", "fe80::1%eth0",
	                                    "1:", "g::", "::1.2.3", "::1.2.3.4:5" };
	uint8_t out[16];
	size_t i;

	ok(addr_ip4("192.0.2.1", 9, out) == 0 && memcmp(out, v4, 4) == 0, "ip4 192.0.2.1");
	ok(addr_ip4("0.0.0.0", 7, out) == 0, "ip4 0.0.0.0");
	for (i = 0; i < sizeof(bad4) / sizeof(bad4[0]); i++)
		ok(addr_ip4(bad4[i], strlen(bad4[i]), out) != 0, "ip4 refuses '%s'", bad4[i]);
	ok(addr_ip6("::ffff:192.0.2.1", 16, out) == 0 && memcmp(out, mapped, 16) == 0,
	   "ip6 ::ffff:192.0.2.1");
	ok(addr_ip6("2001:DB8::1", 11, out) == 0 && memcmp(out, db8, 16) == 0, "ip6 2001:DB8::1");
	ok(addr_ip6("2001:db8:0:0:0:0:0:1", 20, out) == 0 && memcmp(out, db8, 16) == 0,
	   "ip6 in full");
	ok(addr_ip6("::", 2, out) == 0, "ip6 ::");
	for (i = 0; i < sizeof(bad6) / sizeof(bad6[0]); i++)
		ok(addr_ip6(bad6[i], strlen(bad6[i]), out) != 0, "ip6 refuses '%s'", bad6[i]);
}

int main(void)
{
	char buf[8192], part[600];
	struct smtp_addr a;
	size_t end;

	/* simple */
	good("<user@example.org>", 0, "user", "example.org", "user@example.org", 18);
	good("<User.Name+tag@Mail.Example.ORG>", 0, "User.Name+tag", "Mail.Example.ORG",
	     "User.Name+tag@Mail.Example.ORG", 32);
	good("<a@b>", 0, "a", "b", "a@b", 5);
	good("<x_y@my_host.example>", 0, "x_y", "my_host.example", "x_y@my_host.example", 21);
	good("<!#$%&'*+-/=?^_`{|}~@d.example>", 0, "!#$%&'*+-/=?^_`{|}~", "d.example",
	     "!#$%&'*+-/=?^_`{|}~@d.example", 31);

	/* trailing text after '>' is left for the ESMTP parameters */
	good("<a@b.example> SIZE=100 BODY=8BITMIME", 0, "a", "b.example", "a@b.example", 13);
	good("<a@b.example>junk", 0, "a", "b.example", "a@b.example", 13);

	/* quoted local parts */
	good("<\"a b\"@x.example>", 0, "a b", "x.example", "\"a b\"@x.example", 17);
	good("<\"a\\\"b\"@x.example>", 0, "a\"b", "x.example", "\"a\\\"b\"@x.example", 18);
	good("<\"a\\\\b\"@x>", 0, "a\\b", "x", "\"a\\\\b\"@x", 10);
	good("<\"\"@x>", 0, "", "x", "\"\"@x", 6);
	good("<\"a@b\"@x>", 0, "a@b", "x", "\"a@b\"@x", 9);
	good("<\"a>b\"@x>", 0, "a>b", "x", "\"a>b\"@x", 9);
	bad("<\"a\tb\"@x>", 0, ADDR_SYNTAX);
	bad("<\"a\\\tb\"@x>", 0, ADDR_SYNTAX);
	bad("<\"a\x7f\"@x>", 0, ADDR_SYNTAX);
	bad("<\"ab@x>", 0, ADDR_SYNTAX);
	bad("<\"ab\\", 0, ADDR_SYNTAX);
	bad("<\"a\"b@x>", 0, ADDR_SYNTAX);

	/* traversal-looking local parts are plain text */
	good("<\"../x\"@d.example>", 0, "../x", "d.example", "\"../x\"@d.example", 18);
	good("<a/b@d.example>", 0, "a/b", "d.example", "a/b@d.example", 15);
	good("<\"a/../../b\"@d>", 0, "a/../../b", "d", "\"a/../../b\"@d", 15);
	bad("<../x@d.example>", 0, ADDR_SYNTAX);

	/* source routes are skipped */
	good("<@a,@b:u@d>", 0, "u", "d", "u@d", 11);
	good("<@relay.example:u@d.example>", 0, "u", "d.example", "u@d.example", 28);
	bad("<@a,b:u@d>", 0, ADDR_SYNTAX);
	bad("<@a:@b:u@d>", 0, ADDR_SYNTAX);
	bad("<@a u@d>", 0, ADDR_SYNTAX);
	bad("<@:u@d>", 0, ADDR_SYNTAX);
	bad("<@a,@b:postmaster>", 0, ADDR_SYNTAX);

	/* address literals */
	good("<u@[1.2.3.4]>", 0, "u", "[1.2.3.4]", "u@[1.2.3.4]", 13);
	good("<u@[IPv6:::1]>", 0, "u", "[IPv6:::1]", "u@[IPv6:::1]", 14);
	good("<u@[IPv6:2001:db8::1]>", 0, "u", "[IPv6:2001:db8::1]", "u@[IPv6:2001:db8::1]", 22);
	good("<u@[1.2.3.04]>", 0, "u", "[1.2.3.04]", "u@[1.2.3.04]", 14);
	good("<u@[x-tag:stuff]>", 0, "u", "[x-tag:stuff]", "u@[x-tag:stuff]", 17);
	bad("<u@[1.2.3]>", 0, ADDR_SYNTAX);
	bad("<u@[1.2.3.256]>", 0, ADDR_SYNTAX);
	bad("<u@[1.2.3.4>", 0, ADDR_SYNTAX);
	bad("<u@[1.2.3.4", 0, ADDR_SYNTAX);
	bad("<u@[1.2.3.4]x>", 0, ADDR_SYNTAX);
	bad("<u@[IPv6:zz::1]>", 0, ADDR_SYNTAX);
	bad("<u@[]>", 0, ADDR_SYNTAX);
	bad("<u@[a b]>", 0, ADDR_SYNTAX);
	bad("<u@[1.2.3.4\\]>", 0, ADDR_SYNTAX);
	/* RFC 5321 Snum is 1*3DIGIT (a leading zero is fine, four digits are not);
	 * IPv6 text is RFC 4291 strict */
	bad("<u@[1.2.3.0004]>", 0, ADDR_SYNTAX);
	bad("<u@[IPv6:1::2::3]>", 0, ADDR_SYNTAX);
	bad("<u@[IPv6:::::]>", 0, ADDR_SYNTAX);
	bad("<u@[IPv6:1:2:3:4:5:6:7:8:9]>", 0, ADDR_SYNTAX);
	good("<u@[IPv6:::ffff:1.2.3.4]>", 0, "u", "[IPv6:::ffff:1.2.3.4]",
	     "u@[IPv6:::ffff:1.2.3.4]", 25);

	/* null path and postmaster */
	is_int(parse("<>", 2, 0, 1, 0, &a, &end), ADDR_OK, "<> with allow_null");
	ok(a.is_null && a.text[0] == '\0' && end == 2, "  is_null, empty text, end 2");
	is_int(parse("<> SIZE=1", 9, 0, 1, 0, &a, &end), ADDR_OK, "<> then params");
	is_int(end, 2, "  end 2");
	is_int(parse("<>", 2, 0, 0, 1, &a, &end), ADDR_SYNTAX, "<> without allow_null");
	is_int(parse("<postmaster>", 12, 0, 0, 1, &a, &end), ADDR_OK, "<postmaster> allowed");
	ok(a.is_postmaster && strcmp(a.local, "postmaster") == 0 && a.domain[0] == 0 &&
	   strcmp(a.text, "postmaster") == 0 && end == 12, "  is_postmaster, fields");
	is_int(parse("<PostMaster>", 12, 0, 0, 1, &a, &end), ADDR_OK, "<PostMaster> any case");
	ok(a.is_postmaster, "  is_postmaster");
	is_int(parse("<postmaster>", 12, 0, 1, 0, &a, &end), ADDR_SYNTAX,
	       "<postmaster> not allowed in MAIL");
	is_int(parse("<\"postmaster\">", 14, 0, 0, 1, &a, &end), ADDR_SYNTAX,
	       "quoted <\"postmaster\"> is not the bare form");
	is_int(parse("<postmaster@d.example>", 22, 0, 0, 1, &a, &end), ADDR_OK,
	       "postmaster@domain is a normal address");
	ok(!a.is_postmaster, "  not flagged as bare postmaster");
	bad("<user>", 0, ADDR_SYNTAX);

	/* missing or broken brackets */
	bad("user@example.org", 0, ADDR_SYNTAX);
	bad("<user@example.org", 0, ADDR_SYNTAX);
	bad("user@example.org>", 0, ADDR_SYNTAX);
	bad(" <user@example.org>", 0, ADDR_SYNTAX);
	bad("< user@example.org>", 0, ADDR_SYNTAX);
	bad("<user@example.org >", 0, ADDR_SYNTAX);
	bad("<", 0, ADDR_SYNTAX);
	bad("", 0, ADDR_SYNTAX);
	bad("<<a@b>>", 0, ADDR_SYNTAX);

	/* empty parts */
	bad("<@d.example>", 0, ADDR_SYNTAX);
	bad("<user@>", 0, ADDR_SYNTAX);
	bad("<user@.example>", 0, ADDR_SYNTAX);
	bad("<user@example.>", 0, ADDR_SYNTAX);
	bad("<user@exa..mple>", 0, ADDR_SYNTAX);
	bad("<user@-example.org>", 0, ADDR_SYNTAX);
	bad("<user@example-.org>", 0, ADDR_SYNTAX);
	good("<user@ex-ample.org>", 0, "user", "ex-ample.org", "user@ex-ample.org", 19);
	bad("<a@b@c>", 0, ADDR_SYNTAX);

	/* dot rules in a dot-string */
	bad("<.user@d>", 0, ADDR_SYNTAX);
	bad("<user.@d>", 0, ADDR_SYNTAX);
	bad("<us..er@d>", 0, ADDR_SYNTAX);
	good("<\".user.\"@d>", 0, ".user.", "d", "\".user.\"@d", 12);
	good("<\"us..er\"@d>", 0, "us..er", "d", "\"us..er\"@d", 12);

	/* control characters, never */
	bad("<us\ter@d>", 0, ADDR_SYNTAX);
	bad("<us\rer@d>", 0, ADDR_SYNTAX);
	bad("<user@d\nx>", 0, ADDR_SYNTAX);
	bad("<us\x7f" "er@d>", 0, ADDR_SYNTAX);
	bad("<\"us\x01" "er\"@d>", 1, ADDR_SYNTAX);
	{
		static const char nul[] = "<us\0er@d>";

		is_int(parse(nul, sizeof(nul) - 1, 1, 1, 1, &a, &end), ADDR_SYNTAX,
		       "NUL in local part");
	}

	/* non-ASCII: only with utf8, and only well-formed UTF-8 */
	bad("<j\xc3\xb6rg@d.example>", 0, ADDR_SYNTAX);
	good("<j\xc3\xb6rg@d.example>", 1, "j\xc3\xb6rg", "d.example", "j\xc3\xb6rg@d.example", 17);
	parse("<j\xc3\xb6rg@d.example>", 17, 1, 0, 0, &a, &end);
	ok(a.has_utf8, "  has_utf8 set");
	good("<user@b\xc3\xbc" "cher.example>", 1, "user", "b\xc3\xbc" "cher.example",
	     "user@b\xc3\xbc" "cher.example", 22);
	bad("<user@b\xc3\xbc" "cher.example>", 0, ADDR_SYNTAX);
	good("<\"j\xc3\xb6 rg\"@d>", 1, "j\xc3\xb6 rg", "d", "\"j\xc3\xb6 rg\"@d", 12);
	bad("<\"j\xc3\xb6rg\"@d>", 0, ADDR_SYNTAX);
	good("<\xf0\x9f\x98\x80@d>", 1, "\xf0\x9f\x98\x80", "d", "\xf0\x9f\x98\x80@d", 8);
	bad("<\xc3@d>", 1, ADDR_SYNTAX);                 /* truncated */
	bad("<\xc0\xaf@d>", 1, ADDR_SYNTAX);             /* overlong */
	bad("<\xed\xa0\x80@d>", 1, ADDR_SYNTAX);         /* surrogate */
	bad("<\xf4\x90\x80\x80@d>", 1, ADDR_SYNTAX);     /* above U+10FFFF */
	bad("<\xff@d>", 1, ADDR_SYNTAX);
	bad("<\"\\\xc3\xb6\"@d>", 1, ADDR_SYNTAX);       /* quoted-pair is ASCII only */
	good("<user@d.example>", 1, "user", "d.example", "user@d.example", 16);
	parse("<user@d.example>", 16, 1, 0, 0, &a, &end);
	ok(!a.has_utf8, "  has_utf8 clear for ASCII");

	/* lengths: local 64, domain 255, path 256 with <> */
	snprintf(buf, sizeof(buf), "<%s@d>", repeat(part, 'a', 64));
	{
		char text[700];

		snprintf(text, sizeof(text), "%s@d", part);
		good(buf, 0, part, "d", text, strlen(buf));
	}
	snprintf(buf, sizeof(buf), "<%s@d>", repeat(part, 'a', 65));
	bad(buf, 0, ADDR_TOO_LONG);
	snprintf(buf, sizeof(buf), "<\"%s\"@d>", repeat(part, 'a', 62));
	is_int(parse(buf, strlen(buf), 0, 0, 0, &a, &end), ADDR_OK, "quoted local of 64 as sent");
	snprintf(buf, sizeof(buf), "<\"%s\"@d>", repeat(part, 'a', 63));
	bad(buf, 0, ADDR_TOO_LONG);
	snprintf(buf, sizeof(buf), "<\"%s\xf0\x9f\x98\x80\"@d>", repeat(part, 'a', 59));
	is_int(parse(buf, strlen(buf), 1, 0, 0, &a, &end), ADDR_TOO_LONG,
	       "quoted local with UTF-8 crossing 64");
	snprintf(buf, sizeof(buf), "<%s\xf0\x9f\x98\x80@d>", repeat(part, 'a', 61));
	is_int(parse(buf, strlen(buf), 1, 0, 0, &a, &end), ADDR_TOO_LONG,
	       "dot-string local with UTF-8 crossing 64");
	{
		/* domain of 252: "<u@" + 252 + ">" is the longest path, 256 */
		char dom[2000];

		repeat(part, 'b', 63);
		snprintf(dom, sizeof(dom), "%s.%s.%s.%.60s", part, part, part, part);
		is_int(strlen(dom), 252, "  (test domain of 252)");
		snprintf(buf, sizeof(buf), "<%s@%s>", "u", dom);
		is_int(parse(buf, strlen(buf), 0, 0, 0, &a, &end), ADDR_OK, "domain 252, path of 256 with <>");
		is_str(a.domain, dom, "  domain kept whole");
		snprintf(buf, sizeof(buf), "<%s@%s>", "uu", dom);
		is_int(parse(buf, strlen(buf), 0, 0, 0, &a, &end), ADDR_TOO_LONG,
		       "path of 257 with <> is too long");
		snprintf(buf, sizeof(buf), "<u@%s.cccc>", dom);
		is_int(parse(buf, strlen(buf), 0, 0, 0, &a, &end), ADDR_TOO_LONG,
		       "domain of 257 is too long");
		snprintf(buf, sizeof(buf), "<u@%s%s%s%s>", dom, dom, dom, dom);
		is_int(parse(buf, strlen(buf), 0, 0, 0, &a, &end), ADDR_TOO_LONG,
		       "domain of 1000 is too long");
		snprintf(buf, sizeof(buf), "<u@[%s]>", repeat(part, '1', 300));
		is_int(parse(buf, strlen(buf), 0, 0, 0, &a, &end), ADDR_TOO_LONG,
		       "address literal of 300 is too long");
	}

	/* no reads past n: prefixes and mutations of every shape above */
	robust("<user@example.org> SIZE=1");
	robust("<\"a\\\"b c\"@x.example>");
	robust("<@a.example,@b.example:u@d.example>");
	robust("<u@[IPv6:2001:db8::1]>");
	robust("<u@[192.0.2.1]>");
	robust("<j\xc3\xb6rg@b\xc3\xbc" "cher.example>");
	robust("<postmaster>");
	robust("<>");

	/* random octets from a fixed seed */
	{
		uint32_t x = 12345;
		int i, sane = 1;

		for (i = 0; i < 20000; i++) {
			size_t n = 1, k;

			x = x * 1103515245u + 12345u;
			n = (x >> 16) % 40;
			buf[0] = '<';
			for (k = 1; k < n; k++) {
				static const char alpha[] = "<>@\".\\:,[]aZ9-_ \x01\x7f\xc3\xb6\xf0";

				x = x * 1103515245u + 12345u;
				buf[k] = alpha[(x >> 16) % (sizeof(alpha) - 1)];
			}
			if (parse(buf, n, (int)(x & 1), 1, 1, &a, &end) == ADDR_OK && end > n)
				sane = 0;
		}
		ok(sane, "20000 random paths: no overread, end within n");
	}

	mailbox_tests();
	ip_tests();

	/* addr_same_client(): the per-IP session limit's notion of a client */
	{
		static const uint8_t lo4[16] = { 127, 0, 0, 1 };
		static const uint8_t lo4b[16] = { 127, 0, 0, 2 };
		/* 2001:db8:1:2::1, 2001:db8:1:2:ffff::9 (same /64),
		 * 2001:db8:1:3::1 (next /64) */
		static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2,
		                                0, 0, 0, 0, 0, 0, 0, 1 };
		static const uint8_t b6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2,
		                                0xff, 0xff, 0, 0, 0, 0, 0, 9 };
		static const uint8_t c6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 3,
		                                0, 0, 0, 0, 0, 0, 0, 1 };
		/* 7f00:1::, whose first 4 octets are 127.0.0.1's */
		static const uint8_t compat[16] = { 127, 0, 0, 1, 0, 0, 0, 0,
		                                    0, 0, 0, 0, 0, 0, 0, 0 };

		ok(addr_same_client(0, lo4, 0, lo4), "IPv4: the same address is one client");
		ok(!addr_same_client(0, lo4, 0, lo4b), "IPv4: 127.0.0.1 and 127.0.0.2 are two");
		ok(addr_same_client(1, a6, 1, a6), "IPv6: the same address is one client");
		ok(addr_same_client(1, a6, 1, b6), "IPv6: two addresses in one /64 are one client");
		ok(addr_same_client(1, b6, 1, a6), "  either way round");
		ok(!addr_same_client(1, a6, 1, c6), "IPv6: the next /64 is another client");
		ok(!addr_same_client(0, lo4, 1, compat),
		   "IPv4 and an IPv6 address with the same leading octets are two");
		ok(!addr_same_client(1, compat, 0, lo4), "  either way round");
	}

	return tap_done();
}
