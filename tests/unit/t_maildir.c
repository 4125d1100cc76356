/*
 * store/: Maildir preparation, checks, clean-up, names, writing, and the
 * batch commit, against real directories under a mkdtemp() directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "scratch_dir.h"
#include "tap.h"
#include "maildir.h"
#include "maildir_int.h"

static char base[64];
static char m1[160], m2[160], m3[160], m4[160], m1slash[160];
static int fs_mounted;
static char fs_dir[128];

static struct maildir_msg msgs[32];
static char names[10000][MAILDIR_NAME_MAX];

/* Fault injection: the store's fsync(2) calls land here.  fail_files
 * regular files fail, and so does the directory fail_dir when set. */
static int fail_files, fail_dir_set;
static dev_t fail_dev;
static ino_t fail_ino;

int fsync(int fd)
{
	struct stat st;

	if ((fail_files || fail_dir_set) && fstat(fd, &st) == 0) {
		if (fail_files && S_ISREG(st.st_mode)) {
			fail_files--;
			errno = EIO;
			return -1;
		}
		if (fail_dir_set && S_ISDIR(st.st_mode) && st.st_dev == fail_dev
		    && st.st_ino == fail_ino) {
			errno = EIO;
			return -1;
		}
	}
	return (int)syscall(SYS_fsync, fd);
}

/* Number of entries in dir (not . and ..); the last one's name to name. */
static int count(const char *dir, char *name)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		n++;
		if (name)
			snprintf(name, MAILDIR_PATH_MAX, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

static int sub_count(const char *maildir, const char *sub, char *name)
{
	char p[MAILDIR_PATH_MAX];

	path(p, maildir, sub);
	return count(p, name);
}

static int has_name(const char *maildir, const char *sub, const char *prefix)
{
	char p[MAILDIR_PATH_MAX];
	DIR *d;
	struct dirent *de;
	int found = 0;

	path(p, maildir, sub);
	d = opendir(p);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		found |= strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return found;
}

static void dest(struct maildir_msg *m, unsigned i, const char *dir,
                 const char *folder)
{
	m->dest[i].maildir = dir;
	snprintf(m->dest[i].folder, sizeof m->dest[i].folder, "%s", folder);
	m->n_dest = i + 1;
}

static int write_str(struct maildir_msg *m, const char *s)
{
	return maildir_write(m, s, strlen(s));
}

/* Opens, writes text, finishes and commits m alone. */
static int deliver(struct maildir_msg *m, const char *text)
{
	struct maildir_msg *one[1] = { m };
	int r, res = -1;

	r = maildir_open(m);
	if (r == SINK_OK)
		r = write_str(m, text);
	if (r == SINK_OK)
		r = maildir_finish(m);
	maildir_commit_batch(one, 1, &res);
	return res;
}

static size_t read_file(const char *p, char *buf, size_t cap)
{
	int fd = open(p, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, cap);
	close(fd);
	return n < 0 ? 0 : (size_t)n;
}

static int digits(const char **p)
{
	const char *s = *p;

	while (**p >= '0' && **p <= '9')
		(*p)++;
	return *p > s;
}

static int xdigits(const char **p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++, (*p)++) {
		if (!((**p >= '0' && **p <= '9') || (**p >= 'a' && **p <= 'f')))
			return 0;
	}
	return 1;
}

/* "SECS.M<usec>P<pid>Q<n>R<16 hex>.HOST,S=<n>,W=<n>"; S and W out. */
static int parse_name(const char *n, const char *host, unsigned long long *s,
                      unsigned long long *w)
{
	const char *p = n;
	size_t hl = strlen(host);

	if (strchr(n, ':') || strchr(n, '/'))
		return 0;
	if (!digits(&p) || strncmp(p, ".M", 2) != 0)
		return 0;
	p += 2;
	if (!digits(&p) || *p++ != 'P' || !digits(&p) || *p++ != 'Q'
	    || !digits(&p) || *p++ != 'R' || !xdigits(&p, 16) || *p++ != '.')
		return 0;
	if (strncmp(p, host, hl) != 0)
		return 0;
	p += hl;
	return sscanf(p, ",S=%llu,W=%llu", s, w) == 2
	       && strstr(p, ",W=") && p[strlen(p) - 1] >= '0';
}

static void test_prepare_check(void)
{
	char p[MAILDIR_PATH_MAX], bad[MAILDIR_PATH_MAX];
	static const char *const sub[] = { "", "tmp", "new", "cur" };
	struct stat st;
	size_t i;
	int fd;

	is_int(maildir_prepare(m1), 0, "prepare creates a Maildir and parents");
	for (i = 0; i < 4; i++) {
		path(p, m1, sub[i]);
		ok(stat(p, &st) == 0 && S_ISDIR(st.st_mode)
		   && (st.st_mode & 07777) == 0700,
		   "%s/ is a directory, mode 0700 (umask 0277)",
		   *sub[i] ? sub[i] : "Maildir");
	}
	is_int(maildir_prepare(m1), 0, "prepare again: existing is fine");
	snprintf(bad, sizeof bad, "%s/ts/Maildir//", base);
	path(p, base, "ts/Maildir");
	ok(maildir_prepare(bad) == 0 && stat(p, &st) == 0
	   && (st.st_mode & 07777) == 0700,
	   "prepare with trailing slashes: the Maildir is 0700 too");
	is_int(maildir_check(m1), 0, "check passes");
	is_int(sub_count(m1, "tmp", NULL), 0, "check leaves tmp/ empty");
	is_int(maildir_prepare(m2), 0, "prepare a second Maildir");
	is_int(maildir_prepare(m3), 0, "prepare a third Maildir");

	snprintf(bad, sizeof bad, "%s/bad", base);
	is_int(maildir_prepare(bad), 0, "prepare a Maildir to break");
	path(p, bad, "cur");
	rmdir(p);
	ok(maildir_check(bad) == -1 && errno == ENOENT,
	   "check fails without cur/ (ENOENT)");
	is_int(maildir_prepare(bad), 0, "prepare repairs it");
	is_int(maildir_check(bad), 0, "check passes again");
	path(p, bad, "tmp");
	rmdir(p);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	close(fd);
	ok(maildir_check(bad) == -1 && errno == ENOTDIR,
	   "check fails when tmp/ is a regular file (ENOTDIR)");
	ok(maildir_prepare(bad) == -1 && errno == ENOTDIR,
	   "prepare refuses a tmp/ that is a file");
	unlink(p);
	is_int(maildir_prepare(bad), 0, "prepare again");
	if (geteuid() == 0) {
		tap_skip("running as root: permission bits do not bind root");
		tap_skip("running as root: permission bits do not bind root");
	} else {
		chmod(p, 0500);
		ok(maildir_check(bad) == -1 && errno == EACCES,
		   "check fails on a read-only tmp/ (EACCES)");
		chmod(p, 0700);
		path(p, bad, "new");
		chmod(p, 0500);
		ok(maildir_check(bad) == -1 && errno == EACCES,
		   "check fails on a read-only new/ (EACCES)");
		chmod(p, 0700);
	}
	ok(maildir_free_space(m1) > 0, "free space is positive");
	ok(maildir_free_space("/nonexistent/x") == -1,
	   "free space of a missing directory: -1");
}

