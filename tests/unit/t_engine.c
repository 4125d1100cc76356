/*
 * The SMTP engine driven through its buffer/ack API by transcripts: client
 * bytes in, the exact replies and the exact sink calls and stored bytes
 * out.  Every transcript is replayed whole, one byte at a time, at every
 * two-way cut (when short) and at pseudo-random cuts, and all runs must
 * agree octet for octet.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_engine.h"
#include "text.h"
#include "tap.h"

#define HOST "mx.example.org"
#define T0 1000
#define WALL 1700000000          /* Tue, 14 Nov 2023 22:13:20 +0000 */
#define DATE "Tue, 14 Nov 2023 22:13:20 +0000"

#define GREET     "220 " HOST " ESMTP mailnook\r\n"
#define EHLO_R(size, tls) \
	"250-" HOST "\r\n250-PIPELINING\r\n250-SIZE " size "\r\n250-8BITMIME\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250-CHUNKING\r\n" tls "250 HELP\r\n"
#define EHLO_OK   EHLO_R("65536", "")
#define HELO_OK   "250 " HOST "\r\n"
#define S_MAIL   "250 2.1.0 Ok\r\n"
#define S_RCPT   "250 2.1.5 Ok\r\n"
#define OK        "250 2.0.0 Ok\r\n"
#define GO        "354 End data with <CR><LF>.<CR><LF>\r\n"
#define DELIV(id) "250 2.0.0 Ok: delivered as " id "\r\n"
#define CHUNK(n)  "250 2.0.0 " n " octets received\r\n"
#define BYE       "221 2.0.0 " HOST " closing\r\n"
#define E_ERRS    "421 4.7.0 " HOST " too many errors\r\n"
#define E_TIMEOUT "421 4.4.2 " HOST " timeout\r\n"
#define E_SHUT    "421 4.3.2 " HOST " shutting down\r\n"
#define E_UNKNOWN "500 5.5.1 Command unrecognized\r\n"
#define E_LONG    "500 5.5.2 Line too long\r\n"
#define E_NUL     "500 5.5.2 NUL character in command\r\n"
#define E_SYNTAX  "501 5.5.4 Syntax error\r\n"
#define E_SYN_MAIL "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n"
#define E_SYN_RCPT "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
#define E_SYN_BDAT "501 5.5.4 Syntax: BDAT size [LAST]\r\n"
#define E_SYN_VRFY "501 5.5.4 Syntax: VRFY address\r\n"
#define E_ADDR    "501 5.1.3 Bad address syntax\r\n"
#define E_NOTIMPL "502 5.5.1 Command not implemented\r\n"
#define E_NOTLS   "502 5.5.1 STARTTLS not available\r\n"
#define E_HELO1st "503 5.5.1 Send HELO/EHLO first\r\n"
#define E_NEEDMAIL "503 5.5.1 Need MAIL command\r\n"
#define E_NEEDRCPT "503 5.5.1 Need RCPT command\r\n"
#define E_NESTED  "503 5.5.1 Nested MAIL command\r\n"
#define E_MIX     "503 5.5.1 DATA and BDAT cannot be mixed\r\n"
#define E_SEQ     "503 5.5.1 Bad sequence of commands\r\n"
#define E_TLSON   "503 5.5.1 TLS already active\r\n"
#define E_DENIED  "503 5.5.1 Access denied\r\n"
#define E_PARAM   "555 5.5.4 Unsupported parameter\r\n"
#define E_BIG     "552 5.3.4 Message too big\r\n"
#define E_MANY    "452 4.5.3 Too many recipients\r\n"
#define E_TEMP    "451 4.3.0 Temporary failure, try again later\r\n"
#define E_NOSPACE "452 4.3.1 Insufficient system storage\r\n"
#define E_PERM    "554 5.3.0 Storage failure\r\n"
#define E_USER    "550 5.1.1 User unknown\r\n"
#define E_RELAY   "550 5.7.1 Relaying denied\r\n"
#define E_BARE    "550 5.6.0 Bare CR, bare LF or NUL in message (RFC 5321 2.3.8)\r\n"
#define E_LOOP    "554 5.4.6 Too many Received headers (mail loop)\r\n"
#define VRFY_R    "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
#define HELP_R    "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS\r\n"
#define TLS_GO    "220 2.0.0 Ready to start TLS\r\n"

#define TRACE_RCPT(sender, helo, ip, proto, id, rcpt) \
	"Return-Path: <" sender ">\nReceived: from " helo " (" ip ") by " HOST \
	" (mailnook) with " proto " id " id " for <" rcpt ">; " DATE "\n"
#define TRACE_N(sender, helo, ip, proto, id) \
	"Return-Path: <" sender ">\nReceived: from " helo " (" ip ") by " HOST \
	" (mailnook) with " proto " id " id "; " DATE "\n"
#define TRACE1(id) TRACE_RCPT("s@x.example", "c.example", "[192.0.2.1]", "ESMTP", id, "a@example.org")

#define HDR  "EHLO c.example\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\n"
#define HDR_R GREET EHLO_OK S_MAIL S_RCPT
#define HDR_R_SIZE(n) GREET EHLO_R(n, "") S_MAIL S_RCPT

/* ---- the fake sink ---------------------------------------------------- */

#define DATA_MAX (512 * 1024)

struct fake {
	size_t loglen, datalen, nwrites;
	unsigned nbegin;
	int begin_res, commit_res, commit_done_res, mail_res;
	size_t write_fail_at;    /* a write taking the data past this fails (0: never) */
	int write_fail_res;
	char log[16384];
	char data[DATA_MAX];
};

static struct fake fake_cfg;     /* template for the answers of each run */

static void logf_(struct fake *f, const char *a, const char *b, long long v)
{
	size_t la = strlen(a), lb = strlen(b);
	char num[24];
	int k = 0;
	long long x = v < 0 ? -v : v;
	char tmp[24];

	do {
		tmp[k++] = (char)('0' + x % 10);
		x /= 10;
	} while (x);
	if (v < 0)
		tmp[k++] = '-';
	for (int i = 0; i < k; i++)
		num[i] = tmp[k - 1 - i];
	num[k] = 0;
	if (f->loglen + la + lb + (size_t)k + 4 >= sizeof(f->log))
		return;
	memcpy(f->log + f->loglen, a, la);
	f->loglen += la;
	f->log[f->loglen++] = ' ';
	memcpy(f->log + f->loglen, b, lb);
	f->loglen += lb;
	f->log[f->loglen++] = ' ';
	memcpy(f->log + f->loglen, num, (size_t)k);
	f->loglen += (size_t)k;
	f->log[f->loglen++] = '\n';
	f->log[f->loglen] = 0;
}

static int f_mail(void *ctx, const struct smtp_addr *from, int utf8)
{
	struct fake *f = ctx;

	logf_(f, "mail", from->is_null ? "<>" : from->text, utf8);
	if (strcmp(from->local, "full") == 0)
		return SINK_NOSPACE;
	if (strcmp(from->local, "temp") == 0)
		return SINK_TEMP;
	return f->mail_res;
}

static int f_rcpt(void *ctx, const struct smtp_addr *to)
{
	struct fake *f = ctx;

	logf_(f, "rcpt", to->text, to->is_postmaster);
	if (to->is_postmaster)
		return RCPT_OK;
	if (strcmp(to->domain, "example.org") != 0)
		return RCPT_RELAY;
	if (strncmp(to->local, "unknown", 7) == 0)
		return RCPT_UNKNOWN;
	if (strcmp(to->local, "full") == 0)
		return RCPT_NOSPACE;
	if (strcmp(to->local, "temp") == 0)
		return RCPT_TEMP;
	return RCPT_OK;
}

static int f_begin(void *ctx, char id[SMTP_ID_MAX])
{
	struct fake *f = ctx;

	f->nbegin++;
	logf_(f, "begin", "", f->nbegin);
	if (f->begin_res != SINK_OK)
		return f->begin_res;
	memcpy(id, "MSG", 3);
	id[3] = (char)('0' + f->nbegin % 10);
	id[4] = 0;
	return SINK_OK;
}

static int f_write(void *ctx, const void *p, size_t n)
{
	struct fake *f = ctx;

	f->nwrites++;
	if (f->write_fail_at && f->datalen + n > f->write_fail_at) {
		/* a short write, then the error: as a disk filling up */
		memcpy(f->data + f->datalen, p, f->write_fail_at - f->datalen);
		f->datalen = f->write_fail_at;
		return f->write_fail_res;
	}
	if (f->datalen + n > sizeof(f->data))
		return SINK_NOSPACE;
	memcpy(f->data + f->datalen, p, n);
	f->datalen += n;
	return SINK_OK;
}

static int f_commit(void *ctx)
{
	struct fake *f = ctx;

	logf_(f, "commit", "", 0);
	return f->commit_res;
}

static void f_abort(void *ctx, enum smtp_reject why, uint64_t size)
{
	struct fake *f = ctx;
	static const char *names[] = { "none", "bare_lf", "bare_cr", "nul", "size",
	                               "loop", "store", "aborted" };

	logf_(f, "abort", names[why], (long long)size);
}

static void f_reset(void *ctx)
{
	logf_(ctx, "reset", "", 0);
}

/* "secret" is the right password, one starting "bad" a wrong one, any
 * other goes through unchecked.  The log shows user and password, to
 * check the decoding (a test's own log, never mailnook's). */
static int f_auth(void *ctx, const char *user, const char *pass)
{
	char both[SMTP_LINE_MAX + SMTP_AUTH_NAME_MAX];
	size_t n = strlen(user);

	memcpy(both, user, n);
	both[n] = ':';
	strcpy(both + n + 1, pass);
	logf_(ctx, "auth", both, 0);
	if (strcmp(pass, "secret") == 0)
		return AUTH_CHECKED;
	if (strncmp(pass, "bad", 3) == 0)
		return AUTH_FAIL;
	return AUTH_ANY;
}

static const struct smtp_sink fake_sink = {
	f_mail, f_rcpt, f_begin, f_write, f_commit, f_abort, f_reset, f_auth
};

/* ---- the runner --------------------------------------------------------- */

static struct smtp_params P;
static struct smtp_session S;

struct result {
	size_t outlen;
	unsigned state;
	struct fake f;
	char out[1 << 18];
};

static struct result R0, R1;

static void reset_params(void)
{
	memset(&P, 0, sizeof(P));
	P.hostname = HOST;
	P.client_ip = "192.0.2.1";
	P.max_size = 65536;
	P.max_rcpt = 100;
	P.timeout = 300;
	memset(&fake_cfg, 0, sizeof(fake_cfg));
	fake_cfg.commit_res = SINK_PENDING;
	fake_cfg.commit_done_res = SINK_OK;
}

static void result_init(struct result *r)
{
	r->outlen = 0;
	r->out[0] = 0;
	r->state = 0;
	r->f.loglen = r->f.datalen = r->f.nwrites = 0;
	r->f.log[0] = 0;
	r->f.nbegin = 0;
	r->f.begin_res = fake_cfg.begin_res;
	r->f.commit_res = fake_cfg.commit_res;
	r->f.commit_done_res = fake_cfg.commit_done_res;
	r->f.mail_res = fake_cfg.mail_res;
	r->f.write_fail_at = fake_cfg.write_fail_at;
	r->f.write_fail_res = fake_cfg.write_fail_res;
}

/* Sends every reply and completes pending commits. */
static void drain(struct result *r)
{
	for (;;) {
		size_t len;
		const char *p = smtp_send_buf(&S, &len);

		if (len) {
			if (r->outlen + len < sizeof(r->out)) {
				memcpy(r->out + r->outlen, p, len);
				r->outlen += len;
				r->out[r->outlen] = 0;
			}
			smtp_send_ack(&S, len);
			continue;
		}
		if (smtp_state(&S) & SMTP_COMMITTING) {
			smtp_commit_done(&S, r->f.commit_done_res);
			continue;
		}
		if (S.phase == PHASE_AUTH_WAIT) {
			/* a failed AUTH: the pause ends */
			smtp_tick(&S, smtp_deadline(&S), WALL);
			continue;
		}
		break;
	}
}

/* Feeds p[0..n) as one write of the client: as much as the engine takes. */
static int feed(struct result *r, const char *p, size_t n)
{
	while (n) {
		size_t len, k;
		uint8_t *b;

		if (smtp_state(&S) & (SMTP_DEAD | SMTP_START_TLS))
			return 0;
		b = smtp_recv_buf(&S, &len);
		if (len == 0) {
			drain(r);
			b = smtp_recv_buf(&S, &len);
			if (len == 0)
				return 0;
		}
		k = n < len ? n : len;
		memcpy(b, p, k);
		smtp_recv_ack(&S, k);
		p += k;
		n -= k;
		drain(r);
	}
	return 1;
}

static void start(struct result *r)
{
	result_init(r);
	smtp_session_start(&S, &P, &fake_sink, &r->f, T0, WALL);
	drain(r);
}

/* One run, the input cut at cuts[0..ncuts) (increasing offsets). */
static void run_cut(struct result *r, const char *in, size_t n,
                    const size_t *cuts, size_t ncuts)
{
	size_t pos = 0, i;

	start(r);
	for (i = 0; i <= ncuts; i++) {
		size_t next = i < ncuts ? cuts[i] : n;

		if (next > pos && !feed(r, in + pos, next - pos))
			break;
		pos = next;
	}
	r->state = smtp_state(&S);
}

static int same(const struct result *a, const struct result *b)
{
	return a->outlen == b->outlen && memcmp(a->out, b->out, a->outlen) == 0 &&
	       a->f.datalen == b->f.datalen &&
	       memcmp(a->f.data, b->f.data, a->f.datalen) == 0 &&
	       a->f.loglen == b->f.loglen && memcmp(a->f.log, b->f.log, a->f.loglen) == 0 &&
	       (a->state & ~SMTP_WANT_RECV) == (b->state & ~SMTP_WANT_RECV);
}

static void show_diff(const struct result *a, const struct result *b)
{
	tap_diag_mem("whole out", a->out, a->outlen);
	tap_diag_mem("cut out  ", b->out, b->outlen);
	tap_diag_mem("whole log", a->f.log, a->f.loglen);
	tap_diag_mem("cut log  ", b->f.log, b->f.loglen);
	printf("#   data %zu vs %zu, state %x vs %x\n", a->f.datalen, b->f.datalen,
	       a->state, b->state);
}

/*
 * Runs transcript in[0..n) whole and checks the replies (and, when given,
 * the stored bytes and the sink log), then checks that every other cutting
 * gives the very same result.
 */
