/* see conf_int.h: what each option's value means */
#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "conf_hash.h"
#include "conf_int.h"
#include "fmt.h"
#include "text.h"

#define NO_IPV6 "IPv6 support is not compiled in (CONFIG_IPV6)"

/* ---- the options ---- */

void cf_listen_add(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	const char *addr, *colon;
	size_t alen;
	uint8_t ip[16];
	uint64_t port;
	int v6, tls = o->id == O_LISTEN_TLS;
	unsigned i;
	struct conf_listen *l;
	char head[80];
	const char *comma = strchr(val, ',');

	if (tls && !CFG_TLS) {
		cf_bad(p, o, val, "TLS support is not compiled in (CONFIG_TLS)");
		return;
	}
	if (comma) {
		if (strcmp(comma + 1, "auth") != 0) {
			cf_bad(p, o, val, "the only flag after ADDR:PORT is ,auth");
			return;
		}
		if (!CFG_AUTH) {
			cf_bad(p, o, val, NO_AUTH);
			return;
		}
		if ((size_t)(comma - val) >= sizeof head) {
			cf_bad(p, o, val, "address too long");
			return;
		}
		memcpy(head, val, (size_t)(comma - val));
		head[comma - val] = '\0';
		val = head;
	}
	if (val[0] == '[') {
		const char *close = strchr(val, ']');
		if (!CFG_IPV6) {        /* the same answer, without the checks */
			cf_bad(p, o, val, NO_IPV6);
			return;
		}
		if (!close) {
			cf_bad(p, o, val, "missing ']' (IPv6 as [::1]:25)");
			return;
		}
		addr = val + 1;
		alen = (size_t)(close - addr);
		colon = close + 1;
		if (*colon != ':') {
			cf_bad(p, o, val, "missing :PORT after ']' (as [::1]:25)");
			return;
		}
		if (cf_parse_ip6(addr, alen, ip) != 0) {
			cf_bad(p, o, val, "not a numeric IPv6 address");
			return;
		}
		v6 = 1;
	} else {
		colon = strrchr(val, ':');
		if (!colon) {
			cf_bad(p, o, val, "missing :PORT (ADDR:PORT, as 0.0.0.0:25)");
			return;
		}
		if (strchr(val, ':') != colon) {
			cf_bad(p, o, val, "an IPv6 address goes in brackets, as [::1]:25");
			return;
		}
		addr = val;
		alen = (size_t)(colon - val);
		if (cf_parse_ip4(addr, alen, ip) != 0) {
			cf_bad(p, o, val, "not a numeric IPv4 address (a.b.c.d, or [IPv6]; no host names)");
			return;
		}
		v6 = 0;
	}
	if (text_parse_u64(colon + 1, strlen(colon + 1), &port) != 0 ||
	    port < 1 || port > 65535) {
		cf_bad(p, o, val, "the port must be a number from 1 to 65535");
		return;
	}
	if (v6 && !CFG_IPV6) {
		cf_bad(p, o, val, NO_IPV6);
		return;
	}
	for (i = 0; i < c->n_listen; i++) {
		l = &c->listen[i];
		if (l->port != port || l->v6 != v6)
			continue;
		if (memcmp(ip, l->ip, v6 ? 16 : 4) == 0) {
			cf_bad(p, o, val, "this address and port are already a listener");
			return;
		}
	}
	if (c->n_listen >= CFG_MAX_LISTENERS) {
		cf_bad(p, o, val, "more than " STR(CFG_MAX_LISTENERS) " listeners "
		       "(the compiled-in limit, CONFIG_MAX_LISTENERS)");
		return;
	}
	if (alen >= sizeof(l->addr)) {
		cf_bad(p, o, val, "address too long");
		return;
	}
	l = &c->listen[c->n_listen++];
	memset(l, 0, sizeof(*l));
	memcpy(l->addr, addr, alen);
	l->addr[alen] = '\0';
	memcpy(l->ip, ip, v6 ? 16 : 4);
	l->port = (uint16_t)port;
	l->tls = (uint8_t)tls;
	l->v6 = (uint8_t)v6;
	l->auth = comma != NULL;
	if (CFG_AUTH && comma && !c->listen_auth_at.file) {
		c->listen_auth_at.file = p->file;
		c->listen_auth_at.line = p->line;
	}
	if (CFG_TLS && tls && !c->listen_tls_at.file) {
		c->listen_tls_at.file = p->file;
		c->listen_tls_at.line = p->line;
	}
}