static void test_host_names(void)
{
	char u[MAILDIR_NAME_MAX], want[128];
	const char *h;
	size_t i;
	int dup = 0;

	maildir_set_host("a/b:c,d\x01" "e f\x7f\xc3\xa9g");
	maildir_name_new(u);
	h = strrchr(u, 'R');
	ok(h && strcmp(h + 18, "a\\057b\\072c\\054defg") == 0,
	   "host escaped: / \\057, : \\072, , \\054, controls dropped (%s)",
	   u);
	memset(want, 'x', 100);
	want[100] = '\0';
	maildir_set_host(want);
	maildir_name_new(u);
	h = strrchr(u, '.');
	is_int(strlen(h + 1), MAILDIR_HOST_MAX, "a long host is bounded");
	maildir_set_host("//////////////////////////////");
	maildir_name_new(u);
	h = strrchr(u, 'R') + 18;
	ok(strlen(h) == 64 && strncmp(h + 60, "\\057", 4) == 0,
	   "bounding never splits an escape");
	maildir_set_host("\x01\x02");
	maildir_name_new(u);
	ok(strstr(u, ".localhost") != NULL, "an empty host becomes localhost");
	maildir_set_host("mx.test");

	for (i = 0; i < 10000; i++)
		maildir_name_new(names[i]);
	qsort(names, 10000, sizeof names[0],
	      (int (*)(const void *, const void *))strcmp);
	for (i = 1; i < 10000; i++)
		dup |= strcmp(names[i - 1], names[i]) == 0;
	ok(!dup, "10000 names in a loop are all distinct");
}

static void test_one(void)
{
	static char text[30000], got[40000];
	struct maildir_msg *m = &msgs[0];
	char name[MAILDIR_PATH_MAX], p[MAILDIR_PATH_MAX];
	unsigned long long s = 0, w = 0;
	struct stat st;
	size_t i, n, lf = 0, off;
	int r = SINK_OK, res = -1;
	struct maildir_msg *one[1] = { m };

	for (i = 0; i < sizeof text; i++) {
		text[i] = (char)('a' + i % 26);
		if (i % 71 == 70)
			text[i] = '\n';
		lf += text[i] == '\n';
	}
	dest(m, 0, m1, "");
	is_int(maildir_open(m), SINK_OK, "open");
	ok(has_name(m1, "tmp", "mailnook."), "tmp/mailnook.* exists");
	/* pieces of every size: small, across the buffer, larger than it */
	for (off = 0, n = 1; off < sizeof text && r == SINK_OK; n = n * 3 + 1) {
		size_t k = n < sizeof text - off ? n : sizeof text - off;

		r = maildir_write(m, text + off, k);
		off += k;
	}
	is_int(r, SINK_OK, "writes");
	is_int(maildir_finish(m), SINK_OK, "finish");
	maildir_commit_batch(one, 1, &res);
	is_int(res, SINK_OK, "commit");
	is_int(sub_count(m1, "new", name), 1, "exactly one file in new/");
	is_int(sub_count(m1, "tmp", NULL), 0, "tmp/ empty");
	is_int(sub_count(m1, "cur", NULL), 0, "cur/ empty");
	ok(parse_name(name, "mx.test", &s, &w), "name pattern: %s", name);
	path(p, m1, "new/");
	strcat(p, name);
	ok(stat(p, &st) == 0, "stat");
	is_int(s, st.st_size, "S= is the file size");
	is_int(w, (unsigned long long)st.st_size + lf, "W= is size + LFs");
	is_int(st.st_mode & 07777, 0600, "mode 0600 (umask 0277)");
	is_int(st.st_nlink, 1, "one link: the tmp/ name is gone");
	n = read_file(p, got, sizeof got);
	is_mem(got, n, text, sizeof text, "content identical");
	ok(m->fd == -1 && m->tmp_dir == -1, "message closed");
	unlink(p);
}

/* W= as Dovecot reads it (lib-mail message-size.c): the size plus one for
 * each LF with no CR just before it in the file. */
static unsigned long long vsize(const char *t, size_t n)
{
	unsigned long long v = n;
	size_t i;

	for (i = 0; i < n; i++)
		v += t[i] == '\n' && (i == 0 || t[i - 1] != '\r');
	return v;
}

/* m's final name carries S=n and W=vsize(t, n). */
static int name_is(const struct maildir_msg *m, const char *t, size_t n)
{
	char name[MAILDIR_FINAL_MAX];
	unsigned long long s = 0, w = 0;

	maildir_name_final(m, name);
	return parse_name(name, "mx.test", &s, &w) && s == n
	       && w == vsize(t, n);
}

/* A CR before an LF is counted whichever write or which flush of the shared
 * body buffer it ends: "line one\r\r\n" arrives as "line one\r\n", and the
 * CR may be the last octet of one write and the LF the first of the next. */
