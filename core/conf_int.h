/*
 * Shared by the configuration parser's files (conf_table.c: the option
 * table and --help; conf_cmdline.c: the command line; conf.c: the line
 * reader and the entry points; conf_value.c: what each option's value
 * means; conf_addr.c: addresses and networks; conf_finish.c: the checks
 * across options and the lookup tables; conf_msg.c: messages and error
 * reports, which all of them use).  Not for use outside core/conf*.c.
 */
#ifndef MAILNOOK_CONF_INT_H
#define MAILNOOK_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define CONF_LINE_MAX 4096     /* one config line or argument */
#define CONF_MSG_MAX 400       /* one error message */
#define CONF_SHOW_MAX 80       /* a value quoted in a message */

#define NO_AUTH "this build has no AUTH (CONFIG_AUTH)"
#define NO_QUOTA "this build has no mailbox limits (CONFIG_QUOTA)"

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * The option table (conf.c) is the one description of every option: the
 * config file (conf_parse), the command line (conf_parse_arg, and
 * conf_cmdline for the command-line-only rows), the defaults (conf_init),
 * the range checks (cf_number_set, cf_size_set) and --help (conf_usage)
 * all read it; tests/integration/t44-optlist.t holds the README and the
 * man pages to it.  kind says how the value is read; id says what else is
 * checked.
 */
enum opt_kind {
	K_FLAG,         /* no value; sets a uint8_t */
	K_STRING,       /* a file name or user name, copied to the arena */
	K_HOST,         /* a host name, into mn_config.hostname */
	K_SIZE,         /* uint64_t, k/M/G suffixes, min..max */
	K_NUMBER,       /* unsigned, decimal, min..max */
	K_LISTEN,       /* ADDR:PORT */
	K_DOMAIN,
	K_MAILBOX,      /* ADDRESS,MAILDIR */
	K_ALIAS,        /* ADDRESS,TARGET[,TARGET...] */
	K_CIDR,
	K_DELIM,        /* recipient-delimiter characters */
	K_TLS_FILE,     /* tls-cert, tls-key: at most CONF_TLS_CERTS each */
	K_TLS_VERSION,  /* 1.0, 1.1, 1.2 */
	/* on-delivery (CONFIG_HOOK) */
	K_ARGV,         /* PROGRAM[,ARG...]: an argument vector (conf_hook.c) */
	/* ---- mailbox limits (CONFIG_QUOTA) ---- */
	K_LIMIT         /* quota=, rotate=, expire=: ADDRESS[,...]; needs
	                 * CONFIG_QUOTA (missing_feature() asks the kind, so
	                 * no flag bit is spent on it) */
};

enum opt_id {
	O_LISTEN, O_LISTEN_TLS, O_HOSTNAME, O_DOMAIN, O_MAILBOX, O_ALIAS,
	O_DELIM, O_TAG_FOLDERS, O_MAX_SIZE, O_MAX_RCPT, O_MAX_SESSIONS,
	O_MAX_PER_IP, O_TIMEOUT, O_TLS_CERT, O_TLS_KEY, O_ALLOW_FROM, O_USER,
	O_PID_FILE, O_STATS_FILE, O_MIN_FREE, O_STRICT_CRLF, O_BARE_LF,
	O_TLS_MIN, O_AUTH_USERS, O_AUTH_ANY, O_AUTH_PLAINTEXT,
	/* on-delivery (CONFIG_HOOK): the three rows together, see
	 * CF_IS_HOOK() */
	O_ON_DELIVERY, O_ON_DELIVERY_MAX, O_ON_DELIVERY_TIMEOUT,
	O_QUOTA, O_ROTATE, O_EXPIRE,            /* mailbox limits */
	O_CONF_FILE, O_FOREGROUND, O_TEST, O_VERSION, O_HELP
};

#define F_REPEAT 1      /* repeatable: entries accumulate; any other option
                         * given twice in a file is an error */
#define F_ARGV   2      /* command line only: conf_cmdline() takes it, into
                         * struct conf_cmdline at off */
#define F_EMPTY  4      /* an empty value is allowed */
#define F_BARE   8      /* may be given without a value, which does nothing */
#define F_TLS    16     /* needs CONFIG_TLS */
#define F_AUTH   32     /* needs CONFIG_AUTH */
#define F_STATS  64     /* needs CONFIG_STATS */
#define F_DEFMAX 128    /* the default is max, the compiled-in limit */
/* needs CONFIG_HOOK: the on-delivery rows, by id (flags has no bit left) */
#define CF_IS_HOOK(o) ((o)->id >= O_ON_DELIVERY && \
                       (o)->id <= O_ON_DELIVERY_TIMEOUT)

