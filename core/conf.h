/*
 * The configuration model and its parser.  One option table (conf_table.c) serves
 * the config file ("option=value" lines), the command line
 * ("--option=value", and -c, -f, -t, -V, -h with their long forms, which
 * conf_cmdline() takes and which are errors in a file), the defaults and
 * --help, so none of them can drift from another.  Everything lives in the
 * arena given to conf_init(); the lookup tables too (see strtab.h).
 *
 * The parser does no I/O: platform/ reads the file and hands over its bytes,
 * and errors come back through a callback as (file, line, message) -- line 0
 * for a command-line argument, where file is the argument itself.
 * Checks that need the OS (Maildir writable, TLS files load, user exists)
 * are platform/'s, on the finished model.
 */
#ifndef MAILNOOK_CONFIG_MODEL_H
#define MAILNOOK_CONFIG_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"   /* the generated CFG_ values */
#include "arena.h"

#define CONF_HOST_MAX 255
#define CONF_TAG_MAX  64     /* a +tag folder name */
#define CONF_MAX_ALLOW 32    /* allow-from entries, and allow-bare-lf ones */
#define CONF_MAX_DOMAINS 64
#define CONF_FILE_DEFAULT "/etc/mailnook.conf"
#define CONF_TLS_CERTS 2     /* tls-cert/tls-key pairs: one RSA, one EC */
#define CONF_HOOK_ARGS_MAX 16     /* on-delivery: PROGRAM and its ARGs, */
#define CONF_HOOK_ARGV_BYTES 1024 /* and their text (platform/hook.h's) */

struct conf_listen {
	char addr[64];          /* numeric address, no brackets; "0.0.0.0", "::1" */
	uint8_t ip[16];         /* addr in network order, the first 4 for IPv4
	                         * (all zero: 0.0.0.0), so platform/ binds
	                         * without parsing it again */
	uint16_t port;
	uint8_t tls;            /* listen-tls */
	uint8_t v6;
	uint8_t auth;           /* ,auth: a checked AUTH before MAIL */
};

struct conf_auth_user {     /* one auth-users line */
	const char *name;
	const char *hash;       /* a crypt(3) string, $5$ or $6$ */
	unsigned line;          /* in the auth-users file, for messages */
};

#define CONF_AUTH_NAME_MAX 255  /* as the engine's SMTP_AUTH_NAME_MAX */

struct conf_cidr {
	uint8_t v6;
	uint8_t bits;
	uint8_t addr[16];       /* network order; v4 uses the first 4 */
};

struct conf_mailbox {
	const char *address;    /* as configured, lower-cased: "user@dom" or "@dom" */
	const char *maildir;    /* directory, as configured */
	const char *file;       /* where it was defined, for -t messages */
	unsigned line;
	/* mailbox limits (quota=, rotate=, expire=; contract section 9),
	 * set by conf_finish(); all 0: none */
	uint64_t quota_bytes;   /* 0: no byte limit */
	uint32_t quota_count;   /* 0: no message limit */
	uint16_t expire_days;   /* 0: no expiry */
	uint8_t quota;          /* a quota= names this mailbox */
	uint8_t rotate;
};

/* One quota=, rotate= or expire= line, until conf_finish() applies it to
 * its mailbox. */
enum conf_limit_kind { CONF_QUOTA, CONF_ROTATE, CONF_EXPIRE };

struct conf_limit {
	struct conf_limit *next;
	const char *address;    /* lower-cased */
	uint64_t bytes;         /* quota: SIZE */
	uint32_t count;         /* quota: MESSAGES; expire: DAYS */
	uint8_t kind;           /* enum conf_limit_kind */
	const char *file;
	unsigned line;
};

/* table entries (conf_hash.h), opaque outside core/conf*.c / policy.c */
struct conf_domain;
struct conf_address;
struct strtab_link;

struct conf_origin {            /* where an option was last set */
	const char *file;
	unsigned line;
};

struct mn_config {
	struct arena *arena;

	struct conf_listen listen[CFG_MAX_LISTENERS];
	unsigned n_listen;

	char hostname[CONF_HOST_MAX + 1];   /* "" until set; platform fills the default */

