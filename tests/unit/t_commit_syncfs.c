/*
 * store/maildir_commit.c's syncfs path: a batch with 4 or more messages
 * on one file system (COMMIT_SYNCFS_MIN) is made durable by one syncfs(2)
 * there and one fsync(2) of one of its files (for the cache flush) instead
 * of an fsync(2) per file, on Linux 5.8 and later, where syncfs reports
 * writeback errors; smaller groups, and older kernels, keep the fsyncs.
 * Each file's own writeback errors are then read with sync_file_range(2).
 * fsync, syncfs and sync_file_range are counted (and made to fail) here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "scratch_dir.h"
#include "tap.h"
#include "maildir.h"
#include "maildir_int.h"

static char base[64], fs_dir[128];
static char m1[160], m2[160], m3[160];
static int fs_mounted, new_kernel;

static struct maildir_msg msgs[16];

static int n_syncfs, n_fsync_file, n_fsync_dir, fail_syncfs, fail_files;
static int n_sfr, fail_sfr_at;         /* 1-based call to fail, 0: none */

/* The store calls it only after syncfs and fsync, to read a file's
 * writeback errors: nothing is left to wait for, so no system call is
 * needed here (and its number differs between architectures). */
int sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	(void)fd;
	(void)off;
	(void)n;
	(void)flags;
	if (++n_sfr == fail_sfr_at) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int syncfs(int fd)
{
	n_syncfs++;
	if (fail_syncfs) {
		errno = EIO;
		return -1;
	}
	return (int)syscall(SYS_syncfs, fd);
}

int fsync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0) {
		if (S_ISREG(st.st_mode))
			n_fsync_file++;
		else if (S_ISDIR(st.st_mode))
			n_fsync_dir++;
		if (S_ISREG(st.st_mode) && fail_files) {
			fail_files--;
			errno = EIO;
			return -1;
		}
	}
	return (int)syscall(SYS_fsync, fd);
}

static void counters_reset(void)
{
	n_syncfs = n_fsync_file = n_fsync_dir = n_sfr = 0;
}