static void check_n(const char *name, const char *in, size_t n,
                    const char *want_out, const char *want_data, size_t want_datalen,
                    const char *want_log)
{
	size_t cut[8], i;
	int bad = 0;
	uint32_t x = 0x2545f491u;

	run_cut(&R0, in, n, NULL, 0);
	is_mem(R0.out, R0.outlen, want_out, strlen(want_out), "%s: replies", name);
	if (want_data)
		is_mem(R0.f.data, R0.f.datalen, want_data, want_datalen, "%s: stored", name);
	if (want_log)
		is_mem(R0.f.log, R0.f.loglen, want_log, strlen(want_log), "%s: sink calls", name);

	/* one byte at a time */
	{
		size_t *all = calloc(n + 1, sizeof(size_t));

		for (i = 0; i < n; i++)
			all[i] = i + 1;
		run_cut(&R1, in, n, all, n ? n - 1 : 0);
		free(all);
		if (!ok(same(&R0, &R1), "%s: byte by byte == whole", name))
			show_diff(&R0, &R1);
	}
	/* every two-way cut */
	if (n <= 4000) {
		for (i = 1; i < n && !bad; i++) {
			cut[0] = i;
			run_cut(&R1, in, n, cut, 1);
			if (!same(&R0, &R1))
				bad = (int)i;
		}
		if (!ok(!bad, "%s: every 2-way cut == whole", name)) {
			printf("#   first bad cut at %d\n", bad);
			show_diff(&R0, &R1);
		}
	}
	/* pseudo-random cuts */
	bad = 0;
	for (int k = 0; k < 40 && !bad && n > 1; k++) {
		size_t nc = 1 + k % 8, last = 0;

		for (i = 0; i < nc; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			cut[i] = last + 1 + x % (n / nc + 1);
			if (cut[i] >= n)
				break;
			last = cut[i];
		}
		run_cut(&R1, in, n, cut, i);
		if (!same(&R0, &R1))
			bad = k + 1;
	}
	if (!ok(!bad, "%s: random cuts == whole", name))
		show_diff(&R0, &R1);
}

static void check(const char *name, const char *in, const char *want_out,
                  const char *want_data, const char *want_log)
{
	check_n(name, in, strlen(in), want_out, want_data,
	        want_data ? strlen(want_data) : 0, want_log);
}

/* ---- a growable string for building big transcripts ------------------ */

static char *cat(char *dst, size_t *len, const char *p, size_t n)
{
	memcpy(dst + *len, p, n);
	*len += n;
	dst[*len] = 0;
	return dst;
}

#define CATS(dst, len, s) cat(dst, len, s, strlen(s))

static char big_in[300000], big_out[300000], big_data[300000];

/* ---- tests ----------------------------------------------------------- */

static void t_basic(void)
{
	reset_params();
	check("basic transaction",
	      HDR "DATA\r\nSubject: hi\r\n\r\nline one\r\n..dot line\r\n.x\r\n\r\n.\r\nQUIT\r\n",
	      HDR_R GO DELIV("MSG1") BYE,
	      TRACE1("MSG1") "Subject: hi\n\nline one\n.dot line\nx\n\n",
	      "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  1\n"
	      "commit  0\nreset  0\n");
	ok(R0.state & SMTP_DEAD, "  dead after QUIT");

	check("two transactions, two recipients, HELO",
	      "HELO c.example\r\nMAIL FROM:<>\r\nRCPT TO:<a@example.org>\r\n"
	      "RCPT TO:<b@example.org>\r\nDATA\r\nx\r\n.\r\n"
	      "MAIL FROM:<s@x.example>\r\nRCPT TO:<c@example.org>\r\nDATA\r\ny\r\n.\r\n",
	      GREET HELO_OK S_MAIL S_RCPT S_RCPT GO DELIV("MSG1") S_MAIL S_RCPT GO
	      DELIV("MSG2"),
	      TRACE_N("", "c.example", "[192.0.2.1]", "SMTP", "MSG1") "x\n"
	      TRACE_RCPT("s@x.example", "c.example", "[192.0.2.1]", "SMTP", "MSG2", "c@example.org")
	      "y\n", NULL);
	ok(!(R0.state & SMTP_CLOSE), "  still open");

	check("empty message", HDR "DATA\r\n.\r\n",
	      HDR_R GO DELIV("MSG1"), TRACE1("MSG1"), NULL);

	check("lower-case verbs, spaces after the colon, bare LF command ends",
	      "ehlo c.example\nmail from:  <s@x.example>\r\nrcpt to: <a@example.org>\n"
	      "data\nx\r\n.\r\nnoop\n",
	      HDR_R GO DELIV("MSG1") OK, TRACE1("MSG1") "x\n", NULL);

	/* a long body fed whole is written in a few large writes, not per byte */
	{
		size_t li = 0, ld = 0, lo = 0;
		int k;

		reset_params();
		CATS(big_in, &li, HDR "DATA\r\n");
		CATS(big_data, &ld, TRACE1("MSG1"));
		for (k = 0; k < 200; k++) {
			CATS(big_in, &li, "0123456789012345678901234567890123456789012345678\r\n");
			CATS(big_data, &ld, "0123456789012345678901234567890123456789012345678\n");
		}
		CATS(big_in, &li, ".\r\n");
		CATS(big_out, &lo, HDR_R GO DELIV("MSG1"));
		check_n("10 kB body", big_in, li, big_out, big_data, ld, NULL);
		run_cut(&R0, big_in, li, NULL, 0);
		ok(R0.f.nwrites <= 2 + 10000 / 512 + 2, "  %zu writes for 10 kB fed in 3 reads",
		   R0.f.nwrites);
	}
}

/* Whole and one octet at a time agree on in[0..n)?  Whole feeds give the
 * TEXT fast path long runs; single octets never do. */
static int whole_is_bytewise(const char *in, size_t n)
{
	size_t *all = calloc(n + 1, sizeof(size_t));
	size_t i;

	for (i = 0; i < n; i++)
		all[i] = i + 1;
	run_cut(&R0, in, n, NULL, 0);
	run_cut(&R1, in, n, all, n - 1);
	free(all);
	return same(&R0, &R1);
}

/* The TEXT fast path takes runs a word at a time: every octet that ends a
 * run (CR, LF, NUL, CRLF, the final dot) at every offset within a word,
 * in the body and in a header line, and the size limit falling at every
 * offset of a long line. */
static void t_text_runs(void)
{
	static const char *const stop[] = { "\r\n", "\r", "\n", "\0", "\r\n.\r\n",
		"\r\n..x\r\n", "\r\nReceived: y\r\n", "\r\n\r\n", "\r\n\0", "\r\n\n",
		"\r\n\r", "\r\n.x" };
	static const size_t stoplen[] = { 2, 1, 1, 1, 5, 7, 15, 4, 3, 3, 3, 4 };
	char body[64];
	size_t si, pos, lim;
	int bad = 0, delivered = 0, refused = 0;

	reset_params();
	memset(body, 'a', sizeof(body));
	for (si = 0; si < sizeof(stop) / sizeof(stop[0]); si++) {
		for (pos = 0; pos < 40 && !bad; pos++) {
			int in_hdr;

			for (in_hdr = 0; in_hdr < 2 && !bad; in_hdr++) {
				size_t li = 0;

				P.strict_crlf = (uint8_t)(pos & 1);
				CATS(big_in, &li, HDR "DATA\r\nX-A: ");
				if (!in_hdr)
					CATS(big_in, &li, "b\r\n\r\n");
				cat(big_in, &li, body, pos);
				cat(big_in, &li, stop[si], stoplen[si]);
				cat(big_in, &li, body, 40 - pos);
				CATS(big_in, &li, "\r\n.\r\nNOOP\r\n");
				if (!whole_is_bytewise(big_in, li))
					bad = 1;
				delivered += strstr(R0.out, "delivered") != NULL;
				refused += strstr(R0.out, "550 5.6.0") != NULL;
			}
		}
	}
	P.strict_crlf = 0;
	if (!ok(!bad, "stop octets at every offset of a run: whole == byte by byte")) {
		printf("#   stop %zu at %zu\n", si - 1, pos - 1);
		show_diff(&R0, &R1);
	}
	ok(delivered > 0 && refused > 0, "  %d delivered, %d refused as bare CR/LF/NUL",
	   delivered, refused);

	/* the same runs as BDAT content, in one chunk or two cut just before,
	 * inside or just after the stop octets: stored with CRLF as LF, and
	 * refused (550 5.6.0, nothing committed) exactly when a NUL is in it */
	delivered = refused = 0;
	for (si = 0; si < sizeof(stop) / sizeof(stop[0]) && !bad; si++) {
		for (pos = 0; pos < 40 && !bad; pos++) {
			for (int k = 0; k < 8 && !bad; k++) {
				char content[128], want[256], num[48];
				size_t lc = 0, li = 0, lw = 0, cut, i;
				int nul = memchr(stop[si], '\0', stoplen[si]) != NULL;

				CATS(content, &lc, "X-A: ");
				if (!(k & 1))
					CATS(content, &lc, "b\r\n\r\n");
				cat(content, &lc, body, pos);
				cut = k / 2 == 1 ? lc : k / 2 == 2 ? lc + stoplen[si] / 2 :
				      k / 2 == 3 ? lc + stoplen[si] : 0;
				cat(content, &lc, stop[si], stoplen[si]);
				cat(content, &lc, body, 40 - pos);
				CATS(content, &lc, "\r\n");
				CATS(big_in, &li, HDR);
				if (cut) {
					snprintf(num, sizeof(num), "BDAT %zu\r\n", cut);
					CATS(big_in, &li, num);
					cat(big_in, &li, content, cut);
				}
				snprintf(num, sizeof(num), "BDAT %zu LAST\r\n", lc - cut);
				CATS(big_in, &li, num);
				cat(big_in, &li, content + cut, lc - cut);
				CATS(big_in, &li, "NOOP\r\n");
				CATS(want, &lw, TRACE1("MSG1"));
				for (i = 0; i < lc; i++)
					if (!(content[i] == '\r' && i + 1 < lc && content[i + 1] == '\n'))
						want[lw++] = content[i];
				if (!whole_is_bytewise(big_in, li))
					bad = 1;
				else if (nul ? strstr(R0.out, E_BARE OK) == NULL ||
				               strstr(R0.f.log, "commit") != NULL :
				         strstr(R0.out, "delivered") == NULL ||
				         R0.f.datalen != lw || memcmp(R0.f.data, want, lw) != 0)
					bad = 2;
				delivered += !nul;
				refused += nul;
			}
		}
	}
	if (!ok(!bad, "BDAT: stop octets at every offset, across chunks: whole == byte by "
	        "byte, CRLF stored as LF, NUL refused")) {
		printf("#   stop %zu at %zu (%d)\n", si - 1, pos - 1, bad);
		show_diff(&R0, &R1);
	}
	ok(delivered > 0 && refused > 0, "  %d delivered, %d refused for a NUL",
	   delivered, refused);

	/* ... and where a long BDAT run fills the write buffer */
	bad = 0;
	for (pos = 2030; pos < 2070 && !bad; pos++) {
		for (int nul = 0; nul < 2 && !bad; nul++) {
			static char run[2100];
			char num[48];
			size_t li = 0, ld = 0, lc = 8 + pos + 6;

			memset(run, 'r', sizeof(run));
			snprintf(num, sizeof(num), "BDAT %zu LAST\r\n", lc);
			CATS(big_in, &li, HDR);
			CATS(big_in, &li, num);
			CATS(big_in, &li, "X: y\r\n\r\n");
			cat(big_in, &li, run, pos);
			cat(big_in, &li, nul ? "\0bc\r\nz" : "abc\r\nz", 6);
			CATS(big_in, &li, "NOOP\r\n");
			CATS(big_data, &ld, TRACE1("MSG1") "X: y\n\n");
			cat(big_data, &ld, run, pos);
			CATS(big_data, &ld, "abc\nz");
			if (!whole_is_bytewise(big_in, li))
				bad = 1;
			else if (nul ? strstr(R0.out, E_BARE OK) == NULL :
			         R0.f.datalen != ld || memcmp(R0.f.data, big_data, ld) != 0)
				bad = 2;
		}
	}
	if (!ok(!bad, "BDAT: a NUL around the write buffer's end: refused; else stored whole")) {
		printf("#   at %zu (%d)\n", pos - 1, bad);
		show_diff(&R0, &R1);
	}

	/* a plain run is stored unchanged */
	{
		size_t li = 0, ld = 0, lo = 0;

		CATS(big_in, &li, HDR "DATA\r\nSubject: runs\r\n\r\n");
		CATS(big_data, &ld, TRACE1("MSG1") "Subject: runs\n\n");
		for (pos = 0; pos < 64; pos++) {
			cat(big_in, &li, body, pos);
			CATS(big_in, &li, "\xc3\xb6\t~\x7f\x80\xff\r\n");
			cat(big_data, &ld, body, pos);
			CATS(big_data, &ld, "\xc3\xb6\t~\x7f\x80\xff\n");
		}
		CATS(big_in, &li, ".\r\n");
		CATS(big_out, &lo, HDR_R GO DELIV("MSG1"));
		check_n("lines of every length, 8-bit octets", big_in, li, big_out,
		        big_data, ld, NULL);
	}

	/* the limit at every offset of a 100-octet line */
	bad = 0;
	for (lim = 120; lim < 260 && !bad; lim++) {
		size_t li = 0;
		char line[100];

		reset_params();
		P.max_size = lim;
		memset(line, 'z', sizeof(line));
		CATS(big_in, &li, HDR "DATA\r\nSubject: limit\r\n\r\n");
		cat(big_in, &li, line, sizeof(line));
		CATS(big_in, &li, "\r\n");
		cat(big_in, &li, line, sizeof(line));
		CATS(big_in, &li, "\r\n.\r\nNOOP\r\n");
		if (!whole_is_bytewise(big_in, li))
			bad = (int)lim;
		/* "Subject: limit" CRLF, CRLF, 2 x 102: 222 octets counted */
		if ((strstr(R0.out, E_BIG) != NULL) != (lim < 222))
			bad = (int)lim;
		/* the sink never sees an octet past the limit */
		if (R0.f.datalen > strlen(TRACE1("MSG1")) + lim)
			bad = (int)lim;
	}
	if (!ok(!bad, "size limit at every offset of a run: whole == byte by byte, "
	        "552 iff over, nothing written past it")) {
		printf("#   max_size %d\n", bad);
		show_diff(&R0, &R1);
	}
}

