/*
 * The cost of one on-delivery run through platform/hook.c: N runs of a
 * program (default /bin/true) driven by a poll loop like the server's,
 * one at a time (spawn to reap: the latency a delivery's hook adds) and
 * with MAX at once (the rate the module sustains), next to the bare
 * vfork+execve+waitpid of the same program as the floor; and the time spent
 * inside hook.c's calls, which is what the event loop (every other
 * session) waits for: the vfork() until the child's execve(), the reads,
 * the reaping.  Prints figures; never fails on time.
 *
 *   make build/bench/hook_run && build/bench/hook_run [N [MAX [PROGRAM]]]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"

static unsigned long lines;
static int64_t busy_us;         /* time spent inside hook.c's calls */

static void on_log(const char *line)
{
	if (strncmp(line, "hook=exit:0 ", 12) != 0)
		fprintf(stderr, "unexpected: %s\n", line);
	lines++;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void loop_until_idle(void)
{
	struct pollfd pfd[HOOK_NFDS];

	while (hook_running() || hook_waiting()) {
		unsigned n = hook_pollfds(pfd, HOOK_NFDS);
		int64_t t;

		if (poll(pfd, n, 100) > 0) {
			t = now_us();
			hook_poll_ready(pfd, n, t / 1000);
			busy_us += now_us() - t;
		}
		t = now_us();
		hook_tick(t / 1000);
		busy_us += now_us() - t;
	}
}

static double run(const char *prog, unsigned n, unsigned max)
{
	const char *argv[] = { prog, NULL };
	struct hook_params p;
	struct hook_job j;
	int64_t t0;
	unsigned i;

	memset(&p, 0, sizeof p);
	p.argv = argv;
	p.max = max;
	p.timeout_s = 60;
	p.log = on_log;
	if (hook_configure(&p) != 0) {
		perror("hook_configure");
		exit(1);
	}
	memset(&j, 0, sizeof j);
	j.file = "/srv/mail/alice/Maildir/new/1764782217.M1P2Q3R0123456789abcdef.host,S=1234,W=1260";
	j.maildir = "/srv/mail/alice/Maildir";
	j.mailbox = j.recipient = "alice@example.org";
	j.sender = "camera@example.org";
	j.size = 1234;
	j.id = "0123456789abcdef";
	j.client_ip = "192.0.2.7";
	j.helo = "camera";
	j.auth = "";
	t0 = now_us();
	busy_us = 0;
	for (i = 0; i < n; i++) {
		while (hook_running() >= max)
			loop_until_idle();
		int64_t t = now_us();

		if (hook_queue(&j, t / 1000) != 0) {
			fprintf(stderr, "skipped\n");
			exit(1);
		}
		busy_us += now_us() - t;
	}
	loop_until_idle();
	return (double)(now_us() - t0) / n;
}

static double bare(const char *prog, unsigned n)
{
	char *const argv[] = { (char *)prog, NULL }, *const envp[] = { NULL };
	int64_t t0 = now_us();
	unsigned i;

	for (i = 0; i < n; i++) {
		pid_t pid = vfork();
		int st;

		if (pid == 0) {
			execve(prog, argv, envp);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid) {
			perror("vfork/waitpid");
			exit(1);
		}
	}
	return (double)(now_us() - t0) / n;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
	unsigned max = argc > 2 ? (unsigned)atoi(argv[2]) : 4;
	const char *prog = argc > 3 ? argv[3] : "/bin/true";
	double one, many, floor_us, busy_one, busy_many;
	struct rusage ru;

	if (hook_init() != 0) {
		perror("hook_init");
		return 1;
	}
	floor_us = bare(prog, n);
	one = run(prog, n, 1);
	busy_one = (double)busy_us / n;
	many = run(prog, n, max);
	busy_many = (double)busy_us / n;
	getrusage(RUSAGE_SELF, &ru);
	printf("%u runs of %s\n", n, prog);
	printf("  bare vfork+execve+waitpid:   %8.1f us/run\n", floor_us);
	printf("  hook.c, one at a time:       %8.1f us/run (spawn to reap), "
	       "%.1f us of it inside hook.c's calls\n", one, busy_one);
	printf("  hook.c, %2u at once:          %8.1f us/run (%.0f runs/s), "
	       "%.1f us inside hook.c's calls\n", max, many, 1e6 / many, busy_many);
	printf("  log lines %lu, ok %llu, failed %llu; parent max RSS %ld KiB\n",
	       lines, (unsigned long long)hook_total(HOOK_OK),
	       (unsigned long long)hook_total(HOOK_FAILED), ru.ru_maxrss);
	return 0;
}
