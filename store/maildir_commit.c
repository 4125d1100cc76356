/*
 * Group commit: maildir_commit_batch().
 *
 * Why the order is safe (ext4, and any file system that honours fsync):
 *
 *   1. fsync(file), close.  The data and the inode of every message are on
 *      disk before any name for them exists outside tmp/.  When a batch
 *      holds COMMIT_SYNCFS_MIN or more messages on one file system, one
 *      syncfs(2) on it replaces their fsyncs (see "syncfs" below).
 *   2. link(tmp/mailnook.X, new/X,S=..,W=..) for each destination (a copy
 *      written and fsync'ed in that Maildir's own tmp/ first, when new/ is
 *      on another file system).  link(2) never replaces a file, so a name
 *      that already exists is an error, not a lost message.  The new name
 *      points at a complete, durable inode from its first moment: after a
 *      crash, new/ holds the whole message or nothing, never part of one
 *      (ext4 in data=ordered mode would even order this by itself; we do
 *      not rely on it).
 *   3. fsync(new/) once per directory for the whole batch.  Until this
 *      returns, the link may be lost in a crash; that is why nothing is
 *      reported SINK_OK before.  A crash between 2 and 3 may leave the
 *      message in new/ although the client got no 250: it sends again and
 *      the recipient sees a duplicate, the Maildir's and SMTP's usual
 *      at-least-once, never a loss and never a torn file.
 *   4. unlink(tmp/...).  Only after 3: the tmp/ name goes last, so on any
 *      file system at least one name of the message survives every crash
 *      point until it is durable in new/.  A crash before 4 leaves a
 *      "mailnook." file that maildir_clean_tmp() removes at the next start.
 *
 * A message that fails at 2 or 3 is unlinked from every new/ it had reached
 * and those directories are fsync'ed again, so a failure (451/452) leaves it
 * in no new/ after a crash either (best effort: when even that fsync fails,
 * a duplicate is the worst outcome).  A failed fsync is final: the data it
 * covered may be gone from the page cache, and an fsync that then succeeds
 * proves nothing.
 *
 * Every name is made and removed relative to a descriptor of its tmp/ or
 * new/ directory, never through a symbolic link (see maildir.c).
 *
 * Cost per batch: per message fsync, close, one link per distinct
 * directory, one open per destination with a folder, unlink; per distinct
 * new/ directory one open, fsync, close.  On a disk with a volatile write
 * cache every fsync(2) is a cache flush (ext4 sends one even when the
 * journal has already committed the file), so the fsyncs of the files are
 * most of the cost: 0.1 to 3 ms each on the virtual disk of
 * bench/RESULTS.md.
 *
 * syncfs: with COMMIT_SYNCFS_MIN or more messages of the batch on one file
 * system, phase 1 is one syncfs(2) there, then one fsync(2) of one of those
 * files, instead of an fsync each.  syncfs writes back every dirty page and
 * inode of the file system and waits; with a journal it commits it (and the
 * commit reaches stable storage), but without one (ext2, ext4 -O
 * ^has_journal) its last step writes the inode tables after its cache
 * flush, so an inode -- with dioread_nolock, its extents still "unwritten"
 * -- could sit in the disk's cache while the link reaches the platter.  The
 * fsync that follows flushes the cache on every file system (ext4 sends a
 * flush even when there is nothing left to write).  Then every file of the
 * group is as durable as its own fsync would have made it, for two flushes
 * instead of one per message, before any link exists.  Phases 2 to 4 are
 * as above.
 *
 * It is used only where failures are reported: from Linux 5.8 on, syncfs(2)
 * returns the file system's writeback errors since its descriptor was
 * opened (before, it returns 0 after a failed writeback, so older kernels
 * keep the fsyncs).  Each file's own errors since it was opened -- what its
 * fsync would have returned, including a background writeback that failed
 * before the syncfs -- are read with sync_file_range(SYNC_FILE_RANGE_WAIT_
 * BEFORE), which waits for nothing by then and writes nothing.  A failed
 * syncfs, or the fsync after it, fails every message of the group (the
 * error cannot be pinned to one file; they are answered 451 and sent
 * again); a file's own error fails that message.
 * Its price on a file system shared with other programs: it writes back
 * their dirty data too, and the loop waits for that.  Small batches (the
 * common case on an appliance) therefore keep their own fsyncs, and with
 * them per-message failures and isolation from other writers; syncfs is
 * taken under load, where it turns K flushes into two (bench/RESULTS.md).
 *
 * The bookkeeping lives in static tables (single thread; fixed memory).  A
 * batch larger than the tables is committed in several rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "maildir.h"
#include "assert_at.h"
#include "bare.h"
#include "maildir_int.h"

#define COMMIT_LINKS_MAX (MAILDIR_MAX_DEST > 256 ? MAILDIR_MAX_DEST : 256)

/* Messages on one file system from which a batch is made durable by one
 * syncfs(2) instead of their fsyncs (see "syncfs" above). */
