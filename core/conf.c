/* see conf.h */
#include "conf.h"

#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "conf_hash.h"
#include "text.h"

/* conf_hash.h: the arena uthash allocates from, and its failure flag. */
struct arena *conf_hash_arena;
int conf_hash_oom;

#define CONF_LINE_MAX 4096     /* one config line or argument */
#define CONF_MSG_MAX 400       /* one error message */
#define CONF_SHOW_MAX 80       /* a value quoted in a message */

#define NO_AUTH "this build has no AUTH (CONFIG_AUTH)"

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * The option table.  One entry per option, used by conf_parse() (file
 * lines) and conf_parse_arg() (--option=value) through the same one_opt(),
 * and listed by conf_usage(): the three cannot drift apart.
 * kind says how the value is read; id says what else is checked.
 */
enum opt_kind {
	K_FLAG,         /* no value; sets a uint8_t */
	K_STRING,       /* a file name or user name, copied to the arena */
	K_HOST,         /* a host name, into mn_config.hostname */
	K_SIZE,         /* uint64_t, k/M/G suffixes */
	K_NUMBER,       /* unsigned, decimal */
	K_LISTEN,       /* ADDR:PORT */
	K_DOMAIN,
	K_MAILBOX,      /* ADDRESS,MAILDIR */
	K_ALIAS,        /* ADDRESS,TARGET[,TARGET...] */
	K_CIDR,
	K_DELIM,        /* recipient-delimiter characters */
	K_TLS_FILE,     /* tls-cert, tls-key: at most CONF_TLS_CERTS each */
	K_TLS_VERSION   /* 1.0, 1.1, 1.2 */
};

enum opt_id {
	O_LISTEN, O_LISTEN_TLS, O_HOSTNAME, O_DOMAIN, O_MAILBOX, O_ALIAS,
	O_DELIM, O_TAG_FOLDERS, O_MAX_SIZE, O_MAX_RCPT, O_MAX_SESSIONS,
	O_MAX_PER_IP, O_TIMEOUT, O_TLS_CERT, O_TLS_KEY, O_ALLOW_FROM, O_USER,
	O_PID_FILE, O_STATS_FILE, O_MIN_FREE, O_STRICT_CRLF, O_BARE_LF, O_CONF_FILE,
	O_FOREGROUND, O_TEST,
	O_TLS_MIN, O_AUTH_USERS, O_AUTH_ANY, O_AUTH_PLAINTEXT
};

#define F_REPEAT 1      /* repeatable: entries accumulate; any other option
                         * given twice in a file is an error */
#define F_ARGV   2      /* command line only */
#define F_EMPTY  4      /* an empty value is allowed */
#define F_BARE   8      /* may be given without a value, which does nothing */

struct opt {
	const char *name;
	unsigned char id, kind, flags;
	size_t off;             /* field of struct mn_config, where generic */
	const char *arg;        /* what the value looks like; NULL for a flag */
	const char *help;
};

#define OFF(f) offsetof(struct mn_config, f)

