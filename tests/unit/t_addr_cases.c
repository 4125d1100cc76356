/* tests/addr_cases.txt, both ways: each address goes to the configuration
 * (mailbox=ADDRESS,DIR with domain= its domain, conf_parse + conf_finish)
 * and to the engine's RCPT path (a session whose sink resolves recipients
 * through policy_resolve() against a configuration holding that mailbox if
 * the configuration took it).  The two must agree: -t accepts exactly what
 * RCPT then answers 250 to.  Run from the top of the tree (prove does). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "conf.h"
#include "policy.h"
#include "smtp_engine.h"

#define CASES "tests/addr_cases.txt"
#define MAX_CASES 200

struct one_case {
	int code;                /* 250, 501 or 550 */
	char addr[512];
	unsigned line;
};

static struct one_case cases[MAX_CASES];
static unsigned ncases;

static unsigned char mem[CFG_CONF_ARENA_KB * 1024];
static struct arena A;
static struct mn_config C;
static struct smtp_session S;
static char notes[4096];

static void note(void *ctx, const char *file, unsigned line, const char *msg)
{
	size_t n = strlen(notes);

	(void)ctx;
	(void)file;
	(void)line;
	snprintf(notes + n, sizeof(notes) - n, "%s\n", msg);
}

/* Errors of a whole configuration (conf_parse and conf_finish); their
 * messages in notes. */
static unsigned load(const char *text, int finish)
{
	unsigned n;

	notes[0] = '\0';
	arena_init(&A, mem, sizeof(mem));
	conf_init(&C, &A);
	n = conf_parse(&C, "cases.conf", text, strlen(text), note, NULL);
	if (finish)
		n += conf_finish(&C, note, NULL);
	return n;
}

static int hexdigit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int read_cases(void)
{
	FILE *f = fopen(CASES, "r");
	char line[1024];
	unsigned lineno = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		struct one_case *c = &cases[ncases];
		size_t j = 0;
		char *p;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (ncases == MAX_CASES || strlen(line) < 5 || line[3] != ' ') {
			fclose(f);
			return 0;
		}
		c->code = atoi(line);
		c->line = lineno;
		for (p = line + 4; *p && j + 1 < sizeof(c->addr); p++) {
			if (p[0] == '\\' && p[1] == 'x' && hexdigit(p[2]) >= 0 &&
			    hexdigit(p[3]) >= 0) {
				c->addr[j++] = (char)(hexdigit(p[2]) << 4 | hexdigit(p[3]));
				p += 3;
			} else {
				c->addr[j++] = *p;
			}
		}
		c->addr[j] = '\0';
		ncases++;
	}
	fclose(f);
	return ncases > 0;
}

/* The domain a case names: after its last '@'; example.org without one. */
static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at && at[1] ? at + 1 : "example.org";
}

/* domain=D for a configuration: only when D alone is a valid domain= and
 * is not example.org already. */
static void add_domain(char *text, size_t size, const char *d)
{
	char one[600];
	size_t n = strlen(text);

	if (strcmp(d, "example.org") == 0)
		return;
	snprintf(one, sizeof(one), "domain=%s\n", d);
	if (load(one, 0) == 0)
		snprintf(text + n, size - n, "%s", one);
}

/* ---- the engine, with a sink that resolves through policy.c ---- */

static int s_mail(void *ctx, const struct smtp_addr *from, int utf8)
{
	(void)ctx;
	(void)from;
	(void)utf8;
	return SINK_OK;
}

static int s_rcpt(void *ctx, const struct smtp_addr *to)
{
	struct rcpt_target t[8];
	unsigned n;

	(void)ctx;
	return policy_resolve(&C, to, t, 8, &n);
}

static int s_begin(void *ctx, char id[SMTP_ID_MAX])
{
	(void)ctx;
	(void)id;
	return SINK_TEMP;
}

static int s_write(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return SINK_TEMP;
}

static int s_commit(void *ctx)
{
	(void)ctx;
	return SINK_TEMP;
}

static void s_abort(void *ctx, enum smtp_reject reason, uint64_t size)
{
	(void)ctx;
	(void)reason;
	(void)size;
}

static void s_reset(void *ctx)
{
	(void)ctx;
}

static int s_auth(void *ctx, const char *user, const char *pass)
{
	(void)ctx;
	(void)user;
	(void)pass;
	return AUTH_FAIL;
}

