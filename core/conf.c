/* see conf.h: the line reader and the entry points (the option table is
 * conf_table.c's, the command line conf_cmdline.c's) */
#include "conf.h"

#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "conf_hash.h"
#include "conf_int.h"
#include "fmt.h"
#include "text.h"

/* The value of o, checked as a line or argument has been: per kind. */
static void set_value(struct pctx *p, const struct opt *o, char *val)
{
	switch (o->kind) {
	case K_FLAG:
		*((uint8_t *)p->c + o->off) = 1;
		break;
	case K_STRING:
		cf_string_set(p, o, val);
		break;
	case K_HOST: {
		const char *why = cf_check_domain(val);
		if (!why && val[0] == '[')
			why = "a host name, not an address literal";
		if (why)
			cf_bad(p, o, val, why);
		else
			text_copy(p->c->hostname, sizeof(p->c->hostname), val);
		break;
	}
	case K_SIZE:
		cf_size_set(p, o, val);
		break;
	case K_NUMBER:
		cf_number_set(p, o, val);
		break;
	case K_LISTEN:
		cf_listen_add(p, o, val);
		break;
	case K_DOMAIN:
		cf_domain_add(p, o, val);
		break;
	case K_MAILBOX:
		cf_mailbox_add(p, o, val);
		break;
	case K_ALIAS:
		cf_alias_add(p, o, val);
		break;
	case K_CIDR:
		cf_cidr_add(p, o, val);
		break;
	case K_DELIM:
		cf_delim_set(p, o, val);
		break;
	case K_TLS_FILE:       /* one_opt() has said why not without TLS */
		if (CFG_TLS)
			cf_tls_file_add(p, o, val);
		break;
	case K_TLS_VERSION:
		if (CFG_TLS)
			cf_tls_version_set(p, o, val);
		break;
	case K_ARGV:            /* one_opt() has said why not without HOOK */
		if (CFG_HOOK)
			cf_argv_set(p, o, val);
		break;
	case K_LIMIT:          /* one_opt() has said why not without QUOTA */
		if (CFG_QUOTA)
			cf_limit_add(p, o, val);
		break;
	}
}

/* Why o cannot be used in this build, or NULL. */
static const char *missing_feature(const struct opt *o)
{
	if ((o->flags & F_TLS) && !CFG_TLS)
		return "TLS support is not compiled in (CONFIG_TLS)";
	if ((o->flags & F_STATS) && !CFG_STATS)
		return "stats support is not compiled in (CONFIG_STATS)";
	if ((o->flags & F_AUTH) && !CFG_AUTH)
		return NO_AUTH;
	if (CF_IS_HOOK(o) && !CFG_HOOK)
		return "this build has no on-delivery hook (CONFIG_HOOK)";
	if (o->kind == K_LIMIT && !CFG_QUOTA)
		return NO_QUOTA;
	return NULL;
}

/* One option: name and value (NULL when there was no '='), both trimmed. */
static void one_opt(struct pctx *p, const char *name, char *val)
{
	const struct opt *o = cf_opt_find(name);
	const char *why;
	char q[CONF_QUOTE_MAX];

	if (!o) {
		cf_reportf(p, p->file, p->line, "unknown option %s",
		           cf_quote(q, name));
		return;
	}
	if (o->flags & F_ARGV) {
		/* conf_cmdline() has taken it from the command line */
		if (!p->argv)
			cf_reportf(p, p->file, p->line, "%s: only valid on the "
			           "command line (--%s)", o->text, o->text);
		return;
	}
	if (p->first && !(o->flags & F_REPEAT)) {
		unsigned *at = &p->first[o - cf_opts];

		if (*at) {
			cf_reportf(p, p->file, p->line, "%s given twice (first "
			           "at line %u)", o->text, *at);
			return;
		}
		*at = p->line;
	}
	/* before the value's form, which such a build no longer knows */
	why = missing_feature(o);
	if (why) {
		if (val)
			cf_bad(p, o, val, why);
		else
			cf_reportf(p, p->file, p->line, "%s: %s", o->text, why);
		return;
	}
	if (o->kind == K_FLAG && val) {
		cf_report_form(p, o, ": takes no value");
		return;
	}
	if (o->kind != K_FLAG && !val) {
		if (!(o->flags & F_BARE))   /* the old allow-bare-lf flag: now */
			cf_report_form(p, o, ": needs a value");   /* the default */
		return;
	}
	if (val && !*val && !(o->flags & F_EMPTY)) {
		cf_report_form(p, o, ": empty value");
		return;
	}
	if (p->argv && (o->flags & F_REPEAT))
		cf_argv_replace(p->c, o);
	set_value(p, o, val);
	/* an argument reports one error at most: conf_parse_arg() checks
	 * the arena after a good one, conf_finish() in any case */
	if (!p->argv)
		cf_arena_check(p, p->file, p->line);
}

/* One line or argument, NUL-terminated in buf: "name[=value]". */
static void one_line(struct pctx *p, char *buf)
{
	char *eq = strchr(buf, '='), *name, *val = NULL;

	if (eq) {
		*eq = '\0';
		val = cf_trim(eq + 1);
	}
	name = cf_trim(buf);
	if (!*name) {
		cf_report(p, "missing option name before '='");
		return;
	}
	one_opt(p, name, val);
}

static int has_control(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 1;
	}
	return 0;
}

/* ---- the interface ---- */

