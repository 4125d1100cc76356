/* see strtab.h */
#include "strtab.h"

#include <stddef.h>
#include <string.h>

/* uthash allocates only inside strtab_insert(), from its arena parameter,
 * and nothing is freed piecemeal.  insert grows the buckets itself before
 * HASH_ADD, so that a failed allocation leaves the table as it was: the
 * only one left inside uthash's macros is the table's own, when the first
 * key is added, and uthash's fatal mode returns -1 there (the "fatal"
 * handler is ours).  FNV-1a (uthash's HASH_FNV) instead of the default
 * Jenkins hash: the same O(1) buckets for short keys, in less code. */
#define uthash_malloc(sz) arena_alloc(arena, (sz))
#define uthash_free(ptr, sz) ((void)(ptr), (void)(sz))
#define uthash_fatal(msg) return -1
#define HASH_FUNCTION(key, len, hashv) ((hashv) = fnv(key, len))
#include <uthash.h>

/* What a struct strtab_link really is. */
struct node {
	UT_hash_handle hh;
};

_Static_assert(sizeof(struct strtab_link) == sizeof(UT_hash_handle) &&
               _Alignof(struct strtab_link) == _Alignof(UT_hash_handle),
               "struct strtab_link does not match this uthash's UT_hash_handle");

static unsigned fnv(const void *key, size_t len)
{
	unsigned h;

	HASH_FNV(key, len, h);
	return h;
}

/* Doubles the buckets.  uthash's own doubling (HASH_EXPAND_BUCKETS, made a
 * no-op below) runs inside HASH_ADD once a chain reaches
 * HASH_BKT_CAPACITY_THRESH, and keeps statistics to stop growing when the
 * hash spreads keys badly; this one runs before the add that would make
 * such a chain, and stops growing for good once a doubling leaves one that
 * long (keys here are distinct, so FNV-1a spreads them: it does not happen
 * in practice).  Chains stay shorter than that, so lookups stay O(1).
 * tests/unit/t_strtab.c holds the table to uthash's invariants. */
static int grow(UT_hash_table *t, struct arena *arena)
{
	unsigned n = t->num_buckets * 2U, i, longest = 0;
	UT_hash_bucket *nb = arena_alloc(arena, n * sizeof(*nb));
	UT_hash_handle *h, *next;

	if (!nb)
		return -1;
	memset(nb, 0, n * sizeof(*nb));
	for (i = 0; i < t->num_buckets; i++)
		for (h = t->buckets[i].hh_head; h; h = next) {
			UT_hash_bucket *b = &nb[h->hashv & (n - 1U)];

			next = h->hh_next;
			h->hh_prev = NULL;
			h->hh_next = b->hh_head;
			if (b->hh_head)
				b->hh_head->hh_prev = h;
			b->hh_head = h;
			if (++b->count > longest)
				longest = b->count;
		}
	t->buckets = nb;
	t->num_buckets = n;
	t->log2_num_buckets++;
	t->noexpand = longest >= HASH_BKT_CAPACITY_THRESH;
	return 0;
}
#undef HASH_EXPAND_BUCKETS
#define HASH_EXPAND_BUCKETS(hh, tbl, oomed) do { } while (0)

struct strtab_link *strtab_find(struct strtab_link *head, const char *key)
{
	struct node *h = (struct node *)(void *)head, *out;

	HASH_FIND(hh, h, key, strlen(key), out);
	return (struct strtab_link *)(void *)out;
}

int strtab_insert(struct strtab_link **head, struct arena *arena,
                  const char *key, struct strtab_link *link)
{
	struct node *h = (struct node *)(void *)*head;
	struct node *add = (struct node *)(void *)link;
	size_t len = strlen(key);
	unsigned hv = fnv(key, len);

	if (h) {
		UT_hash_table *t = h->hh.tbl;

		if (!t->noexpand &&
		    t->buckets[hv & (t->num_buckets - 1U)].count + 1U >=
		    HASH_BKT_CAPACITY_THRESH && grow(t, arena) != 0)
			return -1;
	}
	HASH_ADD_KEYPTR_BYHASHVALUE(hh, h, key, len, hv, add);
	*head = (struct strtab_link *)(void *)h;
	return 0;
}