static void t_commands(void)
{
	reset_params();
	/* devices send anything after HELO/EHLO: any argument, or none, goes */
	check("HELO/EHLO: no argument, spaces, _, an IP, an underscore",
	      "HELO\r\nEHLO   \r\nHELO \r\nEHLO _\r\nHELO 192.0.2.7\r\n"
	      "EHLO under_score\r\nHELO a b\r\nEHLO c.example\r\n",
	      GREET HELO_OK EHLO_OK HELO_OK EHLO_OK HELO_OK EHLO_OK HELO_OK EHLO_OK,
	      NULL, "reset  0\nreset  0\nreset  0\nreset  0\nreset  0\nreset  0\n"
	      "reset  0\nreset  0\n");
	check("camera: EHLO localhost, then HELO localhost, then a message",
	      "EHLO localhost\r\nHELO localhost\r\nMAIL FROM:<cam@x.example>\r\n"
	      "RCPT TO:<a@example.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
	      GREET EHLO_OK HELO_OK S_MAIL S_RCPT GO DELIV("MSG1") BYE,
	      TRACE_RCPT("cam@x.example", "localhost", "[192.0.2.1]", "SMTP", "MSG1",
	                 "a@example.org") "x\n", NULL);
	check("UPS: HELO with nothing after the space: Received from unknown",
	      "HELO \r\nMAIL FROM:<ups@x.example>\r\nRCPT TO:<a@example.org>\r\n"
	      "DATA\r\nx\r\n.\r\n",
	      GREET HELO_OK S_MAIL S_RCPT GO DELIV("MSG1"),
	      TRACE_RCPT("ups@x.example", "unknown", "[192.0.2.1]", "SMTP", "MSG1",
	                 "a@example.org") "x\n", NULL);
	check("EHLO with an underscore, then a bare IP: the last one is shown",
	      "EHLO under_score\r\nMAIL FROM:<s@x.example>\r\nEHLO 10.0.0.1\r\n"
	      "MAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\nDATA\r\nx\r\n.\r\n",
	      GREET EHLO_OK S_MAIL EHLO_OK S_MAIL S_RCPT GO DELIV("MSG1"),
	      TRACE_RCPT("s@x.example", "10.0.0.1", "[192.0.2.1]", "ESMTP", "MSG1",
	                 "a@example.org") "x\n", NULL);
	check("a second HELO inside a transaction resets it, as RSET",
	      "EHLO c.example\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\n"
	      "HELO\r\nDATA\r\nRCPT TO:<a@example.org>\r\n",
	      GREET EHLO_OK S_MAIL S_RCPT HELO_OK E_NEEDMAIL E_NEEDMAIL, NULL,
	      "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nreset  0\n");
	check("RSET NOOP VRFY EXPN HELP",
	      "RSET\r\nNOOP\r\nNOOP whatever\r\nVRFY root\r\nVRFY\r\nEXPN staff\r\nHELP\r\n"
	      "HELP MAIL\r\nRSET x\r\nQUIT\r\nNOOP\r\n",
	      GREET OK OK OK VRFY_R E_SYN_VRFY E_NOTIMPL HELP_R HELP_R E_SYNTAX BYE,
	      NULL, "reset  0\n");
	ok(R0.state & SMTP_DEAD, "  dead after QUIT, later input ignored");
	check("unknown commands, empty line",
	      "FOO\r\n\r\nMAILX FROM:<a@b>\r\nEHLO c.example\r\n",
	      GREET E_UNKNOWN E_UNKNOWN E_UNKNOWN EHLO_OK, NULL, NULL);
	check("order: MAIL before EHLO, RCPT before MAIL, DATA before RCPT, nested MAIL",
	      "MAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\nDATA\r\nEHLO c.example\r\n"
	      "RCPT TO:<a@example.org>\r\nDATA\r\nMAIL FROM:<s@x.example>\r\nDATA\r\n"
	      "MAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\nDATA x\r\nQUIT\r\n",
	      GREET E_HELO1st E_HELO1st E_HELO1st EHLO_OK E_NEEDMAIL E_NEEDMAIL S_MAIL
	      E_NEEDRCPT E_NESTED S_RCPT E_SYNTAX BYE, NULL, NULL);
	check("HELO/EHLO and RSET reset the transaction",
	      "EHLO c.example\r\nMAIL FROM:<s@x.example>\r\nEHLO c.example\r\n"
	      "RCPT TO:<a@example.org>\r\nMAIL FROM:<s@x.example>\r\nRSET\r\nRCPT TO:<a@example.org>\r\n",
	      GREET EHLO_OK S_MAIL EHLO_OK E_NEEDMAIL S_MAIL OK E_NEEDMAIL, NULL,
	      "reset  0\nmail s@x.example 0\nreset  0\nmail s@x.example 0\nreset  0\n");

	/* 1000 octets with CRLF is fine, 1001 is too long; bare LF counts 1 */
	{
		size_t li = 0;
		char pad[6000];

		memset(pad, 'x', sizeof(pad));
		CATS(big_in, &li, "NOOP ");
		cat(big_in, &li, pad, 993);
		CATS(big_in, &li, "\r\nNOOP ");
		cat(big_in, &li, pad, 994);
		CATS(big_in, &li, "\r\nNOOP ");
		cat(big_in, &li, pad, 994);
		CATS(big_in, &li, "\nNOOP ");
		cat(big_in, &li, pad, 995);
		CATS(big_in, &li, "\nNOOP ");
		cat(big_in, &li, pad, 5000);
		CATS(big_in, &li, "\r\nNOOP\r\n");
		check("line length limit", big_in, GREET OK E_LONG OK E_LONG E_LONG OK, NULL, NULL);
	}
	check_n("NUL in a command line", "NOOP\0\r\nNO\0OP\r\nNOOP\r\n", 20,
	        GREET E_NUL E_NUL OK, NULL, 0, NULL);
	check("10 errors: 421 4.7.0 and close",
	      "EHLO c.example\r\nA\r\nB\r\nC\r\nD\r\nE\r\nF\r\nG\r\nH\r\n"
	      "RCPT TO:<a@example.org>\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<x@elsewhere.example>\r\n"
	      "NOOP\r\nNOOP\r\n",
	      GREET EHLO_OK E_UNKNOWN E_UNKNOWN E_UNKNOWN E_UNKNOWN E_UNKNOWN E_UNKNOWN
	      E_UNKNOWN E_UNKNOWN E_NEEDMAIL S_MAIL E_RELAY E_ERRS, NULL, NULL);
	ok(R0.state & SMTP_DEAD, "  dead after 421");
	check("9 errors are not enough",
	      "A\r\nB\r\nC\r\nD\r\nE\r\nF\r\nG\r\nH\r\nI\r\nNOOP\r\n",
	      GREET E_UNKNOWN E_UNKNOWN E_UNKNOWN E_UNKNOWN E_UNKNOWN E_UNKNOWN E_UNKNOWN
	      E_UNKNOWN E_UNKNOWN OK, NULL, NULL);
}

static void t_mail_rcpt(void)
{
	reset_params();
	check("MAIL parameters",
	      "EHLO c.example\r\n"
	      "MAIL FROM:<s@x.example> SIZE=65536 BODY=8BITMIME\r\nRSET\r\n"
	      "MAIL FROM:<s@x.example> SIZE=65537\r\n"
	      "MAIL FROM:<s@x.example> size=12x\r\n"
	      "MAIL FROM:<s@x.example> BODY=7bit\r\nRSET\r\n"
	      "MAIL FROM:<s@x.example> BODY=BINARYMIME\r\n"
	      "MAIL FROM:<s@x.example> FOO=bar\r\n"
	      "MAIL FROM:<s@x.example>SIZE=1\r\n"
	      "MAIL FROM:<s@x.example> SMTPUTF8=yes\r\n"
	      "MAIL FROM:<s@x.example>   SIZE=10   \r\n",
	      GREET EHLO_OK S_MAIL OK E_BIG E_SYNTAX S_MAIL OK E_SYNTAX E_PARAM E_SYNTAX
	      E_SYNTAX S_MAIL, NULL, NULL);
	check("MAIL/RCPT: AUTH, RET, ENVID, NOTIFY, ORCPT accepted and ignored",
	      "EHLO c.example\r\n"
	      "MAIL FROM:<alerts@vc.example> SIZE=1459 AUTH=<>\r\nRSET\r\n"
	      "MAIL FROM:<s@x.example> auth=s@x.example ret=HDRS envid=QQ+2Bx\r\n"
	      "RCPT TO:<a@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a@example.org\r\n"
	      "RCPT TO:<b@example.org> orcpt=rfc822;b+40example.org notify=NEVER\r\n"
	      "DATA\r\nx\r\n.\r\n",
	      GREET EHLO_OK S_MAIL OK S_MAIL S_RCPT S_RCPT GO DELIV("MSG1"), NULL,
	      "reset  0\nmail alerts@vc.example 0\nreset  0\nmail s@x.example 0\n"
	      "rcpt a@example.org 0\nrcpt b@example.org 0\nbegin  1\ncommit  0\nreset  0\n");
	check("MAIL/RCPT: each at most once (501 5.5.4, as Postfix), a value needed, "
	      "no RCPT parameter on MAIL nor MAIL one on RCPT",
	      "EHLO c.example\r\n"
	      "MAIL FROM:<s@x.example> AUTH=<> AUTH=<>\r\n"
	      "MAIL FROM:<s@x.example> RET=FULL ret=HDRS\r\n"
	      "MAIL FROM:<s@x.example> ENVID=a ENVID=a\r\n"
	      "MAIL FROM:<s@x.example> AUTH\r\n"
	      "MAIL FROM:<s@x.example> NOTIFY=NEVER\r\n"
	      "MAIL FROM:<s@x.example> ORCPT=rfc822;a@b\r\n"
	      "MAIL FROM:<s@x.example> AUTH=<> RET=FULL ENVID=x SIZE=10 BODY=7BIT SMTPUTF8\r\n",
	      GREET EHLO_OK E_SYNTAX E_SYNTAX E_SYNTAX E_SYNTAX E_PARAM E_PARAM S_MAIL, NULL,
	      "reset  0\nmail s@x.example 1\n");
	check("RCPT: NOTIFY, ORCPT at most once, a value needed, no MAIL parameter",
	      "EHLO c.example\r\nMAIL FROM:<s@x.example>\r\n"
	      "RCPT TO:<a@example.org> NOTIFY=NEVER NOTIFY=NEVER\r\n"
	      "RCPT TO:<a@example.org> ORCPT=a ORCPT=a\r\n"
	      "RCPT TO:<a@example.org> NOTIFY\r\n"
	      "RCPT TO:<a@example.org> AUTH=<>\r\n"
	      "RCPT TO:<a@example.org> RET=FULL\r\n"
	      "RCPT TO:<a@example.org> SIZE=1\r\n"
	      "RCPT TO:<a@example.org> NOTIFY=NEVER ORCPT=rfc822;a@example.org\r\n",
	      GREET EHLO_OK S_MAIL E_SYNTAX E_SYNTAX E_SYNTAX E_PARAM E_PARAM E_PARAM S_RCPT,
	      NULL, "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\n");
	check("MAIL addresses",
	      "EHLO c.example\r\n"
	      "MAIL FROM:s@x.example\r\n"
	      "MAIL FROM:<s@x..example>\r\n"
	      "MAIL TO:<s@x.example>\r\n"
	      "MAIL <s@x.example>\r\n"
	      "MAIL FROM:<j\xc3\xb6rg@x.example>\r\n"
	      "MAIL FROM:<j\xc3\xb6rg@x.example> SMTPUTF8\r\n",
	      GREET EHLO_OK E_ADDR E_ADDR E_SYN_MAIL E_SYN_MAIL E_ADDR S_MAIL, NULL,
	      "reset  0\nmail j\xc3\xb6rg@x.example 1\n");
	check("MAIL sink failures are not client errors",
	      "EHLO c.example\r\nMAIL FROM:<full@x.example>\r\nMAIL FROM:<temp@x.example>\r\n"
	      "MAIL FROM:<full@x.example>\r\nMAIL FROM:<temp@x.example>\r\n"
	      "MAIL FROM:<full@x.example>\r\nMAIL FROM:<temp@x.example>\r\n"
	      "MAIL FROM:<full@x.example>\r\nMAIL FROM:<temp@x.example>\r\n"
	      "MAIL FROM:<full@x.example>\r\nMAIL FROM:<temp@x.example>\r\nNOOP\r\n",
	      GREET EHLO_OK E_NOSPACE E_TEMP E_NOSPACE E_TEMP E_NOSPACE E_TEMP E_NOSPACE E_TEMP
	      E_NOSPACE E_TEMP OK, NULL, NULL);
	check("RCPT answers",
	      "EHLO c.example\r\nMAIL FROM:<s@x.example>\r\n"
	      "RCPT TO:<a@example.org>\r\n"
	      "RCPT TO:<unknown1@example.org>\r\n"
	      "RCPT TO:<a@elsewhere.example>\r\n"
	      "RCPT TO:<full@example.org>\r\n"
	      "RCPT TO:<temp@example.org>\r\n"
	      "RCPT TO:<postmaster>\r\n"
	      "RCPT TO:<Postmaster@example.org>\r\n"
	      "RCPT TO:<a@example.org> NOTIFY=NEVER\r\n"
	      "RCPT TO:<a@example.org>NOTIFY=NEVER\r\n"
	      "RCPT TO:a@example.org\r\n"
	      "RCPT FROM:<a@example.org>\r\n"
	      "RCPT TO:<j\xc3\xb6rg@example.org>\r\n",
	      GREET EHLO_OK S_MAIL S_RCPT E_USER E_RELAY E_NOSPACE E_TEMP S_RCPT S_RCPT
	      S_RCPT E_SYNTAX E_ADDR E_SYN_RCPT E_ADDR, NULL,
	      "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nrcpt unknown1@example.org 0\n"
	      "rcpt a@elsewhere.example 0\nrcpt full@example.org 0\nrcpt temp@example.org 0\n"
	      "rcpt postmaster 1\nrcpt Postmaster@example.org 0\nrcpt a@example.org 0\n");

	/* max-recipients: 452 4.5.3, which is not an error (RFC 5321 4.5.3.1.10) */
	{
		size_t li = 0, lo = 0;
		int k;

		reset_params();
		P.max_rcpt = 3;
		CATS(big_in, &li, "EHLO c.example\r\nMAIL FROM:<s@x.example>\r\n");
		CATS(big_out, &lo, GREET EHLO_OK S_MAIL);
		for (k = 0; k < 15; k++) {
			CATS(big_in, &li, "RCPT TO:<a@example.org>\r\n");
			CATS(big_out, &lo, k < 3 ? S_RCPT : E_MANY);
		}
		CATS(big_in, &li, "DATA\r\nx\r\n.\r\n");
		CATS(big_out, &lo, GO DELIV("MSG1"));
		check("max recipients", big_in, big_out,
		      TRACE_N("s@x.example", "c.example", "[192.0.2.1]", "ESMTP", "MSG1") "x\n", NULL);
	}
}