static void test_vsize(void)
{
	static const char mix[] = "R: <a>\nX: y\r\n\nline one\r\n\r\n\n\r\rz\r\r\n\r";
	static char text[2 * CFG_BODY_BUFSIZE + 64], got[sizeof text];
	static const size_t pieces[] = { 1, 2, 3, 5, 0, 1, 2 };
	struct maildir_msg *m = &msgs[0], *b = &msgs[1];
	const size_t n = sizeof mix - 1;
	char name[MAILDIR_PATH_MAX], p[MAILDIR_PATH_MAX];
	unsigned long long s = 0, w = 0;
	size_t bl, len, pos, k1, k2, off, i, cases = 0, bad = 0;
	int r = SINK_OK, res = -1;
	struct maildir_msg *one[1] = { m };

	dest(m, 0, m1, "");
	dest(b, 0, m2, "");
	is_int(maildir_open(b), SINK_OK, "vsize: another message open");
	for (k1 = 0; k1 <= n; k1++) {
		for (k2 = k1; k2 <= n; k2++) {
			/* three writes; b takes the buffer between them */
			r |= maildir_open(m);
			r |= maildir_write(m, mix, k1);
			r |= maildir_write(b, "b", 1);
			r |= maildir_write(m, mix + k1, k2 - k1);
			r |= maildir_write(b, "b", 1);
			r |= maildir_write(m, mix + k2, n - k2);
			bad += !name_is(m, mix, n);
			cases++;
			maildir_abort(m);
		}
	}
	maildir_abort(b);
	is_int(r, SINK_OK, "vsize: %zu messages written", cases);
	is_int(bad, 0, "vsize: W= right for every split of a CR/LF mixture "
	       "in three writes (%zu splits)", cases);

	/* long runs of CR, LF and other octets in pieces of every length up
	 * to 100, another message writing between them: the count sixteen
	 * octets at a time sees each LF and the octet before it, also
	 * across pieces and flushes */
	srand(15);
	bad = cases = 0;
	for (i = 0; i < 20; i++) {
		len = 3000 + (size_t)rand() % 200;
		for (off = 0; off < len; off++)
			text[off] = "\r\nab\n"[rand() % (i < 10 ? 5 : 3)];
		r |= maildir_open(m);
		r |= maildir_open(b);
		for (off = 0; off < len; off += k1) {
			k1 = 1 + (size_t)rand() % 100;
			if (k1 > len - off)
				k1 = len - off;
			r |= maildir_write(m, text + off, k1);
			if (rand() % 2)
				r |= maildir_write(b, "\n", 1);
		}
		bad += !name_is(m, text, len);
		cases++;
		maildir_abort(m);
		maildir_abort(b);
	}
	is_int(r, SINK_OK, "vsize: %zu random CR/LF messages written", cases);
	is_int(bad, 0, "vsize: W= right for random CR/LF texts in random "
	       "pieces (%zu texts)", cases);

	(void)maildir_scratch(&bl);
	len = 2 * bl + 64;
	if (!ok(len <= sizeof text, "vsize: the body buffer (%zu) fits the test",
	        bl))
		return;
	bad = cases = 0;
	for (pos = bl - 3; pos <= 2 * bl + 2; pos++) {
		if (pos == bl + 3)
			pos = 2 * bl - 3;
		for (i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
			/* pieces[i] 0, 1, 2: the buffer's size - 1, +0, +1 */
			size_t step = i < 4 ? pieces[i] : bl - 1 + pieces[i];

			for (off = 0; off < len; off++)
				text[off] = off % 61 == 60 ? '\n' : 'a';
			text[pos] = '\r';
			text[pos + 1] = '\n';
			r |= maildir_open(m);
			for (off = 0; off < len; off += step)
				r |= maildir_write(m, text + off,
				                   step < len - off ? step : len - off);
			bad += !name_is(m, text, len);
			cases++;
			maildir_abort(m);
		}
	}
	is_int(r, SINK_OK, "vsize: %zu buffer-sized messages written", cases);
	is_int(bad, 0, "vsize: W= right with the CR last in a write or in the "
	       "body buffer at every offset around its boundaries (%zu cases)",
	       cases);

	/* and on a stored file: W= of the name matches its bytes */
	text[bl - 1] = '\r';
	text[bl] = '\n';
	r = maildir_open(m);
	for (off = 0; off < len; off += bl)
		r |= maildir_write(m, text + off, bl < len - off ? bl : len - off);
	r |= maildir_finish(m);
	maildir_commit_batch(one, 1, &res);
	ok(r == SINK_OK && res == SINK_OK, "vsize: stored");
	is_int(sub_count(m1, "new", name), 1, "vsize: one file in new/");
	path(p, m1, "new/");
	strcat(p, name);
	len = read_file(p, got, sizeof got);
	ok(parse_name(name, "mx.test", &s, &w) && s == len
	   && w == vsize(got, len),
	   "vsize: the file's S= and W= are its size and its size as Dovecot "
	   "reads it (%s)", name);
	unlink(p);
}

/* maildir/new/ holds one file, with want[0..len) exactly; it is removed. */
static void is_only_new(const char *maildir, const char *want, size_t len,
                        const char *what)
{
	static char got[50000];
	char name[MAILDIR_PATH_MAX], p[MAILDIR_PATH_MAX];
	size_t n;

	is_int(sub_count(maildir, "new", name), 1, "%s: one file in new/", what);
	path(p, maildir, "new/");
	strcat(p, name);
	n = read_file(p, got, sizeof got);
	is_mem(got, n, want, len, "%s: its bytes exactly", what);
	unlink(p);
}

/* Messages share one body buffer (maildir.c): written in turns, each gets
 * exactly its own bytes; one aborted while its bytes sit in the buffer
 * leaves them nowhere; a write that fails while flushing one message's
 * bytes on behalf of another is the first message's error only. */
