/*
 * store/rotate.c: dating names, rotation (oldest first, across new/, cur/
 * and folders, in several passes when the batch runs out) and expiry, on
 * a real Maildir under a mkdtemp() directory; folders, Dovecot's files,
 * links, tmp/ and undatable names are never deleted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "scratch_dir.h"
#include "tap.h"

#if CFG_QUOTA
#include "maildir.h"
#include "rotate.h"

static char base[64], md[160];

static void put(const char *rel, const char *text)
{
	char p[MAILDIR_PATH_MAX];
	int fd;

	path(p, md, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		printf("Bail out! cannot write %s: %s\n", p, strerror(errno));
		exit(1);
	}
	close(fd);
}

static int exists(const char *rel)
{
	char p[MAILDIR_PATH_MAX];
	struct stat st;

	path(p, md, rel);
	return lstat(p, &st) == 0;
}

static void mk(const char *rel)
{
	char p[MAILDIR_PATH_MAX];

	path(p, md, rel);
	if (mkdir(p, 0700) != 0 && errno != EEXIST) {
		printf("Bail out! mkdir %s: %s\n", p, strerror(errno));
		exit(1);
	}
}

/* What the callback saw. */
static char log_buf[8192];
static unsigned log_n;

static void on_deleted(void *ctx, const char *folder, const char *sub,
                       const char *name, uint64_t size)
{
	size_t o = strlen(log_buf);

	(void)ctx;
	snprintf(log_buf + o, sizeof log_buf - o, "%s%s%s/%s=%llu\n",
	         folder, folder[0] ? "/" : "", sub, name,
	         (unsigned long long)size);
	log_n++;
}

static int run(struct rotate *r)
{
	int res, guard = 0;

	while ((res = rotate_step(r, 3)) == ROTATE_MORE && guard++ < 100000)
		;
	return res;
}

static void test_dating(void)
{
	int64_t s;
	uint32_t u;

	ok(rotate_name_time("1700000000.M123456P42Q0R1.host,S=5,W=6", &s, &u)
	   && s == 1700000000 && u == 123456, "mailnook's names");
	ok(rotate_name_time("1700000000.12345.host:2,S", &s, &u)
	   && s == 1700000000 && u == 0, "qmail's names");
	ok(rotate_name_time("1700000000.M5P42V03I1.host,S=9:2,", &s, &u)
	   && u == 5, "Dovecot's and Courier's names");
	ok(rotate_name_time("999999999.x", &s, &u) && s == 999999999,
	   "nine digits");
	ok(!rotate_name_time("12345678.x.h", &s, &u), "eight digits: undatable");
	ok(!rotate_name_time("1234567890123.x", &s, &u), "thirteen: undatable");
	ok(!rotate_name_time("1700000000", &s, &u), "no dot: undatable");
	ok(!rotate_name_time("1700000000.", &s, &u), "nothing after the dot");
	ok(!rotate_name_time("msg.1700000000.x", &s, &u), "no leading time");
	ok(!rotate_name_time("dovecot-uidlist", &s, &u), "dovecot-uidlist");
	ok(rotate_name_time("1700000000.M1234567.h", &s, &u) && u == 0,
	   "seven digits after M are no microseconds");
}

/* The Maildir of every test: datable messages in new/, cur/ and a folder,
 * and what must survive every rotation. */
static void fill(void)
{
	mk(".Folder");
	mk(".Folder/new");
	mk(".Folder/cur");
	mk(".Folder/tmp");
	put("new/1700000300.M1P1.h,S=100,W=102", "x");
	put("new/1700000200.M1P1.h,S=100,W=102", "x");
	put("cur/1700000100.M1P1.h,S=100,W=102:2,S", "x");
	put("cur/1700000100.M0P1.h,S=100,W=102:2,S", "x");   /* same second */
	put(".Folder/cur/1600000000.M1P1.h,S=50:2,S", "x");
	put("cur/1650000000.4242.h:2,S", "six b\n");          /* no S= */
	/* never deleted */
	put("cur/not-a-maildir-name,S=10", "x");
	put("new/dovecot-keywords", "x");
	put("new/.1500000000.hidden", "x");
	put("dovecot-uidlist", "x");
	put("dovecot.index.log", "x");
	put("tmp/1400000000.M1P1.h", "x");
	mk("new/1300000000.adirectory");
	{
		char t[MAILDIR_PATH_MAX], l[MAILDIR_PATH_MAX];

		path(t, md, "dovecot-uidlist");
		path(l, md, "cur/1200000000.M1P1.link,S=1");
		if (symlink(t, l) != 0 && errno != EEXIST)
			printf("# symlink: %s\n", strerror(errno));
	}
	put(".Folder/dovecot-uidlist", "x");
}

static int survivors_intact(void)
{
	return exists("cur/not-a-maildir-name,S=10")
	       && exists("new/dovecot-keywords")
	       && exists("new/.1500000000.hidden")
	       && exists("dovecot-uidlist") && exists("dovecot.index.log")
	       && exists("tmp/1400000000.M1P1.h")
	       && exists("new/1300000000.adirectory")
	       && exists("cur/1200000000.M1P1.link,S=1")
	       && exists(".Folder") && exists(".Folder/cur")
	       && exists(".Folder/dovecot-uidlist");
}