/* A byte sequence, printable, for test names. */
static const char *show_seq(const char *p, size_t n)
{
	static char out[64];
	size_t j = 0, i;

	for (i = 0; i < n && j < sizeof(out) - 3; i++) {
		char c = p[i];

		if (c == '\r' || c == '\n' || c == 0) {
			out[j++] = '\\';
			out[j++] = c == '\r' ? 'r' : c == '\n' ? 'n' : '0';
		} else {
			out[j++] = c;
		}
	}
	out[j] = 0;
	return out;
}

/* SMTP smuggling: end-of-data look-alikes with a bare CR, a bare LF or a
 * NUL, and lines that only look like one (RFC 5321 4.1.1.4: CRLF.CRLF alone
 * ends the data). */
static void t_smuggling(void)
{
	static const struct {
		const char *seq;
		size_t len;
		int lf_only;       /* bare LFs only: refused only under strict-crlf */
		const char *why;
	} seqs[] = {
		{ "\n.\n", 3, 1, "bare_lf" },
		{ "\n.\r", 3, 0, "bare_lf" },
		{ "\r.\n", 3, 0, "bare_cr" },
		{ "\r.\r", 3, 0, "bare_cr" },
		{ "\n.\r\n", 4, 1, "bare_lf" },
		{ "\r\n.\n", 4, 1, "bare_lf" },
		{ "\r.\r\n", 4, 0, "bare_cr" },
		{ "\r\n.\r", 4, 0, "bare_cr" },
		{ "\r\n\0.\r\n", 6, 0, "nul" },
		{ "\r\n.\0\r\n", 6, 0, "nul" },
		{ "\n\n.\r\n", 5, 1, "bare_lf" },
		{ "\r\n.\r\r\n", 6, 0, "bare_cr" },
		{ "\r\n..\r\n", 6, 2, "none" },
		{ "\r\n .\r\n", 6, 2, "none" },
	};
	size_t i;
	int strict;

	for (strict = 0; strict < 2; strict++) {
		for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
			size_t li = 0, lo = 0;
			char name[100], log[300];
			int accepted = seqs[i].lf_only == 2 || (!strict && seqs[i].lf_only);
			const char *tail = "RSET\r\nMAIL FROM:<x@y.example>\r\nQUIT\r\n";
			/* by default (no strict-crlf), the first error is the bare CR */
			const char *why = !strict && strcmp(seqs[i].why, "bare_lf") == 0 ?
			                  "bare_cr" : seqs[i].why;

			reset_params();
			P.strict_crlf = (uint8_t)strict;
			CATS(big_in, &li, HDR "DATA\r\nSubject: t\r\n\r\nbody");
			cat(big_in, &li, seqs[i].seq, seqs[i].len);
			CATS(big_in, &li, tail);
			CATS(big_in, &li, "more\r\n.\r\nNOOP\r\nRSET\r\nMAIL FROM:<s@x.example>\r\n");
			CATS(big_out, &lo, HDR_R GO);
			CATS(big_out, &lo, accepted ? DELIV("MSG1") : E_BARE);
			CATS(big_out, &lo, OK OK S_MAIL);
			snprintf(name, sizeof(name), "DATA %s%s not an end",
			         strict ? "(strict-crlf) " : "", show_seq(seqs[i].seq, seqs[i].len));
			if (accepted)
				snprintf(log, sizeof(log),
				         "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  1\n"
				         "commit  0\nreset  0\nreset  0\nmail s@x.example 0\n");
			else
				snprintf(log, sizeof(log),
				         "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  1\n"
				         "abort %s %s\nreset  0\nreset  0\nmail s@x.example 0\n",
				         why, "%");
			/* the abort size varies: compare the log only up to it */
			check_n(name, big_in, li, big_out, NULL, 0, NULL);
			if (accepted) {
				is_mem(R0.f.log, R0.f.loglen, log, strlen(log), "  sink calls");
				ok(R0.f.datalen > 0 && memmem(R0.f.data, R0.f.datalen,
				   "RSET\nMAIL FROM:<x@y.example>\nQUIT\nmore\n", 39) != NULL,
				   "  what followed is message text");
			} else {
				char *pct = strchr(log, '%');

				ok(R0.f.loglen > (size_t)(pct - log) &&
				   memcmp(R0.f.log, log, (size_t)(pct - log)) == 0 &&
				   strstr(R0.f.log, "\nreset  0\nreset  0\nmail s@x.example 0\n"),
				   "  sink calls: abort %s", why);
			}
		}
	}
}

/* Bare LF: a line end by default (as Postfix 3.9), refused with
 * strict-crlf; CRLF.CRLF alone ends DATA either way (t_smuggling). */
static void t_bare_lf(void)
{
	reset_params();
	check("bare LF by default: LF lines stored, dot-unstuffed, counted as CRLF",
	      HDR "DATA\r\nSubject: t\n\nline\n..dots\n.\r\nstill\r\n.\r\n",
	      HDR_R GO DELIV("MSG1"),
	      TRACE1("MSG1") "Subject: t\n\nline\n.dots\n\nstill\n", NULL);
	P.max_size = 10;
	check("bare LF by default: a bare LF counts 2 octets",
	      HDR "DATA\r\n1234\n12\r\n.\r\n"
	      "MAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\nDATA\r\n1234\n123\r\n.\r\n",
	      HDR_R_SIZE("10") GO DELIV("MSG1") S_MAIL S_RCPT GO E_BIG, NULL, NULL);
	reset_params();
	check("bare LF by default: an LF-only message (curl -T) stored, LF.LF is no end",
	      HDR "DATA\nSubject: t\n\nline\n.\nstill\n\r\n.\r\nNOOP\n",
	      HDR_R GO DELIV("MSG1") OK,
	      TRACE1("MSG1") "Subject: t\n\nline\n\nstill\n\n", NULL);
	P.strict_crlf = 1;
	check("strict-crlf: 550 5.6.0, then the session goes on",
	      HDR "DATA\r\nSubject: t\n\nline\r\n.\r\n" HDR "DATA\r\nok\r\n.\r\n",
	      HDR_R GO E_BARE EHLO_OK S_MAIL S_RCPT GO DELIV("MSG2"), NULL,
	      "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  1\n"
	      "abort bare_lf 16\nreset  0\nreset  0\nmail s@x.example 0\nrcpt a@example.org 0\n"
	      "begin  2\ncommit  0\nreset  0\n");
}

static void t_size(void)
{
	size_t li = 0, lo = 0;
	char line[300];

	reset_params();
	P.max_size = 200;
	/* 198 + CRLF = 200 octets: fits; 199 + CRLF: too big.  Stuffing
	 * dots are not counted. */
	memset(line, 'x', sizeof(line));
	CATS(big_in, &li, HDR "DATA\r\n..");
	cat(big_in, &li, line, 197);
	CATS(big_in, &li, "\r\n.\r\n");
	CATS(big_in, &li, HDR "DATA\r\n");
	cat(big_in, &li, line, 199);
	CATS(big_in, &li, "\r\nRSET\r\n.\r\nNOOP\r\n");
	CATS(big_out, &lo, HDR_R_SIZE("200") GO DELIV("MSG1") EHLO_R("200", "") S_MAIL S_RCPT
	     GO E_BIG OK);
	check("DATA size limit", big_in, big_out, NULL,
	      "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  1\ncommit  0\n"
	      "reset  0\nreset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  2\n"
	      "abort size 207\nreset  0\n");
	{
		size_t ld = 0;

		CATS(big_data, &ld, TRACE1("MSG1") ".");
		cat(big_data, &ld, line, 197);
		CATS(big_data, &ld, "\n");
		ok(R0.f.datalen >= ld && memcmp(R0.f.data, big_data, ld) == 0,
		   "  the message at the limit is stored whole");
	}
}

static void t_size_bdat(void)
{
	size_t li = 0, lo = 0;
	char pad[300];

	memset(pad, 'y', sizeof(pad));
	reset_params();
	P.max_size = 200;
	CATS(big_in, &li, HDR "BDAT 150\r\n");
	cat(big_in, &li, pad, 150);
	CATS(big_in, &li, "BDAT 50 LAST\r\n");
	cat(big_in, &li, pad, 50);
	CATS(big_in, &li, HDR "BDAT 150\r\n");
	cat(big_in, &li, pad, 150);
	CATS(big_in, &li, "BDAT 51\r\n");
	cat(big_in, &li, pad, 51);
	CATS(big_in, &li, "BDAT 12\r\nQUIT\r\nRSET\r\n");
	CATS(big_in, &li, "BDAT 6 LAST\r\nQUIT\r\n");
	CATS(big_in, &li, "MAIL FROM:<s@x.example>\r\n");
	CATS(big_out, &lo, HDR_R_SIZE("200") CHUNK("150") DELIV("MSG1") EHLO_R("200", "") S_MAIL S_RCPT
	     CHUNK("150") E_BIG E_BIG E_BIG S_MAIL);
	check("BDAT size limit; later chunks read and answered 552 too", big_in, big_out, NULL,
	      "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  1\ncommit  0\n"
	      "reset  0\nreset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  2\n"
	      "abort size 150\nreset  0\nmail s@x.example 0\n");
	check("MAIL SIZE= over the limit", "EHLO c.example\r\nMAIL FROM:<s@x.example> SIZE=201\r\n",
	      GREET EHLO_R("200", "") E_BIG, NULL, NULL);
}

static void t_loop(void)
{
	int n;

	for (n = 100; n <= 101; n++) {
		size_t li = 0, lo = 0, ld = 0;
		int k;
		char name[64];

		reset_params();
		CATS(big_in, &li, HDR "DATA\r\n");
		CATS(big_data, &ld, TRACE1("MSG1"));
		for (k = 0; k < n; k++) {
			const char *h = k % 3 == 0 ? "Received: from a by b; x\r\n\tfolded\r\n" :
			                k % 3 == 1 ? "RECEIVED : from a\r\n" : "received:x\r\n";

			CATS(big_in, &li, h);
			CATS(big_data, &ld, k % 3 == 0 ? "Received: from a by b; x\n\tfolded\n" :
			                     k % 3 == 1 ? "RECEIVED : from a\n" : "received:x\n");
		}
		CATS(big_in, &li, "X-Received: no\r\nReceivedx: no\r\n\r\nReceived: body\r\n.\r\n");
		CATS(big_data, &ld, "X-Received: no\nReceivedx: no\n\nReceived: body\n");
		CATS(big_out, &lo, HDR_R GO);
		CATS(big_out, &lo, n == 100 ? DELIV("MSG1") : E_LOOP);
		snprintf(name, sizeof(name), "%d Received: fields", n);
		check_n(name, big_in, li, big_out, n == 100 ? big_data : NULL, ld, NULL);
		if (n == 101)
			ok(strstr(R0.f.log, "abort loop") != NULL, "  abort(loop)");
	}
	/* BDAT too, across chunks */
	{
		size_t li = 0, lo = 0;
		int k;

		reset_params();
		CATS(big_in, &li, HDR);
		CATS(big_out, &lo, HDR_R);
		for (k = 0; k < 101; k++) {
			/* "Received: x\r\n" (13 octets) split 5 + 8 over two chunks */
			CATS(big_in, &li, "BDAT 5\r\nRecei");
			CATS(big_in, &li, "BDAT 8\r\nved: x\r\n");
			CATS(big_out, &lo, k < 100 ? CHUNK("5") CHUNK("8") : CHUNK("5") E_LOOP);
		}
		CATS(big_in, &li, "BDAT 0 LAST\r\n");
		CATS(big_out, &lo, E_LOOP);
		check("101 Received: in BDAT chunks", big_in, big_out, NULL, NULL);
	}
}

static void t_bdat(void)
{
	reset_params();
	{
		static const char in[] = HDR "BDAT 11\r\nSubject: a\r" "BDAT 8\r\n\nb\nc\rd\r\n"
		                         "bDaT 4 last\r\n\re\r\r" "NOOP\r\n";
		static const char want[] = TRACE1("MSG1") "Subject: a\nb\nc\rd\n\re\r\r";

		check_n("BDAT chunks: CRLF to LF, CR split across chunks, bare LF/CR kept",
		        in, sizeof(in) - 1, HDR_R CHUNK("11") CHUNK("8") DELIV("MSG1") OK,
		        want, sizeof(want) - 1, NULL);
	}
	{
		/* a NUL refuses the message after the LAST chunk, as in DATA:
		 * in the body, in the headers, after a CR that ended a chunk */
		static const char in[] = HDR "BDAT 14\r\nSubject: a\r\n\r\n" "BDAT 5\r\nb\0c\r\n"
		                         "BDAT 5\r\nQUIT\r" "BDAT 0 LAST\r\n" "NOOP\r\n"
		                         "MAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\n"
		                         "BDAT 6\r\nX: \0\r\n" "BDAT 4 LAST\r\n\r\nb\n"
		                         "MAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\n"
		                         "BDAT 2\r\nb\r" "BDAT 2 LAST\r\n\0\n"
		                         "MAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\n"
		                         "BDAT 2 LAST\r\nok";

		check_n("BDAT: a NUL anywhere refuses the message with 550 5.6.0 after LAST",
		        in, sizeof(in) - 1,
		        HDR_R CHUNK("14") CHUNK("5") CHUNK("5") E_BARE OK
		        S_MAIL S_RCPT CHUNK("6") E_BARE S_MAIL S_RCPT CHUNK("2") E_BARE
		        S_MAIL S_RCPT DELIV("MSG4"), NULL, 0,
		        "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  1\n"
		        "abort nul 24\nreset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  2\n"
		        "abort nul 10\nreset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  3\n"
		        "abort nul 4\nreset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  4\n"
		        "commit  0\nreset  0\n");
		is_mem(R0.f.data + R0.f.datalen - 2, 2, "ok", 2, "  the message after them is stored");
	}
	check("BDAT 0 LAST, pipelined with the whole transaction",
	      HDR "BDAT 0 LAST\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\n"
	      "BDAT 3 LAST\r\nx\r\nQUIT\r\n",
	      HDR_R DELIV("MSG1") S_MAIL S_RCPT DELIV("MSG2") BYE,
	      TRACE1("MSG1") TRACE1("MSG2") "x\n", NULL);
	check("BDAT content that looks like commands is never executed",
	      HDR "BDAT 27\r\nQUIT\r\nRSET\r\nDATA\r\n.\r\nNOOP\r\n" "BDAT 12 LAST\r\nQUIT\r\nNOOP\r\nNOOP\r\n",
	      HDR_R CHUNK("27") DELIV("MSG1") OK,
	      TRACE1("MSG1") "QUIT\nRSET\nDATA\n.\nNOOP\nQUIT\nNOOP\n", NULL);
	check("BDAT without a transaction: read, dropped, 503",
	      "EHLO c.example\r\nBDAT 6\r\nQUIT\r\nMAIL FROM:<s@x.example>\r\nBDAT 6 LAST\r\nQUIT\r\n"
	      "RCPT TO:<a@elsewhere.example>\r\nBDAT 6\r\nQUIT\r\nNOOP\r\n",
	      GREET EHLO_OK E_NEEDMAIL S_MAIL E_NEEDRCPT E_RELAY E_NEEDRCPT OK, NULL, NULL);
	check("BDAT before EHLO: read, dropped, 503",
	      "BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n", GREET E_HELO1st OK, NULL, NULL);
	check("BDAT bad syntax: 501, nothing consumed",
	      HDR "BDAT x\r\nNOOP\r\nBDAT 5 LAST junk\r\nNOOP\r\nBDAT -1\r\nBDAT\r\n"
	      "BDAT 99999999999999999999999\r\nNOOP\r\n",
	      HDR_R E_SYN_BDAT OK E_SYN_BDAT OK E_SYN_BDAT E_SYN_BDAT E_SYN_BDAT OK, NULL, NULL);
	check("DATA after BDAT, MAIL/RCPT between chunks: 503",
	      HDR "BDAT 2\r\nab" "DATA\r\nRCPT TO:<b@example.org>\r\nMAIL FROM:<s@x.example>\r\n"
	      "BDAT 2 LAST\r\ncd" "BDAT 2 LAST\r\nef",
	      HDR_R CHUNK("2") E_MIX E_SEQ E_SEQ DELIV("MSG1") E_NEEDMAIL,
	      TRACE1("MSG1") "abcd", NULL);
	check("RSET between chunks aborts the message",
	      HDR "BDAT 2\r\nabRSET\r\nBDAT 1 LAST\r\nx",
	      HDR_R CHUNK("2") OK E_NEEDMAIL, NULL,
	      "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  1\n"
	      "abort aborted 2\nreset  0\n");
	check("BDAT with a 2-recipient Received header",
	      "EHLO c.example\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\n"
	      "RCPT TO:<b@example.org>\r\nBDAT 1 LAST\r\nz",
	      GREET EHLO_OK S_MAIL S_RCPT S_RCPT DELIV("MSG1"),
	      TRACE_N("s@x.example", "c.example", "[192.0.2.1]", "ESMTP", "MSG1") "z", NULL);
}

