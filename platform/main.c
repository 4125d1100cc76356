/*
 * mailnook: command line, start-up, privileges, daemon, then the loop.
 *
 * Order of start-up (each step may still die with a clear message; nothing
 * after the loop starts does):
 *   inherited descriptors closed -> arguments -> configuration (file, then
 *   --options) -> -t / -V / -h -> pid file opened, locked and written ->
 *   listeners bound -> privileges dropped (user=) -> Maildirs prepared,
 *   checked and tmp/ cleaned (as that user) -> detach (unless -f; the
 *   daemon's pid written) -> loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "bare.h"
#include "clock.h"
#include "commit_proc.h"
#include "conf_load.h"
#include "fmt.h"
#include "hook.h"
#include "listen.h"
#include "log.h"
#include "loop.h"
#include "maildir.h"
#include "single_thread.h"
#include "slot.h"
#include "stats.h"
#include "slot_hook.h"
#include "slot_io.h"
#include "version.h"
#if CFG_QUOTA
#include "quota_run.h"
#endif
#if CFG_TLS
#include "tls.h"
#endif

static struct listener listeners[CFG_MAX_LISTENERS];
static char conf_path[PATH_MAX];
static char pid_path[PATH_MAX];
static int pid_fd = -1;

static void usage_line(void *ctx, const char *opt, const char *help)
{
	int *bad = ctx;

	if (log_stdout("  %-32s %s\n", opt, help) != 0)
		*bad = 1;
}

/* 0, or -1 when stdout took not all of it */
static int usage(void)
{
	int bad = log_stdout(
		"usage: mailnook [-f] [-t] [-c FILE] [--OPTION[=VALUE] ...]\n\n");

	conf_usage(1, usage_line, &bad);
	bad |= log_stdout(
		"\nEvery configuration option may be given as --OPTION=VALUE (or "
		"--OPTION\nfor a flag); the command line wins over the file:\n");
	conf_usage(0, usage_line, &bad);
	return bad ? -1 : 0;
}

/* conf_cmdline()'s error: "mailnook: ARG: message" */
static void arg_error(void *ctx, const char *arg, unsigned line,
                      const char *msg)
{
	(void)ctx;
	(void)line;
	log_stderr("%s: %s", arg, msg);
}

/* -V's compile-time parts, each "" when compiled out */
#define V_STR_(x) #x
#define V_STR(x) V_STR_(x)
#if CFG_TLS
#define V_TLS " tls"
#else
#define V_TLS ""
#endif
#if CFG_TLS && CFG_TLS_LEGACY
#define V_TLS_LEGACY " tls-legacy"
#else
#define V_TLS_LEGACY ""
#endif
#if CFG_IPV6
#define V_IPV6 " ipv6"
#else
#define V_IPV6 ""
#endif
#if CFG_CHUNKING
#define V_CHUNKING " chunking"
#else
#define V_CHUNKING ""
#endif
#if CFG_STATS
#define V_STATS " stats"
#else
#define V_STATS ""
#endif
#if CFG_SYSLOG
#define V_SYSLOG " syslog"
#else
#define V_SYSLOG ""
#endif
#if CFG_AUTH
#define V_AUTH " auth"
#else
#define V_AUTH ""
#endif
#if CFG_HOOK
#define V_HOOK " hook"
#define V_HOOKS " hooks=" V_STR(CFG_HOOK_MAX)
#else
#define V_HOOK ""
#define V_HOOKS ""
#endif
#if CFG_QUOTA
#define V_QUOTA " quota"
#else
#define V_QUOTA ""
#endif
#if CFG_COMMIT_CHILD
#define V_COMMIT " commit-process"
#else
#define V_COMMIT ""
#endif