static const struct opt opts[] = {
	{ "listen", O_LISTEN, K_LISTEN, F_REPEAT, 0, "ADDR:PORT[,auth]",
	  "plain SMTP listener, repeatable; IPv6 as [::1]:25 (default 0.0.0.0:25)"
	  "; ,auth: AUTH required" },
	{ "listen-tls", O_LISTEN_TLS, K_LISTEN, F_REPEAT, 0, "ADDR:PORT[,auth]",
	  "implicit-TLS listener (RFC 8314), repeatable; ,auth as for listen" },
	{ "hostname", O_HOSTNAME, K_HOST, 0, 0, "NAME",
	  "name in the greeting and the Received header (default: the system host name)" },
	{ "domain", O_DOMAIN, K_DOMAIN, F_REPEAT, 0, "DOMAIN",
	  "a local domain, repeatable (at least one required)" },
	{ "mailbox", O_MAILBOX, K_MAILBOX, F_REPEAT, 0, "ADDRESS,MAILDIR",
	  "deliver local@domain (or @domain, a catch-all) to the Maildir MAILDIR" },
	{ "alias", O_ALIAS, K_ALIAS, F_REPEAT, 0, "ADDRESS,TARGET[,TARGET...]",
	  "deliver ADDRESS to each TARGET mailbox" },
	{ "recipient-delimiter", O_DELIM, K_DELIM, F_EMPTY, 0, "CHARS",
	  "user+tag@domain delivers to user@domain; empty disables (default +)" },
	{ "tag-folders", O_TAG_FOLDERS, K_FLAG, 0, OFF(tag_folders), NULL,
	  "deliver user+tag into the Maildir++ folder .tag when it exists" },
	{ "max-message-size", O_MAX_SIZE, K_SIZE, 0, OFF(max_size), "SIZE",
	  "largest message in bytes, k/M suffixes, at least 64k (default 10M)" },
	{ "max-recipients", O_MAX_RCPT, K_NUMBER, 0, OFF(max_rcpt), "N",
	  "recipients per transaction, 100 to " STR(CFG_MAX_RECIPIENTS) " (default 100)" },
	{ "max-sessions", O_MAX_SESSIONS, K_NUMBER, 0, OFF(max_sessions), "N",
	  "concurrent sessions, 1 to " STR(CFG_MAX_SESSIONS) " (default " STR(CFG_MAX_SESSIONS) ")" },
	{ "max-sessions-per-ip", O_MAX_PER_IP, K_NUMBER, 0, OFF(max_per_ip), "N",
	  "concurrent sessions from one client address, IPv6 per /64 "
	  "(default max-sessions/2, rounded up)" },
	{ "timeout", O_TIMEOUT, K_NUMBER, 0, OFF(timeout), "SECONDS",
	  "idle time allowed waiting for a command or data (default 300)" },
	{ "tls-cert", O_TLS_CERT, K_TLS_FILE, F_REPEAT, 0, "FILE",
	  "PEM certificate chain" },
	{ "tls-key", O_TLS_KEY, K_TLS_FILE, F_REPEAT, 0, "FILE",
	  "PEM private key (RSA or EC)" },
	{ "tls-min-version", O_TLS_MIN, K_TLS_VERSION, 0, 0, "1.0|1.1|1.2",
	  "oldest TLS version accepted (default 1.2)" },
	{ "allow-from", O_ALLOW_FROM, K_CIDR, F_REPEAT, 0, "CIDR",
	  "only these client networks may connect, repeatable (default everyone)" },
	{ "user", O_USER, K_STRING, 0, OFF(user), "NAME",
	  "when started as root: bind, then run as this user and its group" },
	{ "pid-file", O_PID_FILE, K_STRING, 0, OFF(pid_file), "FILE",
	  "write the process id" },
	{ "stats-file", O_STATS_FILE, K_STRING, 0, OFF(stats_file), "FILE",
	  "counters in Prometheus text format, rewritten every 10 s and on SIGUSR1" },
	{ "min-free-space", O_MIN_FREE, K_SIZE, 0, OFF(min_free), "SIZE",
	  "refuse new mail (452 4.3.1) below this much free space (default 1M)" },
	{ "strict-crlf", O_STRICT_CRLF, K_FLAG, 0, OFF(strict_crlf), NULL,
	  "refuse a message with a bare LF in DATA (default: a line end)" },
	{ "allow-bare-lf", O_BARE_LF, K_CIDR, F_REPEAT | F_BARE, 0, "CIDR",
	  "with strict-crlf, these networks may still send bare LF, repeatable" },
	/* AUTH (CONFIG_AUTH) */
	{ "auth-users", O_AUTH_USERS, K_STRING, 0, OFF(auth_users), "FILE",
	  "AUTH credentials, NAME:HASH lines (crypt(3) $5$ or $6$)" },
	{ "auth-any", O_AUTH_ANY, K_FLAG, 0, OFF(auth_any), NULL,
	  "advertise AUTH, accept any credentials" },
	{ "auth-plaintext", O_AUTH_PLAINTEXT, K_FLAG, 0, OFF(auth_plaintext), NULL,
	  "allow auth-users logins without TLS" },
	{ "conf-file", O_CONF_FILE, K_STRING, F_ARGV, OFF(conf_file), "FILE",
	  "configuration file (default " CONF_FILE_DEFAULT "); command line only" },
	{ "foreground", O_FOREGROUND, K_FLAG, F_ARGV, OFF(foreground), NULL,
	  "stay in the foreground, log to stderr; command line only" },
	{ "test", O_TEST, K_FLAG, F_ARGV, OFF(test_only), NULL,
	  "check the configuration and exit; command line only" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

/* ---- messages, formatted without stdio ---- */

struct msg {
	char b[CONF_MSG_MAX];
	size_t n;
};

static void m_mem(struct msg *m, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && m->n + 1 < sizeof(m->b); i++) {
		unsigned char ch = (unsigned char)s[i];
		m->b[m->n++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	m->b[m->n] = '\0';
}

static void m_s(struct msg *m, const char *s)
{
	m_mem(m, s, strlen(s));
}

static void m_u(struct msg *m, uint64_t v)
{
	char d[21];

	m_mem(m, d, text_u64(d, v));
}

/* 'value', cut to CONF_SHOW_MAX */
static void m_q(struct msg *m, const char *s)
{
	size_t n = strlen(s);

	m_s(m, "'");
	if (n > CONF_SHOW_MAX) {
		m_mem(m, s, CONF_SHOW_MAX);
		m_s(m, "...");
	} else {
		m_mem(m, s, n);
	}
	m_s(m, "'");
}

/* ---- parse context ---- */

struct pctx {
	struct mn_config *c;
	conf_error_fn *err;
	void *ctx;
	const char *file;       /* the file name, or the argument */
	unsigned line;          /* 0 for an argument */
	unsigned errors;
	int argv;
	unsigned *first;        /* per option, the line that set it; NULL for
	                         * an argument */
};

static void report(struct pctx *p, const char *text)
{
	p->errors++;
	if (p->err)
		p->err(p->ctx, p->file ? p->file : "(command line)", p->line, text);
}

static void report_at(struct pctx *p, const char *file, unsigned line,
                      const char *text)
{
	p->errors++;
	if (p->err)
		p->err(p->ctx, file ? file : "(command line)", line, text);
}

/* "NAME: 'VALUE': WHY" */
static void bad(struct pctx *p, const struct opt *o, const char *val,
                const char *why)
{
	struct msg m = { .n = 0 };

	m_s(&m, o->name);
	m_s(&m, ": ");
	m_q(&m, val);
	m_s(&m, ": ");
	m_s(&m, why);
	report(p, m.b);
}

static void arena_check(struct pctx *p, const char *file, unsigned line)
{
	struct mn_config *c = p->c;
	struct msg m = { .n = 0 };

	if (!(c->arena->failed || conf_hash_oom) || c->arena_reported)
		return;
	c->arena_reported = 1;
	m_s(&m, "configuration too large for CONFIG_CONF_ARENA_KB (the arena holds ");
	m_u(&m, c->arena->size);
	m_s(&m, " bytes)");
	report_at(p, file, line, m.b);
}

/* ---- addresses, networks, names ---- */

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = text_lower_c(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Dotted quad, four decimal parts 0..255, no leading zeros. */
static int parse_ip4(const char *s, size_t n, uint8_t out[4])
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
static int parse_ip6(const char *s, size_t n, uint8_t out[16])
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
		    parse_ip4(s + tok, n - tok, t + tp) == 0) {
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
static const char *check_domain(const char *s)
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
			if (parse_ip6(s + 6, n - 7, ip) == 0)
				return NULL;
		} else if (parse_ip4(s + 1, n - 2, ip) == 0) {
			return NULL;
		}
		return "bad address literal ([a.b.c.d] or [IPv6:...])";
	}
	if (parse_ip4(s, n, ip) == 0)
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
static const char *check_address(const char *s)
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
	return check_domain(at + 1);
}

/* Trims spaces and tabs at both ends, in place. */
static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* The next comma-separated field of *cur, trimmed; NULL at the end. */
static char *next_field(char **cur)
{
	char *s = *cur, *comma;

	if (!s)
		return NULL;
	comma = strchr(s, ',');
	if (comma) {
		*comma = '\0';
		*cur = comma + 1;
	} else {
		*cur = NULL;
	}
	return trim(s);
}

static int prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits)
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

static int host_bits_set(const uint8_t *a, unsigned len, unsigned bits)
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

/* ---- the options ---- */

