/* see arena.h */
#include "arena.h"

#include <stdint.h>
#include <string.h>

#define ARENA_ALIGN (sizeof(void *) * 2)

void arena_init(struct arena *a, void *mem, size_t size)
{
	a->base = mem;
	a->size = mem ? size : 0;
	a->used = 0;
	a->failed = 0;
}

void arena_reset(struct arena *a)
{
	a->used = 0;
	a->failed = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
	uintptr_t at = (uintptr_t)a->base + a->used;
	size_t pad = (size_t)(-at & (ARENA_ALIGN - 1));
	size_t left;

	if (a->failed || a->used > a->size)
		goto fail;
	left = a->size - a->used;
	if (pad > left || n > left - pad)
		goto fail;
	a->used += pad + n;
	return a->base + (a->used - n);
fail:
	a->failed = 1;
	return NULL;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p;

	if (n == SIZE_MAX) {
		a->failed = 1;
		return NULL;
	}
	p = arena_alloc(a, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
