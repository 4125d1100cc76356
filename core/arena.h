/*
 * A bump allocator over caller-owned memory.  The configuration lives in
 * one; a reload builds the next configuration in the second and swaps only
 * when it is valid, so nothing is ever freed piecemeal.
 */
#ifndef MAILNOOK_ARENA_H
#define MAILNOOK_ARENA_H

#include <stddef.h>

struct arena {
	unsigned char *base;
	size_t size;
	size_t used;
	int failed;     /* sticky: an allocation did not fit */
};

void arena_init(struct arena *a, void *mem, size_t size);
/* Starts over; everything handed out before is forgotten. */
void arena_reset(struct arena *a);
/* Aligned to sizeof(void *) * 2; NULL (and failed set) when full. */
void *arena_alloc(struct arena *a, size_t n);
/* Copies n bytes and a NUL. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

#endif
