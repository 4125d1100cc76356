/*
 * The engine's one reply table (code, enhanced code, text) and the reply
 * buffer.  Internal to core/smtp_*.c.
 *
 * No reply ever carries client-supplied text: the only inserted strings are
 * the configured host name, the message id from the sink and numbers.
 */
#ifndef MAILNOOK_SMTP_REPLY_H
#define MAILNOOK_SMTP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "smtp_engine.h"

/* Room every command needs in the reply buffer before it is read: the
 * largest reply (EHLO with a 255-octet host name, about 420 octets) plus a
 * following "421 4.7.0 HOST too many errors". */
#define SMTP_REPLY_RESERVE 768

enum smtp_reply_id {
	R_NONE = 0,
	/* with the host name: R_GREETING to R_HELO (smtp_reply.c relies on it) */
	R_GREETING,       /* 220 */
	R_DENIED,         /* 554 5.7.1 refused client */
	R_BYE,            /* 221 2.0.0 */
	R_ERRLIMIT,       /* 421 4.7.0 too many errors */
	R_REFUSED_LIMIT,  /* 421 4.7.0 refused session over */
	R_TIMEOUT,        /* 421 4.4.2 */
	R_SHUTDOWN,       /* 421 4.3.2 */
	R_HELO,           /* 250 HOST */
	/* fixed */
	R_OK,             /* 250 2.0.0 */
	R_MAIL_OK,        /* 250 2.1.0 */
	R_RCPT_OK,        /* 250 2.1.5 */
	R_DATA_GO,        /* 354 */
	R_VRFY,           /* 252 2.5.0 */
	R_HELP,           /* 214 2.0.0 */
	R_UNKNOWN_CMD,    /* 500 5.5.1 */
	R_TOO_LONG,       /* 500 5.5.2 */
	R_NUL,            /* 500 5.5.2 */
	R_SYNTAX,         /* 501 5.5.4 */
	R_SYNTAX_MAIL,    /* 501 5.5.4 */
	R_SYNTAX_RCPT,    /* 501 5.5.4 */
	R_SYNTAX_VRFY,    /* 501 5.5.4 */
	R_BAD_ADDR,       /* 501 5.1.3 */
	R_NOT_IMPL,       /* 502 5.5.1 EXPN */
	R_NO_TLS,         /* 502 5.5.1 STARTTLS not offered */
	R_NEED_HELO,      /* 503 5.5.1 */
	R_NEED_MAIL,      /* 503 5.5.1 */
	R_NEED_RCPT,      /* 503 5.5.1 */
	R_NESTED_MAIL,    /* 503 5.5.1 */
	R_REFUSED_CMD,    /* 503 5.5.1 refused client */
	R_PARAM,          /* 555 5.5.4 */
	R_TOO_BIG,        /* 552 5.3.4 */
	R_TOO_MANY_RCPT,  /* 452 4.5.3 */
	R_TEMP,           /* 451 4.3.0 */
	R_NOSPACE,        /* 452 4.3.1 */
	R_PERM,           /* 554 5.3.0 */
	R_USER_UNKNOWN,   /* 550 5.1.1 */
	R_RELAY,          /* 550 5.7.1 */
	R_BARE,           /* 550 5.6.0 */
	R_LOOP,           /* 554 5.4.6 */
	R_FULL,           /* 452 4.2.2 quota */
	/* only what a compiled-in feature says: its texts stay out of
	 * builds without it, and a use there does not compile */
#if CFG_TLS
	R_TLS_GO,         /* 220 2.0.0 */
	R_TLS_ACTIVE,     /* 503 5.5.1 */
#endif
#if CFG_CHUNKING
	R_SYNTAX_BDAT,    /* 501 5.5.4 */
	R_BDAT_DATA,      /* 503 5.5.1 DATA after BDAT */
#endif
#if CFG_CHUNKING || CFG_AUTH
	R_BDAT_SEQ,       /* 503 5.5.1 MAIL/RCPT during BDAT; AUTH twice */
#endif
#if CFG_AUTH
	R_AUTH_OK,        /* 235 2.7.0 */
	R_AUTH_FAIL,      /* 535 5.7.8 */
	R_AUTH_CANCEL,    /* 501 5.0.0 */
	R_AUTH_BAD,       /* 501 5.5.2 bad base64 or PLAIN blob */
	R_AUTH_MECH,      /* 504 5.5.4 */
	R_AUTH_NEEDED,    /* 530 5.7.0 */
	R_AUTH_TLS,       /* 538 5.7.11 */
	R_AUTH_PLAIN,     /* 334 (empty challenge) */
	R_AUTH_USER,      /* 334 Username: */
	R_AUTH_PASS,      /* 334 Password: */
#endif
	R_COUNT
};

/* 1 when the reply is a 4xx/5xx that counts toward SMTP_MAX_ERRORS (the
 * sink's own failures and 452 4.5.3 do not). */
int smtp_reply_counts(enum smtp_reply_id r);

/* Free space in the reply buffer. */
size_t smtp_out_free(const struct smtp_session *s);

/* Queues reply r whole, or nothing when it does not fit (returns 0). */
int smtp_reply(struct smtp_session *s, enum smtp_reply_id r);
/* "250 2.0.0 Ok: delivered as ID" */
int smtp_reply_delivered(struct smtp_session *s);
/* "250 2.0.0 N octets received" */
int smtp_reply_chunk(struct smtp_session *s, uint64_t n);
/* The multi-line EHLO reply. */
int smtp_reply_ehlo(struct smtp_session *s);

/* Writes one printable-ASCII reply line "PRE HOST POST\r\n" into buf;
 * returns its length or 0 when it does not fit. */
size_t smtp_reply_line(char *buf, size_t len, const char *pre,
                       const char *host, const char *post);

#endif
