/*
 * The DATA and BDAT byte machines.  They know nothing of the session: each
 * call gets the decoder state, and decoded bytes leave through the write
 * callback given to smtp_data_init().
 *
 * Both decoders read the caller's input directly, never buffer a line,
 * and hand decoded bytes (LF line ends) to the write callback in batches
 * through a small stack buffer, flushed when full and before returning.
 * The first error (bare CR/LF, NUL, size, loop, a failed write) is kept in
 * d->error; from then on nothing more is written, but the input is still
 * read to the end of the data.
 */
#ifndef MAILNOOK_SMTP_DATA_H
#define MAILNOOK_SMTP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "sink.h"

#define SMTP_MAX_RECEIVED 100   /* more Received: fields is a loop, 554 5.4.6 */

/* DATA/BDAT decoder state; see smtp_data.c for the byte machine. */
struct smtp_decoder {
	uint8_t state;
	uint8_t bol_crlf;      /* the current line began after CRLF (or at the start) */
	uint8_t pending_cr;    /* BDAT: a CR ended the last chunk */
	uint8_t in_headers;    /* still in the header section */
	uint8_t hdr_pos;       /* how much of "received:" matched at line start */
	uint8_t hdr_bol;       /* at the start of a header line */
	uint8_t strict_crlf;   /* a bare LF in DATA is an error */
	enum smtp_reject error;
	uint64_t size;         /* octets as RFC 1870 counts them */
	uint64_t max_size;     /* more is REJECT_SIZE */
	uint64_t chunk_left;   /* BDAT: octets of this chunk still to read */
	unsigned received;     /* Received: fields seen */
	uint8_t store_result;  /* REJECT_STORE: the failing write's sink_result */
	uint8_t chunk_reply;   /* BDAT: reply to send after a discarded chunk */
	uint8_t chunk_noerr;   /* ... and it is not a new client error */
	uint8_t resume_phase;  /* BDAT: the phase to return to after the chunk */
	uint64_t chunk_size;   /* BDAT: size of the current chunk */
	/* where decoded bytes go: an enum sink_result, SINK_OK or a failure */
	int (*write)(void *ctx, const void *p, size_t n);
	void *ctx;
};

/* Starts a new message: decoder at the beginning of a line, in the
 * headers, no error, size 0; decoded bytes go to write(ctx, ...). */
void smtp_data_init(struct smtp_decoder *d, uint64_t max_size, int strict_crlf,
                    int (*write)(void *ctx, const void *p, size_t n),
                    void *ctx);

/* Records e unless an error is already recorded. */
void smtp_data_error(struct smtp_decoder *d, enum smtp_reject e);

/* Writes p[0..n) now, unless an error is recorded (trace headers: not
 * counted, not scanned for Received:).  A failure becomes REJECT_STORE. */
void smtp_data_write(struct smtp_decoder *d, const void *p, size_t n);

/*
 * DATA: decodes p[0..n); returns the octets consumed.  *end is set when the
 * final CRLF "." CRLF was consumed.  With can_end 0 the final LF is not
 * consumed (the caller has no room for the reply yet): the call returns
 * before it, and 0 when it is the first octet.
 */
size_t smtp_data_feed(struct smtp_decoder *d, const uint8_t *p, size_t n,
                      int can_end, int *end);

/*
 * BDAT: consumes up to d->chunk_left octets of p[0..n); returns the
 * octets consumed.  With can_end 0 the chunk's last octet is not consumed.
 * Discarded chunks (d->chunk_reply set) are only counted down.  A NUL
 * is REJECT_NUL.
 */
size_t smtp_bdat_feed(struct smtp_decoder *d, const uint8_t *p, size_t n,
                      int can_end);

/* BDAT LAST: a CR that ended the last chunk is content; write it. */
void smtp_bdat_finish(struct smtp_decoder *d);

#endif