static void listen_add(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	const char *addr, *colon;
	size_t alen;
	uint8_t ip[16], other[16];
	uint64_t port;
	int v6, tls = o->id == O_LISTEN_TLS;
	unsigned i;
	struct conf_listen *l;
	struct msg m = { .n = 0 };
	char head[80];
	const char *comma = strchr(val, ',');

	if (tls && !CFG_TLS) {
		bad(p, o, val, "TLS support is not compiled in (CONFIG_TLS)");
		return;
	}
	if (comma) {
		if (strcmp(comma + 1, "auth") != 0) {
			bad(p, o, val, "the only flag after ADDR:PORT is ,auth");
			return;
		}
		if (!CFG_AUTH) {
			bad(p, o, val, NO_AUTH);
			return;
		}
		if ((size_t)(comma - val) >= sizeof head) {
			bad(p, o, val, "address too long");
			return;
		}
		memcpy(head, val, (size_t)(comma - val));
		head[comma - val] = '\0';
		val = head;
	}
	if (val[0] == '[') {
		const char *close = strchr(val, ']');
		if (!close) {
			bad(p, o, val, "missing ']' (IPv6 as [::1]:25)");
			return;
		}
		addr = val + 1;
		alen = (size_t)(close - addr);
		colon = close + 1;
		if (*colon != ':') {
			bad(p, o, val, "missing :PORT after ']' (as [::1]:25)");
			return;
		}
		if (parse_ip6(addr, alen, ip) != 0) {
			bad(p, o, val, "not a numeric IPv6 address");
			return;
		}
		v6 = 1;
	} else {
		colon = strrchr(val, ':');
		if (!colon) {
			bad(p, o, val, "missing :PORT (ADDR:PORT, as 0.0.0.0:25)");
			return;
		}
		if (strchr(val, ':') != colon) {
			bad(p, o, val, "an IPv6 address goes in brackets, as [::1]:25");
			return;
		}
		addr = val;
		alen = (size_t)(colon - val);
		if (parse_ip4(addr, alen, ip) != 0) {
			bad(p, o, val, "not a numeric IPv4 address (a.b.c.d, or [IPv6]; no host names)");
			return;
		}
		v6 = 0;
	}
	if (text_parse_u64(colon + 1, strlen(colon + 1), &port) != 0 ||
	    port < 1 || port > 65535) {
		bad(p, o, val, "the port must be a number from 1 to 65535");
		return;
	}
	if (v6 && !CFG_IPV6) {
		bad(p, o, val, "IPv6 support is not compiled in (CONFIG_IPV6)");
		return;
	}
	for (i = 0; i < c->n_listen; i++) {
		l = &c->listen[i];
		if (l->port != port || l->v6 != v6)
			continue;
		if (v6 ? parse_ip6(l->addr, strlen(l->addr), other)
		       : parse_ip4(l->addr, strlen(l->addr), other))
			continue;
		if (memcmp(ip, other, v6 ? 16 : 4) == 0) {
			bad(p, o, val, "this address and port are already a listener");
			return;
		}
	}
	if (c->n_listen >= CFG_MAX_LISTENERS) {
		m_s(&m, "more than ");
		m_u(&m, CFG_MAX_LISTENERS);
		m_s(&m, " listeners (the compiled-in limit, CONFIG_MAX_LISTENERS)");
		bad(p, o, val, m.b);
		return;
	}
	if (alen >= sizeof(l->addr)) {
		bad(p, o, val, "address too long");
		return;
	}
	l = &c->listen[c->n_listen++];
	memset(l, 0, sizeof(*l));
	memcpy(l->addr, addr, alen);
	l->addr[alen] = '\0';
	l->port = (uint16_t)port;
	l->tls = (uint8_t)tls;
	l->v6 = (uint8_t)v6;
	l->auth = comma != NULL;
	if (comma && !c->listen_auth_at.file) {
		c->listen_auth_at.file = p->file;
		c->listen_auth_at.line = p->line;
	}
	if (tls && !c->listen_tls_at.file) {
		c->listen_tls_at.file = p->file;
		c->listen_tls_at.line = p->line;
	}
}

/* An allow-from or allow-bare-lf network. */
static void cidr_add(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	int from = o->id == O_ALLOW_FROM;
	unsigned *n = from ? &c->n_allow : &c->n_bare_lf;
	const char *slash = strchr(val, '/');
	size_t alen = slash ? (size_t)(slash - val) : strlen(val);
	struct conf_cidr r;
	uint64_t bits;
	unsigned max;

	memset(&r, 0, sizeof(r));
	if (memchr(val, ':', alen)) {
		if (parse_ip6(val, alen, r.addr) != 0) {
			bad(p, o, val, "not an IPv6 network (as fe80::/10)");
			return;
		}
		r.v6 = 1;
		max = 128;
	} else {
		if (parse_ip4(val, alen, r.addr) != 0) {
			bad(p, o, val, "not an IPv4 network (as 192.168.1.0/24)");
			return;
		}
		max = 32;
	}
	bits = max;
	if (slash && (text_parse_u64(slash + 1, strlen(slash + 1), &bits) != 0 ||
	              bits > max)) {
		bad(p, o, val, r.v6 ? "the prefix length must be 0 to 128"
		                    : "the prefix length must be 0 to 32");
		return;
	}
	r.bits = (uint8_t)bits;
	if (host_bits_set(r.addr, r.v6 ? 16 : 4, r.bits)) {
		struct msg m = { .n = 0 };
		m_s(&m, "host bits set after the prefix length (give the network address");
		if (!r.v6) {
			unsigned i;
			m_s(&m, ": ");
			for (i = 0; i < 4; i++) {
				unsigned keep = bits >= (i + 1) * 8 ? 8 : bits > i * 8 ? (unsigned)bits - i * 8 : 0;
				m_u(&m, r.addr[i] & (keep ? 0xff << (8 - keep) & 0xff : 0));
				m_s(&m, i < 3 ? "." : "/");
			}
			m_u(&m, bits);
		}
		m_s(&m, ")");
		bad(p, o, val, m.b);
		return;
	}
	if (*n >= CONF_MAX_ALLOW) {
		bad(p, o, val, "more than " STR(CONF_MAX_ALLOW) " entries");
		return;
	}
	(from ? c->allow_from : c->bare_lf)[(*n)++] = r;
}

