/*
 * Mailbox limits at run time (contract section 9): quota=, rotate= and
 * expire= applied to the deliveries, over store/quota.h, maildirsize.h
 * and rotate.h (maildirsize.h's comment block is the plan this follows).
 *
 *   start-up, reload   qrun_config(): one box per mailbox with a quota or
 *                      an expiry; maildirsize read; at start-up every
 *                      quota'd mailbox is recalculated (a kill -9 between
 *                      a link into new/ and the maildirsize line, or in a
 *                      rotation, leaves the file off by what it did), and
 *                      expiry runs.
 *   RCPT               qrun_full(): 452 4.2.2 through the sink's rcpt().
 *   end of data        qrun_reserve(): every quota'd destination must take
 *                      the message, after rotation where rotate= says so;
 *                      else SINK_FULL (452 4.2.2) for the whole message.
 *   group commit       qrun_committed(), right after maildir_commit_batch()
 *                      and before any reply: one "BYTES COUNT" line per
 *                      mailbox for the batch, fsync'ed, so the 250 comes
 *                      after the usage is durable too.
 *   loop               qrun_tick() between turns: recalculation and expiry
 *                      in slices of QRUN_SLICE names; qrun_wait_ms() keeps
 *                      poll() from sleeping while there is work.
 *
 * A scan that finds the Maildir changed under it (our own deliveries,
 * rotation, or a reader) is started again: commits never wait for it.
 * Rotation at the end of data runs to its end at once (usually one pass
 * over the Maildir and one or two deletions).
 */
#ifndef MAILNOOK_QUOTA_RUN_H
#define MAILNOOK_QUOTA_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "maildir.h"

#if CFG_QUOTA

/* Boxes for c's mailboxes (their held messages are forgotten on a
 * reload).  startup: recalculate every quota'd one and expire now. */
void qrun_config(const struct mn_config *c, time_t wall, int startup);

/* Is maildir (a configured mailbox's) at or over its quota? */
int qrun_full(const char *maildir, time_t wall);

/* End of data for m (m->size octets): SINK_OK with the message held
 * against each quota'd destination, or SINK_FULL. */
int qrun_reserve(struct maildir_msg *m);

/* After maildir_commit_batch(): usage lines appended and fsync'ed for the
 * stored messages, holds released for the others. */
void qrun_committed(struct maildir_msg **msgs, size_t n, const int *results);

/* A slice of recalculation or expiry work. */
void qrun_tick(time_t wall);

/* 0 while work is waiting, else the milliseconds until the next expiry
 * (INT64_MAX: none). */
int64_t qrun_wait_ms(time_t wall);

/* -t: "mailnook: quota ADDRESS: B of L bytes, C of M messages" for each
 * quota'd mailbox of c, from a scan (nothing written).  0, or -1 when a
 * line could not be printed. */
int qrun_report(const struct mn_config *c);

/* For the stats file: box i's address and usage (1), 0 for a box with
 * only an expiry, -1 past the last.  The usage is maildirsize's as it is
 * now: re-read when a reader (Dovecot's expunge) changed the file. */
int qrun_usage(unsigned i, const char **address, uint64_t *bytes,
               uint64_t *count);

#endif
#endif
