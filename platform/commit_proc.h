/*
 * The commit process (commit_proc.c says why and how): large group
 * commits are made durable by a child forked at start-up while the loop
 * goes on receiving.
 */
#ifndef MAILNOOK_COMMIT_PROC_H
#define MAILNOOK_COMMIT_PROC_H

#include <stddef.h>

#include "maildir.h"

#if CFG_COMMIT_CHILD
/* Forks the child; after privileges are dropped and the process has
 * detached, before the loop.  0, or -1 when it could not (every commit is
 * then made in the loop). */
int commit_proc_start(void);
/* Ends it: its end of the socket closed, the child reaped.  Not while a
 * batch is out. */
void commit_proc_stop(void);

/* Sends msgs[0..n) to be committed.  0, or -1 when they were not sent (no
 * child, one batch out already, too many or too long for one request): the
 * caller commits them itself.  msgs are the caller's, untouched until
 * commit_proc_collect() has returned non-zero. */
int commit_proc_send(struct maildir_msg **msgs, size_t n);

/* Whether the child is there (started, not found gone). */
int commit_proc_running(void);

/* Asks the child to start writing fd's data to the disk now (sync_file_
 * range(WRITE), which may wait for the disk's queue: there, not in the
 * loop), so that the commit finds less to write.  A hint: dropped when the
 * child is busy and the socket full, or there is no child. */
void commit_proc_writeback(int fd);

/* The descriptor readable when the results of the batch out are back, or
 * when the child has ended; -1 when there is no child. */
int commit_proc_fd(void);

/* With no batch out: 1 when the child has ended (it is reaped; later
 * commits are the caller's), else 0. */
int commit_proc_gone(void);

/* The results of the batch out, n messages: 1 when results[0..n) are
 * filled, 0 when they are not back yet (wait: blocks until they are), -1
 * when the child ended without them (the caller cleans up with
 * maildir_commit_undo(); later commits are the caller's).  After a non-zero
 * return no batch is out. */
int commit_proc_collect(int *results, size_t n, int wait);
#else
#define commit_proc_start() (-1)
#define commit_proc_stop() ((void)0)
#define commit_proc_writeback(fd) ((void)(fd))
#endif

#endif
