/* see smtp_engine.h
 *
 * Buffer invariants:
 *
 *   in[in_start .. in_end)    received, not yet consumed.  Consumed only by
 *                             process(); recv_buf() moves it to the front.
 *   out[out_start .. out_end) replies not yet sent.  A reply is queued whole
 *                             or not at all (smtp_reply.c).
 *   line[0 .. line_len)       the command line being read (no LF).  Input is
 *                             copied here, so in[] never holds a partial
 *                             command and a full in[] always makes progress.
 *
 * Back-pressure: a command line is not started, and the octet that ends
 * DATA or a BDAT chunk is not consumed, unless SMTP_REPLY_RESERVE octets
 * are free in out[].  Every command answers with at most one reply plus a
 * possible 421, which fits that reserve, so replies are never dropped and
 * input simply waits in in[] until the client reads its replies.
 *
 * Phases change only through enter().  PHASE_COMMIT consumes nothing;
 * PHASE_CLOSING and PHASE_TLS_WAIT throw input away.
 */
#include "smtp_engine.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "smtp_data.h"
#include "smtp_reply.h"
#include "text.h"

_Static_assert(CFG_REPLY_BUFSIZE >= SMTP_REPLY_RESERVE,
               "the reply buffer must hold the largest reply");
_Static_assert(CFG_RECV_BUFSIZE >= SMTP_LINE_MAX, "recv buffer too small");

static void process(struct smtp_session *s);

static void enter(struct smtp_session *s, enum smtp_phase p)
{
	s->phase = p;
}

/* Drops the open message, if any (never one handed to commit()). */
static void msg_abort(struct smtp_session *s, enum smtp_reject why)
{
	if (s->body_open) {
		s->body_open = 0;
		s->sink->abort(s->ctx, why, s->dec.size);
	}
}

/* The transaction is over: forget it here and in the sink. */
static void tx_reset(struct smtp_session *s)
{
	msg_abort(s, REJECT_ABORTED);
	s->sink->reset(s->ctx);
	s->sender[0] = '\0';
	s->first_rcpt[0] = '\0';
	s->nrcpt = 0;
	s->utf8 = 0;
	s->bdat_used = 0;
	s->bdat_last = 0;
	s->bdat_failed = 0;
	if (s->phase >= PHASE_MAIL && s->phase <= PHASE_COMMIT)
		enter(s, PHASE_READY);
}

/* Queues a closing reply (421 or 221, or none) and stops reading. */
static void close_with(struct smtp_session *s, enum smtp_reply_id r)
{
	if (s->closing)
		return;
	msg_abort(s, REJECT_ABORTED);
	smtp_reply(s, r);
	s->closing = 1;
	s->idle_since = s->now;
	s->line_len = 0;
	s->line_too_long = 0;
	s->line_since = -1;
	enter(s, PHASE_CLOSING);   /* process() and recv_buf() drop the input */
}

/* Replies to a client command; counts errors toward SMTP_MAX_ERRORS. */
static void say_err(struct smtp_session *s, enum smtp_reply_id r, int counts)
{
	int ok;

	if (s->closing)
		return;
	ok = smtp_reply(s, r);
	assert(ok);   /* SMTP_REPLY_RESERVE was free before the command */
	(void)ok;
	s->idle_since = s->now;
	if (counts && smtp_reply_counts(r) && ++s->errors >= SMTP_MAX_ERRORS)
		close_with(s, R_ERRLIMIT);
}

static void say(struct smtp_session *s, enum smtp_reply_id r)
{
	say_err(s, r, 1);
}

static enum smtp_reply_id sink_reply(int r)
{
	switch (r) {
	case SINK_NOSPACE:
		return R_NOSPACE;
	case SINK_PERM:
		return R_PERM;
	default:
		return R_TEMP;
	}
}

static enum smtp_reply_id reject_reply(const struct smtp_decoder *d)
{
	switch (d->error) {
	case REJECT_BARE_LF:
	case REJECT_BARE_CR:
	case REJECT_NUL:
		return R_BARE;
	case REJECT_SIZE:
		return R_TOO_BIG;
	case REJECT_LOOP:
		return R_LOOP;
	default:
		return sink_reply(d->store_result);
	}
}

/* Copies src (NUL-terminated) into dst[size], sanitised for headers. */
static void copy_clean(char *dst, size_t size, const char *src, int ascii_only)
{
	text_copy(dst, size, src);
	smtp_sanitize(dst, ascii_only);
}

/* ---- message end ---------------------------------------------------- */

static void finish_commit(struct smtp_session *s, int r)
{
	int ok;

	enter(s, PHASE_READY);
	if (r == SINK_OK) {
		s->messages++;
		ok = smtp_reply_delivered(s);
		assert(ok);
		(void)ok;
		s->idle_since = s->now;
	} else {
		say(s, sink_reply(r));
	}
	tx_reset(s);
}