static void t_store_failures(void)
{
	reset_params();
	fake_cfg.begin_res = SINK_TEMP;
	check("begin fails: 451, DATA not entered",
	      HDR "DATA\r\nNOOP\r\nBDAT 4\r\nNOOPBDAT 2 LAST\r\nxxNOOP\r\n",
	      HDR_R E_TEMP OK E_TEMP E_TEMP OK, NULL, NULL);
	fake_cfg.begin_res = SINK_NOSPACE;
	check("begin fails: 452", HDR "DATA\r\n", HDR_R E_NOSPACE, NULL, NULL);

	reset_params();
	fake_cfg.write_fail_at = 200;
	fake_cfg.write_fail_res = SINK_NOSPACE;
	{
		size_t li = 0;
		int k;

		CATS(big_in, &li, HDR "DATA\r\n");
		for (k = 0; k < 100; k++)
			CATS(big_in, &li, "a line of text\r\n");
		CATS(big_in, &li, ".\r\nNOOP\r\n");
		check("write fails: keep reading, 452 at the end", big_in,
		      HDR_R GO E_NOSPACE OK, NULL, NULL);
		ok(strstr(R0.f.log, "abort store 1600\n") != NULL, "  abort(store) with the size");
		fake_cfg.write_fail_res = SINK_TEMP;
		check("write fails: 451", big_in, HDR_R GO E_TEMP OK, NULL, NULL);
		fake_cfg.write_fail_at = 10;    /* the trace headers already fail */
		check("trace header write fails: 451", big_in, HDR_R GO E_TEMP OK, NULL, NULL);
	}

	reset_params();
	fake_cfg.commit_done_res = SINK_TEMP;
	check("commit done TEMP", HDR "DATA\r\nx\r\n.\r\n", HDR_R GO E_TEMP, NULL, NULL);
	fake_cfg.commit_done_res = SINK_NOSPACE;
	check("commit done NOSPACE", HDR "DATA\r\nx\r\n.\r\n", HDR_R GO E_NOSPACE, NULL, NULL);
	fake_cfg.commit_done_res = SINK_PERM;
	check("commit done PERM", HDR "BDAT 1 LAST\r\nx", HDR_R E_PERM, NULL, NULL);
	reset_params();
	fake_cfg.commit_res = SINK_TEMP;
	check("commit fails at once", HDR "DATA\r\nx\r\n.\r\nNOOP\r\n", HDR_R GO E_TEMP OK, NULL,
	      "reset  0\nmail s@x.example 0\nrcpt a@example.org 0\nbegin  1\ncommit  0\nreset  0\n");
	fake_cfg.commit_res = SINK_OK;
	check("commit OK at once", HDR "DATA\r\nx\r\n.\r\nNOOP\r\n", HDR_R GO DELIV("MSG1") OK,
	      NULL, NULL);
	/* sink failures never count as client errors */
	reset_params();
	fake_cfg.commit_res = SINK_TEMP;
	{
		size_t li = 0, lo = 0;
		int k;

		CATS(big_in, &li, "EHLO c.example\r\n");
		CATS(big_out, &lo, GREET EHLO_OK);
		for (k = 0; k < 12; k++) {
			CATS(big_in, &li, "MAIL FROM:<s@x.example>\r\nRCPT TO:<temp@example.org>\r\n"
			     "RCPT TO:<a@example.org>\r\nDATA\r\n.\r\n");
			CATS(big_out, &lo, S_MAIL E_TEMP S_RCPT GO E_TEMP);
		}
		check("24 temporary failures do not close", big_in, big_out, NULL, NULL);
	}
}

/* Feeds without the runner: exact control of time and output. */
static void feed_now(const char *p)
{
	size_t n = strlen(p);

	while (n) {
		size_t len, k;
		uint8_t *b = smtp_recv_buf(&S, &len);

		if (!len)
			break;
		k = n < len ? n : len;
		memcpy(b, p, k);
		smtp_recv_ack(&S, k);
		p += k;
		n -= k;
	}
}

static void t_timeouts(void)
{
	reset_params();
	start(&R0);
	is_int(smtp_deadline(&S), T0 + 301, "idle deadline: more than 300 whole seconds");
	smtp_tick(&S, T0 + 299, WALL);
	drain(&R0);
	is_str(R0.out, GREET, "no timeout at 299 s");
	smtp_tick(&S, T0 + 300, WALL);
	drain(&R0);
	is_str(R0.out, GREET, "no timeout at 300 s: the start may lie a second back");
	smtp_tick(&S, T0 + 301, WALL);
	drain(&R0);
	is_str(R0.out, GREET E_TIMEOUT, "idle timeout: 421 4.4.2");
	ok(smtp_state(&S) & SMTP_DEAD, "  and closed");

	/* replies move the idle deadline */
	start(&R0);
	smtp_tick(&S, T0 + 200, WALL);
	feed_now("NOOP\r\n");
	drain(&R0);
	is_int(smtp_deadline(&S), T0 + 501, "a reply restarts the idle time");

	/* a trickled command line does not extend its time */
	start(&R0);
	smtp_tick(&S, T0 + 10, WALL);
	feed_now("N");
	is_int(smtp_deadline(&S), T0 + 311, "line deadline from its first byte");
	smtp_tick(&S, T0 + 110, WALL);
	feed_now("O");
	smtp_tick(&S, T0 + 210, WALL);
	feed_now("O");
	smtp_tick(&S, T0 + 309, WALL);
	feed_now("P");
	drain(&R0);
	ok(!(smtp_state(&S) & SMTP_CLOSE), "trickle: still open at 309");
	smtp_tick(&S, T0 + 311, WALL);
	drain(&R0);
	is_str(R0.out, GREET E_TIMEOUT, "trickle: 421 at first byte + timeout");

	/* DATA with no octet arriving: timeout, not 10 x timeout */
	start(&R0);
	feed_now(HDR "DATA\r\n");
	drain(&R0);
	is_int(smtp_deadline(&S), T0 + 301, "DATA idle deadline: timeout");
	smtp_tick(&S, T0 + 300, WALL);
	ok(!(smtp_state(&S) & SMTP_CLOSE), "DATA idle: still open at 300 s");
	smtp_tick(&S, T0 + 301, WALL);
	drain(&R0);
	is_str(R0.out, HDR_R GO E_TIMEOUT, "DATA idle: 421 4.4.2");
	ok(strstr(R0.f.log, "abort aborted ") != NULL, "  message aborted");
	ok(smtp_state(&S) & SMTP_DEAD, "  closed");

	/* ... and idle after some text: timeout from the last octet */
	start(&R0);
	feed_now(HDR "DATA\r\n");
	smtp_tick(&S, T0 + 250, WALL);
	feed_now("Subject: x\r\n\r\nhalf a li");
	drain(&R0);
	is_int(smtp_deadline(&S), T0 + 551, "DATA: an octet restarts the idle time");
	smtp_tick(&S, T0 + 550, WALL);
	ok(!(smtp_state(&S) & SMTP_CLOSE), "  still open at 550 s");
	smtp_tick(&S, T0 + 551, WALL);
	drain(&R0);
	is_str(R0.out, HDR_R GO E_TIMEOUT, "  421 4.4.2 at the last octet + timeout");

	/* DATA gets 10 x timeout in all, then aborts the message */
	start(&R0);
	feed_now(HDR "DATA\r\n");
	drain(&R0);
	for (int k = 1; k < 30; k++) {
		smtp_tick(&S, T0 + k * 100, WALL);
		feed_now("x\r\n");
	}
	is_int(smtp_deadline(&S), T0 + 3001, "DATA deadline: the earlier, 10 x timeout");
	smtp_tick(&S, T0 + 2999, WALL);
	drain(&R0);
	ok(!(smtp_state(&S) & SMTP_CLOSE), "DATA: still open at 2999 s");
	smtp_tick(&S, T0 + 3001, WALL);
	drain(&R0);
	is_str(R0.out, HDR_R GO E_TIMEOUT, "DATA timeout: 421 4.4.2");
	ok(strstr(R0.f.log, "abort aborted ") != NULL, "  message aborted");
	ok(smtp_state(&S) & SMTP_DEAD, "  closed");

	/* one BDAT chunk: idle timeout inside it, from its command or its
	 * last octet */
	start(&R0);
	smtp_tick(&S, T0 + 200, WALL);
	feed_now(HDR "BDAT 100000\r\n");
	drain(&R0);
	is_int(smtp_deadline(&S), T0 + 501, "BDAT idle deadline: timeout from the command");
	smtp_tick(&S, T0 + 500, WALL);
	ok(!(smtp_state(&S) & SMTP_CLOSE), "BDAT idle: still open at 500 s");
	smtp_tick(&S, T0 + 501, WALL);
	drain(&R0);
	is_str(R0.out, HDR_R E_TIMEOUT, "BDAT idle: 421 4.4.2");
	ok(strstr(R0.f.log, "abort aborted ") != NULL, "  message aborted");
	start(&R0);
	feed_now(HDR "BDAT 10\r\nabc");
	smtp_tick(&S, T0 + 100, WALL);
	feed_now("d");
	is_int(smtp_deadline(&S), T0 + 401, "BDAT: an octet restarts the idle time");
	smtp_tick(&S, T0 + 401, WALL);
	drain(&R0);
	is_str(R0.out, HDR_R E_TIMEOUT, "  421 4.4.2 at the last octet + timeout");

	/* one BDAT chunk: 10 x timeout in all from its command */
	start(&R0);
	feed_now(HDR "BDAT 1000\r\nabc");
	for (int k = 1; k < 30; k++) {
		smtp_tick(&S, T0 + k * 100, WALL);
		feed_now("x");
	}
	is_int(smtp_deadline(&S), T0 + 3001, "BDAT deadline: the earlier, 10 x timeout");
	smtp_tick(&S, T0 + 2999, WALL);
	drain(&R0);
	ok(!(smtp_state(&S) & SMTP_CLOSE), "BDAT: still open at 2999 s");
	smtp_tick(&S, T0 + 3001, WALL);
	drain(&R0);
	is_str(R0.out, HDR_R E_TIMEOUT, "BDAT chunk timeout");

	/* a discarded chunk (no transaction) is timed the same way */
	start(&R0);
	feed_now("BDAT 100000\r\nabc");
	drain(&R0);
	is_int(smtp_deadline(&S), T0 + 301, "BDAT before HELO: idle deadline timeout");
	smtp_tick(&S, T0 + 301, WALL);
	drain(&R0);
	is_str(R0.out, GREET E_TIMEOUT, "  421 4.4.2");

	/* no timeout while committing */
	start(&R0);
	feed_now(HDR "DATA\r\nx\r\n.\r\n");
	{
		size_t len;

		smtp_send_buf(&S, &len);
		smtp_send_ack(&S, len);
	}
	R0.outlen = 0;
	ok(smtp_state(&S) & SMTP_COMMITTING, "committing");
	is_int(smtp_deadline(&S), INT64_MAX, "  no deadline");
	smtp_tick(&S, T0 + 100000, WALL);
	ok(!(smtp_state(&S) & SMTP_CLOSE), "  no timeout");
	smtp_commit_done(&S, SINK_OK);
	drain(&R0);
	is_str(R0.out, DELIV("MSG1"), "  then 250");

	/* a client that never reads its 421 is dropped after another timeout */
	start(&R0);
	smtp_tick(&S, T0 + 301, WALL);
	ok((smtp_state(&S) & (SMTP_CLOSE | SMTP_DEAD)) == SMTP_CLOSE, "421 queued, not sent");
	is_int(smtp_deadline(&S), T0 + 602, "  drop deadline");
	smtp_tick(&S, T0 + 602, WALL);
	ok(smtp_state(&S) & SMTP_DEAD, "  dropped");

	/* refused sessions end after 30 s */
	reset_params();
	P.refused = 1;
	start(&R0);
	is_int(smtp_deadline(&S), T0 + 31, "refused: deadline 30 s");
	smtp_tick(&S, T0 + 31, WALL);
	drain(&R0);
	is_str(R0.out, "554 5.7.1 " HOST " access denied\r\n421 4.7.0 " HOST " closing connection\r\n",
	       "refused: 421 after 30 s");

	/* ... also while it trickles a huge BDAT chunk */
	start(&R0);
	feed_now("BDAT 100000000\r\n");
	for (int k = 1; k <= 30; k++) {
		smtp_tick(&S, T0 + k, WALL);
		feed_now("x");
	}
	is_int(smtp_deadline(&S), T0 + 31, "refused, in a BDAT chunk: deadline 30 s");
	drain(&R0);
	ok(!(smtp_state(&S) & SMTP_CLOSE), "  still open at 30 s");
	smtp_tick(&S, T0 + 31, WALL);
	feed_now("x");
	drain(&R0);
	is_str(R0.out, "554 5.7.1 " HOST " access denied\r\n421 4.7.0 " HOST " closing connection\r\n",
	       "  421 4.7.0 after 30 s, the chunk unanswered");
	ok(smtp_state(&S) & SMTP_DEAD, "  closed");
}

