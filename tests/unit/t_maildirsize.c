/*
 * store/maildirsize.c and quota.c: parsing and judging maildirsize files
 * as Courier and Dovecot write them, appending, rewriting, and the
 * recalculation (whole and in slices) against a real Maildir under a
 * mkdtemp() directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "scratch_dir.h"
#include "tap.h"

#if CFG_QUOTA
#include "maildir.h"
#include "maildirsize.h"
#include "quota.h"

static char base[64], md[160];

static void put(const char *dir, const char *name, const char *text)
{
	char p[MAILDIR_PATH_MAX];
	int fd;

	path(p, dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		printf("Bail out! cannot write %s: %s\n", p, strerror(errno));
		exit(1);
	}
	close(fd);
}

/* Entries of dir, "." and ".." aside. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static size_t slurp(const char *p, char *buf, size_t cap)
{
	int fd = open(p, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, cap - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return n < 0 ? 0 : (size_t)n;
}

static void parse_str(const char *s, struct maildirsize_info *in)
{
	maildirsize_parse(s, strlen(s), in);
}

static void test_parse(void)
{
	struct maildirsize_info in;

	/* Dovecot's form: no padding, negative lines after deletions */
	parse_str("10485760S,1000C\n4096 2\n1200 1\n-4096 -2\n", &in);
	ok(in.limits_ok && !in.broken && !in.truncated, "dovecot file parses");
	is_int(in.limits.bytes, 10485760, "byte limit");
	is_int(in.limits.count, 1000, "message limit");
	is_int(in.bytes, 1200, "bytes summed with the negative line");
	is_int(in.count, 1, "count summed with the negative line");
	is_int(in.lines, 3, "three usage lines");

	/* Courier's form: numbers padded to 12 */
	parse_str("5000S\n        1234            3\n         -34           -1\n",
	          &in);
	ok(in.limits_ok && !in.broken, "courier's padded lines parse");
	is_int(in.bytes, 1200, "courier bytes");
	is_int(in.count, 2, "courier count");
	is_int(in.limits.count, 0, "no message limit");

	parse_str("7C,300S\n1 1\n", &in);
	ok(in.limits_ok && in.limits.bytes == 300 && in.limits.count == 7,
	   "limits in either order");
	parse_str("\n1 1\n", &in);
	ok(in.limits_ok && in.limits.bytes == 0 && in.limits.count == 0,
	   "an empty header is no limits");
	parse_str("100X\n1 1\n", &in);
	ok(!in.limits_ok, "an unknown limit letter is not a header");

	/* a truncated last line is not summed and is flagged */
	parse_str("1000S\n100 1\n50", &in);
	ok(in.truncated && in.bytes == 100 && in.count == 1 && in.lines == 1,
	   "truncated last line: flagged, not summed");
	parse_str("1000S", &in);
	ok(in.truncated && !in.limits_ok, "a header without LF is truncated");

	parse_str("1000S\n100 x\n", &in);
	ok(in.broken, "a line that is not two numbers is broken");
	parse_str("1000S\n100\n", &in);
	ok(in.broken, "one number is broken");
	parse_str("1000S\n\n", &in);
	ok(in.broken, "an empty usage line is broken");
	maildirsize_parse("1000S\n1\0 1\n", 11, &in);
	ok(in.broken, "a NUL byte is broken");
	parse_str("1000S\n1234567890123456789 1\n", &in);
	ok(in.broken, "a number too long for 64 bits is broken");
}

/* Random files of the characters that matter: never a crash (ASan
 * build), and the sums are those of the complete lines. */
static void test_parse_random(void)
{
	static const char alphabet[] = "0123456789 -+\nSC,\t\0x";
	struct maildirsize_info in;
	char buf[300];
	unsigned seed = 12345, i, j, bad = 0;

	for (i = 0; i < 20000; i++) {
		size_t len = (seed = seed * 1103515245u + 12345u) % sizeof buf;

		for (j = 0; j < len; j++) {
			seed = seed * 1103515245u + 12345u;
			buf[j] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
		}
		unsigned lf = 0;
		struct maildirsize_limits none = { 0, 0 };

		for (j = 0; j < len; j++)
			lf += buf[j] == '\n';
		maildirsize_parse(buf, len, &in);
		/* a usage line for each LF but the header's, at most; and
		 * whatever is broken or torn is never trusted */
		if (in.lines + (lf > 0) > lf
		    || ((in.broken || in.truncated)
		        && maildirsize_judge(&in, len, 0, &none, 0)
		           != MAILDIRSIZE_RECALC))
			bad++;
	}
	is_int(bad, 0, "20000 random files parse without harm");
}

