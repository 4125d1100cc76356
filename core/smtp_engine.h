/*
 * The SMTP session engine: bytes in, replies and sink calls out, no I/O.
 *
 * The caller owns a struct smtp_session (fixed size: every buffer is inside)
 * and moves bytes through two buffer/acknowledge pairs, in BearSSL's shape:
 *
 *   p = smtp_recv_buf(s, &len);   read up to len bytes into p (changes
 *                                 nothing)
 *   smtp_recv_ack(s, n);          the engine consumes them: it parses
 *                                 commands, decodes DATA/BDAT into the sink,
 *                                 and queues replies
 *   p = smtp_send_buf(s, &len);   len reply bytes are waiting at p
 *   smtp_send_ack(s, n);          n of them were written
 *
 * smtp_state() says what the loop should wait for.  The engine never reads
 * more input than it can answer: when the reply buffer cannot take another
 * reply, or a commit is pending, it stops consuming, recv_buf() returns 0
 * once the input buffer is full, and the loop stops polling for input
 * (back-pressure, no growth).  Feeding one byte at a time or everything at
 * once gives the same replies and the same sink calls.
 *
 * Time is passed in: smtp_tick(s, now, wall) before feeding bytes, now in
 * monotonic seconds (timeouts), wall in UNIX seconds (the Received date);
 * smtp_deadline() for the poll timeout.  The pause after a failed AUTH is
 * such a deadline too: the session stops reading and sends its 535 from
 * smtp_tick(), so no other session waits for it.
 */
#ifndef MAILNOOK_SMTP_ENGINE_H
#define MAILNOOK_SMTP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sink.h"
#include "smtp_data.h"

#define SMTP_LINE_MAX     1000  /* command line, CRLF included (RFC 5321 4.5.3.1.4) */
#define SMTP_MAX_ERRORS   10    /* then 421 4.7.0 */
#define SMTP_HOSTNAME_MAX 255
#define SMTP_HELO_MAX     255   /* longer HELO arguments are cut in the header */
#define SMTP_IP_MAX       46
#define SMTP_REFUSED_MAX_COMMANDS 10
#define SMTP_REFUSED_MAX_SECONDS  30
#define SMTP_AUTH_NAME_MAX 255  /* AUTH user name; longer is a malformed response */
#define SMTP_AUTH_MAX_FAILS 3   /* the third 535 is followed by 421 4.7.0 */

/* smtp_state() flags */
#define SMTP_WANT_RECV   0x01u  /* input space free and input wanted */
#define SMTP_WANT_SEND   0x02u  /* replies waiting */
#define SMTP_CLOSE       0x04u  /* close once the replies are sent */
#define SMTP_START_TLS   0x08u  /* STARTTLS's 220 is sent: start the handshake
                                   now, then call smtp_tls_started() */
#define SMTP_COMMITTING  0x10u  /* waiting for smtp_commit_done() */
#define SMTP_DEAD        0x20u  /* replies sent (or dropped) and CLOSE set:
                                   the loop closes the socket */
#define SMTP_PAUSED      0x40u  /* a failed AUTH's reply is due at
                                   smtp_deadline(): not done yet, even if
                                   the client has half-closed */

struct smtp_params {
	const char *hostname;     /* greeting, Received */
	const char *client_ip;    /* text form, no brackets */
	uint64_t max_size;        /* max-message-size */
	unsigned max_rcpt;        /* max-recipients */
	unsigned timeout;         /* seconds */
	uint8_t strict_crlf;      /* a bare LF in DATA refuses the message */
	uint8_t tls_offered;      /* STARTTLS may be advertised */
	uint8_t tls_active;       /* implicit TLS: already encrypted */
	uint8_t refused;          /* allow-from refused this client: 554 5.7.1 */
	uint8_t auth;             /* enum smtp_auth_offer (CONFIG_AUTH) */
	uint8_t auth_required;    /* ,auth listener: 530 5.7.0 before a checked AUTH */
};

/* When EHLO lists AUTH PLAIN LOGIN.  In every mode the dialogue runs and
 * the sink's auth() answers; only a checked success (AUTH_CHECKED) grants
 * anything (the A of ESMTPA, auth=NAME in the log, MAIL on ,auth). */
enum smtp_auth_offer {
	SMTP_AUTH_QUIET = 0,  /* not advertised; a client that sends it anyway
	                         goes through (cameras give up on an error) */
	SMTP_AUTH_OFFER,      /* advertised on every session */
	SMTP_AUTH_TLS         /* advertised under TLS; without it 538 5.7.11 */
};

enum smtp_phase {
	PHASE_GREETING = 0,  /* before HELO/EHLO */
	PHASE_READY,         /* after HELO/EHLO, no transaction */
	PHASE_MAIL,          /* MAIL accepted */
	PHASE_RCPT,          /* at least one RCPT accepted */
	PHASE_DATA,          /* reading DATA */
	PHASE_BDAT,          /* reading a BDAT chunk */
	PHASE_COMMIT,        /* waiting for the store */
	PHASE_REFUSED,       /* allow-from refused: only QUIT works */
	PHASE_TLS_WAIT,      /* STARTTLS answered, input stopped */
	PHASE_CLOSING,       /* 221 or 421 queued; nothing more is read */
	PHASE_AUTH,          /* AUTH sent a 334: the next line is a response */
	PHASE_AUTH_WAIT      /* AUTH failed: input waits until auth_until, then 535 */
};

