#include "conf_load.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "arena.h"
#include "auth.h"
#include "bare.h"
#include "fmt.h"
#include "log.h"
#include "maildir.h"
#include "text.h"
#if CFG_TLS
#include "tls.h"
#endif

#define ARENA_BYTES ((size_t)CFG_CONF_ARENA_KB * 1024u)

static _Alignas(16) unsigned char arena_mem[2][ARENA_BYTES];
static struct arena arenas[2];
static struct mn_config confs[2];
static char start_cwd[PATH_MAX];

struct report {
	const char *to_log;     /* NULL: stderr; else a prefix for the log */
	const char *kind;       /* NULL or "warning" */
	unsigned count;
};

static void report_fn(void *ctx, const char *file, unsigned line,
                      const char *msg)
{
	struct report *r = ctx;
	const char *k = r->kind ? r->kind : "";
	const char *sep = r->kind ? ": " : "";

	r->count++;
	if (!file)
		file = "mailnook";
	if (r->to_log) {
		if (line)
			log_msg(r->kind ? LOG_LVL_WARN : LOG_LVL_ERR,
			        "%s%s:%u: %s%s%s", r->to_log, file, line, k, sep,
			        msg);
		else
			log_msg(r->kind ? LOG_LVL_WARN : LOG_LVL_ERR,
			        "%s%s: %s%s%s", r->to_log, file, k, sep, msg);
	} else if (line) {
		char buf[LOG_LINE_MAX];
		size_t n = 0;
		int m = fmt_into(buf, sizeof buf, "%s:%u: %s%s%s\n", file, line,
		                 k, sep, msg);
		if (m > 0) {
			n = (size_t)m < sizeof buf ? (size_t)m : sizeof buf - 1;
			buf[n - 1] = '\n';
			if (write(STDERR_FILENO, buf, n) < 0) {
				/* nothing sensible to do */
			}
		}
	} else {
		/* a command-line argument: file is the argument itself */
		log_stderr("%s: %s%s%s", file, k, sep, msg);
	}
}

/* getcwd(3) with the system call alone: the C library's adds the
 * malloc'ing getcwd(NULL) (strdup) to a static build.  Linux returns the
 * length with the NUL, or a path that does not start with '/' when the
 * directory is not reachable from the root (the C library's ENOENT). */