static void test_rotate(void)
{
	static struct rotate r;

	fill();
	log_buf[0] = '\0';
	log_n = 0;
	is_int(rotate_start(&r, md, 120, 0, on_deleted, NULL), 0, "start");
	is_int(run(&r), ROTATE_DONE, "room for 120 bytes made");
	is_str(log_buf,
	       ".Folder/cur/1600000000.M1P1.h,S=50:2,S=50\n"
	       "cur/1650000000.4242.h:2,S=6\n"
	       "cur/1700000100.M0P1.h,S=100,W=102:2,S=100\n",
	       "oldest first, across folders, sizes from S= or stat");
	ok(r.deleted_bytes == 156 && r.deleted_count == 3, "deleted sums");
	ok(exists("cur/1700000100.M1P1.h,S=100,W=102:2,S")
	   && exists("new/1700000200.M1P1.h,S=100,W=102")
	   && exists("new/1700000300.M1P1.h,S=100,W=102"),
	   "the newer ones are kept");
	ok(survivors_intact(), "nothing else touched");

	/* by count */
	log_buf[0] = '\0';
	is_int(rotate_start(&r, md, 0, 2, on_deleted, NULL), 0, "start");
	is_int(run(&r), ROTATE_DONE, "two messages made room for");
	is_str(log_buf,
	       "cur/1700000100.M1P1.h,S=100,W=102:2,S=100\n"
	       "new/1700000200.M1P1.h,S=100,W=102=100\n", "the two oldest");

	/* more than there is: everything datable goes, and it says so */
	log_buf[0] = '\0';
	is_int(rotate_start(&r, md, 1000000, 0, on_deleted, NULL), 0, "start");
	is_int(run(&r), ROTATE_SHORT, "not enough to delete: short");
	is_str(log_buf, "new/1700000300.M1P1.h,S=100,W=102=100\n",
	       "the last datable message went");
	ok(survivors_intact(), "still nothing else touched");

	/* nothing needed: nothing deleted */
	put("new/1700000400.M1P1.h,S=100,W=102", "x");
	log_buf[0] = '\0';
	is_int(rotate_start(&r, md, 0, 0, on_deleted, NULL), 0, "start");
	is_int(run(&r), ROTATE_DONE, "no goal: done");
	ok(log_buf[0] == '\0' && exists("new/1700000400.M1P1.h,S=100,W=102"),
	   "nothing deleted");
	rotate_stop(&r);
}

static void test_expire(void)
{
	static struct rotate r;

	fill();
	log_buf[0] = '\0';
	is_int(expire_start(&r, md, 1690000000, on_deleted, NULL), 0, "start");
	is_int(run(&r), ROTATE_DONE, "expired");
	is_str(log_buf,
	       ".Folder/cur/1600000000.M1P1.h,S=50:2,S=50\n"
	       "cur/1650000000.4242.h:2,S=6\n",
	       "only those older than the limit");
	ok(exists("cur/1700000100.M0P1.h,S=100,W=102:2,S")
	   && exists("new/1700000400.M1P1.h,S=100,W=102"), "newer ones kept");
	ok(survivors_intact(), "nothing else touched");
}

/* More messages than a batch: several passes, and the order holds. */
static void many_name(char *name, size_t cap, unsigned i, unsigned *t)
{
	/* the times interleaved across new/, cur/ and the folder */
	const char *sub = i % 3 == 0 ? "new" : i % 3 == 1 ? "cur"
	                  : ".Folder/cur";

	*t = (i * 7919u) % 200u;
	snprintf(name, cap, "%s/%u.M%uP1.many,S=10", sub, 1750000000u + *t, i);
}

/* Whether exactly the names with a time below keep_from are gone. */
static int only_oldest_gone(unsigned keep_from)
{
	char name[128];
	unsigned i, t;

	for (i = 0; i < 200; i++) {
		many_name(name, sizeof name, i, &t);
		if (exists(name) != (t >= keep_from))
			return 0;
	}
	return 1;
}

static void test_many(void)
{
	static struct rotate r;
	char name[128];
	unsigned i, t;

	for (i = 0; i < 200; i++) {
		many_name(name, sizeof name, i, &t);
		put(name, "x");
	}
	/* the 5 datable messages test_expire left are older still */
	is_int(expire_start(&r, md, 1750000000 + 150, NULL, NULL), 0, "start");
	is_int(run(&r), ROTATE_DONE, "expiry in several passes");
	is_int(r.deleted_count, 155, "150 of 200, and the 5 older ones");
	ok(only_oldest_gone(150), "exactly the oldest went");

	is_int(rotate_start(&r, md, 0, 45, NULL, NULL), 0, "start");
	is_int(run(&r), ROTATE_DONE, "rotation by 45 messages");
	is_int(r.deleted_count, 45, "45 deleted, in two passes");
	ok(only_oldest_gone(195), "the 5 newest stay");
	ok(survivors_intact(), "nothing else touched");
}

int main(void)
{
	char tmpl[] = "/tmp/t_rotate.XXXXXX";

	scratch_dir_make(tmpl);
	snprintf(base, sizeof base, "%s", tmpl);
	snprintf(md, sizeof md, "%s/Maildir", base);
	if (maildir_prepare(md) != 0) {
		printf("Bail out! maildir_prepare: %s\n", strerror(errno));
		return 1;
	}
	test_dating();
	test_rotate();
	test_expire();
	test_many();
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
