/*
 * Maildir delivery, knowing nothing of SMTP: "a message for these Maildirs".
 *
 * A message is written once, into tmp/ of its first destination, through
 * one body buffer that all messages share (maildir.c says why).  Committing
 * is done in batches (group commit): maildir_commit_batch() makes every
 * pending file durable, links each into the new/ of every destination (hard
 * link; a copy where the destination is on another file system), makes
 * each touched new/ durable once, and only then reports success.  Any
 * failure leaves no file in any new/ for that message and removes its tmp/
 * file.
 *
 * File names: "SECS.M<usec>P<pid>Q<n>R<random>.HOST,S=SIZE,W=VSIZE" in new/
 * (no ':' or '/'; SIZE the file's octets, VSIZE as Dovecot reads it: a CR
 * added before each LF that has none); in tmp/ "mailnook.<same unique
 * part>", a pattern that maildir_clean_tmp() recognises as ours.  Files
 * are mode 0600.
 */
#ifndef MAILNOOK_MAILDIR_H
#define MAILNOOK_MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "sink.h"         /* enum sink_result */

#define MAILDIR_PATH_MAX 512
#define MAILDIR_NAME_MAX 160
#define MAILDIR_FOLDER_MAX 64
#define MAILDIR_MAX_DEST CFG_MAX_MAILBOXES

struct maildir_dest {
	const char *maildir;                   /* the mailbox's Maildir directory */
	char folder[MAILDIR_FOLDER_MAX + 1];   /* "" or a Maildir++ folder name
	                                          without its dot; used only when
	                                          MAILDIR/.folder/ exists */
};

struct maildir_msg {
	int fd;                   /* -1 when closed */
	int tmp_dir;              /* tmp/ of dest[0], holding our
	                             "mailnook.<unique>"; -1 once it is gone */
	int error;                /* sticky: the first enum sink_result failure */
	uint64_t size;            /* octets written */
	uint64_t lines;           /* LFs written without a CR before, for W= */
	unsigned n_dest;
	unsigned char last;       /* the last octet written */
	char unique[MAILDIR_NAME_MAX];        /* unique part of the name */
	/* last: a message to one mailbox never touches the pages of the
	 * others' entries, so they stay out of the resident set */
	struct maildir_dest dest[MAILDIR_MAX_DEST];
};

/* Creates dir and its tmp/ new/ cur/ (mode 0700) where missing.
 * 0, or -1 with errno set. */
int maildir_prepare(const char *dir);

/* Checks that dir is a usable Maildir: the three subdirectories exist and a
 * file can be created in tmp/.  0, or -1 with errno set: ELOOP when one of
 * them is a symbolic link (both here and in maildir_prepare()). */
int maildir_check(const char *dir);

/* Start-up clean-up: removes from dir/tmp/ our own files ("mailnook.*") and
 * any file not modified for 36 hours; nothing else.  Returns the number
 * removed, or -1 (ELOOP: tmp/ is a symbolic link, left alone). */
int maildir_clean_tmp(const char *dir, time_t now);

/* Free space, in bytes, on the file system holding dir; -1 on error. */
int64_t maildir_free_space(const char *dir);

/* Sets the host part of file names (sanitised: '/' and ':' escaped as in
 * the Maildir spec).  Called once at start-up and on reload. */
void maildir_set_host(const char *host);

/* Opens a new message in tmp/ of dest[0] (m->dest and m->n_dest are filled
 * by the caller first).  SINK_OK, SINK_TEMP, SINK_NOSPACE. */
int maildir_open(struct maildir_msg *m);

/* Buffers bytes (in one buffer that all messages share, see maildir.c);
 * writes them out when it is full or another message writes.  Errors are
 * sticky and returned by every later call. */
int maildir_write(struct maildir_msg *m, const void *p, size_t n);

/* Writes out m's buffered bytes and closes nothing yet; returns the sticky
 * result.
 * A message that finished cleanly is then handed to maildir_commit_batch. */
int maildir_finish(struct maildir_msg *m);

/* Commits msgs[0..n): afterwards results[i] is SINK_OK (in every
 * destination's new/, durable) or an error (in none).  Every message is
 * closed and its tmp/ file gone either way. */
void maildir_commit_batch(struct maildir_msg **msgs, size_t n, int *results);

#if CFG_COMMIT_CHILD
/* A commit made by another process (platform/commit_proc.c) with these
 * messages' descriptors.
 * maildir_commit_adopt(): afterwards, with the results it reported: msgs
 * as maildir_commit_batch() would have left them (closed, errors
 * recorded); the files and names are as that commit left them.
 * maildir_commit_undo(): when it never reported (the process died): every
 * name the messages may have got in a new/ is removed and those
 * directories made durable, then their tmp/ files; they are to be answered
 * as failed (the client sends them again). */
void maildir_commit_adopt(struct maildir_msg **msgs, size_t n,
                          const int *results);
void maildir_commit_undo(struct maildir_msg **msgs, size_t n);
#endif

/* Closes m's file if still open, removes its tmp/ name and forgets its
 * buffered bytes.  Drops a message not yet linked into new/; it is also
 * the last step of maildir_commit_batch(), and safe after a failed
 * maildir_open(). */
void maildir_abort(struct maildir_msg *m);

#if CFG_HOOK
/* After a successful maildir_commit_batch(): the path of m's file in the
 * new/ of destination i, "MAILDIR[/.FOLDER]/new/NAME" (the inbox's when
 * the commit linked it there, the folder being gone).  0, or -1 when it
 * does not fit out[0..n). */
int maildir_msg_path(const struct maildir_msg *m, unsigned i, char *out,
                     size_t n);
#endif

/* errno -> SINK_NOSPACE or SINK_TEMP, never SINK_PERM (maildir.c says why). */
int maildir_errno_result(int err);

#endif