#define COMMIT_SYNCFS_MIN 4

struct commit_dir {                /* a distinct new/ directory */
	const char *maildir;
	const char *folder;        /* NULL: the inbox */
	int fd;                    /* new/, open for the round (maildir.c) */
	unsigned char failed;      /* its fsync failed */
	unsigned char again;       /* links removed after its fsync */
};

struct commit_link {               /* a message's name in a new/ */
	uint32_t msg;              /* index into msgs */
	uint32_t dir;              /* index into dirs */
};

struct commit_file {               /* a message of the round, phase 1 */
	dev_t dev;                 /* its file system */
	unsigned char open;        /* written, not yet synced: a candidate */
	unsigned char synced;      /* made durable by syncfs */
};

static struct commit_dir dirs[COMMIT_LINKS_MAX];
static struct commit_link links[COMMIT_LINKS_MAX];
static struct commit_file files[COMMIT_LINKS_MAX];
static size_t n_dirs, n_links;

/* Phase 1, first: the rest of the buffer written (maildir_finish() has
 * normally done it).  A message that did not finish cleanly keeps its
 * error. */
static int write_rest(struct maildir_msg *m)
{
	if (m->fd < 0)
		return m->error ? m->error : SINK_TEMP;
	return maildir_body_done(m);
}

/* A decimal number at *p (at most 6 digits), *p moved past it; -1 when
 * there is none. */
static long release_number(const char **p)
{
	long v = -1;
	int digits = 0;

	while (**p >= '0' && **p <= '9' && digits++ < 6) {
		v = (v < 0 ? 0 : v * 10) + (**p - '0');
		(*p)++;
	}
	return v;
}

/* see maildir_int.h (by hand: sscanf would bring the whole scanf family,
 * 12 KiB, into a static binary) */
int maildir_release_at_least(const char *release, long major, long minor)
{
	long ma = release_number(&release), mi;

	if (ma < 0 || *release++ != '.')
		return 0;
	mi = release_number(&release);
	if (mi < 0)
		return 0;
	return ma > major || (ma == major && mi >= minor);
}

/* Linux 5.8 and later: syncfs(2) reports writeback errors. */
static int syncfs_reports_errors(void)
{
	static int known, yes;
	struct utsname u;

	if (!known) {
		known = 1;
		yes = uname(&u) == 0 && maildir_release_at_least(u.release, 5, 8);
	}
	return yes;
}

/* Phase 1, then: one syncfs(2) and one fsync(2) for each file system that
 * holds at least COMMIT_SYNCFS_MIN of msgs[lo..hi), and a check of each of
 * those files' own writeback errors; they are marked synced and get the
 * result. */
static void sync_file_systems(struct maildir_msg **msgs, size_t lo,
                              size_t hi, int *results)
{
	struct stat st;
	size_t i, j, n;
	int r;

	for (i = lo; i < hi; i++)
		files[i - lo].synced = 0;
	if (hi - lo < COMMIT_SYNCFS_MIN || !syncfs_reports_errors())
		return;
	for (i = lo; i < hi; i++) {
		files[i - lo].open = results[i] == SINK_OK
		                     && bare_fstat(msgs[i]->fd, &st) == 0;
		files[i - lo].dev = files[i - lo].open ? st.st_dev : 0;
	}
	for (i = lo; i < hi; i++) {
		if (!files[i - lo].open)
			continue;
		for (n = 0, j = i; j < hi; j++)
			n += files[j - lo].open
			     && files[j - lo].dev == files[i - lo].dev;
		if (n < COMMIT_SYNCFS_MIN) {
			files[i - lo].open = 0;         /* fsync'ed alone */
			continue;
		}
		/* never retried: a failed fsync is final (see above).  The
		 * fsync is for its cache flush: see "syncfs" above. */
		r = syncfs(msgs[i]->fd) == 0 && fsync(msgs[i]->fd) == 0 ?
		    SINK_OK : SINK_TEMP;
		/* backwards: i's own entry, the one compared with, goes last */
		for (j = hi; j-- > i;) {
			if (!files[j - lo].open
			    || files[j - lo].dev != files[i - lo].dev)
				continue;
			files[j - lo].open = 0;
			files[j - lo].synced = 1;
			results[j] = r;
			if (r == SINK_OK && sync_file_range(msgs[j]->fd, 0, 0,
			                        SYNC_FILE_RANGE_WAIT_BEFORE) != 0)
				results[j] = SINK_TEMP;     /* its own error */
		}
	}
}