static int cwd_read(char *buf, size_t size)
{
	long n = syscall(SYS_getcwd, buf, size);

	if (n < 0)
		return -1;
	if (n == 0 || buf[0] != '/') {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

int conf_load_init(void)
{
	unsigned i;

	for (i = 0; i < 2; i++)
		arena_init(&arenas[i], arena_mem[i], ARENA_BYTES);
	if (cwd_read(start_cwd, sizeof start_cwd) != 0) {
		log_stderr("cannot read the working directory: %s",
		           strerror(errno));
		return -1;
	}
	return 0;
}

struct mn_config *conf_gen(unsigned gen)
{
	return &confs[gen & 1];
}

const char *conf_abs_path(struct mn_config *c, const char *path)
{
	size_t cl, pl;
	char *p;

	if (!path || path[0] == '/' || path[0] == '\0')
		return path;
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	cl = strlen(start_cwd);
	pl = strlen(path);
	p = arena_alloc(c->arena, cl + 1 + pl + 1);
	if (!p)
		return NULL;
	memcpy(p, start_cwd, cl);
	if (cl == 0 || start_cwd[cl - 1] != '/')
		p[cl++] = '/';
	memcpy(p + cl, path, pl + 1);
	return p;
}

/* Reads the whole file into the arena. */
static const char *read_file(struct mn_config *c, const char *file,
                             const char *shown, size_t *len,
                             struct report *r)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd;

	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		goto fail_errno;
	if (bare_fstat(fd, &st) != 0)
		goto fail_errno_fd;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail_errno_fd;
	}
	if ((uint64_t)st.st_size >= ARENA_BYTES / 2) {
		close(fd);
		report_fn(r, shown, 0, "file too large for the configuration "
		          "arena (CONFIG_CONF_ARENA_KB)");
		return NULL;
	}
	buf = arena_alloc(c->arena, (size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		report_fn(r, shown, 0, "configuration arena full");
		return NULL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_errno_fd;
		if (n == 0)
			break;          /* shrank while reading: take what is there */
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;

fail_errno_fd:
	{
		int e = errno;
		close(fd);
		errno = e;
	}
fail_errno:
	report_fn(r, shown, 0, strerror(errno));
	return NULL;
}

static void default_hostname(struct mn_config *c)
{
	struct utsname u;

	if (c->hostname[0])
		return;
	/* uname(2), which gethostname(3) wraps: the store calls it too */
	if (uname(&u) != 0 || u.nodename[0] == '\0')
		text_copy(c->hostname, sizeof c->hostname, "localhost");
	else
		text_copy(c->hostname, sizeof c->hostname, u.nodename);
}

unsigned conf_load(unsigned gen, const char *file, char *const *args,
                   int nargs, const char *to_log)
{
	struct mn_config *c = &confs[gen & 1];
	struct arena *a = &arenas[gen & 1];
	struct report r = { to_log, NULL, 0 };
	const char *text, *absfile, *shown;
	size_t len = 0;
	unsigned i;
	int k;

	arena_reset(a);
	conf_init(c, a);
	/* messages name the file as it was given; reloads read the absolute
	 * path (the daemon's working directory is /) */
	shown = arena_strndup(a, file, strlen(file));
	absfile = conf_abs_path(c, shown);
	if (!shown || !absfile) {
		report_fn(&r, file, 0, "configuration arena full");
		return r.count;
	}
	c->conf_file = absfile;
	text = read_file(c, absfile, shown, &len, &r);
	if (!text)
		return r.count ? r.count : 1;
	conf_parse(c, shown, text, len, report_fn, &r);
	for (k = 0; k < nargs; k++)
		conf_parse_arg(c, args[k], report_fn, &r);
	/* finished even after errors: -t reports every error at once
	 * (an alias whose target is missing is only found here) */
	conf_finish(c, report_fn, &r);
	if (r.count)
		return r.count;

	default_hostname(c);
	for (i = 0; i < c->n_mailbox; i++) {
		const char *p = conf_abs_path(c, c->mailbox[i].maildir);
		if (!p)
			goto full;
		c->mailbox[i].maildir = p;
	}
	c->pid_file = conf_abs_path(c, c->pid_file);
	/* the parser refuses these options in a build without the feature */
	if (CFG_STATS)
		c->stats_file = conf_abs_path(c, c->stats_file);
	for (i = 0; CFG_TLS && i < c->n_tls_cert; i++) {  /* as many keys */
		c->tls_cert[i] = conf_abs_path(c, c->tls_cert[i]);
		c->tls_key[i] = conf_abs_path(c, c->tls_key[i]);
	}
	if (a->failed)
		goto full;
#if CFG_AUTH
	/* read with the rest, so a reload re-reads it */
	if (c->auth_users) {
		const char *path = conf_abs_path(c, c->auth_users);

		if (!path)
			goto full;
		if (!auth_can_check()) {
			report_fn(&r, c->auth_users_at.file, c->auth_users_at.line,
			          "auth-users: this build has no crypt(3) to "
			          "check passwords (auth-any works)");
			return r.count;
		}
		text = read_file(c, path, c->auth_users, &len, &r);
		if (!text)
			return r.count ? r.count : 1;
		conf_parse_users(c, c->auth_users, text, len, report_fn, &r);
		for (i = 0; i < c->n_auth_user; i++)
			if (!auth_hash_usable(c->auth_user[i].hash))
				report_fn(&r, c->auth_users, c->auth_user[i].line,
				          "crypt(3) cannot check this hash");
	}
#endif
	return r.count;
full:
	report_fn(&r, file, 0, "configuration arena full "
	          "(raise CONFIG_CONF_ARENA_KB)");
	return r.count;
}

unsigned conf_check_maildirs(const struct mn_config *c, const char *to_log)
{
	struct report r = { to_log, NULL, 0 }, w = { to_log, "warning", 0 };
	char msg[MAILDIR_PATH_MAX + 256];
	unsigned i;

	for (i = 0; i < c->n_mailbox; i++) {
		const struct conf_mailbox *m = &c->mailbox[i];
		const char *what = NULL;
		int e;

		if (maildir_prepare(m->maildir) != 0)
			what = "cannot create";
		else if (maildir_check(m->maildir) != 0)
			what = "not usable";
		if (!what)
			continue;
		e = errno;
		fmt_into(msg, sizeof msg, "mailbox %s: %s %s: %s", m->address,
		         what, m->maildir, strerror(e));
		/* a link inside a Maildir (its owner's doing): that mailbox
		 * answers 451, the others keep working */
		report_fn(e == ELOOP ? &w : &r,
		          m->file ? m->file : c->conf_file, m->line, msg);
	}
	return r.count;
}

void conf_report(const struct mn_config *c, const struct conf_origin *at,
                 const char *msg)
{
	struct report r = { NULL, NULL, 0 };

	report_fn(&r, at->file ? at->file : c->conf_file, at->line, msg);
}

void conf_print_warnings(const struct mn_config *c, const char *to_log)
{
	struct report r = { to_log, "warning", 0 };

	conf_warnings(c, report_fn, &r);
}

#if CFG_TLS
struct tls_report {
	const struct mn_config *c;
	struct report *r;
};

static void tls_report_fn(void *ctx, enum tls_key_option which,
                          unsigned pair, const char *msg)
{
	struct tls_report *t = ctx;
	const struct conf_origin *at = which == TLS_OPT_CERT ?
	                               &t->c->tls_cert_at[pair] :
	                               &t->c->tls_key_at[pair];

	report_fn(t->r, at->file ? at->file : t->c->conf_file, at->line, msg);
}

unsigned conf_check_tls(const struct mn_config *c, const char *to_log)
{
	struct report r = { to_log, NULL, 0 };
	struct tls_report t = { c, &r };

	if (!c->n_tls_cert || c->n_tls_key != c->n_tls_cert)
		return 0;
	tls_keys_load(c->tls_cert, c->tls_key, c->n_tls_cert, tls_report_fn,
	              &t);
	return r.count;
}
#else
unsigned conf_check_tls(const struct mn_config *c, const char *to_log)
{
	(void)c;
	(void)to_log;
	return 0;
}
#endif