/* Nothing after the end of data is read until the store has answered. */
static void t_commit_wait(void)
{
	size_t len;

	reset_params();
	start(&R0);
	R0.outlen = 0;
	feed_now(HDR "DATA\r\nx\r\n.\r\nNOOP\r\nQUIT\r\n");
	smtp_send_buf(&S, &len);
	smtp_send_ack(&S, len);
	ok(smtp_state(&S) & SMTP_COMMITTING, "commit pending");
	ok(!(smtp_state(&S) & SMTP_WANT_SEND), "  no reply to the pipelined NOOP yet");
	ok(S.in_end - S.in_start == 12, "  NOOP and QUIT wait in the input");
	{
		/* like BearSSL's *_buf calls: asking for the buffer changes
		 * nothing, and all the free space is offered at once */
		static struct smtp_session before;
		uint8_t *p;

		memcpy(&before, &S, sizeof(S));
		p = smtp_recv_buf(&S, &len);
		ok(memcmp(&before, &S, sizeof(S)) == 0, "  recv_buf changes nothing");
		ok(p == S.in + 12 && len == sizeof(S.in) - 12,
		   "  and offers all the space after what waits");
	}
	smtp_commit_done(&S, SINK_OK);
	drain(&R0);
	is_str(R0.out, DELIV("MSG1") OK BYE, "  then 250, NOOP, QUIT in order");
	smtp_commit_done(&S, SINK_OK);
	ok(smtp_state(&S) & SMTP_DEAD, "  a stray commit_done is ignored");

	/* a forced shutdown while committing */
	start(&R0);
	R0.outlen = 0;
	feed_now(HDR "DATA\r\nx\r\n.\r\n");
	smtp_send_buf(&S, &len);
	smtp_send_ack(&S, len);
	is_int(smtp_shutdown(&S, 0), 1, "shutdown while committing: wait");
	is_int(smtp_shutdown(&S, 1), 0, "forced");
	smtp_commit_done(&S, SINK_OK);
	drain(&R0);
	is_str(R0.out, E_SHUT, "  421, no abort after commit");
	ok(strstr(R0.f.log, "abort") == NULL, "  (no abort call)");

	/* ... with input waiting: the shutdown itself drops it */
	start(&R0);
	R0.outlen = 0;
	feed_now(HDR "DATA\r\nx\r\n.\r\nNOOP\r\n");
	smtp_send_buf(&S, &len);
	smtp_send_ack(&S, len);
	is_int(smtp_shutdown(&S, 1), 0, "forced shutdown with input waiting");
	smtp_recv_buf(&S, &len);
	ok(len == sizeof(S.in), "  the waiting input is dropped: all the space is free");
	smtp_commit_done(&S, SINK_OK);
	drain(&R0);
	is_str(R0.out, E_SHUT, "  421 only: the NOOP is never run");
}

static void t_refused(void)
{
	reset_params();
	P.refused = 1;
	check("refused: 503 to all but QUIT",
	      "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nBDAT 4\r\nQUITNOOP\r\nQUIT\r\nNOOP\r\n",
	      "554 5.7.1 " HOST " access denied\r\n" E_DENIED E_DENIED E_DENIED E_DENIED BYE,
	      NULL, "");
	check("refused: 10 commands, then 421",
	      "A\r\nB\r\nC\r\nD\r\nE\r\nF\r\nG\r\nH\r\nI\r\nJ\r\nK\r\nQUIT\r\n",
	      "554 5.7.1 " HOST " access denied\r\n" E_DENIED E_DENIED E_DENIED E_DENIED
	      E_DENIED E_DENIED E_DENIED E_DENIED E_DENIED E_DENIED
	      "421 4.7.0 " HOST " closing connection\r\n", NULL, "");
	ok(R0.state & SMTP_DEAD, "  closed");
	check("refused: BDAT's chunk read and dropped, still refused after it",
	      "BDAT 6\r\nQUIT\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<a@example.org>\r\n"
	      "BDAT 13 LAST\r\nEHLO c.example"
	      "RCPT TO:<a@example.org>\r\nBDAT 0 LAST\r\nDATA\r\nBDAT x\r\nQUIT\r\n",
	      "554 5.7.1 " HOST " access denied\r\n" E_DENIED E_DENIED E_DENIED E_DENIED
	      E_DENIED E_DENIED E_DENIED E_DENIED BYE, NULL, "");
	check("refused: BDATs count toward the 10 commands",
	      "BDAT 3\r\nabcBDAT 0\r\nBDAT 2 LAST\r\nxyMAIL FROM:<a@b.example>\r\n"
	      "BDAT 1\r\nzBDAT 1\r\nzBDAT 1\r\nzBDAT 1\r\nzBDAT 1\r\nz"
	      "BDAT 0 LAST\r\nNOOP\r\nQUIT\r\n",
	      "554 5.7.1 " HOST " access denied\r\n" E_DENIED E_DENIED E_DENIED E_DENIED
	      E_DENIED E_DENIED E_DENIED E_DENIED E_DENIED E_DENIED
	      "421 4.7.0 " HOST " closing connection\r\n", NULL, "");
	ok(R0.state & SMTP_DEAD, "  closed");
	check("refused: a tenth command that is a BDAT closes at once",
	      "A\r\nB\r\nC\r\nD\r\nE\r\nF\r\nG\r\nH\r\nI\r\nBDAT 6\r\nNOOP\r\nNOOP\r\n",
	      "554 5.7.1 " HOST " access denied\r\n" E_DENIED E_DENIED E_DENIED E_DENIED
	      E_DENIED E_DENIED E_DENIED E_DENIED E_DENIED
	      "421 4.7.0 " HOST " closing connection\r\n", NULL, "");
	ok(R0.state & SMTP_DEAD, "  closed");
}

static void t_starttls(void)
{
	reset_params();
	check("STARTTLS not offered", "EHLO c.example\r\nSTARTTLS\r\n",
	      GREET EHLO_OK E_NOTLS, NULL, NULL);
	P.tls_offered = 1;
	check("STARTTLS: pipelined plaintext is dropped, never executed",
	      "EHLO c.example\r\nMAIL FROM:<s@x.example>\r\nSTARTTLS\r\nRSET\r\nQUIT\r\n",
	      GREET EHLO_R("65536", "250-STARTTLS\r\n") S_MAIL TLS_GO, NULL,
	      "reset  0\nmail s@x.example 0\nreset  0\n");
	ok((R0.state & (SMTP_START_TLS | SMTP_CLOSE | SMTP_WANT_RECV)) == SMTP_START_TLS,
	   "  START_TLS once the 220 is sent, input stopped");
	check("STARTTLS with an argument", "EHLO c.example\r\nSTARTTLS now\r\n",
	      GREET EHLO_R("65536", "250-STARTTLS\r\n") E_SYNTAX, NULL, NULL);

	/* START_TLS only after the 220 has left */
	start(&R0);
	feed_now("EHLO c.example\r\nSTARTTLS\r\nRSET\r\n");
	ok(!(smtp_state(&S) & SMTP_START_TLS), "no START_TLS while the 220 waits");
	drain(&R0);
	ok(smtp_state(&S) & SMTP_START_TLS, "START_TLS after it");
	smtp_tls_started(&S);
	ok(smtp_state(&S) & SMTP_WANT_RECV, "after the handshake: reading again");
	R0.outlen = 0;
	feed_now("MAIL FROM:<s@x.example>\r\nEHLO c.example\r\nSTARTTLS\r\n"
	         "MAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\nDATA\r\nx\r\n.\r\n");
	drain(&R0);
	R0.out[R0.outlen] = 0;
	is_str(R0.out, E_HELO1st EHLO_OK E_TLSON S_MAIL S_RCPT GO DELIV("MSG1"),
	       "after TLS: EHLO again, no STARTTLS offered, 503 to STARTTLS");
	is_mem(R0.f.data, R0.f.datalen,
	       TRACE_RCPT("s@x.example", "c.example", "[192.0.2.1]", "ESMTPS", "MSG1", "a@example.org") "x\n",
	       strlen(TRACE_RCPT("s@x.example", "c.example", "[192.0.2.1]", "ESMTPS", "MSG1",
	                         "a@example.org") "x\n"), "  Received: with ESMTPS");

	/* implicit TLS */
	reset_params();
	P.tls_offered = 1;
	P.tls_active = 1;
	check("implicit TLS: no STARTTLS, UTF8SMTPS",
	      "EHLO c.example\r\nSTARTTLS\r\nMAIL FROM:<s@x.example> SMTPUTF8\r\n"
	      "RCPT TO:<j\xc3\xb6rg@example.org>\r\nDATA\r\nx\r\n.\r\n",
	      GREET EHLO_OK E_TLSON S_MAIL S_RCPT GO DELIV("MSG1"),
	      TRACE_RCPT("s@x.example", "c.example", "[192.0.2.1]", "UTF8SMTPS", "MSG1",
	                 "j\xc3\xb6rg@example.org") "x\n", NULL);
}

static void t_received(void)
{
	reset_params();
	P.client_ip = "2001:db8::1";
	check("Received: IPv6 literal, UTF8SMTP, null sender",
	      "EHLO c.example\r\nMAIL FROM:<> SMTPUTF8\r\nRCPT TO:<a@example.org>\r\nDATA\r\nx\r\n.\r\n",
	      GREET EHLO_OK S_MAIL S_RCPT GO DELIV("MSG1"),
	      TRACE_RCPT("", "c.example", "[IPv6:2001:db8::1]", "UTF8SMTP", "MSG1", "a@example.org")
	      "x\n", NULL);
	reset_params();
	check("Received: HELO text sanitised, quoted sender kept",
	      "HELO bad\x01h\xc3\xb6st (x)\r\nMAIL FROM:<\"a b\"@x.example>\r\nRCPT TO:<a@example.org>\r\n"
	      "DATA\r\nx\r\n.\r\n",
	      GREET HELO_OK S_MAIL S_RCPT GO DELIV("MSG1"),
	      TRACE_RCPT("\"a b\"@x.example", "bad?h??st (x)", "[192.0.2.1]", "SMTP", "MSG1",
	                 "a@example.org") "x\n", NULL);
	check("Received: C1 controls (U+0080..U+009F) in SMTPUTF8 addresses and HELO never stored",
	      "EHLO h\xc2\x85lo\r\nMAIL FROM:<a\xc2\x85\xc2\x80" "b@x\xc2\x9fy.example> SMTPUTF8\r\n"
	      "RCPT TO:<c\xc2\x9f\xc2\xa0\xc3\xb6\xc2\x85@example.org>\r\nDATA\r\nx\r\n.\r\n",
	      GREET EHLO_OK S_MAIL S_RCPT GO DELIV("MSG1"),
	      TRACE_RCPT("a????b@x??y.example", "h??lo", "[192.0.2.1]", "UTF8SMTP", "MSG1",
	                 "c??\xc2\xa0\xc3\xb6??@example.org") "x\n", NULL);
	/* HELO cut to 255 octets; every line of the header below 998 */
	{
		size_t li = 0;
		char pad[400];
		int okl = 1;
		size_t col = 0, i;

		memset(pad, 'h', sizeof(pad));
		CATS(big_in, &li, "EHLO ");
		cat(big_in, &li, pad, 400);
		CATS(big_in, &li, "\r\nMAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\nDATA\r\nx\r\n.\r\n");
		run_cut(&R0, big_in, li, NULL, 0);
		ok(memmem(R0.f.data, R0.f.datalen, pad, 255) != NULL &&
		   memmem(R0.f.data, R0.f.datalen, pad, 256) == NULL, "HELO cut to 255 octets");
		for (i = 0; i < R0.f.datalen; i++) {
			col = R0.f.data[i] == '\n' ? 0 : col + 1;
			if (col > 998)
				okl = 0;
		}
		ok(okl, "no header line over 998 octets");
	}
}

static void t_backpressure(void)
{
	size_t li = 0, lo = 0, got = 0;
	int k, stalled = 0, maxout = 0;
	const char *p;

	reset_params();
	CATS(big_out, &lo, GREET);
	for (k = 0; k < 1000; k++) {
		CATS(big_in, &li, "NOOP\r\n");
		CATS(big_out, &lo, OK);
	}
	check("1000 pipelined NOOPs", big_in, big_out, NULL, NULL);

	/* the client writes everything before reading anything */
	start(&R0);
	R0.outlen = 0;
	{
		size_t len;

		smtp_send_buf(&S, &len);
		smtp_send_ack(&S, len);
	}
	p = big_in;
	for (;;) {
		size_t len, k2;
		uint8_t *b = smtp_recv_buf(&S, &len);

		if (len == 0 || p == big_in + li)
			break;
		k2 = (size_t)(big_in + li - p) < len ? (size_t)(big_in + li - p) : len;
		memcpy(b, p, k2);
		smtp_recv_ack(&S, k2);
		p += k2;
	}
	ok(p < big_in + li, "input stops being consumed while replies wait (%zu of %zu taken)",
	   (size_t)(p - big_in), li);
	ok((smtp_state(&S) & (SMTP_WANT_RECV | SMTP_WANT_SEND)) == SMTP_WANT_SEND,
	   "  WANT_SEND only");
	/* now read 7 octets at a time, writing whenever there is room */
	for (;;) {
		size_t len, k2;
		const char *o = smtp_send_buf(&S, &len);
		uint8_t *b;

		if ((int)len > maxout)
			maxout = (int)len;
		if (len) {
			k2 = len < 7 ? len : 7;
			memcpy(R0.out + got, o, k2);
			got += k2;
			smtp_send_ack(&S, k2);
		}
		b = smtp_recv_buf(&S, &len);
		if (len && p < big_in + li) {
			k2 = (size_t)(big_in + li - p) < len ? (size_t)(big_in + li - p) : len;
			memcpy(b, p, k2);
			smtp_recv_ack(&S, k2);
			p += k2;
		} else if (!len) {
			stalled++;
		}
		smtp_send_buf(&S, &len);
		if (!len && p == big_in + li)
			break;
	}
	is_mem(R0.out, got, big_out + strlen(GREET), lo - strlen(GREET),
	       "all 1000 replies, in order");
	ok(maxout <= CFG_REPLY_BUFSIZE, "  reply buffer bounded (%d)", maxout);
	ok(stalled > 0, "  input was refused while full (%d times)", stalled);
}