/* 0, or -1 when stdout took not all of it */
static int version(void)
{
	size_t slots_b = slot_footprint();
	size_t arenas_b = 2u * (size_t)CFG_CONF_ARENA_KB * 1024u;
	size_t tls_b = 0;
	int bad;

	/* all of it known at compile time: one literal, no arguments */
	bad = log_stdout("mailnook " MAILNOOK_VERSION "\nfeatures:" V_TLS V_TLS_LEGACY
	                 V_IPV6 V_CHUNKING V_STATS V_SYSLOG V_AUTH V_HOOK V_QUOTA
	                 V_COMMIT
	                 "\nlimits: sessions=" V_STR(CFG_MAX_SESSIONS)
	                 " listeners=" V_STR(CFG_MAX_LISTENERS)
	                 " mailboxes=" V_STR(CFG_MAX_MAILBOXES)
	                 " max-recipients=" V_STR(CFG_MAX_RECIPIENTS)
	                 " recv-buffer=" V_STR(CFG_RECV_BUFSIZE)
	                 " reply-buffer=" V_STR(CFG_REPLY_BUFSIZE)
	                 " body-buffer=" V_STR(CFG_BODY_BUFSIZE) V_HOOKS "\n");
#if CFG_TLS
	tls_b = tls_footprint();
#endif
	/* one line, each figure once: the sum is what the tests and people
	 * read; the parts show where it goes */
	bad |= log_stdout("static footprint: slots %zu (%d x %zu), message "
	                  "buffer %d, read spill %d, arenas %zu (2 x %d KiB), ",
	                  slots_b, CFG_MAX_SESSIONS, slots_b / CFG_MAX_SESSIONS,
	                  CFG_BODY_BUFSIZE, SLOT_SPILL_SIZE, arenas_b,
	                  CFG_CONF_ARENA_KB);
	if (CFG_TLS)
		bad |= log_stdout("TLS %zu (contexts, record buffers, key stores, "
		                  "session cache), ", tls_b);
	bad |= log_stdout("total %zu bytes\n",
	                  slots_b + (size_t)CFG_BODY_BUFSIZE +
	                  (size_t)SLOT_SPILL_SIZE + arenas_b + tls_b);
	return bad;
}

/* Drops to user=NAME (from /etc/passwd, its groups from /etc/group: see
 * account.c) when root.  Not root: only the user we already are is
 * accepted.  0, or -1 after a message. */
static int drop_privileges(const struct mn_config *c)
{
	static struct account a;
	int r;

	if (!c->user) {
		return 0;
	}
	r = account_lookup("/etc/passwd", "/etc/group", c->user, &a);
	if (r != 0) {
		log_stderr("user %s: %s", c->user,
		           r > 0 ? "no such user in /etc/passwd" : strerror(errno));
		return -1;
	}
	if (a.gid == 0) {
		/* group 0 may write much of what root owns: no better than
		 * staying root */
		conf_report(c, &c->user_at, "user: its primary group is 0 (root)");
		return -1;
	}
	if (geteuid() != 0) {
		if (a.uid == geteuid())
			return 0;
		log_stderr("user %s: only root can change to another user",
		           c->user);
		return -1;
	}
	if (st_setgroups(a.ngroups, a.groups) != 0 ||
	    st_setgid(a.gid) != 0 || st_setuid(a.uid) != 0) {
		log_stderr("user %s: cannot change user: %s", c->user,
		           strerror(errno));
		return -1;
	}
	if (a.uid != 0 && (st_setuid(0) == 0 || geteuid() == 0)) {
		log_stderr("user %s: root privileges could be regained",
		           c->user);
		return -1;
	}
	return 0;
}

/* RLIMIT_NOFILE must cover every session (socket and message file), the
 * listeners and a few more (signal pipe, syslog, stdio, directories). */
static void raise_fd_limit(const struct mn_config *c)
{
	struct rlimit rl;
	/* a socket, a message file and its tmp/ per session */
	rlim_t need = (rlim_t)c->max_sessions * 3 + c->n_listen + 16 +
	              (CFG_HOOK ? HOOK_FDS : 0);        /* on-delivery */

	if (st_getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		log_stderr("warning: open-file limit %llu is below the %llu "
		           "max-sessions needs", (unsigned long long)rl.rlim_max,
		           (unsigned long long)need);
		need = rl.rlim_max;
	}
	rl.rlim_cur = need;
	if (st_setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_stderr("warning: setrlimit: %s", strerror(errno));
}

/* Descriptors beyond 0-2 that the parent left open would stay open in the
 * daemon for its whole life: closed before we open anything.  And 0-2
 * closed by the parent are opened on /dev/null: a descriptor of ours there
 * (the pid file's, with its lock) would go in daemonize()'s dup2(). */
static void close_inherited(void)
{
	int fd;

	do
		fd = open("/dev/null", O_RDWR | O_NOCTTY);
	while (fd >= 0 && fd <= STDERR_FILENO);
	st_close_from(3);
}

/*
 * The pid file, before anything listens.  Opened without following a
 * symbolic link and without blocking on a FIFO planted there (O_NONBLOCK);
 * used only when it is a plain file with no other name, so that a hard link
 * to another file never gets that file truncated.  Locked with flock(), not
 * fcntl(): a flock() lock belongs to the open file description, which the
 * daemon shares after fork() and keeps when the parent exits, where an
 * fcntl() lock belongs to the process that took it and would go with the
 * parent.  Locked by another mailnook: its pid is reported and the file
 * left as it is.  The descriptor, -1 without pid-file=, -2 after a message.
 */
static int open_pid_file(const char *path)
{
	struct stat st;
	char buf[24];
	ssize_t n;
	int fd;

	if (!path)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
	          O_NONBLOCK, 0644);
	if (fd < 0 ? errno != ELOOP : bare_fstat(fd, &st) != 0) {
		log_stderr("pid-file %s: %s", path, strerror(errno));
		goto fail;
	}
	if (fd < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		log_stderr("pid-file %s: a symbolic link, hard link, FIFO or "
		           "device; not a file of its own", path);
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			log_stderr("pid-file %s: %s", path, strerror(errno));
			goto fail;
		}
		n = read(fd, buf, sizeof buf - 1);      /* at offset 0: just opened */
		buf[n > 0 ? n : 0] = '\0';
		for (n = 0; buf[n] >= '0' && buf[n] <= '9'; n++)
			;
		buf[n] = '\0';         /* the digits only (strspn: 208 bytes) */
		log_stderr("already running (pid %s)", buf[0] ? buf : "?");
		goto fail;
	}
	/* the bare call: musl's fchmod() adds a fallback through /proc for
	 * O_PATH descriptors (0.3 KiB), which this one is not */
	if (syscall(SYS_fchmod, fd, 0644) != 0) {
		/* umask made it 0600: still usable */
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -2;
}