static void test_interleaved(void)
{
	static char text[3][40000];
	static const size_t sizes[] = { 1, 700, 5000, 9000, 300, 20000, 64 };
	struct maildir_msg *a = &msgs[0], *b = &msgs[1], *c = &msgs[2];
	struct maildir_msg *list[2] = { a, c };
	size_t len[3] = { 0, 0, 0 }, i, k, n;
	int r = SINK_OK, res[2] = { -1, -1 }, full;

	dest(a, 0, m1, "");
	dest(b, 0, m2, "");
	dest(c, 0, m3, "");
	is_int(maildir_open(a) | maildir_open(b) | maildir_open(c), SINK_OK,
	       "interleaved: three open");
	for (i = 0; i < 21; i++) {
		struct maildir_msg *m = i % 3 == 0 ? a : i % 3 == 1 ? b : c;

		n = sizes[(i + i / 3) % 7];
		for (k = 0; k < n; k++)
			text[i % 3][len[i % 3] + k] = (char)('a' + (i + k) % 26);
		if (i == 16) {
			/* b, now the buffer's owner, goes away */
			r |= maildir_write(m, text[1] + len[1], n);
			maildir_abort(b);
			continue;
		}
		if (i > 16 && m == b)
			continue;
		r |= maildir_write(m, text[i % 3] + len[i % 3], n);
		len[i % 3] += n;
	}
	is_int(r, SINK_OK, "interleaved: 21 writes in turns");
	is_int(maildir_finish(a) | maildir_finish(c), SINK_OK, "interleaved: finish");
	maildir_commit_batch(list, 2, res);
	ok(res[0] == SINK_OK && res[1] == SINK_OK, "interleaved: both stored");
	is_only_new(m1, text[0], len[0], "interleaved: a");
	is_only_new(m3, text[2], len[2], "interleaved: c");
	ok(sub_count(m2, "new", NULL) == 0 && sub_count(m2, "tmp", NULL) == 0,
	   "interleaved: the aborted message left nothing");

	/* a's buffered bytes fail to reach its file when c writes */
	is_int(maildir_open(a) | maildir_open(c), SINK_OK, "flush failure: open");
	is_int(write_str(a, "Subject: a\n\n"), SINK_OK, "flush failure: a buffered");
	full = open("/dev/full", O_WRONLY);
	ok(full >= 0 && dup2(full, a->fd) == a->fd, "flush failure: a's file is now /dev/full");
	if (full >= 0)
		close(full);
	is_int(write_str(c, "Subject: c\n\n"), SINK_OK, "flush failure: c's write succeeds");
	is_int(write_str(a, "more\n"), SINK_NOSPACE, "flush failure: a gets ENOSPC");
	is_int(maildir_finish(c), SINK_OK, "flush failure: c finishes");
	maildir_abort(a);
	res[0] = -1;
	maildir_commit_batch(list + 1, 1, res);
	is_int(res[0], SINK_OK, "flush failure: c is stored");
	is_only_new(m3, "Subject: c\n\n", 12, "flush failure: c");
	ok(sub_count(m1, "new", NULL) == 0 && sub_count(m1, "tmp", NULL) == 0,
	   "flush failure: nothing of a anywhere");
}

static void test_dests(void)
{
	struct maildir_msg *m = &msgs[0];
	char n1[MAILDIR_PATH_MAX], n2[MAILDIR_PATH_MAX], f[MAILDIR_PATH_MAX];
	char p1[MAILDIR_PATH_MAX], p2[MAILDIR_PATH_MAX];
	struct stat s1, s2;

	dest(m, 0, m1, "");
	dest(m, 1, m2, "");
	is_int(deliver(m, "Subject: two\n\nhello\n"), SINK_OK,
	       "two Maildirs: commit");
	ok(sub_count(m1, "new", n1) == 1 && sub_count(m2, "new", n2) == 1,
	   "one file in each new/");
	is_str(n1, n2, "same name in both");
	path(p1, m1, "new/");
	strcat(p1, n1);
	path(p2, m2, "new/");
	strcat(p2, n2);
	ok(stat(p1, &s1) == 0 && stat(p2, &s2) == 0 && s1.st_ino == s2.st_ino
	   && s1.st_dev == s2.st_dev && s1.st_nlink == 2,
	   "the same inode (hard link), two links");
	is_int(sub_count(m1, "tmp", NULL), 0, "tmp/ empty");
	unlink(p1);
	unlink(p2);

	dest(m, 0, m1, "");
	dest(m, 1, m1, "");
	dest(m, 2, m1slash, "");
	is_int(deliver(m, "x\n"), SINK_OK, "the same Maildir three times");
	is_int(sub_count(m1, "new", n1), 1, "stored once (also as \"m1/\")");
	path(p1, m1, "new/");
	strcat(p1, n1);
	ok(stat(p1, &s1) == 0 && s1.st_nlink == 1, "one link");
	unlink(p1);

	snprintf(f, sizeof f, "%s/.work", m1);
	is_int(maildir_prepare(f), 0, "prepare folder .work");
	dest(m, 0, m1, "work");
	is_int(deliver(m, "x\n"), SINK_OK, "folder exists: commit");
	ok(sub_count(f, "new", n1) == 1 && sub_count(m1, "new", NULL) == 0,
	   "stored in .work/new, not in the inbox");
	path(p1, f, "new/");
	strcat(p1, n1);
	unlink(p1);

	dest(m, 0, m1, "nothere");
	is_int(deliver(m, "x\n"), SINK_OK, "folder missing: commit");
	ok(sub_count(m1, "new", n1) == 1, "stored in the inbox");
	path(p1, m1, "new/");
	strcat(p1, n1);
	unlink(p1);

	dest(m, 0, m1, "");
	is_int(deliver(m, "x\n"), SINK_OK, "folder \"\": commit");
	ok(sub_count(m1, "new", n1) == 1, "stored in the inbox");
	path(p1, m1, "new/");
	strcat(p1, n1);
	unlink(p1);

	dest(m, 0, m1, "../m2");
	dest(m, 1, m1, ".work");
	is_int(deliver(m, "x\n"), SINK_OK, "folder names with / or . : commit");
	ok(sub_count(m1, "new", n1) == 1 && sub_count(m2, "new", NULL) == 0
	   && sub_count(f, "new", NULL) == 0, "stored once, in the inbox");
	path(p1, m1, "new/");
	strcat(p1, n1);
	unlink(p1);

	dest(m, 0, m1, "nothere");
	dest(m, 1, m1, "work");
	dest(m, 2, m1, "");
	dest(m, 3, m1, "work");
	is_int(deliver(m, "x\n"), SINK_OK, "inbox, missing folder, folder");
	ok(sub_count(m1, "new", n1) == 1 && sub_count(f, "new", n2) == 1,
	   "once in the inbox, once in .work");
	path(p1, m1, "new/");
	strcat(p1, n1);
	path(p2, f, "new/");
	strcat(p2, n2);
	ok(stat(p1, &s1) == 0 && stat(p2, &s2) == 0 && s1.st_ino == s2.st_ino,
	   "the same inode");
	unlink(p1);
	unlink(p2);
}

