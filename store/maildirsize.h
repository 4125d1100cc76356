/*
 * The Maildir++ "maildirsize" file: a mailbox's quota and usage, in the
 * format Courier (maildirquota.c, README.maildirquota) and Dovecot (quota
 * plugin, "maildir" backend, quota-maildir.c) read and update, so that a
 * reader deleting mail and mailnook delivering it agree on the usage.
 *
 * The file, MAILDIR/maildirsize:
 *
 *     10485760S,1000C          the limits: bytes "S", messages "C";
 *     4096 2                   0 or absent = no limit; no limits at all
 *     1200 1                   is written "0S", as Dovecot does
 *     -4096 -2                 then "BYTES COUNT" lines, one per change,
 *                              negative for deletions, summed by readers
 *
 * Courier pads the numbers ("%12s %12s"), Dovecot does not ("%lld %d");
 * both read either, and so does mailnook, which writes Dovecot's form.
 * Changes are appended with O_APPEND, one write(2) per line.
 *
 * When to recalculate (the union of Courier's and Dovecot's rules; any of
 * them makes maildirsize_read() return MAILDIRSIZE_RECALC):
 *   - the file is missing, or is 5120 bytes or more (both read at most
 *     that much and then rebuild it);
 *   - it holds a NUL byte, a line that is not two numbers, no usage line
 *     at all, or sums below zero (corrupt);
 *   - its limits differ from the configured ones (Dovecot rewrites the
 *     header then);
 *   - its last line has no LF (a writer died mid-line, or wrote past a
 *     full disk; mailnook's own next line would be glued to it, so the
 *     file is rewritten instead -- Dovecot only skips such a line);
 *   - the sums are over a limit and the file has more than one usage line
 *     or was last modified more than 15 minutes ago (an over-quota figure
 *     is trusted only when freshly recalculated: both readers).
 * Note that age alone does not trigger a recalculation: a file under its
 * limits is trusted however old it is.
 *
 * Recalculation sums the S= of every name in new/ and cur/ of the inbox
 * and of every Maildir++ folder (a name without a well-formed ",S=N" --
 * digits up to ':' ',' or the end, Dovecot's rule -- is stat'ed instead;
 * names starting with '.' are not messages), in slices (struct
 * maildirsize_scan, maildir_walk.h), then writes the file anew: a temporary
 * file "mailnook.maildirsize.<unique>" in tmp/ (removed at start-up if a
 * crash leaves it: maildir_clean_tmp() knows the prefix), fsync, rename
 * over maildirsize.  If the Maildir changed during the scan, the sums are
 * not written (Courier and Dovecot likewise): see maildirsize_scan_step().
 *
 * ---------------------------------------------------------------------
 * The commit integration (later, in store/maildir_commit.c and the
 * recipient policy), which this API is shaped for:
 *
 *   start-up, reload:   per quota'd mailbox a struct quota_box (quota.h),
 *                       limits from quota=; maildirsize_read(); on
 *                       MAILDIRSIZE_RECALC a scan is queued.
 *   RCPT:               quota_box_refresh(box, now) (one stat; re-reads
 *                       the file when a reader changed it), then
 *                       quota_full(box) -> 452 4.2.2 Mailbox full (the
 *                       policy callback, like "is this deliverable?").
 *   end of data:        quota_would_fit(box, size) for every quota'd
 *                       destination; any "no" (after rotation, rotate.h)
 *                       fails the whole transaction with 452 4.2.2, so no
 *                       recipient has it; else quota_reserve(box, size).
 *   group commit:       after the links into new/ succeeded and before the
 *                       fsync of new/, maildirsize_append(maildir, size, 1,
 *                       &fd) for each quota'd destination; the fd is
 *                       fsync'ed with the round and closed; then
 *                       quota_commit(box, size) (or quota_release() for a
 *                       message that failed).  An append that fails does
 *                       not fail the delivery (the file is a cache):
 *                       the box is marked for recalculation.
 *   loop, idle turns:   maildirsize_scan_step(scan, 2000) for a queued
 *                       scan; MAILDIRSIZE_SCAN_CHANGED -> scan again later.
 *                       Commits to that mailbox wait while its scan runs
 *                       (a delivery of ours would make the scan "changed"),
 *                       or the scan restarts: the integration's choice.
 * ---------------------------------------------------------------------
 */
#ifndef MAILNOOK_MAILDIRSIZE_H
#define MAILNOOK_MAILDIRSIZE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "maildir_walk.h"

#define MAILDIRSIZE_NAME "maildirsize"
/* Courier and Dovecot rebuild a file of this size or more. */
#define MAILDIRSIZE_MAX 5120
/* An over-quota sum older than this is not trusted (both readers). */
#define MAILDIRSIZE_STALE_SECS (15 * 60)
/* The longest line mailnook writes: two signed 64-bit numbers, a space,
 * an LF and the NUL. */
#define MAILDIRSIZE_LINE_MAX 44

struct maildirsize_limits {
	uint64_t bytes;        /* 0: no limit */
	uint64_t count;        /* 0: no limit */
};