static int sub_count(const char *maildir, const char *sub)
{
	char p[MAILDIR_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof p, "%s/%s", maildir, sub);
	d = opendir(p);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void fresh(const char *dir)
{
	rm_rf(dir);
	(void)maildir_prepare(dir);
}

/* msgs[0..n) written for dirs[i % n_dirs]; 0, or -1. */
static int prepare(size_t n, const char *const *dirs, size_t n_dirs)
{
	char text[64];
	size_t i;

	for (i = 0; i < n; i++) {
		struct maildir_msg *m = &msgs[i];

		m->dest[0].maildir = dirs[i % n_dirs];
		m->dest[0].folder[0] = '\0';
		m->n_dest = 1;
		snprintf(text, sizeof text, "Subject: %zu\n\nbody %zu\n", i, i);
		if (maildir_open(m) != SINK_OK
		    || maildir_write(m, text, strlen(text)) != SINK_OK
		    || maildir_finish(m) != SINK_OK)
			return -1;
	}
	return 0;
}

static int commit(size_t n, int *res)
{
	struct maildir_msg *list[16];
	size_t i;
	int all_ok = 1;

	for (i = 0; i < n; i++) {
		list[i] = &msgs[i];
		res[i] = -1;
	}
	counters_reset();
	maildir_commit_batch(list, n, res);
	for (i = 0; i < n; i++)
		all_ok &= res[i] == SINK_OK;
	return all_ok;
}

static void test_one_fs(void)
{
	const char *one[1] = { m1 };
	const char *two[2] = { m1, m2 };
	int res[16];

	ok(prepare(8, one, 1) == 0, "8 messages written");
	ok(commit(8, res), "8 messages on one file system: all SINK_OK");
	if (new_kernel) {
		ok(n_syncfs == 1 && n_fsync_file == 1 && n_sfr == 8,
		   "one syncfs and one fsync, not eight; each file's errors "
		   "read (%d, %d, %d)", n_syncfs, n_fsync_file, n_sfr);
	} else {
		ok(n_syncfs == 0 && n_fsync_file == 8,
		   "before Linux 5.8: an fsync per file (%d, %d)", n_syncfs,
		   n_fsync_file);
	}
	is_int(n_fsync_dir, 1, "new/ fsync'ed once");
	ok(sub_count(m1, "new") == 8 && sub_count(m1, "tmp") == 0,
	   "8 files in new/, tmp/ empty");
	fresh(m1);

	ok(prepare(3, two, 2) == 0, "3 messages written");
	ok(commit(3, res), "3 messages: all SINK_OK");
	ok(n_syncfs == 0 && n_fsync_file == 3,
	   "below 4 on a file system: an fsync per file (%d, %d)", n_syncfs,
	   n_fsync_file);
	ok(n_fsync_dir == 2 && sub_count(m1, "new") == 2
	   && sub_count(m2, "new") == 1, "both new/ fsync'ed, files there");
	fresh(m1);
	fresh(m2);

	/* a message that failed before the commit is no candidate */
	ok(prepare(5, two, 2) == 0, "5 messages written");
	msgs[2].error = SINK_NOSPACE;
	commit(5, res);
	ok(res[0] == SINK_OK && res[1] == SINK_OK && res[2] == SINK_NOSPACE
	   && res[3] == SINK_OK && res[4] == SINK_OK,
	   "the failed one keeps its error, the others SINK_OK");
	if (new_kernel)
		ok(n_syncfs == 1 && n_fsync_file == 1,
		   "4 good ones: one syncfs, one fsync (%d, %d)", n_syncfs,
		   n_fsync_file);
	else
		tap_skip("syncfs is used from Linux 5.8 on");
	ok(sub_count(m1, "new") == 2 && sub_count(m2, "new") == 2
	   && sub_count(m1, "tmp") == 0 && sub_count(m2, "tmp") == 0,
	   "4 stored, tmp/ empty");
	fresh(m1);
	fresh(m2);
}

static void test_syncfs_fails(void)
{
	const char *two[2] = { m1, m2 };
	int res[16], i, all_temp = 1;

	if (!new_kernel) {
		tap_skip("syncfs is used from Linux 5.8 on");
		return;
	}
	ok(prepare(6, two, 2) == 0, "6 messages written");
	fail_syncfs = 1;
	commit(6, res);
	fail_syncfs = 0;
	for (i = 0; i < 6; i++)
		all_temp &= res[i] == SINK_TEMP;
	ok(all_temp, "syncfs fails: every message of the batch SINK_TEMP");
	ok(n_syncfs == 1 && n_fsync_file == 0,
	   "never retried with fsync (%d, %d)", n_syncfs, n_fsync_file);
	ok(sub_count(m1, "new") == 0 && sub_count(m2, "new") == 0
	   && sub_count(m1, "tmp") == 0 && sub_count(m2, "tmp") == 0,
	   "nothing in new/, tmp/ empty");

	/* one file's own writeback error: that message alone fails (the
	 * files are checked from the last one back) */
	ok(prepare(6, two, 2) == 0, "6 messages written");
	fail_sfr_at = 2;
	commit(6, res);
	fail_sfr_at = 0;
	ok(res[0] == SINK_OK && res[1] == SINK_OK && res[2] == SINK_OK
	   && res[3] == SINK_OK && res[4] == SINK_TEMP && res[5] == SINK_OK,
	   "a file's own error: that one SINK_TEMP, the others SINK_OK "
	   "(%d %d %d %d %d %d)", res[0], res[1], res[2], res[3], res[4],
	   res[5]);
	ok(n_syncfs == 1 && n_fsync_file == 1,
	   "and not retried with fsync (%d, %d)", n_syncfs, n_fsync_file);
	ok(sub_count(m1, "new") == 2 && sub_count(m2, "new") == 3
	   && sub_count(m1, "tmp") == 0 && sub_count(m2, "tmp") == 0,
	   "5 stored, tmp/ empty");
	fresh(m1);
	fresh(m2);

	/* the fsync after syncfs fails: the same as syncfs failing */
	ok(prepare(6, two, 2) == 0, "6 messages written");
	fail_files = 1;
	commit(6, res);
	fail_files = 0;
	for (all_temp = 1, i = 0; i < 6; i++)
		all_temp &= res[i] == SINK_TEMP;
	ok(all_temp && n_syncfs == 1 && n_fsync_file == 1,
	   "the fsync after syncfs fails: every message SINK_TEMP, no retry "
	   "(%d, %d)", n_syncfs, n_fsync_file);
	ok(sub_count(m1, "new") == 0 && sub_count(m2, "new") == 0
	   && sub_count(m1, "tmp") == 0 && sub_count(m2, "tmp") == 0,
	   "nothing in new/, tmp/ empty");
}

/* Two file systems in one batch: each is judged alone. */
static void test_two_fs(void)
{
	const char *mixed[2] = { m1, m3 };
	const char *four_two[6] = { m1, m3, m1, m3, m1, m1 };
	int res[16];

	snprintf(fs_dir, sizeof fs_dir, "%s/fs", base);
	mkdir(fs_dir, 0700);
	if (geteuid() != 0 || mount("tmpfs", fs_dir, "tmpfs", 0,
	                            "size=1m,mode=0700") != 0) {
		tap_skip("two file systems: cannot mount a tmpfs (needs root)");
		return;
	}
	fs_mounted = 1;
	snprintf(m3, sizeof m3, "%s/m3", fs_dir);
	is_int(maildir_prepare(m3), 0, "a Maildir on tmpfs");
	/* even indexes on m1, odd on m3: 5 and 4 */
	ok(prepare(9, mixed, 2) == 0, "9 messages written");
	ok(commit(9, res), "all SINK_OK");
	if (new_kernel)
		ok(n_syncfs == 2 && n_fsync_file == 2,
		   "5 and 4: a syncfs and an fsync on each file system "
		   "(%d, %d)", n_syncfs, n_fsync_file);
	else
		tap_skip("syncfs is used from Linux 5.8 on");
	ok(sub_count(m1, "new") == 5 && sub_count(m3, "new") == 4,
	   "5 and 4 stored");
	fresh(m1);
	fresh(m3);

	/* 4 on one, 2 on the other: syncfs there, fsyncs here */
	ok(prepare(6, four_two, 6) == 0, "6 messages written");
	ok(commit(6, res), "all SINK_OK");
	if (new_kernel)
		ok(n_syncfs == 1 && n_fsync_file == 3,
		   "syncfs and one fsync for 4, an fsync each for 2 (%d, %d)",
		   n_syncfs, n_fsync_file);
	else
		tap_skip("syncfs is used from Linux 5.8 on");
	ok(sub_count(m1, "new") == 4 && sub_count(m3, "new") == 2
	   && sub_count(m1, "tmp") == 0 && sub_count(m3, "tmp") == 0,
	   "4 and 2 stored, tmp/ empty");
}

/* The kernel release test that decides whether syncfs may be used. */
static void test_release(void)
{
	static const struct { const char *r; int want; } t[] = {
		{ "5.8", 1 }, { "5.8.0", 1 }, { "5.7.19", 0 }, { "5.10.0-26-amd64", 1 },
		{ "6.1.0-13-arm64", 1 }, { "6.18.44-fc-v782", 1 }, { "4.19.0", 0 },
		{ "10.0", 1 }, { "5.08", 1 }, { "5", 0 }, { "5.", 0 }, { "", 0 },
		{ "x5.8", 0 }, { "5.x", 0 }, { "3.2.0-4-486", 0 },
		{ "9999999.1", 0 },   /* more than 6 digits: not a release */
	};
	size_t i;
	int bad = 0;

	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		if (maildir_release_at_least(t[i].r, 5, 8) != t[i].want) {
			printf("# \"%s\": %d\n", t[i].r, !t[i].want);
			bad = 1;
		}
	ok(!bad, "kernel release >= 5.8: %zu cases", i);
}

int main(void)
{
	char tmpl[] = "/tmp/t_commit_syncfs.XXXXXX";
	struct utsname u;
	unsigned major = 0, minor = 0;

	scratch_dir_make(tmpl);
	if (uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2)
		new_kernel = major > 5 || (major == 5 && minor >= 8);
	printf("# Linux %u.%u: syncfs %s\n", major, minor,
	       new_kernel ? "used for batches" : "not used");
	test_release();
	snprintf(base, sizeof base, "%s", tmpl);
	snprintf(m1, sizeof m1, "%s/a", base);
	snprintf(m2, sizeof m2, "%s/b", base);
	umask(077);
	if (maildir_prepare(m1) != 0 || maildir_prepare(m2) != 0) {
		printf("Bail out! maildir_prepare: %s\n", strerror(errno));
		return 1;
	}

	test_one_fs();
	test_syncfs_fails();
	test_two_fs();

	if (fs_mounted)
		umount(fs_dir);
	rm_rf(base);
	return tap_done();
}
