/* see conf_int.h: the option table, and what is made of it for the
 * command line and --help */
#include <stddef.h>
#include <string.h>

#include "conf_int.h"
#include "fmt.h"

#define CL(f) offsetof(struct conf_cmdline, f)

/* The short forms, the defaults and the ranges are here and nowhere else;
 * the help lines are the ones README.md and the man pages carry (checked by
 * tests/integration/t44-optlist.t).  T(): name, the value's form ("" for a
 * flag), help line, default, and why the minimum and the maximum (see
 * struct opt), as one string, the fields apart by NUL bytes. */
#define T(name, arg, help, def, lo, hi) \
	name "\0" arg "\0" help "\0" def "\0" lo "\0" hi
/* A feature's rows: in a build without it only the name is kept (so
 * "tls-cert=..." still gets missing_feature()'s "not compiled in" rather
 * than "unknown option"); the other texts, which nothing can show, compile
 * away, and the empty help keeps the row out of --help (conf_usage). */
#define T_OUT(name, arg, help, def, lo, hi) name "\0\0\0\0\0"
#if CFG_TLS
#define T_TLS T
#else
#define T_TLS T_OUT
#endif
#if CFG_AUTH
#define T_AUTH T
#else
#define T_AUTH T_OUT
#endif
#if CFG_STATS
#define T_STATS T
#else
#define T_STATS T_OUT
#endif
#if CFG_HOOK
#define T_HOOK T
#else
#define T_HOOK T_OUT
#endif
#if CFG_QUOTA
#define T_QUOTA T
#else
#define T_QUOTA T_OUT
#endif

