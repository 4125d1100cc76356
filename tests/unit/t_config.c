/* core/conf.c and core/arena.c: the option table, the file and
 * command-line parsers, conf_finish(), the helpers. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "conf.h"
#include "arena.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define MAX_ERR 64

struct errs {
	unsigned n;
	char file[MAX_ERR][128];
	unsigned line[MAX_ERR];
	char msg[MAX_ERR][400];
};

static struct errs E;
static unsigned char mem[CFG_CONF_ARENA_KB * 1024];
static struct arena A;
static struct mn_config C;

static void collect(void *ctx, const char *file, unsigned line, const char *msg)
{
	struct errs *e = ctx;

	if (e->n < MAX_ERR) {
		snprintf(e->file[e->n], sizeof(e->file[0]), "%s", file);
		e->line[e->n] = line;
		snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", msg);
	}
	e->n++;
}

static void dump(void)
{
	unsigned i;

	for (i = 0; i < E.n && i < MAX_ERR; i++)
		printf("#   %s:%u: %s\n", E.file[i], E.line[i], E.msg[i]);
}

/* index of the first error whose message holds sub, or -1 */
static int find_err(const char *sub)
{
	unsigned i;

	for (i = 0; i < E.n && i < MAX_ERR; i++)
		if (strstr(E.msg[i], sub))
			return (int)i;
	return -1;
}

static void start(void)
{
	memset(&E, 0, sizeof(E));
	arena_init(&A, mem, sizeof(mem));
	conf_init(&C, &A);
}

static unsigned parse(const char *text)
{
	return conf_parse(&C, "t.conf", text, strlen(text), collect, &E);
}

static unsigned arg(const char *a)
{
	return conf_parse_arg(&C, a, collect, &E);
}

static unsigned finish(void)
{
	return conf_finish(&C, collect, &E);
}

/* parse + finish of a whole text; the number of errors */
static unsigned load(const char *text)
{
	unsigned n;

	start();
	n = parse(text);
	n += finish();
	return n;
}

#define BASE "domain=example.org\nmailbox=user@example.org,/var/mail/user\n"

static void test_good_config(void)
{
	static char text[2048];
	unsigned n, sessions = CFG_MAX_SESSIONS >= 2 ? 2 : 1;

	snprintf(text, sizeof(text),
		"# a full configuration\n"
		"listen=127.0.0.1:2525\n"
		"%s\n"
		"hostname=Mail.Example.ORG\n"
		"domain=Example.ORG\n"
		"domain=localhost\n"
		"mailbox=User@Example.org,/var/mail/user\n"
		"mailbox=@localhost , /var/mail/catch\n"
		"mailbox=Bob@example.org,Maildir/bob\n"
		"alias=postmaster@example.org,user@example.org\n"
		"alias=team@example.org, user@example.org ,bob@example.org,USER@example.org\n"
		"recipient-delimiter=+-\n"
		"tag-folders\n"
		"max-message-size=20M\n"
		"max-recipients=100\n"
		"max-sessions=%u\n"
		"max-sessions-per-ip=1\n"
		"timeout=120\n"
		"allow-from=192.168.1.0/24\n"
		"allow-from=fe80::/10\n"
		"user=mail\n"
		"pid-file=/run/mailnook.pid\n"
		"min-free-space=0\n"
		"allow-bare-lf\n",
		CFG_IPV6 ? "listen=[::1]:2525" : "listen=127.0.0.2:2525", sessions);
	start();
	n = parse(text);
	if (CFG_STATS)
		n += parse("stats-file=/var/lib/mailnook/stats.prom\n");
	n += finish();
	is_int(n, 0, "good config: no errors");
	if (n)
		dump();
	is_int(C.n_listen, 2, "two listeners");
	is_str(C.listen[0].addr, "127.0.0.1", "listen 0 address");
	is_int(C.listen[0].port, 2525, "listen 0 port");
	is_int(C.listen[0].v6, 0, "listen 0 is IPv4");
	is_mem(C.listen[0].ip, 4, "\177\0\0\1", 4, "listen 0 address bytes, for bind()");
	is_str(C.listen[1].addr, CFG_IPV6 ? "::1" : "127.0.0.2", "listen 1 address without brackets");
	is_int(C.listen[1].v6, CFG_IPV6, "listen 1 is IPv6");
	is_int(C.listen[1].tls, 0, "listen 1 is plain");
	is_str(C.hostname, "Mail.Example.ORG", "hostname kept as given");
	is_int(C.n_domains, 2, "two domains");
	is_str(C.first_domain, "example.org", "first domain, lower-case");
	ok(conf_is_local_domain(&C, "EXAMPLE.org"), "local domain, any case");
	ok(conf_is_local_domain(&C, "localhost"), "second local domain");
	ok(!conf_is_local_domain(&C, "example.com"), "other domain is not local");
	ok(!conf_is_local_domain(&C, ""), "empty domain is not local");
	is_int(C.n_mailbox, 3, "three mailboxes");
	is_str(C.mailbox[0].address, "user@example.org", "mailbox address lower-cased");
	is_str(C.mailbox[0].maildir, "/var/mail/user", "maildir");
	is_str(C.mailbox[1].address, "@localhost", "catch-all, spaces around comma trimmed");
	is_str(C.mailbox[1].maildir, "/var/mail/catch", "catch-all maildir trimmed");
	is_str(C.mailbox[2].maildir, "Maildir/bob", "relative maildir kept");
	is_str(C.mailbox[0].file, "t.conf", "mailbox origin file");
	is_int(C.mailbox[0].line, 7, "mailbox origin line");
	is_str(C.rcpt_delim, "+-", "recipient-delimiter");
	is_int(C.tag_folders, 1, "tag-folders");
	is_int(C.max_size, 20 << 20, "max-message-size 20M");
	is_int(C.max_rcpt, 100, "max-recipients");
	is_int(C.max_sessions, sessions, "max-sessions");
	is_int(C.max_per_ip, 1, "max-sessions-per-ip");
	is_int(C.timeout, 120, "timeout");
	is_int(C.n_allow, 2, "two allow-from entries");
	is_int(C.allow_from[0].bits, 24, "allow-from v4 prefix");
	is_int(C.allow_from[1].v6, 1, "allow-from v6");
	is_int(C.allow_from[1].bits, 10, "allow-from v6 prefix");
	is_str(C.user, "mail", "user");
	is_str(C.pid_file, "/run/mailnook.pid", "pid-file");
	if (CFG_STATS)
		is_str(C.stats_file, "/var/lib/mailnook/stats.prom", "stats-file");
	is_int(C.min_free, 0, "min-free-space 0 allowed");
	ok(C.strict_crlf == 0 && C.n_bare_lf == 0, "allow-bare-lf alone: the default, no network");
	is_int(C.postmaster_implicit, 0, "postmaster: an alias and a catch-all");
	ok(C.conf_file == NULL, "conf_file: platform's to set");
	ok(C.n_tls_cert == 0 && C.n_tls_key == 0, "no TLS files");
}

static struct errs W;

static void warn_collect(void *ctx, const char *file, unsigned line, const char *msg)
{
	collect(ctx, file, line, msg);
}

static void test_postmaster_warning(void)
{
	unsigned n;

	n = load("domain=localhost\ndomain=example.org\n"
	         "mailbox=user@localhost,/m/user\n"
	         "mailbox=@example.org,/m/catch\n");
	is_int(n, 0, "postmaster config loads");
	is_int(C.postmaster_implicit, 1, "postmaster implicit");
	memset(&W, 0, sizeof(W));
	conf_warnings(&C, warn_collect, &W);
	is_int(W.n, 1, "one warning (example.org has a catch-all)");
	is_str(W.msg[0], "postmaster@localhost is not configured; it goes to user@localhost (the first mailbox)",
	       "warning text");
	is_str(W.file[0], "t.conf", "warning file");
	is_int(W.line[0], 1, "warning at the domain line");

	n = load("domain=localhost\nmailbox=user@localhost,/m/user\n"
	         "alias=POSTMASTER@localhost,user@localhost\n");
	is_int(n, 0, "explicit postmaster loads");
	is_int(C.postmaster_implicit, 0, "postmaster explicit: not implicit");
	memset(&W, 0, sizeof(W));
	conf_warnings(&C, warn_collect, &W);
	is_int(W.n, 0, "no warning");

	n = load("domain=localhost\nmailbox=user@localhost,/m/user\n"
	         "recipient-delimiter=\ntag-folders\n");
	is_int(n, 0, "empty delimiter loads");
	is_str(C.rcpt_delim, "", "empty delimiter");
	memset(&W, 0, sizeof(W));
	conf_warnings(&C, warn_collect, &W);
	is_int(W.n, 2, "postmaster and tag-folders warnings");
	ok(W.n == 2 && strstr(W.msg[1], "tag-folders has no effect"), "tag-folders warning");
}

