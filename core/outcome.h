/*
 * Outcomes: how a message, a session and a TLS handshake ended.  Each is an
 * enum with one table of names.  The log lines print the names (result=,
 * reason=, tls=) and the stats count by the enums, so what the log says
 * and what the stats file counts come from one place and cannot drift
 * apart.  The names are part of the user-facing log format: change none.
 *
 * Where they are decided: the engine says why it dropped a message (enum
 * smtp_reject, sink.h) and whether a session ended by QUIT, errors,
 * refusal or timeout (its state); the store says why a write or commit
 * failed (enum sink_result); platform/ adds what only it sees (the socket
 * closed, TLS failed, shutdown).  These are pure data and a few mappings,
 * no I/O.
 */
#ifndef MAILNOOK_OUTCOME_H
#define MAILNOOK_OUTCOME_H

#include "sink.h"

/* ---- messages: "id=... result=...[ reason=...]" ------------------------- */

enum msg_result {
	MSG_DELIVERED = 0,      /* "delivered": stored, 250 */
	MSG_REJECTED,           /* "rejected": refused for its content */
	MSG_FAILED              /* "failed": not stored */
};

/*
 * reason=.  The content refusals come first, numbered as enum smtp_reject
 * numbers them (outcome.c checks), and so do "store-error" and "aborted":
 * msg_reason_of_reject() is then a cast.
 */
enum msg_reason {
	MSG_REASON_NONE = 0,            /* delivered: no reason= field */
	MSG_REASON_BARE_LF,             /* "bare-lf"  550 5.6.0 */
	MSG_REASON_BARE_CR,             /* "bare-cr"  550 5.6.0 */
	MSG_REASON_NUL,                 /* "nul"      550 5.6.0 */
	MSG_REASON_SIZE,                /* "size"     552 5.3.4 */
	MSG_REASON_LOOP,                /* "loop"     554 5.4.6 */
	MSG_REASON_STORE_ERROR,         /* "store-error": a temporary failure */
	MSG_REASON_ABORTED,             /* "aborted": the client went away */
	MSG_REASON_NO_SPACE,            /* "no-space": ENOSPC */
	MSG_REASON_STORE_PERMANENT,     /* "store-permanent" */
	MSG_REASON_MIN_FREE_SPACE,      /* "min-free-space": at the commit */
	MSG_REASON_NO_DESTINATION,      /* "no-destination" */
	MSG_REASON_QUOTA,               /* "quota": 452 4.2.2 at the commit */
	MSG_REASON_UNKNOWN,             /* "unknown": cannot happen */
	MSG_REASON_N
};

/* The first and the last content refusal (result "rejected"). */
#define MSG_REASON_CONTENT_FIRST MSG_REASON_BARE_LF
#define MSG_REASON_CONTENT_LAST  MSG_REASON_LOOP

const char *msg_result_name(enum msg_result r);
/* "" for MSG_REASON_NONE */
const char *msg_reason_name(enum msg_reason r);

/* Why the engine dropped a message (sink abort()). */
static inline enum msg_reason msg_reason_of_reject(enum smtp_reject r)
{
	return r == REJECT_NONE ? MSG_REASON_UNKNOWN : (enum msg_reason)r;
}

/* Why the store failed (enum sink_result, not SINK_OK). */
static inline enum msg_reason msg_reason_of_sink(int r)
{
	return r == SINK_TEMP ? MSG_REASON_STORE_ERROR :
	       r == SINK_NOSPACE ? MSG_REASON_NO_SPACE :
	       r == SINK_PERM ? MSG_REASON_STORE_PERMANENT :
	       r == SINK_FULL ? MSG_REASON_QUOTA :
	       MSG_REASON_UNKNOWN;
}

/* A refusal for the message's content: its result is "rejected". */
static inline int msg_reason_is_content(enum msg_reason r)
{
	return r >= MSG_REASON_CONTENT_FIRST && r <= MSG_REASON_CONTENT_LAST;
}

/* ---- sessions: "session ... result=..." ----------------------------------- */

enum session_end {
	SESSION_END_NONE = 0,   /* not decided yet */
	SESSION_QUIT,           /* "quit": the engine ended it (QUIT, 221) */
	SESSION_ERRORS,         /* "errors": too many errors, 421 */
	SESSION_REFUSED,        /* "refused": allow-from */
	SESSION_TIMEOUT,        /* "timeout": 421 4.4.2 */
	SESSION_CLOSED,         /* "closed": the client closed */
	SESSION_ERROR,          /* "error": a socket error */
	SESSION_SHUTDOWN,       /* "shutdown": mailnook stopping */
	SESSION_BUSY,           /* "busy": no slot, or the per-IP limit */
	SESSION_TLS_ERROR,      /* "tls-error": TLS failed */
	SESSION_TLS_TIMEOUT,    /* "tls-timeout": handshake not done in time */
	SESSION_TLS_HELLO,      /* "tls-hello": a ClientHello, TLS not on offer */
	SESSION_END_N
};

/* "" for SESSION_END_NONE */
const char *session_end_name(enum session_end e);

/* ---- TLS handshakes: "tls=failed ...", tls_handshakes_total{result} ------ */

enum tls_result {
	TLS_RESULT_OK = 0,      /* "ok" */
	TLS_RESULT_FAILED,      /* "failed" */
	TLS_RESULT_N
};

const char *tls_result_name(enum tls_result r);

#endif