/* The whole message is read: commit it or answer its error. */
static void message_end(struct smtp_session *s)
{
	int r;

	if (s->dec.error != REJECT_NONE) {
		enum smtp_reply_id rr = reject_reply(&s->dec);

		msg_abort(s, s->dec.error);
		enter(s, PHASE_READY);
		tx_reset(s);
		say(s, rr);
		return;
	}
	s->body_open = 0;          /* the store owns it now */
	r = s->sink->commit(s->ctx);
	if (r == SINK_PENDING) {
		enter(s, PHASE_COMMIT);
		return;
	}
	finish_commit(s, r);
}

/* Opens the message for DATA or a first BDAT chunk. */
static int message_begin(struct smtp_session *s)
{
	int r;

	memset(s->id, 0, sizeof(s->id));
	r = s->sink->begin(s->ctx, s->id);
	if (r != SINK_OK)
		return r;
	s->id[SMTP_ID_MAX - 1] = '\0';
	smtp_sanitize(s->id, 1);
	s->body_open = 1;
	smtp_data_init(&s->dec);
	return SINK_OK;
}

/* ---- BDAT chunk end ------------------------------------------------- */

static void chunk_end(struct smtp_session *s)
{
	struct smtp_decoder *d = &s->dec;

	enter(s, (enum smtp_phase)d->resume_phase);
	if (d->chunk_reply) {
		enum smtp_reply_id r = (enum smtp_reply_id)d->chunk_reply;
		int counts = !d->chunk_noerr;

		d->chunk_reply = 0;
		d->chunk_noerr = 0;
		if (s->bdat_last && s->bdat_failed)
			tx_reset(s);
		say_err(s, r, counts);
		return;
	}
	/* a NUL is answered at the end of the data, as in DATA; the
	 * other errors at once (RFC 3030: the client then stops) */
	if (d->error != REJECT_NONE && (s->bdat_last || d->error != REJECT_NUL)) {
		enum smtp_reply_id r = reject_reply(d);

		msg_abort(s, d->error);
		s->bdat_failed = (uint8_t)r;
		if (s->bdat_last)
			tx_reset(s);
		say(s, r);
		return;
	}
	if (!s->bdat_last) {
		int ok = smtp_reply_chunk(s, d->chunk_size);

		assert(ok);
		(void)ok;
		s->idle_since = s->now;
		return;
	}
	smtp_bdat_finish(s);
	message_end(s);
}

/* ---- commands ------------------------------------------------------- */

/* Skips spaces at *p; returns how many. */
static size_t skip_sp(const char **p)
{
	size_t k = 0;

	while (**p == ' ') {
		(*p)++;
		k++;
	}
	return k;
}

/* Any argument, even none or a bare IP address, is accepted (section 4:
 * devices send these); the Received header shows it sanitised, or
 * "unknown" when it is empty. */
static void cmd_helo_ehlo(struct smtp_session *s, const char *arg, size_t n,
                          int esmtp)
{
	(void)n;
	tx_reset(s);
	copy_clean(s->helo, sizeof(s->helo), arg, 1);
	s->esmtp = (uint8_t)esmtp;
	enter(s, PHASE_READY);
	if (esmtp) {
		int ok = smtp_reply_ehlo(s);

		assert(ok);
		(void)ok;
		s->idle_since = s->now;
	} else {
		say(s, R_HELO);
	}
}

static void cmd_helo(struct smtp_session *s, const char *arg, size_t n)
{
	cmd_helo_ehlo(s, arg, n, 0);
}

static void cmd_ehlo(struct smtp_session *s, const char *arg, size_t n)
{
	cmd_helo_ehlo(s, arg, n, 1);
}

struct mail_params {
	uint64_t size;
	uint8_t smtputf8;
};

/* The parameters known to MAIL (first six) and RCPT (last two).  AUTH
 * (RFC 4954 5) and the DSN ones (RFC 3461) are accepted and ignored:
 * mailnook is the final destination and sends no notices. */
static const char param_names[][9] = {
	"SIZE", "BODY", "SMTPUTF8", "AUTH", "RET", "ENVID", "NOTIFY", "ORCPT"
};
#define P_MAIL_END 6
#define P_ALL_END  8

/*
 * ESMTP parameters after the path (RFC 5321 4.1.2):
 *   *( SP esmtp-keyword [ "=" esmtp-value ] )
 *   esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *   esmtp-value   = 1*(%d33-60 / %d62-126)
 * mp is NULL for RCPT.  An ignored parameter given twice is a syntax
 * error, as Postfix answers a second ENVID, NOTIFY or ORCPT.  Returns
 * R_NONE, R_SYNTAX or R_PARAM.
 */