static void t_shutdown(void)
{
	reset_params();
	start(&R0);
	feed_now("EHLO c.example\r\n");
	is_int(smtp_shutdown(&S, 0), 0, "shutdown when idle: 0");
	drain(&R0);
	is_str(R0.out, GREET EHLO_OK E_SHUT, "  421 4.3.2");
	ok(smtp_state(&S) & SMTP_DEAD, "  closed");

	start(&R0);
	feed_now(HDR "DATA\r\nabc");
	is_int(smtp_shutdown(&S, 0), 1, "shutdown in DATA: 1, let it finish");
	feed_now("\r\n.\r\n");
	drain(&R0);
	is_int(smtp_shutdown(&S, 0), 0, "then 0");
	drain(&R0);
	is_str(R0.out, HDR_R GO DELIV("MSG1") E_SHUT, "  250 then 421");

	start(&R0);
	feed_now(HDR "DATA\r\nabc");
	is_int(smtp_shutdown(&S, 1), 0, "forced shutdown in DATA");
	drain(&R0);
	is_str(R0.out, HDR_R GO E_SHUT, "  421 4.3.2");
	ok(strstr(R0.f.log, "abort aborted 3\n") != NULL, "  message aborted");

	start(&R0);
	feed_now(HDR "BDAT 3\r\nabc");
	is_int(smtp_shutdown(&S, 0), 1, "shutdown between BDAT chunks: 1");

	start(&R0);
	feed_now(HDR "DATA\r\nabc");
	smtp_session_end(&S);
	ok(strstr(R0.f.log, "begin  1\nabort aborted 3\nreset  0\n") != NULL,
	   "session end in DATA: abort, reset");
	ok(smtp_state(&S) & SMTP_DEAD, "  dead");
}

static void t_misc(void)
{
	static const struct {
		int64_t t;
		const char *s;
	} dates[] = {
		{ 0, "Thu, 01 Jan 1970 00:00:00 +0000" },
		{ 951782400, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ 951868799, "Tue, 29 Feb 2000 23:59:59 +0000" },
		{ 951868800, "Wed, 01 Mar 2000 00:00:00 +0000" },
		{ 1709164800, "Thu, 29 Feb 2024 00:00:00 +0000" },
		{ 4107542400, "Mon, 01 Mar 2100 00:00:00 +0000" },
		{ 1700000000, DATE },
		{ 2147483647, "Tue, 19 Jan 2038 03:14:07 +0000" },
		{ 2147483648LL, "Tue, 19 Jan 2038 03:14:08 +0000" },
		{ -1, "Wed, 31 Dec 1969 23:59:59 +0000" },
		{ 253402300799LL, "Fri, 31 Dec 9999 23:59:59 +0000" },
	};
	char buf[64];
	size_t i, n;

	for (i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		n = smtp_format_date(buf, sizeof(buf), dates[i].t);
		is_str(buf, dates[i].s, "date %lld", (long long)dates[i].t);
		is_int(n, 31, "  length");
	}
	is_int(smtp_format_date(buf, 31, 0), 0, "date: short buffer refused");

	n = smtp_busy_reply(buf, sizeof(buf), "mx.example.org");
	is_mem(buf, n, "421 4.3.2 mx.example.org Too many connections, try again later\r\n",
	       strlen("421 4.3.2 mx.example.org Too many connections, try again later\r\n"),
	       "busy reply");
	is_int(smtp_busy_reply(buf, 10, "mx.example.org"), 0, "busy reply: short buffer");

	reset_params();
	start(&R0);
	is_str(smtp_proto(&S), "SMTP", "proto before EHLO");
	feed_now("EHLO c.example\r\n");
	is_str(smtp_proto(&S), "ESMTP", "proto after EHLO");
	feed_now("MAIL FROM:<a@b.example> SMTPUTF8\r\n");
	is_str(smtp_proto(&S), "UTF8SMTP", "proto with SMTPUTF8");
	feed_now("RSET\r\n");
	is_str(smtp_proto(&S), "ESMTP", "SMTPUTF8 is per transaction");
	drain(&R0);

	ok((smtp_state(&S) & (SMTP_WANT_RECV | SMTP_WANT_SEND | SMTP_CLOSE)) == SMTP_WANT_RECV,
	   "idle state: WANT_RECV only");
}

#if CFG_AUTH
#define A_OK     "235 2.7.0 Authenticated\r\n"
#define A_FAIL   "535 5.7.8 Authentication failed\r\n"
#define A_CANCEL "501 5.0.0 Cancelled\r\n"
#define A_BAD    "501 5.5.2 Bad response\r\n"
#define A_MECH   "504 5.5.4 Unknown mechanism\r\n"
#define A_NEED   "530 5.7.0 Authentication required\r\n"
#define A_TLS    "538 5.7.11 Encryption required\r\n"
#define A_USER   "334 VXNlcm5hbWU6\r\n"
#define A_PASS   "334 UGFzc3dvcmQ6\r\n"
#define A_EMPTY  "334 \r\n"
#define EHLO_AUTH EHLO_R("65536", "250-AUTH PLAIN LOGIN\r\n")
#define PLAIN_RIGHT "AHVzZXIAc2VjcmV0"    /* \0user\0secret */
#define PLAIN_WRONG "AHVzZXIAYmFkcHc="    /* \0user\0badpw */

static void t_auth_b64(void)
{
	static const struct {
		const char *in, *out;
		long len;
	} v[] = {
		{ "", "", 0 },
		{ "YQ==", "a", 1 },
		{ "YQ", "a", 1 },          /* padding left out */
		{ "YWI=", "ab", 2 },
		{ "YWI", "ab", 2 },
		{ "YWJj", "abc", 3 },
		{ "AHVzZXIAc2VjcmV0", "\0user\0secret", 12 },
		{ "+/+/", "\xfb\xff\xbf", 3 },
		{ "Y", NULL, -1 },         /* no encoding is this long */
		{ "YQ=", NULL, -1 },       /* half the padding */
		{ "YQ===", NULL, -1 },
		{ "=", NULL, -1 },         /* only as AUTH's empty response */
		{ "Y=Q=", NULL, -1 },      /* '=' inside */
		{ "YW Jj", NULL, -1 },     /* whitespace */
		{ "YWJj\t", NULL, -1 },
		{ "YW\r\nJj", NULL, -1 },
		{ "YW-j", NULL, -1 },      /* base64url is not base64 */
		{ "YW_j", NULL, -1 },
		{ "YW\x80j", NULL, -1 },
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		long k = text_b64_decode(buf, sizeof(buf), v[i].in, strlen(v[i].in));

		is_int(k, v[i].len, "base64 vector %zu: length", i);
		if (k >= 0 && v[i].len >= 0)
			is_mem(buf, (size_t)k, v[i].out, (size_t)v[i].len,
			       "base64 vector %zu: octets", i);
	}
	/* overlong: more output than the room */
	is_int(text_b64_decode(buf, 2, "YWJj", 4), -1, "base64: 3 octets into 2 refused");
	is_int(text_b64_decode(buf, 3, "YWJj", 4), 3, "base64: 3 octets into 3");
	is_int(text_b64_decode(buf, 1, "YWI", 3), -1, "base64: short group over the room");
	/* in place, as the engine decodes */
	strcpy(buf, "c2VjcmV0");
	is_int(text_b64_decode(buf, 8, buf, 8), 6, "base64 in place");
	is_mem(buf, 6, "secret", 6, "  octets");
	text_wipe(buf, sizeof(buf));
	for (i = 0; i < sizeof(buf) && !buf[i]; i++)
		;
	is_int(i, sizeof(buf), "text_wipe zeroes every octet");
}