/* What a maildirsize file says. */
struct maildirsize_info {
	struct maildirsize_limits limits;   /* its header */
	int limits_ok;          /* the header parsed */
	int64_t bytes, count;   /* the sums of its complete usage lines */
	unsigned lines;         /* complete usage lines */
	int truncated;          /* the last line had no LF (not summed) */
	int broken;             /* a NUL, or a line that is not two numbers */
	/* the file as read (maildirsize_read(); all 0 when missing), so that
	 * a caller can tell with one stat whether it changed since */
	uint64_t dev, ino;
	int64_t size;
	struct timespec mtime;
};

enum {
	MAILDIRSIZE_OK = 0,     /* the sums can be trusted */
	MAILDIRSIZE_RECALC = 1  /* recalculate (the header says why) */
};

/* Parses buf[0..len) (the file's first MAILDIRSIZE_MAX bytes at most)
 * into *out.  Pure: no I/O. */
void maildirsize_parse(const char *buf, size_t len,
                       struct maildirsize_info *out);

/* Whether *in, read from a file of file_size bytes last modified at mtime,
 * can be trusted under the configured limits *want at time now:
 * MAILDIRSIZE_OK or MAILDIRSIZE_RECALC, by the rules above.  Pure. */
int maildirsize_judge(const struct maildirsize_info *in, size_t file_size,
                      time_t mtime, const struct maildirsize_limits *want,
                      time_t now);

/* Reads MAILDIR/maildirsize (never through a symbolic link) and judges
 * it: MAILDIRSIZE_OK (usage in *out), MAILDIRSIZE_RECALC (*out holds
 * whatever could be read; all zero when the file is missing), or -1 with
 * errno set (the file exists but cannot be read). */
int maildirsize_read(const char *maildir,
                     const struct maildirsize_limits *want, time_t now,
                     struct maildirsize_info *out);

/* The usage line "BYTES COUNT\n" into buf (MAILDIRSIZE_LINE_MAX bytes);
 * returns its length. */
size_t maildirsize_line(char buf[MAILDIRSIZE_LINE_MAX], int64_t bytes,
                        int64_t count);

/* The header line "NS,MC\n" (Dovecot's form: "0S" when there are no
 * limits) into buf (MAILDIRSIZE_LINE_MAX bytes); returns its length. */
size_t maildirsize_header(char buf[MAILDIRSIZE_LINE_MAX],
                          const struct maildirsize_limits *lim);

/* Whether MAILDIR/maildirsize is still the file *in was read from
 * (same device, inode, size and modification time): 1, or 0 when it
 * changed, vanished or cannot be stat'ed.  One fstatat(2). */
int maildirsize_unchanged(const char *maildir,
                          const struct maildirsize_info *in);

/* Appends one usage line to an existing MAILDIR/maildirsize, in one
 * write(2) with O_APPEND (never creating it, never through a link).
 * With fd_out, the still open descriptor is handed over (the group
 * commit fsyncs and closes it); without, it is closed.  0, or -1 with
 * errno set (ENOENT: no file yet -- it needs a recalculation anyway). */
int maildirsize_append(const char *maildir, int64_t bytes, int64_t count,
                       int *fd_out);

/* Writes MAILDIR/maildirsize anew: header and one usage line, through a
 * temporary file in tmp/ that is fsync'ed and renamed over it.  0, or -1
 * with errno set (nothing left behind). */
int maildirsize_write(const char *maildir,
                      const struct maildirsize_limits *lim,
                      uint64_t bytes, uint64_t count);

/* The size a Maildir name gives in its ",S=N" field, Dovecot's rule:
 * digits ending at ':' ',' or the end of the name.  1 and *size, or 0
 * when there is no such field (the file must be stat'ed). */
int maildirsize_name_size(const char *name, uint64_t *size);

/* A recalculation in slices. */
struct maildirsize_scan {
	uint64_t bytes, count;  /* the sums so far */
	unsigned stats;         /* names without S= that were stat'ed */
	struct maildir_walk walk;
};

enum {
	MAILDIRSIZE_SCAN_DONE = 0,      /* sums complete and trustworthy */
	MAILDIRSIZE_SCAN_MORE = 1,      /* call again */
	MAILDIRSIZE_SCAN_CHANGED = 2    /* complete, but the Maildir changed
	                                   meanwhile: do not write them */
};

/* Begins a scan of maildir: 0, or -1 with errno set. */
int maildirsize_scan_start(struct maildirsize_scan *s, const char *maildir);

/* Handles up to budget names (each stat'ed one counts 8):
 * MAILDIRSIZE_SCAN_MORE, _DONE, _CHANGED, or -1 with errno set.  After
 * anything but _MORE the scan holds no descriptor. */
int maildirsize_scan_step(struct maildirsize_scan *s, unsigned budget);

/* Abandons a scan (closes its descriptors); safe at any time. */
void maildirsize_scan_stop(struct maildirsize_scan *s);

/* A whole recalculation at once (start-up, -t, tests): scans with *s,
 * and when the Maildir did not change meanwhile writes the file.
 * MAILDIRSIZE_SCAN_DONE (written), MAILDIRSIZE_SCAN_CHANGED (sums in *s,
 * nothing written), or -1 with errno set. */
int maildirsize_recalculate(const char *maildir,
                            const struct maildirsize_limits *lim,
                            struct maildirsize_scan *s);

#endif
