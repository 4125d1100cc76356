/*
 * Maildir directories and the writing of one message into tmp/.
 * Names are in maildir_name.c, the commit into new/ in maildir_commit.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "maildir.h"
#include "assert_at.h"
#include "bare.h"
#include "maildir_int.h"

#define CLEAN_AGE (36 * 60 * 60)   /* the Maildir spec's 36 hours for tmp/ */

static const char *const subdirs[3] = { "tmp", "new", "cur" };

/* see maildir_int.h */
mode_t maildir_umask(void)
{
	static int known;
	static mode_t mask;

	if (!known) {
		mask = umask(0);
		(void)umask(mask);
		known = 1;
	}
	return mask;
}

/*
 * Symbolic links.  A Maildir's owner may replace its tmp/, new/, cur/ or a
 * folder with a link at any moment, also while mailnook runs as root; a
 * path such as MAILDIR/new/NAME would then create or remove files wherever
 * the link points.  So every operation inside a
 * Maildir is relative to a descriptor of the directory, opened with
 * O_NOFOLLOW from a descriptor of the Maildir itself (whose own path,
 * links and all, is the administrator's): openat(O_CREAT|O_EXCL|
 * O_NOFOLLOW) in tmp/, linkat() into new/, unlinkat(), fsync() of the new/
 * descriptor.  A link where a directory should be is ELOOP, and the
 * delivery fails with 451.  If the owner swaps a directory after it was
 * opened, the descriptor still names the one that was opened, a directory
 * the owner could write to anyway.
 *
 * The descriptors are opened per message (tmp/, held while the message is
 * open) and per commit round (new/), not kept for a configuration's life:
 * a Maildir that is removed and made again, or a folder that appears, is
 * then seen at the next message instead of swallowing mail into a deleted
 * directory, nothing has to be closed across a reload, and the count stays
 * bounded (one more per open message, one per new/ of a round).
 */

/* The directory name in at, opened with flags (O_NOFOLLOW among them:
 * a link is ELOOP, where open(2) says ENOTDIR). */
static int open_dir(int at, const char *name, int flags)
{
	struct stat st;
	int fd;

	do
		fd = openat(at, name, flags | O_DIRECTORY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0 && errno == ENOTDIR && (flags & O_NOFOLLOW)
	    && bare_fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) == 0
	    && S_ISLNK(st.st_mode))
		errno = ELOOP;
	return fd;
}

/* see maildir_int.h */
int maildir_open_sub(const char *maildir, const char *folder,
                     const char *sub, int flags)
{
	char dot[MAILDIR_FOLDER_MAX + 2];
	size_t n;
	int dir, fd, e;

	dir = open_dir(AT_FDCWD, maildir, O_PATH);
	if (dir >= 0 && folder) {
		n = strnlen(folder, MAILDIR_FOLDER_MAX);
		dot[0] = '.';
		memcpy(dot + 1, folder, n);
		dot[n + 1] = '\0';
		fd = open_dir(dir, dot, O_PATH | O_NOFOLLOW);
		(void)close(dir);
		dir = fd;
	}
	if (dir < 0)
		return -1;
	fd = open_dir(dir, sub, flags | O_NOFOLLOW);
	e = errno;
	(void)close(dir);
	errno = e;
	return fd;
}

/* see maildir_int.h */
void maildir_tmp_name(char out[MAILDIR_TMP_MAX], const char *unique)
{
	size_t n = strnlen(unique, MAILDIR_NAME_MAX - 1);

	memcpy(out, MAILDIR_TMP_PREFIX, sizeof MAILDIR_TMP_PREFIX - 1);
	memcpy(out + sizeof MAILDIR_TMP_PREFIX - 1, unique, n);
	out[sizeof MAILDIR_TMP_PREFIX - 1 + n] = '\0';
}

/* fchmod(2) as the bare system call: musl's fchmod() adds a fallback
 * through /proc/self/fd for O_PATH descriptors (0.3 KiB of a static
 * build), and no descriptor given here is one (make_dir() opens O_RDONLY
 * when it has a mode to set).  0, or -1 with errno set. */
static int fd_chmod(int fd, mode_t mode)
{
	return syscall(SYS_fchmod, fd, mode) == 0 ? 0 : -1;
}

