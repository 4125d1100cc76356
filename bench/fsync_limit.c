/*
 * fsync_limit: the physical limit of durable Maildir delivery on this disk.
 *
 * Writes the bytes mailnook would store for one message (a Return-Path and
 * Received header, then the message with LF line ends) straight into a
 * Maildir, the way mailnook commits, with nothing else in the way:
 *
 *   K files written into tmp/ (open O_EXCL, write through a 32 KiB buffer),
 *   then every file made durable (the flush primitive, -m), closed,
 *   then each linked into new/,
 *   then new/ made durable once,
 *   then the tmp/ names unlinked.
 *
 * K = 1 is one delivery at a time; K > 1 a group commit of K.  Prints
 * deliveries per second, and the CPU time (user + system) spent per 1000
 * deliveries: the kernel's share of a flush, the floor under mailnook's CPU
 * per message.  Passes or fails nothing.
 *
 *   fsync_limit [-d DIR] [-s SIZE] [-k K] [-t SECONDS | -n COUNT] [-m MODE]
 *
 * MODE, how the files are made durable before the links:
 *   fsync      fsync(2) each file                      (mailnook's order)
 *   fdatasync  fdatasync(2) each file
 *   srf        sync_file_range(WRITE) on every file of the batch first, so
 *              their writeback starts together, then fsync(2) each
 *   syncfs     one syncfs(2) on the mail file system for the whole batch,
 *              then one fsync(2) of its first file, for a cache flush after
 *              syncfs's last writes, then each file's writeback errors read
 *              with sync_file_range(WAIT_BEFORE) (mailnook's order for a
 *              batch of 4 or more)
 * new/ is always made durable with fsync(2) on the directory.
 *
 * The Maildir is a fresh directory under DIR (default "."); it and every
 * file in it are removed at the end.  Bounded: at most COUNT deliveries or
 * SECONDS (default 10) of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 32768          /* CONFIG_BODY_BUFSIZE in configs/defconfig */
#define K_MAX 1024

enum mode { M_FSYNC, M_FDATASYNC, M_SRF, M_SYNCFS };
static const char *const mode_names[] = { "fsync", "fdatasync", "srf", "syncfs" };

static const char *dir = ".";
static char root[4096], tmpdir[4200], newdir[4200];
static unsigned char *msg;
static size_t msg_len;
static unsigned long seq;
static long pid;

static void die(const char *what)
{
	fprintf(stderr, "fsync_limit: %s: %s\n", what, strerror(errno));
	exit(2);
}

static double now_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime");
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What mailnook stores for a message of `size` octets as sent by
 * bench/loadgen (CRLF lines of 78 octets), with its two header fields. */
static void make_message(size_t size)
{
	static const char head[] =
		"Return-Path: <bench@loadgen.test>\n"
		"Received: from loadgen.test ([127.0.0.1]) by mx.bench (mailnook) "
		"with ESMTP id 0000000000000000 for <user@localhost>;\n"
		"\tSun, 29 Nov 2026 03:30:52 +0000\n"
		"From: <bench@loadgen.test>\nTo: <user@localhost>\n"
		"Subject: loadgen\n\n";
	size_t lines = size / 78 + 1, i;

	msg = malloc(sizeof head + size);
	if (!msg)
		die("malloc");
	memcpy(msg, head, sizeof head - 1);
	msg_len = sizeof head - 1;
	/* every CRLF line of 78 octets becomes 77 octets with LF */
	for (i = 0; i < lines && msg_len + 77 <= sizeof head - 1 + size; i++) {
		memset(msg + msg_len, 'x', 76);
		msg[msg_len + 76] = '\n';
		msg_len += 77;
	}
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct file {
	int fd;
	char tmp[4400];
	char fin[4400];
};

static struct file files[K_MAX];

static void write_one(struct file *f)
{
	size_t off;

	snprintf(f->tmp, sizeof f->tmp, "%s/mailnook.%lu.P%ld", tmpdir, seq, pid);
	snprintf(f->fin, sizeof f->fin, "%s/%lu.P%ld.bench,S=%zu", newdir, seq,
	         pid, msg_len);
	seq++;
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (f->fd < 0)
		die("open tmp file");
	/* through a buffer the size of mailnook's */
	for (off = 0; off < msg_len; off += BUF_SIZE) {
		size_t n = msg_len - off < BUF_SIZE ? msg_len - off : BUF_SIZE;

		if (write_all(f->fd, msg + off, n) != 0)
			die("write");
	}
}

static void sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		die("open new/");
	if (fsync(fd) != 0)
		die("fsync new/");
	if (close(fd) != 0)
		die("close new/");
}

