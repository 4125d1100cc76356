/*
 * uthash set up for the configuration: every table allocates from the arena
 * being built (conf_hash_arena, set by conf.c before each insertion), a
 * failed allocation sets conf_hash_oom instead of calling exit(), and
 * nothing is ever freed piecemeal (the arena is reset whole).
 * Private to conf.c and policy.c.
 */
#ifndef MAILNOOK_CONF_HASH_H
#define MAILNOOK_CONF_HASH_H

#include "arena.h"
#include "conf.h"

extern struct arena *conf_hash_arena;
extern int conf_hash_oom;

#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) arena_alloc(conf_hash_arena, (sz))
#define uthash_free(ptr, sz) do { (void)(ptr); (void)(sz); } while (0)
#define uthash_nonfatal_oom(obj) do { (void)(obj); conf_hash_oom = 1; } while (0)
#include <uthash.h>

/* A local domain.  Key: name, lower-case. */
struct conf_domain {
	UT_hash_handle hh;
	const char *name;
	struct conf_domain *next;       /* mn_config.domain_list, in order given */
	const char *file;
	unsigned line;
};

/* A mailbox or alias address.  Key: "local@domain" or "@domain",
 * lower-case.  target[] holds mailbox indexes, deduplicated: one for a
 * mailbox, one or more for an alias once conf_finish() resolved it. */
struct conf_address {
	UT_hash_handle hh;
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

#endif