static enum smtp_reply_id parse_params(const char *p, struct mail_params *mp)
{
	unsigned seen = 0;

	while (*p) {
		const char *k, *v = NULL;
		size_t kl, vl = 0, i;

		if (skip_sp(&p) == 0)
			return R_SYNTAX;
		if (!*p)
			break;
		k = p;
		while (*p && *p != ' ' && *p != '=')
			p++;
		kl = (size_t)(p - k);
		for (i = 0; i < kl; i++) {
			unsigned c = (unsigned char)k[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || (c == '-' && i > 0)))
				return R_SYNTAX;
		}
		if (kl == 0)
			return R_SYNTAX;
		if (*p == '=') {
			v = ++p;
			while (*p && *p != ' ')
				p++;
			vl = (size_t)(p - v);
			if (vl == 0)
				return R_SYNTAX;
			for (i = 0; i < vl; i++)
				if ((unsigned char)v[i] < 33 || (unsigned char)v[i] > 126 ||
				    v[i] == '=')
					return R_SYNTAX;
		}
		for (i = mp ? 0 : P_MAIL_END; i < (mp ? P_MAIL_END : P_ALL_END); i++)
			if (strlen(param_names[i]) == kl &&
			    text_ncasecmp(k, param_names[i], kl) == 0)
				break;
		if (i == (mp ? P_MAIL_END : P_ALL_END))
			return R_PARAM;
		switch (i) {
		case 0:
			if (!v || text_parse_u64(v, vl, &mp->size) != 0)
				return R_SYNTAX;
			break;
		case 1:
			if (!v || !((vl == 4 && text_ncasecmp(v, "7BIT", 4) == 0) ||
			            (vl == 8 && text_ncasecmp(v, "8BITMIME", 8) == 0)))
				return R_SYNTAX;
			break;
		case 2:
			if (v)
				return R_SYNTAX;
			mp->smtputf8 = 1;
			break;
		default:
			if (!v || (seen & 1u << i))
				return R_SYNTAX;
			seen |= 1u << i;
			break;
		}
	}
	return R_NONE;
}

static void cmd_mail(struct smtp_session *s, const char *arg, size_t n)
{
	struct smtp_addr a;
	struct mail_params mp = { 0, 0 };
	enum smtp_reply_id r;
	size_t used;
	int res;

	if (s->phase == PHASE_GREETING) {
		say(s, R_NEED_HELO);
		return;
	}
	if (s->phase != PHASE_READY) {
		say(s, s->bdat_used ? R_BDAT_SEQ : R_NESTED_MAIL);
		return;
	}
#if CFG_AUTH
	if (s->p.auth_required && s->auth != AUTH_CHECKED) {
		say(s, R_AUTH_NEEDED);
		return;
	}
#endif
	if (n < 5 || text_ncasecmp(arg, "FROM:", 5) != 0) {
		say(s, R_SYNTAX_MAIL);
		return;
	}
	arg += 5;
	skip_sp(&arg);
	/* UTF-8 is checked against SMTPUTF8 once the parameters are read. */
	if (addr_parse_path(arg, strlen(arg), 1, 1, 0, &a, &used) != ADDR_OK) {
		say(s, R_BAD_ADDR);
		return;
	}
	r = parse_params(arg + used, &mp);
	if (r != R_NONE) {
		say(s, r);
		return;
	}
	if (a.has_utf8 && !mp.smtputf8) {
		say(s, R_BAD_ADDR);
		return;
	}
	if (mp.size > s->p.max_size) {
		say(s, R_TOO_BIG);
		return;
	}
	res = s->sink->mail(s->ctx, &a, mp.smtputf8);
	if (res != SINK_OK) {
		say(s, sink_reply(res));
		return;
	}
	s->utf8 = mp.smtputf8;
	copy_clean(s->sender, sizeof(s->sender), a.text, !s->utf8);
	s->nrcpt = 0;
	s->first_rcpt[0] = '\0';
	s->bdat_used = 0;
	s->bdat_failed = 0;
	enter(s, PHASE_MAIL);
	say(s, R_MAIL_OK);
}