static void test_syntax(void)
{
	unsigned n;

	n = load("\xef\xbb\xbf# comment\n"
	         "\n"
	         "   \t\n"
	         "  # indented comment\r\n"
	         "\t domain   =   example.org  \t\r\n"
	         "mailbox = user@example.org , /var/mail/user dir  \n"
	         "  tag-folders  \n"
	         "max-recipients=100");  /* no final newline */
	is_int(n, 0, "comments, blank lines, spaces, CRLF, BOM, no final newline");
	if (n)
		dump();
	ok(conf_is_local_domain(&C, "example.org"), "domain read with spaces around =");
	is_str(C.mailbox[0].maildir, "/var/mail/user dir", "inner space of a value kept");
	is_int(C.tag_folders, 1, "flag with spaces around");

	n = load(BASE "frobnicate=1\n");
	is_int(n, 1, "unknown option: one error");
	is_int(find_err("unknown option 'frobnicate'"), 0, "unknown option message");
	is_str(E.file[0], "t.conf", "unknown option: file");
	is_int(E.line[0], 3, "unknown option: line");

	n = load(BASE "Listen=1.2.3.4:25\n");
	ok(n == 1 && find_err("unknown option 'Listen'") >= 0, "option names are case-sensitive");

	/* a value in a message: quoted, cut after 80 bytes, a tab as '?' */
	n = load(BASE "frob\tnicate=1\n");
	ok(n == 1 && find_err("unknown option 'frob?nicate'") >= 0, "a tab in a quoted name");
	n = load(BASE "timeout=" "1234567890123456789012345678901234567890"
	         "1234567890123456789012345678901234567890" "x\n");
	ok(n == 1 && find_err("timeout: '1234567890123456789012345678901234567890"
	                      "1234567890123456789012345678901234567890...': not a number") >= 0,
	   "a long value cut after 80 bytes");
	n = load(BASE "timeout=" "1234567890123456789012345678901234567890"
	         "123456789012345678901234567890123456789x\n");
	ok(n == 1 && find_err("timeout: '1234567890123456789012345678901234567890"
	                      "123456789012345678901234567890123456789x': not a number") >= 0,
	   "a value of 80 bytes in full");

	n = load(BASE "=5\n");
	ok(n == 1 && find_err("missing option name") >= 0, "missing name");

	n = load(BASE "listen\n");
	ok(n == 1 && find_err("listen: needs a value (listen=ADDR:PORT[,auth])") >= 0, "missing value");
	n = load(BASE "listen=\n");
	ok(n == 1 && find_err("listen: empty value") >= 0, "empty value");
	n = load(BASE "tag-folders=yes\n");
	ok(n == 1 && find_err("tag-folders: takes no value") >= 0, "flag given a value");
	n = load(BASE "allow-bare-lf=\n");
	ok(n == 1 && find_err("allow-bare-lf: empty value (allow-bare-lf=CIDR)") >= 0,
	   "allow-bare-lf= with an empty value");
	n = load(BASE "strict-crlf=yes\n");
	ok(n == 1 && find_err("strict-crlf: takes no value") >= 0, "strict-crlf given a value");
	n = load(BASE "hostname=a\001b\n");
	ok(n == 1 && find_err("control character") >= 0, "control character in a line");
	{
		static const char nul[] = BASE "hostname=a\0b\n";
		start();
		n = conf_parse(&C, "t.conf", nul, sizeof(nul) - 1, collect, &E);
		ok(n == 1 && find_err("NUL byte") >= 0 && E.line[0] == 3, "NUL byte in a line");
	}
	{
		static char big[6000];
		memset(big, 'a', sizeof(big) - 1);
		memcpy(big, "pid-file=", 9);
		n = load(big);
		ok(n >= 1 && find_err("line longer than") >= 0, "line too long");
	}
	n = load(BASE "conf-file=/etc/x.conf\nforeground\ntest\n");
	is_int(n, 3, "command-line-only options in a file: three errors");
	ok(find_err("conf-file: only valid on the command line") >= 0, "conf-file in a file");
	ok(find_err("foreground: only valid on the command line") >= 0, "foreground in a file");
	ok(find_err("test: only valid on the command line") >= 0, "test in a file");
	ok(E.line[0] == 3 && E.line[1] == 4 && E.line[2] == 5, "their lines");
}

struct bad_case {
	const char *line;
	const char *want;       /* part of the message */
};

static const struct bad_case bad_cases[] = {
	{ "listen=1.2.3.4", "listen: '1.2.3.4': missing :PORT" },
	{ "listen=1.2.3.4:0", "port must be a number from 1 to 65535" },
	{ "listen=1.2.3.4:65536", "port must be a number from 1 to 65535" },
	{ "listen=1.2.3.4:25x", "port must be a number" },
	{ "listen=1.2.3.4:", "port must be a number" },
	{ "listen=1.2.3.256:25", "not a numeric IPv4 address" },
	{ "listen=01.2.3.4:25", "not a numeric IPv4 address" },
	{ "listen=1.2.3:25", "not a numeric IPv4 address" },
	{ "listen=localhost:25", "no host names" },
	{ "listen=::1:25", "IPv6 address goes in brackets" },
	{ "listen=[::1:25", "missing ']'" },
	{ "listen=[::1]25", "missing :PORT after ']'" },
	{ "listen=[1::2::3]:25", "not a numeric IPv6 address" },
	{ "listen=[fe80::1%eth0]:25", "not a numeric IPv6 address" },
	{ "listen=[1.2.3.4]:25", "not a numeric IPv6 address" },
	{ "hostname=-bad.example", "a label starts with '-'" },
	{ "hostname=bad..example", "empty label" },
	{ "hostname=[1.2.3.4]", "not an address literal" },
	{ "hostname=under_score", "only letters, digits" },
	{ "domain=example.org.", "empty label" },
	{ "domain=.example.org", "empty label" },
	{ "domain=exa mple.org", "only letters, digits" },
	{ "domain=bad-.org", "a label ends with '-'" },
	{ "domain=b\xc3\xbc" "cher.de", "xn--" },
	{ "domain=1.2.3.4", "an IP address, not a domain" },
	{ "domain=[1.2.3.400]", "bad address literal" },
	{ "domain=[IPv6:1::2::3]", "bad address literal" },
	{ "domain=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org", "longer than 63" },
	{ "mailbox=user@example.org", "missing MAILDIR" },
	{ "mailbox=user@example.org,", "empty MAILDIR" },
	{ "mailbox=user@example.org,/a,/b", "too many fields" },
	{ "mailbox=userexample.org,/a", "not an address" },
	{ "mailbox=a@b@example.org,/a", "more than one '@'" },
	{ "mailbox=us er@example.org,/a", "not allowed in a local part" },
	{ "mailbox=user@,/a", "empty domain" },
	{ "mailbox=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org,/a", "longer than 64" },
	{ "alias=team@example.org", "missing TARGET" },
	{ "alias=team@example.org,", "target '': not an address" },
	{ "alias=team@example.org,user@example.org,,", "not an address" },
	{ "alias=team,user@example.org", "not an address" },
	{ "alias=team@example.org,bad target@example.org", "target 'bad target@example.org'" },
	{ "alias=team@example.org,a@example.org,-@-", "alias: 'team@example.org,a@example.org,-@-': target '-@-': a label starts with '-'" },
	{ "recipient-delimiter=@", "only printable ASCII" },
	{ "recipient-delimiter=+ -", "only printable ASCII" },
	{ "recipient-delimiter=0123456789abcdef", "at most 15" },
	{ "max-message-size=abc", "not a size" },
	{ "max-message-size=10X", "not a size" },
	{ "max-message-size=-1", "not a size" },
	{ "max-message-size=10 M", "not a size" },
	{ "max-message-size=63k", "below 64k, the minimum RFC 5321 4.5.3.1.7 requires" },
	{ "max-message-size=65535", "RFC 5321 4.5.3.1.7" },
	{ "max-message-size=99999999999999999999", "not a size" },
	{ "max-message-size=18014398509481984M", "not a size" },
	{ "max-recipients=99", "below 100, the minimum RFC 5321 4.5.3.1.8 requires" },
	{ "max-recipients=0", "RFC 5321 4.5.3.1.8" },
	{ "max-recipients=1e3", "not a number" },
	{ "max-recipients=+100", "not a number" },
	{ "max-sessions=0", "below 1, the minimum" },
	{ "max-sessions=99999999999", "not a number" },
	{ "max-sessions-per-ip=0", "below 1, the minimum" },
	{ "max-sessions-per-ip=x", "not a number" },
	{ "timeout=0", "below 1, the minimum" },
	{ "timeout=86401", "above 86400, the maximum" },
	{ "timeout=5m", "not a number" },
	{ "allow-from=10.0.0.1/8", "allow-from: '10.0.0.1/8': host bits set after the prefix length (give the network address: 10.0.0.0/8)" },
	{ "allow-from=192.168.1.77/26", "(give the network address: 192.168.1.64/26)" },
	{ "allow-from=10.1.2.3/0", "(give the network address: 0.0.0.0/0)" },
	{ "allow-from=10.0.0.0/33", "prefix length must be 0 to 32" },
	{ "allow-from=10.0.0.0/", "prefix length" },
	{ "allow-from=10.0.0/8", "not an IPv4 network" },
	{ "allow-from=fe80::1/10", "allow-from: 'fe80::1/10': host bits set after the prefix length (give the network address)" },
	{ "allow-from=fe80::/129", "prefix length must be 0 to 128" },
	{ "allow-from=1:2:3:4:5:6:7:8:9", "not an IPv6 network" },
	{ "allow-from=:::", "not an IPv6 network" },
	{ "allow-from=1::2::3", "not an IPv6 network" },
	{ "allow-from=:1::", "not an IPv6 network" },
	{ "allow-from=1:2:3:4:5:6:7:8::", "not an IPv6 network" },
	{ "allow-from=12345::", "not an IPv6 network" },
	{ "allow-from=::1.2.3.4.5", "not an IPv6 network" },
	{ "allow-from=1.2.3.4::", "not an IPv6 network" },
	{ "allow-from=example.org", "not an IPv4 network" },
	{ "allow-bare-lf=10.0.0.1/8", "host bits set" },
	{ "allow-bare-lf=10.0.0.0/33", "prefix length must be 0 to 32" },
	{ "allow-bare-lf=fe80::/129", "prefix length must be 0 to 128" },
	{ "allow-bare-lf=printer.lan", "not an IPv4 network" },
	{ "allow-bare-lf=1::2::3", "not an IPv6 network" },
	{ "min-free-space=1T", "not a size" },
	{ "min-free-space=k", "not a size" },
	{ "user=a b", "not a user name" },
};

static void test_bad_values(void)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		char text[512];
		unsigned n;
		int at;

		snprintf(text, sizeof(text), BASE "%s\n", bad_cases[i].line);
		start();
		n = parse(text);
		at = find_err(bad_cases[i].want);
		if (!ok(n == 1 && at == 0 && strcmp(E.file[0], "t.conf") == 0 &&
		        E.line[0] == 3, "bad: %s", bad_cases[i].line)) {
			printf("#   want: %s\n", bad_cases[i].want);
			dump();
		}
	}
}

