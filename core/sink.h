/*
 * What the SMTP engine asks of the world outside, and what the world
 * answers.  platform/ implements it with core/policy.h and store/; the unit
 * tests implement it with a fake that records every call.
 */
#ifndef MAILNOOK_SINK_H
#define MAILNOOK_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum sink_result {
	SINK_OK = 0,
	SINK_TEMP,      /* 451 4.3.0: try again later */
	SINK_NOSPACE,   /* 452 4.3.1: below min-free-space or ENOSPC */
	SINK_PERM,      /* 554 5.3.0: will never work */
	SINK_PENDING,   /* commit() only: queued, answer comes by smtp_commit_done() */
	SINK_FULL       /* 452 4.2.2: a mailbox's quota (contract section 9) */
};

enum rcpt_result {
	RCPT_OK = 0,    /* 250 2.1.5 */
	RCPT_UNKNOWN,   /* 550 5.1.1: local domain, no such user */
	RCPT_RELAY,     /* 550 5.7.1: not a local domain */
	RCPT_NOSPACE,   /* 452 4.3.1 */
	RCPT_TEMP,      /* 451 4.3.0 */
	RCPT_FULL       /* 452 4.2.2: the mailbox is at its quota */
};

/* Why a message was not stored, for the log (reason=...). */
enum smtp_reject {
	REJECT_NONE = 0,
	REJECT_BARE_LF,   /* 550 5.6.0 */
	REJECT_BARE_CR,   /* 550 5.6.0 */
	REJECT_NUL,       /* 550 5.6.0 */
	REJECT_SIZE,      /* 552 5.3.4 */
	REJECT_LOOP,      /* 554 5.4.6 */
	REJECT_STORE,     /* a sink write failed: 451/452 */
	REJECT_ABORTED    /* the session ended (QUIT lost, timeout, close) mid-message */
};

/* The answer to auth(). */
enum auth_result {
	AUTH_FAIL = 0,  /* 535 5.7.8, after the pause */
	AUTH_ANY,       /* 235 2.7.0, nothing checked and nothing granted */
	AUTH_CHECKED    /* 235 2.7.0, the credentials were checked */
};

#define SMTP_ID_MAX 32  /* message id, NUL included */

struct smtp_sink {
	/* MAIL accepted syntactically: SINK_OK, SINK_NOSPACE or SINK_TEMP. */
	int (*mail)(void *ctx, const struct smtp_addr *from, int utf8);
	/* One RCPT: enum rcpt_result.  The sink keeps the resolved targets. */
	int (*rcpt)(void *ctx, const struct smtp_addr *to);
	/* Opens the message (DATA accepted, or first BDAT chunk); writes the
	 * message id, NUL-terminated, into id.  SINK_OK or an error. */
	int (*begin)(void *ctx, char id[SMTP_ID_MAX]);
	/* Message bytes, already decoded (LF line ends, headers included). */
	int (*write)(void *ctx, const void *p, size_t n);
	/* The whole message is written: SINK_PENDING (the answer will come by
	 * smtp_commit_done()), or an error now. */
	int (*commit)(void *ctx);
	/* Drops the open message (never called after commit() returned
	 * SINK_PENDING).  reason for the log; size as counted so far. */
	void (*abort)(void *ctx, enum smtp_reject reason, uint64_t size);
	/* The transaction is over (RSET, HELO/EHLO, new MAIL after an end,
	 * STARTTLS, session end): forget sender and recipients. */
	void (*reset)(void *ctx);
	/* AUTH credentials (CONFIG_AUTH): enum auth_result.  user and pass
	 * are NUL-terminated; pass is wiped by the engine right after the
	 * call, so keep no pointer to it and copy it nowhere. */
	int (*auth)(void *ctx, const char *user, const char *pass);
};

#endif