static void cmd_rcpt(struct smtp_session *s, const char *arg, size_t n)
{
	struct smtp_addr a;
	size_t used;
	enum smtp_reply_id r;
	const char *rest;

	if (s->phase == PHASE_GREETING) {
		say(s, R_NEED_HELO);
		return;
	}
	if (s->phase != PHASE_MAIL && s->phase != PHASE_RCPT) {
		say(s, R_NEED_MAIL);
		return;
	}
	if (s->bdat_used) {
		say(s, R_BDAT_SEQ);
		return;
	}
	if (n < 3 || text_ncasecmp(arg, "TO:", 3) != 0) {
		say(s, R_SYNTAX_RCPT);
		return;
	}
	arg += 3;
	skip_sp(&arg);
	if (addr_parse_path(arg, strlen(arg), s->utf8, 0, 1, &a, &used) != ADDR_OK) {
		say(s, R_BAD_ADDR);
		return;
	}
	rest = arg + used;
	r = parse_params(rest, NULL);
	if (r != R_NONE) {
		say(s, r);
		return;
	}
	if (s->nrcpt >= s->p.max_rcpt) {
		say(s, R_TOO_MANY_RCPT);
		return;
	}
	switch (s->sink->rcpt(s->ctx, &a)) {
	case RCPT_OK:
		if (s->nrcpt++ == 0)
			copy_clean(s->first_rcpt, sizeof(s->first_rcpt), a.text, !s->utf8);
		enter(s, PHASE_RCPT);
		say(s, R_RCPT_OK);
		break;
	case RCPT_UNKNOWN:
		say(s, R_USER_UNKNOWN);
		break;
	case RCPT_RELAY:
		say(s, R_RELAY);
		break;
	case RCPT_NOSPACE:
		say(s, R_NOSPACE);
		break;
	default:
		say(s, R_TEMP);
		break;
	}
}

static void cmd_data(struct smtp_session *s, const char *arg, size_t n)
{
	int r;

	(void)arg;
	if (s->phase == PHASE_GREETING) {
		say(s, R_NEED_HELO);
		return;
	}
	if (s->phase == PHASE_READY) {
		say(s, R_NEED_MAIL);
		return;
	}
	if (s->phase != PHASE_RCPT) {
		say(s, R_NEED_RCPT);
		return;
	}
	if (s->bdat_used) {
		say(s, R_BDAT_DATA);
		return;
	}
	if (n) {
		say(s, R_SYNTAX);
		return;
	}
	r = message_begin(s);
	if (r != SINK_OK) {
		say(s, sink_reply(r));
		return;
	}
	say(s, R_DATA_GO);
	s->body_since = s->now;
	enter(s, PHASE_DATA);
	smtp_trace_headers(s);
}

#if CFG_CHUNKING
static void cmd_bdat(struct smtp_session *s, const char *arg, size_t n)
{
	struct smtp_decoder *d = &s->dec;
	const char *sp = memchr(arg, ' ', n);
	size_t numlen = sp ? (size_t)(sp - arg) : n;
	uint64_t size;
	int last = 0;
	enum smtp_reply_id r = R_NONE;

	if (text_parse_u64(arg, numlen, &size) != 0) {
		say(s, s->phase == PHASE_REFUSED ? R_REFUSED_CMD : R_SYNTAX_BDAT);
		return;
	}
	if (sp) {
		const char *l = sp;

		skip_sp(&l);
		if (text_casecmp(l, "LAST") != 0) {
			say(s, s->phase == PHASE_REFUSED ? R_REFUSED_CMD : R_SYNTAX_BDAT);
			return;
		}
		last = 1;
	}
	s->bdat_last = (uint8_t)last;
	/* From here on the chunk is always read, whatever the answer. */
	if (s->phase == PHASE_REFUSED)
		r = R_REFUSED_CMD;
	else if (s->phase == PHASE_GREETING)
		r = R_NEED_HELO;
	else if (s->phase == PHASE_READY)
		r = R_NEED_MAIL;
	else if (s->phase != PHASE_RCPT)
		r = R_NEED_RCPT;
	if (r == R_NONE && !s->bdat_used) {
		/* the first chunk opens the message (and resets the decoder) */
		int br = message_begin(s);

		s->bdat_used = 1;
		if (br != SINK_OK)
			s->bdat_failed = (uint8_t)sink_reply(br);
		else
			smtp_trace_headers(s);
	}
	d->chunk_reply = (uint8_t)r;
	d->chunk_noerr = 0;
	if (r == R_NONE && s->bdat_failed) {
		/* the transaction failed already: repeat its answer */
		d->chunk_reply = s->bdat_failed;
		d->chunk_noerr = 1;
	} else if (r == R_NONE) {
		if (size > s->p.max_size - d->size || d->size > s->p.max_size)
			smtp_data_error(d, REJECT_SIZE);
		else
			d->size += size;
	}
	d->resume_phase = (uint8_t)s->phase;
	d->chunk_left = size;
	d->chunk_size = size;
	s->body_since = s->now;
	s->idle_since = s->now;
	enter(s, PHASE_BDAT);
	if (size == 0)
		chunk_end(s);
}
#endif

static void cmd_rset(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	if (n) {
		say(s, R_SYNTAX);
		return;
	}
	tx_reset(s);
	say(s, R_OK);
}

static void cmd_noop(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	(void)n;
	say(s, R_OK);
}

static void cmd_quit(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	(void)n;
	close_with(s, R_BYE);
}

static void cmd_vrfy(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	say(s, n ? R_VRFY : R_SYNTAX_VRFY);
}

