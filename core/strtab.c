/* see strtab.h */
#include "strtab.h"

#include <stddef.h>
#include <string.h>

/* uthash allocates only inside strtab_insert(), from its arena parameter;
 * a failed allocation sets insert's oom instead of calling exit(); nothing
 * is freed piecemeal.  FNV-1a (uthash's HASH_FNV) instead of the default
 * Jenkins hash: the same O(1) buckets for short keys, in less code. */
#define HASH_NONFATAL_OOM 1
#define uthash_malloc(sz) arena_alloc(arena, (sz))
#define uthash_free(ptr, sz) ((void)(ptr), (void)(sz))
#define uthash_nonfatal_oom(obj) ((void)(obj), oom = 1)
#define HASH_FUNCTION(key, len, hashv) HASH_FNV(key, len, hashv)
#include <uthash.h>

/* What a struct strtab_link really is. */
struct node {
	UT_hash_handle hh;
};

_Static_assert(sizeof(struct strtab_link) == sizeof(UT_hash_handle) &&
               _Alignof(struct strtab_link) == _Alignof(UT_hash_handle),
               "struct strtab_link does not match this uthash's UT_hash_handle");

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
	int oom = 0;

	HASH_ADD_KEYPTR(hh, h, key, strlen(key), add);
	*head = (struct strtab_link *)(void *)h;
	return oom ? -1 : 0;
}