static void test_batch(void)
{
	struct maildir_msg *list[32];
	char text[64];
	int res[32], all = 1, r = SINK_OK;
	size_t i;

	for (i = 0; i < 32; i++) {
		list[i] = &msgs[i];
		dest(&msgs[i], 0, i % 2 ? m2 : m1, "");
		dest(&msgs[i], 1, m1, "");
		snprintf(text, sizeof text, "Subject: %zu\n\n%zu\n", i, i);
		r |= maildir_open(&msgs[i]);
		r |= write_str(&msgs[i], text);
		r |= maildir_finish(&msgs[i]);
		res[i] = -1;
	}
	is_int(r, SINK_OK, "32 messages open and written");
	maildir_commit_batch(list, 32, res);
	for (i = 0; i < 32; i++)
		all &= res[i] == SINK_OK;
	ok(all, "32 results SINK_OK");
	is_int(sub_count(m1, "new", NULL), 32, "32 files in m1/new");
	is_int(sub_count(m2, "new", NULL), 16, "16 files in m2/new");
	ok(sub_count(m1, "tmp", NULL) == 0 && sub_count(m2, "tmp", NULL) == 0,
	   "tmp/ empty");
	rm_rf(m1);
	rm_rf(m2);
	maildir_prepare(m1);
	maildir_prepare(m2);
}

/* Opens, writes and finishes msgs[i] for the given destinations. */
static int prepare_msg(size_t i, const char *d0, const char *d1,
                       const char *text)
{
	dest(&msgs[i], 0, d0, "");
	if (d1)
		dest(&msgs[i], 1, d1, "");
	if (maildir_open(&msgs[i]) != SINK_OK
	    || write_str(&msgs[i], text) != SINK_OK)
		return -1;
	return maildir_finish(&msgs[i]);
}

static void test_fsync_failures(void)
{
	struct maildir_msg *list[4] = { &msgs[0], &msgs[1], &msgs[2], &msgs[3] };
	char p[MAILDIR_PATH_MAX], u[4][MAILDIR_NAME_MAX];
	struct stat st;
	int res[4], i;

	ok(prepare_msg(0, m1, NULL, "x\n") == 0
	   && prepare_msg(1, m2, NULL, "y\n") == 0, "two messages written");
	fail_files = 1;
	res[0] = res[1] = -1;
	maildir_commit_batch(list, 2, res);
	fail_files = 0;
	ok(res[0] == SINK_TEMP && res[1] == SINK_OK,
	   "the first file's fsync fails: SINK_TEMP, the other SINK_OK");
	ok(sub_count(m1, "new", NULL) == 0 && sub_count(m1, "tmp", NULL) == 0,
	   "the failed one is nowhere");
	rm_rf(m2);
	maildir_prepare(m2);

	/* m2/new cannot be synced: every message linked there fails */
	ok(prepare_msg(0, m1, NULL, "a\n") == 0
	   && prepare_msg(1, m1, m2, "b\n") == 0
	   && prepare_msg(2, m2, NULL, "c\n") == 0
	   && prepare_msg(3, m2, m1, "d\n") == 0, "four messages written");
	for (i = 0; i < 4; i++) {
		snprintf(u[i], sizeof u[i], "%s", msgs[i].unique);
		res[i] = -1;
	}
	path(p, m2, "new");
	stat(p, &st);
	fail_dev = st.st_dev;
	fail_ino = st.st_ino;
	fail_dir_set = 1;
	maildir_commit_batch(list, 4, res);
	fail_dir_set = 0;
	ok(res[0] == SINK_OK && res[1] == SINK_TEMP && res[2] == SINK_TEMP
	   && res[3] == SINK_TEMP, "m2/new fsync fails: OK TEMP TEMP TEMP "
	   "(%d %d %d %d)", res[0], res[1], res[2], res[3]);
	ok(has_name(m1, "new", u[0]) && sub_count(m1, "new", NULL) == 1
	   && sub_count(m2, "new", NULL) == 0,
	   "only the first is stored, in m1 (also unlinked from m1/new)");
	ok(sub_count(m1, "tmp", NULL) == 0 && sub_count(m2, "tmp", NULL) == 0,
	   "tmp/ empty");
	rm_rf(m1);
	maildir_prepare(m1);
}