static void test_many_errors(void)
{
	unsigned n;

	n = load("listen=1.2.3.4\n"
	         "domain=example.org\n"
	         "bogus\n"
	         "max-recipients=5\n"
	         "mailbox=user@example.org,/m/u\n"
	         "max-message-size=1k\n"
	         "timeout=never\n"
	         "alias=a@example.org,nobody@example.org\n"
	         "mailbox=x@elsewhere.org,/m/x\n");
	is_int(n, 7, "seven errors, all reported");
	if (n != 7)
		dump();
	ok(E.n == 7 && E.line[0] == 1 && E.line[1] == 3 && E.line[2] == 4 &&
	   E.line[3] == 6 && E.line[4] == 7, "parse errors in line order");
	ok(find_err("mailbox x@elsewhere.org: domain elsewhere.org is not a local domain (add domain=elsewhere.org)") >= 0,
	   "mailbox outside the local domains");
	ok(find_err("alias a@example.org: target nobody@example.org is not a configured mailbox") >= 0,
	   "alias to an unknown target");
	{
		int i = find_err("not a local domain");
		int j = find_err("nobody@example.org is not a configured");
		ok(i >= 0 && E.line[i] == 9 && j >= 0 && E.line[j] == 8,
		   "finish errors name the line of the offending option");
	}
}

static void test_finish_errors(void)
{
	unsigned n;
	int i;

	/* a file name in a message: a control character as '?' */
	start();
	n = conf_parse(&C, "a\tb.conf", BASE, strlen(BASE), collect, &E);
	n += parse("mailbox=user@example.org,/m/v\n");
	n += finish();
	ok(n == 1 && find_err("mailbox user@example.org: given twice (first at a?b.conf:2)") >= 0,
	   "a tab in a file name, in a message");

	n = load("mailbox=user@example.org,/m/u\n\n");
	i = find_err("no domain defined");
	ok(n >= 1 && i >= 0, "no domain");
	ok(i >= 0 && strcmp(E.file[i], "t.conf") == 0 && E.line[i] == 2,
	   "no domain: reported at the file's last line");
	ok(find_err("is not a local domain") < 0, "no cascade of 'not a local domain'");

	n = load("domain=example.org\n");
	ok(n == 1 && find_err("no mailbox defined") >= 0, "no mailbox");

	n = load(BASE "mailbox=USER@example.org,/other\n");
	ok(n == 1 && find_err("mailbox user@example.org: given twice (first at t.conf:2)") >= 0 &&
	   E.line[0] == 3, "same mailbox twice");

	n = load(BASE "mailbox=user@example.org,/other\nmailbox=x@b.org,/x\nmailbox=x@b.org,/y\n");
	ok(n == 4 && find_err("mailbox x@b.org: given twice (first at t.conf:4)") >= 0 &&
	   find_err("mailbox x@b.org: domain b.org is not a local domain (add domain=b.org)") >= 0,
	   "a repeated mailbox outside the local domains: each message whole");

	n = load(BASE "alias=user@example.org,user@example.org\n");
	ok(n == 1 && find_err("alias user@example.org: is already a mailbox, which an alias may not shadow (t.conf:2)") >= 0,
	   "alias shadowing a mailbox");

	n = load("alias=a@example.org,user@example.org\n" BASE);
	is_int(n, 0, "alias before its target mailbox in the file");

	n = load(BASE "alias=a@example.org,user@example.org\nalias=A@example.org,user@example.org\n");
	ok(n == 1 && find_err("alias a@example.org: given twice (first at t.conf:3)") >= 0, "alias twice");

	n = load(BASE "alias=a@example.org,user@example.org\nalias=b@example.org,a@example.org\n");
	ok(n == 1 && find_err("target a@example.org is an alias") >= 0, "alias to an alias");

	n = load(BASE "alias=a@other.org,user@example.org\n");
	ok(n == 1 && find_err("alias a@other.org: domain other.org is not a local domain") >= 0,
	   "alias outside the local domains");

	n = load(BASE "alias=a@example.org,nobody@example.org,user@example.org,ghost@example.org\n");
	is_int(n, 2, "two unknown alias targets: two errors");

	n = load(BASE "max-sessions=4\nmax-sessions-per-ip=5\n");
	i = find_err("max-sessions-per-ip: 5 is above max-sessions (4)");
	ok(n == 1 && i >= 0 && E.line[i] == 4, "per-ip above max-sessions, at its line");

	n = load(BASE "domain=example.org\ndomain=EXAMPLE.org\n");
	ok(n == 0 && C.n_domains == 1, "a repeated domain counts once");
}

/* quota=, rotate=, expire= (CONFIG_QUOTA): values, and their mailboxes */
static void test_mailbox_limits(void)
{
	unsigned n;
	int i;

	n = load(BASE "mailbox=b@example.org,/m/b\n"
	         "quota=user@example.org,10M,500\nrotate=USER@example.org\n"
	         "expire=user@example.org,30\nquota=b@example.org,0,7\n");
	if (!CFG_QUOTA) {
		ok(n == 4 && find_err("CONFIG_QUOTA") >= 0,
		   "without CONFIG_QUOTA: each line an error");
		return;
	}
	if (n)
		dump();
	ok(n == 0 && C.mailbox[0].quota && C.mailbox[0].quota_bytes == 10485760 &&
	   C.mailbox[0].quota_count == 500 && C.mailbox[0].rotate &&
	   C.mailbox[0].expire_days == 30, "quota, rotate and expire on their mailbox");
	ok(C.mailbox[1].quota && C.mailbox[1].quota_bytes == 0 &&
	   C.mailbox[1].quota_count == 7 && !C.mailbox[1].rotate &&
	   !C.mailbox[1].expire_days, "a message limit alone; the other options per mailbox");

	n = load(BASE "quota=user@example.org,0\n");
	ok(n == 1 && find_err("no limit") >= 0, "quota with no limit at all");
	n = load(BASE "quota=user@example.org\n");
	ok(n == 1 && find_err("quota: wrong number of fields (quota=ADDRESS,SIZE[,MESSAGES])") >= 0, "quota without SIZE");
	n = load(BASE "quota=user@example.org,1M,2,3\n");
	ok(n == 1 && find_err("wrong number of fields") >= 0, "quota with four fields");
	n = load(BASE "quota=user@example.org,lots\n");
	ok(n == 1 && find_err("SIZE: not a size") >= 0, "quota with a bad SIZE");
	n = load(BASE "rotate=user@example.org,1\n");
	ok(n == 1 && find_err("wrong number of fields") >= 0, "rotate takes one field");
	n = load(BASE "expire=user@example.org,0\n");
	ok(n == 1 && find_err("DAYS") >= 0, "expire below 1 day");
	n = load(BASE "expire=user@example.org,36501\n");
	ok(n == 1 && find_err("DAYS") >= 0, "expire above 36500 days");

	n = load(BASE "quota=ghost@example.org,1M\n");
	i = find_err("quota ghost@example.org: is not a configured mailbox");
	ok(n == 1 && i >= 0 && E.line[i] == 3, "quota of no mailbox, at its line");
	n = load(BASE "alias=a@example.org,user@example.org\nexpire=a@example.org,3\n");
	ok(n == 1 && find_err("expire a@example.org: is an alias") >= 0, "expire of an alias");
	n = load(BASE "quota=user@example.org,1M\nquota=user@example.org,2M\n");
	i = find_err("quota user@example.org: given twice");
	ok(n == 1 && i >= 0 && E.line[i] == 4, "quota twice for one mailbox, at the second");
	n = load(BASE "rotate=user@example.org\n");
	i = find_err("rotate user@example.org: needs a quota");
	ok(n == 1 && i >= 0 && E.line[i] == 3, "rotate without a quota");
	n = load("rotate=user@example.org\nquota=user@example.org,1M\n" BASE);
	is_int(n, 0, "limits before their mailbox in the file");

	/* the command line's first quota= replaces the file's */
	start();
	n = parse(BASE "quota=user@example.org,1M\nrotate=user@example.org\n");
	n += arg("--quota=user@example.org,2M");
	n += finish();
	ok(n == 0 && C.mailbox[0].quota_bytes == 2097152 && C.mailbox[0].rotate,
	   "--quota replaces the file's quota lines, not its rotate lines");
}