static void domain_add(struct pctx *p, const struct opt *o, char *val)
{
	struct mn_config *c = p->c;
	const char *why = check_domain(val);
	struct conf_domain *d;
	unsigned n = 0;

	if (why) {
		bad(p, o, val, why);
		return;
	}
	for (d = c->domain_list; d; d = d->next)
		n++;
	if (n >= CONF_MAX_DOMAINS) {
		bad(p, o, val, "more than " STR(CONF_MAX_DOMAINS) " domains");
		return;
	}
	text_lower(val);
	d = arena_alloc(c->arena, sizeof(*d));
	if (!d)
		return;
	memset(d, 0, sizeof(*d));
	d->name = arena_strndup(c->arena, val, strlen(val));
	if (!d->name)
		return;
	d->file = p->file;
	d->line = p->line;
	if (c->domain_last)
		c->domain_last->next = d;
	else
		c->domain_list = d;
	c->domain_last = d;
	c->n_domains = n + 1;
}

static void mailbox_add(struct pctx *p, const struct opt *o, char *val)
{
	struct mn_config *c = p->c;
	char *cur = val, *addr, *dir;
	const char *why;
	struct conf_mailbox *mb;
	char shown[CONF_LINE_MAX];

	text_copy(shown, sizeof(shown), val);
	addr = next_field(&cur);
	dir = next_field(&cur);
	if (!dir) {
		bad(p, o, shown, "missing MAILDIR (mailbox=ADDRESS,MAILDIR)");
		return;
	}
	if (cur) {
		bad(p, o, shown, "too many fields (mailbox=ADDRESS,MAILDIR)");
		return;
	}
	why = check_address(addr);
	if (why) {
		bad(p, o, shown, why);
		return;
	}
	if (!*dir) {
		bad(p, o, shown, "empty MAILDIR");
		return;
	}
	if (c->n_mailbox >= CFG_MAX_MAILBOXES) {
		bad(p, o, shown, "more than " STR(CFG_MAX_MAILBOXES)
		    " mailboxes (the compiled-in limit, CONFIG_MAX_MAILBOXES)");
		return;
	}
	text_lower(addr);
	mb = &c->mailbox[c->n_mailbox];
	mb->address = arena_strndup(c->arena, addr, strlen(addr));
	mb->maildir = arena_strndup(c->arena, dir, strlen(dir));
	mb->file = p->file;
	mb->line = p->line;
	if (mb->address && mb->maildir)
		c->n_mailbox++;
}

static void alias_add(struct pctx *p, const struct opt *o, char *val)
{
	struct mn_config *c = p->c;
	char *cur = val, *addr, *t;
	const char *why;
	struct conf_address *e;
	unsigned n = 1;
	char shown[CONF_LINE_MAX];

	text_copy(shown, sizeof(shown), val);
	addr = next_field(&cur);
	why = check_address(addr);
	if (why) {
		bad(p, o, shown, why);
		return;
	}
	if (!cur) {
		bad(p, o, shown, "missing TARGET (alias=ADDRESS,TARGET[,TARGET...])");
		return;
	}
	for (t = cur; (t = strchr(t, ',')) != NULL; t++)
		n++;
	e = arena_alloc(c->arena, sizeof(*e));
	if (!e)
		return;
	memset(e, 0, sizeof(*e));
	e->names = arena_alloc(c->arena, n * sizeof(*e->names));
	if (!e->names)
		return;
	while ((t = next_field(&cur)) != NULL) {
		why = check_address(t);
		if (why) {
			struct msg m = { .n = 0 };
			m_s(&m, "target ");
			m_q(&m, t);
			m_s(&m, ": ");
			m_s(&m, why);
			bad(p, o, shown, m.b);
			return;
		}
		text_lower(t);
		e->names[e->n_names] = arena_strndup(c->arena, t, strlen(t));
		if (!e->names[e->n_names++])
			return;
	}
	text_lower(addr);
	e->key = arena_strndup(c->arena, addr, strlen(addr));
	if (!e->key)
		return;
	e->is_alias = 1;
	e->file = p->file;
	e->line = p->line;
	if (c->alias_last)
		c->alias_last->next = e;
	else
		c->alias_list = e;
	c->alias_last = e;
}

static void delim_set(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	size_t n = strlen(val), i;

	if (n >= sizeof(c->rcpt_delim)) {
		bad(p, o, val, "at most 15 characters");
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)val[i];
		if (ch <= ' ' || ch >= 0x7f || ch == '@' || ch == '"' || ch == '\\' ||
		    ch == ',' || ch == '<' || ch == '>') {
			bad(p, o, val, "only printable ASCII characters other than @ \" \\ , < > and space");
			return;
		}
	}
	memcpy(c->rcpt_delim, val, n + 1);
}

static void number_set(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	uint64_t v;
	struct msg m = { .n = 0 };

	if (text_parse_u64(val, strlen(val), &v) != 0 || v > 0xffffffffu) {
		bad(p, o, val, "not a number (decimal digits only)");
		return;
	}
	switch (o->id) {
	case O_MAX_RCPT:
		if (v < 100) {
			bad(p, o, val, "below 100, the minimum RFC 5321 4.5.3.1.8 requires");
			return;
		}
		if (v > CFG_MAX_RECIPIENTS) {
			bad(p, o, val, "above the compiled-in limit of " STR(CFG_MAX_RECIPIENTS)
			    " (CONFIG_MAX_RECIPIENTS)");
			return;
		}
		break;
	case O_MAX_SESSIONS:
		if (v < 1 || v > CFG_MAX_SESSIONS) {
			bad(p, o, val, "must be 1 to " STR(CFG_MAX_SESSIONS)
			    ", the compiled-in limit (CONFIG_MAX_SESSIONS)");
			return;
		}
		break;
	case O_MAX_PER_IP:
		if (v < 1) {
			bad(p, o, val, "must be at least 1");
			return;
		}
		c->max_per_ip_at.file = p->file;
		c->max_per_ip_at.line = p->line;
		break;
	case O_TIMEOUT:
		if (v < 1 || v > 86400) {
			m_s(&m, "must be 1 to 86400 seconds");
			bad(p, o, val, m.b);
			return;
		}
		break;
	default:
		break;
	}
	*(unsigned *)(void *)((char *)c + o->off) = (unsigned)v;
}

