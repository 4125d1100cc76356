#include "outcome.h"

/* msg_reason_of_reject() casts: the numbers must agree */
_Static_assert((int)MSG_REASON_BARE_LF == (int)REJECT_BARE_LF &&
               (int)MSG_REASON_BARE_CR == (int)REJECT_BARE_CR &&
               (int)MSG_REASON_NUL == (int)REJECT_NUL &&
               (int)MSG_REASON_SIZE == (int)REJECT_SIZE &&
               (int)MSG_REASON_LOOP == (int)REJECT_LOOP &&
               (int)MSG_REASON_STORE_ERROR == (int)REJECT_STORE &&
               (int)MSG_REASON_ABORTED == (int)REJECT_ABORTED,
               "enum msg_reason must follow enum smtp_reject");

static const char *const result_names[] = {
	[MSG_DELIVERED] = "delivered",
	[MSG_REJECTED] = "rejected",
	[MSG_FAILED] = "failed",
};

static const char *const reason_names[MSG_REASON_N] = {
	[MSG_REASON_NONE] = "",
	[MSG_REASON_BARE_LF] = "bare-lf",
	[MSG_REASON_BARE_CR] = "bare-cr",
	[MSG_REASON_NUL] = "nul",
	[MSG_REASON_SIZE] = "size",
	[MSG_REASON_LOOP] = "loop",
	[MSG_REASON_STORE_ERROR] = "store-error",
	[MSG_REASON_ABORTED] = "aborted",
	[MSG_REASON_NO_SPACE] = "no-space",
	[MSG_REASON_STORE_PERMANENT] = "store-permanent",
	[MSG_REASON_MIN_FREE_SPACE] = "min-free-space",
	[MSG_REASON_NO_DESTINATION] = "no-destination",
	[MSG_REASON_UNKNOWN] = "unknown",
};

static const char *const end_names[SESSION_END_N] = {
	[SESSION_END_NONE] = "",
	[SESSION_QUIT] = "quit",
	[SESSION_ERRORS] = "errors",
	[SESSION_REFUSED] = "refused",
	[SESSION_TIMEOUT] = "timeout",
	[SESSION_CLOSED] = "closed",
	[SESSION_ERROR] = "error",
	[SESSION_SHUTDOWN] = "shutdown",
	[SESSION_BUSY] = "busy",
	[SESSION_TLS_ERROR] = "tls-error",
	[SESSION_TLS_TIMEOUT] = "tls-timeout",
	[SESSION_TLS_HELLO] = "tls-hello",
};

static const char *const tls_names[TLS_RESULT_N] = {
	[TLS_RESULT_OK] = "ok",
	[TLS_RESULT_FAILED] = "failed",
};

/* see outcome.h */
const char *msg_result_name(enum msg_result r)
{
	return (unsigned)r <= MSG_FAILED ? result_names[r] : "unknown";
}

/* see outcome.h */
const char *msg_reason_name(enum msg_reason r)
{
	return (unsigned)r < MSG_REASON_N ? reason_names[r] : "unknown";
}

/* see outcome.h */
const char *session_end_name(enum session_end e)
{
	return (unsigned)e < SESSION_END_N ? end_names[e] : "unknown";
}

/* see outcome.h */
const char *tls_result_name(enum tls_result r)
{
	return (unsigned)r < TLS_RESULT_N ? tls_names[r] : "unknown";
}