/* At offset 0: written once at start-up, and again by daemonize(). */
static void write_pid(int fd, pid_t pid)
{
	char buf[32];
	size_t n = fmt_into(buf, sizeof buf, "%ld\n", (long)pid);

	if (fd < 0)
		return;
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, n, 0) != (ssize_t)n)
		log_warn("pid-file: cannot write: %s", strerror(errno));
}

/* The pid file goes with the process, also when start-up fails after
 * taking it (emptied when user= may not remove it); not with the detaching
 * parent, which leaves with _exit(). */
static void pid_remove(void)
{
	if (pid_fd >= 0 && unlink(pid_path) != 0 && ftruncate(pid_fd, 0) != 0) {
		/* cannot remove nor empty it after dropping root */
	}
}

/* The parent writes the daemon's pid before it exits: whoever waits for
 * the parent (an init script, systemd's PIDFile=) then reads the right one. */
static int daemonize(void)
{
	pid_t pid;
	int fd;

	pid = st_fork();
	if (pid < 0) {
		log_stderr("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		write_pid(pid_fd, pid);
		_exit(0);
	}
	if (setsid() < 0) {
		log_stderr("setsid: %s", strerror(errno));
		return -1;
	}
	if (chdir("/") != 0) {
		log_stderr("chdir /: %s", strerror(errno));
		return -1;
	}
	fd = open("/dev/null", O_RDWR | O_NOCTTY);
	if (fd < 0) {
		log_stderr("/dev/null: %s", strerror(errno));
		return -1;
	}
	if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0) {
		log_stderr("dup2: %s", strerror(errno));
		return -1;
	}
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

static int clean_maildirs(const struct mn_config *c)
{
	time_t now = (time_t)clock_wall();
	unsigned i, j;

	for (i = 0; i < c->n_mailbox; i++) {
		const char *d = c->mailbox[i].maildir;
		int n;

		for (j = 0; j < i; j++)
			if (strcmp(c->mailbox[j].maildir, d) == 0)
				break;
		if (j < i)
			continue;       /* shared Maildir, done already */
		n = maildir_clean_tmp(d, now);
		if (n < 0) {
			int e = errno;

			log_stderr("%s: cannot clean tmp/: %s", d, strerror(e));
			if (e != ELOOP)         /* a link: skipped, not followed */
				return -1;
		}
		if (n > 0)
			log_stderr("%s: removed %d stale files from tmp/", d, n);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct conf_cmdline cl;
	const char *file;
	int nargs, i;
	struct loop_params lp;
	struct sigaction ign;
	struct mn_config *c;
	char start[LOG_LINE_MAX];
	size_t off;
	unsigned k, n_listen = 0;

	close_inherited();
	/* -c, -f, -t, -V, -h are taken out; every other --option=value moves
	 * to the front of argv[1..] for conf_parse_arg() after the file. */
	if (conf_cmdline(argc, argv, &cl, arg_error, NULL) != 0)
		return 1;
	if (cl.version)
		return version() != 0;
	if (cl.help)
		return usage() != 0;
	file = cl.conf_file;
	nargs = cl.nargs;

	/* sigaction(), which the loop needs anyway, not signal() too */
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &ign, NULL) != 0 ||
	    sigaction(SIGXFSZ, &ign, NULL) != 0) {  /* EFBIG instead: one message fails */
		/* cannot fail for these signals */
	}
	umask(077);
	clock_init();
	slot_init();
	if (conf_load_init() != 0)
		return 1;
	if (conf_load(0, file, argv + 1, nargs, NULL) != 0)
		return 1;
	c = conf_gen(0);
	if (strlen(c->conf_file) >= sizeof conf_path) {
		log_stderr("%s: path too long", file);
		return 1;
	}
	memcpy(conf_path, c->conf_file, strlen(c->conf_file) + 1);

	if (cl.test) {
		unsigned errors;

		conf_print_warnings(c, NULL);
		/* the TLS files are read before privileges are dropped, as at
		 * start-up */
		errors = conf_check_tls(c, NULL);
		/* check the Maildirs as the user that will write them */
		if (drop_privileges(c) != 0)
			return 1;
		errors += conf_check_maildirs(c, NULL);
		errors += slot_hook_check(c);   /* as the user it runs as */
		if (errors)
			return 1;
#if CFG_QUOTA
		if (qrun_report(c) != 0)        /* each quota'd mailbox's usage */
			return 1;
#endif
		return log_stdout("mailnook: configuration OK\n") != 0;
	}

	raise_fd_limit(c);
	if (loop_signals_init() != 0)
		return 1;
	pid_fd = open_pid_file(c->pid_file);
	if (pid_fd == -2)
		return 1;
	if (pid_fd >= 0) {
		/* open() took the path: shorter than PATH_MAX */
		memcpy(pid_path, c->pid_file, strlen(c->pid_file) + 1);
		write_pid(pid_fd, getpid());    /* at once, for a second mailnook */
	}
	for (k = 0; k < CFG_MAX_LISTENERS; k++)
		listeners[k].fd = -1;
	if (listen_open(c, listeners, &n_listen) != 0)
		goto fail;
#if CFG_TLS
	{
		const char *why = NULL;

		if (tls_init(&why) != 0) {
			log_stderr("getrandom: %s", why);
			goto fail;
		}
	}
	/* before dropping privileges: the key may be readable by root only
	 * (a reload then needs it readable by user=) */
	if (conf_check_tls(c, NULL) != 0)
		goto fail;
	if (c->n_tls_cert)
		tls_keys_activate();
#endif
	if (drop_privileges(c) != 0)
		goto fail;
	if (conf_check_maildirs(c, NULL) != 0)
		goto fail;
	if (clean_maildirs(c) != 0)
		goto fail;
	maildir_set_host(c->hostname);
	slot_set_config(c);
#if CFG_QUOTA
	qrun_config(c, (time_t)clock_wall(), 1);  /* recalculation, expiry: in the loop */
	stats_usage_source(qrun_usage);
#endif

	if (!cl.foreground) {
		if (daemonize() != 0)
			goto fail;
		log_open(LOG_TO_SYSLOG);
	} else {
		log_open(LOG_TO_STDERR);
	}
	/* on-delivery: after close_inherited() and detaching, so that its
	 * descriptors stay ours */
	if (hook_init() != 0) {
		log_err("on-delivery: %s", strerror(errno));
		goto fail;
	}
	if (slot_hook_configure(c) != 0)
		goto fail;
#if CFG_HOOK
	stats_hooks_source(hook_total);
#endif

	off = fmt_into(start, sizeof start, "mailnook %s started, listening on",
	               MAILNOOK_VERSION);
	for (k = 0; k < n_listen && off < sizeof start; k++)
		off += fmt_into(start + off, sizeof start - off, "%s %s",
		                k ? "," : "", listeners[k].name);
	log_info("%s", start);
#if CFG_TLS
	if (tls_keys_current()) {
		const struct tls_keys *tk = tls_keys_current();
		char kd[32];

		for (k = 0; k < tk->n_cred; k++)
			log_info("TLS: %s key, %zu certificate%s from %s",
			         tls_keys_describe(&tk->cred[k], kd, sizeof kd),
			         tk->cred[k].chain_len,
			         tk->cred[k].chain_len == 1 ? "" : "s",
			         c->tls_cert[k]);
	}
#endif
	conf_print_warnings(c, "");
	if (geteuid() == 0)
		log_warn("running as root: set user=NAME to drop privileges");

	memset(&lp, 0, sizeof lp);
	lp.listeners = listeners;
	lp.n_listeners = n_listen;
	lp.gen = 0;
	lp.conf_file = conf_path;
	lp.args = argv + 1;
	lp.nargs = nargs;
	/* large commits beside the loop; without it they are made in it */
	if (CFG_COMMIT_CHILD && commit_proc_start() != 0)
		log_warn("commit process: %s; committing in the loop",
		         strerror(errno));
	i = loop_run(&lp);
	commit_proc_stop();
	listen_close(listeners, n_listen);
	pid_remove();
	return i;
fail:
	pid_remove();
	return 1;
}
