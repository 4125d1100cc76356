/*
 * The Maildir++ maildirsize file: reading, judging, appending, rewriting
 * and recalculating (see maildirsize.h for the format and the rules).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>        /* renameat() alone: no stdio is linked */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "bare.h"
#include "maildir.h"
#include "maildir_int.h"
#include "maildirsize.h"

/* A digit run of at most 18 digits (no overflow in int64_t): the number
 * and the position after it, or NULL. */
static const char *number(const char *p, const char *end, int64_t *v)
{
	int64_t n = 0;
	int digits = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		if (++digits > 18)
			return NULL;
		n = n * 10 + (*p++ - '0');
	}
	*v = n;
	return digits ? p : NULL;
}

static const char *blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *signed_number(const char *p, const char *end, int64_t *v)
{
	int neg = 0;

	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	p = number(p, end, v);
	if (p && neg)
		*v = -*v;
	return p;
}

/* "NNNS,MMMC" in any order, either part optional; "" means no limits. */
static int parse_limits(const char *p, const char *end,
                        struct maildirsize_limits *lim)
{
	lim->bytes = lim->count = 0;
	while (p < end) {
		int64_t v;

		p = number(p, end, &v);
		if (!p || p == end)
			return 0;
		if (*p == 'S')
			lim->bytes = (uint64_t)v;
		else if (*p == 'C')
			lim->count = (uint64_t)v;
		else
			return 0;
		p++;
		if (p < end && *p++ != ',')
			return 0;
	}
	return 1;
}

/* "BYTES COUNT", blanks allowed around them (Courier pads them). */
static int parse_usage(const char *p, const char *end, int64_t *b, int64_t *c)
{
	const char *q;

	p = signed_number(blanks(p, end), end, b);
	if (!p)
		return 0;
	q = blanks(p, end);
	if (q == p)
		return 0;
	p = signed_number(q, end, c);
	return p && blanks(p, end) == end;
}

/* see maildirsize.h */
void maildirsize_parse(const char *buf, size_t len,
                       struct maildirsize_info *out)
{
	const char *p = buf, *end = buf + len;
	int header = 1;

	memset(out, 0, sizeof *out);
	if (memchr(buf, '\0', len)) {
		out->broken = 1;
		return;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int64_t b, c;

		if (!nl) {
			out->truncated = 1;
			break;
		}
		if (header) {
			out->limits_ok = parse_limits(p, nl, &out->limits);
			header = 0;
		} else if (!parse_usage(p, nl, &b, &c)
		           || __builtin_add_overflow(out->bytes, b, &out->bytes)
		           || __builtin_add_overflow(out->count, c, &out->count)) {
			out->broken = 1;
			return;
		} else {
			out->lines++;
		}
		p = nl + 1;
	}
}

/* see maildirsize.h */
int maildirsize_judge(const struct maildirsize_info *in, size_t file_size,
                      time_t mtime, const struct maildirsize_limits *want,
                      time_t now)
{
	int over;

	if (in->broken || in->truncated || !in->limits_ok || in->lines == 0
	    || file_size >= MAILDIRSIZE_MAX)
		return MAILDIRSIZE_RECALC;
	if (in->limits.bytes != want->bytes || in->limits.count != want->count)
		return MAILDIRSIZE_RECALC;
	if (in->bytes < 0 || in->count < 0)
		return MAILDIRSIZE_RECALC;
	over = (want->bytes && (uint64_t)in->bytes > want->bytes)
	       || (want->count && (uint64_t)in->count > want->count);
	if (over && (in->lines > 1 || mtime < now - MAILDIRSIZE_STALE_SECS))
		return MAILDIRSIZE_RECALC;
	return MAILDIRSIZE_OK;
}