	struct strtab_link *domains;        /* of conf_domain; key: lower-case domain */
	unsigned n_domains;
	const char *first_domain;

	struct conf_mailbox mailbox[CFG_MAX_MAILBOXES];
	unsigned n_mailbox;

	struct strtab_link *addresses;      /* of conf_address; key: lower-case "local@domain" */

	struct conf_limit *limit_list, *limit_last;   /* in order given */

	char rcpt_delim[16];
	uint8_t tag_folders;
	uint8_t strict_crlf;
	uint8_t postmaster_implicit;         /* some domain's postmaster falls back to mailbox 0 */

	uint64_t max_size;
	unsigned max_rcpt;
	unsigned max_sessions;
	unsigned max_per_ip;
	unsigned timeout;
	uint64_t min_free;

	/* pairs in the order given: tls_key[i] belongs to tls_cert[i] */
	const char *tls_cert[CONF_TLS_CERTS], *tls_key[CONF_TLS_CERTS];
	struct conf_origin tls_cert_at[CONF_TLS_CERTS], tls_key_at[CONF_TLS_CERTS];
	unsigned n_tls_cert, n_tls_key;
	unsigned tls_min_version;           /* 0x0301 (TLS 1.0) .. 0x0303 */

	struct conf_cidr allow_from[CONF_MAX_ALLOW];
	unsigned n_allow;
	struct conf_cidr bare_lf[CONF_MAX_ALLOW];   /* allow-bare-lf */
	unsigned n_bare_lf;

	const char *auth_users;             /* auth-users=FILE (CONFIG_AUTH) */
	struct conf_auth_user *auth_user;   /* its lines, in the arena */
	unsigned n_auth_user;
	uint8_t auth_any;
	uint8_t auth_plaintext;
	struct conf_origin auth_users_at, listen_auth_at;

	/* on-delivery (CONFIG_HOOK): PROGRAM, ARG..., NULL in the arena;
	 * NULL: no hook */
	const char **on_delivery;
	struct conf_origin on_delivery_at;
	unsigned on_delivery_max;
	unsigned on_delivery_timeout;

	const char *user;
	struct conf_origin user_at;
	const char *pid_file;
	const char *stats_file;
	const char *conf_file;              /* set by platform: the file read */

	/* parser state, private to conf.c */
	struct conf_domain *domain_list, *domain_last;   /* in order given */
	struct conf_address *alias_list, *alias_last;
	uint64_t argv_seen;         /* repeatable options already given as --option */
	struct conf_origin listen_tls_at, max_per_ip_at;
	struct conf_origin end_at;  /* the last file parsed and its last line */
	uint8_t arena_reported;
};

typedef void conf_error_fn(void *ctx, const char *file, unsigned line,
                           const char *msg);

/* What the command line asks for besides configuration options. */
struct conf_cmdline {
	const char *conf_file;  /* -c FILE, --conf-file=FILE; or the default */
	uint8_t foreground;     /* -f, --foreground */
	uint8_t test;           /* -t, --test */
	uint8_t version;        /* -V, --version */
	uint8_t help;           /* -h, --help */
	int nargs;              /* the other arguments, argv[1..nargs] */
};

/* Reads argv[1..argc) through the option table: the command-line-only
 * options (-c FILE or -cFILE, bundled flags as -ft, --conf-file=FILE or
 * --conf-file FILE, --foreground, --test, --version, --help) go into cl;
 * every other "--option[=value]" moves, in order, to argv[1..cl->nargs],
 * for conf_parse_arg() after the file.  Stops at -V or -h (also
 * --version, --help).  "--" ends the options, and nothing may follow it.
 * Returns 0, or 1 after one error (file: the argument, line 0). */
unsigned conf_cmdline(int argc, char **argv, struct conf_cmdline *cl,
                      conf_error_fn *err, void *ctx);

/* Empties c, points it at the arena (reset first) and sets the option
 * table's defaults. */
void conf_init(struct mn_config *c, struct arena *a);

/* Parses a whole config file's bytes; reports every error, among them an
 * option that is not repeatable given a second time ("NAME given twice
 * (first at line N)", at the second line).  Returns the number of errors. */