void conf_init(struct mn_config *c, struct arena *a)
{
	struct pctx p = { .c = c, .file = "(default)" };
	const struct opt *o;

	memset(c, 0, sizeof(*c));
	arena_reset(a);
	c->arena = a;
	/* the table's defaults, read as a line would be (t_config checks
	 * that each is taken); listen and max-sessions-per-ip are
	 * conf_finish()'s, once the rest is known */
	for (o = cf_opts; o < cf_opts + CF_N_OPTS; o++) {
		if (o->flags & F_DEFMAX)
			*(unsigned *)(void *)((char *)c + o->off) = o->max;
		if (!*cf_text(o, T_DEF) || (o->flags & (F_REPEAT | F_ARGV)) ||
		    missing_feature(o))
			continue;
		/* no default is of a kind that writes into its value */
		set_value(&p, o, (char *)cf_text(o, T_DEF));
	}
}

#if CFG_AUTH
unsigned conf_parse_users(struct mn_config *c, const char *file,
                          const char *buf, size_t len, conf_error_fn *err,
                          void *ctx)
{
	struct pctx p = { .c = c, .err = err, .ctx = ctx, .file = file };
	size_t at = 0;
	unsigned i;

	c->n_auth_user = 0;
	c->auth_user = arena_alloc(c->arena, CFG_AUTH_USERS_MAX *
	                           sizeof(*c->auth_user));
	if (!c->auth_user) {
		cf_report(&p, "configuration arena full");
		return p.errors;
	}
	while (at < len) {
		const char *nl = memchr(buf + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (buf + at)) : len - at, k;
		const char *s = buf + at, *colon;
		struct conf_auth_user *u;

		at += n + (nl ? 1 : 0);
		p.line++;
		while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		if (!n || *s == '#')
			continue;
		colon = memchr(s, ':', n);
		k = colon ? (size_t)(colon - s) : 0;
		if (has_control(s, n) || !colon || !k || k > CONF_AUTH_NAME_MAX ||
		    memchr(s, ' ', k) || memchr(s, '\t', k)) {
			cf_report(&p, "not a NAME:HASH line");
			continue;
		}
		if (n - k - 1 < 4 || colon[1] != '$' ||
		    (colon[2] != '5' && colon[2] != '6') || colon[3] != '$') {
			cf_report(&p, "the hash must be a crypt(3) $5$ or $6$ string "
			           "(openssl passwd -6)");
			continue;
		}
		for (i = 0; i < c->n_auth_user; i++)
			if (strlen(c->auth_user[i].name) == k &&
			    memcmp(c->auth_user[i].name, s, k) == 0)
				break;
		if (i < c->n_auth_user) {
			cf_report(&p, "this name is given twice");
			continue;
		}
		if (c->n_auth_user >= CFG_AUTH_USERS_MAX) {
			cf_report(&p, "more than " STR(CFG_AUTH_USERS_MAX) " users "
			           "(the compiled-in limit, CONFIG_AUTH_USERS_MAX)");
			break;
		}
		u = &c->auth_user[c->n_auth_user];
		u->name = arena_strndup(c->arena, s, k);
		u->hash = arena_strndup(c->arena, colon + 1, n - k - 1);
		u->line = p.line;
		if (!u->name || !u->hash) {
			cf_report(&p, "configuration arena full");
			break;
		}
		c->n_auth_user++;
	}
	return p.errors;
}
#endif

unsigned conf_parse(struct mn_config *c, const char *file, const char *buf,
                    size_t len, conf_error_fn *err, void *ctx)
{
	unsigned first[CF_N_OPTS] = { 0 };
	struct pctx p = { .c = c, .err = err, .ctx = ctx, .file = file,
	                  .first = first };
	char line[CONF_LINE_MAX + 1];
	size_t at = 0;

	if (file) {
		const char *copy = arena_strndup(c->arena, file, strlen(file));
		if (copy)
			p.file = copy;
	}
	cf_arena_check(&p, p.file, 0);
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		at = 3;                 /* a UTF-8 byte order mark */
	while (at < len) {
		const char *nl = memchr(buf + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (buf + at)) : len - at;
		const char *s = buf + at;
		char *t;

		at += n + (nl ? 1 : 0);
		p.line++;
		if (n && s[n - 1] == '\r')
			n--;            /* CRLF line ends */
		if (has_control(s, n)) {
			cf_report(&p, "control character or NUL byte in the line");
			continue;
		}
		if (n > CONF_LINE_MAX) {
			cf_report(&p, "line longer than " STR(CONF_LINE_MAX) " bytes");
			continue;
		}
		memcpy(line, s, n);
		line[n] = '\0';
		t = cf_trim(line);
		if (!*t || *t == '#')
			continue;
		one_line(&p, t);
	}
	c->end_at.file = p.file;
	c->end_at.line = p.line;
	return p.errors;
}

unsigned conf_parse_arg(struct mn_config *c, const char *arg,
                        conf_error_fn *err, void *ctx)
{
	struct pctx p = { .c = c, .err = err, .ctx = ctx, .file = arg, .argv = 1 };
	char line[CONF_LINE_MAX + 1];
	size_t n = strlen(arg);

	if (n < 3 || arg[0] != '-' || arg[1] != '-') {
		cf_report(&p, "not an option (--option=value, or --flag)");
		return p.errors;
	}
	if (has_control(arg, n)) {
		cf_report(&p, "control character in the argument");
		return p.errors;
	}
	if (n - 2 > CONF_LINE_MAX) {
		cf_report(&p, "argument longer than " STR(CONF_LINE_MAX) " bytes");
		return p.errors;
	}
	{
		/* keep the argument for messages about it in conf_finish() */
		const char *copy = arena_strndup(c->arena, arg, n);
		if (copy)
			p.file = copy;
	}
	memcpy(line, arg + 2, n - 1);
	one_line(&p, line);
	if (p.errors == 0)
		cf_arena_check(&p, p.file, 0);
	return p.errors;
}
