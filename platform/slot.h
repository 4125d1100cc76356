/*
 * Session slots: a fixed array of CONFIG_MAX_SESSIONS, each holding the
 * engine's session, the message being written (struct maildir_msg; the
 * body buffer is one for all, in store/) and what the log lines need.
 * slot.c owns the table (which slots are live, an iterator over them), a
 * session's start and end, and the configuration new sessions use.  The
 * rest of a slot's work is in rooms of its own:
 *
 *   slot_io.h    the session pump: socket and TLS I/O of one session
 *   slot_sink.h  the delivery sink (core/sink.h) and the group commit
 *   slot_log.h   the message and session log lines
 *
 * Configuration lifetime: a transaction's destinations point into the
 * configuration arena that was current at its MAIL (txn_cfg).  A reload
 * swaps the current configuration for new transactions and only reuses an
 * arena once no transaction refers to it (slot_cfg_in_use).
 */
#ifndef MAILNOOK_SLOT_H
#define MAILNOOK_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "smtp_engine.h"
#include "maildir.h"
#include "outcome.h"
#include "policy.h"

struct tls_conn;                        /* tls.h, with CONFIG_TLS */

/* The recipients' text kept for the hook's MAILNOOK_RECIPIENT: a message
 * to more mailboxes than this holds names them by their mailbox address. */
#define SLOT_HOOK_RCPT_BYTES 1024

/* The small fields first and the message (with its large buffers) last:
 * the pages of a slot that a session with small messages touches are then
 * as few as the layout allows. */
struct slot {
	int fd;                         /* the session's socket */
	uint8_t v6;
	uint8_t ip[16];                 /* client address octets (per-IP limit) */
	uint8_t pending;                /* on the commit list */
	uint8_t msg_open;               /* maildir_open done, not committed/aborted */
	uint8_t txn;                    /* a transaction refers to txn_cfg */
	uint8_t shut;                   /* shutdown: 1 finishing a message, 2 done */
	uint8_t end_after_commit;       /* the socket failed while committing */
	uint8_t eof;                    /* the client half-closed: no more input */
	uint8_t fresh;                  /* plain socket, no byte read yet */
	int64_t hello_wait_ms;          /* the greeting waits until then for a
	                                 * ClientHello (slot_io.c); 0: not */
	uint8_t result;                 /* enum session_end, for the session
	                                 * log line; 0: not decided yet */
	const struct mn_config *txn_cfg;
	int64_t started_ms;             /* monotonic */
	int64_t close_by_ms;            /* CLOSE seen: force the close by then */
	unsigned delivered;
	unsigned nrcpt;
	char from[ADDR_PATH_MAX + 1];
	char to[ADDR_PATH_MAX + 1];     /* first recipient */
	char id[SMTP_ID_MAX];           /* "" once the message is logged */
#if CFG_TLS
	struct tls_conn *tls;           /* this slot's TLS state (tls.h) */
	short tls_want;                 /* poll events the TLS pump asked for */
#endif
#if CFG_HOOK
	uint8_t hook_held;              /* runs wait for the 250 to go out */
	/* on-delivery (slot_hook.h): the address the client gave for each
	 * destination of the message, packed; 0xffff: none kept */
	uint16_t hook_rcpt_at[MAILDIR_MAX_DEST];
	uint16_t hook_rcpt_len;
	char hook_rcpt[SLOT_HOOK_RCPT_BYTES];
#endif
	struct smtp_session s;
	struct maildir_msg msg;
};

/* Whether the slot holds a session. */
int slot_is_live(const struct slot *sl);

/* The live slots in table order:
 *
 *	for (sl = slot_first(); sl; sl = slot_next(sl))
 *
 * slot_next(NULL) is the first.  A slot closed during the walk (even the
 * current one) does not disturb it; one started during it may or may not
 * be visited.  The walk reads only a small table of its own, not the
 * slots, so idle slots stay out of the resident set. */
struct slot *slot_next(const struct slot *sl);
static inline struct slot *slot_first(void)
{
	return slot_next(NULL);
}

/* A slot that holds no session, or NULL when all do. */
struct slot *slot_free(void);

/* Number of live slots (open sessions). */
unsigned slot_count(void);

/* Once, at start-up (every slot starts free). */
void slot_init(void);

/* The configuration new sessions and transactions use. */
void slot_set_config(const struct mn_config *c);
const struct mn_config *slot_config(void);
/* Number of open transactions that refer to c. */
unsigned slot_cfg_in_use(const struct mn_config *c);

/* Takes over fd (already non-blocking) and starts the session; writes the
 * greeting at once.  ip is the text form.  tls: the connection came in on
 * a listen-tls socket (implicit TLS: the handshake first, then the greeting
 * through it).  auth: a ,auth listener (530 5.7.0 before a checked AUTH). */
void slot_start(struct slot *sl, int fd, const char *ip, int v6,
                const uint8_t bin[16], int refused, int tls, int auth,
                int64_t now_ms, int64_t wall);

/* Ends the session now (peer gone, socket error, forced shutdown): aborts
 * an open message, logs the session line, closes the socket.  A slot that
 * is waiting for the commit is closed right after it. */
void slot_close(struct slot *sl, enum session_end result);

/* Bytes of the static slot table, for -V. */
size_t slot_footprint(void);

#endif
