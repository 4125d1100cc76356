/* see policy.h */
#include "policy.h"

#include <string.h>

#include "conf_hash.h"
#include "text.h"

#define KEY_MAX (ADDR_LOCAL_MAX + 1 + ADDR_DOMAIN_MAX + 1)

/* Length of s, or -1 when it has no NUL within max bytes. */
static long bounded_len(const char *s, size_t max)
{
	const char *z = memchr(s, '\0', max);

	return z ? (long)(z - s) : -1;
}

/* key = lower(local[0..ll)) "@" lower(domain) */
static void make_key(char *key, const char *local, size_t ll,
                     const char *domain, size_t dl)
{
	memcpy(key, local, ll);
	key[ll] = '@';
	memcpy(key + ll + 1, domain, dl);
	key[ll + 1 + dl] = '\0';
	text_lower(key);
}

static void add_target(struct rcpt_target *out, unsigned max, unsigned *n,
                       unsigned mailbox, const char *folder)
{
	unsigned i;

	for (i = 0; i < *n; i++)
		if (out[i].mailbox == mailbox)
			return;
	if (*n >= max)
		return;
	out[*n].mailbox = (uint16_t)mailbox;
	text_copy(out[*n].folder, sizeof(out[*n].folder), folder ? folder : "");
	(*n)++;
}

static int emit(const struct conf_address *e, const char *folder,
                struct rcpt_target *out, unsigned max, unsigned *n)
{
	unsigned i;

	for (i = 0; i < e->n_target; i++)
		add_target(out, max, n, e->target[i], folder);
	return RCPT_OK;
}

int policy_resolve(const struct mn_config *c, const struct smtp_addr *a,
                   struct rcpt_target *out, unsigned max, unsigned *n)
{
	char key[KEY_MAX];
	const char *local, *domain;
	const struct conf_address *e;
	long ll, dl;
	size_t cut = 0;

	*n = 0;
	if (a->is_postmaster) {
		if (!c->first_domain)
			return RCPT_UNKNOWN;
		local = "postmaster";
		domain = c->first_domain;
	} else {
		local = a->local;
		domain = a->domain;
	}
	ll = bounded_len(local, ADDR_LOCAL_MAX + 1);
	dl = bounded_len(domain, ADDR_DOMAIN_MAX + 1);
	if (ll < 0 || dl < 0)
		return RCPT_UNKNOWN;
	if (!conf_is_local_domain(c, domain))
		return RCPT_RELAY;

	/* the whole address, as a mailbox or an alias */
	make_key(key, local, (size_t)ll, domain, (size_t)dl);
	e = conf_address_find(c, key);
	if (e)
		return emit(e, NULL, out, max, n);

	/* user+tag: the part before the first delimiter character */
	if (c->rcpt_delim[0]) {
		for (cut = 0; cut < (size_t)ll; cut++)
			if (strchr(c->rcpt_delim, local[cut]))
				break;
		if (cut > 0 && cut < (size_t)ll) {
			const char *tag = local + cut + 1;
			make_key(key, local, cut, domain, (size_t)dl);
			e = conf_address_find(c, key);
			if (e)
				return emit(e, c->tag_folders && policy_folder_ok(tag)
				               ? tag : NULL, out, max, n);
		} else {
			cut = 0;
		}
	}

	/* the domain's catch-all */
	make_key(key, "", 0, domain, (size_t)dl);
	e = conf_address_find(c, key);
	if (e)
		return emit(e, NULL, out, max, n);

	/* postmaster (RFC 5321 4.5.1), also postmaster+tag: the first mailbox */
	if (c->n_mailbox && (ll == 10 || cut == 10) &&
	    text_ncasecmp(local, "postmaster", 10) == 0) {
		add_target(out, max, n, 0, NULL);
		return RCPT_OK;
	}
	return RCPT_UNKNOWN;
}

int policy_folder_ok(const char *name)
{
	size_t i;

	if (!name || name[0] == '\0' || name[0] == '.')
		return 0;
	for (i = 0; name[i]; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (i >= CONF_TAG_MAX)
			return 0;
		if (ch < 0x20 || ch >= 0x7f || ch == '/' || ch == '\\')
			return 0;
		if (ch == '.' && (name[i + 1] == '.' || name[i + 1] == '\0'))
			return 0;
	}
	return 1;
}