static void t_auth(void)
{
	reset_params();
	/* not advertised (no auth-users, no auth-any): still goes through */
	check("AUTH quiet: camera logs in although not advertised (LOGIN, prompts exact)",
	      "EHLO localhost\r\nHELO localhost\r\nAUTH LOGIN\r\ndXNlcg==\r\nYW55\r\n"
	      "MAIL FROM:<cam@x.example>\r\nRCPT TO:<a@example.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n",
	      GREET EHLO_OK HELO_OK A_USER A_PASS A_OK S_MAIL S_RCPT GO DELIV("MSG1") BYE,
	      TRACE_RCPT("cam@x.example", "localhost", "[192.0.2.1]", "SMTP", "MSG1",
	                 "a@example.org") "x\n",
	      "reset  0\nreset  0\nauth user:any 0\nmail cam@x.example 0\n"
	      "rcpt a@example.org 0\nbegin  1\ncommit  0\nreset  0\n");
	check("AUTH LOGIN with the user as initial response (Konica, .NET, smtplib)",
	      "EHLO c\r\nAUTH LOGIN dXNlcg==\r\nYW55\r\n",
	      GREET EHLO_OK A_PASS A_OK, NULL, "reset  0\nauth user:any 0\n");
	check("AUTH PLAIN with initial response",
	      "EHLO c\r\nAUTH PLAIN " PLAIN_RIGHT "\r\n",
	      GREET EHLO_OK A_OK, NULL, "reset  0\nauth user:secret 0\n");
	check("AUTH PLAIN, the blob after an empty 334",
	      "EHLO c\r\nauth plain\r\n" PLAIN_RIGHT "\r\n",
	      GREET EHLO_OK A_EMPTY A_OK, NULL, "reset  0\nauth user:secret 0\n");
	check("AUTH PLAIN: the authzid is ignored",
	      "EHLO c\r\nAUTH PLAIN YXV0aHoAdXNlcgBzZWNyZXQ=\r\n",
	      GREET EHLO_OK A_OK, NULL, "reset  0\nauth user:secret 0\n");
	check("AUTH PLAIN =: an empty initial response is a malformed blob",
	      "EHLO c\r\nAUTH PLAIN =\r\nNOOP\r\n",
	      GREET EHLO_OK A_BAD OK, NULL, "reset  0\n");
	check("AUTH LOGIN =: an empty user, then the password",
	      "EHLO c\r\nAUTH LOGIN =\r\nYW55\r\n",
	      GREET EHLO_OK A_PASS A_OK, NULL, "reset  0\nauth :any 0\n");
	check("AUTH LOGIN: empty password line",
	      "EHLO c\r\nAUTH LOGIN\r\ndXNlcg==\r\n\r\n",
	      GREET EHLO_OK A_USER A_PASS A_OK, NULL, "reset  0\nauth user: 0\n");
	check("AUTH: * cancels at each step",
	      "EHLO c\r\nAUTH LOGIN\r\n*\r\nAUTH LOGIN dXNlcg==\r\n*\r\nAUTH PLAIN\r\n*\r\n"
	      "AUTH PLAIN *\r\nNOOP\r\n",
	      GREET EHLO_OK A_USER A_CANCEL A_PASS A_CANCEL A_EMPTY A_CANCEL A_CANCEL OK,
	      NULL, "reset  0\n");
	check("AUTH: bad base64 and malformed PLAIN blobs",
	      "EHLO c\r\nAUTH PLAIN AHVz ZXI=\r\nAUTH PLAIN AHVzZXI=\r\n"
	      "AUTH PLAIN AHVzZXIAcHcAeA==\r\nAUTH LOGIN dQBzZXI=\r\nAUTH LOGIN\r\n!!!!\r\n"
	      "AUTH LOGIN dXNlcg==\r\nc2Vj\x00cmV0\r\nNOOP\r\n",
	      GREET EHLO_OK A_BAD A_BAD A_BAD A_BAD A_USER A_BAD A_PASS A_BAD OK,
	      NULL, "reset  0\n");
	check("AUTH: unknown mechanism 504, none at all 501",
	      "EHLO c\r\nAUTH CRAM-MD5\r\nAUTH\r\nAUTH PLAINX " PLAIN_RIGHT "\r\n",
	      GREET EHLO_OK A_MECH E_SYNTAX A_MECH, NULL, "reset  0\n");
	check("AUTH: before EHLO 503, after a success 503, in a transaction 503",
	      "AUTH PLAIN " PLAIN_RIGHT "\r\nEHLO c\r\nMAIL FROM:<s@x.example>\r\n"
	      "AUTH PLAIN " PLAIN_RIGHT "\r\nRSET\r\nAUTH PLAIN " PLAIN_RIGHT "\r\n"
	      "AUTH LOGIN\r\n",
	      GREET E_HELO1st EHLO_OK S_MAIL E_SEQ OK A_OK E_SEQ, NULL, NULL);
	check("AUTH: a wrong password is 535 after the pause; the session goes on",
	      "EHLO c\r\nAUTH PLAIN " PLAIN_WRONG "\r\nNOOP\r\nAUTH LOGIN dXNlcg==\r\nc2VjcmV0\r\n"
	      "MAIL FROM:<s@x.example>\r\nRCPT TO:<a@example.org>\r\nDATA\r\nx\r\n.\r\n",
	      GREET EHLO_OK A_FAIL OK A_PASS A_OK S_MAIL S_RCPT GO DELIV("MSG1"),
	      TRACE_RCPT("s@x.example", "c", "[192.0.2.1]", "ESMTPA", "MSG1",
	                 "a@example.org") "x\n", NULL);
	check("AUTH: the third failure is followed by 421 4.7.0 and the close",
	      "EHLO c\r\nAUTH PLAIN " PLAIN_WRONG "\r\nAUTH LOGIN dXNlcg==\r\nYmFkcHc=\r\n"
	      "AUTH LOGIN\r\ndXNlcg==\r\nYmFkcHc=\r\nNOOP\r\n",
	      GREET EHLO_OK A_FAIL A_PASS A_FAIL A_USER A_PASS A_FAIL E_ERRS, NULL,
	      "reset  0\nauth user:badpw 0\nauth user:badpw 0\nauth user:badpw 0\n");
	check("AUTH: an over-long response ends the exchange",
	      "EHLO c\r\nAUTH PLAIN\r\n"
	      "QUFB" "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
	      "\r\nNOOP\r\n",
	      GREET EHLO_OK A_EMPTY E_LONG OK, NULL, "reset  0\n");

	/* a PLAIN blob as long as the line limit allows */
	{
		size_t li = 0, i;
		char blob[738], b64[1000];
		static const char al[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t bl = 0;

		memset(blob, 'p', sizeof(blob));
		blob[0] = 0;
		memcpy(blob + 1, "user", 4);
		blob[5] = 0;
		for (i = 0; i + 3 <= sizeof(blob); i += 3) {
			uint32_t v = (uint32_t)(unsigned char)blob[i] << 16 |
			             (uint32_t)(unsigned char)blob[i + 1] << 8 |
			             (unsigned char)blob[i + 2];
			b64[bl++] = al[v >> 18];
			b64[bl++] = al[v >> 12 & 63];
			b64[bl++] = al[v >> 6 & 63];
			b64[bl++] = al[v & 63];
		}
		b64[bl] = 0;
		CATS(big_in, &li, "EHLO c\r\nAUTH PLAIN ");
		CATS(big_in, &li, b64);
		CATS(big_in, &li, "\r\n");
		ok(li - strlen("EHLO c\r\n") == 997, "a 997-octet AUTH PLAIN line");
		check_n("AUTH PLAIN: a blob (738 octets) filling the line", big_in, li,
		        GREET EHLO_OK A_OK, NULL, 0, NULL);
	}

	/* the pause: no 535 before two whole seconds (one real at least),
	 * and nothing read meanwhile */
	reset_params();
	start(&R0);
	feed_now("EHLO c\r\nAUTH PLAIN " PLAIN_WRONG "\r\nNOOP\r\n");
	{
		size_t len;

		smtp_send_buf(&S, &len);
		smtp_send_ack(&S, len);
	}
	is_int(smtp_deadline(&S), T0 + 2, "AUTH failure: the reply is due 2 whole seconds on");
	ok(smtp_state(&S) & SMTP_PAUSED, "  SMTP_PAUSED meanwhile (a half-close must wait)");
	smtp_tick(&S, T0 + 1, WALL);
	{
		size_t len;

		smtp_send_buf(&S, &len);
		is_int(len, 0, "  nothing at 1 s");
		smtp_tick(&S, T0 + 2, WALL);
		is_mem(smtp_send_buf(&S, &len), len, A_FAIL OK, strlen(A_FAIL OK),
		       "  535 at 2 s, then the NOOP sent meanwhile");
		smtp_send_ack(&S, len);
		ok(!(smtp_state(&S) & SMTP_PAUSED), "  and no longer paused");
	}

	/* advertised with auth-any */
	reset_params();
	P.auth = SMTP_AUTH_OFFER;
	check("AUTH advertised (auth-any): EHLO lists AUTH PLAIN LOGIN",
	      "EHLO c\r\nAUTH LOGIN dXNlcg==\r\nYW55\r\n",
	      GREET EHLO_AUTH A_PASS A_OK, NULL, NULL);
	check("AUTH advertised: HELO lists nothing",
	      "HELO c\r\n", GREET HELO_OK, NULL, NULL);
	/* checked users: TLS only */
	reset_params();
	P.auth = SMTP_AUTH_TLS;
	P.tls_offered = 1;
	check("AUTH with TLS only: not advertised in plain text, 538 there",
	      "EHLO c\r\nAUTH PLAIN " PLAIN_RIGHT "\r\nAUTH LOGIN\r\n",
	      GREET EHLO_R("65536", "250-STARTTLS\r\n") A_TLS A_TLS, NULL, "reset  0\n");
	P.tls_offered = 0;
	P.tls_active = 1;
	check("AUTH with TLS only: advertised under TLS; ESMTPSA",
	      "EHLO c\r\nAUTH PLAIN " PLAIN_RIGHT "\r\nMAIL FROM:<s@x.example> SMTPUTF8\r\n"
	      "RCPT TO:<a@example.org>\r\nDATA\r\nx\r\n.\r\n",
	      GREET EHLO_AUTH A_OK S_MAIL S_RCPT GO DELIV("MSG1"),
	      TRACE_RCPT("s@x.example", "c", "[192.0.2.1]", "UTF8SMTPSA", "MSG1",
	                 "a@example.org") "x\n", NULL);
	/* a ,auth listener */
	reset_params();
	P.auth = SMTP_AUTH_OFFER;
	P.auth_required = 1;
	check("AUTH required: 530 before a checked AUTH, unchecked ones do not count",
	      "EHLO c\r\nMAIL FROM:<s@x.example>\r\nAUTH PLAIN AHVzZXIAYW55\r\n"
	      "MAIL FROM:<s@x.example>\r\n",
	      GREET EHLO_AUTH A_NEED A_OK A_NEED, NULL, NULL);
	check("AUTH required: MAIL after a checked AUTH",
	      "EHLO c\r\nAUTH PLAIN " PLAIN_RIGHT "\r\nMAIL FROM:<s@x.example>\r\n",
	      GREET EHLO_AUTH A_OK S_MAIL, NULL, NULL);

	/* the credentials do not stay in the session's buffers */
	reset_params();
	start(&R0);
	feed_now("EHLO c\r\nAUTH LOGIN\r\ndXNlcg==\r\nc2VjcmV0\r\nAUTH PLAIN\r\n");
	drain(&R0);
	ok(!memmem(S.line, sizeof(S.line), "c2VjcmV0", 8) &&
	   !memmem(S.line, sizeof(S.line), "secret", 6) &&
	   !memmem(S.in, sizeof(S.in), "c2VjcmV0", 8) &&
	   !memmem(S.in, sizeof(S.in), "secret", 6),
	   "AUTH LOGIN: the password is wiped from the line and input buffers");
	start(&R0);
	feed_now("EHLO c\r\nAUTH PLAIN " PLAIN_WRONG "\r\n");
	drain(&R0);
	ok(!memmem(S.line, sizeof(S.line), "badpw", 5) &&
	   !memmem(S.line, sizeof(S.line), PLAIN_WRONG, 16) &&
	   !memmem(S.in, sizeof(S.in), PLAIN_WRONG, 16),
	   "AUTH PLAIN: the blob is wiped after a failure");
	ok(!memmem(&S, sizeof(S), "badpw", 5), "  and is nowhere in the session");

	/* STARTTLS forgets AUTH */
	reset_params();
	P.tls_offered = 1;
	start(&R0);
	feed_now("EHLO c\r\nAUTH PLAIN " PLAIN_RIGHT "\r\n");
	is_str(smtp_proto(&S), "ESMTPA", "proto after a checked AUTH");
	feed_now("STARTTLS\r\n");
	drain(&R0);
	smtp_tls_started(&S);
	feed_now("EHLO c\r\n");
	is_str(smtp_proto(&S), "ESMTPS", "STARTTLS forgets the AUTH");
	drain(&R0);
}
#else
static void t_auth_b64(void)
{
}

static void t_auth(void)
{
	reset_params();
	check("AUTH without CONFIG_AUTH: unknown command",
	      "EHLO c\r\nAUTH LOGIN\r\n", GREET EHLO_OK E_UNKNOWN, NULL, NULL);
}
#endif

/*
 * Random transcripts from pieces of SMTP and junk, fixed seed: no expected
 * replies, but every cutting must agree, and nothing may trip ASan/UBSan
 * or an assertion.
 */
static void t_random(void)
{
	static const char *const pieces[] = {
		"EHLO c.example\r\n", "HELO c\r\n", "MAIL FROM:<s@x.example>\r\n",
		"MAIL FROM:<> SMTPUTF8\r\n", "RCPT TO:<a@example.org>\r\n",
		"RCPT TO:<unknown@example.org>\r\n", "RCPT TO:<postmaster>\r\n", "DATA\r\n",
		"BDAT 5\r\n", "BDAT 0 LAST\r\n", "BDAT 3 LAST\r\n", "RSET\r\n", "NOOP\r\n",
		"STARTTLS\r\n", "\r\n.\r\n", ".\r\n", "\r\n", "\n", "\r", ".", "..", "\0",
		"Received: x\r\n", "hello world", "\xc3\xb6", "QUIT\r\n", "VRFY x\r\n",
		"MAIL FROM:<s@x.example> SIZE=99999999\r\n", "BDAT 99999\r\n", "x",
	};
	uint32_t x = 0xdeadbeefu;
	int k, bad = 0, delivered = 0, toobig = 0, bare = 0;
	static char in[4000];

	reset_params();
	P.tls_offered = 1;
	P.max_size = 300;
	for (k = 0; k < 1000 && !bad; k++) {
		size_t n = 0, i;
		int m;

		P.strict_crlf = (uint8_t)(k & 1);
		P.tls_offered = (uint8_t)((k & 6) == 0);
		if (k & 3) {
			memcpy(in, HDR, strlen(HDR));
			n = strlen(HDR);
		}
		for (m = 0; m < 60; m++) {
			const char *p;
			size_t l;

			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			p = pieces[x % (sizeof(pieces) / sizeof(pieces[0]))];
			l = strcmp(p, "\0") == 0 ? 1 : strlen(p);
			memcpy(in + n, p, l);
			n += l;
		}
		run_cut(&R0, in, n, NULL, 0);
		if (strstr(R0.out, "delivered"))
			delivered++;
		if (strstr(R0.out, "552 "))
			toobig++;
		if (strstr(R0.out, "550 5.6.0"))
			bare++;
		{
			size_t *all = calloc(n + 1, sizeof(size_t));

			for (i = 0; i < n; i++)
				all[i] = i + 1;
			run_cut(&R1, in, n, all, n - 1);
			free(all);
		}
		if (!same(&R0, &R1))
			bad = k + 1;
		for (i = 0; i < 5 && !bad; i++) {
			size_t cut[3];

			cut[0] = 1 + x % (n / 3);
			cut[1] = cut[0] + 1 + (x >> 8) % (n / 3);
			cut[2] = cut[1] + 1 + (x >> 16) % (n / 3);
			x = x * 1103515245u + 12345u;
			run_cut(&R1, in, n, cut, 3);
			if (!same(&R0, &R1))
				bad = k + 1;
		}
	}
	printf("# random transcripts: %d delivered, %d too big, %d bare\n", delivered, toobig, bare);
	if (!ok(!bad, "1000 random transcripts: all cuttings agree")) {
		printf("#   transcript %d\n", bad);
		show_diff(&R0, &R1);
	}
}

/* The command table: every command in every stage of a session, each
 * followed by QUIT.  One place in the engine says which command may run
 * where; these are the replies it must give (the same, byte for byte, as
 * when each handler checked the phase itself). */
static void t_phases(void)
{
	static const struct {
		const char *in, *out;
		int refused;
	} stages[] = {
		{ "", GREET, 0 },
		{ "EHLO c.example\r\n", GREET EHLO_OK, 0 },
		{ "EHLO c.example\r\nMAIL FROM:<s@x.example>\r\n", GREET EHLO_OK S_MAIL, 0 },
		{ HDR, HDR_R, 0 },
		{ HDR "BDAT 1\r\nx", HDR_R CHUNK("1"), 0 },
		{ "", "554 5.7.1 " HOST " access denied\r\n", 1 },
	};
	static const char *const names[] = {
		"greeting", "ready", "mail", "rcpt", "between chunks", "refused"
	};
	static const struct {
		const char *cmd;
		const char *reply[6];   /* by stage, as above */
	} cmds[] = {
		{ "MAIL FROM:<t@x.example>",
		  { E_HELO1st, S_MAIL, E_NESTED, E_NESTED, E_SEQ, E_DENIED } },
		{ "RCPT TO:<b@example.org>",
		  { E_HELO1st, E_NEEDMAIL, S_RCPT, S_RCPT, E_SEQ, E_DENIED } },
		{ "DATA x",   /* the order is checked before the argument */
		  { E_HELO1st, E_NEEDMAIL, E_NEEDRCPT, E_SYNTAX, E_MIX, E_DENIED } },
		{ "BDAT 0",
		  { E_HELO1st, E_NEEDMAIL, E_NEEDRCPT, CHUNK("0"), CHUNK("0"), E_DENIED } },
		{ "BDAT x",   /* a bad size is answered before the order */
		  { E_SYN_BDAT, E_SYN_BDAT, E_SYN_BDAT, E_SYN_BDAT, E_SYN_BDAT, E_DENIED } },
		{ "RSET", { OK, OK, OK, OK, OK, E_DENIED } },
		{ "NOOP", { OK, OK, OK, OK, OK, E_DENIED } },
		{ "VRFY", { E_SYN_VRFY, E_SYN_VRFY, E_SYN_VRFY, E_SYN_VRFY, E_SYN_VRFY, E_DENIED } },
		{ "EXPN x", { E_NOTIMPL, E_NOTIMPL, E_NOTIMPL, E_NOTIMPL, E_NOTIMPL, E_DENIED } },
		{ "HELP", { HELP_R, HELP_R, HELP_R, HELP_R, HELP_R, E_DENIED } },
		{ "STARTTLS", { E_NOTLS, E_NOTLS, E_NOTLS, E_NOTLS, E_NOTLS, E_DENIED } },
		{ "FOO", { E_UNKNOWN, E_UNKNOWN, E_UNKNOWN, E_UNKNOWN, E_UNKNOWN, E_DENIED } },
#if CFG_AUTH
		{ "AUTH X",
		  { E_HELO1st, "504 5.5.4 Unknown mechanism\r\n", E_SEQ, E_SEQ, E_SEQ, E_DENIED } },
#endif
	};
	static char in[1024], out[2048], name[128];
	size_t i, k;

	for (k = 0; k < sizeof(stages) / sizeof(stages[0]); k++) {
		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			reset_params();
			P.refused = (uint8_t)stages[k].refused;
			snprintf(in, sizeof(in), "%s%s\r\nQUIT\r\n", stages[k].in, cmds[i].cmd);
			snprintf(out, sizeof(out), "%s%s%s", stages[k].out,
			         cmds[i].reply[k], BYE);
			snprintf(name, sizeof(name), "%s in %s", cmds[i].cmd, names[k]);
			check(name, in, out, NULL, NULL);
		}
		/* QUIT itself, everywhere */
		reset_params();
		P.refused = (uint8_t)stages[k].refused;
		snprintf(in, sizeof(in), "%sQUIT\r\nNOOP\r\n", stages[k].in);
		snprintf(out, sizeof(out), "%s%s", stages[k].out, BYE);
		snprintf(name, sizeof(name), "QUIT in %s", names[k]);
		check(name, in, out, NULL, NULL);
	}
}

int main(void)
{
	t_basic();
	t_text_runs();
	t_commands();
	t_mail_rcpt();
	t_smuggling();
	t_bare_lf();
	t_size();
	t_size_bdat();
	t_loop();
	t_bdat();
	t_store_failures();
	t_timeouts();
	t_commit_wait();
	t_refused();
	t_phases();
	t_starttls();
	t_received();
	t_backpressure();
	t_shutdown();
	t_misc();
	t_auth_b64();
	t_auth();
	t_random();
	return tap_done();
}
