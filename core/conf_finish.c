/* see conf.h: the checks across options, and the lookup tables */
#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "conf_hash.h"
#include "conf_int.h"
#include "fmt.h"
#include "text.h"

/* Does d, as the table holds it (a repeated domain counts at its first
 * line), fall back to mailbox 0 for postmaster?  Not when a mailbox, an
 * alias or d's catch-all names postmaster@d. */
static int postmaster_missing(const struct mn_config *c,
                              const struct conf_domain *d)
{
	char key[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 2];
	size_t n = strlen(d->name);

	if (conf_domain_find(c, d->name) != d)
		return 0;
	if (n > ADDR_DOMAIN_MAX)
		return 1;               /* no key can name it */
	memcpy(key, "postmaster@", 11);
	memcpy(key + 11, d->name, n + 1);
	return !conf_address_find(c, key) &&
	       !conf_address_find(c, key + 10);         /* "@d" */
}

/* text where o says */
static void report_o(struct pctx *p, const struct conf_origin *o,
                     const char *text)
{
	cf_reportf(p, o->file, o->line, "%s", text);
}

/* "WHAT KEY: domain D is not a local domain (add domain=D)" when there are
 * local domains and KEY's is not one of them; 1 when reported. */
static int not_local(struct pctx *p, const char *what, const char *key,
                     const char *file, unsigned line)
{
	const char *dom = strchr(key, '@') + 1;

	if (!p->c->domains || conf_domain_find(p->c, dom))
		return 0;
	cf_reportf(p, file, line, "%s%s: domain %s is not a local domain (add "
	           "domain=%s)", what, key, dom, dom);
	return 1;
}

/* "WHAT KEY: WHY FILE:LINE)" at (file, line), for KEY already taken by
 * first */
static void report_taken(struct pctx *p, const char *what, const char *key,
                         const char *why, const struct conf_address *first,
                         const char *file, unsigned line)
{
	const char *at = first->file ? first->file : "(command line)";

	if (first->line)
		cf_reportf(p, file, line, "%s%s: %s%s:%u)", what, key, why, at,
		           first->line);
	else
		cf_reportf(p, file, line, "%s%s: %s%s)", what, key, why, at);
}

static void finish_aliases(struct pctx *p)
{
	struct mn_config *c = p->c;
	struct conf_address *a, *e;
	unsigned i, j;

	for (a = c->alias_list; a; a = a->next) {
		unsigned bad_ones = 0;

		if (not_local(p, "alias ", a->key, a->file, a->line))
			continue;
		e = conf_address_find(c, a->key);
		if (e) {
			report_taken(p, "alias ", a->key, e->is_alias
			             ? "given twice (first at "
			             : "is already a mailbox, which an alias may not shadow (",
			             e, a->file, a->line);
			continue;
		}
		a->target = arena_alloc(c->arena, a->n_names * sizeof(*a->target));
		if (!a->target)
			return;
		a->n_target = 0;
		for (i = 0; i < a->n_names; i++) {
			e = conf_address_find(c, a->names[i]);
			if (!e || e->is_alias) {
				cf_reportf(p, a->file, a->line, "alias %s: target %s%s",
				           a->key, a->names[i], e
				           ? " is an alias; targets must be mailboxes"
				           : " is not a configured mailbox");
				bad_ones++;
				continue;
			}
			for (j = 0; j < a->n_target; j++)
				if (a->target[j] == e->one)
					break;
			if (j == a->n_target)
				a->target[a->n_target++] = e->one;
		}
		if (bad_ones)
			continue;
		if (strtab_insert(&c->addresses, c->arena, a->key, &a->link))
			return;
	}
}

/* ---- mailbox limits (CONFIG_QUOTA) ---- */

/* quota=, rotate= and expire= onto their mailboxes: each names a
 * configured mailbox (not an alias), at most once per option, and
 * rotate= only one with a quota. */
static void finish_limits(struct pctx *p)
{
	static const char names[][8] = { "quota ", "rotate ", "expire " };
	struct mn_config *c = p->c;
	struct conf_limit *l;
	struct conf_address *e;
	unsigned i;

	for (i = 0; i < c->n_mailbox; i++) {
		struct conf_mailbox *mb = &c->mailbox[i];

		mb->quota_bytes = 0;
		mb->quota_count = 0;
		mb->expire_days = 0;
		mb->quota = mb->rotate = 0;
	}
	for (l = c->limit_list; l; l = l->next) {
		struct conf_mailbox *mb;
		int twice;

		e = conf_address_find(c, l->address);
		if (!e || e->is_alias) {
			cf_reportf(p, l->file, l->line, "%s%s: %s", names[l->kind],
			           l->address, e
			           ? "is an alias; limits apply to mailboxes"
			           : "is not a configured mailbox");
			continue;
		}
		mb = &c->mailbox[e->one];
		twice = l->kind == CONF_QUOTA ? mb->quota :
		        l->kind == CONF_ROTATE ? mb->rotate : mb->expire_days != 0;
		if (twice) {
			cf_reportf(p, l->file, l->line, "%s%s: given twice for this "
			           "mailbox", names[l->kind], l->address);
			continue;
		}
		if (l->kind == CONF_QUOTA) {
			mb->quota = 1;
			mb->quota_bytes = l->bytes;
			mb->quota_count = l->count;
		} else if (l->kind == CONF_ROTATE) {
			mb->rotate = 1;
		} else {
			mb->expire_days = (uint16_t)l->count;
		}
	}
	for (l = c->limit_list; l; l = l->next) {
		e = conf_address_find(c, l->address);
		if (l->kind != CONF_ROTATE || !e || e->is_alias ||
		    c->mailbox[e->one].quota)
			continue;
		cf_reportf(p, l->file, l->line, "rotate %s: needs a quota for "
		           "this mailbox (quota=%s,SIZE)", l->address, l->address);
	}
}

