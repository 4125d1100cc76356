/*
 * Rotation and expiry: deleting a mailbox's oldest messages, by the
 * delivery time in their names, across new/ and cur/ of the inbox and of
 * every Maildir++ folder.
 *
 * Only a name that can be dated is ever a candidate: "SECS.REST" with
 * SECS 9 to 12 digits (1973 to beyond 33658) and a non-empty REST, the
 * form of mailnook's names ("SECS.M<usec>P<pid>...") and of the usual
 * Maildir writers' (qmail's "SECS.PID.host", Courier's and Dovecot's
 * "SECS.M<usec>P<pid>..."); REST's "M<usec>" orders one second's names.
 * Only regular files are deleted (never a folder, a directory, a link),
 * never a name starting with '.' or "dovecot" (Dovecot's uidlist,
 * keywords and index files), never anything in tmp/ or the Maildir's
 * own directory (maildirsize, subscriptions, ...).
 *
 * Fixed memory, whatever the number of messages: a pass walks the whole
 * Maildir (maildir_walk.h, in slices) keeping the ROTATE_BATCH oldest
 * candidates in a max-heap (a newer name is dropped at once; an older one
 * replaces the newest kept), then deletes them oldest first until the goal
 * is met; if the batch ran out first, another pass follows.  Making room
 * for one message usually takes one pass and one or two deletions.
 *
 * Each deletion is reported through the callback (the log line
 * "rotate=deleted file=..." and the counters are the caller's), and
 * summed in deleted_bytes and deleted_count: the caller appends one
 * "-BYTES -COUNT" line to maildirsize (maildirsize_append()) and calls
 * quota_deleted() (quota.h), once, at the end.
 */
#ifndef MAILNOOK_ROTATE_H
#define MAILNOOK_ROTATE_H

#include <stdint.h>
#include <time.h>

#include "maildir_walk.h"

#define ROTATE_BATCH 32
#define ROTATE_FOLDER_MAX 95      /* longer folders are never rotated */

/* A file was deleted: folder "" or ".NAME", sub "new" or "cur", its size
 * (S= or stat). */
typedef void (*rotate_fn)(void *ctx, const char *folder, const char *sub,
                          const char *name, uint64_t size);

struct rotate_entry {
	int64_t secs;
	uint32_t usec;
	unsigned char sub;
	char folder[ROTATE_FOLDER_MAX + 1];
	char name[NAME_MAX + 1];
};

struct rotate {
	const char *maildir;
	uint64_t need_bytes, need_count;   /* rotation's goal */
	int64_t before;                    /* expiry: only names older */
	int expire;
	int pass_deleted;                  /* deletions in this pass */
	unsigned n;                        /* entries in heap */
	uint64_t deleted_bytes, deleted_count;
	rotate_fn fn;
	void *ctx;
	struct rotate_entry heap[ROTATE_BATCH];
	struct maildir_walk walk;
};

enum {
	ROTATE_DONE = 0,        /* goal met (rotation), or all expired */
	ROTATE_MORE = 1,        /* call again */
	ROTATE_SHORT = 2        /* rotation: not enough datable messages */
};

/* The delivery time of a Maildir name: 1 with *secs and *usec (0 when
 * the name has no M<usec>), or 0 when it cannot be dated. */
int rotate_name_time(const char *name, int64_t *secs, uint32_t *usec);

/* Rotation: delete the oldest messages until at least bytes bytes and
 * count messages are gone.  0, or -1 with errno set. */
int rotate_start(struct rotate *r, const char *maildir, uint64_t bytes,
                 uint64_t count, rotate_fn fn, void *ctx);

/* Expiry: delete every message delivered before the time before
 * (now - DAYS * 86400).  0, or -1 with errno set. */
int expire_start(struct rotate *r, const char *maildir, time_t before,
                 rotate_fn fn, void *ctx);

/* Works through up to budget names: ROTATE_MORE, ROTATE_DONE,
 * ROTATE_SHORT, or -1 with errno set.  After anything but ROTATE_MORE
 * nothing is left open. */
int rotate_step(struct rotate *r, unsigned budget);

/* Abandons the work (what is deleted stays deleted). */
void rotate_stop(struct rotate *r);

#endif