static void test_defaults(void)
{
	unsigned n = load(BASE);

	is_int(n, 0, "minimal config");
	is_int(C.n_listen, 1, "default listener");
	is_str(C.listen[0].addr, "0.0.0.0", "default listen address");
	is_mem(C.listen[0].ip, 4, "\0\0\0\0", 4, "default listen address bytes");
	is_int(C.listen[0].port, 25, "default listen port");
	is_int(C.listen[0].tls, 0, "default listener is plain");
	ok(memcmp(C.listen[0].ip, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0 &&
	   !C.listen[0].v6 && !C.listen[0].auth, "the default listener's bytes: 0.0.0.0");
	is_str(C.hostname, "", "hostname empty: platform fills it");
	is_str(C.rcpt_delim, "+", "default delimiter");
	is_int(C.tag_folders, 0, "tag-folders off");
	is_int(C.max_size, 10 * 1024 * 1024, "max-message-size 10M");
	is_int(C.max_rcpt, 100, "max-recipients 100");
	is_int(C.max_sessions, CFG_MAX_SESSIONS, "max-sessions: compiled-in");
	is_int(C.max_per_ip, (CFG_MAX_SESSIONS + 1) / 2,
	       "max-sessions-per-ip = max-sessions / 2, rounded up");
	is_int(C.timeout, 300, "timeout 300");
	is_int(C.min_free, 1024 * 1024, "min-free-space 1M");
	if (CFG_TLS)
		is_int(C.tls_min_version, 0x0303, "tls-min-version 1.2");
	is_int(C.strict_crlf, 0, "strict-crlf off: bare LF is a line end");
	is_int(C.n_bare_lf, 0, "allow-bare-lf empty");
	is_int(C.n_allow, 0, "allow-from empty");
	ok(C.user == NULL && C.pid_file == NULL && C.stats_file == NULL, "no user, pid, stats");
	is_int(C.postmaster_implicit, 1, "postmaster implicit");

	n = load(BASE "max-sessions=2\n");
	is_int(C.max_per_ip, 1, "per-ip follows max-sessions: 2 -> 1");
	n = load(BASE "max-sessions=3\n");   /* tiny_defconfig has 4 slots */
	is_int(C.max_per_ip, 2, "  3 -> 2 (rounded up)");
	n = load(BASE "max-sessions=1\n");
	is_int(C.max_per_ip, 1, "  1 -> 1 (the only slot stays usable)");
	n = load(BASE "max-sessions=4\nmax-sessions-per-ip=4\n");
	is_int(C.max_per_ip, 4, "  an explicit value is kept");
}

static void test_sizes(void)
{
	uint64_t v = 0;

	ok(conf_parse_size("0", &v) == 0 && v == 0, "size 0");
	ok(conf_parse_size("123", &v) == 0 && v == 123, "size 123");
	ok(conf_parse_size("64k", &v) == 0 && v == 65536, "size 64k");
	ok(conf_parse_size("64K", &v) == 0 && v == 65536, "size 64K");
	ok(conf_parse_size("10M", &v) == 0 && v == 10485760, "size 10M");
	ok(conf_parse_size("2G", &v) == 0 && v == 2147483648u, "size 2G");
	ok(conf_parse_size("", &v) != 0, "size empty");
	ok(conf_parse_size("M", &v) != 0, "size suffix alone");
	ok(conf_parse_size("1.5M", &v) != 0, "size with a dot");
	ok(conf_parse_size("10MB", &v) != 0, "size 10MB");
	ok(conf_parse_size(" 10M", &v) != 0, "size with a space");
	ok(conf_parse_size("18446744073709551615", &v) == 0 && v == UINT64_MAX, "size max");
	ok(conf_parse_size("18446744073709551616", &v) != 0, "size overflow");
	ok(conf_parse_size("17179869184G", &v) != 0, "size overflow by suffix");
	ok(conf_parse_size("17179869183G", &v) == 0 && v == UINT64_C(17179869183) << 30,
	   "the largest size with a suffix");
	ok(conf_parse_size("16m", &v) == 0 && v == 16777216, "size 16m");
	ok(conf_parse_size("3g", &v) == 0 && v == UINT64_C(3) << 30, "size 3g");
	ok(conf_parse_size("k", &v) != 0, "size k alone");

	is_int(load(BASE "max-message-size=64k\n"), 0, "max-message-size 64k is fine");
	is_int(C.max_size, 65536, "64k");
	is_int(load(BASE "max-message-size=65536\n"), 0, "max-message-size 65536 is fine");
	is_int(load(BASE "min-free-space=512k\n"), 0, "min-free-space 512k");
	is_int(C.min_free, 512 * 1024, "512k");
}

static void test_limits(void)
{
	char text[256];
	unsigned n, i;
	int at;

	snprintf(text, sizeof(text), BASE "max-recipients=%d\n", CFG_MAX_RECIPIENTS);
	is_int(load(text), 0, "max-recipients at the compiled-in limit");
	snprintf(text, sizeof(text), BASE "max-recipients=%d\n", CFG_MAX_RECIPIENTS + 1);
	n = load(text);
	at = find_err("above " STR(CFG_MAX_RECIPIENTS) ", the compiled-in limit");
	ok(n == 1 && at >= 0 && strstr(E.msg[at], "CONFIG_MAX_RECIPIENTS"),
	   "max-recipients above the compiled-in limit");

	snprintf(text, sizeof(text), BASE "max-sessions=%d\n", CFG_MAX_SESSIONS);
	is_int(load(text), 0, "max-sessions at the compiled-in limit");
	snprintf(text, sizeof(text), BASE "max-sessions=%d\n", CFG_MAX_SESSIONS + 1);
	n = load(text);
	at = find_err("CONFIG_MAX_SESSIONS");
	ok(n == 1 && at >= 0, "max-sessions above the compiled-in limit");

	/* listeners: CFG_MAX_LISTENERS fit, one more does not */
	start();
	n = parse(BASE);
	for (i = 0; i <= CFG_MAX_LISTENERS; i++) {
		snprintf(text, sizeof(text), "listen=127.0.0.1:%u\n", 2500 + i);
		n += parse(text);
	}
	ok(n == 1 && find_err("CONFIG_MAX_LISTENERS") >= 0, "one listener too many");
	is_int(C.n_listen, CFG_MAX_LISTENERS, "listeners kept");

	n = load(BASE "listen=127.0.0.1:25\nlisten=127.0.0.1:25\n");
	ok(n == 1 && find_err("already a listener") >= 0, "the same listener twice");
	n = load(BASE "listen=[::1]:25\nlisten=[0:0::1]:25\n");
	if (CFG_IPV6)
		ok(n == 1 && find_err("already a listener") >= 0, "the same IPv6 listener, written differently");
	else
		ok(n == 2 && find_err("CONFIG_IPV6") >= 0, "IPv6 listeners need CONFIG_IPV6");
	n = load(BASE "listen=127.0.0.1:25\nlisten=127.0.0.1:26\n");
	is_int(n, 0, "same address, two ports");

	/* mailboxes */
	start();
	n = parse("domain=example.org\n");
	for (i = 0; i <= CFG_MAX_MAILBOXES; i++) {
		snprintf(text, sizeof(text), "mailbox=u%u@example.org,/m/%u\n", i, i);
		n += parse(text);
	}
	ok(n == 1 && find_err("CONFIG_MAX_MAILBOXES") >= 0, "one mailbox too many");
	is_int(C.n_mailbox, CFG_MAX_MAILBOXES, "mailboxes kept");

	start();
	n = parse(BASE);
	for (i = 0; i <= CONF_MAX_ALLOW; i++) {
		snprintf(text, sizeof(text), "allow-from=10.0.%u.0/24\n", i);
		n += parse(text);
	}
	ok(n == 1 && find_err("allow-from: '10.0.32.0/24': more than 32 entries") >= 0,
	   "one allow-from too many");

	start();
	n = parse(BASE);
	for (i = 0; i <= CONF_MAX_ALLOW; i++) {
		snprintf(text, sizeof(text), "allow-bare-lf=10.0.%u.0/24\n", i);
		n += parse(text);
	}
	ok(n == 1 && find_err("allow-bare-lf: '10.0.32.0/24': more than 32 entries") >= 0,
	   "one allow-bare-lf too many");
	is_int(C.n_allow, 0, "  allow-from untouched");

	start();
	n = 0;
	for (i = 0; i <= CONF_MAX_DOMAINS; i++) {
		snprintf(text, sizeof(text), "domain=d%u.example\n", i);
		n += parse(text);
	}
	ok(n == 1 && find_err("domains") >= 0, "one domain too many");
}

static void test_ipv6(void)
{
	unsigned n;

	n = load(BASE "listen=[::1]:25\nlisten=[::]:2525\nlisten=[fe80::1]:25\n"
	         "listen=[::ffff:192.0.2.1]:25\nlisten=[2001:DB8:0:0:0:0:0:1]:587\n");
	if (CFG_IPV6) {
		is_int(n, 0, "IPv6 listeners");
		is_int(C.n_listen, 5, "five listeners");
		is_str(C.listen[1].addr, "::", "[::]");
		is_str(C.listen[3].addr, "::ffff:192.0.2.1", "v4-mapped listener");
		is_mem(C.listen[3].ip, 16,
		       "\0\0\0\0\0\0\0\0\0\0\377\377\300\0\2\1", 16,
		       "v4-mapped listener's address bytes, for bind()");
		is_mem(C.listen[4].ip, 16,
		       "\040\001\015\270\0\0\0\0\0\0\0\0\0\0\0\1", 16,
		       "2001:db8::1 as bytes");
		is_int(C.listen[4].port, 587, "port after an IPv6 address");
	} else {
		ok(n == 5 && find_err("CONFIG_IPV6") >= 0, "IPv6 listeners need CONFIG_IPV6");
	}

	n = load(BASE "allow-from=::1\nallow-from=fe80::/10\nallow-from=::ffff:1.2.3.4\n"
	         "allow-from=::/0\nallow-from=1:2:3:4:5:6:7:8\nallow-from=1:2:3:4:5:6:7::\n"
	         "allow-from=::2:3:4:5:6:7:8\nallow-from=2001:db8::/32\n");
	is_int(n, 0, "IPv6 networks");
	if (n)
		dump();
	is_int(C.n_allow, 8, "eight networks");
	{
		static const uint8_t one[16] = { [15] = 1 };
		static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 1, 2, 3, 4 };
		static const uint8_t full[16] = { 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8 };
		static const uint8_t tail[16] = { 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0 };
		static const uint8_t head[16] = { 0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8 };
		ok(memcmp(C.allow_from[0].addr, one, 16) == 0 && C.allow_from[0].bits == 128, "::1");
		ok(C.allow_from[1].addr[0] == 0xfe && C.allow_from[1].addr[1] == 0x80 &&
		   C.allow_from[1].bits == 10, "fe80::/10");
		ok(memcmp(C.allow_from[2].addr, mapped, 16) == 0, "::ffff:1.2.3.4");
		ok(C.allow_from[3].bits == 0, "::/0");
		ok(memcmp(C.allow_from[4].addr, full, 16) == 0, "eight groups");
		ok(memcmp(C.allow_from[5].addr, tail, 16) == 0, ":: at the end");
		ok(memcmp(C.allow_from[6].addr, head, 16) == 0, ":: at the start");
	}
}

