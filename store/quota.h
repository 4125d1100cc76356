/*
 * A quota'd mailbox's limits and usage, as the recipient policy and the
 * commit need them (maildirsize.h shows where each call goes).  Pure
 * bookkeeping: the file work is maildirsize.c's, the deleting rotate.c's.
 *
 * Usage is what maildirsize said (or a scan found), plus mailnook's own
 * deliveries and deletions since.  Messages accepted at the end of data
 * but not yet committed are held apart, so that two sessions finishing at
 * once cannot both take the last free bytes.  While the usage is not known
 * (the file needs a recalculation that has not finished), a mailbox is
 * taken as empty: mail is accepted rather than refused on a guess, and
 * only a message larger than the quota itself is refused.
 */
#ifndef MAILNOOK_QUOTA_H
#define MAILNOOK_QUOTA_H

#include <stdint.h>
#include <time.h>

#include "maildirsize.h"

struct quota_box {
	const char *maildir;
	struct maildirsize_limits limits;
	uint64_t bytes, count;              /* usage */
	uint64_t held_bytes, held_count;    /* accepted, not yet committed */
	int known;                          /* bytes and count are valid */
	int recalc;                         /* a scan is wanted */
	struct maildirsize_info file;       /* the maildirsize last read */
};

/* A box with these limits and an unknown usage (recalc set). */
void quota_box_init(struct quota_box *b, const char *maildir,
                    const struct maildirsize_limits *lim);

/* Reads the box's maildirsize: 0 (usage known, or recalc set when the
 * file must be rebuilt), or -1 with errno set (recalc set too). */
int quota_box_load(struct quota_box *b, time_t now);

/* Before a check (RCPT): re-reads maildirsize only when it changed
 * since it was last read (otherwise one stat), so that what a reader
 * such as Dovecot deleted counts at once.  Nothing while a scan is
 * wanted.  As quota_box_load(). */
int quota_box_refresh(struct quota_box *b, time_t now);

/* The result of a finished scan (MAILDIRSIZE_SCAN_DONE). */
void quota_box_set(struct quota_box *b, uint64_t bytes, uint64_t count);

/* At or over a limit: RCPT gets 452 4.2.2. */
int quota_full(const struct quota_box *b);

/* Whether one more message of size bytes fits, counting what is held. */
int quota_would_fit(const struct quota_box *b, uint64_t size);

/* Larger than the quota itself: refused even with rotation. */
int quota_too_big(const struct quota_box *b, uint64_t size);

/* How many bytes and messages must go for one of size bytes to fit
 * (rotation's target; 0 and 0 when it fits already). */
void quota_excess(const struct quota_box *b, uint64_t size,
                  uint64_t *bytes, uint64_t *count);

/* End of data: hold size bytes until the commit says how it went. */
void quota_reserve(struct quota_box *b, uint64_t size);

/* The held message was stored (it becomes usage) or failed (it goes). */
void quota_commit(struct quota_box *b, uint64_t size);
void quota_release(struct quota_box *b, uint64_t size);

/* A message of size bytes was deleted (rotation, expiry). */
void quota_deleted(struct quota_box *b, uint64_t size);

#endif
