/* core/strtab.c: uthash behind one find and one insert, allocating from
 * the arena given to each insert. */
#include <stdio.h>
#include <string.h>

#include <uthash.h>     /* only to look at the table's buckets */

#include "tap.h"
#include "strtab.h"

#define N_KEYS 3000

static struct strtab_link link[N_KEYS];
static char key[N_KEYS][24];
static unsigned char mem[256 * 1024];

static void make_keys(void)
{
	unsigned i;

	for (i = 0; i < N_KEYS; i++)
		snprintf(key[i], sizeof(key[i]), "user%u@example.org", i);
}

/* how many of the first n keys are found at their own link */
static unsigned found(struct strtab_link *head, unsigned n)
{
	unsigned i, hits = 0;

	for (i = 0; i < n; i++)
		hits += strtab_find(head, key[i]) == &link[i];
	return hits;
}

static void basics(void)
{
	struct arena a;
	struct strtab_link *head = NULL, *other = NULL;
	static struct strtab_link x, y, z;

	arena_init(&a, mem, sizeof(mem));
	ok(strtab_find(NULL, "a") == NULL, "an empty table finds nothing");
	is_int(strtab_insert(&head, &a, "example.org", &x), 0, "insert");
	ok(head != NULL && a.used > 0, "the table's memory comes from the arena");
	is_int(strtab_insert(&head, &a, "example.net", &y), 0, "second insert");
	is_int(strtab_insert(&head, &a, "", &z), 0, "an empty key");
	ok(strtab_find(head, "example.org") == &x, "found at its own link");
	ok(strtab_find(head, "example.net") == &y, "another key");
	ok(strtab_find(head, "") == &z, "the empty key");
	ok(strtab_find(head, "Example.org") == NULL,
	   "keys are compared byte for byte (callers fold case)");
	ok(strtab_find(head, "example.or") == NULL, "a prefix is not the key");
	ok(strtab_find(head, "example.orgg") == NULL, "nor a longer key");
	ok(strtab_find(other, "example.org") == NULL,
	   "another table is another table");
	ok(!a.failed, "nothing failed");
}

static void many(void)
{
	struct arena a;
	struct strtab_link *head = NULL;
	const UT_hash_table *tbl;
	unsigned i, fails = 0, longest = 0;

	arena_init(&a, mem, sizeof(mem));
	for (i = 0; i < N_KEYS; i++)
		fails += strtab_insert(&head, &a, key[i], &link[i]) != 0;
	is_int(fails, 0, "%u inserts", N_KEYS);
	is_int(found(head, N_KEYS), N_KEYS, "every key found");
	ok(strtab_find(head, "user3000@example.org") == NULL, "and no other");

	/* O(1): the buckets grew with the table, and no chain is long */
	tbl = ((const UT_hash_handle *)(const void *)head)->tbl;
	for (i = 0; i < tbl->num_buckets; i++)
		if (tbl->buckets[i].count > longest)
			longest = tbl->buckets[i].count;
	ok(tbl->num_buckets >= N_KEYS / 10, "%u buckets for %u keys",
	   tbl->num_buckets, N_KEYS);
	ok(!tbl->noexpand, "the hash spreads these keys well enough to expand");
	ok(longest <= 10, "longest chain %u", longest);
}

/* The arena runs out: insert says so, and the table still holds, and
 * finds, exactly what it held before. */
static void full(void)
{
	struct arena a;
	struct strtab_link *head = NULL;
	unsigned i, n = 0;
	int r = 0;

	arena_init(&a, mem, 64);
	is_int(strtab_insert(&head, &a, key[0], &link[0]), -1,
	       "no room for the table: -1");
	ok(head == NULL && a.failed, "no table, and the arena is marked failed");

	/* room for the table and its first buckets, not for twice as many */
	arena_init(&a, mem, 1024);
	for (i = 0; i < N_KEYS; i++) {
		r = strtab_insert(&head, &a, key[i], &link[i]);
		if (r)
			break;
		n++;
	}
	is_int(r, -1, "growing the buckets fails after %u keys", n);
	ok(n > 0 && a.failed, "some keys went in first, and the arena is marked failed");
	is_int(found(head, n), n, "all of them are still found");
	ok(strtab_find(head, key[n]) == NULL, "the one that failed is not");
}

int main(void)
{
	make_keys();
	basics();
	many();
	full();
	return tap_done();
}