struct smtp_session {
	struct smtp_params p;
	char hostname[SMTP_HOSTNAME_MAX + 1];
	char client_ip[SMTP_IP_MAX + 1];
	char helo[SMTP_HELO_MAX + 1];      /* sanitised HELO/EHLO argument */
	char id[SMTP_ID_MAX];              /* current message id */
	char first_rcpt[ADDR_PATH_MAX + 1];/* for "for <...>" in Received */
	char sender[ADDR_PATH_MAX + 1];    /* for Return-Path */

	const struct smtp_sink *sink;
	void *ctx;

	enum smtp_phase phase;
	uint8_t esmtp;          /* EHLO, not HELO */
	uint8_t tls;            /* TLS is active */
	uint8_t utf8;           /* this transaction's MAIL carried SMTPUTF8 */
	uint8_t body_open;      /* sink begin() succeeded, not yet committed/aborted */
	uint8_t bdat_used;      /* this transaction used BDAT */
	uint8_t bdat_last;      /* the chunk being read is the LAST one */
	uint8_t bdat_failed;    /* this transaction's BDAT failed: discard chunks */
	uint8_t line_too_long;  /* discarding the rest of an over-long line */
	uint8_t closing;        /* no more replies after the queued ones */
	uint8_t auth;           /* 0, AUTH_ANY (accepted, nothing granted) or
	                           AUTH_CHECKED (auth_name is the identity) */
	uint8_t auth_step;      /* PHASE_AUTH: which response comes next */
	uint8_t auth_fails;
	uint8_t wipe;           /* the line being run holds credentials */
	uint8_t deny;           /* the command table's answer (enum
	                           smtp_reply_id) to a BDAT being run, given
	                           once its chunk is read */
	int64_t auth_until;     /* PHASE_AUTH_WAIT: the 535 goes out then */
	char auth_name[SMTP_AUTH_NAME_MAX + 1];
	unsigned errors;
	unsigned commands;      /* refused sessions only: commands seen */
	unsigned nrcpt;         /* accepted recipients in this transaction */
	unsigned messages;      /* stored in this session, for the log */

	int64_t now;            /* monotonic seconds */
	int64_t wall;           /* UNIX seconds */
	int64_t idle_since;     /* last reply or session start; in DATA/BDAT
	                           also the last input */
	int64_t line_since;     /* first byte of the pending command line, or -1 */
	int64_t body_since;     /* start of DATA or the current BDAT chunk */
	int64_t started;

	struct smtp_decoder dec;

	size_t line_len;
	/* from here on: the buffers, not cleared by smtp_session_start() */
	char line[SMTP_LINE_MAX + 1];

	size_t in_start, in_end;
	uint8_t in[CFG_RECV_BUFSIZE];

	size_t out_start, out_end;
	char out[CFG_REPLY_BUFSIZE];
};

/* Starts a session on a new connection: queues the greeting (220, or 554
 * 5.7.1 when p->refused).  Strings in p are copied. */
void smtp_session_start(struct smtp_session *s, const struct smtp_params *p,
                        const struct smtp_sink *sink, void *ctx,
                        int64_t now, int64_t wall);

unsigned smtp_state(const struct smtp_session *s);

/* Free input space at the end of in[]: read up to *len bytes there, then
 * smtp_recv_ack() them.  Changes nothing (as BearSSL's *_buf calls): every
 * call that changes the session leaves its unread input at the front of
 * in[] and drops input that will never be read (closing, STARTTLS). */
uint8_t *smtp_recv_buf(const struct smtp_session *s, size_t *len);
void smtp_recv_ack(struct smtp_session *s, size_t n);
const char *smtp_send_buf(const struct smtp_session *s, size_t *len);
void smtp_send_ack(struct smtp_session *s, size_t n);

/* Sets the time; on an expired timeout queues 421 4.4.2 (aborting an open
 * message) and sets SMTP_CLOSE. */
void smtp_tick(struct smtp_session *s, int64_t now, int64_t wall);
/* The time at which smtp_tick() will next act, or INT64_MAX. */
int64_t smtp_deadline(const struct smtp_session *s);

/* The store's answer to commit(): SINK_OK sends 250 2.0.0 with the id,
 * SINK_TEMP 451 4.3.0, SINK_NOSPACE 452 4.3.1, SINK_PERM 554 5.3.0; then
 * input processing resumes. */
void smtp_commit_done(struct smtp_session *s, int result);

/* The TLS handshake finished after SMTP_START_TLS: the session starts over
 * (EHLO required again, STARTTLS no longer offered). */
void smtp_tls_started(struct smtp_session *s);

/* Server shutdown: queues 421 4.3.2 unless a message is being received, and
 * closes.  Returns 1 when the session is in DATA/BDAT/commit and should be
 * given time to finish. */
int smtp_shutdown(struct smtp_session *s, int force);

/* The peer went away: aborts an open message (sink abort) and resets. */
void smtp_session_end(struct smtp_session *s);

/* One-line reply for a connection turned away before a session starts
 * (no free slot, per-IP limit): "421 4.3.2 ...\r\n". */
size_t smtp_busy_reply(char *buf, size_t len, const char *hostname);

/* "Sun, 29 Nov 2026 03:30:52 +0000" for a UNIX time; buf >= 32. */
size_t smtp_format_date(char *buf, size_t len, int64_t unix_time);

/* Protocol name for the log and Received: SMTP, ESMTP, ESMTPS, UTF8SMTP,
 * UTF8SMTPS, and after a checked AUTH ESMTPA, ESMTPSA, UTF8SMTPA,
 * UTF8SMTPSA (RFC 3848). */
const char *smtp_proto(const struct smtp_session *s);

#endif
