/* core/policy.c: which configured mailboxes a RCPT address reaches.  The
 * addresses are built directly (no addr_parse_path), the configuration
 * through conf_parse(). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "policy.h"

static unsigned char mem[CFG_CONF_ARENA_KB * 1024];
static struct arena A;
static struct mn_config C;
static struct rcpt_target T[8];
static unsigned N;

static void show(void *ctx, const char *file, unsigned line, const char *msg)
{
	(void)ctx;
	printf("#   %s:%u: %s\n", file, line, msg);
}

static unsigned load(const char *text)
{
	unsigned n;

	arena_init(&A, mem, sizeof(mem));
	conf_init(&C, &A);
	n = conf_parse(&C, "t.conf", text, strlen(text), show, NULL);
	n += conf_finish(&C, show, NULL);
	return n;
}

static int resolve_max(const char *local, const char *domain, unsigned max)
{
	struct smtp_addr a;

	memset(&a, 0, sizeof(a));
	snprintf(a.local, sizeof(a.local), "%s", local);
	snprintf(a.domain, sizeof(a.domain), "%s", domain);
	snprintf(a.text, sizeof(a.text), "%s@%s", local, domain);
	memset(T, 0x5a, sizeof(T));
	N = 99;
	return policy_resolve(&C, &a, T, max, &N);
}

static int resolve(const char *local, const char *domain)
{
	return resolve_max(local, domain, 8);
}

static int bare_postmaster(void)
{
	struct smtp_addr a;

	memset(&a, 0, sizeof(a));
	memcpy(a.local, "Postmaster", 11);
	memcpy(a.text, "Postmaster", 11);
	a.is_postmaster = 1;
	N = 99;
	return policy_resolve(&C, &a, T, 8, &N);
}

/* exactly one target: mailbox mb, folder f */
#define one(local, domain, mb, f, name) do { \
	int r_ = resolve(local, domain); \
	if (!ok(r_ == RCPT_OK && N == 1 && T[0].mailbox == (mb) && \
	        strcmp(T[0].folder, f) == 0, "%s", name)) \
		printf("#   result %d, n %u, mailbox %u, folder '%.70s'\n", r_, N, \
		       N ? T[0].mailbox : 0, N ? T[0].folder : ""); \
} while (0)

#define none(local, domain, want, name) do { \
	int r_ = resolve(local, domain); \
	if (!ok(r_ == (want) && N == 0, "%s", name)) \
		printf("#   result %d, n %u\n", r_, N); \
} while (0)

static const char *config =
	"domain=example.org\n"
	"domain=Other.Example\n"
	"domain=localhost\n"
	"mailbox=user@example.org,/m/user\n"            /* 0 */
	"mailbox=bob@example.org,/m/bob\n"              /* 1 */
	"mailbox=Carol@Example.ORG,/m/carol\n"          /* 2 */
	"mailbox=@other.example,/m/catch\n"             /* 3 */
	"mailbox=x-y@example.org,/m/xy\n"               /* 4 */
	"alias=team@example.org,user@example.org,bob@example.org,USER@example.org,carol@example.org\n"
	"alias=postmaster@other.example,bob@example.org\n"
	"tag-folders\n";

static void test_exact(void)
{
	is_int(load(config), 0, "policy config loads");
	is_int(C.rcpt_delim[0], '+', "default delimiter +");
	one("user", "example.org", 0, "", "exact mailbox");
	one("USER", "example.org", 0, "", "local part upper-case");
	one("uSeR", "EXAMPLE.Org", 0, "", "both parts mixed case");
	one("carol", "example.org", 2, "", "mailbox configured in upper-case");
	one("x-y", "example.org", 4, "", "a mailbox with - in it");
	none("nobody", "example.org", RCPT_UNKNOWN, "unknown user");
	none("nobody", "localhost", RCPT_UNKNOWN, "unknown user, domain without catch-all");
	none("user", "example.com", RCPT_RELAY, "other domain: relay");
	none("user", "sub.example.org", RCPT_RELAY, "subdomain: relay");
	none("user", "example.org.", RCPT_RELAY, "trailing dot: not local");
	none("postmaster", "example.com", RCPT_RELAY, "postmaster elsewhere: relay");
	none("user", "", RCPT_RELAY, "empty domain: relay");
}