/* The Maildir itself, for the *at() calls below. */
static int open_maildir(const char *maildir)
{
	return open(maildir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* see maildirsize.h */
int maildirsize_read(const char *maildir,
                     const struct maildirsize_limits *want, time_t now,
                     struct maildirsize_info *out)
{
	char buf[MAILDIRSIZE_MAX];
	size_t got = 0;
	struct stat st;
	int root, fd, e;

	memset(out, 0, sizeof *out);
	root = open_maildir(maildir);
	if (root < 0)
		return -1;
	fd = openat(root, MAILDIRSIZE_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	e = errno;
	(void)close(root);
	if (fd < 0) {
		/* missing, or a link (replaced by the rename of the rewrite,
		 * never followed): rebuild it */
		if (e == ENOENT || e == ELOOP)
			return MAILDIRSIZE_RECALC;
		errno = e;
		return -1;
	}
	while (got < sizeof buf) {
		ssize_t n = read(fd, buf + got, sizeof buf - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			(void)close(fd);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (bare_fstat(fd, &st) != 0) {
		e = errno;
		(void)close(fd);
		errno = e;
		return -1;
	}
	(void)close(fd);
	maildirsize_parse(buf, got, out);
	out->dev = (uint64_t)st.st_dev;
	out->ino = (uint64_t)st.st_ino;
	out->size = (int64_t)st.st_size;
	out->mtime = st.st_mtim;
	if ((uint64_t)st.st_size > got)
		got = st.st_size > MAILDIRSIZE_MAX ? MAILDIRSIZE_MAX
		                                   : (size_t)st.st_size;
	return maildirsize_judge(out, got, st.st_mtime, want, now);
}

/* see maildirsize.h */
int maildirsize_unchanged(const char *maildir,
                          const struct maildirsize_info *in)
{
	struct stat st;
	int root = open_maildir(maildir), r;

	if (root < 0)
		return 0;
	r = bare_fstatat(root, MAILDIRSIZE_NAME, &st, AT_SYMLINK_NOFOLLOW);
	(void)close(root);
	return r == 0 && in->ino != 0 && (uint64_t)st.st_dev == in->dev
	       && (uint64_t)st.st_ino == in->ino
	       && (int64_t)st.st_size == in->size
	       && st.st_mtim.tv_sec == in->mtime.tv_sec
	       && st.st_mtim.tv_nsec == in->mtime.tv_nsec;
}

/* see maildirsize.h */
size_t maildirsize_line(char buf[MAILDIRSIZE_LINE_MAX], int64_t bytes,
                        int64_t count)
{
	return fmt_into(buf, MAILDIRSIZE_LINE_MAX, "%lld %lld\n",
	                (long long)bytes, (long long)count);
}

/* see maildirsize.h */
size_t maildirsize_header(char buf[MAILDIRSIZE_LINE_MAX],
                          const struct maildirsize_limits *lim)
{
	if (lim->count == 0)
		return fmt_into(buf, MAILDIRSIZE_LINE_MAX, "%lluS\n",
		                (unsigned long long)lim->bytes);
	if (lim->bytes == 0)
		return fmt_into(buf, MAILDIRSIZE_LINE_MAX, "%lluC\n",
		                (unsigned long long)lim->count);
	return fmt_into(buf, MAILDIRSIZE_LINE_MAX, "%lluS,%lluC\n",
	                (unsigned long long)lim->bytes,
	                (unsigned long long)lim->count);
}

/* see maildirsize.h */
int maildirsize_append(const char *maildir, int64_t bytes, int64_t count,
                       int *fd_out)
{
	char line[MAILDIRSIZE_LINE_MAX];
	size_t len = maildirsize_line(line, bytes, count);
	ssize_t n;
	int root, fd, e;

	root = open_maildir(maildir);
	if (root < 0)
		return -1;
	fd = openat(root, MAILDIRSIZE_NAME, O_WRONLY | O_APPEND | O_NOFOLLOW
	            | O_CLOEXEC);
	e = errno;
	(void)close(root);
	if (fd < 0) {
		errno = e;
		return -1;
	}
	/* one write(2): O_APPEND keeps the lines of several writers whole */
	do
		n = write(fd, line, len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		e = n < 0 ? errno : ENOSPC;
		(void)close(fd);
		errno = e;
		return -1;
	}
	if (fd_out)
		*fd_out = fd;
	else if (close(fd) != 0)
		return -1;
	return 0;
}

/* see maildirsize.h */
int maildirsize_write(const char *maildir,
                      const struct maildirsize_limits *lim,
                      uint64_t bytes, uint64_t count)
{
	char text[2 * MAILDIRSIZE_LINE_MAX];
	/* maildir_tmp_name() and maildir_tmp_create() cut the same way
	 * when the host makes this longer than MAILDIR_NAME_MAX */
	char unique[sizeof "maildirsize." - 1 + MAILDIR_NAME_MAX];
	char name[MAILDIR_TMP_MAX];
	size_t len;
	int root, tmp = -1, fd = -1, e;

	len = maildirsize_header(text, lim);
	len += maildirsize_line(text + len, (int64_t)bytes, (int64_t)count);

	/* "mailnook.maildirsize.<unique>": maildir_clean_tmp() removes one
	 * that a crash leaves behind */
	memcpy(unique, "maildirsize.", sizeof "maildirsize.");
	maildir_name_new(unique + sizeof "maildirsize." - 1);
	maildir_tmp_name(name, unique);

	root = open_maildir(maildir);
	if (root < 0)
		return -1;
	tmp = openat(root, "tmp", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tmp < 0)
		goto fail;
	fd = maildir_tmp_create(tmp, unique);
	if (fd < 0)
		goto fail;
	if (maildir_write_all(fd, text, len) != 0 || fsync(fd) != 0)
		goto fail_unlink;
	if (close(fd) != 0) {
		fd = -1;
		goto fail_unlink;
	}
	fd = -1;
	if (renameat(tmp, name, root, MAILDIRSIZE_NAME) != 0)
		goto fail_unlink;
	(void)close(tmp);
	(void)close(root);
	return 0;
fail_unlink:
	e = errno;
	(void)unlinkat(tmp, name, 0);
	errno = e;
fail:
	e = errno;
	if (fd >= 0)
		(void)close(fd);
	if (tmp >= 0)
		(void)close(tmp);
	(void)close(root);
	errno = e;
	return -1;
}

/* see maildirsize.h */
int maildirsize_name_size(const char *name, uint64_t *size)
{
	const char *p = name;
	uint64_t n = 0;
	int digits = 0;

	/* the first ",S=", as strstr() would find it; strchr is in the
	 * binary anyway, strstr would bring 1.2 KiB of musl's two-way search */
	while ((p = strchr(p, ',')) != NULL && (p[1] != 'S' || p[2] != '='))
		p++;
	if (!p)
		return 0;
	for (p += 3; *p >= '0' && *p <= '9'; p++) {
		if (++digits > 19)
			return 0;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (!digits || (*p != ':' && *p != ',' && *p != '\0'))
		return 0;
	*size = n;
	return 1;
}

/* The cost of a stat(2) against reading one name, for the budget. */
#define STAT_COST 8

static unsigned scan_one(void *ctx, int dir, const char *folder, int sub,
                         const char *name, unsigned char type)
{
	struct maildirsize_scan *s = ctx;
	struct stat st;
	uint64_t size;

	(void)folder;
	(void)sub;
	if (name[0] == '.' || type == DT_DIR || type == DT_LNK)
		return 0;                 /* not a message */
	if (maildirsize_name_size(name, &size)) {
		s->bytes += size;
		s->count++;
		return 0;
	}
	s->stats++;
	/* gone meanwhile (moved to cur/, deleted): the walk sees the change */
	if (bare_fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0
	    && S_ISREG(st.st_mode)) {
		s->bytes += (uint64_t)st.st_size;
		s->count++;
	}
	return STAT_COST - 1;
}

/* see maildirsize.h */
int maildirsize_scan_start(struct maildirsize_scan *s, const char *maildir)
{
	s->bytes = s->count = 0;
	s->stats = 0;
	return maildir_walk_start(&s->walk, maildir, scan_one, s);
}

/* see maildirsize.h */
int maildirsize_scan_step(struct maildirsize_scan *s, unsigned budget)
{
	int r = maildir_walk_step(&s->walk, budget);

	if (r <= 0)
		return r < 0 ? -1 : s->walk.changed ? MAILDIRSIZE_SCAN_CHANGED
		                                    : MAILDIRSIZE_SCAN_DONE;
	return MAILDIRSIZE_SCAN_MORE;
}

/* see maildirsize.h */
void maildirsize_scan_stop(struct maildirsize_scan *s)
{
	maildir_walk_stop(&s->walk);
}

/* see maildirsize.h */
int maildirsize_recalculate(const char *maildir,
                            const struct maildirsize_limits *lim,
                            struct maildirsize_scan *s)
{
	int r;

	if (maildirsize_scan_start(s, maildir) != 0)
		return -1;
	do
		r = maildirsize_scan_step(s, 1u << 30);
	while (r == MAILDIRSIZE_SCAN_MORE);
	if (r != MAILDIRSIZE_SCAN_DONE)
		return r;
	if (maildirsize_write(maildir, lim, s->bytes, s->count) != 0)
		return -1;
	return MAILDIRSIZE_SCAN_DONE;
}
