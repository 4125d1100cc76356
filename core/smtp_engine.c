/* see smtp_engine.h
 *
 * Buffer invariants:
 *
 *   in[in_start .. in_end)    received, not yet consumed.  Consumed only by
 *                             process(), which moves what is left to the
 *                             front before it returns: between calls
 *                             in_start is 0, so recv_buf() changes nothing.
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
 * Phases change only through smtp_enter().  PHASE_COMMIT consumes nothing;
 * PHASE_CLOSING and PHASE_TLS_WAIT throw input away, and every public call
 * that can enter them runs process() before it returns.
 */
#include "smtp_engine.h"

#include <stddef.h>
#include <string.h>

#include "assert_at.h"
#include "smtp_data.h"
#include "smtp_int.h"
#include "text.h"

_Static_assert(CFG_REPLY_BUFSIZE >= SMTP_REPLY_RESERVE,
               "the reply buffer must hold the largest reply");
_Static_assert(CFG_RECV_BUFSIZE >= SMTP_LINE_MAX, "recv buffer too small");

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
		smtp_exec_bad_line(s);
	} else {
		smtp_exec_line(s);
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
			used = smtp_data_feed(&s->dec, p, n, can_end, &end);
			break;
#if CFG_CHUNKING
		case PHASE_BDAT:
			used = smtp_bdat_feed(&s->dec, p, n, can_end);
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
				smtp_enter(s, PHASE_READY);
				smtp_message_end(s);
			} else {
#if CFG_CHUNKING
				smtp_chunk_end(s);
#endif
			}
		} else if (used == 0) {
			break;
		}
	}
	/* what waits goes to the front, so that recv_buf() needs to change
	 * nothing to offer all the free space */
	if (s->in_start > 0) {
		memmove(s->in, s->in + s->in_start, s->in_end - s->in_start);
		s->in_end -= s->in_start;
		s->in_start = 0;
	}
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
	smtp_copy_clean(s->hostname, sizeof(s->hostname), p->hostname ? p->hostname : "", 1);
	smtp_copy_clean(s->client_ip, sizeof(s->client_ip), p->client_ip ? p->client_ip : "", 1);
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
		smtp_enter(s, PHASE_REFUSED);
		smtp_reply(s, R_DENIED);
	} else {
		smtp_enter(s, PHASE_GREETING);
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

uint8_t *smtp_recv_buf(const struct smtp_session *s, size_t *len)
{
	/* in_start is 0 here (process() leaves it so), and input that will
	 * never be read is gone already (PHASE_CLOSING and PHASE_TLS_WAIT
	 * consume everything) */
	*len = sizeof(s->in) - s->in_end;
	return (uint8_t *)s->in + s->in_end;
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
		smtp_auth_failed(s);
		process(s);     /* what the client sent meanwhile */
		return;
	}
#endif
	if (s->closing) {
		s->out_start = s->out_end = 0;   /* give up on the reply */
	} else if (s->phase == PHASE_TLS_WAIT) {
		/* mid-handshake: no plaintext reply is possible any more */
		smtp_close_with(s, R_NONE);
		s->out_start = s->out_end = 0;
	} else if (s->p.refused && now > s->started + SMTP_REFUSED_MAX_SECONDS) {
		smtp_close_with(s, R_REFUSED_LIMIT);
	} else {
		smtp_close_with(s, R_TIMEOUT);
	}
	process(s);     /* closing: the input waiting is dropped */
}

void smtp_commit_done(struct smtp_session *s, int result)
{
	if (s->phase != PHASE_COMMIT)
		return;
	smtp_finish_commit(s, result);
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
		smtp_enter(s, PHASE_GREETING);
}

int smtp_shutdown(struct smtp_session *s, int force)
{
	if (s->closing)
		return 0;
	if (!force && (s->phase == PHASE_DATA || s->phase == PHASE_BDAT ||
	               s->phase == PHASE_COMMIT || s->body_open))
		return 1;
	smtp_close_with(s, R_SHUTDOWN);
	process(s);     /* closing: the input waiting is dropped */
	return 0;
}

void smtp_session_end(struct smtp_session *s)
{
	smtp_msg_abort(s, REJECT_ABORTED);
	s->sink->reset(s->ctx);
	s->closing = 1;
	smtp_enter(s, PHASE_CLOSING);
	s->in_start = s->in_end = 0;
	s->out_start = s->out_end = 0;
}