static void test_judge(void)
{
	struct maildirsize_limits want = { 1000, 10 };
	struct maildirsize_info in;
	time_t now = 1700000000;

	parse_str("1000S,10C\n500 5\n", &in);
	is_int(maildirsize_judge(&in, 16, now - 86400, &want, now),
	       MAILDIRSIZE_OK, "under the limits: trusted however old");
	is_int(maildirsize_judge(&in, MAILDIRSIZE_MAX, now, &want, now),
	       MAILDIRSIZE_RECALC, "5120 bytes or more: rebuilt");
	is_int(maildirsize_judge(&in, MAILDIRSIZE_MAX - 1, now, &want, now),
	       MAILDIRSIZE_OK, "5119 bytes: kept");
	{
		struct maildirsize_limits other = { 2000, 10 };

		is_int(maildirsize_judge(&in, 16, now, &other, now),
		       MAILDIRSIZE_RECALC, "other limits: rewritten");
	}
	parse_str("1000S,10C\n", &in);
	is_int(maildirsize_judge(&in, 10, now, &want, now),
	       MAILDIRSIZE_RECALC, "no usage line: rebuilt");
	parse_str("1000S,10C\n100 1\n-200 -1\n", &in);
	is_int(maildirsize_judge(&in, 30, now, &want, now),
	       MAILDIRSIZE_RECALC, "a negative sum: rebuilt");
	parse_str("1000S,10C\n100 1\n5", &in);
	is_int(maildirsize_judge(&in, 20, now, &want, now),
	       MAILDIRSIZE_RECALC, "a truncated last line: rebuilt");

	/* over quota: trusted only as one fresh line */
	parse_str("1000S,10C\n1500 5\n", &in);
	is_int(maildirsize_judge(&in, 20, now - 60, &want, now),
	       MAILDIRSIZE_OK, "over quota, one line, fresh: trusted");
	is_int(maildirsize_judge(&in, 20, now - 16 * 60, &want, now),
	       MAILDIRSIZE_RECALC, "over quota, older than 15 minutes: rebuilt");
	parse_str("1000S,10C\n900 5\n600 1\n", &in);
	is_int(maildirsize_judge(&in, 30, now, &want, now),
	       MAILDIRSIZE_RECALC, "over quota, two lines: rebuilt");
	parse_str("1000S,10C\n1000 10\n", &in);
	is_int(maildirsize_judge(&in, 30, now - 3600, &want, now),
	       MAILDIRSIZE_OK, "exactly at the limits is not over");
	parse_str("1000S,10C\n100 11\n", &in);
	is_int(maildirsize_judge(&in, 30, now - 3600, &want, now),
	       MAILDIRSIZE_RECALC, "over the message limit, old: rebuilt");
}

static void test_lines(void)
{
	char b[MAILDIRSIZE_LINE_MAX];
	struct maildirsize_limits l = { 0, 0 };

	maildirsize_header(b, &l);
	is_str(b, "0S\n", "no limits are written 0S, as Dovecot does");
	l.bytes = 100;
	maildirsize_header(b, &l);
	is_str(b, "100S\n", "bytes only");
	l.count = 5;
	maildirsize_header(b, &l);
	is_str(b, "100S,5C\n", "both");
	l.bytes = 0;
	maildirsize_header(b, &l);
	is_str(b, "5C\n", "messages only");
	maildirsize_line(b, -4096, -2);
	is_str(b, "-4096 -2\n", "a deletion line");
	is_int(maildirsize_line(b, INT64_MIN, INT64_MIN) + 1 <= sizeof b, 1,
	       "the widest line fits");
}

static void test_name_size(void)
{
	uint64_t s = 0;

	ok(maildirsize_name_size("1700000000.M1P2.host,S=1234,W=1260:2,S", &s)
	   && s == 1234, "S= before W= and the flags");
	ok(maildirsize_name_size("1700000000.M1P2.host,S=77", &s) && s == 77,
	   "S= at the end");
	ok(maildirsize_name_size("1.2.h,S=5:2,", &s) && s == 5, "S= before :2,");
	ok(!maildirsize_name_size("1700000000.M1P2.host", &s), "no S=");
	ok(!maildirsize_name_size("x,S=12a", &s), "S= followed by garbage");
	ok(!maildirsize_name_size("x,S=", &s), "S= without digits");
	ok(!maildirsize_name_size("x,S=123456789012345678901", &s),
	   "S= too long");
}

static char sizefile[MAILDIR_PATH_MAX];

