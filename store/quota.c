/*
 * A quota'd mailbox's bookkeeping (see quota.h).
 */
#include <string.h>

#include "quota.h"

/* see quota.h */
void quota_box_init(struct quota_box *b, const char *maildir,
                    const struct maildirsize_limits *lim)
{
	memset(b, 0, sizeof *b);
	b->maildir = maildir;
	b->limits = *lim;
	b->recalc = 1;
}

/* see quota.h */
int quota_box_load(struct quota_box *b, time_t now)
{
	int r = maildirsize_read(b->maildir, &b->limits, now, &b->file);

	if (r == MAILDIRSIZE_OK) {
		quota_box_set(b, (uint64_t)b->file.bytes, (uint64_t)b->file.count);
		return 0;
	}
	b->recalc = 1;
	return r < 0 ? -1 : 0;
}

/* see quota.h */
int quota_box_refresh(struct quota_box *b, time_t now)
{
	if (b->recalc || (b->known && maildirsize_unchanged(b->maildir, &b->file)))
		return 0;
	return quota_box_load(b, now);
}

/* see quota.h */
void quota_box_set(struct quota_box *b, uint64_t bytes, uint64_t count)
{
	b->bytes = bytes;
	b->count = count;
	b->known = 1;
	b->recalc = 0;
}

/* see quota.h */
int quota_full(const struct quota_box *b)
{
	if (!b->known)
		return 0;
	return (b->limits.bytes && b->bytes >= b->limits.bytes)
	       || (b->limits.count && b->count >= b->limits.count);
}

/* see quota.h */
void quota_excess(const struct quota_box *b, uint64_t size,
                  uint64_t *bytes, uint64_t *count)
{
	uint64_t used_b = b->held_bytes + size, used_c = b->held_count + 1;

	if (b->known) {
		used_b += b->bytes;
		used_c += b->count;
	}
	*bytes = b->limits.bytes && used_b > b->limits.bytes
	         ? used_b - b->limits.bytes : 0;
	*count = b->limits.count && used_c > b->limits.count
	         ? used_c - b->limits.count : 0;
}

/* see quota.h */
int quota_would_fit(const struct quota_box *b, uint64_t size)
{
	uint64_t xb, xc;

	quota_excess(b, size, &xb, &xc);
	return xb == 0 && xc == 0;
}

/* see quota.h */
int quota_too_big(const struct quota_box *b, uint64_t size)
{
	return b->limits.bytes && size > b->limits.bytes;
}

/* see quota.h */
void quota_reserve(struct quota_box *b, uint64_t size)
{
	b->held_bytes += size;
	b->held_count++;
}

/* see quota.h */
void quota_release(struct quota_box *b, uint64_t size)
{
	b->held_bytes = b->held_bytes > size ? b->held_bytes - size : 0;
	b->held_count = b->held_count ? b->held_count - 1 : 0;
}

/* see quota.h */
void quota_commit(struct quota_box *b, uint64_t size)
{
	quota_release(b, size);
	b->bytes += size;
	b->count++;
}

/* see quota.h */
void quota_deleted(struct quota_box *b, uint64_t size)
{
	b->bytes = b->bytes > size ? b->bytes - size : 0;
	b->count = b->count ? b->count - 1 : 0;
}