static void test_alias(void)
{
	int r = resolve("Team", "example.org");

	ok(r == RCPT_OK && N == 3, "alias: three targets (a repeat deduplicated)");
	ok(N == 3 && T[0].mailbox == 0 && T[1].mailbox == 1 && T[2].mailbox == 2,
	   "alias targets in order");
	ok(N == 3 && !T[0].folder[0] && !T[1].folder[0] && !T[2].folder[0], "inbox");
	r = resolve_max("team", "example.org", 2);
	ok(r == RCPT_OK && N == 2, "alias: no more than max targets");
	r = resolve("team+news", "example.org");
	ok(r == RCPT_OK && N == 3 && strcmp(T[0].folder, "news") == 0 &&
	   strcmp(T[2].folder, "news") == 0, "alias+tag: the folder on every target");
}

static void test_tags(void)
{
	char tag[128];

	load(config);
	one("user+work", "example.org", 0, "work", "+tag with tag-folders");
	one("User+Work", "example.org", 0, "Work", "the tag keeps its case");
	one("user+a.b", "example.org", 0, "a.b", "inner dot: a Maildir++ subfolder");
	one("user+", "example.org", 0, "", "empty tag: inbox");
	one("user++x", "example.org", 0, "+x", "split at the first +: the tag is +x");
	one("user+../x", "example.org", 0, "", "tag ../x: inbox");
	one("user+..", "example.org", 0, "", "tag ..: inbox");
	one("user+.", "example.org", 0, "", "tag .: inbox");
	one("user+.hidden", "example.org", 0, "", "tag with a leading dot: inbox");
	one("user+a/b", "example.org", 0, "", "tag with /: inbox");
	one("user+a\\b", "example.org", 0, "", "tag with a backslash: inbox");
	one("user+a..b", "example.org", 0, "", "tag with ..: inbox");
	one("user+a.", "example.org", 0, "", "tag ending in a dot: inbox");
	one("user+a\tb", "example.org", 0, "", "tag with a control character: inbox");
	one("user+a\x7f", "example.org", 0, "", "tag with DEL: inbox");
	one("user+caf\xc3\xa9", "example.org", 0, "", "non-ASCII tag: inbox");
	memset(tag, 'a', sizeof(tag));
	memcpy(tag, "user+", 5);
	tag[5 + CONF_TAG_MAX - 5] = '\0';       /* the local part is at most 64 */
	one(tag, "example.org", 0, tag + 5, "a long tag");
	none("+work", "example.org", RCPT_UNKNOWN, "empty base: not user+tag, no such user");
}

static void test_tags_off(void)
{
	char text[1024];

	snprintf(text, sizeof(text), "%s", config);
	*strstr(text, "tag-folders") = '#';
	is_int(load(text), 0, "config without tag-folders");
	one("user+work", "example.org", 0, "", "+tag without tag-folders: inbox");
	none("+work", "example.org", RCPT_UNKNOWN, "empty base: unknown");

	snprintf(text, sizeof(text), "%srecipient-delimiter=+-\n", config);
	is_int(load(text), 0, "delimiter +-");
	one("user-work", "example.org", 0, "work", "- as delimiter");
	one("user+work", "example.org", 0, "work", "+ as delimiter");
	one("user+a-b", "example.org", 0, "a-b", "split at the first delimiter");
	one("x-y", "example.org", 4, "", "an exact address wins over the delimiter");
	none("x-y+z", "example.org", RCPT_UNKNOWN,
	     "x-y+z: split at the first delimiter, x is unknown");

	snprintf(text, sizeof(text), "%srecipient-delimiter=\n", config);
	is_int(load(text), 0, "empty delimiter");
	none("user+work", "example.org", RCPT_UNKNOWN, "empty delimiter disables +tag");
	one("user", "example.org", 0, "", "exact still works");
}

static void test_catchall(void)
{
	load(config);
	one("anything", "other.example", 3, "", "catch-all");
	one("ANY.Thing", "OTHER.example", 3, "", "catch-all, any case");
	one("a+b", "other.example", 3, "", "catch-all with a tag: no folder");
	one("a+b/c", "other.example", 3, "", "catch-all, a tag with /");
	one("../x", "other.example", 3, "", "../x to the catch-all");
	one("a/b", "other.example", 3, "", "a/b to the catch-all");
	one("..", "other.example", 3, "", ".. to the catch-all");
	one("../../etc/passwd", "other.example", 3, "", "traversal to the catch-all");
	none("../x", "example.org", RCPT_UNKNOWN, "../x without a catch-all");
	none("a/b", "example.org", RCPT_UNKNOWN, "a/b without a catch-all");
	none("..", "example.org", RCPT_UNKNOWN, ".. without a catch-all");
	none("user/../bob", "example.org", RCPT_UNKNOWN, "user/../bob");
	one("user+../../bob", "example.org", 0, "", "user+../../bob: user's inbox");
}

