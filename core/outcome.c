#include "outcome.h"

#include <string.h>

/* msg_reason_of_reject() casts: the numbers must agree */
_Static_assert((int)MSG_REASON_BARE_LF == (int)REJECT_BARE_LF &&
               (int)MSG_REASON_BARE_CR == (int)REJECT_BARE_CR &&
               (int)MSG_REASON_NUL == (int)REJECT_NUL &&
               (int)MSG_REASON_SIZE == (int)REJECT_SIZE &&
               (int)MSG_REASON_LOOP == (int)REJECT_LOOP &&
               (int)MSG_REASON_STORE_ERROR == (int)REJECT_STORE &&
               (int)MSG_REASON_ABORTED == (int)REJECT_ABORTED,
               "enum msg_reason must follow enum smtp_reject");

/*
 * Each table is its names in enum order, each ending in NUL, packed into
 * one string: no pointer table (which a static PIE-compiled binary would
 * carry as relocated data).  tests/unit/t_outcome.c checks every name
 * against its enum value.
 */
static const char result_names[] =
	"delivered\0"           /* MSG_DELIVERED */
	"rejected\0"            /* MSG_REJECTED */
	"failed";               /* MSG_FAILED */

static const char reason_names[] =
	"\0"                    /* MSG_REASON_NONE */
	"bare-lf\0"
	"bare-cr\0"
	"nul\0"
	"size\0"
	"loop\0"
	"store-error\0"
	"aborted\0"
	"no-space\0"
	"store-permanent\0"
	"min-free-space\0"
	"no-destination\0"
	"quota\0"
	"unknown";              /* MSG_REASON_UNKNOWN */

static const char end_names[] =
	"\0"                    /* SESSION_END_NONE */
	"quit\0"
	"errors\0"
	"refused\0"
	"timeout\0"
	"closed\0"
	"error\0"
	"shutdown\0"
	"busy\0"
	"tls-error\0"
	"tls-timeout\0"
	"tls-hello";            /* SESSION_TLS_HELLO */

static const char tls_names[] =
	"ok\0"                  /* TLS_RESULT_OK */
	"failed";               /* TLS_RESULT_FAILED */

/* The k-th name of a packed table of n; "unknown" past its end. */
static const char *nth(const char *names, unsigned k, unsigned n)
{
	if (k >= n)
		return "unknown";
	while (k--)
		names += strlen(names) + 1;
	return names;
}

/* see outcome.h */
const char *msg_result_name(enum msg_result r)
{
	return nth(result_names, r, MSG_FAILED + 1);
}

/* see outcome.h */
const char *msg_reason_name(enum msg_reason r)
{
	return nth(reason_names, r, MSG_REASON_N);
}

/* see outcome.h */
const char *session_end_name(enum session_end e)
{
	return nth(end_names, e, SESSION_END_N);
}

/* see outcome.h */
const char *tls_result_name(enum tls_result r)
{
	return nth(tls_names, r, TLS_RESULT_N);
}
