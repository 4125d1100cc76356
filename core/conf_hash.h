/*
 * The entries of the configuration's two lookup tables (strtab.h): the
 * local domains, and the mailbox and alias addresses.  Each starts with
 * its strtab_link, so that a link found is its entry.
 * Private to core/conf*.c and core/policy.c.
 */
#ifndef MAILNOOK_CONF_HASH_H
#define MAILNOOK_CONF_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "strtab.h"

/* A local domain.  Key: name, lower-case. */
struct conf_domain {
	struct strtab_link link;        /* first: in mn_config.domains */
	const char *name;
	struct conf_domain *next;       /* mn_config.domain_list, in order given */
	const char *file;
	unsigned line;
};

/* A mailbox or alias address.  Key: "local@domain" or "@domain",
 * lower-case.  target[] holds mailbox indexes, deduplicated: one for a
 * mailbox, one or more for an alias once conf_finish() resolved it. */
struct conf_address {
	struct strtab_link link;        /* first: in mn_config.addresses */
	const char *key;
	struct conf_address *next;      /* mn_config.alias_list */
	const char *file;
	unsigned line;
	uint8_t is_alias;
	uint16_t n_target;
	uint16_t *target;
	uint16_t one;                   /* target storage for a mailbox */
	const char **names;             /* alias: targets as configured */
	unsigned n_names;
};

_Static_assert(offsetof(struct conf_domain, link) == 0 &&
               offsetof(struct conf_address, link) == 0,
               "a strtab_link must come first");

/* key: lower-case, as stored */
static inline struct conf_domain *conf_domain_find(const struct mn_config *c,
                                                   const char *key)
{
	return (struct conf_domain *)(void *)strtab_find(c->domains, key);
}

static inline struct conf_address *conf_address_find(const struct mn_config *c,
                                                     const char *key)
{
	return (struct conf_address *)(void *)strtab_find(c->addresses, key);
}

#endif
