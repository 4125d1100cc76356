/*
 * What the engine's files share.  Internal to core/smtp_*.c.
 *
 * The files, each using only those below it (make check-layering fails on
 * a cycle):
 *
 *   smtp_engine.c   the public calls: buffers, input loop, timeouts
 *   smtp_cmd.c      the command table (verb, phases allowed, handler) and
 *                   the handlers of every command but BDAT and AUTH
 *   smtp_bdat.c     BDAT and the end of its chunks
 *   smtp_auth.c     AUTH (CONFIG_AUTH)
 *   smtp_tx.c       replies and closing, the transaction and its message
 *   smtp_trace.c    Return-Path: and Received:
 *   smtp_reply.c    the reply table and the reply buffer
 *   smtp_data.c     the DATA and BDAT byte decoders (no session)
 */
#ifndef MAILNOOK_SMTP_INT_H
#define MAILNOOK_SMTP_INT_H

#include <stddef.h>

#include "smtp_engine.h"
#include "smtp_reply.h"

/* Phases change only through smtp_enter(). */
static inline void smtp_enter(struct smtp_session *s, enum smtp_phase p)
{
	s->phase = p;
}

/* ---- smtp_tx.c ---- */

/* Replies to a client command; counts errors toward SMTP_MAX_ERRORS when
 * counts is set and the reply is the client's fault. */
void smtp_say_err(struct smtp_session *s, enum smtp_reply_id r, int counts);
/* smtp_say_err(s, r, 1) */
void smtp_say(struct smtp_session *s, enum smtp_reply_id r);
/* Queues a closing reply (421 or 221, or none with R_NONE) and stops
 * reading: PHASE_CLOSING, whose input is dropped. */
void smtp_close_with(struct smtp_session *s, enum smtp_reply_id r);
/* Drops the open message, if any (never one handed to commit()). */
void smtp_msg_abort(struct smtp_session *s, enum smtp_reject why);
/* The transaction is over: forget it here and in the sink. */
void smtp_tx_reset(struct smtp_session *s);
/* The reply for a sink failure (enum sink_result). */
enum smtp_reply_id smtp_sink_reply(int r);
/* The reply for the decoder's recorded error. */
enum smtp_reply_id smtp_reject_reply(const struct smtp_decoder *d);
/* Copies src (NUL-terminated) into dst[size], sanitised for headers. */
void smtp_copy_clean(char *dst, size_t size, const char *src, int ascii_only);
/* Skips spaces at *p; returns how many. */
size_t smtp_skip_sp(const char **p);
/* Opens the message for DATA or a first BDAT chunk: SINK_OK or the
 * sink's failure. */
int smtp_message_begin(struct smtp_session *s);
/* The whole message is read: commit it or answer its error. */
void smtp_message_end(struct smtp_session *s);
/* The store's answer r: the final reply, and the transaction is over. */
void smtp_finish_commit(struct smtp_session *s, int r);

/* ---- smtp_bdat.c ---- */

/* BDAT: the chunk is always read; s->deny, the command table's answer,
 * is given once it is (R_NONE: the chunk is taken). */
void smtp_cmd_bdat(struct smtp_session *s, const char *arg, size_t n);
/* The BDAT chunk is read (PHASE_BDAT, chunk_left 0): its reply. */
void smtp_chunk_end(struct smtp_session *s);

/* ---- smtp_auth.c (CONFIG_AUTH) ---- */

void smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t n);
/* One response line t[0..n) in PHASE_AUTH (t is writable: decoded in
 * place). */
void smtp_auth_response(struct smtp_session *s, char *t, size_t n);
/* The pause after a failure is over: 535, and after the last allowed
 * failure 421. */
void smtp_auth_failed(struct smtp_session *s);

/* ---- smtp_cmd.c ---- */

/* A complete command line is in s->line[0..line_len), LF removed: runs
 * it. */
void smtp_exec_line(struct smtp_session *s);
/* A line that cannot be run (too long): its reply. */
void smtp_exec_bad_line(struct smtp_session *s);

#endif