unsigned conf_parse(struct mn_config *c, const char *file, const char *buf,
                    size_t len, conf_error_fn *err, void *ctx);

/* One command-line argument of the form "--option[=value]" (the leading
 * dashes included).  Returns 0 or 1 error; an error names the argument as
 * the file, line 0.  Command-line values win over the file: platform parses
 * the file first, then the arguments.  A single-value option overwrites; the
 * first --OPTION of a repeatable one (listen, listen-tls, domain, mailbox,
 * alias, allow-from, allow-bare-lf, tls-cert, tls-key) replaces the file's
 * list of that option, and later ones append.  The command-line-only
 * options are conf_cmdline()'s: here they change nothing. */
unsigned conf_parse_arg(struct mn_config *c, const char *arg,
                        conf_error_fn *err, void *ctx);

/* After all input: fills defaults (listen 0.0.0.0:25 when no listen nor
 * listen-tls was given, per-ip = max-sessions/2 rounded up), builds the
 * domain and address tables, checks contradictions (no domain; no mailbox;
 * alias target not a mailbox; an alias shadowing a mailbox; a mailbox or
 * alias outside the local domains; a mailbox twice; per-ip above
 * max-sessions; a tls-cert without its tls-key; auth-any with auth-users; a
 * ,auth listener without auth-users; auth-users with neither TLS nor
 * auth-plaintext, ...) and sets postmaster_implicit.
 * Each error names the file and line of the option at fault; a missing
 * option (no domain, no mailbox) names the last file parsed and its last
 * line.  Range checks against the compiled-in limits, and TLS/stats
 * options without CONFIG_TLS/CONFIG_STATS, are reported by the parsers at
 * their line.  Returns the number of errors. */
unsigned conf_finish(struct mn_config *c, conf_error_fn *err, void *ctx);

/* The auth-users file's bytes (platform/ reads it): "NAME:HASH" lines,
 * '#' comments and blank lines, into c->auth_user (the arena).  Errors at
 * (file, line): no ':', an empty or over-long name, a name with spaces or
 * control characters, a name given twice, a HASH that is not "$5$..." or
 * "$6$...", more than CONFIG_AUTH_USERS_MAX users.  Whether crypt(3) can
 * check each HASH is platform/'s question.  Returns the number of errors. */
unsigned conf_parse_users(struct mn_config *c, const char *file,
                          const char *buf, size_t len, conf_error_fn *err,
                          void *ctx);

/* Warnings -t prints, after a successful conf_finish(): "postmaster@D is
 * not configured; it goes to ADDRESS (the first mailbox)" at each domain=
 * line that needs it; tag-folders with an empty recipient-delimiter. */
void conf_warnings(const struct mn_config *c, conf_error_fn *warn, void *ctx);

/* Is d (any case) a local domain? */
int conf_is_local_domain(const struct mn_config *c, const char *d);

/* "10M" -> 10485760; k, M (and G) suffixes, either case, powers of 1024.
 * -1 on error (empty, junk, overflow). */
int conf_parse_size(const char *s, uint64_t *out);

/* Matches an address (4 or 16 octets) against the allow-from list; 1 when
 * allowed (an empty list allows everyone).  An IPv4-mapped IPv6 client
 * (::ffff:a.b.c.d) matches IPv4 rules, and an IPv4 client matches IPv6
 * rules as ::ffff:a.b.c.d. */
int conf_allowed(const struct mn_config *c, int v6, const uint8_t *addr);

/* Is the address in list[0..n), matched as conf_allowed() matches?  0 for
 * an empty list.  With strict-crlf, a client in the allow-bare-lf list
 * may still send bare LF. */
int conf_cidr_match(const struct conf_cidr *list, unsigned n, int v6,
                    const uint8_t *addr);

/* The options for --help, in table order: the command-line-only ones
 * (argv_only 1) or the configuration options (0).  opt is "--name=VALUE"
 * ("--name" for a flag; "-c FILE, --conf-file=FILE" with a short form),
 * help the row's line with " (default DEFAULT)" when it has one. */
void conf_usage(int argv_only,
                void (*line)(void *ctx, const char *opt, const char *help),
                void *ctx);

#endif