static void test_read_write(void)
{
	struct maildirsize_limits want = { 10000, 0 };
	struct maildirsize_info in;
	char buf[8192], tmp[MAILDIR_PATH_MAX];
	time_t now = time(NULL);
	int fd = -1;

	unlink(sizefile);
	is_int(maildirsize_read(md, &want, now, &in), MAILDIRSIZE_RECALC,
	       "a missing file: recalculate");
	ok(in.bytes == 0 && in.count == 0 && in.lines == 0,
	   "a missing file reads as nothing");
	ok(maildirsize_append(md, 10, 1, NULL) == -1 && errno == ENOENT,
	   "append never creates the file");

	is_int(maildirsize_write(md, &want, 500, 3), 0, "write");
	slurp(sizefile, buf, sizeof buf);
	is_str(buf, "10000S\n500 3\n", "written as Dovecot writes it");
	path(tmp, md, "tmp");
	is_int(count_entries(tmp), 0, "no temporary file left in tmp/");
	{
		struct stat st;

		ok(stat(sizefile, &st) == 0 && (st.st_mode & 0777) == 0600,
		   "mode 0600");
	}
	is_int(maildirsize_read(md, &want, now, &in), MAILDIRSIZE_OK, "read");
	ok(in.bytes == 500 && in.count == 3, "usage read back");

	is_int(maildirsize_append(md, 1200, 1, &fd), 0, "append a delivery");
	ok(fd >= 0 && fsync(fd) == 0 && close(fd) == 0,
	   "the descriptor is handed over for the group commit's fsync");
	is_int(maildirsize_append(md, -500, -1, NULL), 0, "append a deletion");
	slurp(sizefile, buf, sizeof buf);
	is_str(buf, "10000S\n500 3\n1200 1\n-500 -1\n", "lines appended");
	is_int(maildirsize_read(md, &want, now, &in), MAILDIRSIZE_OK,
	       "read after appends");
	ok(in.bytes == 1200 && in.count == 3 && in.lines == 3, "sums");

	/* a file Dovecot wrote, with negative lines and a torn last line */
	put(md, "maildirsize", "10000S\n4000 4\n-1000 -1\n-1000 -1\n20");
	is_int(maildirsize_read(md, &want, now, &in), MAILDIRSIZE_RECALC,
	       "a torn last line: recalculate");
	ok(in.bytes == 2000 && in.count == 2, "the complete lines still read");

	/* a temporary file that a crash left in tmp/ goes at start-up */
	{
		char t[MAILDIR_PATH_MAX];

		path(t, md, "tmp/mailnook.maildirsize.1700000000.M1P1Q0R0.h");
		put(md, "tmp/mailnook.maildirsize.1700000000.M1P1Q0R0.h", "1S\n");
		is_int(maildir_clean_tmp(md, time(NULL)), 1,
		       "maildir_clean_tmp() knows the temporary file");
		ok(access(t, F_OK) != 0, "and removes it");
	}

	/* 5120 bytes or more */
	{
		char big[6000];
		size_t o;

		o = (size_t)snprintf(big, sizeof big, "10000S\n");
		while (o + 6 < MAILDIRSIZE_MAX + 10)
			o += (size_t)snprintf(big + o, sizeof big - o, "1 1\n-1 -1\n");
		put(md, "maildirsize", big);
		is_int(maildirsize_read(md, &want, now, &in), MAILDIRSIZE_RECALC,
		       "a file past 5120 bytes: recalculate");
		ok(in.limits_ok && in.limits.bytes == 10000,
		   "its header is still read");
	}

	/* a link in its place is never followed, and the rewrite replaces
	 * the link, not its target */
	{
		char target[MAILDIR_PATH_MAX];

		path(target, base, "elsewhere");
		put(base, "elsewhere", "keep me\n");
		unlink(sizefile);
		if (symlink(target, sizefile) != 0)
			printf("# symlink: %s\n", strerror(errno));
		is_int(maildirsize_read(md, &want, now, &in), MAILDIRSIZE_RECALC,
		       "maildirsize as a link: recalculate");
		ok(maildirsize_append(md, 1, 1, NULL) == -1 && errno == ELOOP,
		   "append does not follow the link");
		is_int(maildirsize_write(md, &want, 1, 1), 0, "rewrite");
		slurp(target, buf, sizeof buf);
		is_str(buf, "keep me\n", "the link's target is untouched");
		{
			struct stat st;

			ok(lstat(sizefile, &st) == 0 && S_ISREG(st.st_mode),
			   "the link was replaced by a file");
		}
	}
}