const struct opt cf_opts[] = {
	{ T("listen", "ADDR:PORT[,auth]",
	    "plain SMTP listener, repeatable; IPv6 as [::1]:25; ,auth: AUTH required",
	    "0.0.0.0:25", "", ""),
	  O_LISTEN, K_LISTEN, F_REPEAT, 0, 0, 0, 0 },
	{ T_TLS("listen-tls", "ADDR:PORT[,auth]",
	    "implicit-TLS listener (RFC 8314), repeatable; ,auth as for listen",
	    "", "", ""),
	  O_LISTEN_TLS, K_LISTEN, F_REPEAT | F_TLS, 0, 0, 0, 0 },
	{ T("hostname", "NAME",
	    "name in the greeting and the Received header; by default the "
	    "system host name",
	    "", "", ""),
	  O_HOSTNAME, K_HOST, 0, 0, 0, 0, 0 },
	{ T("domain", "DOMAIN",
	    "a local domain, repeatable; at least one is required",
	    "", "", ""),
	  O_DOMAIN, K_DOMAIN, F_REPEAT, 0, 0, 0, 0 },
	{ T("mailbox", "ADDRESS,MAILDIR",
	    "deliver local@domain (or @domain, a catch-all) to the Maildir MAILDIR",
	    "", "", ""),
	  O_MAILBOX, K_MAILBOX, F_REPEAT, 0, 0, 0, 0 },
	{ T("alias", "ADDRESS,TARGET[,TARGET...]",
	    "deliver ADDRESS to each TARGET mailbox",
	    "", "", ""),
	  O_ALIAS, K_ALIAS, F_REPEAT, 0, 0, 0, 0 },
	{ T("recipient-delimiter", "CHARS",
	    "user+tag@domain delivers to user@domain; empty disables",
	    "+", "", ""),
	  O_DELIM, K_DELIM, F_EMPTY, 0, 0, 0, 0 },
	{ T("tag-folders", "",
	    "deliver user+tag into the Maildir++ folder .tag when it exists",
	    "", "", ""),
	  O_TAG_FOLDERS, K_FLAG, 0, 0, OFF(tag_folders), 0, 0 },
	{ T("max-message-size", "SIZE",
	    "largest message in bytes, k/M suffixes, at least 64k",
	    "10M", "the minimum RFC 5321 4.5.3.1.7 requires", ""),
	  O_MAX_SIZE, K_SIZE, 0, 0, OFF(max_size), 65536, 0 },
	{ T("max-recipients", "N",
	    "recipients per transaction, from 100 to the compiled-in limit",
	    "100", "the minimum RFC 5321 4.5.3.1.8 requires",
	    "the compiled-in limit (CONFIG_MAX_RECIPIENTS)"),
	  O_MAX_RCPT, K_NUMBER, 0, 0, OFF(max_rcpt), 100, CFG_MAX_RECIPIENTS },
	{ T("max-sessions", "N",
	    "concurrent sessions, at most the compiled-in limit (the default)",
	    "", "", "the compiled-in limit (CONFIG_MAX_SESSIONS)"),
	  O_MAX_SESSIONS, K_NUMBER, F_DEFMAX, 0, OFF(max_sessions), 1,
	  CFG_MAX_SESSIONS },
	{ T("max-sessions-per-ip", "N",
	    "concurrent sessions from one client address, IPv6 per /64; by "
	    "default half of max-sessions, rounded up",
	    "", "", ""),
	  O_MAX_PER_IP, K_NUMBER, 0, 0, OFF(max_per_ip), 1, 0 },
	{ T("timeout", "SECONDS",
	    "idle time allowed waiting for a command or data, up to 86400",
	    "300", "", ""),
	  O_TIMEOUT, K_NUMBER, 0, 0, OFF(timeout), 1, 86400 },
	{ T_TLS("tls-cert", "FILE",
	    "PEM certificate chain; twice for one RSA and one EC certificate",
	    "", "", ""),
	  O_TLS_CERT, K_TLS_FILE, F_REPEAT | F_TLS, 0, 0, 0, 0 },
	{ T_TLS("tls-key", "FILE",
	    "PEM private key (RSA or EC) of the tls-cert before it",
	    "", "", ""),
	  O_TLS_KEY, K_TLS_FILE, F_REPEAT | F_TLS, 0, 0, 0, 0 },
	{ T_TLS("tls-min-version", "1.0|1.1|1.2",
	    "oldest TLS version accepted",
	    "1.2", "", ""),
	  O_TLS_MIN, K_TLS_VERSION, F_TLS, 0, 0, 0, 0 },
	{ T("allow-from", "CIDR",
	    "only these client networks may connect, repeatable; by default everyone",
	    "", "", ""),
	  O_ALLOW_FROM, K_CIDR, F_REPEAT, 0, 0, 0, 0 },
	{ T("user", "NAME",
	    "when started as root: bind, then run as this user and its group",
	    "", "", ""),
	  O_USER, K_STRING, 0, 0, OFF(user), 0, 0 },
	{ T("pid-file", "FILE",
	    "write the process id; locked while mailnook runs",
	    "", "", ""),
	  O_PID_FILE, K_STRING, 0, 0, OFF(pid_file), 0, 0 },
	{ T_STATS("stats-file", "FILE",
	    "counters in Prometheus text format, rewritten every 10 s and on SIGUSR1",
	    "", "", ""),
	  O_STATS_FILE, K_STRING, F_STATS, 0, OFF(stats_file), 0, 0 },
	{ T("min-free-space", "SIZE",
	    "refuse new mail (452 4.3.1) below this much free space",
	    "1M", "", ""),
	  O_MIN_FREE, K_SIZE, 0, 0, OFF(min_free), 0, 0 },
	{ T("strict-crlf", "",
	    "refuse a message with a bare LF in DATA; by default a line end",
	    "", "", ""),
	  O_STRICT_CRLF, K_FLAG, 0, 0, OFF(strict_crlf), 0, 0 },
	{ T("allow-bare-lf", "CIDR",
	    "with strict-crlf, these networks may still send bare LF, repeatable",
	    "", "", ""),
	  O_BARE_LF, K_CIDR, F_REPEAT | F_BARE, 0, 0, 0, 0 },
	{ T_AUTH("auth-users", "FILE",
	    "AUTH credentials, NAME:HASH lines (crypt(3) $5$ or $6$)",
	    "", "", ""),
	  O_AUTH_USERS, K_STRING, F_AUTH, 0, OFF(auth_users), 0, 0 },
	{ T_AUTH("auth-any", "",
	    "advertise AUTH, accept any credentials",
	    "", "", ""),
	  O_AUTH_ANY, K_FLAG, F_AUTH, 0, OFF(auth_any), 0, 0 },
	{ T_AUTH("auth-plaintext", "",
	    "allow auth-users logins without TLS",
	    "", "", ""),
	  O_AUTH_PLAINTEXT, K_FLAG, F_AUTH, 0, OFF(auth_plaintext), 0, 0 },
	/* ---- on-delivery (CONFIG_HOOK; contract section 8) ---- */
	{ T_HOOK("on-delivery", "PROGRAM[,ARG...]",
	    "run PROGRAM (an absolute path, no shell) for each file stored, "
	    "after its 250",
	    "", "", ""),
	  O_ON_DELIVERY, K_ARGV, 0, 0, 0, 0, 0 },
	{ T_HOOK("on-delivery-max", "N",
	    "hook processes at once, at most the compiled-in limit",
	    "2", "", "the compiled-in limit (CONFIG_HOOK_MAX)"),
	  O_ON_DELIVERY_MAX, K_NUMBER, 0, 0, OFF(on_delivery_max), 1,
	  CFG_HOOK_MAX },
	{ T_HOOK("on-delivery-timeout", "SECONDS",
	    "a hook still running after this is killed, up to 86400",
	    "60", "", ""),
	  O_ON_DELIVERY_TIMEOUT, K_NUMBER, 0, 0, OFF(on_delivery_timeout), 1,
	  86400 },
	/* ---- end of on-delivery ---- */
	/* ---- mailbox limits (CONFIG_QUOTA; contract section 9) ---- */
	{ T_QUOTA("quota", "ADDRESS,SIZE[,MESSAGES]",
	    "limits of one mailbox, repeatable; at or over them RCPT gets "
	    "452 4.2.2",
	    "", "", ""),
	  O_QUOTA, K_LIMIT, F_REPEAT, 0, 0, 0, 0 },
	{ T_QUOTA("rotate", "ADDRESS",
	    "a full mailbox drops its oldest messages instead of refusing; "
	    "needs its quota",
	    "", "", ""),
	  O_ROTATE, K_LIMIT, F_REPEAT, 0, 0, 0, 0 },
	{ T_QUOTA("expire", "ADDRESS,DAYS",
	    "delete the mailbox's messages older than DAYS, at start-up and "
	    "hourly",
	    "", "", ""),
	  O_EXPIRE, K_LIMIT, F_REPEAT, 0, 0, 1, 36500 },
	/* ---- end of mailbox limits ---- */
	/* the command line's own: conf_cmdline() */
	{ T("conf-file", "FILE",
	    "configuration file",
	    CONF_FILE_DEFAULT, "", ""),
	  O_CONF_FILE, K_STRING, F_ARGV, 'c', CL(conf_file), 0, 0 },
	{ T("foreground", "",
	    "stay in the foreground, log to stderr",
	    "", "", ""),
	  O_FOREGROUND, K_FLAG, F_ARGV, 'f', CL(foreground), 0, 0 },
	{ T("test", "",
	    "check the configuration and exit",
	    "", "", ""),
	  O_TEST, K_FLAG, F_ARGV, 't', CL(test), 0, 0 },
	{ T("version", "",
	    "version and compiled-in features",
	    "", "", ""),
	  O_VERSION, K_FLAG, F_ARGV, 'V', CL(version), 0, 0 },
	{ T("help", "",
	    "this help",
	    "", "", ""),
	  O_HELP, K_FLAG, F_ARGV, 'h', CL(help), 0, 0 },
};