/* Phase 1, last: the file durable (unless syncfs made it so) and closed. */
static int close_durable(struct maildir_msg *m, int r, int synced)
{
	if (m->fd < 0)
		return r;
	/* never retried: a failed fsync is final (see the top) */
	if (!r && !synced && fsync(m->fd) != 0)
		r = SINK_TEMP;
	if (close(m->fd) != 0 && !r)
		r = SINK_TEMP;      /* NFS reports write-back errors here */
	m->fd = -1;
	return r;
}

/* A folder name that can only mean MAILDIR/.NAME (policy already sends
 * anything else to the inbox; this is defence in depth). */
static int folder_plain(const char *f)
{
	const unsigned char *c = (const unsigned char *)f;

	if (*c == '\0' || *c == '.')
		return 0;
	for (; *c; c++) {
		if (*c == '/' || *c < 0x20 || *c == 0x7f)
			return 0;
	}
	return 1;
}

static int same_str(const char *a, const char *b)
{
	if (a == b)
		return 1;
	return a && b && strcmp(a, b) == 0;
}

static size_t find_dir(const char *maildir, const char *folder)
{
	size_t i;

	for (i = 0; i < n_dirs; i++) {
		if (same_str(dirs[i].maildir, maildir)
		    && same_str(dirs[i].folder, folder))
			return i;
	}
	return SIZE_MAX;
}

/* The entry in dirs[] for d's new/, opened now if the round has not yet:
 * MAILDIR/.folder/new when that is a directory (a missing folder, or a
 * link, means the inbox), else MAILDIR/new.  SIZE_MAX with *r set when
 * the inbox's new/ cannot be opened (a link: ELOOP, SINK_TEMP). */
static size_t open_new(const struct maildir_dest *d, int *r)
{
	const char *folder = folder_plain(d->folder) ? d->folder : NULL;
	size_t di = SIZE_MAX;
	int fd = -1;

	if (folder) {
		di = find_dir(d->maildir, folder);
		if (di == SIZE_MAX)
			fd = maildir_open_sub(d->maildir, folder, "new", O_RDONLY);
		if (di == SIZE_MAX && fd < 0)
			folder = NULL;
	}
	if (!folder) {
		di = find_dir(d->maildir, NULL);
		if (di == SIZE_MAX)
			fd = maildir_open_sub(d->maildir, NULL, "new", O_RDONLY);
		if (di == SIZE_MAX && fd < 0) {
			*r = maildir_errno_result(errno);
			return SIZE_MAX;
		}
	}
	if (di != SIZE_MAX)
		return di;
	/* one entry per destination at most: the round's sizing keeps
	 * n_dirs within the table */
	di = n_dirs++;
	dirs[di].maildir = d->maildir;
	dirs[di].folder = folder;
	dirs[di].fd = fd;
	dirs[di].failed = 0;
	dirs[di].again = 0;
	return di;
}

/* Whether an in directory a and bn in directory b are one file. */
static int same_file(int a, const char *an, int b, const char *bn)
{
	struct stat sa, sb;

	return bare_fstatat(a, an, &sa, AT_SYMLINK_NOFOLLOW) == 0
	       && bare_fstatat(b, bn, &sb, AT_SYMLINK_NOFOLLOW) == 0
	       && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The EXDEV case: the message copied into tmp/ of d's Maildir (or
 * folder), made durable, then linked to name in d's new/. */