/* see maildir_int.h */
int maildir_tmp_create(int tmp, const char *unique)
{
	char name[MAILDIR_TMP_MAX];
	int fd, e;

	maildir_tmp_name(name, unique);
	fd = openat(tmp, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
	            | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if ((maildir_umask() & 0600) && fd_chmod(fd, 0600) != 0) {
		e = errno;
		(void)close(fd);
		(void)unlinkat(tmp, name, 0);
		errno = e;
		return -1;
	}
	return fd;
}

/* see maildir_int.h */
int maildir_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {           /* never for a regular file: no loop */
			errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Creates directory name in at, mode 0700 whatever the umask; an existing
 * directory is fine.  nofollow: O_NOFOLLOW inside a Maildir, else 0. */
static int make_dir(int at, const char *name, int nofollow)
{
	int made = mkdirat(at, name, 0700) == 0, chm, fd;

	if (!made && errno != EEXIST)
		return -1;
	/* fchmod needs a descriptor that is not O_PATH */
	chm = made && (maildir_umask() & 0700);
	fd = open_dir(at, name, (chm ? O_RDONLY : O_PATH) | nofollow);
	if (fd < 0)
		return -1;
	if (chm && fd_chmod(fd, 0700) != 0) {
		int e = errno;

		(void)close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

/* see maildir.h */
int maildir_prepare(const char *dir)
{
	char path[MAILDIR_PATH_MAX];
	size_t i, len = strlen(dir);
	int md, r = 0, e;

	if (len == 0) {
		errno = ENOENT;
		return -1;
	}
	if (len >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len + 1);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	/* the parents, as mkdir -p does (u+wx whatever the umask); errors
	 * show at the Maildir itself */
	for (i = 1; i < len; i++) {
		mode_t mode = (0755 & ~maildir_umask()) | 0300;

		if (path[i] != '/' || path[i - 1] == '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, mode) == 0 && (maildir_umask() & 0300))
			(void)chmod(path, mode);
		path[i] = '/';
	}
	if (make_dir(AT_FDCWD, path, 0) != 0)
		return -1;
	md = open_dir(AT_FDCWD, path, O_PATH);
	if (md < 0)
		return -1;
	for (i = 0; i < 3 && r == 0; i++)
		r = make_dir(md, subdirs[i], O_NOFOLLOW);
	e = errno;
	(void)close(md);
	errno = e;
	return r;
}

/* see maildir.h */
int maildir_check(const char *dir)
{
	char unique[MAILDIR_NAME_MAX], name[MAILDIR_TMP_MAX];
	size_t i;
	int md, tmp = -1, fd = -1, r = -1, e;

	/* room for the longest name in a folder's new/ and tmp/ */
	if (strlen(dir) + sizeof "/." + MAILDIR_FOLDER_MAX + sizeof "/tmp/"
	    + sizeof MAILDIR_TMP_PREFIX + MAILDIR_FINAL_MAX > MAILDIR_PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	md = open_dir(AT_FDCWD, dir, O_PATH);
	if (md < 0)
		return -1;
	for (i = 0; i < 3; i++) {
		fd = open_dir(md, subdirs[i], O_PATH | O_NOFOLLOW);
		if (fd < 0)
			goto out;
		if (i == 0)
			tmp = fd;
		else
			(void)close(fd);
	}
	/* new/ must take links; tmp/ is proved by the probe.  The probe
	 * carries our own pattern: a crash leaves nothing that
	 * maildir_clean_tmp() would not remove.  The faccessat system call
	 * checks the real ids, and those are the effective ids here:
	 * mailnook is never installed set-id, and user= switches with
	 * setgid() and setuid() as root, which set both.  (musl's
	 * faccessat(AT_EACCESS) carries a cloned checker child for ids that
	 * differ: 0.7 KiB of a static build.) */
	if (syscall(SYS_faccessat, md, "new", W_OK | X_OK) != 0)
		goto out;
	maildir_name_new(unique);
	fd = maildir_tmp_create(tmp, unique);
	if (fd < 0)
		goto out;
	maildir_tmp_name(name, unique);
	r = close(fd);
	if (unlinkat(tmp, name, 0) != 0)
		r = -1;
out:
	e = errno;
	if (tmp >= 0)
		(void)close(tmp);
	(void)close(md);
	errno = e;
	return r;
}

/* A getdents64(2) record, as the kernel writes it.  The directory is read
 * with the system call, not opendir(3): in a static binary that would
 * bring malloc along for this one start-up walk. */
struct dir_record {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* The next records of the directory fd into buf: their length, 0 at the
 * end, -1 with errno set. */
static long read_dir(int fd, void *buf, size_t len)
{
	long n;

	do
		n = syscall(SYS_getdents64, fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

/* see maildir.h */
int maildir_clean_tmp(const char *dir, time_t now)
{
	static _Alignas(8) unsigned char recs[4096];
	int removed = 0, err = 0, fd;

	/* a link is ELOOP: nothing is removed through it */
	fd = maildir_open_sub(dir, NULL, "tmp", O_RDONLY);
	if (fd < 0)
		return -1;
	for (;;) {
		long n = read_dir(fd, recs, sizeof recs), off;

		if (n <= 0) {
			if (n < 0)
				err = errno;
			break;
		}
		for (off = 0; off < n;) {
			const struct dir_record *de = (const void *)(recs + off);
			struct stat st;
			int ours;

			off += de->reclen;
			if (strcmp(de->name, ".") == 0 || strcmp(de->name, "..") == 0)
				continue;
			/* a file that vanishes or resists (another user's, in
			 * a shared tmp/) is skipped: it must not stop the
			 * start-up */
			if (bare_fstatat(fd, de->name, &st, AT_SYMLINK_NOFOLLOW) != 0)
				continue;
			if (!S_ISREG(st.st_mode))
				continue;
			ours = strncmp(de->name, MAILDIR_TMP_PREFIX,
			               sizeof MAILDIR_TMP_PREFIX - 1) == 0;
			/* a foreign file (Dovecot's, say) may be mid-delivery:
			 * only one untouched for 36 hours is abandoned */
			if (!ours && !(st.st_mtime <= now - CLEAN_AGE))
				continue;
			if (unlinkat(fd, de->name, 0) == 0)
				removed++;
		}
	}
	if (close(fd) != 0 && !err)
		err = errno;
	if (err) {
		errno = err;
		return -1;
	}
	return removed;
}

/* see maildir.h */
int64_t maildir_free_space(const char *dir)
{
	/* statfs(2), not statvfs(): the C library's conversion between the
	 * two is 0.2 KiB of a static build; the fragment size as statvfs()
	 * takes it (the block size where a file system leaves it 0) */
	struct statfs sf;
	uint64_t bytes, unit;

	if (statfs(dir, &sf) != 0)
		return -1;
	unit = sf.f_frsize ? (uint64_t)sf.f_frsize : (uint64_t)sf.f_bsize;
	if (unit != 0 && (uint64_t)sf.f_bavail > (uint64_t)INT64_MAX / unit)
		return INT64_MAX;
	bytes = (uint64_t)sf.f_bavail * unit;
	return (int64_t)bytes;
}

/* see maildir.h
 *
 * Never SINK_PERM.  A 5xx makes the sender bounce the mail for good, and
 * every errno the store can meet names a local condition that an
 * administrator can fix (a full or read-only disk, a quota, permissions, a
 * missing directory, a file-size limit, too many open files): the sender
 * should keep the mail queued and try again, as qmail's error_temp()
 * intends.  Mail that can never be accepted (too big, bad syntax) is refused
 * by the SMTP engine before it reaches the store. */
int maildir_errno_result(int err)
{
	switch (err) {
	case ENOSPC:
#if defined(EDQUOT)
	case EDQUOT:
#endif
	case EFBIG:     /* RLIMIT_FSIZE: no space for this message either */
		return SINK_NOSPACE;
	default:
		return SINK_TEMP;
	}
}

/*
 * One body buffer for all open messages.  There is one thread, and a
 * session's bytes arrive one read at a time, so the buffer belongs to the
 * message that wrote last: it is written out when another message writes,
 * at maildir_finish(), or when the commit needs it.  A session then costs
 * no buffer of its own (CONFIG_BODY_BUFSIZE once, not once per slot); a
 * lone session still gets one write(2) for a small message.  A failed write
 * of another message's bytes is that message's sticky error.
 */
static unsigned char body_buf[CFG_BODY_BUFSIZE];
static size_t body_len;
static struct maildir_msg *body_owner;

/* see maildir_int.h */
void maildir_body_flush(void)
{
	struct maildir_msg *m = body_owner;

	if (m && body_len > 0 && !m->error &&
	    maildir_write_all(m->fd, body_buf, body_len) != 0)
		m->error = maildir_errno_result(errno);
	body_len = 0;
	body_owner = NULL;
}

/* m's buffered bytes, if any, are forgotten (the message is gone or new). */
static void body_drop(const struct maildir_msg *m)
{
	if (body_owner == m) {
		body_len = 0;
		body_owner = NULL;
	}
}

/* m's descriptors closed and its buffered bytes forgotten; its tmp/ name
 * removed too when remove_tmp. */
static void msg_close(struct maildir_msg *m, int remove_tmp)
{
	if (m->fd >= 0) {
		(void)close(m->fd);
		m->fd = -1;
	}
	if (m->tmp_dir >= 0) {
		char name[MAILDIR_TMP_MAX];

		if (remove_tmp) {
			maildir_tmp_name(name, m->unique);
			(void)unlinkat(m->tmp_dir, name, 0);
		}
		(void)close(m->tmp_dir);
		m->tmp_dir = -1;
	}
	body_drop(m);
}

#if CFG_COMMIT_CHILD
/* see maildir.h */
void maildir_commit_adopt(struct maildir_msg **msgs, size_t n,
                          const int *results)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct maildir_msg *m = msgs[i];

		msg_close(m, 0);        /* the commit removed the tmp/ name */
		if (results[i] != SINK_OK && !m->error)
			m->error = results[i];
	}
}
#endif

/* see maildir_int.h */
int maildir_body_done(struct maildir_msg *m)
{
	if (body_owner == m)
		maildir_body_flush();
	return m->error;
}

/* see maildir_int.h */
unsigned char *maildir_scratch(size_t *len)
{
	maildir_body_flush();
	*len = sizeof body_buf;
	return body_buf;
}

/* see maildir.h */
int maildir_open(struct maildir_msg *m)
{
	int fd = -1, tries, e;

	assert(m->n_dest >= 1 && m->n_dest <= MAILDIR_MAX_DEST);
	m->fd = -1;
	m->error = SINK_OK;
	m->size = 0;
	m->lines = 0;
	m->last = 0;
	body_drop(m);
	m->tmp_dir = maildir_open_sub(m->dest[0].maildir, NULL, "tmp", O_PATH);
	/* a name already in tmp/ (not ours to touch): draw another */
	for (tries = 0; tries < 3 && m->tmp_dir >= 0; tries++) {
		maildir_name_new(m->unique);
		fd = maildir_tmp_create(m->tmp_dir, m->unique);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		e = errno;
		if (m->tmp_dir >= 0)
			(void)close(m->tmp_dir);
		m->tmp_dir = -1;
		m->error = maildir_errno_result(e);
		return m->error;
	}
	m->fd = fd;
	return SINK_OK;
}

/* LFs with no CR just before them (prev: the octet before p[0]), the octets
 * Dovecot adds for W=: it reads "\r\n" as it is, only a bare "\n" grows.
 * Every octet of a message passes here: sixteen at a time where the
 * compiler has vectors the CPU runs (SSE2, NEON), each compared with LF
 * and the octet before it with CR (a memchr() per line cost more than
 * decoding the message: 10 % of the CPU time with 2 MiB messages). */
static uint64_t count_lf(const unsigned char *p, size_t n, int prev)
{
	uint64_t lf = 0;
	size_t i;

	if (n == 0)
		return 0;
	lf = p[0] == '\n' && prev != '\r';
	i = 1;
#if defined(__GNUC__) && (defined(__SSE2__) || defined(__ARM_NEON))
	{
		typedef unsigned char v16 __attribute__((vector_size(16)));
		const v16 crs = { '\r', '\r', '\r', '\r', '\r', '\r', '\r',
		                  '\r', '\r', '\r', '\r', '\r', '\r', '\r',
		                  '\r', '\r' };
		const v16 lfs = crs - (v16){ 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
		                             3, 3, 3, 3, 3 };

		while (n - i >= sizeof(v16)) {
			v16 acc = { 0 };
			unsigned char sum[sizeof(v16)];
			unsigned k;

			/* a lane counts at most 255 before it is summed */
			for (k = 0; k < 255 && n - i >= sizeof(v16);
			     k++, i += sizeof(v16)) {
				v16 x, before;

				memcpy(&x, p + i, sizeof x);
				memcpy(&before, p + i - 1, sizeof before);
				acc -= (v16)((x == lfs) & (before != crs));
			}
			memcpy(sum, &acc, sizeof sum);
			for (k = 0; k < sizeof sum; k++)
				lf += sum[k];
		}
	}
#endif
	for (; i < n; i++)
		lf += p[i] == '\n' && p[i - 1] != '\r';
	return lf;
}

/* see maildir.h */
int maildir_write(struct maildir_msg *m, const void *p, size_t n)
{
	const unsigned char *c = p;

	if (m->error)
		return m->error;
	assert(m->fd >= 0);
	m->size += n;
	m->lines += count_lf(c, n, m->last);
	if (n > 0)
		m->last = c[n - 1];
	if (body_owner != m) {
		maildir_body_flush();
		body_owner = m;
	}
	while (n > 0) {
		size_t k;

		if (body_len == 0 && n >= sizeof body_buf) {
			/* a large piece: straight to the file, no copy */
			if (maildir_write_all(m->fd, c, n) != 0)
				m->error = maildir_errno_result(errno);
			return m->error;
		}
		k = sizeof body_buf - body_len;
		if (k > n)
			k = n;
		memcpy(body_buf + body_len, c, k);
		body_len += k;
		c += k;
		n -= k;
		if (body_len == sizeof body_buf) {
			maildir_body_flush();
			if (m->error)
				return m->error;
			body_owner = m;
		}
	}
	return SINK_OK;
}

/* see maildir.h */
int maildir_finish(struct maildir_msg *m)
{
	if (m->error)
		return m->error;
	assert(m->fd >= 0);
	return maildir_body_done(m);
}

/* see maildir.h */
void maildir_abort(struct maildir_msg *m)
{
	msg_close(m, 1);
}