/* A Maildir with the inbox, two folders, and things that are not
 * messages. */
static uint64_t fill(void)
{
	char d[MAILDIR_PATH_MAX], f[MAILDIR_PATH_MAX];

	path(d, md, "new");
	put(d, "1700000001.M1P1.h,S=100,W=102", "x");
	put(d, "1700000002.M1P1.h,S=200,W=204", "x");
	put(d, ".hidden,S=999", "x");              /* not a message */
	path(f, d, "1700000003.subdir,S=999");
	mkdir(f, 0700);                             /* not a message */
	path(d, md, "cur");
	put(d, "1700000000.M5P1.h,S=300,W=310:2,S", "x");
	put(d, "1690000000.12345.h:2,S", "seven b");   /* no S=: stat'ed, 7 */
	path(d, md, "tmp");
	put(d, "1700000009.M1P1.h,S=5000", "x");     /* tmp/ is not counted */
	path(d, md, ".Folder");
	mkdir(d, 0700);
	path(f, d, "cur");
	mkdir(f, 0700);
	path(f, d, "new");
	mkdir(f, 0700);
	path(f, d, "cur");
	put(f, "1600000000.M1P1.h,S=50:2,S", "x");
	path(d, md, ".Empty");
	mkdir(d, 0700);                             /* a folder without new/ cur/ */
	put(md, "dovecot-uidlist", "3 V1 N1\n");     /* the root is not counted */
	return 100 + 200 + 300 + 7 + 50;
}

static void age_dirs(void)
{
	/* the scan treats a directory changed after it began as a race:
	 * these were filled just now, in the same clock tick perhaps */
	struct timespec ts[2] = { { 1600000000, 0 }, { 1600000000, 0 } };
	const char *subs[] = { "new", "cur", ".Folder/new", ".Folder/cur" };
	char p[MAILDIR_PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof subs / sizeof subs[0]; i++) {
		path(p, md, subs[i]);
		utimensat(AT_FDCWD, p, ts, 0);
	}
}

static void test_recalculate(void)
{
	struct maildirsize_limits want = { 10000, 100 };
	static struct maildirsize_scan s;
	struct maildirsize_info in;
	uint64_t bytes = fill();
	char buf[256], want_text[64];
	int r, steps;

	age_dirs();
	r = maildirsize_recalculate(md, &want, &s);
	is_int(r, MAILDIRSIZE_SCAN_DONE, "recalculation done");
	is_int(s.bytes, bytes, "bytes over new/, cur/ and the folder");
	is_int(s.count, 5, "messages over new/, cur/ and the folder");
	is_int(s.stats, 1, "only the name without S= was stat'ed");
	slurp(sizefile, buf, sizeof buf);
	snprintf(want_text, sizeof want_text, "10000S,100C\n%llu 5\n",
	         (unsigned long long)bytes);
	is_str(buf, want_text, "the file rewritten with the sums");
	is_int(maildirsize_read(md, &want, time(NULL), &in), MAILDIRSIZE_OK,
	       "and it is trusted");

	/* in slices of one name: the same sums */
	is_int(maildirsize_scan_start(&s, md), 0, "sliced scan starts");
	steps = 0;
	while ((r = maildirsize_scan_step(&s, 1)) == MAILDIRSIZE_SCAN_MORE
	       && steps < 1000)
		steps++;
	is_int(r, MAILDIRSIZE_SCAN_DONE, "sliced scan done");
	ok(steps > 5, "it took several slices (%d)", steps);
	ok(s.bytes == bytes && s.count == 5, "sliced sums agree");

	/* a change during the scan is noticed and nothing is written */
	is_int(maildirsize_scan_start(&s, md), 0, "scan starts");
	is_int(maildirsize_scan_step(&s, 1), MAILDIRSIZE_SCAN_MORE, "one slice");
	usleep(30000);          /* past the coarse clock's tick */
	{
		char d[MAILDIR_PATH_MAX];

		path(d, md, "new");
		put(d, "1700000100.M1P1.h,S=10", "x");
	}
	while ((r = maildirsize_scan_step(&s, 1)) == MAILDIRSIZE_SCAN_MORE)
		;
	is_int(r, MAILDIRSIZE_SCAN_CHANGED, "a delivery meanwhile: changed");

	/* a rename from new/ to cur/ after new/ was read is seen too */
	age_dirs();
	is_int(maildirsize_scan_start(&s, md), 0, "scan starts");
	for (steps = 0; steps < 4; steps++)
		(void)maildirsize_scan_step(&s, 1);   /* into cur/ now */
	usleep(30000);
	{
		char a[MAILDIR_PATH_MAX], b[MAILDIR_PATH_MAX];

		path(a, md, "new/1700000100.M1P1.h,S=10");
		path(b, md, "cur/1700000100.M1P1.h,S=10:2,S");
		rename(a, b);
	}
	while ((r = maildirsize_scan_step(&s, 1)) == MAILDIRSIZE_SCAN_MORE)
		;
	is_int(r, MAILDIRSIZE_SCAN_CHANGED, "a move to cur/ meanwhile: changed");

	/* stopping half-way leaves nothing open */
	is_int(maildirsize_scan_start(&s, md), 0, "scan starts");
	(void)maildirsize_scan_step(&s, 2);
	maildirsize_scan_stop(&s);
	ok(s.walk.root == -1 && s.walk.dir == -1, "stop closes everything");

	ok(maildirsize_scan_start(&s, "/nonexistent/Maildir") == -1,
	   "a missing Maildir is an error");
}