/* An allow-from or allow-bare-lf network. */
void cf_cidr_add(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	int from = o->id == O_ALLOW_FROM;
	unsigned *n = from ? &c->n_allow : &c->n_bare_lf;
	const char *slash = strchr(val, '/'), *why;
	size_t alen = slash ? (size_t)(slash - val) : strlen(val);
	struct conf_cidr r;
	uint64_t bits;
	unsigned max = 32;
	char m[CONF_MSG_MAX];

	memset(&r, 0, sizeof(r));
	if (memchr(val, ':', alen)) {
		why = "not an IPv6 network (as fe80::/10)";
		if (cf_parse_ip6(val, alen, r.addr) != 0)
			goto bad;
		r.v6 = 1;
		max = 128;
	} else {
		why = "not an IPv4 network (as 192.168.1.0/24)";
		if (cf_parse_ip4(val, alen, r.addr) != 0)
			goto bad;
	}
	bits = max;
	why = m;
	if (slash && (text_parse_u64(slash + 1, strlen(slash + 1), &bits) != 0 ||
	              bits > max)) {
		fmt_into(m, sizeof m, "the prefix length must be 0 to %u", max);
		goto bad;
	}
	r.bits = (uint8_t)bits;
	if (cf_host_bits_clear(r.addr, r.v6 ? 16 : 4, r.bits)) {
		/* one text for both families: IPv4 also shows the network */
		size_t k = fmt_into(m, sizeof m, "host bits set after the prefix "
		                    "length (give the network address");

		if (!r.v6)
			k += fmt_into(m + k, sizeof m - k, ": %u.%u.%u.%u/%u",
			              r.addr[0], r.addr[1], r.addr[2], r.addr[3],
			              r.bits);
		fmt_into(m + k, sizeof m - k, ")");
		goto bad;
	}
	why = "more than " STR(CONF_MAX_ALLOW) " entries";
	if (*n >= CONF_MAX_ALLOW)
		goto bad;
	(from ? c->allow_from : c->bare_lf)[(*n)++] = r;
	return;
bad:
	cf_bad(p, o, val, why);
}

void cf_domain_add(struct pctx *p, const struct opt *o, char *val)
{
	struct mn_config *c = p->c;
	const char *why = cf_check_domain(val);
	struct conf_domain *d;
	unsigned n = 0;

	if (why) {
		cf_bad(p, o, val, why);
		return;
	}
	for (d = c->domain_list; d; d = d->next)
		n++;
	if (n >= CONF_MAX_DOMAINS) {
		cf_bad(p, o, val, "more than " STR(CONF_MAX_DOMAINS) " domains");
		return;
	}
	text_lower(val);
	d = arena_alloc(c->arena, sizeof(*d));
	if (!d)
		return;
	memset(d, 0, sizeof(*d));
	d->name = arena_strndup(c->arena, val, strlen(val));
	if (!d->name)
		return;
	d->file = p->file;
	d->line = p->line;
	if (c->domain_last)
		c->domain_last->next = d;
	else
		c->domain_list = d;
	c->domain_last = d;
	c->n_domains = n + 1;
}

void cf_mailbox_add(struct pctx *p, const struct opt *o, char *val)
{
	struct mn_config *c = p->c;
	char *cur = val, *addr, *dir;
	const char *why;
	struct conf_mailbox *mb;
	char shown[CONF_LINE_MAX];

	text_copy(shown, sizeof(shown), val);
	addr = cf_next_field(&cur);
	dir = cf_next_field(&cur);
	if (!dir) {
		cf_bad(p, o, shown, "missing MAILDIR (mailbox=ADDRESS,MAILDIR)");
		return;
	}
	if (cur) {
		cf_bad(p, o, shown, "too many fields (mailbox=ADDRESS,MAILDIR)");
		return;
	}
	why = cf_check_address(addr);
	if (why) {
		cf_bad(p, o, shown, why);
		return;
	}
	if (!*dir) {
		cf_bad(p, o, shown, "empty MAILDIR");
		return;
	}
	if (c->n_mailbox >= CFG_MAX_MAILBOXES) {
		cf_bad(p, o, shown, "more than " STR(CFG_MAX_MAILBOXES)
		    " mailboxes (the compiled-in limit, CONFIG_MAX_MAILBOXES)");
		return;
	}
	text_lower(addr);
	mb = &c->mailbox[c->n_mailbox];
	mb->address = arena_strndup(c->arena, addr, strlen(addr));
	mb->maildir = arena_strndup(c->arena, dir, strlen(dir));
	mb->file = p->file;
	mb->line = p->line;
	if (mb->address && mb->maildir)
		c->n_mailbox++;
}