static int copy_into(struct maildir_msg *m, const struct commit_dir *d,
                     const char *name)
{
	char tname[MAILDIR_TMP_MAX];
	uint64_t copied = 0;
	int tmp, in = -1, out = -1, r = SINK_OK;

	tmp = maildir_open_sub(d->maildir, d->folder, "tmp", O_PATH);
	if (tmp < 0)
		return maildir_errno_result(errno);
	out = maildir_tmp_create(tmp, m->unique);
	if (out < 0) {
		r = maildir_errno_result(errno);
		(void)close(tmp);
		return r;
	}
	maildir_tmp_name(tname, m->unique);
	in = openat(m->tmp_dir, tname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0) {
		r = maildir_errno_result(errno);
		goto out;
	}
	for (;;) {
		size_t cap;
		unsigned char *buf = maildir_scratch(&cap);
		ssize_t got = read(in, buf, cap);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = maildir_errno_result(errno);
			goto out;
		}
		if (got == 0)
			break;
		if (maildir_write_all(out, buf, (size_t)got) != 0) {
			r = maildir_errno_result(errno);
			goto out;
		}
		copied += (uint64_t)got;
	}
	if (copied != m->size || fsync(out) != 0) {
		r = SINK_TEMP;
		goto out;
	}
	(void)close(in);
	in = -1;
	if (close(out) != 0) {
		out = -1;
		r = SINK_TEMP;
		goto out;
	}
	out = -1;
	if (linkat(tmp, tname, d->fd, name, 0) != 0) {
		r = maildir_errno_result(errno);
		goto out;
	}
	/* the copy's tmp/ name goes either way: new/ holds the durable inode */
out:
	if (in >= 0)
		(void)close(in);
	if (out >= 0)
		(void)close(out);
	(void)unlinkat(tmp, tname, 0);
	(void)close(tmp);
	return r;
}

/* Phase 2 for one destination, dirs[di]: *made is 1 when a new name was
 * made, 0 when name turned out to be a name of this message already (two
 * spellings of one directory).  *last: the new/ holding the last copy
 * made for this message (or -1), which a later destination on that other
 * file system links to instead of copying again. */
static int link_one(struct maildir_msg *m, size_t di, const char *name,
                    int *last, int *made)
{
	const struct commit_dir *d = &dirs[di];
	char tname[MAILDIR_TMP_MAX];
	int e, r;

	*made = 0;
	maildir_tmp_name(tname, m->unique);
	if (linkat(m->tmp_dir, tname, d->fd, name, 0) == 0) {
		*made = 1;
		return SINK_OK;
	}
	e = errno;
	if (e == EEXIST)
		return same_file(m->tmp_dir, tname, d->fd, name) ? SINK_OK
		                                                 : SINK_TEMP;
	if (e != EXDEV)
		return maildir_errno_result(e);
	if (*last >= 0) {
		if (linkat(*last, name, d->fd, name, 0) == 0) {
			*made = 1;
			return SINK_OK;
		}
		e = errno;
		if (e == EEXIST)
			return same_file(*last, name, d->fd, name) ? SINK_OK
			                                           : SINK_TEMP;
		if (e != EXDEV)
			return maildir_errno_result(e);
	}
	r = copy_into(m, d, name);
	if (r == SINK_OK) {
		*made = 1;
		*last = d->fd;
	}
	return r;
}

/* Removes every name message i has in a new/ (links[from..n_links)) and
 * marks those directories for another fsync when already synced. */
static void unlink_msg(struct maildir_msg **msgs, size_t i, size_t from,
                       int synced)
{
	char name[MAILDIR_FINAL_MAX];
	size_t k;

	maildir_name_final(msgs[i], name);
	for (k = from; k < n_links; k++) {
		struct commit_dir *d = &dirs[links[k].dir];

		if (links[k].msg != i)
			continue;
		(void)unlinkat(d->fd, name, 0);
		if (synced)
			d->again = 1;
	}
}

/* Phase 2 for message i: a name in the new/ of each distinct destination
 * directory.  On failure the names made so far are removed again. */
