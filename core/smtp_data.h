/*
 * The DATA and BDAT byte machines and the trace headers.  Internal to
 * core/smtp_*.c.
 *
 * Both decoders read the session's input directly, never buffer a line,
 * and hand decoded bytes (LF line ends) to the sink in batches through a
 * small stack buffer, flushed when full and before returning.  The first
 * error (bare CR/LF, NUL, size, loop, a failed write) is kept in
 * s->dec.error; from then on nothing more is written, but the input is still
 * read to the end of the data.
 */
#ifndef MAILNOOK_SMTP_DATA_H
#define MAILNOOK_SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "smtp_engine.h"

/* Starts a new message: decoder at the beginning of a line, in the
 * headers, no error, size 0. */
void smtp_data_init(struct smtp_decoder *d);

/* Records e unless an error is already recorded. */
void smtp_data_error(struct smtp_decoder *d, enum smtp_reject e);

/* Writes p[0..n) to the sink now (trace headers: not counted, not scanned
 * for Received:).  A failure becomes REJECT_STORE. */
void smtp_data_write(struct smtp_session *s, const void *p, size_t n);

/*
 * DATA: decodes p[0..n); returns the octets consumed.  *end is set when the
 * final CRLF "." CRLF was consumed.  With can_end 0 the final LF is not
 * consumed (the caller has no room for the reply yet): the call returns
 * before it, and 0 when it is the first octet.
 */
size_t smtp_data_feed(struct smtp_session *s, const uint8_t *p, size_t n,
                      int can_end, int *end);

/*
 * BDAT: consumes up to s->dec.chunk_left octets of p[0..n); returns the
 * octets consumed.  With can_end 0 the chunk's last octet is not consumed.
 * Discarded chunks (s->dec.chunk_reply set) are only counted down.  A NUL
 * is REJECT_NUL.
 */
size_t smtp_bdat_feed(struct smtp_session *s, const uint8_t *p, size_t n,
                      int can_end);

/* BDAT LAST: a CR that ended the last chunk is content; write it. */
void smtp_bdat_finish(struct smtp_session *s);

/* Writes Return-Path: and Received: for the message just begun. */
void smtp_trace_headers(struct smtp_session *s);

/* Replaces control characters, C1 (UTF-8 C2 80..C2 9F) as "??", and with
 * ascii_only octets above 0x7e, by '?', in place. */
void smtp_sanitize(char *p, int ascii_only);

#endif