static void test_postmaster(void)
{
	int r;

	load(config);
	one("postmaster", "example.org", 0, "", "implicit postmaster: the first mailbox");
	one("PostMaster", "example.org", 0, "", "postmaster any case");
	one("postmaster", "localhost", 0, "", "implicit postmaster at another domain");
	one("postmaster+x", "localhost", 0, "", "postmaster+tag");
	one("POSTMASTER+", "localhost", 0, "", "postmaster+ (an empty tag)");
	none("postmasters", "localhost", RCPT_UNKNOWN, "postmasters: unknown");
	none("postmastex+x", "localhost", RCPT_UNKNOWN, "postmastex+tag: unknown");
	none("xpostmaste+x", "localhost", RCPT_UNKNOWN, "ten letters, not postmaster");
	one("postmaster", "other.example", 1, "", "explicit postmaster alias");
	r = bare_postmaster();
	ok(r == RCPT_OK && N == 1 && T[0].mailbox == 0 && !T[0].folder[0],
	   "bare <postmaster>: the first domain's postmaster");
	none("postmaster", "example.com", RCPT_RELAY, "postmaster at another domain: relay");

	is_int(load("domain=b.example\ndomain=a.example\n"
	            "mailbox=one@a.example,/m/1\nmailbox=two@b.example,/m/2\n"
	            "alias=postmaster@b.example,two@b.example\n"), 0, "explicit postmaster config");
	r = bare_postmaster();
	ok(r == RCPT_OK && N == 1 && T[0].mailbox == 1, "bare <postmaster> follows the first domain's alias");
	one("postmaster", "a.example", 0, "", "implicit at a.example: the first mailbox");
	is_int(C.postmaster_implicit, 1, "postmaster_implicit set");

	is_int(load("domain=example.org\nmailbox=@example.org,/m/all\nmailbox=user@example.org,/m/u\n"),
	       0, "catch-all config");
	one("postmaster", "example.org", 0, "", "postmaster to the catch-all");
	is_int(C.postmaster_implicit, 0, "a catch-all names postmaster");
}

static unsigned n_warn;
static char warn_text[4][200];
static unsigned warn_line[4];

static void warn_keep(void *ctx, const char *file, unsigned line, const char *msg)
{
	(void)ctx;
	(void)file;
	if (n_warn < 4) {
		snprintf(warn_text[n_warn], sizeof(warn_text[n_warn]), "%s", msg);
		warn_line[n_warn] = line;
	}
	n_warn++;
}

/* A domain given twice is one domain: its postmaster falls back once, and
 * conf_warnings() says so once, at the domain's first line, in the order
 * the domains were first given. */
static void test_postmaster_repeated_domain(void)
{
	is_int(load("domain=b.example\ndomain=a.example\ndomain=B.example\n"
	            "mailbox=one@a.example,/m/1\n"), 0, "a domain given twice");
	is_int(C.n_domains, 2, "counted once");
	is_int(C.postmaster_implicit, 1, "postmaster_implicit set");
	one("postmaster", "b.example", 0, "", "its postmaster: the first mailbox");
	n_warn = 0;
	conf_warnings(&C, warn_keep, NULL);
	is_int(n_warn, 2, "one warning per domain");
	is_str(warn_text[0], "postmaster@b.example is not configured; it goes to "
	       "one@a.example (the first mailbox)", "b.example first");
	is_int(warn_line[0], 1, "at its first line");
	is_str(warn_text[1], "postmaster@a.example is not configured; it goes to "
	       "one@a.example (the first mailbox)", "then a.example");
	is_int(warn_line[1], 2, "at its line");

	is_int(load("domain=b.example\ndomain=a.example\ndomain=b.example\n"
	            "mailbox=one@a.example,/m/1\nalias=postmaster@a.example,one@a.example\n"
	            "mailbox=@b.example,/m/2\n"), 0, "both postmasters named");
	is_int(C.postmaster_implicit, 0, "postmaster_implicit not set");
	n_warn = 0;
	conf_warnings(&C, warn_keep, NULL);
	is_int(n_warn, 0, "no warning");
}