static void cmd_expn(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	(void)n;
	say(s, R_NOT_IMPL);
}

static void cmd_help(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	(void)n;
	say(s, R_HELP);
}

static void cmd_starttls(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	if (s->tls) {
		say(s, R_TLS_ACTIVE);
		return;
	}
	if (!s->p.tls_offered) {
		say(s, R_NO_TLS);
		return;
	}
	if (n) {
		say(s, R_SYNTAX);
		return;
	}
	tx_reset(s);
	say(s, R_TLS_GO);
	enter(s, PHASE_TLS_WAIT);
	/* process() throws away whatever was pipelined after it */
}

#if CFG_AUTH
/* ---- AUTH (RFC 4954) -------------------------------------------------- */

enum { STEP_PLAIN, STEP_USER, STEP_PASS };

/* Back to the command state with reply r; the user name is forgotten
 * unless a checked AUTH made it the session's identity. */
static void auth_end(struct smtp_session *s, enum smtp_reply_id r)
{
	if (s->auth != AUTH_CHECKED)
		s->auth_name[0] = '\0';
	enter(s, PHASE_READY);
	say(s, r);
}

/* The pause is over: 535, and after the last allowed failure 421. */
static void auth_failed(struct smtp_session *s)
{
	auth_end(s, R_AUTH_FAIL);
	if (++s->auth_fails >= SMTP_AUTH_MAX_FAILS)
		close_with(s, R_ERRLIMIT);
}

static void auth_check(struct smtp_session *s, const char *pass)
{
	int r = s->sink->auth(s->ctx, s->auth_name, pass);

	if (r == AUTH_FAIL) {
		/* now is whole seconds, up to one behind the real time:
		 * two of them make the pause at least one real second */
		s->auth_until = s->now + 2;
		s->idle_since = s->now;
		enter(s, PHASE_AUTH_WAIT);
		return;
	}
	s->auth = (uint8_t)(r == AUTH_CHECKED ? AUTH_CHECKED : AUTH_ANY);
	auth_end(s, R_AUTH_OK);
}

/* One response, t[0..n) inside s->line (writable: decoded in place). */
static void auth_response(struct smtp_session *s, char *t, size_t n)
{
	long k;
	char *z1, *z2;

	if (n == 1 && t[0] == '*') {
		auth_end(s, R_AUTH_CANCEL);
		return;
	}
	if (n == 1 && t[0] == '=')
		n = 0;          /* an empty initial response (RFC 4954 4) */
	k = text_b64_decode(t, n, t, n);
	if (k < 0) {
		auth_end(s, R_AUTH_BAD);
		return;
	}
	t[k] = '\0';
	if (s->auth_step == STEP_PLAIN) {
		/* authzid NUL authcid NUL passwd (RFC 4616); the authzid is
		 * ignored: the identity is the authcid */
		z1 = memchr(t, '\0', (size_t)k);
		z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(t + k - z1 - 1)) : NULL;
		if (!z2 || strlen(z2 + 1) != (size_t)(t + k - z2 - 1) ||
		    (size_t)(z2 - z1 - 1) > SMTP_AUTH_NAME_MAX) {
			auth_end(s, R_AUTH_BAD);
			return;
		}
		memcpy(s->auth_name, z1 + 1, (size_t)(z2 - z1));
		auth_check(s, z2 + 1);
		return;
	}
	if (strlen(t) != (size_t)k ||
	    (s->auth_step == STEP_USER && k > SMTP_AUTH_NAME_MAX)) {
		auth_end(s, R_AUTH_BAD);
		return;
	}
	if (s->auth_step == STEP_PASS) {
		auth_check(s, t);
		return;
	}
	memcpy(s->auth_name, t, (size_t)k + 1);
	s->auth_step = STEP_PASS;
	enter(s, PHASE_AUTH);
	say(s, R_AUTH_PASS);
}

static void cmd_auth(struct smtp_session *s, const char *arg, size_t n)
{
	const char *sp = memchr(arg, ' ', n);
	size_t ml = sp ? (size_t)(sp - arg) : n;

	s->wipe = 1;    /* an initial response is in the line */
	if (s->phase == PHASE_GREETING) {
		say(s, R_NEED_HELO);
		return;
	}
	if (s->phase != PHASE_READY || s->auth) {
		say(s, R_BDAT_SEQ);
		return;
	}
	if (s->p.auth == SMTP_AUTH_TLS && !s->tls) {
		say(s, R_AUTH_TLS);
		return;
	}
	if (ml == 5 && text_ncasecmp(arg, "PLAIN", 5) == 0) {
		s->auth_step = STEP_PLAIN;
	} else if (ml == 5 && text_ncasecmp(arg, "LOGIN", 5) == 0) {
		s->auth_step = STEP_USER;
	} else {
		say(s, n ? R_AUTH_MECH : R_SYNTAX);
		return;
	}
	enter(s, PHASE_AUTH);
	if (sp) {
		skip_sp(&sp);
		auth_response(s, s->line + (sp - s->line), strlen(sp));
	} else {
		say(s, s->auth_step == STEP_PLAIN ? R_AUTH_PLAIN : R_AUTH_USER);
	}
}
#endif