static void test_allowed(void)
{
	static const uint8_t v4a[4] = { 192, 168, 1, 77 }, v4b[4] = { 192, 168, 2, 1 };
	static const uint8_t v4c[4] = { 10, 9, 8, 7 };
	static const uint8_t lo6[16] = { [15] = 1 };
	static const uint8_t ll6[16] = { 0xfe, 0xbf, [15] = 5 };
	static const uint8_t gl6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 };
	static const uint8_t map_a[16] = { [10] = 0xff, [11] = 0xff, 192, 168, 1, 9 };
	static const uint8_t map_b[16] = { [10] = 0xff, [11] = 0xff, 192, 168, 3, 9 };
	unsigned n;

	n = load(BASE);
	ok(n == 0 && conf_allowed(&C, 0, v4a) && conf_allowed(&C, 1, lo6),
	   "no allow-from: everyone");

	n = load(BASE "allow-from=192.168.1.0/24\nallow-from=::1\nallow-from=fe80::/10\n"
	         "allow-from=10.0.0.0/8\n");
	is_int(n, 0, "allow-from list");
	ok(conf_allowed(&C, 0, v4a), "192.168.1.77 in 192.168.1.0/24");
	ok(!conf_allowed(&C, 0, v4b), "192.168.2.1 refused");
	ok(conf_allowed(&C, 0, v4c), "10.9.8.7 in 10/8");
	ok(conf_allowed(&C, 1, lo6), "::1 allowed");
	ok(conf_allowed(&C, 1, ll6), "febf::5 in fe80::/10");
	ok(!conf_allowed(&C, 1, gl6), "2001:db8::5 refused");
	ok(conf_allowed(&C, 1, map_a), "::ffff:192.168.1.9 matches the IPv4 rule");
	ok(!conf_allowed(&C, 1, map_b), "::ffff:192.168.3.9 refused");

	n = load(BASE "allow-from=::ffff:192.168.3.0/120\n");
	is_int(n, 0, "a v4-mapped IPv6 rule");
	ok(conf_allowed(&C, 1, map_b), "mapped client, mapped rule");
	{
		static const uint8_t v4d[4] = { 192, 168, 3, 200 };
		ok(conf_allowed(&C, 0, v4d), "IPv4 client, mapped rule");
		ok(!conf_allowed(&C, 0, v4a), "IPv4 client outside the mapped rule");
	}

	n = load(BASE "allow-from=0.0.0.0/0\n");
	ok(n == 0 && conf_allowed(&C, 0, v4b) && !conf_allowed(&C, 1, gl6),
	   "0.0.0.0/0: every IPv4 client, no native IPv6 one");
	n = load(BASE "allow-from=192.168.1.77\n");
	ok(n == 0 && conf_allowed(&C, 0, v4a) && !conf_allowed(&C, 0, v4b),
	   "a host without /n");
	is_int(C.allow_from[0].bits, 32, "a host is /32");
	n = load(BASE "allow-from=192.168.1.64/27\n");
	ok(n == 0 && conf_allowed(&C, 0, v4a), "192.168.1.77 in .64/27");
	n = load(BASE "allow-from=192.168.1.96/27\n");
	ok(n == 0 && !conf_allowed(&C, 0, v4a), "192.168.1.77 not in .96/27");
}

/* strict-crlf and allow-bare-lf=CIDR */
static void test_bare_lf(void)
{
	static const uint8_t v4a[4] = { 192, 168, 1, 77 }, v4b[4] = { 192, 168, 2, 1 };
	static const uint8_t lo6[16] = { [15] = 1 };
	static const uint8_t map_a[16] = { [10] = 0xff, [11] = 0xff, 192, 168, 1, 9 };
	unsigned n;

	n = load(BASE "strict-crlf\n");
	ok(n == 0 && C.strict_crlf == 1 && C.n_bare_lf == 0, "strict-crlf alone");
	n = load(BASE "strict-crlf\nallow-bare-lf=192.168.1.0/24\nallow-bare-lf=::1\n"
	         "allow-bare-lf\n");
	is_int(n, 0, "strict-crlf with allow-bare-lf networks, and the old bare flag");
	if (n)
		dump();
	is_int(C.n_bare_lf, 2, "two allow-bare-lf networks (the bare flag adds none)");
	is_int(C.n_allow, 0, "allow-from untouched: everyone may connect");
	ok(conf_cidr_match(C.bare_lf, C.n_bare_lf, 0, v4a), "192.168.1.77 may send bare LF");
	ok(!conf_cidr_match(C.bare_lf, C.n_bare_lf, 0, v4b), "192.168.2.1 may not");
	ok(conf_cidr_match(C.bare_lf, C.n_bare_lf, 1, lo6), "::1 may");
	ok(conf_cidr_match(C.bare_lf, C.n_bare_lf, 1, map_a), "::ffff:192.168.1.9 may");
	ok(!conf_cidr_match(C.bare_lf, 0, 0, v4a), "an empty list matches no one");
	ok(conf_allowed(&C, 0, v4b), "allow-bare-lf is not allow-from");

	n = load(BASE "allow-bare-lf=10.0.0.0/8\nstrict-crlf\nallow-bare-lf=10.0.0.1/8\n");
	ok(n == 1 && find_err("allow-bare-lf: '10.0.0.1/8': host bits set") >= 0 &&
	   strcmp(E.file[0], "t.conf") == 0 && E.line[0] == 5,
	   "a bad allow-bare-lf network names the file and line");

	start();
	n = parse(BASE "allow-bare-lf=10.0.0.0/8\n");
	n += arg("--strict-crlf");
	n += arg("--allow-bare-lf");
	is_int(C.n_bare_lf, 1, "--allow-bare-lf without a value keeps the file's list");
	n += arg("--allow-bare-lf=127.0.0.1/32");
	n += arg("--allow-bare-lf=::1");
	n += finish();
	ok(n == 0 && C.strict_crlf == 1 && C.n_bare_lf == 2 && C.bare_lf[0].bits == 32,
	   "--allow-bare-lf=CIDR replaces the file's list, then appends");
}

static void test_command_line(void)
{
	unsigned n;

	start();
	n = parse(BASE "listen=127.0.0.1:25\nlisten=127.0.0.1:26\nmax-recipients=200\n"
	          "timeout=100\nallow-from=10.0.0.0/8\n");
	if (CFG_MAX_RECIPIENTS < 200) {
		is_int(n, 1, "max-recipients 200 above this build's limit");
		memset(&E, 0, sizeof(E));
	}
	n = arg("--listen=127.0.0.1:2600");
	is_int(n, 0, "--listen");
	is_int(C.n_listen, 1, "the first --listen replaces the file's listen lines");
	is_str(C.listen[0].addr, "127.0.0.1", "the argument's listener");
	is_int(C.listen[0].port, 2600, "its port");
	n = arg("--listen=127.0.0.1:2601");
	is_int(C.n_listen, 2, "a second --listen appends");
	n += arg("--timeout=5");
	is_int(C.timeout, 5, "a single-value option is overwritten");
	n += arg("--timeout=6");
	is_int(C.timeout, 6, "and again");
	n += arg("--tag-folders");
	is_int(C.tag_folders, 1, "--flag");
	n += arg("--domain=other.org");
	n += arg("--domain=example.org");
	n += arg("--mailbox=me@other.org,/m/me");
	n += arg("--conf-file=/tmp/x.conf");
	n += arg("--foreground");
	n += arg("--test");
	n += arg("--recipient-delimiter=");
	is_int(n, 0, "arguments accepted");
	ok(C.conf_file == NULL, "--conf-file and the like: conf_cmdline()'s");
	is_str(C.rcpt_delim, "", "--recipient-delimiter= (empty)");
	is_int(C.n_allow, 1, "allow-from from the file kept");
	n = finish();
	is_int(n, 0, "finish");
	if (n)
		dump();
	is_int(C.n_domains, 2, "--domain twice replaced the file's domain");
	is_str(C.first_domain, "other.org", "first domain from the command line");
	is_int(C.n_mailbox, 1, "--mailbox replaced the file's mailboxes");
	is_str(C.mailbox[0].address, "me@other.org", "the argument's mailbox");
	is_str(C.mailbox[0].file, "--mailbox=me@other.org,/m/me", "its origin is the argument");
	is_int(C.mailbox[0].line, 0, "line 0");

	/* errors from arguments name the argument, line 0 */
	start();
	parse(BASE);
	n = arg("--bogus=1");
	ok(n == 1 && find_err("unknown option 'bogus'") >= 0, "--unknown");
	ok(strcmp(E.file[0], "--bogus=1") == 0 && E.line[0] == 0, "file is the argument, line 0");
	memset(&E, 0, sizeof(E));
	ok(arg("--max-recipients=5") == 1 && find_err("RFC 5321 4.5.3.1.8") >= 0 &&
	   strcmp(E.file[0], "--max-recipients=5") == 0, "bad value in an argument");
	memset(&E, 0, sizeof(E));
	ok(arg("listen=1.2.3.4:25") == 1 && find_err("not an option") >= 0, "no dashes");
	ok(arg("-x") == 1, "single dash");
	ok(arg("--") == 1, "dashes alone");
	ok(arg("--tag-folders=1") == 1, "--flag=value");
	ok(arg("--listen") == 1, "--option without value");
	ok(arg("--=x") == 1, "--=x");

	/* an alias in the file whose target the command line removed */
	start();
	parse(BASE "alias=a@example.org,user@example.org\n");
	arg("--mailbox=other@example.org,/m/o");
	n = finish();
	ok(n == 1 && find_err("target user@example.org is not a configured mailbox") >= 0 &&
	   strcmp(E.file[0], "t.conf") == 0 && E.line[0] == 3,
	   "alias target dropped by --mailbox");
}

