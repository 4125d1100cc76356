/* see strtab.h */
#include "strtab.h"

#include <stddef.h>
#include <string.h>

/* uthash allocates only inside strtab_insert(), from its arena parameter,
 * and nothing is freed piecemeal.  A failed allocation jumps to insert's
 * oom label (uthash's fatal mode, with the "fatal" handler ours): one
 * rollback there instead of the general ones HASH_NONFATAL_OOM expands.
 * FNV-1a (uthash's HASH_FNV) instead of the default Jenkins hash: the same
 * O(1) buckets for short keys, in less code, and in one function that find
 * and insert share. */
#define uthash_malloc(sz) arena_alloc(arena, (sz))
#define uthash_free(ptr, sz) ((void)(ptr), (void)(sz))
#define uthash_fatal(msg) goto oom
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

/* uthash's bucket doubling keeps statistics to stop growing when the hash
 * spreads keys badly; this one stops at the first doubling that leaves a
 * chain as long as the one that asked for it (keys here are distinct, so
 * FNV-1a spreads them: it never happens in practice).  Chains stay under
 * HASH_BKT_CAPACITY_THRESH, so lookups stay O(1).  Replaces uthash's macro
 * of that name, which HASH_ADD_TO_BKT expands; tests/unit/t_strtab.c holds
 * the table to uthash's own invariants. */
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
#define HASH_EXPAND_BUCKETS(hh, tbl, oomed) \
	do { if (grow(tbl, arena)) HASH_RECORD_OOM(oomed); } while (0)

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
	UT_hash_table *t;
	UT_hash_bucket *b;

	HASH_ADD_KEYPTR(hh, h, key, strlen(key), add);
	*head = (struct strtab_link *)(void *)h;
	return 0;
oom:
	/* Making the table (h still NULL: nothing to undo), or growing the
	 * buckets, once add was at the head of its bucket and the end of
	 * the list: take it out of both again. */
	if (h) {
		t = h->hh.tbl;
		b = &t->buckets[add->hh.hashv & (t->num_buckets - 1U)];
		b->count--;
		b->hh_head = add->hh.hh_next;
		if (b->hh_head)
			b->hh_head->hh_prev = NULL;
		t->num_items--;
		t->tail = (UT_hash_handle *)(void *)((char *)add->hh.prev + t->hho);
		t->tail->next = NULL;
	}
	return -1;
}