struct opt {
	/* "name\0VALUE\0help\0default\0below\0above", read with
	 * cf_text(); one string rather than six pointers keeps the table
	 * small:
	 * VALUE     what the value looks like; "" for a flag
	 * help      one line for --help, README and man page
	 * default   as it would be written; set by conf_init() (F_REPEAT and
	 *           F_ARGV rows: by conf_finish(), conf_cmdline()); "": none
	 * below     K_NUMBER, K_SIZE: why min, after "below MIN, "; "": "the
	 *           minimum"
	 * above     the same for max */
	const char *text;
	unsigned char id, kind, flags;
	char letter;            /* -c, -f, ...: the short form, or 0 */
	unsigned off;           /* field of struct mn_config (F_ARGV: of struct
	                         * conf_cmdline), where generic */
	uint32_t min, max;      /* K_NUMBER, K_SIZE: the range; max 0: none */
};

enum { T_NAME, T_ARG, T_HELP, T_DEF, T_BELOW, T_ABOVE };

/* conf_table.c: the table, one row per enum opt_id */
#define CF_N_OPTS (O_HELP + 1)
extern const struct opt cf_opts[];

/* Field k (T_NAME...) of o->text; "" when the row has none. */
const char *cf_text(const struct opt *o, unsigned k);
/* The row of that name, or NULL. */
const struct opt *cf_opt_find(const char *name);
/* The command-line-only row named name[0..n), or (n 0) whose short form
 * is *name; NULL when there is none. */
const struct opt *cf_argv_opt(const char *name, size_t n);

#define OFF(f) offsetof(struct mn_config, f)

/* ---- messages, formatted without stdio ---- */

/* 'value' in q, cut to CONF_SHOW_MAX bytes and "...".  Returns q. */
#define CONF_QUOTE_MAX (CONF_SHOW_MAX + 6)
const char *cf_quote(char q[CONF_QUOTE_MAX], const char *s);

/* ---- parse context ---- */

struct pctx {
	struct mn_config *c;
	conf_error_fn *err;
	void *ctx;
	const char *file;       /* the file name, or the argument */
	unsigned line;          /* 0 for an argument */
	unsigned errors;
	int argv;
	unsigned *first;        /* per option, the line that set it; NULL for
	                         * an argument */
};

/* A formatted message at (file, line); file NULL: "(command line)".
 * Cut to CONF_MSG_MAX; a control character in it (what the user wrote may
 * hold a tab, a file name anything) is written as '?'. */
void cf_reportf(struct pctx *p, const char *file, unsigned line,
                const char *f, ...) __attribute__((format(printf, 4, 5)));
void cf_report(struct pctx *p, const char *text);   /* at p's file, line */
void cf_bad(struct pctx *p, const struct opt *o, const char *val,
            const char *why);   /* "NAME: 'VALUE': WHY" */
void cf_arena_check(struct pctx *p, const char *file, unsigned line);
/* "NAME: needs a value (NAME=VALUE)" and the like: what follows NAME, then
 * the option's form */
void cf_report_form(struct pctx *p, const struct opt *o, const char *what);
char *cf_trim(char *s);
char *cf_next_field(char **cur);

/* conf_addr.c */
int cf_parse_ip4(const char *s, size_t n, uint8_t out[4]);
int cf_parse_ip6(const char *s, size_t n, uint8_t out[16]);
const char *cf_check_domain(const char *s);
const char *cf_check_address(char *s);   /* unquotes s in place */
int cf_prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits);
/* Clears the bits of a[0..len) after the first bits (what is left is the
 * network); 1 when any was set. */
int cf_host_bits_clear(uint8_t *a, unsigned len, unsigned bits);

/* conf_value.c: one per option kind */
void cf_listen_add(struct pctx *p, const struct opt *o, const char *val);
void cf_cidr_add(struct pctx *p, const struct opt *o, const char *val);
void cf_domain_add(struct pctx *p, const struct opt *o, char *val);
void cf_mailbox_add(struct pctx *p, const struct opt *o, char *val);
void cf_alias_add(struct pctx *p, const struct opt *o, char *val);
void cf_delim_set(struct pctx *p, const struct opt *o, const char *val);
void cf_number_set(struct pctx *p, const struct opt *o, const char *val);
void cf_size_set(struct pctx *p, const struct opt *o, const char *val);
void cf_string_set(struct pctx *p, const struct opt *o, const char *val);
void cf_tls_file_add(struct pctx *p, const struct opt *o, const char *val);
void cf_tls_version_set(struct pctx *p, const struct opt *o,
                        const char *val);
void cf_argv_replace(struct mn_config *c, const struct opt *o);
/* conf_hook.c: on-delivery=PROGRAM[,ARG...] */
void cf_argv_set(struct pctx *p, const struct opt *o, char *val);
/* conf_value.c, mailbox limits: quota=, rotate=, expire= (resolved
 * against the mailboxes by conf_finish()) */
void cf_limit_add(struct pctx *p, const struct opt *o, char *val);
void cf_limit_forget(struct mn_config *c, unsigned kind);

#endif