static void size_set(struct pctx *p, const struct opt *o, const char *val)
{
	uint64_t v;

	if (conf_parse_size(val, &v) != 0) {
		bad(p, o, val, "not a size (bytes, or a number with a k or M suffix)");
		return;
	}
	if (o->id == O_MAX_SIZE && v < 65536) {
		bad(p, o, val, "below 64k, the minimum RFC 5321 4.5.3.1.7 requires");
		return;
	}
	*(uint64_t *)(void *)((char *)p->c + o->off) = v;
}

static void string_set(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	const char *s;

	if (o->id == O_STATS_FILE && !CFG_STATS) {
		bad(p, o, val, "stats support is not compiled in (CONFIG_STATS)");
		return;
	}
	if (o->id == O_USER && (strchr(val, ' ') || strchr(val, '\t') ||
	                        strchr(val, ':') || strchr(val, '/'))) {
		bad(p, o, val, "not a user name");
		return;
	}
	s = arena_strndup(c->arena, val, strlen(val));
	if (!s)
		return;
	*(const char **)(void *)((char *)c + o->off) = s;
	if (o->id == O_USER) {
		c->user_at.file = p->file;
		c->user_at.line = p->line;
	} else if (o->id == O_AUTH_USERS) {
		c->auth_users_at.file = p->file;
		c->auth_users_at.line = p->line;
	}
}

/* tls-cert and tls-key: the i-th of each make a pair; which is RSA and
 * which EC is only known once the files are read (platform/). */
static void tls_file_add(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	int cert = o->id == O_TLS_CERT;
	unsigned *n = cert ? &c->n_tls_cert : &c->n_tls_key;
	struct conf_origin *at = cert ? c->tls_cert_at : c->tls_key_at;
	const char *s;

	if (!CFG_TLS) {
		bad(p, o, val, "TLS support is not compiled in (CONFIG_TLS)");
		return;
	}
	if (*n >= CONF_TLS_CERTS) {
		bad(p, o, val, "given more than twice");
		return;
	}
	s = arena_strndup(c->arena, val, strlen(val));
	if (!s)
		return;
	(cert ? c->tls_cert : c->tls_key)[*n] = s;
	at[*n].file = p->file;
	at[*n].line = p->line;
	(*n)++;
}

static void tls_version_set(struct pctx *p, const struct opt *o,
                            const char *val)
{
	if (!CFG_TLS) {
		bad(p, o, val, "TLS support is not compiled in (CONFIG_TLS)");
		return;
	}
	if (strlen(val) != 3 || val[0] != '1' || val[1] != '.' ||
	    val[2] < '0' || val[2] > '2') {
		bad(p, o, val, "not 1.0, 1.1 or 1.2");
		return;
	}
	if (val[2] != '2' && !CFG_TLS_LEGACY) {
		bad(p, o, val, "this build has no TLS 1.0/1.1: CONFIG_TLS_LEGACY");
		return;
	}
	p->c->tls_min_version = 0x0301u + (unsigned)(val[2] - '0');
}

/* The first --option of a repeatable option drops the file's entries. */
static void argv_replace(struct mn_config *c, const struct opt *o)
{
	unsigned i, j;

	if (c->argv_seen & (UINT64_C(1) << o->id))
		return;
	c->argv_seen |= UINT64_C(1) << o->id;
	switch (o->id) {
	case O_LISTEN:
	case O_LISTEN_TLS:
		for (i = j = 0; i < c->n_listen; i++)
			if (c->listen[i].tls != (o->id == O_LISTEN_TLS))
				c->listen[j++] = c->listen[i];
		c->n_listen = j;
		if (o->id == O_LISTEN_TLS)
			c->listen_tls_at.file = NULL;
		break;
	case O_DOMAIN:
		c->domain_list = c->domain_last = NULL;
		c->n_domains = 0;
		break;
	case O_MAILBOX:
		c->n_mailbox = 0;
		break;
	case O_ALIAS:
		c->alias_list = c->alias_last = NULL;
		break;
	case O_ALLOW_FROM:
		c->n_allow = 0;
		break;
	case O_BARE_LF:
		c->n_bare_lf = 0;
		break;
	case O_TLS_CERT:
		c->n_tls_cert = 0;
		break;
	case O_TLS_KEY:
		c->n_tls_key = 0;
		break;
	default:
		break;
	}
}

static const struct opt *opt_find(const char *name)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

/* One option: name and value (NULL when there was no '='), both trimmed. */
static void one_opt(struct pctx *p, const char *name, char *val)
{
	const struct opt *o = opt_find(name);
	struct msg m = { .n = 0 };

	if (!o) {
		m_s(&m, "unknown option ");
		m_q(&m, name);
		report(p, m.b);
		return;
	}
	m_s(&m, o->name);
	if ((o->flags & F_ARGV) && !p->argv) {
		m_s(&m, ": only valid on the command line (--");
		m_s(&m, o->name);
		m_s(&m, ")");
		report(p, m.b);
		return;
	}
	if (p->first && !(o->flags & F_REPEAT)) {
		unsigned *at = &p->first[o - opts];

		if (*at) {
			m_s(&m, " given twice (first at line ");
			m_u(&m, *at);
			m_s(&m, ")");
			report(p, m.b);
			return;
		}
		*at = p->line;
	}
	if (o->kind == K_FLAG && val) {
		m_s(&m, ": takes no value");
		report(p, m.b);
		return;
	}
	if (o->kind != K_FLAG && !val) {
		if (o->flags & F_BARE)
			return;         /* the old allow-bare-lf flag: now the default */
		m_s(&m, ": needs a value (");
		m_s(&m, o->name);
		m_s(&m, "=");
		m_s(&m, o->arg);
		m_s(&m, ")");
		report(p, m.b);
		return;
	}
	if (val && !*val && !(o->flags & F_EMPTY)) {
		m_s(&m, ": empty value (");
		m_s(&m, o->name);
		m_s(&m, "=");
		m_s(&m, o->arg);
		m_s(&m, ")");
		report(p, m.b);
		return;
	}
	if (!CFG_AUTH && o->id >= O_AUTH_USERS) {
		m_s(&m, ": " NO_AUTH);
		report(p, m.b);
		return;
	}
	if (p->argv && (o->flags & F_REPEAT))
		argv_replace(p->c, o);
	switch (o->kind) {
	case K_FLAG:
		*((uint8_t *)p->c + o->off) = 1;
		break;
	case K_STRING:
		string_set(p, o, val);
		break;
	case K_HOST: {
		const char *why = check_domain(val);
		if (!why && val[0] == '[')
			why = "a host name, not an address literal";
		if (why)
			bad(p, o, val, why);
		else
			text_copy(p->c->hostname, sizeof(p->c->hostname), val);
		break;
	}
	case K_SIZE:
		size_set(p, o, val);
		break;
	case K_NUMBER:
		number_set(p, o, val);
		break;
	case K_LISTEN:
		listen_add(p, o, val);
		break;
	case K_DOMAIN:
		domain_add(p, o, val);
		break;
	case K_MAILBOX:
		mailbox_add(p, o, val);
		break;
	case K_ALIAS:
		alias_add(p, o, val);
		break;
	case K_CIDR:
		cidr_add(p, o, val);
		break;
	case K_DELIM:
		delim_set(p, o, val);
		break;
	case K_TLS_FILE:
		tls_file_add(p, o, val);
		break;
	case K_TLS_VERSION:
		tls_version_set(p, o, val);
		break;
	}
	/* an argument reports one error at most: conf_parse_arg() checks
	 * the arena after a good one, conf_finish() in any case */
	if (!p->argv)
		arena_check(p, p->file, p->line);
}