static void test_box(void)
{
	struct maildirsize_limits want = { 1000, 3 };
	struct quota_box b;
	uint64_t xb, xc;

	quota_box_init(&b, md, &want);
	ok(!b.known && b.recalc, "a new box is unknown");
	ok(!quota_full(&b), "an unknown box is not full");
	ok(quota_would_fit(&b, 1000), "an unknown box takes what fits the quota");
	ok(!quota_would_fit(&b, 1001) && quota_too_big(&b, 1001),
	   "larger than the quota: never fits");
	quota_box_set(&b, 600, 1);
	ok(quota_would_fit(&b, 400), "exactly up to the limit fits");
	quota_reserve(&b, 300);
	ok(!quota_would_fit(&b, 200), "a held message counts");
	quota_excess(&b, 200, &xb, &xc);
	ok(xb == 100 && xc == 0, "excess in bytes");
	quota_release(&b, 300);
	ok(quota_would_fit(&b, 200), "released");
	quota_reserve(&b, 400);
	quota_commit(&b, 400);
	ok(b.bytes == 1000 && b.count == 2 && b.held_bytes == 0, "committed");
	ok(quota_full(&b), "at the byte limit: full (RCPT 452)");
	quota_deleted(&b, 400);
	ok(!quota_full(&b) && b.count == 1, "a deletion makes room");
	quota_box_set(&b, 10, 3);
	ok(quota_full(&b), "at the message limit: full");
	quota_excess(&b, 1, &xb, &xc);
	ok(xb == 0 && xc == 1, "one message must go");

	put(md, "maildirsize", "1000S,3C\n10 1\n");
	is_int(quota_box_load(&b, time(NULL)), 0, "load");
	ok(b.known && !b.recalc && b.bytes == 10 && b.count == 1, "loaded");
	is_int(quota_box_refresh(&b, time(NULL)), 0, "refresh, unchanged");
	ok(b.bytes == 10, "unchanged: the same usage");
	is_int(maildirsize_append(md, -10, -1, NULL), 0, "a reader deletes");
	is_int(quota_box_refresh(&b, time(NULL)), 0, "refresh");
	ok(b.known && b.bytes == 0 && b.count == 0,
	   "the reader's deletion is seen at the next refresh");
	{
		struct maildirsize_info in;

		ok(maildirsize_read(md, &want, time(NULL), &in) == MAILDIRSIZE_OK
		   && maildirsize_unchanged(md, &in), "unchanged after a read");
		put(md, "maildirsize", "1000S,3C\n10 1\n");
		ok(!maildirsize_unchanged(md, &in), "a rewrite is a change");
	}
	put(md, "maildirsize", "999S,3C\n10 1\n");
	is_int(quota_box_load(&b, time(NULL)), 0, "load, other limits");
	ok(b.recalc, "other limits in the file: a scan is wanted");
}

int main(void)
{
	char tmpl[] = "/tmp/t_maildirsize.XXXXXX";

	scratch_dir_make(tmpl);
	snprintf(base, sizeof base, "%s", tmpl);
	snprintf(md, sizeof md, "%s/Maildir", base);
	path(sizefile, md, "maildirsize");
	if (maildir_prepare(md) != 0) {
		printf("Bail out! maildir_prepare: %s\n", strerror(errno));
		return 1;
	}
	test_parse();
	test_parse_random();
	test_judge();
	test_lines();
	test_name_size();
	test_read_write();
	test_recalculate();
	test_box();
	rm_rf(base);
	return tap_done();
}
#else
int main(void)
{
	tap_skip("CONFIG_QUOTA is off");
	return tap_done();
}
#endif
