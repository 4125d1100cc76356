/* see hook.h; the queue of pending runs is hook_queue.c */
#include "hook_int.h"

#if CFG_HOOK

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bare.h"
#include "fmt.h"

struct hook_run {
	pid_t pid;                      /* 0: the slot is free */
	int fd;                         /* output pipe; -1 once at EOF */
	int64_t started_ms;
	int64_t timeout_at_ms;
	const char *killed;             /* why SIGKILL was sent, or NULL */
	unsigned lines;                 /* output lines logged */
	unsigned len;                   /* octets in line[] */
	char line[HOOK_LINE_MAX];
	char id[HOOK_ID_MAX];
	char file[HOOK_PATH_MAX];
};

static struct hook_run runs[CFG_HOOK_MAX];
static unsigned n_running;

static char argv_buf[HOOK_ARGV_BYTES];
static char *argv_ptr[HOOK_ARGS_MAX + 1];
static unsigned max_running = 1;
static int64_t timeout_ms = 60000;
static int64_t grace_ms = HOOK_STOP_MS;
static void (*log_line)(const char *line);
static int enabled;

static int devnull = -1;
static int chld_pipe[2] = { -1, -1 };
static int stopping;
static int64_t stop_at_ms = INT64_MAX;

static uint64_t totals[HOOK_RESULT_N];

/* Written by the vfork()ed child, which shares our memory until execve(). */
static volatile int child_errno;

/* ---- small things ------------------------------------------------------- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char msg[64 + HOOK_ID_MAX + HOOK_PATH_MAX + 4 * HOOK_LINE_MAX];
	va_list ap;

	if (!log_line)
		return;
	va_start(ap, fmt);
	(void)fmt_vinto(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_line(msg);
}

static void on_sigchld(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (write(chld_pipe[1], &b, 1) < 0) {
		/* pipe full: a wake-up is already waiting */
	}
	errno = saved;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	if (bare_clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- starting a run ----------------------------------------------------- */

/* The child, between vfork() and execve(): it shares the parent's memory
 * and runs with every signal blocked, so it touches nothing but its own
 * stack and child_errno.  Every disposition goes back to the default (the
 * parent catches some and ignores SIGPIPE; an ignored signal would stay
 * ignored across execve), then the mask is emptied. */
static void __attribute__((noreturn)) child(int out, char *const envp[])
{
	struct sigaction sa;
	sigset_t none;
	int s;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (s = 1; s < NSIG; s++)
		(void)sigaction(s, &sa, NULL);  /* SIGKILL etc. refuse: fine */
	sigemptyset(&none);
	if (setpgid(0, 0) != 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(out, 2) < 0 || sigprocmask(SIG_SETMASK, &none, NULL) != 0) {
		child_errno = errno ? errno : EINVAL;
		_exit(127);
	}
	execve(argv_ptr[0], argv_ptr, envp);
	child_errno = errno ? errno : ENOEXEC;
	_exit(127);
}

/* The child's pid (its exec may still have failed: child_errno), or -1. */
static pid_t spawn(int out, char *const envp[])
{
	sigset_t all, old;
	pid_t pid;
	int saved;

	sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, &old) != 0)
		return -1;
	child_errno = 0;
	pid = vfork();
	if (pid == 0)
		child(out, envp);
	saved = errno;
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return pid;
}

static void count(enum hook_result r)
{
	totals[r]++;
}

/* Starts the run of the oldest queued entry in slot r.  The entry is used
 * either way: a run that cannot start is logged and counted as failed,
 * never tried again. */