static const struct smtp_sink sink = {
	s_mail, s_rcpt, s_begin, s_write, s_commit, s_abort, s_reset, s_auth
};

/* Feeds one command line; returns the code of the last reply line. */
static int command(const char *line, char *last, size_t lastsize)
{
	char out[4096];
	size_t outlen = 0, n = strlen(line), len;
	const char *p, *l;
	uint8_t *b = smtp_recv_buf(&S, &len);

	if (len < n)
		return -1;
	memcpy(b, line, n);
	smtp_recv_ack(&S, n);
	while ((p = smtp_send_buf(&S, &len)) != NULL && len) {
		if (outlen + len < sizeof(out)) {
			memcpy(out + outlen, p, len);
			outlen += len;
		}
		smtp_send_ack(&S, len);
	}
	out[outlen] = '\0';
	if (outlen < 5)
		return -1;
	/* the start of the last line */
	for (l = out + outlen - 2; l > out && l[-1] != '\n'; l--)
		;
	snprintf(last, lastsize, "%.*s", (int)strcspn(l, "\r\n"), l);
	return atoi(l);
}

/* RCPT TO:<addr> in a new session; the reply code, its text in last. */
static int rcpt(const char *addr, char *last, size_t lastsize)
{
	struct smtp_params P;
	char line[700];
	int utf8 = 0, r;
	const unsigned char *u;

	for (u = (const unsigned char *)addr; *u; u++)
		utf8 |= *u >= 0x80;
	memset(&P, 0, sizeof(P));
	P.hostname = "mx.test";
	P.client_ip = "192.0.2.9";
	P.max_size = 65536;
	P.max_rcpt = 100;
	P.timeout = 300;
	smtp_session_start(&S, &P, &sink, NULL, 1000, 1700000000);
	r = command("EHLO client.test\r\n", last, lastsize);
	if (r != 250)
		return -1;
	r = command(utf8 ? "MAIL FROM:<> SMTPUTF8\r\n" : "MAIL FROM:<>\r\n",
	            last, lastsize);
	if (r != 250)
		return -1;
	snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", addr);
	return command(line, last, lastsize);
}

static void one(const struct one_case *c)
{
	char text[2048], last[300], why[sizeof(notes)];
	const char *d = domain_of(c->addr);
	int conf_ok, got;

	/* the configuration: domain= its domain, mailbox= the case */
	snprintf(text, sizeof(text), "domain=example.org\n");
	add_domain(text, sizeof(text), d);
	snprintf(text + strlen(text), sizeof(text) - strlen(text),
	         "mailbox=%s,/m\n", c->addr);
	conf_ok = load(text, 1) == 0;
	snprintf(why, sizeof(why), "%s", notes);

	/* the engine: the same, with the case's mailbox only if -t took it */
	snprintf(text, sizeof(text),
	         "domain=example.org\nmailbox=base@example.org,/base\n");
	add_domain(text, sizeof(text), d);
	if (conf_ok)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		         "mailbox=%s,/m\n", c->addr);
	if (load(text, 1) != 0) {
		ok(0, "line %u: the engine's configuration loads", c->line);
		tap_diag_mem("messages", notes, strlen(notes));
		return;
	}
	got = rcpt(c->addr, last, sizeof(last));

	if (!ok(conf_ok == (got == 250),
	        "line %u: -t %s and RCPT agree (RCPT %d)", c->line,
	        conf_ok ? "accepts" : "refuses", got)) {
		tap_diag_mem("address", c->addr, strlen(c->addr));
		tap_diag_mem("RCPT", last, strlen(last));
		tap_diag_mem("-t", why, strlen(why));
	}
	ok(conf_ok == (c->code == 250), "line %u: -t %s, as the list says",
	   c->line, c->code == 250 ? "accepts" : "refuses");
	is_int(got, c->code, "line %u: RCPT answers %d", c->line, c->code);
	if (!conf_ok)
		ok(strstr(why, "mailbox") != NULL,
		   "line %u: the refusal is about mailbox=", c->line);
}

int main(void)
{
	unsigned i;

	if (!ok(read_cases(), "%s read (run from the top of the tree)", CASES))
		return tap_done();
	for (i = 0; i < ncases; i++)
		one(&cases[i]);
	return tap_done();
}