void cf_alias_add(struct pctx *p, const struct opt *o, char *val)
{
	struct mn_config *c = p->c;
	char *cur = val, *addr, *t;
	const char *why;
	struct conf_address *e;
	unsigned n = 1;
	char shown[CONF_LINE_MAX];

	text_copy(shown, sizeof(shown), val);
	addr = cf_next_field(&cur);
	why = cf_check_address(addr);
	if (why) {
		cf_bad(p, o, shown, why);
		return;
	}
	if (!cur) {
		cf_bad(p, o, shown, "missing TARGET (alias=ADDRESS,TARGET[,TARGET...])");
		return;
	}
	for (t = cur; (t = strchr(t, ',')) != NULL; t++)
		n++;
	e = arena_alloc(c->arena, sizeof(*e));
	if (!e)
		return;
	memset(e, 0, sizeof(*e));
	e->names = arena_alloc(c->arena, n * sizeof(*e->names));
	if (!e->names)
		return;
	while ((t = cf_next_field(&cur)) != NULL) {
		why = cf_check_address(t);
		if (why) {
			char q[CONF_QUOTE_MAX], w[CONF_MSG_MAX];

			fmt_into(w, sizeof w, "target %s: %s", cf_quote(q, t), why);
			cf_bad(p, o, shown, w);
			return;
		}
		text_lower(t);
		e->names[e->n_names] = arena_strndup(c->arena, t, strlen(t));
		if (!e->names[e->n_names++])
			return;
	}
	text_lower(addr);
	e->key = arena_strndup(c->arena, addr, strlen(addr));
	if (!e->key)
		return;
	e->is_alias = 1;
	e->file = p->file;
	e->line = p->line;
	if (c->alias_last)
		c->alias_last->next = e;
	else
		c->alias_list = e;
	c->alias_last = e;
}

void cf_delim_set(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	size_t n = strlen(val), i;

	if (n >= sizeof(c->rcpt_delim)) {
		cf_bad(p, o, val, "at most 15 characters");
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)val[i];
		if (ch <= ' ' || ch >= 0x7f || ch == '@' || ch == '"' || ch == '\\' ||
		    ch == ',' || ch == '<' || ch == '>') {
			cf_bad(p, o, val, "only printable ASCII characters other than @ \" \\ , < > and space");
			return;
		}
	}
	memcpy(c->rcpt_delim, val, n + 1);
}

/* Is v within o's min..max (max 0: no bound)?  Else "below MIN, WHY" or
 * "above MAX, WHY", WHY the row's reason. */
static int in_range(struct pctx *p, const struct opt *o, const char *val,
                    uint64_t v)
{
	const char *dir = "below", *unit = "", *why;
	unsigned long long bound = o->min;
	unsigned t = T_BELOW;
	char m[CONF_MSG_MAX];

	if (o->max && v > o->max) {
		dir = "above";
		bound = o->max;
		t = T_ABOVE;
	} else if (v >= o->min) {
		return 1;
	}
	why = cf_text(o, t);
	if (!*why)
		why = t == T_ABOVE ? "the maximum" : "the minimum";
	if (o->kind == K_SIZE && bound % 1024 == 0) {
		bound /= 1024;
		unit = "k";
	}
	fmt_into(m, sizeof m, "%s %llu%s, %s", dir, bound, unit, why);
	cf_bad(p, o, val, m);
	return 0;
}