static int link_msg(struct maildir_msg **msgs, size_t i)
{
	struct maildir_msg *m = msgs[i];
	char name[MAILDIR_FINAL_MAX];
	size_t first = n_links, j, k;
	int r = SINK_OK, last = -1;

	maildir_name_final(m, name);
	for (j = 0; j < m->n_dest; j++) {
		const struct maildir_dest *d = &m->dest[j];
		size_t di;
		int made, dup = 0;

		/* the same (Maildir, folder) again: no stat, no link */
		for (k = 0; k < j && !dup; k++) {
			dup = same_str(m->dest[k].maildir, d->maildir)
			      && strcmp(m->dest[k].folder, d->folder) == 0;
		}
		if (dup)
			continue;
		di = open_new(d, &r);
		if (di == SIZE_MAX)
			break;
		for (k = first; k < n_links && !dup; k++)
			dup = links[k].dir == di;
		if (dup)
			continue;       /* a missing folder fell back to an inbox */
		r = link_one(m, di, name, &last, &made);
		if (r != SINK_OK)
			break;
		if (!made)
			continue;
		links[n_links].msg = (uint32_t)i;
		links[n_links].dir = (uint32_t)di;
		n_links++;
	}
	if (r != SINK_OK) {
		/* their directories stay in dirs[]: phase 3 syncs the removal */
		unlink_msg(msgs, i, first, 0);
		n_links = first;
	}
	return r;
}

/* Commits msgs[lo..hi), whose links fit the tables. */
static void commit_round(struct maildir_msg **msgs, size_t lo, size_t hi,
                         int *results)
{
	size_t i, k;

	assert(hi - lo <= COMMIT_LINKS_MAX);
	n_dirs = 0;
	n_links = 0;
	/* phase 1: every file durable */
	for (i = lo; i < hi; i++)
		results[i] = write_rest(msgs[i]);
	sync_file_systems(msgs, lo, hi, results);
	for (i = lo; i < hi; i++)
		results[i] = close_durable(msgs[i], results[i],
		                           files[i - lo].synced);
	/* phase 2: links */
	for (i = lo; i < hi; i++) {
		if (results[i] == SINK_OK)
			results[i] = link_msg(msgs, i);
	}
	/* phase 3: each directory once; a failure fails all its messages */
	for (k = 0; k < n_dirs; k++)
		dirs[k].failed = fsync(dirs[k].fd) != 0;
	for (k = 0; k < n_links; k++) {
		i = links[k].msg;
		if (dirs[links[k].dir].failed && results[i] == SINK_OK) {
			results[i] = SINK_TEMP;
			unlink_msg(msgs, i, 0, 1);      /* all its names */
		}
	}
	for (k = 0; k < n_dirs; k++) {
		if (dirs[k].again)
			(void)fsync(dirs[k].fd);        /* best effort */
		(void)close(dirs[k].fd);
	}
	/* phase 4: the tmp/ names (the files are closed already) */
	for (i = lo; i < hi; i++) {
		struct maildir_msg *m = msgs[i];

		maildir_abort(m);
		if (results[i] != SINK_OK && !m->error)
			m->error = results[i];
	}
}

#if CFG_COMMIT_CHILD
/* see maildir.h: one message at a time, so the tables always fit */
void maildir_commit_undo(struct maildir_msg **msgs, size_t n)
{
	char name[MAILDIR_FINAL_MAX];
	size_t i, k;
	unsigned j;

	for (i = 0; i < n; i++) {
		struct maildir_msg *m = msgs[i];

		n_dirs = 0;
		maildir_name_final(m, name);
		for (j = 0; j < m->n_dest; j++) {
			int r;
			size_t di = open_new(&m->dest[j], &r);

			if (di != SIZE_MAX && unlinkat(dirs[di].fd, name, 0) == 0)
				dirs[di].again = 1;
		}
		for (k = 0; k < n_dirs; k++) {
			if (dirs[k].again)
				(void)fsync(dirs[k].fd);        /* best effort */
			(void)close(dirs[k].fd);
		}
		maildir_abort(m);
		if (!m->error)
			m->error = SINK_TEMP;
	}
}
#endif

/* see maildir.h */
void maildir_commit_batch(struct maildir_msg **msgs, size_t n, int *results)
{
	size_t lo = 0;

	while (lo < n) {
		size_t hi = lo, need = 0;

		while (hi < n && hi - lo < COMMIT_LINKS_MAX
		       && need + msgs[hi]->n_dest <= COMMIT_LINKS_MAX)
			need += msgs[hi++]->n_dest;
		assert(hi > lo);        /* n_dest <= MAILDIR_MAX_DEST fits */
		commit_round(msgs, lo, hi, results);
		lo = hi;
	}
}