static void start(struct hook_run *r, const struct hook_entry *e,
                  int64_t now_ms)
{
	char *envp[HQ_ENVP];
	const char *why = NULL, *v;
	int pp[2];
	pid_t pid;

	hq_envp(e, envp);
	v = hq_value(e, ENV_ID);
	memcpy(r->id, v, strlen(v) + 1);
	v = hq_value(e, ENV_FILE);
	memcpy(r->file, v, strlen(v) + 1);

	/* blocking at both ends, as the hook's stdout should be: we read
	 * only what poll() says is there (read_output()) */
	if (pipe2(pp, O_CLOEXEC) != 0) {
		why = strerror(errno);
		goto fail;
	}
	pid = spawn(pp[1], envp);
	if (pid < 0)
		why = strerror(errno);
	close(pp[1]);
	if (pid > 0 && child_errno) {
		int st;

		why = strerror(child_errno);
		/* it has already called _exit(): this does not block */
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (why) {
		close(pp[0]);
		goto fail;
	}
	r->pid = pid;
	r->fd = pp[0];
	r->started_ms = now_ms;
	r->timeout_at_ms = now_ms + timeout_ms;
	r->killed = NULL;
	r->lines = 0;
	r->len = 0;
	n_running++;
	return;
fail:
	say("hook=failed id=%s file=%s error=%s", r->id, r->file, why);
	count(HOOK_FAILED);
}

static void start_queued(int64_t now_ms)
{
	struct hook_entry *e;
	unsigned i;

	while (!stopping && n_running < max_running && (e = hq_next())) {
		for (i = 0; i < CFG_HOOK_MAX && runs[i].pid; i++)
			;
		if (i == CFG_HOOK_MAX)
			return;         /* cannot happen: n_running counts */
		start(&runs[i], e, now_ms);
		hq_done(e);
	}
	hq_trim();
}

/* ---- output ------------------------------------------------------------- */

static void emit_line(struct hook_run *r)
{
	static const char hex[] = "0123456789abcdef";
	char text[4 * HOOK_LINE_MAX + 1];
	unsigned i, o = 0;

	if (r->len == 0 || r->lines >= HOOK_LINES_MAX) {
		r->len = 0;
		return;
	}
	for (i = 0; i < r->len; i++) {
		unsigned char c = (unsigned char)r->line[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			text[o++] = (char)c;
		} else {
			text[o++] = '\\';
			text[o++] = 'x';
			text[o++] = hex[c >> 4];
			text[o++] = hex[c & 15];
		}
	}
	text[o] = '\0';
	say("hook=output id=%s %s", r->id, text);
	r->lines++;
	r->len = 0;
}

/* Takes what the pipe holds, at most `rounds` reads; the rest of a line
 * past HOOK_LINE_MAX and lines past HOOK_LINES_MAX are read and dropped.
 * At EOF or on an error the pipe is closed.  The pipe blocks (the hook's
 * end must), so each read comes after a poll() that does not wait: a
 * child the hook left behind may hold the pipe open without writing. */
static void read_output(struct hook_run *r, unsigned rounds)
{
	char buf[512];

	while (r->fd >= 0 && rounds--) {
		struct pollfd pfd = { r->fd, POLLIN, 0 };
		ssize_t n, i;

		if (poll(&pfd, 1, 0) != 1)
			return;
		n = read(r->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(r->fd);
			r->fd = -1;
			emit_line(r);
			return;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n' || buf[i] == '\r')
				emit_line(r);
			else if (r->len < HOOK_LINE_MAX)
				r->line[r->len++] = buf[i];
		}
	}
}

/* ---- ending a run ------------------------------------------------------- */

static void finish(struct hook_run *r, int st, int64_t now_ms)
{
	long long ms = (long long)(now_ms - r->started_ms);

	/* what it wrote before it ended; a child it left behind may still
	 * hold the pipe: take what is there, no more */
	read_output(r, 16);
	emit_line(r);
	if (r->fd >= 0) {
		close(r->fd);
		r->fd = -1;
	}
	if (WIFEXITED(st)) {
		say("hook=exit:%d id=%s file=%s duration=%lldms",
		    WEXITSTATUS(st), r->id, r->file, ms);
		count(WEXITSTATUS(st) == 0 ? HOOK_OK : HOOK_FAILED);
	} else if (r->killed) {
		say("hook=killed id=%s file=%s duration=%lldms reason=%s",
		    r->id, r->file, ms, r->killed);
		count(HOOK_KILLED);
	} else {
		say("hook=killed id=%s file=%s duration=%lldms reason=signal:%d",
		    r->id, r->file, ms, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		count(HOOK_KILLED);
	}
	r->pid = 0;
	n_running--;
}

static void reap(int64_t now_ms)
{
	unsigned i;

	for (i = 0; i < CFG_HOOK_MAX; i++) {
		struct hook_run *r = &runs[i];
		int st;
		pid_t p;

		if (!r->pid)
			continue;
		do
			p = waitpid(r->pid, &st, WNOHANG);
		while (p < 0 && errno == EINTR);
		if (p == r->pid)
			finish(r, st, now_ms);
		else if (p < 0 && errno == ECHILD)
			finish(r, 0, now_ms);   /* cannot happen: not ours */
	}
}

static void kill_run(struct hook_run *r, const char *why)
{
	/* the whole process group: a script's own children too */
	if (kill(-r->pid, SIGKILL) != 0)
		(void)kill(r->pid, SIGKILL);
	r->killed = why;
}

static int64_t run_deadline(const struct hook_run *r)
{
	return r->timeout_at_ms < stop_at_ms ? r->timeout_at_ms : stop_at_ms;
}

/* ---- the API ------------------------------------------------------------ */

int hook_init(void)
{
	struct sigaction sa;
	unsigned i;

	for (i = 0; i < CFG_HOOK_MAX; i++)
		runs[i].fd = -1;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return -1;
	if (pipe2(chld_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	return sigaction(SIGCHLD, &sa, NULL);
}

int hook_configure(const struct hook_params *p)
{
	size_t used = 0;
	unsigned n;

	log_line = p->log;
	if (!p->argv || !p->argv[0]) {
		enabled = 0;
		return 0;
	}
	if (p->argv[0][0] != '/') {
		errno = EINVAL;
		return -1;
	}
	for (n = 0; p->argv[n]; n++) {
		used += strlen(p->argv[n]) + 1;
		if (n == HOOK_ARGS_MAX || used > sizeof argv_buf) {
			errno = E2BIG;
			return -1;
		}
	}
	used = 0;
	for (n = 0; p->argv[n]; n++) {
		size_t k = strlen(p->argv[n]) + 1;

		memcpy(argv_buf + used, p->argv[n], k);
		argv_ptr[n] = argv_buf + used;
		used += k;
	}
	argv_ptr[n] = NULL;
	max_running = p->max < 1 ? 1 : p->max > CFG_HOOK_MAX ? CFG_HOOK_MAX : p->max;
	timeout_ms = (int64_t)(p->timeout_s < 1 ? 1 : p->timeout_s) * 1000;
	grace_ms = p->stop_ms ? p->stop_ms : HOOK_STOP_MS;
	enabled = 1;
	hq_prefault();
	return 0;
}

int hook_queue(const struct hook_job *job, int64_t now_ms)
{
	const char *why = "shutdown";

	if (!enabled)
		return 0;
	if (!stopping && hq_push(job, &why) == 0) {
		start_queued(now_ms);
		return 0;
	}
	{
		char id[HOOK_ID_MAX + 8], file[HOOK_PATH_MAX];

		/* the same sanitising as the environment's, for the log */
		hq_clean(id, job->id, HOOK_ID_MAX - 1);
		hq_clean(file, job->file, HOOK_PATH_MAX - 1);
		say("hook=skipped id=%s file=%s reason=%s", id, file, why);
	}
	count(HOOK_SKIPPED);
	return -1;
}

unsigned hook_pollfds(struct pollfd *pfd, unsigned room)
{
	unsigned i, n = 0;

	if (room == 0 || chld_pipe[0] < 0)
		return 0;
	pfd[n].fd = chld_pipe[0];
	pfd[n].events = POLLIN;
	pfd[n++].revents = 0;
	for (i = 0; i < CFG_HOOK_MAX && n < room; i++) {
		if (!runs[i].pid || runs[i].fd < 0)
			continue;
		pfd[n].fd = runs[i].fd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

void hook_poll_ready(const struct pollfd *pfd, unsigned n, int64_t now_ms)
{
	unsigned i, k;
	int chld = 0;

	for (i = 0; i < n; i++) {
		if (!pfd[i].revents)
			continue;
		if (pfd[i].fd == chld_pipe[0]) {
			chld = 1;
			continue;
		}
		for (k = 0; k < CFG_HOOK_MAX; k++)
			if (runs[k].pid && runs[k].fd == pfd[i].fd)
				read_output(&runs[k], 1);
	}
	if (chld) {
		unsigned char buf[64];

		while (read(chld_pipe[0], buf, sizeof buf) > 0)
			;
		reap(now_ms);
	}
	start_queued(now_ms);
}

int64_t hook_deadline_ms(void)
{
	int64_t d = INT64_MAX;
	unsigned i;

	if (!stopping && n_running < max_running && hq_next())
		return 0;
	for (i = 0; i < CFG_HOOK_MAX; i++)
		if (runs[i].pid && !runs[i].killed && run_deadline(&runs[i]) < d)
			d = run_deadline(&runs[i]);
	return d;
}

void hook_tick(int64_t now_ms)
{
	unsigned i;

	reap(now_ms);
	for (i = 0; i < CFG_HOOK_MAX; i++) {
		struct hook_run *r = &runs[i];

		if (!r->pid || r->killed || now_ms < run_deadline(r))
			continue;
		kill_run(r, now_ms >= r->timeout_at_ms ? "timeout" : "shutdown");
	}
	start_queued(now_ms);
}

unsigned hook_running(void)
{
	return n_running;
}

void hook_release(const void *hold, int64_t now_ms)
{
	hq_release(hold);
	start_queued(now_ms);
}

uint64_t hook_total(enum hook_result r)
{
	return r < HOOK_RESULT_N ? totals[r] : 0;
}

void hook_stop_begin(int64_t now_ms)
{
	const char *id, *file;

	if (stopping)
		return;
	stopping = 1;
	stop_at_ms = now_ms + grace_ms;
	/* at most once per file: what waits now is never run */
	while (hq_drop(&id, &file)) {
		say("hook=skipped id=%s file=%s reason=shutdown", id, file);
		count(HOOK_SKIPPED);
	}
}

void hook_stop(void)
{
	struct pollfd pfd[HOOK_NFDS];
	int64_t now = mono_ms(), give_up;

	hook_stop_begin(now);
	/* a killed process ends at once, unless stuck in the kernel: then
	 * it is left behind rather than holding up the exit */
	give_up = stop_at_ms + 2000;
	while (n_running && now < give_up) {
		int64_t d = hook_deadline_ms(), wait;
		unsigned n = hook_pollfds(pfd, HOOK_NFDS);
		int rc;

		wait = d == INT64_MAX ? give_up - now : d - now;
		if (wait > 100)
			wait = 100;     /* the SIGCHLD byte may be lost */
		if (wait < 0)
			wait = 0;
		rc = poll(pfd, n, (int)wait);
		now = mono_ms();
		if (rc > 0)
			hook_poll_ready(pfd, n, now);
		hook_tick(now);
	}
}

#endif