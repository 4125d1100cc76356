/*
 * BDAT (RFC 3030); see smtp_int.h.
 *
 * A chunk is framed by its length, so it is always read to its end, even
 * when the command is refused (the table's answer in s->deny, a refused
 * client) or the transaction failed already: the reply waits for the end
 * of the chunk (d->chunk_reply), and the bytes between are never taken as
 * commands.
 */
#include <string.h>

#include "smtp_data.h"
#include "assert_at.h"
#include "smtp_int.h"
#include "smtp_trace.h"
#include "text.h"

#if CFG_CHUNKING   /* without it, BDAT is 502 (smtp_cmd.c) */

void smtp_chunk_end(struct smtp_session *s)
{
	struct smtp_decoder *d = &s->dec;

	smtp_enter(s, (enum smtp_phase)d->resume_phase);
	if (d->chunk_reply) {
		enum smtp_reply_id r = (enum smtp_reply_id)d->chunk_reply;
		int counts = !d->chunk_noerr;

		d->chunk_reply = 0;
		d->chunk_noerr = 0;
		if (s->bdat_last && s->bdat_failed)
			smtp_tx_reset(s);
		smtp_say_err(s, r, counts);
		return;
	}
	/* a NUL is answered at the end of the data, as in DATA; the
	 * other errors at once (RFC 3030: the client then stops) */
	if (d->error != REJECT_NONE && (s->bdat_last || d->error != REJECT_NUL)) {
		enum smtp_reply_id r = smtp_reject_reply(d);

		smtp_msg_abort(s, d->error);
		s->bdat_failed = (uint8_t)r;
		if (s->bdat_last)
			smtp_tx_reset(s);
		smtp_say(s, r);
		return;
	}
	if (!s->bdat_last) {
		int ok = smtp_reply_chunk(s, d->chunk_size);

		assert(ok);
		(void)ok;
		s->idle_since = s->now;
		return;
	}
	smtp_bdat_finish(d);
	smtp_message_end(s);
}

void smtp_cmd_bdat(struct smtp_session *s, const char *arg, size_t n)
{
	struct smtp_decoder *d = &s->dec;
	const char *sp = memchr(arg, ' ', n);
	size_t numlen = sp ? (size_t)(sp - arg) : n;
	uint64_t size;
	int last = 0;
	enum smtp_reply_id r = (enum smtp_reply_id)s->deny;
	enum smtp_reply_id bad = s->phase == PHASE_REFUSED ? R_REFUSED_CMD :
	                         R_SYNTAX_BDAT;

	if (text_parse_u64(arg, numlen, &size) != 0) {
		smtp_say(s, bad);
		return;
	}
	if (sp) {
		const char *l = sp;

		smtp_skip_sp(&l);
		if (text_casecmp(l, "LAST") != 0) {
			smtp_say(s, bad);
			return;
		}
		last = 1;
	}
	s->bdat_last = (uint8_t)last;
	/* From here on the chunk is always read, whatever the answer. */
	if (r == R_NONE && !s->bdat_used) {
		/* the first chunk opens the message (and resets the decoder) */
		int br = smtp_message_begin(s);

		s->bdat_used = 1;
		if (br != SINK_OK)
			s->bdat_failed = (uint8_t)smtp_sink_reply(br);
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
	smtp_enter(s, PHASE_BDAT);
	if (size == 0)
		smtp_chunk_end(s);
}

#endif