_Static_assert(sizeof(cf_opts) / sizeof(cf_opts[0]) == CF_N_OPTS,
               "one row per enum opt_id");

const char *cf_text(const struct opt *o, unsigned k)
{
	const char *t = o->text;

	while (k--)
		t += strlen(t) + 1;
	return t;
}
const struct opt *cf_opt_find(const char *name)
{
	const struct opt *o;

	for (o = cf_opts; o < cf_opts + CF_N_OPTS; o++)
		if (strcmp(o->text, name) == 0)
			return o;
	return NULL;
}

const struct opt *cf_argv_opt(const char *name, size_t n)
{
	const struct opt *o;

	for (o = cf_opts; o < cf_opts + CF_N_OPTS; o++)
		if ((o->flags & F_ARGV) &&
		    (n ? strncmp(o->text, name, n) == 0 && !o->text[n]
		       : o->letter == *name))
			return o;
	return NULL;
}

void conf_usage(int argv_only,
                void (*line)(void *ctx, const char *opt, const char *help),
                void *ctx)
{
	const struct opt *o;

	for (o = cf_opts; o < cf_opts + CF_N_OPTS; o++) {
		const char *arg = cf_text(o, T_ARG), *def = cf_text(o, T_DEF);
		const char *eq = *arg ? "=" : "";
		char opt[80], help[CONF_MSG_MAX];

		/* a row without help is a compiled-out feature's (T_OUT);
		 * a build with all of them has none */
		if (!(o->flags & F_ARGV) != !argv_only ||
		    (!(CFG_TLS && CFG_AUTH && CFG_STATS && CFG_HOOK && CFG_QUOTA) &&
		     !*cf_text(o, T_HELP)))
			continue;
		if (o->letter)      /* "-c FILE, --conf-file=FILE", "-f, ..." */
			fmt_into(opt, sizeof opt, "-%c%s%s, --%s%s%s", o->letter,
			         *arg ? " " : "", arg, o->text, eq, arg);
		else
			fmt_into(opt, sizeof opt, "--%s%s%s", o->text, eq, arg);
		fmt_into(help, sizeof help, *def ? "%s (default %s)" : "%s",
		         cf_text(o, T_HELP), def);
		line(ctx, opt, help);
	}
}
