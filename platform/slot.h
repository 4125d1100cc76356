/*
 * Session slots: a fixed array of CONFIG_MAX_SESSIONS, each holding the
 * engine's session, the message being written (struct maildir_msg; the
 * body buffer is one for all, in store/) and what the log lines need.  slot.c also implements the sink
 * (core/sink.h) over core/policy.h and store/maildir.h, the socket I/O of a
 * session, and the group commit list.
 *
 * Group commit: the sink's commit() flushes the message (maildir_finish)
 * and puts the slot on the pending list (SINK_PENDING).  When the loop
 * decides the batch is due (loop.c, commit_due(): no other session has
 * input ready, or LOOP_GATHER_MS have passed) slot_commit_run() hands every
 * pending message to maildir_commit_batch() together, then answers each
 * session (smtp_commit_done) and writes its reply at once.
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
	                                 * ClientHello (slot.c); 0: not */
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
	struct smtp_session s;
	struct maildir_msg msg;
};

extern struct slot slots[CFG_MAX_SESSIONS];

/* 1 while slots[i] holds a session.  Kept apart from the slots, so that
 * the loop's scans over every slot read this small table only, and a
 * slot's pages stay out of the resident set until a session uses it. */
extern uint8_t slot_live[CFG_MAX_SESSIONS];

static inline int slot_is_live(const struct slot *sl)
{
	return slot_live[sl - slots];
}

/* Marks every slot free.  Once, at start-up. */
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

/* TLS runs on this slot's connection (implicit, or after STARTTLS): its
 * socket I/O is slot_tls_io()'s, and what to poll for is slot_events(). */
int slot_tls(const struct slot *sl);

/* A TLS slot's turn: moves bytes through the TLS layer as far as they go
 * (reading only when revents says readable), closes the slot when the TLS
 * connection is over, and otherwise applies slot_check(). */
void slot_tls_io(struct slot *sl, short revents, int64_t now_ms);

/* The poll events a session waits for. */
short slot_events(const struct slot *sl);

/* The earliest time (monotonic ms) the slot needs a turn without any
 * event: the TLS handshake deadline, or INT64_MAX. */
int64_t slot_deadline_ms(const struct slot *sl);

/* Reads once from the socket into the engine.  0: fine (data, EAGAIN, or
 * the end of the input: then eof is set), -1: a socket error. */
int slot_read(struct slot *sl);

/* Writes what the engine has queued until it is empty or the socket would
 * block.  0, or -1 on a socket error.  After STARTTLS's 220 has gone out
 * it starts the handshake.  On a TLS slot it runs the TLS layer (without
 * reading), which may close the slot (then fd is -1 and it returns 0). */
int slot_flush(struct slot *sl);

/* Closes the slot when the engine says so (SMTP_DEAD, or SMTP_CLOSE with
 * nothing left to send, or the grace period after CLOSE has passed), or
 * when the client half-closed and everything it sent is answered. */
void slot_check(struct slot *sl, int64_t now_ms);

/* Ends the session now (peer gone, socket error, forced shutdown): aborts
 * an open message, logs the session line, closes the socket.  A slot that
 * is waiting for the commit is closed right after it. */
void slot_close(struct slot *sl, enum session_end result);

/* Number of messages waiting for slot_commit_run(). */
unsigned slot_commit_pending(void);
/* Group commit of every pending message (see above). */
void slot_commit_run(int64_t now_ms);

/* Bytes of the static slot table, for -V. */
size_t slot_footprint(void);

#endif
