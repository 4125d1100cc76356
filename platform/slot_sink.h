/*
 * The delivery sink of a session slot: core/sink.h implemented over
 * core/policy.h (recipients), min-free-space and store/maildir.h (or, in a
 * BENCH_DISCARD build, the benchmark's discard store, discard.h), and the
 * group commit list.  Each message's log line is written here, as its
 * outcome is known (slot_log.h).
 *
 * Group commit: the sink's commit() flushes the message (maildir_finish)
 * and puts the slot on the pending list (SINK_PENDING).  When the loop
 * decides the batch is due (loop.c, commit_due(): no other session has
 * input ready, or LOOP_GATHER_MS have passed) slot_commit_run() hands every
 * pending message to maildir_commit_batch() together, then answers each
 * session (smtp_commit_done) and writes its reply at once.
 */
#ifndef MAILNOOK_SLOT_SINK_H
#define MAILNOOK_SLOT_SINK_H

#include <stdint.h>

#include "sink.h"
#include "slot.h"

/* The sink every session is started with; its ctx is the slot. */
extern const struct smtp_sink slot_sink;

/* The session is over: drops an open message (logged "aborted") and
 * forgets the transaction.  Not for a slot on the commit list. */
void slot_sink_end(struct slot *sl);

/* Number of messages waiting for slot_commit_run(). */
unsigned slot_commit_pending(void);
/* Group commit of every pending message (see above). */
void slot_commit_run(int64_t now_ms);

#endif