void cf_number_set(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	uint64_t v;

	if (text_parse_u64(val, strlen(val), &v) != 0 || v > 0xffffffffu) {
		cf_bad(p, o, val, "not a number (decimal digits only)");
		return;
	}
	if (!in_range(p, o, val, v))
		return;
	if (o->id == O_MAX_PER_IP) {
		c->max_per_ip_at.file = p->file;
		c->max_per_ip_at.line = p->line;
	}
	*(unsigned *)(void *)((char *)c + o->off) = (unsigned)v;
}

void cf_size_set(struct pctx *p, const struct opt *o, const char *val)
{
	uint64_t v;

	if (conf_parse_size(val, &v) != 0) {
		cf_bad(p, o, val, "not a size (bytes, or a number with a k or M suffix)");
		return;
	}
	if (!in_range(p, o, val, v))
		return;
	*(uint64_t *)(void *)((char *)p->c + o->off) = v;
}

void cf_string_set(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	const char *s;

	if (o->id == O_USER && (strchr(val, ' ') || strchr(val, '\t') ||
	                        strchr(val, ':') || strchr(val, '/'))) {
		cf_bad(p, o, val, "not a user name");
		return;
	}
	s = arena_strndup(c->arena, val, strlen(val));
	if (!s)
		return;
	*(const char **)(void *)((char *)c + o->off) = s;
	if (o->id == O_USER) {
		c->user_at.file = p->file;
		c->user_at.line = p->line;
	} else if (CFG_AUTH && o->id == O_AUTH_USERS) {
		c->auth_users_at.file = p->file;
		c->auth_users_at.line = p->line;
	}
}

/* tls-cert and tls-key: the i-th of each make a pair; which is RSA and
 * which EC is only known once the files are read (platform/). */
void cf_tls_file_add(struct pctx *p, const struct opt *o, const char *val)
{
	struct mn_config *c = p->c;
	int cert = o->id == O_TLS_CERT;
	unsigned *n = cert ? &c->n_tls_cert : &c->n_tls_key;
	struct conf_origin *at = cert ? c->tls_cert_at : c->tls_key_at;
	const char *s;

	if (*n >= CONF_TLS_CERTS) {
		cf_bad(p, o, val, "given more than twice");
		return;
	}
	s = arena_strndup(c->arena, val, strlen(val));
	if (!s)
		return;
	(cert ? c->tls_cert : c->tls_key)[*n] = s;
	at[*n].file = p->file;
	at[*n].line = p->line;
	(*n)++;
}

void cf_tls_version_set(struct pctx *p, const struct opt *o,
                            const char *val)
{
	if (strlen(val) != 3 || val[0] != '1' || val[1] != '.' ||
	    val[2] < '0' || val[2] > '2') {
		cf_bad(p, o, val, "not 1.0, 1.1 or 1.2");
		return;
	}
	if (val[2] != '2' && !CFG_TLS_LEGACY) {
		cf_bad(p, o, val, "this build has no TLS 1.0/1.1: CONFIG_TLS_LEGACY");
		return;
	}
	p->c->tls_min_version = 0x0301u + (unsigned)(val[2] - '0');
}
/* The first --option of a repeatable option drops the file's entries. */
void cf_argv_replace(struct mn_config *c, const struct opt *o)
{
	unsigned i, j;

	if (c->argv_seen & (UINT64_C(1) << o->id))
		return;
	c->argv_seen |= UINT64_C(1) << o->id;
	switch (o->id) {
	case O_LISTEN:
	case O_LISTEN_TLS:
		for (i = j = 0; i < c->n_listen; i++)
			if (c->listen[i].tls != (o->id == O_LISTEN_TLS))
				c->listen[j++] = c->listen[i];
		c->n_listen = j;
		if (o->id == O_LISTEN_TLS)
			c->listen_tls_at.file = NULL;
		break;
	case O_DOMAIN:
		c->domain_list = c->domain_last = NULL;
		c->n_domains = 0;
		break;
	case O_MAILBOX:
		c->n_mailbox = 0;
		break;
	case O_ALIAS:
		c->alias_list = c->alias_last = NULL;
		break;
	case O_ALLOW_FROM:
		c->n_allow = 0;
		break;
	case O_BARE_LF:
		c->n_bare_lf = 0;
		break;
	case O_TLS_CERT:        /* refused before, without CONFIG_TLS */
		if (CFG_TLS)
			c->n_tls_cert = 0;
		break;
	case O_TLS_KEY:
		if (CFG_TLS)
			c->n_tls_key = 0;
		break;
	case O_QUOTA:
	case O_ROTATE:
	case O_EXPIRE:
		cf_limit_forget(c, (unsigned)(o->id - O_QUOTA));
		break;
	default:
		break;
	}
}
/* ---- mailbox limits (CONFIG_QUOTA) ---- */

