/*
 * String-keyed tables in an arena: uthash behind one find and one insert,
 * so that its macros expand once in the whole program and only strtab.c
 * includes <uthash.h>.
 *
 * An entry embeds a struct strtab_link (uthash's handle, opaque here) as
 * its first member, so a link found converts back to its entry with a
 * cast.  A table is a pointer to the first entry's link, NULL when empty.
 * Keys are NUL-terminated strings compared byte for byte (callers fold
 * case first); they are not copied and must live as long as the table.
 * Nothing is ever removed: the arena is reset whole.
 */
#ifndef MAILNOOK_STRTAB_H
#define MAILNOOK_STRTAB_H

#include "arena.h"

/* The size and alignment of a UT_hash_handle (strtab.c checks them). */
struct strtab_link {
	void *opaque_p[6];
	unsigned opaque_u[2];
};

/* The entry with this key, or NULL. */
struct strtab_link *strtab_find(struct strtab_link *head, const char *key);

/* Adds link under key, which the table must not hold yet; the table's own
 * memory comes from a.  0, or -1 when a is full (a->failed is set then, and
 * link is not in the table). */
int strtab_insert(struct strtab_link **head, struct arena *a, const char *key,
                  struct strtab_link *link);

#endif