/* A name already in new/ is never replaced. */
static void test_collision(void)
{
	struct maildir_msg *m = &msgs[0];
	struct maildir_msg *one[1] = { m };
	char name[MAILDIR_FINAL_MAX], p[MAILDIR_PATH_MAX], got[16];
	int fd, res = -1;
	size_t n;

	ok(prepare_msg(0, m1, m2, "mine\n") == 0, "message written");
	maildir_name_final(m, name);
	path(p, m2, "new/");
	strcat(p, name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ok(fd >= 0 && write(fd, "theirs\n", 7) == 7 && close(fd) == 0,
	   "a foreign file takes the final name in m2/new");
	maildir_commit_batch(one, 1, &res);
	is_int(res, SINK_TEMP, "link onto an existing name: SINK_TEMP");
	n = read_file(p, got, sizeof got);
	is_mem(got, n, "theirs\n", 7, "the existing file is untouched");
	ok(sub_count(m1, "new", NULL) == 0 && sub_count(m1, "tmp", NULL) == 0,
	   "the message is in no new/ (undone from m1), tmp/ empty");
	unlink(p);
}

static void test_failures(void)
{
	struct maildir_msg *a = &msgs[0], *b = &msgs[1], *c = &msgs[2];
	struct maildir_msg *list[3] = { a, b, c };
	char p[MAILDIR_PATH_MAX], nb[MAILDIR_NAME_MAX];
	int res[3];

	dest(a, 0, m1, "");
	is_int(maildir_open(a), SINK_OK, "abort: open");
	is_int(write_str(a, "Subject: x\n\nbody\n"), SINK_OK, "abort: write");
	maildir_abort(a);
	ok(sub_count(m1, "new", NULL) == 0 && sub_count(m1, "tmp", NULL) == 0,
	   "abort: nothing in new/, tmp/ empty");
	ok(a->fd == -1, "abort: closed");

	path(p, m3, "tmp");
	rmdir(p);
	dest(a, 0, m3, "");
	is_int(maildir_open(a), SINK_TEMP, "open without tmp/: SINK_TEMP");
	is_int(write_str(a, "x\n"), SINK_TEMP, "write: the sticky SINK_TEMP");
	is_int(maildir_finish(a), SINK_TEMP, "finish: the sticky SINK_TEMP");
	res[0] = -1;
	maildir_commit_batch(list, 1, res);
	is_int(res[0], SINK_TEMP, "commit: SINK_TEMP");
	maildir_abort(a);
	maildir_prepare(m3);

	/* b's second destination loses its new/ after b was opened */
	dest(a, 0, m1, "");
	dest(b, 0, m1, "");
	dest(b, 1, m2, "");
	dest(b, 2, m3, "");
	dest(c, 0, m2, "");
	dest(c, 1, m1, "");
	is_int(maildir_open(a) | maildir_open(b) | maildir_open(c), SINK_OK,
	       "batch of three: open");
	snprintf(nb, sizeof nb, "%s", b->unique);
	is_int(write_str(a, "a\n") | write_str(b, "b\n") | write_str(c, "c\n"),
	       SINK_OK, "write");
	is_int(maildir_finish(a) | maildir_finish(b) | maildir_finish(c),
	       SINK_OK, "finish");
	path(p, m3, "new");
	rmdir(p);
	res[0] = res[1] = res[2] = -1;
	maildir_commit_batch(list, 3, res);
	ok(res[0] == SINK_OK && res[1] == SINK_TEMP && res[2] == SINK_OK,
	   "results OK, TEMP, OK (%d %d %d)", res[0], res[1], res[2]);
	ok(sub_count(m1, "new", NULL) == 2 && sub_count(m2, "new", NULL) == 1,
	   "the others are stored");
	ok(!has_name(m1, "new", nb) && !has_name(m2, "new", nb),
	   "the failed message is in no new/");
	ok(sub_count(m1, "tmp", NULL) == 0 && sub_count(m2, "tmp", NULL) == 0
	   && sub_count(m3, "tmp", NULL) == 0, "tmp/ empty everywhere");
	rm_rf(m1);
	rm_rf(m2);
	rm_rf(m3);
	maildir_prepare(m1);
	maildir_prepare(m2);
	maildir_prepare(m3);

	test_fsync_failures();
	test_collision();

	is_int(maildir_errno_result(ENOSPC), SINK_NOSPACE, "ENOSPC: NOSPACE");
	is_int(maildir_errno_result(EDQUOT), SINK_NOSPACE, "EDQUOT: NOSPACE");
	is_int(maildir_errno_result(EIO), SINK_TEMP, "EIO: TEMP");
	is_int(maildir_errno_result(EACCES), SINK_TEMP, "EACCES: TEMP");
	is_int(maildir_errno_result(EROFS), SINK_TEMP, "EROFS: TEMP");
	is_int(maildir_errno_result(EFBIG), SINK_NOSPACE,
	       "EFBIG (RLIMIT_FSIZE): NOSPACE, as ENOSPC");
}

static void test_clean(void)
{
	char p[MAILDIR_PATH_MAX];
	struct timespec ts[2];
	time_t now = time(NULL);
	static const char *const files[] = {
		"tmp/mailnook.1.M2P3Q4R0.h", "tmp/mailnook.x",
		"tmp/1700000000.M1P2.dovecot-old", "tmp/1700000000.M1P2.dovecot",
		"new/1.M1P1.old",
	};
	size_t i;

	for (i = 0; i < 5; i++) {
		int fd;

		path(p, m1, files[i]);
		fd = open(p, O_WRONLY | O_CREAT, 0600);
		close(fd);
	}
	ts[0].tv_sec = ts[1].tv_sec = now - 37 * 3600;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	path(p, m1, files[2]);
	utimensat(AT_FDCWD, p, ts, 0);
	path(p, m1, files[4]);
	utimensat(AT_FDCWD, p, ts, 0);
	path(p, m1, "tmp/olddir");
	mkdir(p, 0700);
	utimensat(AT_FDCWD, p, ts, 0);
	is_int(maildir_clean_tmp(m1, now), 3, "clean_tmp removes three files");
	ok(!has_name(m1, "tmp", "mailnook."), "ours are gone");
	ok(!has_name(m1, "tmp", "1700000000.M1P2.dovecot-old"),
	   "a 37-hour-old foreign file is gone");
	ok(has_name(m1, "tmp", "1700000000.M1P2.dovecot"),
	   "a fresh foreign file stays");
	ok(has_name(m1, "tmp", "olddir"), "a directory stays");
	ok(has_name(m1, "new", "1.M1P1.old"), "new/ is not touched");
	/* more entries than one read of the directory returns, removed as
	 * they are read; a foreign fresh file among them stays */
	for (i = 0; i < 600; i++) {
		char name[64];
		int fd;

		snprintf(name, sizeof name, "tmp/mailnook.%zu.M1P1Q%zuR0.host-with-a-long-name", i, i);
		path(p, m1, name);
		fd = open(p, O_WRONLY | O_CREAT, 0600);
		if (fd >= 0)
			close(fd);
	}
	is_int(maildir_clean_tmp(m1, now), 600, "clean_tmp removes 600 files in one walk");
	is_int(sub_count(m1, "tmp", NULL), 2, "  the fresh foreign file and the directory stay");
	ok(maildir_clean_tmp(m3, now) == 0, "clean_tmp of an empty tmp/: 0");
	ok(maildir_clean_tmp("/nonexistent/x", now) == -1,
	   "clean_tmp of a missing Maildir: -1");
	rm_rf(m1);
	maildir_prepare(m1);
}

/* A Maildir "lk" whose sub (a path under it, such as "new" or ".tag") is a
 * symbolic link to the directory victim, made empty; its path to out. */
static void link_maildir(char *out, const char *sub, const char *victim)
{
	char p[MAILDIR_PATH_MAX];

	snprintf(out, MAILDIR_PATH_MAX, "%s/lk", base);
	rm_rf(out);
	rm_rf(victim);
	(void)maildir_prepare(out);
	(void)mkdir(victim, 0700);
	path(p, out, sub);
	rm_rf(p);
	if (symlink(victim, p) != 0)
		printf("Bail out! symlink %s: %s\n", p, strerror(errno));
}

/* Contract section 5: nothing inside a Maildir is followed when it is a
 * symbolic link; such a Maildir fails, and nothing is created, linked or
 * removed where the link points. */
static void test_links(void)
{
	struct maildir_msg *m = &msgs[0];
	char lk[MAILDIR_PATH_MAX], v[MAILDIR_PATH_MAX], p[MAILDIR_PATH_MAX];
	struct timespec ts[2];
	time_t now = time(NULL);
	int fd, fds = count("/proc/self/fd", NULL);

	snprintf(v, sizeof v, "%s/victim", base);
	link_maildir(lk, "tmp", v);
	path(p, v, "mailnook.x");
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	close(fd);
	path(p, v, "old");
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	close(fd);
	ts[0].tv_sec = ts[1].tv_sec = now - 40 * 3600;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(AT_FDCWD, p, ts, 0);
	ok(maildir_clean_tmp(lk, now) == -1 && errno == ELOOP,
	   "links: clean_tmp of a linked tmp/ fails with ELOOP");
	is_int(count(v, NULL), 2, "links: mailnook.x and a 40-hour-old file "
	       "stay where tmp/ points");
	ok(maildir_check(lk) == -1 && errno == ELOOP,
	   "links: check refuses a linked tmp/ (ELOOP)");
	ok(maildir_prepare(lk) == -1 && errno == ELOOP,
	   "links: prepare refuses a linked tmp/ (ELOOP)");
	dest(m, 0, lk, "");
	is_int(maildir_open(m), SINK_TEMP, "links: open with a linked tmp/: "
	       "SINK_TEMP");
	is_int(count(v, NULL), 2, "links: nothing created through tmp/");
	maildir_abort(m);

	link_maildir(lk, "new", v);
	ok(maildir_check(lk) == -1 && errno == ELOOP,
	   "links: check refuses a linked new/ (ELOOP)");
	dest(m, 0, lk, "");
	is_int(deliver(m, "Subject: linked\n\nx\n"), SINK_TEMP,
	       "links: delivery into a linked new/: SINK_TEMP");
	ok(count(v, NULL) == 0 && sub_count(lk, "tmp", NULL) == 0,
	   "links: nothing where new/ points, tmp/ empty");
	dest(m, 0, m1, "");
	dest(m, 1, lk, "");
	is_int(deliver(m, "x\n"), SINK_TEMP,
	       "links: to a good and a linked Maildir: SINK_TEMP");
	ok(sub_count(m1, "new", NULL) == 0 && count(v, NULL) == 0
	   && sub_count(m1, "tmp", NULL) == 0,
	   "links: in no new/ (undone from the good one), tmp/ empty");
	dest(m, 0, m2, "");
	is_int(deliver(m, "x\n"), SINK_OK, "links: another Maildir still works");
	is_int(sub_count(m2, "new", p), 1, "links: stored there");
	rm_rf(m2);
	maildir_prepare(m2);

	link_maildir(lk, "cur", v);
	ok(maildir_check(lk) == -1 && errno == ELOOP && count(v, NULL) == 0,
	   "links: check refuses a linked cur/ (ELOOP)");

	/* a +tag folder that is a link goes to the inbox */
	link_maildir(lk, ".tag", v);
	(void)maildir_prepare(v);
	dest(m, 0, lk, "tag");
	is_int(deliver(m, "x\n"), SINK_OK, "links: linked .tag folder: stored");
	ok(sub_count(lk, "new", NULL) == 1 && sub_count(v, "new", NULL) == 0
	   && sub_count(v, "tmp", NULL) == 0,
	   "links: in the inbox, nothing in the linked folder");
	rm_rf(lk);
	rm_rf(v);
	(void)mkdir(v, 0700);
	(void)maildir_prepare(lk);
	path(p, lk, ".tag");
	(void)maildir_prepare(p);
	path(p, lk, ".tag/new");
	rm_rf(p);
	if (symlink(v, p) != 0)
		printf("Bail out! symlink %s: %s\n", p, strerror(errno));
	dest(m, 0, lk, "tag");
	is_int(deliver(m, "x\n"), SINK_OK, "links: .tag/new a link: stored");
	ok(sub_count(lk, "new", NULL) == 1 && count(v, NULL) == 0,
	   "links: in the inbox, nothing where .tag/new points");
	rm_rf(lk);
	rm_rf(v);
	is_int(count("/proc/self/fd", NULL), fds,
	       "links: no descriptor left open");
}

/* RLIMIT_FSIZE: a write past it is EFBIG (SIGXFSZ ignored, as mailnook
 * does), the message fails as for a full disk and leaves nothing. */
static void test_fsize(void)
{
	static char big[20000];
	struct maildir_msg *m = &msgs[0];
	struct rlimit old, lim;
	int r;

	memset(big, 'x', sizeof big);
	if (getrlimit(RLIMIT_FSIZE, &old) != 0) {
		tap_skip("getrlimit");
		return;
	}
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 10000;
	setrlimit(RLIMIT_FSIZE, &lim);
	dest(m, 0, m1, "");
	r = maildir_open(m);
	if (r == SINK_OK)
		r = maildir_write(m, big, sizeof big);
	if (r == SINK_OK)
		r = maildir_finish(m);
	setrlimit(RLIMIT_FSIZE, &old);
	is_int(r, SINK_NOSPACE, "file-size limit: SINK_NOSPACE (452 4.3.1)");
	maildir_abort(m);
	ok(sub_count(m1, "new", NULL) == 0 && sub_count(m1, "tmp", NULL) == 0,
	   "file-size limit: nothing left in new/ or tmp/");
	is_int(deliver(m, "x\n"), SINK_OK, "file-size limit: the next is stored");
	rm_rf(m1);
	maildir_prepare(m1);
}

/* A 64 KiB tmpfs: another file system (EXDEV copy) and ENOSPC. */
static void test_other_fs(void)
{
	static char big[100000], got[100000];
	struct maildir_msg *m = &msgs[0];
	char n1[MAILDIR_PATH_MAX], n4[MAILDIR_PATH_MAX], f[MAILDIR_PATH_MAX];
	char p1[MAILDIR_PATH_MAX], p4[MAILDIR_PATH_MAX];
	struct stat s1, s4;
	size_t n;
	int i, r;

	snprintf(fs_dir, sizeof fs_dir, "%s/fs", base);
	mkdir(fs_dir, 0700);
	if (geteuid() != 0 || mount("tmpfs", fs_dir, "tmpfs", 0,
	                            "size=64k,mode=0700") != 0) {
		tap_skip("other file system and ENOSPC: cannot mount a tmpfs "
		     "(needs root)");
		return;
	}
	fs_mounted = 1;
	snprintf(m4, sizeof m4, "%s/m4", fs_dir);
	snprintf(f, sizeof f, "%s/.work", m4);
	is_int(maildir_prepare(m4) | maildir_prepare(f), 0,
	       "prepare a Maildir and a folder on tmpfs");

	dest(m, 0, m1, "");
	dest(m, 1, m4, "");
	dest(m, 2, m4, "work");
	is_int(deliver(m, "Subject: exdev\n\ncopied\n"), SINK_OK,
	       "two file systems: commit");
	ok(sub_count(m1, "new", n1) == 1 && sub_count(m4, "new", n4) == 1
	   && sub_count(f, "new", NULL) == 1, "in all three new/");
	is_str(n1, n4, "same name");
	path(p1, m1, "new/");
	strcat(p1, n1);
	path(p4, m4, "new/");
	strcat(p4, n4);
	ok(stat(p1, &s1) == 0 && stat(p4, &s4) == 0 && s1.st_dev != s4.st_dev,
	   "a copy on the other file system");
	ok((s4.st_mode & 07777) == 0600 && s4.st_nlink == 2,
	   "the copy: mode 0600, linked into .work/new as well");
	n = read_file(p4, got, sizeof got);
	is_mem(got, n, "Subject: exdev\n\ncopied\n", 23, "the copy's content");
	ok(sub_count(m4, "tmp", NULL) == 0 && sub_count(f, "tmp", NULL) == 0
	   && sub_count(m1, "tmp", NULL) == 0, "tmp/ empty everywhere");
	rm_rf(m1);
	maildir_prepare(m1);
	rm_rf(m4);
	maildir_prepare(m4);

	memset(big, 'x', sizeof big);
	dest(m, 0, m4, "");
	is_int(maildir_open(m), SINK_OK, "ENOSPC: open on tmpfs");
	r = SINK_OK;
	for (i = 0; i < 10 && r == SINK_OK; i++)
		r = maildir_write(m, big, 10000);
	if (r == SINK_OK)
		r = maildir_finish(m);
	is_int(r, SINK_NOSPACE, "100 KB into 64 KiB: SINK_NOSPACE");
	is_int(maildir_write(m, "x", 1), SINK_NOSPACE, "sticky");
	{
		struct maildir_msg *one[1] = { m };
		int res = -1;

		maildir_commit_batch(one, 1, &res);
		is_int(res, SINK_NOSPACE, "commit: SINK_NOSPACE");
	}
	ok(sub_count(m4, "new", NULL) == 0 && sub_count(m4, "tmp", NULL) == 0,
	   "nothing in new/, tmp/ empty");

	/* linked into m1, then the copy to m4 runs out of space */
	dest(m, 0, m1, "");
	dest(m, 1, m4, "");
	r = maildir_open(m);
	for (i = 0; i < 10 && r == SINK_OK; i++)
		r = maildir_write(m, big, 10000);
	if (r == SINK_OK)
		r = maildir_finish(m);
	is_int(r, SINK_OK, "100 KB written on the big file system");
	{
		struct maildir_msg *one[1] = { m };
		int res = -1;

		maildir_commit_batch(one, 1, &res);
		is_int(res, SINK_NOSPACE, "copy to the full tmpfs: SINK_NOSPACE");
	}
	ok(sub_count(m1, "new", NULL) == 0 && sub_count(m4, "new", NULL) == 0
	   && sub_count(m1, "tmp", NULL) == 0 && sub_count(m4, "tmp", NULL) == 0,
	   "in no new/ (the link into m1 undone), tmp/ empty");
}

int main(void)
{
	char tmpl[] = "/tmp/t_maildir.XXXXXX";

	scratch_dir_make(tmpl);
	snprintf(base, sizeof base, "%s", tmpl);
	snprintf(m1, sizeof m1, "%s/home/a/Maildir", base);
	snprintf(m1slash, sizeof m1slash, "%s/home/a/Maildir/", base);
	snprintf(m2, sizeof m2, "%s/home/b/Maildir", base);
	snprintf(m3, sizeof m3, "%s/m3", base);
	/* modes must not depend on the umask */
	umask(0277);

	test_prepare_check();
	test_host_names();
	test_one();
	test_vsize();
	test_interleaved();
	test_dests();
	test_batch();
	test_failures();
	test_clean();
	test_links();
	test_fsize();
	test_other_fs();

	if (fs_mounted)
		umount(fs_dir);
	rm_rf(base);
	return tap_done();
}