unsigned conf_finish(struct mn_config *c, conf_error_fn *err, void *ctx)
{
	struct pctx p = { .c = c, .err = err, .ctx = ctx };
	unsigned i;
	struct conf_domain *d;
	struct conf_address *e;

	c->domains = NULL;
	c->addresses = NULL;
	c->n_domains = 0;
	c->first_domain = NULL;
	c->postmaster_implicit = 0;

	if (c->n_listen == 0) {
		memset(&c->listen[0], 0, sizeof(c->listen[0]));
		memcpy(c->listen[0].addr, "0.0.0.0", 8);
		c->listen[0].port = 25;
		c->n_listen = 1;
	}
	if (c->max_per_ip == 0) {
		/* half, rounded up: one client alone cannot hold every slot
		 * (except the only one of max-sessions=1) */
		c->max_per_ip = (c->max_sessions + 1) / 2;
	} else if (c->max_per_ip > c->max_sessions) {
		cf_reportf(&p, c->max_per_ip_at.file, c->max_per_ip_at.line,
		           "max-sessions-per-ip: %u is above max-sessions (%u)",
		           c->max_per_ip, c->max_sessions);
	}
	if (CFG_TLS) {
		int tls_listener = 0;
		for (i = 0; i < c->n_listen; i++)
			tls_listener |= c->listen[i].tls;
		/* pairs in order: the one without its partner is at fault */
		for (i = c->n_tls_key; i < c->n_tls_cert; i++)
			report_o(&p, &c->tls_cert_at[i], "tls-cert: given without tls-key");
		for (i = c->n_tls_cert; i < c->n_tls_key; i++)
			report_o(&p, &c->tls_key_at[i], "tls-key: given without tls-cert");
		if (tls_listener && !c->n_tls_cert)
			report_o(&p, &c->listen_tls_at,
			         "listen-tls: needs tls-cert and tls-key");
	}

	if (CFG_AUTH) {
		int auth_listener = 0;

		for (i = 0; i < c->n_listen; i++)
			auth_listener |= c->listen[i].auth;
		if (c->auth_any && c->auth_users)
			report_o(&p, &c->auth_users_at, "auth-users: not with auth-any");
		if (auth_listener && !c->auth_users)
			report_o(&p, &c->listen_auth_at, "listen: ,auth needs auth-users");
		if (c->auth_users && !c->n_tls_cert && !c->auth_plaintext)
			report_o(&p, &c->auth_users_at,
			         "auth-users: needs tls-cert or auth-plaintext");
	}

	/* domains, in the order given; a repeated one counts once */
	for (d = c->domain_list; d; d = d->next) {
		if (conf_domain_find(c, d->name))
			continue;
		if (strtab_insert(&c->domains, c->arena, d->name, &d->link))
			goto out;
		c->n_domains++;
		if (!c->first_domain)
			c->first_domain = d->name;
	}
	if (!c->domain_list)
		report_o(&p, &c->end_at,
		         "no domain defined (at least one domain=DOMAIN is required)");

	/* mailboxes */
	for (i = 0; i < c->n_mailbox; i++) {
		struct conf_mailbox *mb = &c->mailbox[i];

		not_local(&p, "mailbox ", mb->address, mb->file, mb->line);
		e = conf_address_find(c, mb->address);
		if (e) {
			report_taken(&p, "mailbox ", mb->address,
			             "given twice (first at ", e, mb->file, mb->line);
			continue;
		}
		e = arena_alloc(c->arena, sizeof(*e));
		if (!e)
			goto out;
		memset(e, 0, sizeof(*e));
		e->key = mb->address;
		e->file = mb->file;
		e->line = mb->line;
		e->one = (uint16_t)i;
		e->target = &e->one;
		e->n_target = 1;
		if (strtab_insert(&c->addresses, c->arena, e->key, &e->link))
			goto out;
	}
	if (c->n_mailbox == 0)
		report_o(&p, &c->end_at,
		         "no mailbox defined (at least one mailbox=ADDRESS,MAILDIR is required)");

	finish_aliases(&p);
	if (c->arena->failed)
		goto out;
	if (CFG_QUOTA)
		finish_limits(&p);

	/* postmaster at every local domain: mailbox 0 when nothing names it */
	if (c->n_mailbox)
		for (d = c->domain_list; d; d = d->next)
			c->postmaster_implicit |= postmaster_missing(c, d);
out:
	cf_arena_check(&p, c->end_at.file, c->end_at.line);
	return p.errors;
}

void conf_warnings(const struct mn_config *c, conf_error_fn *warn, void *ctx)
{
	const struct conf_domain *d;

	if (c->n_mailbox)
		for (d = c->domain_list; d; d = d->next) {
			char m[CONF_MSG_MAX];

			if (!postmaster_missing(c, d))
				continue;
			fmt_into(m, sizeof m, "postmaster@%s is not configured; it "
			         "goes to %s (the first mailbox)", d->name,
			         c->mailbox[0].address);
			warn(ctx, d->file ? d->file : "(command line)", d->line, m);
		}
	if (c->tag_folders && !c->rcpt_delim[0])
		warn(ctx, c->end_at.file ? c->end_at.file : "(command line)",
		     c->end_at.line,
		     "tag-folders has no effect while recipient-delimiter is empty");
}

int conf_is_local_domain(const struct mn_config *c, const char *d)
{
	char key[ADDR_DOMAIN_MAX + 1];
	size_t n = strlen(d);

	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return 0;
	memcpy(key, d, n + 1);
	text_lower(key);
	return conf_domain_find(c, key) != NULL;
}