/* One line or argument, NUL-terminated in buf: "name[=value]". */
static void one_line(struct pctx *p, char *buf)
{
	char *eq = strchr(buf, '='), *name, *val = NULL;

	if (eq) {
		*eq = '\0';
		val = trim(eq + 1);
	}
	name = trim(buf);
	if (!*name) {
		report(p, "missing option name before '='");
		return;
	}
	one_opt(p, name, val);
}

static int has_control(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 1;
	}
	return 0;
}

/* ---- the interface ---- */

void conf_init(struct mn_config *c, struct arena *a)
{
	memset(c, 0, sizeof(*c));
	arena_reset(a);
	conf_hash_oom = 0;
	c->arena = a;
	memcpy(c->rcpt_delim, "+", 2);
	c->max_size = 10u << 20;
	c->max_rcpt = 100;
	c->max_sessions = CFG_MAX_SESSIONS;
	c->max_per_ip = 0;              /* conf_finish: max-sessions / 2 */
	c->timeout = 300;
	c->min_free = 1u << 20;
	c->tls_min_version = 0x0303;
	c->conf_file = CONF_FILE_DEFAULT;
}

#if CFG_AUTH
unsigned conf_parse_users(struct mn_config *c, const char *file,
                          const char *buf, size_t len, conf_error_fn *err,
                          void *ctx)
{
	struct pctx p = { .c = c, .err = err, .ctx = ctx, .file = file };
	size_t at = 0;
	unsigned i;

	c->n_auth_user = 0;
	c->auth_user = arena_alloc(c->arena, CFG_AUTH_USERS_MAX *
	                           sizeof(*c->auth_user));
	if (!c->auth_user) {
		report(&p, "configuration arena full");
		return p.errors;
	}
	while (at < len) {
		const char *nl = memchr(buf + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (buf + at)) : len - at, k;
		const char *s = buf + at, *colon;
		struct conf_auth_user *u;

		at += n + (nl ? 1 : 0);
		p.line++;
		while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		if (!n || *s == '#')
			continue;
		colon = memchr(s, ':', n);
		k = colon ? (size_t)(colon - s) : 0;
		if (has_control(s, n) || !colon || !k || k > CONF_AUTH_NAME_MAX ||
		    memchr(s, ' ', k) || memchr(s, '\t', k)) {
			report(&p, "not a NAME:HASH line");
			continue;
		}
		if (n - k - 1 < 4 || colon[1] != '$' ||
		    (colon[2] != '5' && colon[2] != '6') || colon[3] != '$') {
			report(&p, "the hash must be a crypt(3) $5$ or $6$ string "
			           "(openssl passwd -6)");
			continue;
		}
		for (i = 0; i < c->n_auth_user; i++)
			if (strlen(c->auth_user[i].name) == k &&
			    memcmp(c->auth_user[i].name, s, k) == 0)
				break;
		if (i < c->n_auth_user) {
			report(&p, "this name is given twice");
			continue;
		}
		if (c->n_auth_user >= CFG_AUTH_USERS_MAX) {
			report(&p, "more than " STR(CFG_AUTH_USERS_MAX) " users "
			           "(the compiled-in limit, CONFIG_AUTH_USERS_MAX)");
			break;
		}
		u = &c->auth_user[c->n_auth_user];
		u->name = arena_strndup(c->arena, s, k);
		u->hash = arena_strndup(c->arena, colon + 1, n - k - 1);
		u->line = p.line;
		if (!u->name || !u->hash) {
			report(&p, "configuration arena full");
			break;
		}
		c->n_auth_user++;
	}
	return p.errors;
}
#endif

