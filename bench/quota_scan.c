/*
 * How long the quota recalculation and a rotation pass take on a large
 * Maildir (issue 14: is a full scan over 50 ms, so that it must be done in
 * slices between loop turns?).  `make bench-quota`.
 *
 * For each size (10,000 and 100,000 messages by default, or the sizes
 * given as arguments) it generates a Maildir in /tmp -- 70 % of the
 * messages in cur/, 20 % in new/, 10 % in a folder, names as mailnook
 * writes them, one in a hundred without S= (so stat'ed) -- and prints:
 *   - a whole recalculation (scan + rewrite of maildirsize), best and
 *     median of 5, warm cache (the cache is never dropped: the machine is
 *     shared);
 *   - the same scan in slices of SLICE names: the number of slices and
 *     the longest one, which is what the event loop would wait;
 *   - one rotation pass making room for one message (the walk and its
 *     heap of the 32 oldest, then one deletion), whole and in slices.
 * The Maildir is removed afterwards.  Figures, never a pass or a fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

#if CFG_QUOTA
#include "maildir.h"
#include "maildirsize.h"
#include "rotate.h"

#define SLICE 2000
#define RUNS 5

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void die(const char *what)
{
	fprintf(stderr, "quota_scan: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void generate(const char *md, unsigned n)
{
	char p[1024];
	unsigned i;

	if (maildir_prepare(md) != 0)
		die(md);
	snprintf(p, sizeof p, "%s/.Cameras", md);
	if (maildir_prepare(p) != 0)
		die(p);
	for (i = 0; i < n; i++) {
		unsigned size = 2000 + (i * 7919u) % 200000u;
		const char *where = i % 10 < 7 ? "cur" : i % 10 < 9 ? "new"
		                    : ".Cameras/cur";
		const char *flags = where[0] == 'n' ? "" : ":2,S";
		int fd;

		if (i % 100 == 99)      /* no S=: the scan stats it */
			snprintf(p, sizeof p, "%s/%s/%u.M%uP1Q%uR0.benchhost%s",
			         md, where, 1700000000u + i, i % 1000000u, i,
			         flags);
		else
			snprintf(p, sizeof p,
			         "%s/%s/%u.M%uP1Q%uR0.benchhost,S=%u,W=%u%s",
			         md, where, 1700000000u + i, i % 1000000u, i,
			         size, size + 40, flags);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0 || close(fd) != 0)
			die(p);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void bench(const char *md, unsigned n)
{
	static struct maildirsize_scan s;
	static struct rotate r;
	struct maildirsize_limits lim = { 1ull << 40, 0 };
	double t[RUNS], t0, worst = 0, total = 0;
	unsigned i, slices = 0;
	int res;

	for (i = 0; i < RUNS; i++) {
		t0 = now_ms();
		res = maildirsize_recalculate(md, &lim, &s);
		t[i] = now_ms() - t0;
		if (res < 0)
			die("recalculate");
		if (s.count != n) {
			fprintf(stderr, "quota_scan: counted %llu of %u\n",
			        (unsigned long long)s.count, n);
			exit(1);
		}
	}
	qsort(t, RUNS, sizeof t[0], cmp_double);
	printf("%7u messages: whole recalculation %8.1f ms best, %8.1f ms "
	       "median (%u stat'ed)\n", n, t[0], t[RUNS / 2], s.stats);

	if (maildirsize_scan_start(&s, md) != 0)
		die("scan");
	do {
		t0 = now_ms();
		res = maildirsize_scan_step(&s, SLICE);
		t0 = now_ms() - t0;
		total += t0;
		if (t0 > worst)
			worst = t0;
		slices++;
	} while (res == MAILDIRSIZE_SCAN_MORE);
	if (res < 0)
		die("scan step");
	printf("%7u messages: in slices of %u names: %u slices, longest "
	       "%.2f ms, %.1f ms in all\n", n, SLICE, slices, worst, total);

	if (rotate_start(&r, md, 1, 1, NULL, NULL) != 0)
		die("rotate");
	t0 = now_ms();
	while ((res = rotate_step(&r, 1u << 30)) == ROTATE_MORE)
		;
	t0 = now_ms() - t0;
	if (res != ROTATE_DONE)
		die("rotate step");
	printf("%7u messages: one rotation pass (room for one message) "
	       "%.1f ms\n", n, t0);

	if (rotate_start(&r, md, 1, 1, NULL, NULL) != 0)
		die("rotate");
	worst = total = 0;
	slices = 0;
	do {
		t0 = now_ms();
		res = rotate_step(&r, SLICE);
		t0 = now_ms() - t0;
		total += t0;
		if (t0 > worst)
			worst = t0;
		slices++;
	} while (res == ROTATE_MORE);
	if (res != ROTATE_DONE)
		die("rotate step");
	printf("%7u messages: the same in slices of %u names: %u slices, "
	       "longest %.2f ms, %.1f ms in all\n", n, SLICE, slices, worst,
	       total);
}

int main(int argc, char **argv)
{
	unsigned sizes[8] = { 10000, 100000 }, n_sizes = 2, i;
	char dir[] = "/tmp/quota_scan.XXXXXX", md[64];

	if (argc > 1) {
		n_sizes = 0;
		for (i = 1; i < (unsigned)argc && n_sizes < 8; i++)
			sizes[n_sizes++] = (unsigned)strtoul(argv[i], NULL, 10);
	}
	for (i = 0; i < n_sizes; i++) {
		if (!mkdtemp(dir))
			die("mkdtemp");
		snprintf(md, sizeof md, "%s/Maildir", dir);
		generate(md, sizes[i]);
		bench(md, sizes[i]);
		if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
			die("rm -rf");
		memcpy(dir + sizeof dir - 7, "XXXXXX", 6);
	}
	return 0;
}
#else
int main(void)
{
	fprintf(stderr, "quota_scan: CONFIG_QUOTA is off in this build\n");
	return 1;
}
#endif