static void test_literal(void)
{
	is_int(load("domain=[192.168.1.1]\ndomain=[IPv6:fe80::1]\n"
	            "mailbox=admin@[192.168.1.1],/m/a\nmailbox=@[ipv6:fe80::1],/m/b\n"),
	       0, "address-literal domains");
	one("admin", "[192.168.1.1]", 0, "", "user@[192.168.1.1]");
	one("x", "[IPv6:FE80::1]", 1, "", "catch-all at an IPv6 literal");
	none("admin", "[192.168.1.2]", RCPT_RELAY, "other literal: relay");
}

static void test_folder_ok(void)
{
	ok(policy_folder_ok("work"), "work");
	ok(policy_folder_ok("a.b"), "a.b");
	ok(policy_folder_ok("Work-2024_x~y"), "punctuation");
	ok(!policy_folder_ok(""), "empty");
	ok(!policy_folder_ok(NULL), "NULL");
	ok(!policy_folder_ok("."), ".");
	ok(!policy_folder_ok(".."), "..");
	ok(!policy_folder_ok(".x"), ".x");
	ok(!policy_folder_ok("x."), "x.");
	ok(!policy_folder_ok("a..b"), "a..b");
	ok(!policy_folder_ok("a/b"), "a/b");
	ok(!policy_folder_ok("/"), "/");
	ok(!policy_folder_ok("a\\b"), "backslash");
	ok(!policy_folder_ok("a\nb"), "LF");
	ok(!policy_folder_ok("a\rb"), "CR");
	ok(!policy_folder_ok("\x1b"), "ESC");
	ok(!policy_folder_ok("a\x7f"), "DEL");
	ok(!policy_folder_ok("\xc3\xa9"), "non-ASCII");
	{
		char s[CONF_TAG_MAX + 2];
		memset(s, 'a', sizeof(s));
		s[CONF_TAG_MAX] = '\0';
		ok(policy_folder_ok(s), "CONF_TAG_MAX characters");
		s[CONF_TAG_MAX] = 'a';
		s[CONF_TAG_MAX + 1] = '\0';
		ok(!policy_folder_ok(s), "one more");
	}
}

/* Random local parts from a hostile alphabet: a result only ever names a
 * configured mailbox, and a folder is "" or a plain name. */
static void test_random(void)
{
	static const char alpha[] = "./+-\\aUb\x01\x7f\xc3";
	static const char *domains[] = { "example.org", "other.example", "localhost", "x.org" };
	uint32_t seed = 12345;
	unsigned i, j, bad = 0, okc = 0;
	char local[ADDR_LOCAL_MAX + 1];

	load(config);
	for (i = 0; i < 20000; i++) {
		unsigned len;
		int r;
		seed = seed * 1103515245u + 12345u;
		len = 1 + (seed >> 16) % ADDR_LOCAL_MAX;
		for (j = 0; j < len; j++) {
			seed = seed * 1103515245u + 12345u;
			local[j] = alpha[(seed >> 16) % (sizeof(alpha) - 1)];
		}
		local[len] = '\0';
		if (i % 7 == 0)
			memcpy(local, "user+", len >= 5 ? 5 : len);
		r = resolve(local, domains[i % 4]);
		if (r == RCPT_OK)
			okc++;
		if (r != RCPT_OK && N != 0)
			bad++;
		for (j = 0; j < N && r == RCPT_OK; j++) {
			if (T[j].mailbox >= C.n_mailbox || strchr(T[j].folder, '/') ||
			    (T[j].folder[0] && !policy_folder_ok(T[j].folder)))
				bad++;
		}
	}
	is_int(bad, 0, "20000 hostile local parts: only configured mailboxes, plain folders");
	ok(okc > 1000, "and many were accepted (%u)", okc);
}

int main(void)
{
	test_exact();
	test_alias();
	test_tags();
	test_tags_off();
	test_catchall();
	test_postmaster();
	test_postmaster_repeated_domain();
	test_literal();
	test_folder_ok();
	test_random();
	return tap_done();
}