unsigned conf_parse(struct mn_config *c, const char *file, const char *buf,
                    size_t len, conf_error_fn *err, void *ctx)
{
	unsigned first[N_OPTS] = { 0 };
	struct pctx p = { .c = c, .err = err, .ctx = ctx, .file = file,
	                  .first = first };
	char line[CONF_LINE_MAX + 1];
	size_t at = 0;

	conf_hash_arena = c->arena;
	if (file) {
		const char *copy = arena_strndup(c->arena, file, strlen(file));
		if (copy)
			p.file = copy;
	}
	arena_check(&p, p.file, 0);
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		at = 3;                 /* a UTF-8 byte order mark */
	while (at < len) {
		const char *nl = memchr(buf + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (buf + at)) : len - at;
		const char *s = buf + at;
		char *t;

		at += n + (nl ? 1 : 0);
		p.line++;
		if (n && s[n - 1] == '\r')
			n--;            /* CRLF line ends */
		if (has_control(s, n)) {
			report(&p, "control character or NUL byte in the line");
			continue;
		}
		if (n > CONF_LINE_MAX) {
			report(&p, "line longer than " STR(CONF_LINE_MAX) " bytes");
			continue;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		t = trim(line);
		if (!*t || *t == '#')
			continue;
		one_line(&p, t);
	}
	c->end_at.file = p.file;
	c->end_at.line = p.line;
	return p.errors;
}

unsigned conf_parse_arg(struct mn_config *c, const char *arg,
                        conf_error_fn *err, void *ctx)
{
	struct pctx p = { .c = c, .err = err, .ctx = ctx, .file = arg, .argv = 1 };
	char line[CONF_LINE_MAX + 1];
	size_t n = strlen(arg);

	conf_hash_arena = c->arena;
	if (n < 3 || arg[0] != '-' || arg[1] != '-') {
		report(&p, "not an option (--option=value, or --flag)");
		return p.errors;
	}
	if (has_control(arg, n)) {
		report(&p, "control character in the argument");
		return p.errors;
	}
	if (n - 2 > CONF_LINE_MAX) {
		report(&p, "argument longer than " STR(CONF_LINE_MAX) " bytes");
		return p.errors;
	}
	{
		/* keep the argument for messages about it in conf_finish() */
		const char *copy = arena_strndup(c->arena, arg, n);
		if (copy)
			p.file = copy;
	}
	memcpy(line, arg + 2, n - 1);
	one_line(&p, line);
	if (p.errors == 0)
		arena_check(&p, p.file, 0);
	return p.errors;
}

static struct conf_address *addr_find(const struct mn_config *c, const char *key)
{
	struct conf_address *head = c->addresses, *e = NULL;

	if (head)
		HASH_FIND_STR(head, key, e);
	return e;
}

static struct conf_domain *domain_find(const struct mn_config *c, const char *name)
{
	struct conf_domain *head = c->domains, *d = NULL;

	if (head)
		HASH_FIND_STR(head, name, d);
	return d;
}

/* "ADDRESS ... (defined at FILE:LINE)" pieces */
static void m_origin(struct msg *m, const char *file, unsigned line)
{
	m_s(m, file ? file : "(command line)");
	if (line) {
		m_s(m, ":");
		m_u(m, line);
	}
}

/* Is postmaster@d named by a mailbox, an alias or d's catch-all? */
static int postmaster_named(const struct mn_config *c, const char *d)
{
	char key[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2];
	size_t n = strlen(d);

	if (n > ADDR_DOMAIN_MAX)
		return 0;
	memcpy(key, "postmaster@", 11);
	memcpy(key + 11, d, n + 1);
	if (addr_find(c, key))
		return 1;
	return addr_find(c, key + 10) != NULL;  /* "@d" */
}

static void finish_aliases(struct pctx *p)
{
	struct mn_config *c = p->c;
	struct conf_address *a, *e;
	unsigned i, j;

	for (a = c->alias_list; a; a = a->next) {
		const char *dom = strchr(a->key, '@') + 1;
		unsigned bad_ones = 0;
		struct msg m = { .n = 0 };

		m_s(&m, "alias ");
		m_s(&m, a->key);
		if (c->domains && !domain_find(c, dom)) {
			m_s(&m, ": domain ");
			m_s(&m, dom);
			m_s(&m, " is not a local domain (add domain=");
			m_s(&m, dom);
			m_s(&m, ")");
			report_at(p, a->file, a->line, m.b);
			continue;
		}
		e = addr_find(c, a->key);
		if (e) {
			m_s(&m, e->is_alias ? ": given twice (first at "
			                    : ": is already a mailbox, which an alias may not shadow (");
			m_origin(&m, e->file, e->line);
			m_s(&m, ")");
			report_at(p, a->file, a->line, m.b);
			continue;
		}
		a->target = arena_alloc(c->arena, a->n_names * sizeof(*a->target));
		if (!a->target)
			return;
		a->n_target = 0;
		for (i = 0; i < a->n_names; i++) {
			struct msg t = { .n = 0 };
			e = addr_find(c, a->names[i]);
			if (!e || e->is_alias) {
				m_s(&t, "alias ");
				m_s(&t, a->key);
				m_s(&t, ": target ");
				m_s(&t, a->names[i]);
				m_s(&t, e ? " is an alias; targets must be mailboxes"
				          : " is not a configured mailbox");
				report_at(p, a->file, a->line, t.b);
				bad_ones++;
				continue;
			}
			for (j = 0; j < a->n_target; j++)
				if (a->target[j] == e->one)
					break;
			if (j == a->n_target)
				a->target[a->n_target++] = e->one;
		}
		if (bad_ones)
			continue;
		HASH_ADD_KEYPTR(hh, c->addresses, a->key, strlen(a->key), a);
		if (conf_hash_oom)
			return;
	}
}

unsigned conf_finish(struct mn_config *c, conf_error_fn *err, void *ctx)
{
	struct pctx p = { .c = c, .err = err, .ctx = ctx };
	const char *end_file = c->end_at.file;
	unsigned end_line = c->end_at.line, i;
	struct conf_domain *d;
	struct conf_address *e;

	conf_hash_arena = c->arena;
	conf_hash_oom = 0;
	c->domains = NULL;
	c->addresses = NULL;
	c->n_domains = 0;
	c->first_domain = NULL;
	c->postmaster_implicit = 0;

	if (c->n_listen == 0) {
		memcpy(c->listen[0].addr, "0.0.0.0", 8);
		c->listen[0].port = 25;
		c->listen[0].tls = 0;
		c->listen[0].v6 = 0;
		c->n_listen = 1;
	}
	if (c->max_per_ip == 0) {
		/* half, rounded up: one client alone cannot hold every slot
		 * (except the only one of max-sessions=1) */
		c->max_per_ip = (c->max_sessions + 1) / 2;
	} else if (c->max_per_ip > c->max_sessions) {
		struct msg m = { .n = 0 };
		m_s(&m, "max-sessions-per-ip: ");
		m_u(&m, c->max_per_ip);
		m_s(&m, " is above max-sessions (");
		m_u(&m, c->max_sessions);
		m_s(&m, ")");
		report_at(&p, c->max_per_ip_at.file, c->max_per_ip_at.line, m.b);
	}
	if (CFG_TLS) {
		int tls_listener = 0;
		for (i = 0; i < c->n_listen; i++)
			tls_listener |= c->listen[i].tls;
		/* pairs in order: the one without its partner is at fault */
		for (i = c->n_tls_key; i < c->n_tls_cert; i++)
			report_at(&p, c->tls_cert_at[i].file, c->tls_cert_at[i].line,
			          "tls-cert: given without tls-key");
		for (i = c->n_tls_cert; i < c->n_tls_key; i++)
			report_at(&p, c->tls_key_at[i].file, c->tls_key_at[i].line,
			          "tls-key: given without tls-cert");
		if (tls_listener && !c->n_tls_cert)
			report_at(&p, c->listen_tls_at.file, c->listen_tls_at.line,
			          "listen-tls: needs tls-cert and tls-key");
	}

	if (CFG_AUTH) {
		int auth_listener = 0;

		for (i = 0; i < c->n_listen; i++)
			auth_listener |= c->listen[i].auth;
		if (c->auth_any && c->auth_users)
			report_at(&p, c->auth_users_at.file,
			          c->auth_users_at.line,
			          "auth-users: not with auth-any");
		if (auth_listener && !c->auth_users)
			report_at(&p, c->listen_auth_at.file,
			          c->listen_auth_at.line,
			          "listen: ,auth needs auth-users");
		if (c->auth_users && !c->n_tls_cert && !c->auth_plaintext)
			report_at(&p, c->auth_users_at.file,
			          c->auth_users_at.line,
			          "auth-users: needs tls-cert or auth-plaintext");
	}

	/* domains, in the order given; a repeated one counts once */
	for (d = c->domain_list; d; d = d->next) {
		if (domain_find(c, d->name))
			continue;
		HASH_ADD_KEYPTR(hh, c->domains, d->name, strlen(d->name), d);
		if (conf_hash_oom)
			goto out;
		c->n_domains++;
		if (!c->first_domain)
			c->first_domain = d->name;
	}
	if (!c->domain_list)
		report_at(&p, end_file, end_line,
		          "no domain defined (at least one domain=DOMAIN is required)");

	/* mailboxes */
	for (i = 0; i < c->n_mailbox; i++) {
		struct conf_mailbox *mb = &c->mailbox[i];
		const char *dom = strchr(mb->address, '@') + 1;
		struct msg m = { .n = 0 };

		m_s(&m, "mailbox ");
		m_s(&m, mb->address);
		if (c->domains && !domain_find(c, dom)) {
			m_s(&m, ": domain ");
			m_s(&m, dom);
			m_s(&m, " is not a local domain (add domain=");
			m_s(&m, dom);
			m_s(&m, ")");
			report_at(&p, mb->file, mb->line, m.b);
		}
		e = addr_find(c, mb->address);
		if (e) {
			struct msg t = { .n = 0 };
			m_s(&t, "mailbox ");
			m_s(&t, mb->address);
			m_s(&t, ": given twice (first at ");
			m_origin(&t, e->file, e->line);
			m_s(&t, ")");
			report_at(&p, mb->file, mb->line, t.b);
			continue;
		}
		e = arena_alloc(c->arena, sizeof(*e));
		if (!e)
			goto out;
		memset(e, 0, sizeof(*e));
		e->key = mb->address;
		e->file = mb->file;
		e->line = mb->line;
		e->one = (uint16_t)i;
		e->target = &e->one;
		e->n_target = 1;
		HASH_ADD_KEYPTR(hh, c->addresses, e->key, strlen(e->key), e);
		if (conf_hash_oom)
			goto out;
	}
	if (c->n_mailbox == 0)
		report_at(&p, end_file, end_line,
		          "no mailbox defined (at least one mailbox=ADDRESS,MAILDIR is required)");

	finish_aliases(&p);
	if (conf_hash_oom || c->arena->failed)
		goto out;

	/* postmaster at every local domain: mailbox 0 when nothing names it */
	if (c->n_mailbox)
		for (d = c->domains; d; d = d->hh.next)
			if (!postmaster_named(c, d->name))
				c->postmaster_implicit = 1;
out:
	arena_check(&p, end_file, end_line);
	return p.errors;
}

void conf_warnings(const struct mn_config *c, conf_error_fn *warn, void *ctx)
{
	const struct conf_domain *d;

	if (c->n_mailbox)
		for (d = c->domains; d; d = d->hh.next) {
			struct msg m = { .n = 0 };
			if (postmaster_named(c, d->name))
				continue;
			m_s(&m, "postmaster@");
			m_s(&m, d->name);
			m_s(&m, " is not configured; it goes to ");
			m_s(&m, c->mailbox[0].address);
			m_s(&m, " (the first mailbox)");
			warn(ctx, d->file ? d->file : "(command line)", d->line, m.b);
		}
	if (c->tag_folders && !c->rcpt_delim[0])
		warn(ctx, c->end_at.file ? c->end_at.file : "(command line)",
		     c->end_at.line,
		     "tag-folders has no effect while recipient-delimiter is empty");
}

int conf_is_local_domain(const struct mn_config *c, const char *d)
{
	char key[ADDR_DOMAIN_MAX + 1];
	size_t n = strlen(d);

	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return 0;
	memcpy(key, d, n + 1);
	text_lower(key);
	return domain_find(c, key) != NULL;
}

int conf_parse_size(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	uint64_t v, mult = 1;

	if (n == 0)
		return -1;
	switch (s[n - 1]) {
	case 'k': case 'K':
		mult = 1024;
		n--;
		break;
	case 'm': case 'M':
		mult = 1024 * 1024;
		n--;
		break;
	case 'g': case 'G':
		mult = 1024 * 1024 * 1024;
		n--;
		break;
	default:
		break;
	}
	if (text_parse_u64(s, n, &v) != 0 || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
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
		if (r->v6 ? prefix_match(a6, r->addr, r->bits)
		          : a4 && prefix_match(a4, r->addr, r->bits))
			return 1;
	}
	return 0;
}

void conf_usage(void (*line)(void *ctx, const char *opt, const char *help),
                void *ctx)
{
	size_t i;

	for (i = 0; i < N_OPTS; i++) {
		struct msg m = { .n = 0 };
		m_s(&m, opts[i].name);
		if (opts[i].arg) {
			m_s(&m, "=");
			m_s(&m, opts[i].arg);
		}
		line(ctx, m.b, opts[i].help);
	}
}