static void test_tls(void)
{
	unsigned n;

	if (!CFG_TLS) {
		n = load(BASE "tls-cert=/etc/cert.pem\ntls-key=/etc/key.pem\nlisten-tls=0.0.0.0:465\n");
		is_int(n, 3, "TLS options without CONFIG_TLS: three errors");
		ok(find_err("tls-cert: '/etc/cert.pem': TLS support is not compiled in (CONFIG_TLS)") >= 0,
		   "tls-cert without CONFIG_TLS");
		ok(find_err("tls-key: '/etc/key.pem': TLS support is not compiled in (CONFIG_TLS)") >= 0,
		   "tls-key without CONFIG_TLS");
		ok(find_err("listen-tls: '0.0.0.0:465': TLS support is not compiled in") >= 0,
		   "listen-tls without CONFIG_TLS");
		ok(E.line[0] == 3 && E.line[1] == 4 && E.line[2] == 5, "at their lines");
		ok(C.n_tls_cert == 0 && C.n_tls_key == 0, "nothing stored");
		/* the row has only its name in such a build: no value form to
		 * quote, so the feature is what is said */
		n = load(BASE "tls-cert\ntls-min-version=\n");
		ok(n == 2 && strcmp(E.msg[0], "tls-cert: TLS support is not "
		                    "compiled in (CONFIG_TLS)") == 0 &&
		   find_err("tls-min-version: '': TLS support is not compiled in") >= 0,
		   "without CONFIG_TLS, no value or an empty one: not compiled in");
		if (n != 2)
			dump();
		return;
	}
	n = load(BASE "tls-cert=/etc/cert.pem\ntls-key=/etc/key.pem\nlisten-tls=0.0.0.0:465\n");
	is_int(n, 0, "TLS config");
	is_str(C.tls_cert[0], "/etc/cert.pem", "tls-cert");
	is_int(C.tls_cert_at[0].line, 3, "tls-cert line");
	is_int(C.tls_key_at[0].line, 4, "tls-key line");
	is_int(C.tls_min_version, 0x0303, "tls-min-version defaults to 1.2");
	is_int(C.n_listen, 1, "only the TLS listener, no default");
	is_int(C.listen[0].tls, 1, "listen-tls");
	n = load(BASE "tls-cert=/etc/cert.pem\n");
	ok(n == 1 && find_err("tls-cert: given without tls-key") >= 0 && E.line[0] == 3,
	   "cert without key");
	n = load(BASE "tls-key=/etc/key.pem\n");
	ok(n == 1 && find_err("tls-key: given without tls-cert") >= 0, "key without cert");
	n = load(BASE "listen-tls=0.0.0.0:465\n");
	ok(n == 1 && find_err("listen-tls: needs tls-cert") >= 0 && E.line[0] == 3,
	   "listen-tls without cert");
}

static void test_stats(void)
{
	unsigned n = load(BASE "stats-file=/tmp/s.prom\n");

	if (CFG_STATS)
		ok(n == 0 && C.stats_file && strcmp(C.stats_file, "/tmp/s.prom") == 0, "stats-file");
	else
		ok(n == 1 && find_err("CONFIG_STATS") >= 0, "stats-file without CONFIG_STATS");
}

/* on-delivery and its limits (CONFIG_HOOK): the fields as written, no
 * shell; errors without the feature. */
static void test_hook(void)
{
	unsigned n = load(BASE "on-delivery = /usr/bin/notify , a b; $(x) `y` ,,'q'\n");

	if (!CFG_HOOK) {
		ok(n == 1 && find_err("CONFIG_HOOK") >= 0, "on-delivery without CONFIG_HOOK");
		n = load(BASE "on-delivery-max=1\non-delivery-timeout=5\n");
		is_int(n, 2, "on-delivery-max, -timeout without CONFIG_HOOK");
		return;
	}
	ok(n == 0 && C.on_delivery && strcmp(C.on_delivery[0], "/usr/bin/notify") == 0 &&
	   strcmp(C.on_delivery[1], "a b; $(x) `y`") == 0 && strcmp(C.on_delivery[2], "") == 0 &&
	   strcmp(C.on_delivery[3], "'q'") == 0 && !C.on_delivery[4],
	   "on-delivery: PROGRAM and its arguments as written, commas apart");
	ok(C.on_delivery_at.line == 3, "on-delivery: where it was set");
	/* (a CONFIG_HOOK_MAX of 1 is below the default: 0, taken as 1) */
	is_int(C.on_delivery_max, CFG_HOOK_MAX >= 2 ? 2 : 0, "on-delivery-max: default 2");
	is_int(C.on_delivery_timeout, 60, "on-delivery-timeout: default 60");
	n = load(BASE);
	ok(n == 0 && !C.on_delivery, "no on-delivery: no hook");
	n = load(BASE "on-delivery=bin/notify\n");
	ok(n == 1 && find_err("absolute path") >= 0, "on-delivery: a relative PROGRAM is an error");
	n = load(BASE "on-delivery=,x\n");
	ok(n == 1 && find_err("absolute path") >= 0, "on-delivery: an empty PROGRAM is an error");
	n = load(BASE "on-delivery=/bin/a,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n");
	ok(n == 0 && C.on_delivery[15] && !C.on_delivery[16], "on-delivery: 16 fields");
	n = load(BASE "on-delivery=/bin/a,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\n");
	ok(n == 1 && find_err("more than 16") >= 0, "on-delivery: 17 fields are an error");
	n = load(BASE "on-delivery=/bin/a\non-delivery=/bin/b\n");
	ok(n == 1 && find_err("given twice") >= 0, "on-delivery: not repeatable");
	start();
	n = parse(BASE "on-delivery=/bin/a\n") + arg("--on-delivery=/bin/b,x") + finish();
	ok(n == 0 && strcmp(C.on_delivery[0], "/bin/b") == 0 && strcmp(C.on_delivery[1], "x") == 0,
	   "--on-delivery wins over the file");
	n = load(BASE "on-delivery-max=" STR(CFG_HOOK_MAX) "\non-delivery-timeout=1\n");
	ok(n == 0 && C.on_delivery_max == CFG_HOOK_MAX && C.on_delivery_timeout == 1,
	   "on-delivery-max up to CONFIG_HOOK_MAX, on-delivery-timeout");
	n = load(BASE "on-delivery-max=0\n");
	is_int(n, 1, "on-delivery-max=0 is an error");
	n = load(BASE "on-delivery-max=" STR(CFG_HOOK_MAX) "1\n");
	ok(n == 1 && find_err("CONFIG_HOOK_MAX") >= 0, "on-delivery-max above CONFIG_HOOK_MAX");
	n = load(BASE "on-delivery-timeout=0\n");
	is_int(n, 1, "on-delivery-timeout=0 is an error");
}

/* A tiny arena: errors, never a crash; and at every size in between. */
static void test_arena(void)
{
	static unsigned char small[8192];
	struct arena a;
	const char *text =
		"domain=example.org\ndomain=localhost\n"
		"mailbox=user@example.org,/var/mail/user\n"
		"mailbox=bob@example.org,/var/mail/bob\n"
		"mailbox=@localhost,/var/mail/catch\n"
		"alias=team@example.org,user@example.org,bob@example.org\n"
		"alias=postmaster@example.org,user@example.org\n";
	size_t size, first_ok = 0;
	unsigned n;
	int crashed = 0;

	arena_init(&a, small, 64);
	conf_init(&C, &a);
	memset(&E, 0, sizeof(E));
	n = conf_parse(&C, "t.conf", text, strlen(text), collect, &E);
	n += conf_finish(&C, collect, &E);
	ok(n >= 1 && find_err("configuration too large for CONFIG_CONF_ARENA_KB") >= 0,
	   "tiny arena: a config error");
	is_int(find_err("too large") == (int)E.n - 1 || E.n >= 1, 1, "reported");
	{
		unsigned i, count = 0;
		for (i = 0; i < E.n; i++)
			count += strstr(E.msg[i], "too large") != NULL;
		is_int(count, 1, "'too large' reported once");
	}

	for (size = 0; size <= sizeof(small); size += 8) {
		arena_init(&a, small, size);
		conf_init(&C, &a);
		memset(&E, 0, sizeof(E));
		n = conf_parse(&C, "t.conf", text, strlen(text), collect, &E);
		n += conf_finish(&C, collect, &E);
		if (n == 0 && !first_ok)
			first_ok = size;
		if (n && find_err("too large") < 0)
			crashed = 1;
		if (n == 0 && (a.failed || C.n_domains != 2))
			crashed = 1;
	}
	ok(!crashed, "every arena size: either loads or says 'too large'");
	ok(first_ok > 0 && first_ok < sizeof(small), "fits from %zu bytes", first_ok);

	arena_init(&a, small, 64);
	conf_init(&C, &a);
	memset(&E, 0, sizeof(E));
	n = conf_parse_arg(&C, "--mailbox=someone@example.org,/a/rather/long/maildir/path/to/overflow/it",
	                   collect, &E);
	ok(n == 1 && find_err("too large") >= 0, "tiny arena from an argument: one error");

	/* found by fuzz_conf: a bad argument that also fills the arena is still
	 * one error (conf.h); the arena's turn comes in conf_finish() */
	arena_init(&a, small, 16);
	conf_init(&C, &a);
	memset(&E, 0, sizeof(E));
	n = conf_parse_arg(&C, "--mailbox=someone.with.a.long.name@example.org", collect, &E);
	ok(n == 1 && E.n == 1 && find_err("missing MAILDIR") == 0,
	   "bad argument in a full arena: one error, its own");
	n = conf_finish(&C, collect, &E);
	ok(n >= 1 && find_err("too large") >= 0, "  then conf_finish() says 'too large'");
}

static void test_arena_alloc(void)
{
	static unsigned char m[100];
	struct arena a;
	void *p, *q;
	char *s;

	arena_init(&a, m + 1, 64);      /* a misaligned base */
	p = arena_alloc(&a, 3);
	q = arena_alloc(&a, 5);
	ok(p && q && (uintptr_t)p % (sizeof(void *) * 2) == 0 &&
	   (uintptr_t)q % (sizeof(void *) * 2) == 0, "aligned allocations");
	ok((unsigned char *)p >= m + 1 && (unsigned char *)q + 5 <= m + 65, "inside the memory");
	ok(arena_alloc(&a, 1000) == NULL && a.failed, "too big: NULL, failed");
	ok(arena_alloc(&a, 1) == NULL, "failed is sticky");
	arena_reset(&a);
	ok(!a.failed && a.used == 0, "reset");
	s = arena_strndup(&a, "hello world", 5);
	is_str(s, "hello", "strndup");
	ok(arena_alloc(&a, (size_t)-1) == NULL, "huge size: NULL");
	arena_init(&a, NULL, 0);
	ok(arena_alloc(&a, 1) == NULL && a.failed, "empty arena");
}