static const struct {
	char verb[9];
	void (*fn)(struct smtp_session *s, const char *arg, size_t n);
} commands[] = {
	{ "HELO", cmd_helo },
	{ "EHLO", cmd_ehlo },
	{ "MAIL", cmd_mail },
	{ "RCPT", cmd_rcpt },
	{ "DATA", cmd_data },
#if CFG_CHUNKING
	{ "BDAT", cmd_bdat },
#else
	{ "BDAT", cmd_expn },   /* known, not in this build: 502 */
#endif
	{ "RSET", cmd_rset },
	{ "NOOP", cmd_noop },
	{ "QUIT", cmd_quit },
	{ "VRFY", cmd_vrfy },
	{ "EXPN", cmd_expn },
	{ "HELP", cmd_help },
	{ "STARTTLS", cmd_starttls },
#if CFG_AUTH
	{ "AUTH", cmd_auth },
#endif
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Refused client (allow-from): QUIT closes, BDAT's chunk is read and
 * dropped, everything else is 503; SMTP_REFUSED_MAX_COMMANDS end it. */
static void exec_refused(struct smtp_session *s, size_t i, const char *arg)
{
	if (i < NCOMMANDS && commands[i].fn == cmd_quit) {
		close_with(s, R_BYE);
		return;
	}
#if CFG_CHUNKING
	if (i < NCOMMANDS && commands[i].fn == cmd_bdat)
		cmd_bdat(s, arg, strlen(arg));
	else
#else
	(void)arg;
#endif
		say(s, R_REFUSED_CMD);
	if (++s->commands >= SMTP_REFUSED_MAX_COMMANDS)
		close_with(s, R_REFUSED_LIMIT);
}

/* A complete command line is in s->line[0..line_len), LF removed. */
static void exec_line(struct smtp_session *s)
{
	char *l = s->line;
	size_t n = s->line_len, vl, i;
	const char *arg;

	if (n && l[n - 1] == '\r')
		n--;
#if CFG_AUTH
	if (s->phase == PHASE_AUTH) {
		while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
			n--;
		auth_response(s, l, n);   /* a NUL is bad base64 */
		return;
	}
#endif
	if (memchr(l, '\0', n)) {
		if (s->phase == PHASE_REFUSED)
			exec_refused(s, NCOMMANDS, "");
		else
			say(s, R_NUL);
		return;
	}
	while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
		n--;
	l[n] = '\0';
	for (vl = 0; vl < n && l[vl] != ' '; vl++)
		;
	arg = l + vl;
	skip_sp(&arg);
	for (i = 0; i < NCOMMANDS; i++)
		if (strlen(commands[i].verb) == vl &&
		    text_ncasecmp(l, commands[i].verb, vl) == 0)
			break;
	if (s->phase == PHASE_REFUSED)
		exec_refused(s, i, arg);
	else if (i == NCOMMANDS)
		say(s, R_UNKNOWN_CMD);
	else
		commands[i].fn(s, arg, strlen(arg));
}

/* ---- input ---------------------------------------------------------- */

static size_t line_step(struct smtp_session *s, const uint8_t *p, size_t n)
{
	const uint8_t *lf;
	size_t take;

	if (s->line_len == 0 && !s->line_too_long &&
	    smtp_out_free(s) < SMTP_REPLY_RESERVE)
		return 0;
	if (s->line_since < 0)
		s->line_since = s->now;
	lf = memchr(p, '\n', n);
	take = lf ? (size_t)(lf - p) : n;
	if (!s->line_too_long) {
		if (s->line_len + take > SMTP_LINE_MAX - 1) {
			s->line_too_long = 1;
		} else {
			memcpy(s->line + s->line_len, p, take);
			s->line_len += take;
		}
	}
	if (!lf)
		return n;
	s->line_since = -1;
	if (CFG_AUTH && s->phase == PHASE_AUTH)
		s->wipe = 1;
	if (s->line_too_long) {
		s->line_too_long = 0;
		s->line_len = 0;
		if (s->phase == PHASE_REFUSED) {
			exec_refused(s, NCOMMANDS, "");
		} else {
			if (CFG_AUTH && s->phase == PHASE_AUTH)
				enter(s, PHASE_READY);  /* the exchange is over */
			say(s, R_TOO_LONG);
		}
	} else {
		exec_line(s);
		s->line_len = 0;
	}
	if (CFG_AUTH && s->wipe) {
		/* credentials, in the line and in what was read: gone now */
		s->wipe = 0;
		text_wipe(s->line, sizeof(s->line));
		text_wipe(s->in, (size_t)(p - s->in) + take + 1);
	}
	return take + 1;
}

static void process(struct smtp_session *s)
{
	while (s->in_start < s->in_end) {
		const uint8_t *p = s->in + s->in_start;
		size_t n = s->in_end - s->in_start, used;
		int can_end = smtp_out_free(s) >= SMTP_REPLY_RESERVE;
		int end = 0;

		switch (s->phase) {
		case PHASE_CLOSING:
		case PHASE_TLS_WAIT:
			used = n;
			break;
		case PHASE_COMMIT:
		case PHASE_AUTH_WAIT:   /* (never without CONFIG_AUTH) */
			used = 0;
			break;
		case PHASE_DATA:
			used = smtp_data_feed(s, p, n, can_end, &end);
			break;
#if CFG_CHUNKING
		case PHASE_BDAT:
			used = smtp_bdat_feed(s, p, n, can_end);
			end = s->dec.chunk_left == 0;
			break;
#endif
		default:
			used = line_step(s, p, n);
			break;
		}
		s->in_start += used;
		if (end) {
			if (s->phase == PHASE_DATA) {
				enter(s, PHASE_READY);
				message_end(s);
			} else if (CFG_CHUNKING) {
				chunk_end(s);
			}
		} else if (used == 0) {
			break;
		}
	}
	if (s->in_start == s->in_end)
		s->in_start = s->in_end = 0;
}

/* ---- public API ----------------------------------------------------- */

void smtp_session_start(struct smtp_session *s, const struct smtp_params *p,
                        const struct smtp_sink *sink, void *ctx,
                        int64_t now, int64_t wall)
{
	/* everything but the buffers, which their indexes bound: a session
	 * with small messages never makes their tails resident */
	memset(s, 0, offsetof(struct smtp_session, line));
	s->in_start = s->in_end = 0;
	s->out_start = s->out_end = 0;
	s->p = *p;
	copy_clean(s->hostname, sizeof(s->hostname), p->hostname ? p->hostname : "", 1);
	copy_clean(s->client_ip, sizeof(s->client_ip), p->client_ip ? p->client_ip : "", 1);
	s->p.hostname = s->hostname;
	s->p.client_ip = s->client_ip;
	s->sink = sink;
	s->ctx = ctx;
	s->tls = p->tls_active;
	s->now = now;
	s->wall = wall;
	s->idle_since = now;
	s->started = now;
	s->line_since = -1;
	s->dec.error = REJECT_NONE;
	if (p->refused) {
		enter(s, PHASE_REFUSED);
		smtp_reply(s, R_DENIED);
	} else {
		enter(s, PHASE_GREETING);
		smtp_reply(s, R_GREETING);
	}
}

unsigned smtp_state(const struct smtp_session *s)
{
	unsigned f = 0;
	size_t in_free = sizeof(s->in) - (s->in_end - s->in_start);

	if (s->out_end > s->out_start)
		f |= SMTP_WANT_SEND;
	if (s->closing) {
		f |= SMTP_CLOSE;
		if (!(f & SMTP_WANT_SEND))
			return f | SMTP_DEAD;
		return f | SMTP_WANT_RECV;   /* read and drop: no RST before the reply */
	}
	if (s->phase == PHASE_TLS_WAIT)
		return (f & SMTP_WANT_SEND) ? f : f | SMTP_START_TLS;
	if (s->phase == PHASE_COMMIT)
		f |= SMTP_COMMITTING;
	if (CFG_AUTH && s->phase == PHASE_AUTH_WAIT)
		f |= SMTP_PAUSED;
	if (in_free > 0)
		f |= SMTP_WANT_RECV;
	return f;
}

uint8_t *smtp_recv_buf(struct smtp_session *s, size_t *len)
{
	if (s->closing || s->phase == PHASE_TLS_WAIT)
		s->in_start = s->in_end = 0;
	if (s->in_start > 0) {
		memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
		s->in_end -= s->in_start;
		s->in_start = 0;
	}
	*len = sizeof(s->in) - s->in_end;
	return s->in + s->in_end;
}

void smtp_recv_ack(struct smtp_session *s, size_t n)
{
	assert(n <= sizeof(s->in) - s->in_end);
	if (n > sizeof(s->in) - s->in_end)
		n = sizeof(s->in) - s->in_end;
	s->in_end += n;
	if (n && (s->phase == PHASE_DATA || s->phase == PHASE_BDAT))
		s->idle_since = s->now;   /* a client sending its message is not idle */
	process(s);
}

const char *smtp_send_buf(const struct smtp_session *s, size_t *len)
{
	*len = s->out_end - s->out_start;
	return s->out + s->out_start;
}

void smtp_send_ack(struct smtp_session *s, size_t n)
{
	assert(n <= s->out_end - s->out_start);
	if (n > s->out_end - s->out_start)
		n = s->out_end - s->out_start;
	s->out_start += n;
	if (s->out_start == s->out_end)
		s->out_start = s->out_end = 0;
	if (n)
		process(s);   /* room for replies again: resume the input */
}

/*
 * Times are whole seconds, so "since" may lie up to a second before the
 * real start: a limit fires only once more than `timeout` whole seconds
 * have passed (between timeout and timeout + 1 real seconds), never early.
 */
static int64_t deadline_at(const struct smtp_session *s)
{
	int64_t t = INT64_MAX, to = s->p.timeout;

	if (s->closing) {
		/* a client that does not read its last reply is dropped */
		return s->out_end > s->out_start ? s->idle_since + to : INT64_MAX;
	}
	if (s->phase == PHASE_COMMIT)
		return INT64_MAX;
	if (s->p.refused)   /* also while it sends a BDAT chunk */
		t = s->started + SMTP_REFUSED_MAX_SECONDS;
	if (s->phase == PHASE_DATA || s->phase == PHASE_BDAT) {
		/* idle_since is the last octet here: both limits apply */
		if (s->body_since + 10 * to < t)
			t = s->body_since + 10 * to;
		if (s->idle_since + to < t)
			t = s->idle_since + to;
	} else if (s->line_since >= 0) {
		if (s->line_since + to < t)
			t = s->line_since + to;
	} else if (s->idle_since + to < t) {
		t = s->idle_since + to;
	}
	return t;
}

int64_t smtp_deadline(const struct smtp_session *s)
{
	int64_t t = deadline_at(s);

	if (CFG_AUTH && s->phase == PHASE_AUTH_WAIT)
		return s->auth_until;
	return t == INT64_MAX ? t : t + 1;
}

void smtp_tick(struct smtp_session *s, int64_t now, int64_t wall)
{
	s->now = now;
	s->wall = wall;
	if (now < smtp_deadline(s))
		return;
#if CFG_AUTH
	if (s->phase == PHASE_AUTH_WAIT) {
		auth_failed(s);
		process(s);     /* what the client sent meanwhile */
		return;
	}
#endif
	if (s->closing) {
		s->out_start = s->out_end = 0;   /* give up on the reply */
		return;
	}
	if (s->phase == PHASE_TLS_WAIT) {
		/* mid-handshake: no plaintext reply is possible any more */
		close_with(s, R_NONE);
		s->out_start = s->out_end = 0;
		return;
	}
	if (s->p.refused && now > s->started + SMTP_REFUSED_MAX_SECONDS) {
		close_with(s, R_REFUSED_LIMIT);
		return;
	}
	close_with(s, R_TIMEOUT);
}

void smtp_commit_done(struct smtp_session *s, int result)
{
	if (s->phase != PHASE_COMMIT)
		return;
	finish_commit(s, result);
	process(s);
}

void smtp_tls_started(struct smtp_session *s)
{
	s->tls = 1;
	s->esmtp = 0;
	s->helo[0] = '\0';
	if (CFG_AUTH) {         /* RFC 4954 4: forgotten with the old session */
		s->auth = 0;
		s->auth_name[0] = '\0';
	}
	s->in_start = s->in_end = 0;
	s->line_len = 0;
	s->line_too_long = 0;
	s->line_since = -1;
	s->idle_since = s->now;
	if (!s->closing)
		enter(s, PHASE_GREETING);
}

int smtp_shutdown(struct smtp_session *s, int force)
{
	if (s->closing)
		return 0;
	if (!force && (s->phase == PHASE_DATA || s->phase == PHASE_BDAT ||
	               s->phase == PHASE_COMMIT || s->body_open))
		return 1;
	close_with(s, R_SHUTDOWN);
	return 0;
}

void smtp_session_end(struct smtp_session *s)
{
	msg_abort(s, REJECT_ABORTED);
	s->sink->reset(s->ctx);
	s->closing = 1;
	enter(s, PHASE_CLOSING);
	s->in_start = s->in_end = 0;
	s->out_start = s->out_end = 0;
}

const char *smtp_proto(const struct smtp_session *s)
{
#if CFG_AUTH
	if (s->auth == AUTH_CHECKED) {   /* RFC 3848: AUTH is ESMTP */
		if (s->utf8)
			return s->tls ? "UTF8SMTPSA" : "UTF8SMTPA";
		return s->tls ? "ESMTPSA" : "ESMTPA";
	}
#endif
	if (s->utf8)
		return s->tls ? "UTF8SMTPS" : "UTF8SMTP";
	if (!s->esmtp)
		return "SMTP";
	return s->tls ? "ESMTPS" : "ESMTP";
}
