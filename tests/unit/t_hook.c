/*
 * platform/hook.c alone, with real processes and a tiny poll loop of its
 * own, as the event loop will drive it.  The hook program is this test
 * binary itself (/proc/self/exe), which acts on its arguments and on
 * MAILNOOK_HELO:
 *
 *   t_hook.t record FILE ARG...   writes its argv and environment to FILE
 *   t_hook.t act                  MAILNOOK_HELO says what to do:
 *     true, exit (status MAILNOOK_SENDER), sleep (for ever), nap
 *     (MAILNOOK_SENDER ms), spew (15 lines, one of 300 octets),
 *     conc (a live file in the directory MAILNOOK_SENDER, 30 ms, then the
 *     number of live files it saw), group (a child of its own sleeping for
 *     ever, whose pid it prints, then sleeps for ever), bg (the same
 *     child, then exits)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "scratch_dir.h"
#include "tap.h"

extern char **environ;

/* ---- the hook side ------------------------------------------------------ */

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static int act_record(int argc, char **argv)
{
	FILE *f = fopen(argv[2], "w");
	char **e;
	int i;

	if (!f)
		return 2;
	fprintf(f, "argc=%d", argc - 3);
	fputc(0, f);
	for (i = 3; i < argc; i++) {
		fputs(argv[i], f);
		fputc(0, f);
	}
	for (e = environ; *e; e++) {
		fputs(*e, f);
		fputc(0, f);
	}
	return fclose(f) == 0 ? 0 : 2;
}