#if CFG_QUOTA
/* quota=ADDRESS,SIZE[,MESSAGES], rotate=ADDRESS, expire=ADDRESS,DAYS:
 * checked here field by field; whether ADDRESS is a mailbox is
 * conf_finish()'s question, once every mailbox is known. */
void cf_limit_add(struct pctx *p, const struct opt *o, char *val)
{
	struct mn_config *c = p->c;
	char *cur = val, *addr, *a, *b;
	const char *why;
	struct conf_limit *l;
	uint64_t n = 0, v = 0;
	char shown[CONF_LINE_MAX];

	text_copy(shown, sizeof(shown), val);
	addr = cf_next_field(&cur);
	a = cf_next_field(&cur);
	b = cf_next_field(&cur);
	why = cf_check_address(addr);
	if (why) {
		cf_bad(p, o, shown, why);
		return;
	}
	if (cur || (o->id == O_ROTATE && a) || (o->id == O_EXPIRE && b) ||
	    (o->id != O_ROTATE && !a)) {
		cf_report_form(p, o, ": wrong number of fields");
		return;
	}
	if (o->id == O_QUOTA) {
		if (conf_parse_size(a, &v) != 0) {
			cf_bad(p, o, shown, "SIZE: not a size (bytes, or a number "
			       "with a k, M or G suffix)");
			return;
		}
		if (b && (text_parse_u64(b, strlen(b), &n) != 0 || n == 0 ||
		          n > 0xffffffffu)) {
			cf_bad(p, o, shown, "MESSAGES: not a number from 1");
			return;
		}
		if (!v && !n) {
			cf_bad(p, o, shown, "no limit (SIZE 0 needs MESSAGES)");
			return;
		}
	} else if (o->id == O_EXPIRE) {
		if (text_parse_u64(a, strlen(a), &n) != 0 || n < o->min ||
		    n > o->max) {
			cf_bad(p, o, shown, "DAYS: not a number from 1 to 36500");
			return;
		}
	}
	l = arena_alloc(c->arena, sizeof(*l));
	if (!l)
		return;
	memset(l, 0, sizeof(*l));
	text_lower(addr);
	l->address = arena_strndup(c->arena, addr, strlen(addr));
	if (!l->address)
		return;
	l->kind = (uint8_t)(o->id - O_QUOTA);
	l->bytes = v;
	l->count = (uint32_t)n;
	l->file = p->file;
	l->line = p->line;
	if (c->limit_last)
		c->limit_last->next = l;
	else
		c->limit_list = l;
	c->limit_last = l;
}
#endif

/* The command line's first quota=, rotate= or expire= replaces the
 * file's lines of that kind. */
void cf_limit_forget(struct mn_config *c, unsigned kind)
{
	struct conf_limit **pp = &c->limit_list;

	c->limit_last = NULL;
	while (*pp) {
		if ((*pp)->kind == kind) {
			*pp = (*pp)->next;
			continue;
		}
		c->limit_last = *pp;
		pp = &(*pp)->next;
	}
}

int conf_parse_size(const char *s, uint64_t *out)
{
	static const char suffixes[] = "kKmMgG";   /* 2^10, 2^20, 2^30 */
	size_t n = strlen(s);
	const char *suffix = n ? strchr(suffixes, s[n - 1]) : NULL;
	unsigned shift = 0;
	uint64_t v;

	if (n == 0)
		return -1;
	if (suffix) {
		shift = 10 * (1 + (unsigned)(suffix - suffixes) / 2);
		n--;
	}
	if (text_parse_u64(s, n, &v) != 0 || v > UINT64_MAX >> shift)
		return -1;
	*out = v << shift;
	return 0;
}