/* One batch of k deliveries. */
static void batch(enum mode m, unsigned k)
{
	unsigned i;

	for (i = 0; i < k; i++)
		write_one(&files[i]);
	if (m == M_SRF) {
		for (i = 0; i < k; i++)
			if (sync_file_range(files[i].fd, 0, 0,
			                    SYNC_FILE_RANGE_WRITE) != 0)
				die("sync_file_range");
	}
	if (m == M_SYNCFS) {
		if (syncfs(files[0].fd) != 0)
			die("syncfs");
		if (fsync(files[0].fd) != 0)
			die("fsync");
		for (i = 0; i < k; i++)
			if (sync_file_range(files[i].fd, 0, 0,
			                    SYNC_FILE_RANGE_WAIT_BEFORE) != 0)
				die("sync_file_range");
	}
	for (i = 0; i < k; i++) {
		if (m == M_FSYNC || m == M_SRF) {
			if (fsync(files[i].fd) != 0)
				die("fsync");
		} else if (m == M_FDATASYNC) {
			if (fdatasync(files[i].fd) != 0)
				die("fdatasync");
		}
		if (close(files[i].fd) != 0)
			die("close");
	}
	for (i = 0; i < k; i++)
		if (link(files[i].tmp, files[i].fin) != 0)
			die("link");
	sync_dir(newdir);
	for (i = 0; i < k; i++)
		if (unlink(files[i].tmp) != 0)
			die("unlink tmp");
}

/* CPU seconds (user + system) this process has used. */
static double cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		die("getrusage");
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
	       + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Removes everything, then syncs: the deletions' own journal commits (and
 * discards, on a file system mounted with -o discard) are paid here, not
 * by whatever is measured next. */
static void cleanup(void)
{
	int fd;

	unsigned long i;
	char path[4400];

	/* names are known: no directory walk needed */
	for (i = 0; i < seq; i++) {
		snprintf(path, sizeof path, "%s/%lu.P%ld.bench,S=%zu", newdir, i,
		         pid, msg_len);
		(void)unlink(path);
		snprintf(path, sizeof path, "%s/mailnook.%lu.P%ld", tmpdir, i, pid);
		(void)unlink(path);
	}
	if (rmdir(tmpdir) != 0 || rmdir(newdir) != 0 || rmdir(root) != 0)
		fprintf(stderr, "fsync_limit: could not remove %s: %s\n", root,
		        strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (syncfs(fd) != 0)
			fprintf(stderr, "fsync_limit: syncfs: %s\n",
			        strerror(errno));
		(void)close(fd);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: fsync_limit [-d DIR] [-s SIZE] [-k K] "
	        "[-t SECONDS | -n COUNT] [-m fsync|fdatasync|srf|syncfs]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long size = 1024, k = 1, count = 0, done = 0;
	double seconds = 10, t0, t1, deadline, cpu0, cpu1;
	enum mode m = M_FSYNC;
	int c;

	while ((c = getopt(argc, argv, "d:s:k:t:n:m:")) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': size = strtoul(optarg, NULL, 10); break;
		case 'k': k = strtoul(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'm':
			for (m = 0; m < 4 && strcmp(optarg, mode_names[m]); m++)
				;
			if (m == 4)
				usage();
			break;
		default: usage();
		}
	}
	if (optind != argc || k < 1 || k > K_MAX || size < 64 || size > 64 << 20
	    || !(seconds > 0 && seconds <= 3600))
		usage();
	pid = (long)getpid();
	make_message(size);
	if (snprintf(root, sizeof root, "%s/fsync_limit.XXXXXX", dir)
	    >= (int)sizeof root)
		usage();
	if (!mkdtemp(root))
		die("mkdtemp");
	snprintf(tmpdir, sizeof tmpdir, "%s/tmp", root);
	snprintf(newdir, sizeof newdir, "%s/new", root);
	if (mkdir(tmpdir, 0700) != 0 || mkdir(newdir, 0700) != 0)
		die("mkdir");
	sync_dir(root);

	cpu0 = cpu_s();
	t0 = now_s();
	deadline = t0 + seconds;
	t1 = t0;
	while (count ? done < count : t1 < deadline) {
		unsigned long n = k;

		if (count && count - done < n)
			n = count - done;
		batch(m, (unsigned)n);
		done += n;
		t1 = now_s();
	}
	cpu1 = cpu_s();
	printf("fsync_limit: mode=%s k=%lu size=%lu stored=%zu deliveries=%lu "
	       "seconds=%.3f per_s=%.1f cpu_per_1000=%.3f\n", mode_names[m], k,
	       size, msg_len, done, t1 - t0, (double)done / (t1 - t0),
	       (cpu1 - cpu0) / (double)done * 1000);
	cleanup();
	free(msg);
	return 0;
}