static int act(void)
{
	const char *what = getenv("MAILNOOK_HELO"), *arg = getenv("MAILNOOK_SENDER");
	char path[512];
	int i;

	if (!what || !arg)
		return 99;
	if (strcmp(what, "true") == 0)
		return 0;
	if (strcmp(what, "exit") == 0)
		return atoi(arg);
	if (strcmp(what, "nap") == 0) {
		nap_ms(atol(arg));
		return 0;
	}
	if (strcmp(what, "sleep") == 0) {
		for (;;)
			pause();
	}
	if (strcmp(what, "spew") == 0) {
		for (i = 1; i <= 15; i++) {
			if (i == 2) {
				char big[301];

				memset(big, 'x', 300);
				big[300] = '\0';
				printf("%s\n", big);
			} else if (i == 3) {
				fprintf(stderr, "err\033[31m tab\there\n");
				fflush(stderr);
			} else {
				printf("line %d\n", i);
			}
			fflush(stdout);
		}
		return 0;
	}
	if (strcmp(what, "conc") == 0) {
		int fd, seen;

		snprintf(path, sizeof path, "%s/live-%ld", arg, (long)getpid());
		fd = open(path, O_CREAT | O_WRONLY, 0600);
		if (fd < 0)
			return 3;
		close(fd);
		nap_ms(30);
		seen = count_prefix(arg, "live-");
		unlink(path);
		snprintf(path, sizeof path, "%s/seen-%ld-%d", arg,
		         (long)getpid(), seen);
		fd = open(path, O_CREAT | O_WRONLY, 0600);
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (strcmp(what, "bg") == 0) {
		pid_t p = fork();

		if (p == 0) {
			for (;;)
				pause();
		}
		printf("child %ld\n", (long)p);
		return 0;
	}
	if (strcmp(what, "group") == 0) {
		pid_t p = fork();

		if (p == 0) {
			for (;;)
				pause();
		}
		printf("child %ld\n", (long)p);
		fflush(stdout);
		for (;;)
			pause();
	}
	return 98;
}

/* ---- the server side ---------------------------------------------------- */

#define LOGCAP 256
static char logs[LOGCAP][1100];
static unsigned n_logs, n_logs_all;
static char self[512];

static void on_log(const char *line)
{
	if (n_logs < LOGCAP)
		snprintf(logs[n_logs++], sizeof logs[0], "%s", line);
	n_logs_all++;
}

static void logs_reset(void)
{
	n_logs = n_logs_all = 0;
}

static unsigned logs_with(const char *prefix)
{
	unsigned i, n = 0;

	for (i = 0; i < n_logs; i++)
		if (strncmp(logs[i], prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

static const char *log_find(const char *prefix)
{
	unsigned i;

	for (i = 0; i < n_logs; i++)
		if (strncmp(logs[i], prefix, strlen(prefix)) == 0)
			return logs[i];
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The loop's part: poll the hook's descriptors until nothing runs or
 * waits, at most limit ms; the most ever running at once into *peak. */
static int run_loop(int64_t limit, unsigned *peak)
{
	struct pollfd pfd[HOOK_NFDS];
	int64_t end = now_ms() + limit;

	while ((hook_running() || hook_waiting()) && now_ms() < end) {
		unsigned n = hook_pollfds(pfd, HOOK_NFDS);
		int64_t d = hook_deadline_ms(), w = 200, t = now_ms();

		if (d != INT64_MAX)
			w = d - t < 0 ? 0 : d - t < 200 ? d - t : 200;
		if (poll(pfd, n, (int)w) > 0)
			hook_poll_ready(pfd, n, now_ms());
		hook_tick(now_ms());
		if (peak && hook_running() > *peak)
			*peak = hook_running();
	}
	return !hook_running() && !hook_waiting();
}

static void configure(const char *const *argv, unsigned max, unsigned timeout_s)
{
	struct hook_params p;

	memset(&p, 0, sizeof p);
	p.argv = argv;
	p.max = max;
	p.timeout_s = timeout_s;
	p.stop_ms = 1500;
	p.log = on_log;
	if (hook_configure(&p) != 0) {
		printf("Bail out! hook_configure: %s\n", strerror(errno));
		exit(1);
	}
}

static struct hook_job job(const char *id, const char *what, const char *arg)
{
	struct hook_job j;

	memset(&j, 0, sizeof j);
	j.file = "/srv/mail/a/Maildir/new/1.M1P1.host,S=10,W=11";
	j.maildir = "/srv/mail/a/Maildir";
	j.mailbox = "a@example.org";
	j.recipient = "A+tag@example.org";
	j.sender = arg;
	j.size = 10;
	j.id = id;
	j.client_ip = "192.0.2.7";
	j.helo = what;
	j.auth = "";
	return j;
}

static int queue(const char *id, const char *what, const char *arg)
{
	struct hook_job j = job(id, what, arg);

	return hook_queue(&j, now_ms());
}

static int count_fds(void)
{
	return count_prefix("/proc/self/fd", "") - 2;   /* . and .. */
}

/* The argv and environment a record run wrote, as NUL-separated text. */
static size_t read_record(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

/* Whether the NUL-separated list holds exactly these strings, in order. */
static int record_is(const char *buf, size_t n, const char *const *want)
{
	size_t o = 0;
	unsigned i;

	for (i = 0; want[i]; i++) {
		if (o >= n || strcmp(buf + o, want[i]) != 0) {
			printf("#   entry %u: got \"%s\", want \"%s\"\n", i,
			       o < n ? buf + o : "(end)", want[i]);
			return 0;
		}
		o += strlen(buf + o) + 1;
	}
	if (o != n)
		printf("#   more: \"%s\"\n", buf + o);
	return o == n;
}

static int proc_gone(long pid)
{
	char path[64], st[512];
	FILE *f;
	int i;

	/* reparented to init, which reaps it: allow it a moment */
	for (i = 0; i < 50; i++) {
		const char *p;

		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		f = fopen(path, "r");
		if (!f)
			return 1;
		if (!fgets(st, sizeof st, f))
			st[0] = '\0';
		fclose(f);
		p = strrchr(st, ')');
		if (p && p[1] == ' ' && p[2] == 'Z')
			return 1;       /* dead, waiting for a reaper */
		nap_ms(20);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/t_hook.XXXXXX", rec[600], buf[8192];
	const char *act_argv[] = { self, "act", NULL };
	const char *true_argv[] = { "/bin/true", NULL };
	const char *sh_argv[] = { "/bin/sh", "-c",
		"[ \"$MAILNOOK_HELO\" = nap ] && sleep 0.3; exit 0", NULL };
	struct hook_job j;
	ssize_t sl;
	unsigned peak, i;
	int fds_before;
	int64_t t0;

	if (argc >= 3 && strcmp(argv[1], "record") == 0)
		return act_record(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "act") == 0)
		return act();

	if (!CFG_HOOK) {
		tap_skip("CONFIG_HOOK=n");
		return tap_done();
	}
	sl = readlink("/proc/self/exe", self, sizeof self - 1);
	if (sl <= 0) {
		printf("Bail out! readlink /proc/self/exe\n");
		return 1;
	}
	self[sl] = '\0';
	scratch_dir_make(dir);
	ok(hook_init() == 0, "hook_init");

	/* ---- argv and environment, exactly ---- */
	{
		char pwned[700];
		const char *rargv[] = { self, "record", rec,
		                        "a b; touch PWNED", "$(touch PWNED)",
		                        "`touch PWNED`", "'\"x\"'", "", NULL };
		char helo[400], sender[600], want_helo[300], want_sender[300];
		char *const *e;
		const char *want[32];
		unsigned k = 0;

		snprintf(rec, sizeof rec, "%s/record", dir);
		snprintf(pwned, sizeof pwned, "%s/PWNED", dir);
		if (chdir(dir) != 0)
			printf("# chdir %s: %s\n", dir, strerror(errno));
		configure(rargv, 2, 10);
		logs_reset();
		j = job("ID1", "", "");
		/* control characters from the client become '?'; a long
		 * value is cut at 255 octets */
		memset(helo, 'h', sizeof helo);
		memcpy(helo, "evil\r\nX-Header: 1\x7f\xc2\x85", 20);
		helo[sizeof helo - 1] = '\0';
		j.helo = helo;
		memset(sender, 's', sizeof sender);
		memcpy(sender, "s\x01@x", 4);
		sender[sizeof sender - 1] = '\0';
		j.sender = sender;
		j.auth = "dev\tice";
		j.size = 123456789012ULL;
		ok(hook_queue(&j, now_ms()) == 0, "record: queued");
		ok(run_loop(5000, NULL), "record: ran");
		ok(log_find("hook=exit:0 id=ID1 file=/srv/mail/a/Maildir/new/1.M1P1.host,S=10,W=11 duration="),
		   "record: logged hook=exit:0");
		memcpy(want_helo, "MAILNOOK_HELO=evil??X-Header: 1??", 33);
		memset(want_helo + 33, 'h', 255 - 19);
		want_helo[33 + 255 - 19] = '\0';
		memcpy(want_sender, "MAILNOOK_SENDER=s?@x", 20);
		memset(want_sender + 20, 's', 255 - 4);
		want_sender[20 + 255 - 4] = '\0';
		want[k++] = "argc=5";
		for (e = (char *const *)rargv + 3; *e; e++)
			want[k++] = *e;
		want[k++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
		want[k++] = "MAILNOOK_FILE=/srv/mail/a/Maildir/new/1.M1P1.host,S=10,W=11";
		want[k++] = "MAILNOOK_MAILDIR=/srv/mail/a/Maildir";
		want[k++] = "MAILNOOK_MAILBOX=a@example.org";
		want[k++] = "MAILNOOK_RECIPIENT=A+tag@example.org";
		want[k++] = want_sender;
		want[k++] = "MAILNOOK_SIZE=123456789012";
		want[k++] = "MAILNOOK_ID=ID1";
		want[k++] = "MAILNOOK_CLIENT_IP=192.0.2.7";
		want[k++] = want_helo;
		want[k++] = "MAILNOOK_AUTH=dev?ice";
		want[k] = NULL;
		ok(record_is(buf, read_record(rec, buf, sizeof buf), want),
		   "record: argv arrives literally (';', '$(...)', quotes, "
		   "spaces, empty) and the environment is exactly section 8's");
		ok(access(pwned, F_OK) != 0, "record: no shell ran anything");
		is_int(hook_total(HOOK_OK), 1, "record: counted ok");
		if (chdir("/") != 0)
			printf("# chdir /: %s\n", strerror(errno));
	}

	/* the first line of a log entry has fixed fields before the duration */
	{
		const char *l = log_find("hook=exit:0");

		ok(l && strstr(l, " duration=") && strstr(l, "ms"),
		   "exit line has a duration in ms: %s", l ? l : "(none)");
	}

	/* ---- failures: exit status, a missing program ---- */
	configure(act_argv, 2, 10);
	logs_reset();
	queue("ID2", "exit", "3");
	ok(run_loop(5000, NULL), "exit 3: ran");
	ok(log_find("hook=exit:3 id=ID2 file=/srv/mail/a/Maildir/new/"),
	   "exit 3: hook=exit:3 logged");
	is_int(hook_total(HOOK_FAILED), 1, "exit 3: counted failed");
	{
		const char *missing[] = { "/nonexistent/hook", "x", NULL };

		configure(missing, 2, 10);
		logs_reset();
		ok(queue("ID3", "true", "") == 0, "missing: queue returns 0");
		ok(run_loop(5000, NULL), "missing: done");
		ok(log_find("hook=failed id=ID3 file=/srv/mail/a/Maildir/new/1.M1P1.host,S=10,W=11 error=No such file or directory"),
		   "missing: hook=failed with the reason: %s",
		   n_logs ? logs[0] : "(none)");
		is_int(hook_total(HOOK_FAILED), 2, "missing: counted failed");
		is_int(hook_running(), 0, "missing: nothing left running");
	}
	{
		const char *rel[] = { "bin/hook", NULL };
		struct hook_params p;

		memset(&p, 0, sizeof p);
		p.argv = rel;
		p.max = 1;
		p.timeout_s = 1;
		ok(hook_configure(&p) != 0 && errno == EINVAL,
		   "configure: a relative PROGRAM is refused");
	}

	/* ---- a hook sleeping for ever is killed at the timeout ---- */
	configure(act_argv, 2, 1);
	logs_reset();
	t0 = now_ms();
	queue("ID4", "sleep", "");
	ok(run_loop(5000, NULL), "sleep: ended");
	ok(now_ms() - t0 >= 1000 && now_ms() - t0 < 2500,
	   "sleep: killed after the 1 s timeout (%lld ms)",
	   (long long)(now_ms() - t0));
	ok(log_find("hook=killed id=ID4 file=") &&
	   strstr(log_find("hook=killed"), "reason=timeout"),
	   "sleep: hook=killed reason=timeout: %s", n_logs ? logs[0] : "");
	is_int(hook_total(HOOK_KILLED), 1, "sleep: counted killed");

	/* its process group goes with it */
	logs_reset();
	queue("ID5", "group", "");
	ok(run_loop(5000, NULL), "group: ended");
	{
		const char *l = log_find("hook=output id=ID5 child ");
		long child = l ? atol(l + strlen("hook=output id=ID5 child ")) : 0;

		ok(child > 0 && proc_gone(child),
		   "group: the hook's own child was killed too (pid %ld)", child);
	}

	/* a child the hook leaves behind holding its stdout does not hold
	 * up the run's end */
	configure(act_argv, 2, 10);
	logs_reset();
	t0 = now_ms();
	queue("ID5b", "bg", "");
	ok(run_loop(5000, NULL) && now_ms() - t0 < 2000,
	   "bg: ends with the hook, not with its child (%lld ms)",
	   (long long)(now_ms() - t0));
	ok(log_find("hook=exit:0 id=ID5b"), "bg: hook=exit:0");
	{
		const char *l = log_find("hook=output id=ID5b child ");
		long child = l ? atol(l + strlen("hook=output id=ID5b child ")) : 0;

		ok(child > 0 && kill((pid_t)child, SIGKILL) == 0,
		   "bg: its output was read before the end (pid %ld)", child);
	}

	/* ---- output: 200 octets a line, 10 lines, escaped ---- */
	configure(act_argv, 2, 10);
	logs_reset();
	queue("ID6", "spew", "");
	ok(run_loop(5000, NULL), "spew: ran");
	is_int(logs_with("hook=output id=ID6 "), 10, "spew: 10 lines logged of 15");
	{
		char want[300];

		memcpy(want, "hook=output id=ID6 ", 19);
		memset(want + 19, 'x', 200);
		want[219] = '\0';
		is_str(n_logs > 1 ? logs[1] : "", want,
		       "spew: a 300-octet line is cut at 200");
		is_str(n_logs > 2 ? logs[2] : "",
		       "hook=output id=ID6 err\\x1b[31m tab\\x09here",
		       "spew: stderr too, control characters escaped");
		is_str(n_logs > 9 ? logs[9] : "", "hook=output id=ID6 line 10",
		       "spew: the 10th line is the last");
		ok(n_logs == 11 && strncmp(logs[10], "hook=exit:0 id=ID6", 18) == 0,
		   "spew: then the exit line");
	}

	/* a flood: 1 MB without a line end, then 100000 lines; read and
	 * dropped past the bounds, the hook never blocks on its pipe */
	{
		const char *flood_argv[] = { "/bin/sh", "-c",
			"head -c 1000000 /dev/zero | tr '\\000' a; echo; "
			"yes | head -n 100000; echo done >&2", NULL };

		configure(flood_argv, 2, 20);
		logs_reset();
		queue("ID7", "", "");
		ok(run_loop(20000, NULL), "flood: ran");
		is_int(logs_with("hook=output id=ID7 "), 10, "flood: 10 lines logged");
		ok(n_logs > 0 && strlen(logs[0]) == 19 + 200,
		   "flood: the 1 MB line logged as its first 200 octets");
		ok(log_find("hook=exit:0 id=ID7"), "flood: hook=exit:0");
	}

	/* ---- concurrency never above max ---- */
	{
		char cdir[600];
		DIR *d;
		struct dirent *e;
		int most = 0, seen_files = 0;

		snprintf(cdir, sizeof cdir, "%s/conc", dir);
		mkdir(cdir, 0700);
		configure(act_argv, 3, 10);
		logs_reset();
		peak = 0;
		for (i = 0; i < 20; i++)
			queue("IDC", "conc", cdir);
		ok(run_loop(20000, &peak), "conc: 20 runs done");
		is_int(hook_total(HOOK_SKIPPED), 0, "conc: none skipped");
		d = opendir(cdir);
		while (d && (e = readdir(d))) {
			int n;

			if (strncmp(e->d_name, "seen-", 5) != 0)
				continue;
			seen_files++;
			n = atoi(strrchr(e->d_name, '-') + 1);
			if (n > most)
				most = n;
		}
		if (d)
			closedir(d);
		is_int(seen_files, 20, "conc: every run reported");
		ok(most <= 3 && most >= 2,
		   "conc: at most 3 hook processes alive at once (saw %d)", most);
		ok(peak == 3, "conc: the module ran 3 at once (peak %u)", peak);
	}

	/* ---- queue full: skipped, logged ---- */
	/* (a shell and /bin/true here: a sanitizer build of this binary
	 * takes a tenth of a second to start) */
	configure(sh_argv, 1, 10);
	logs_reset();
	queue("IDQ0", "nap", "300");
	for (i = 1; i <= HOOK_QUEUE_MAX; i++) {
		char id[16];

		snprintf(id, sizeof id, "IDQ%u", i);
		if (queue(id, "true", "") != 0)
			break;
	}
	is_int(i, HOOK_QUEUE_MAX + 1, "queue: 1 running and 64 waiting fit");
	is_int(hook_waiting(), HOOK_QUEUE_MAX, "queue: 64 waiting");
	ok(queue("IDQX", "true", "") == -1, "queue: the 66th is skipped");
	is_str(log_find("hook=skipped"),
	       "hook=skipped id=IDQX file=/srv/mail/a/Maildir/new/1.M1P1.host,S=10,W=11 reason=queue-full",
	       "queue: hook=skipped id=... file=... logged");
	is_int(hook_total(HOOK_SKIPPED), 1, "queue: counted skipped");
	ok(run_loop(30000, NULL), "queue: all 65 ran");
	is_int(logs_with("hook=exit:0 id=IDQ"), 65, "queue: 65 exit lines");

	/* ---- large entries: the ring fills by bytes, and wraps ---- */
	{
		const char *echo_argv[] = { "/bin/sh", "-c",
			"echo \"$MAILNOOK_ID ${#MAILNOOK_FILE} ${#MAILNOOK_HELO} "
			"${#MAILNOOK_AUTH}\"; sleep 0.05", NULL };
		static char file[HOOK_PATH_MAX], big[HOOK_VALUE_MAX + 1];
		unsigned accepted = 0, outs = 0, order_ok = 1, next = 0;
		char id[16], want[64];

		memset(file, 'f', sizeof file - 1);
		file[0] = '/';
		memset(big, 'v', sizeof big - 1);
		configure(echo_argv, 1, 10);
		logs_reset();
		j = job("", "", "");
		j.file = file;
		j.maildir = file;
		j.mailbox = j.recipient = j.sender = j.helo = j.auth = big;
		for (i = 0; i < 40; i++) {
			snprintf(id, sizeof id, "L%u", i);
			j.id = id;
			if (hook_queue(&j, now_ms()) != 0)
				break;
			accepted++;
		}
		ok(accepted > 5 && accepted < HOOK_QUEUE_MAX,
		   "large: the ring is full by bytes after %u entries", accepted);
		/* let a few run, then add more: they go round to the start */
		{
			int64_t end = now_ms() + 10000;

			while (hook_waiting() > 4 && now_ms() < end)
				run_loop(20, NULL);
		}
		for (i = 0; i < 6; i++) {
			snprintf(id, sizeof id, "L%u", accepted + i);
			j.id = id;
			ok(hook_queue(&j, now_ms()) == 0, "large: room again for %s", id);
		}
		ok(run_loop(30000, NULL), "large: all ran");
		for (i = 0; i < n_logs; i++) {
			if (strncmp(logs[i], "hook=output ", 12) != 0)
				continue;
			outs++;
			snprintf(want, sizeof want, "L%u %u %u %u", next++,
			         HOOK_PATH_MAX - 1, HOOK_VALUE_MAX, HOOK_VALUE_MAX);
			if (!strstr(logs[i], want)) {
				printf("#   got \"%s\", want \"%s\"\n", logs[i], want);
				order_ok = 0;
			}
		}
		is_int(outs, accepted + 6, "large: every run reported");
		ok(order_ok, "large: in order, every environment intact across the wrap");
	}

	/* ---- no descriptor or zombie left after 500 runs ---- */
	configure(true_argv, 4, 10);
	logs_reset();
	fds_before = count_fds();
	t0 = now_ms();
	for (i = 0; i < 500; i++) {
		while (hook_waiting() >= HOOK_QUEUE_MAX - 1)
			run_loop(10, NULL);
		queue("IDF", "true", "");
	}
	ok(run_loop(60000, NULL), "500 runs: done (%lld ms)",
	   (long long)(now_ms() - t0));
	is_int(n_logs_all, 500, "500 runs: 500 lines");
	is_int(count_fds(), fds_before, "500 runs: no descriptor left open");
	{
		int st;

		ok(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD,
		   "500 runs: every child reaped");
	}

	/* ---- held: a run waits for hook_release(), later ones pass it ---- */
	{
		static int key1, key2;
		int64_t until;

		configure(act_argv, 2, 60);
		logs_reset();
		j = job("IDH1", "true", "");
		j.hold = &key1;
		ok(hook_queue(&j, now_ms()) == 0, "held: queued");
		is_int(hook_running(), 0, "held: not started");
		is_int(hook_held(&key1), 1, "held: counted by its hold");
		is_int(hook_held(&key2), 0, "held: not by another");
		queue("IDH2", "nap", "100");
		is_int(hook_running(), 1, "held: a later run passes it");
		until = now_ms() + 10000;
		while (now_ms() < until && !log_find("hook=exit:0 id=IDH2"))
			run_loop(50, NULL);
		run_loop(100, NULL);    /* the held one would have started */
		ok(log_find("hook=exit:0 id=IDH2") && !log_find("hook=exit:0 id=IDH1"),
		   "held: the later one ran, the held one did not");
		is_int(hook_waiting(), 1, "held: still waiting");
		hook_release(&key2, now_ms());
		is_int(hook_running(), 0, "held: another hold releases nothing");
		hook_release(&key1, now_ms());
		is_int(hook_running(), 1, "held: released, started at once");
		ok(run_loop(5000, NULL) && log_find("hook=exit:0 id=IDH1"),
		   "held: released, ran");

		/* a held head: the runs behind it start, their places are
		 * kept, and the queue still holds 64 in all */
		logs_reset();
		j = job("IDH3", "true", "");
		j.hold = &key1;
		ok(hook_queue(&j, now_ms()) == 0, "held head: queued");
		for (i = 0; i < HOOK_QUEUE_MAX - 1; i++) {
			queue("IDHQ", "true", "");
			run_loop(10, NULL);
		}
		until = now_ms() + 10000;
		while (hook_running() && now_ms() < until)
			run_loop(50, NULL);     /* the held one keeps it busy */
		is_int(logs_with("hook=exit:0 id=IDHQ"), HOOK_QUEUE_MAX - 1,
		       "held head: the 63 behind it ran");
		is_int(hook_waiting(), 1, "held head: only it waits");
		ok(queue("IDHF", "true", "") == -1 &&
		   log_find("hook=skipped id=IDHF"),
		   "held head: its started followers still take their places "
		   "until it goes: full");
		hook_release(&key1, now_ms());
		ok(run_loop(5000, NULL) && log_find("hook=exit:0 id=IDH3"),
		   "held head: released, ran");
		ok(queue("IDHG", "true", "") == 0 && run_loop(5000, NULL),
		   "held head: room again after it");
	}

	/* ---- stop: waiting ones dropped, running ones get their grace ---- */
	configure(act_argv, 2, 60);
	logs_reset();
	queue("IDS1", "nap", "200");
	queue("IDS2", "sleep", "");
	queue("IDS3", "true", "");
	queue("IDS4", "true", "");
	t0 = now_ms();
	hook_stop();
	ok(now_ms() - t0 >= 1400 && now_ms() - t0 < 3000,
	   "stop: waited for the 1.5 s grace (%lld ms)",
	   (long long)(now_ms() - t0));
	ok(log_find("hook=exit:0 id=IDS1"), "stop: a hook that ends in time ends");
	ok(log_find("hook=killed id=IDS2") &&
	   strstr(log_find("hook=killed id=IDS2"), "reason=shutdown"),
	   "stop: one that does not is killed: %s",
	   log_find("hook=killed") ? log_find("hook=killed") : "(none)");
	is_int(logs_with("hook=skipped"), 2, "stop: the waiting ones are skipped");
	ok(log_find("hook=skipped id=IDS3 file=/srv/mail/a/Maildir/new/1.M1P1.host,S=10,W=11 reason=shutdown"),
	   "stop: hook=skipped ... reason=shutdown");
	is_int(hook_running() + hook_waiting(), 0, "stop: nothing left");
	ok(queue("IDS5", "true", "") == -1, "stop: nothing starts after");

	rm_rf(dir);
	return tap_done();
}