/* An option that is not repeatable, given twice in the file, is an error at
 * the second line naming the first; repeatable ones add up; the command line
 * still overrides the file. */
static void test_repeated(void)
{
	static const char *const once[] = {
		"hostname=a.example.org", "recipient-delimiter=-", "tag-folders",
		"max-message-size=1M", "max-recipients=100", "max-sessions=1",
		"max-sessions-per-ip=1", "timeout=60", "user=mail",
		"pid-file=/run/a.pid", "min-free-space=2M",
	};
	char text[512];
	unsigned n, i;

	n = load(BASE "tls-cert=/etc/a.crt\ntls-key=/etc/a.key\n"
	         "# a comment\ntls-cert=/etc/b.crt\ntls-key=/etc/b.key\n");
	if (CFG_TLS) {
		/* two pairs (an RSA and an EC certificate), in order */
		ok(n == 0 && C.n_tls_cert == 2 && C.n_tls_key == 2 &&
		   strcmp(C.tls_cert[0], "/etc/a.crt") == 0 &&
		   strcmp(C.tls_key[1], "/etc/b.key") == 0 &&
		   C.tls_cert_at[1].line == 6 && C.tls_key_at[1].line == 7,
		   "tls-cert and tls-key twice: two pairs, in order");
		n = load(BASE "tls-cert=/etc/a.crt\ntls-key=/etc/a.key\n"
		         "tls-cert=/etc/b.crt\ntls-key=/etc/b.key\n"
		         "tls-cert=/etc/c.crt\n");
		ok(n >= 1 && E.line[0] == 7 &&
		   strcmp(E.msg[0], "tls-cert: '/etc/c.crt': given more than twice") == 0,
		   "a third tls-cert: an error at its line");
		n = load(BASE "tls-cert=/etc/a.crt\ntls-key=/etc/a.key\n"
		         "tls-cert=/etc/b.crt\n");
		ok(n == 1 && E.line[0] == 5 &&
		   strcmp(E.msg[0], "tls-cert: given without tls-key") == 0,
		   "a second tls-cert without its key: an error at its line");
		n = load(BASE "tls-min-version=1.1\n");
		if (CFG_TLS_LEGACY)
			ok(n == 0 && C.tls_min_version == 0x0302, "tls-min-version=1.1");
		else
			ok(n == 1 && E.line[0] == 3 && strcmp(E.msg[0],
			   "tls-min-version: '1.1': this build has no TLS 1.0/1.1: "
			   "CONFIG_TLS_LEGACY") == 0,
			   "tls-min-version=1.1 without CONFIG_TLS_LEGACY: an error at its line");
		n = load(BASE "tls-min-version=1.3\ntls-min-version=1.2\n");
		ok(n == 2 && E.line[0] == 3 && E.line[1] == 4 &&
		   strcmp(E.msg[0], "tls-min-version: '1.3': not 1.0, 1.1 or 1.2") == 0 &&
		   strcmp(E.msg[1], "tls-min-version given twice (first at line 3)") == 0,
		   "tls-min-version=1.3, and given twice: errors at their lines");
	} else {
		ok(n == 4, "tls-cert and tls-key twice without TLS: errors");
	}
	for (i = 0; i < sizeof once / sizeof once[0]; i++) {
		const char *eq = strchr(once[i], '=');
		int len = eq ? (int)(eq - once[i]) : (int)strlen(once[i]);
		char want[128];

		snprintf(text, sizeof text, BASE "%s\n\n%s\n", once[i], once[i]);
		snprintf(want, sizeof want, "%.*s given twice (first at line 3)",
		         len, once[i]);
		n = load(text);
		ok(n == 1 && strcmp(E.msg[0], want) == 0 && E.line[0] == 5,
		   "%.*s twice, even with the same value: an error", len, once[i]);
		if (n != 1)
			dump();
	}
	n = load(BASE "listen=127.0.0.1:25\nlisten=127.0.0.1:26\ndomain=b.org\n"
	         "mailbox=x@b.org,/m/x\nalias=y@b.org,x@b.org\n"
	         "alias=z@b.org,x@b.org\nallow-from=10.0.0.0/8\n"
	         "allow-from=192.168.0.0/16\nallow-bare-lf\nallow-bare-lf\n");
	is_int(n, 0, "repeatable options given twice: fine");
	if (n)
		dump();

	start();
	n = parse(BASE "timeout=300\n");
	n += arg("--timeout=5");
	n += arg("--timeout=6");
	n += finish();
	ok(n == 0 && C.timeout == 6,
	   "--timeout over the file's timeout=300 (and again): no error");
}

struct usage {
	unsigned n, listen, flag, argv_only, tls, feature;
};

static void usage_line(void *ctx, const char *opt, const char *help)
{
	struct usage *u = ctx;

	if (opt[0] && help[0])
		u->n++;
	u->listen += strcmp(opt, "--listen=ADDR:PORT[,auth]") == 0 &&
	             strcmp(help, "plain SMTP listener, repeatable; IPv6 as "
	                    "[::1]:25; ,auth: AUTH required (default 0.0.0.0:25)") == 0;
	u->flag += strcmp(opt, "--tag-folders") == 0;
	u->tls += strcmp(opt, "--tls-cert=FILE") == 0 &&
	          strncmp(help, "PEM certificate chain", 21) == 0;
	/* one row of each optional feature */
	u->feature += strncmp(opt, "--listen-tls=", 13) == 0 ||
	              strncmp(opt, "--auth-any", 10) == 0 ||
	              strncmp(opt, "--stats-file=", 13) == 0 ||
	              strncmp(opt, "--on-delivery=", 14) == 0 ||
	              strncmp(opt, "--quota=", 8) == 0;
	u->argv_only += strcmp(opt, "-c FILE, --conf-file=FILE") == 0 ||
	                strcmp(opt, "-t, --test") == 0;
}

/* AUTH options: auth-any, auth-users, auth-plaintext, listen=...,auth */
static void test_auth(void)
{
	unsigned n;

	if (!CFG_AUTH) {
		n = load(BASE "auth-any\nauth-plaintext\nauth-users=/etc/u\n"
		         "listen=127.0.0.1:25,auth\n");
		ok(n == 4 && strcmp(E.msg[0], "auth-any: this build has no AUTH "
		                    "(CONFIG_AUTH)") == 0 && E.line[0] == 3 &&
		   find_err("auth-users: '/etc/u': this build has no AUTH") >= 0 &&
		   find_err("listen: '127.0.0.1:25,auth': this build has no AUTH") >= 0,
		   "without CONFIG_AUTH the AUTH options are errors");
		if (n != 4)
			dump();
		return;
	}
	n = load(BASE "auth-any\n");
	ok(n == 0 && C.auth_any && !C.auth_users, "auth-any");
	n = load(BASE "auth-users=/etc/mailnook.users\nauth-plaintext\n"
	         "listen=127.0.0.1:25,auth\nlisten=[::1]:25\n");
	ok(n == 0 && C.auth_users && strcmp(C.auth_users, "/etc/mailnook.users") == 0 &&
	   C.auth_plaintext && C.n_listen == 2 && C.listen[0].auth &&
	   strcmp(C.listen[0].addr, "127.0.0.1") == 0 && C.listen[0].port == 25 &&
	   !C.listen[1].auth, "auth-users, auth-plaintext, listen=...,auth");
	if (n)
		dump();
	n = load(BASE "auth-any\nauth-users=/etc/u\nauth-plaintext\n");
	ok(n == 1 && find_err("auth-users: not with auth-any") >= 0 &&
	   E.line[0] == 4, "auth-any with auth-users: error at auth-users' line");
	n = load(BASE "listen=127.0.0.1:25\nlisten=127.0.0.1:26,auth\n");
	ok(n == 1 && find_err("listen: ,auth needs auth-users") >= 0 && E.line[0] == 4,
	   "listen=...,auth without auth-users");
	n = load(BASE "auth-any\nlisten=127.0.0.1:26,auth\n");
	ok(n == 1 && find_err(",auth needs auth-users") >= 0,
	   "listen=...,auth needs checked credentials, auth-any is not enough");
	n = load(BASE "listen=127.0.0.1:25,tls\nlisten=127.0.0.1:26,auth,auth\n"
	         "listen=127.0.0.1:27,\n");
	ok(n == 3 && find_err("the only flag after ADDR:PORT is ,auth") >= 0,
	   "listen: anything but ,auth after the port");
	n = load(BASE "auth-users=/etc/u\n");
	ok(n == 1 && find_err("auth-users: needs tls-cert or auth-plaintext") >= 0 && E.line[0] == 3,
	   "auth-users with neither TLS nor auth-plaintext");
	if (CFG_TLS) {
		n = load(BASE "auth-users=/etc/u\ntls-cert=/c\ntls-key=/k\n"
		         "listen-tls=127.0.0.1:465,auth\n");
		ok(n == 0 && C.listen[0].tls && C.listen[0].auth,
		   "auth-users with TLS; listen-tls=...,auth");
	}
	n = load(BASE "auth-any\nauth-any\n");
	ok(n == 1 && find_err("auth-any given twice (first at line 3)") >= 0,
	   "auth-any twice");
	n = load(BASE "auth-any=yes\n");
	ok(n == 1 && find_err("auth-any: takes no value") >= 0, "auth-any=yes");
	start();
	n = parse(BASE "auth-users=/etc/u\nauth-plaintext\n");
	n += arg("--auth-users=/etc/v");
	n += arg("--listen=127.0.0.1:25,auth");
	n += finish();
	ok(n == 0 && strcmp(C.auth_users, "/etc/v") == 0 && C.listen[0].auth,
	   "--auth-users and --listen=...,auth on the command line");

#if CFG_AUTH
	/* the auth-users file */
	{
		static const char good[] =
			"# users\n\n  alice:$6$salt$hash  \r\nbob:$5$rounds=5000$s$h\n"
			"\tcarol:$6$x$y";
		static const char bad[] =
			"alice:$6$s$h\nnocolon\n:$6$s$h\nal ice:$6$s$h\nmd5:$1$s$h\n"
			"alice:$6$t$u\nx:$6\nctl\x01:$6$s$h\nbob:$5$s$h\n";
		char many[64 * (CFG_AUTH_USERS_MAX + 1)];
		size_t ml = 0;
		unsigned i;

		load(BASE);
		memset(&E, 0, sizeof(E));
		n = conf_parse_users(&C, "users", good, strlen(good), collect, &E);
		ok(n == 0 && C.n_auth_user == 3 &&
		   strcmp(C.auth_user[0].name, "alice") == 0 &&
		   strcmp(C.auth_user[0].hash, "$6$salt$hash") == 0 &&
		   C.auth_user[0].line == 3 &&
		   strcmp(C.auth_user[1].hash, "$5$rounds=5000$s$h") == 0 &&
		   strcmp(C.auth_user[2].name, "carol") == 0 && C.auth_user[2].line == 5,
		   "auth-users: NAME:HASH lines, comments, blanks, CRLF, spaces");
		if (n)
			dump();
		memset(&E, 0, sizeof(E));
		n = conf_parse_users(&C, "users", bad, strlen(bad), collect, &E);
		ok(n == 7 && C.n_auth_user == 2 && E.line[0] == 2 &&
		   strcmp(E.msg[0], "not a NAME:HASH line") == 0 && E.line[1] == 3 &&
		   E.line[2] == 4 && E.line[3] == 5 &&
		   strstr(E.msg[3], "$5$ or $6$") && E.line[4] == 6 &&
		   strcmp(E.msg[4], "this name is given twice") == 0 && E.line[5] == 7 &&
		   E.line[6] == 8 && strcmp(E.file[0], "users") == 0,
		   "auth-users: each bad line is an error at its line");
		if (n != 7)
			dump();
		for (i = 0; i <= CFG_AUTH_USERS_MAX; i++)
			ml += (size_t)snprintf(many + ml, sizeof(many) - ml, "u%u:$6$s$h\n", i);
		memset(&E, 0, sizeof(E));
		n = conf_parse_users(&C, "users", many, ml, collect, &E);
		ok(n == 1 && C.n_auth_user == CFG_AUTH_USERS_MAX &&
		   strstr(E.msg[0], "CONFIG_AUTH_USERS_MAX") && E.line[0] == CFG_AUTH_USERS_MAX + 1,
		   "auth-users: more than CONFIG_AUTH_USERS_MAX users");
	}
#endif
}

