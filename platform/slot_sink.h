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
 * session (smtp_commit_done) and writes its reply at once -- or, for a
 * large batch, hands it to a child process and answers when it reports,
 * receiving meanwhile.
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
/* Group commit of every pending message (see above); nothing while a
 * commit is in a child.  A batch of 64 KiB or more goes to a child process
 * (CONFIG_COMMIT_CHILD, commit_proc.c) and is answered by
 * slot_commit_collect(). */
void slot_commit_run(int64_t now_ms);
#if CFG_COMMIT_CHILD
/* Whether a batch is out in the commit process; the descriptor that says
 * it is done or that the process has ended (-1 when there is none); its
 * results read and answered (wait: blocking until it is done), or the
 * end of the process noted. */
int slot_commit_busy(void);
int slot_commit_fd(void);
/* Whether the pending messages go to the commit process (64 KiB or
 * more, and it is running): they are committed without gathering. */
int slot_commit_large(void);
void slot_commit_collect(int64_t now_ms, int wait);
#else
#define slot_commit_busy() 0
#define slot_commit_large() 0
#endif

#endif
