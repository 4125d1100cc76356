/*
 * Replies and closing, the transaction and its message; see smtp_int.h.
 *
 * Every reply to a command goes through smtp_say(): the engine reserved
 * SMTP_REPLY_RESERVE octets of out[] before it read the command (see
 * smtp_engine.c), so queuing never fails here.
 */
#include <string.h>

#include "smtp_data.h"
#include "assert_at.h"
#include "smtp_int.h"
#include "smtp_trace.h"
#include "text.h"

void smtp_msg_abort(struct smtp_session *s, enum smtp_reject why)
{
	if (s->body_open) {
		s->body_open = 0;
		s->sink->abort(s->ctx, why, s->dec.size);
	}
}

void smtp_tx_reset(struct smtp_session *s)
{
	smtp_msg_abort(s, REJECT_ABORTED);
	s->sink->reset(s->ctx);
	s->sender[0] = '\0';
	s->first_rcpt[0] = '\0';
	s->nrcpt = 0;
	s->utf8 = 0;
	s->bdat_used = 0;
	s->bdat_last = 0;
	s->bdat_failed = 0;
	if (s->phase >= PHASE_MAIL && s->phase <= PHASE_COMMIT)
		smtp_enter(s, PHASE_READY);
}

void smtp_close_with(struct smtp_session *s, enum smtp_reply_id r)
{
	if (s->closing)
		return;
	smtp_msg_abort(s, REJECT_ABORTED);
	smtp_reply(s, r);
	s->closing = 1;
	s->idle_since = s->now;
	s->line_len = 0;
	s->line_too_long = 0;
	s->line_since = -1;
	smtp_enter(s, PHASE_CLOSING);
}

void smtp_say_err(struct smtp_session *s, enum smtp_reply_id r, int counts)
{
	int ok;

	if (s->closing)
		return;
	ok = smtp_reply(s, r);
	assert(ok);   /* SMTP_REPLY_RESERVE was free before the command */
	(void)ok;
	s->idle_since = s->now;
	if (counts && smtp_reply_counts(r) && ++s->errors >= SMTP_MAX_ERRORS)
		smtp_close_with(s, R_ERRLIMIT);
}

void smtp_say(struct smtp_session *s, enum smtp_reply_id r)
{
	smtp_say_err(s, r, 1);
}

enum smtp_reply_id smtp_sink_reply(int r)
{
	switch (r) {
	case SINK_NOSPACE:
		return R_NOSPACE;
	case SINK_PERM:
		return R_PERM;
	case SINK_FULL:
		return R_FULL;
	default:
		return R_TEMP;
	}
}

enum smtp_reply_id smtp_reject_reply(const struct smtp_decoder *d)
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
		return smtp_sink_reply(d->store_result);
	}
}

void smtp_copy_clean(char *dst, size_t size, const char *src, int ascii_only)
{
	text_copy(dst, size, src);
	smtp_sanitize(dst, ascii_only);
}

size_t smtp_skip_sp(const char **p)
{
	size_t k = 0;

	while (**p == ' ') {
		(*p)++;
		k++;
	}
	return k;
}

/* ---- the message ---------------------------------------------------- */

void smtp_finish_commit(struct smtp_session *s, int r)
{
	int ok;

	smtp_enter(s, PHASE_READY);
	if (r == SINK_OK) {
		s->messages++;
		ok = smtp_reply_delivered(s);
		assert(ok);
		(void)ok;
		s->idle_since = s->now;
	} else {
		smtp_say(s, smtp_sink_reply(r));
	}
	smtp_tx_reset(s);
}

void smtp_message_end(struct smtp_session *s)
{
	int r;

	if (s->dec.error != REJECT_NONE) {
		enum smtp_reply_id rr = smtp_reject_reply(&s->dec);

		smtp_msg_abort(s, s->dec.error);
		smtp_enter(s, PHASE_READY);
		smtp_tx_reset(s);
		smtp_say(s, rr);
		return;
	}
	s->body_open = 0;          /* the store owns it now */
	r = s->sink->commit(s->ctx);
	if (r == SINK_PENDING) {
		smtp_enter(s, PHASE_COMMIT);
		return;
	}
	smtp_finish_commit(s, r);
}

int smtp_message_begin(struct smtp_session *s)
{
	int r;

	memset(s->id, 0, sizeof(s->id));
	r = s->sink->begin(s->ctx, s->id);
	if (r != SINK_OK)
		return r;
	s->id[SMTP_ID_MAX - 1] = '\0';
	smtp_sanitize(s->id, 1);
	s->body_open = 1;
	smtp_data_init(&s->dec, s->p.max_size, s->p.strict_crlf,
	               s->sink->write, s->ctx);
	return SINK_OK;
}