static void test_usage(void)
{
	struct usage u = { 0, 0, 0, 0, 0, 0 };

	/* a compiled-out feature's rows are not listed: TLS has listen-tls,
	 * tls-cert, tls-key, tls-min-version; AUTH three, STATS one, HOOK
	 * three, QUOTA three */
	unsigned want = 32 - 4 * !CFG_TLS - 3 * !CFG_AUTH - !CFG_STATS -
	                3 * !CFG_HOOK - 3 * !CFG_QUOTA;

	conf_usage(0, usage_line, &u);
	is_int(u.n, (int)want, "conf_usage: the configuration options this "
	       "build has (32 with every feature), each with help");
	is_int(u.tls, CFG_TLS, "tls-cert with its help only with CONFIG_TLS");
	is_int(u.feature, CFG_TLS + CFG_AUTH + CFG_STATS + CFG_HOOK + CFG_QUOTA,
	       "a feature's options only when it is compiled in");
	is_int(u.listen, 1, "an option with its value, help and default");
	is_int(u.flag, 1, "a flag without =VALUE");
	is_int(u.argv_only, 0, "no command-line-only option among them");
	memset(&u, 0, sizeof(u));
	conf_usage(1, usage_line, &u);
	is_int(u.n, 5, "conf_usage: 5 command-line-only options");
	is_int(u.argv_only, 2, "with their short forms");
}

/* conf_cmdline(): argv as given (NULL-terminated), the options it leaves
 * for conf_parse_arg() joined with spaces into left, the error in E. */
static unsigned cmdline(struct conf_cmdline *cl, char *left, size_t size, ...)
{
	char *argv[16];
	va_list ap;
	int argc = 0, i;
	unsigned n;
	size_t at = 0;

	argv[argc++] = (char *)"mailnook";
	va_start(ap, size);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	memset(&E, 0, sizeof(E));
	n = conf_cmdline(argc, argv, cl, collect, &E);
	left[0] = '\0';
	for (i = 1; i <= cl->nargs; i++)
		at += (size_t)snprintf(left + at, size - at, "%s%s", i > 1 ? " " : "", argv[i]);
	return n;
}

static void test_cmdline(void)
{
	struct conf_cmdline cl;
	char left[256];
	unsigned n;

	n = cmdline(&cl, left, sizeof left, (char *)NULL);
	ok(n == 0 && strcmp(cl.conf_file, CONF_FILE_DEFAULT) == 0 && !cl.foreground &&
	   !cl.test && !cl.version && !cl.help && cl.nargs == 0, "no arguments: the defaults");
	n = cmdline(&cl, left, sizeof left, "--timeout=5", "-f", "-c", "/a.conf", "--tag-folders",
	            "-t", (char *)NULL);
	ok(n == 0 && strcmp(cl.conf_file, "/a.conf") == 0 && cl.foreground && cl.test &&
	   strcmp(left, "--timeout=5 --tag-folders") == 0, "-f -c FILE -t, options kept in order");
	n = cmdline(&cl, left, sizeof left, "-ftc/b.conf", (char *)NULL);
	ok(n == 0 && strcmp(cl.conf_file, "/b.conf") == 0 && cl.foreground && cl.test,
	   "a bundle: -ftcFILE");
	n = cmdline(&cl, left, sizeof left, "-tc", "/c.conf", (char *)NULL);
	ok(n == 0 && strcmp(cl.conf_file, "/c.conf") == 0 && cl.test, "-tc FILE");
	n = cmdline(&cl, left, sizeof left, "--foreground", "--test", "--conf-file=/d.conf",
	            (char *)NULL);
	ok(n == 0 && strcmp(cl.conf_file, "/d.conf") == 0 && cl.foreground && cl.test,
	   "the long forms");
	n = cmdline(&cl, left, sizeof left, "--conf-file", "/e.conf", "--", (char *)NULL);
	ok(n == 0 && strcmp(cl.conf_file, "/e.conf") == 0, "--conf-file FILE, then --");
	n = cmdline(&cl, left, sizeof left, "-x", "-h", (char *)NULL);
	ok(n == 1 && strcmp(E.file[0], "-x") == 0 && E.line[0] == 0 &&
	   strcmp(E.msg[0], "unknown option (try -h)") == 0, "-x: unknown");
	n = cmdline(&cl, left, sizeof left, "--bogus", "-h", "-x", (char *)NULL);
	ok(n == 0 && cl.help && strcmp(left, "--bogus") == 0, "-h stops; --bogus is conf_parse_arg()'s");
	n = cmdline(&cl, left, sizeof left, "-fV", "-x", (char *)NULL);
	ok(n == 0 && cl.version, "-V in a bundle stops");
	n = cmdline(&cl, left, sizeof left, "--version", (char *)NULL);
	ok(n == 0 && cl.version, "--version");
	n = cmdline(&cl, left, sizeof left, "--help", (char *)NULL);
	ok(n == 0 && cl.help, "--help");
	n = cmdline(&cl, left, sizeof left, "-c", (char *)NULL);
	ok(n == 1 && strcmp(E.file[0], "-c") == 0 && strcmp(E.msg[0], "needs a file name") == 0,
	   "-c without a file");
	n = cmdline(&cl, left, sizeof left, "--conf-file", (char *)NULL);
	ok(n == 1 && strcmp(E.file[0], "--conf-file") == 0 &&
	   strcmp(E.msg[0], "needs a file name") == 0, "--conf-file without a file");
	n = cmdline(&cl, left, sizeof left, "--conf-file=", (char *)NULL);
	ok(n == 1 && strcmp(E.file[0], "--conf-file=") == 0 &&
	   strcmp(E.msg[0], "needs a file name") == 0, "an empty file name");
	n = cmdline(&cl, left, sizeof left, "-tc", "", (char *)NULL);
	ok(n == 1 && strcmp(E.file[0], "-c") == 0, "-c with an empty file name");
	n = cmdline(&cl, left, sizeof left, "--foreground=1", (char *)NULL);
	ok(n == 1 && strcmp(E.file[0], "--foreground=1") == 0 &&
	   strcmp(E.msg[0], "foreground: takes no value") == 0, "--foreground=1");
	n = cmdline(&cl, left, sizeof left, "file.conf", (char *)NULL);
	ok(n == 1 && strcmp(E.msg[0], "unexpected argument (options are --option=value)") == 0,
	   "a bare word");
	n = cmdline(&cl, left, sizeof left, "-", (char *)NULL);
	ok(n == 1 && strcmp(E.file[0], "-") == 0, "a lone -");
	n = cmdline(&cl, left, sizeof left, "--", "x", (char *)NULL);
	ok(n == 1 && strcmp(E.file[0], "x") == 0 && strcmp(E.msg[0], "unexpected argument") == 0,
	   "an argument after --");
}

int main(void)
{
	test_arena_alloc();
	test_good_config();
	test_postmaster_warning();
	test_syntax();
	test_bad_values();
	test_many_errors();
	test_finish_errors();
	test_defaults();
	test_sizes();
	test_limits();
	test_ipv6();
	test_allowed();
	test_bare_lf();
	test_command_line();
	test_repeated();
	test_tls();
	test_stats();
	test_hook();
	test_auth();
	test_arena();
	test_usage();
	test_mailbox_limits();
	test_cmdline();
	return tap_done();
}
