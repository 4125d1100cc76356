/*
 * Rotation and expiry (see rotate.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildirsize.h"
#include "bare.h"
#include "rotate.h"

static const char *const sub_name[2] = { "new", "cur" };

/* see rotate.h */
int rotate_name_time(const char *name, int64_t *secs, uint32_t *usec)
{
	const char *p = name;
	int64_t s = 0;
	uint32_t u = 0;
	int digits = 0;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (++digits > 12)
			return 0;
		s = s * 10 + (*p - '0');
	}
	if (digits < 9 || *p != '.' || p[1] == '\0')
		return 0;
	p++;
	if (*p == 'M') {
		for (p++, digits = 0; *p >= '0' && *p <= '9' && digits < 6;
		     p++, digits++)
			u = u * 10 + (uint32_t)(*p - '0');
		if (*p >= '0' && *p <= '9')
			u = 0;              /* not microseconds after all */
	}
	*secs = s;
	*usec = u;
	return 1;
}

/* Whether a was delivered before b (ties broken by the names, so that the
 * order is total and every pass agrees). */
static int older(const struct rotate_entry *a, const struct rotate_entry *b)
{
	int c;

	if (a->secs != b->secs)
		return a->secs < b->secs;
	if (a->usec != b->usec)
		return a->usec < b->usec;
	c = strcmp(a->name, b->name);
	if (c != 0)
		return c < 0;
	c = strcmp(a->folder, b->folder);
	if (c != 0)
		return c < 0;
	return a->sub < b->sub;
}

static void swap(struct rotate_entry *a, struct rotate_entry *b)
{
	struct rotate_entry t = *a;

	*a = *b;
	*b = t;
}

/* The heap keeps the newest of the kept entries at heap[0]. */
static void sift_down(struct rotate *r, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i + 1, m = i;

		if (l < r->n && older(&r->heap[m], &r->heap[l]))
			m = l;
		if (l + 1 < r->n && older(&r->heap[m], &r->heap[l + 1]))
			m = l + 1;
		if (m == i)
			return;
		swap(&r->heap[i], &r->heap[m]);
		i = m;
	}
}

static void sift_up(struct rotate *r, unsigned i)
{
	while (i > 0 && older(&r->heap[(i - 1) / 2], &r->heap[i])) {
		swap(&r->heap[i], &r->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static unsigned collect(void *ctx, int dir, const char *folder, int sub,
                        const char *name, unsigned char type)
{
	struct rotate *r = ctx;
	struct rotate_entry e;
	size_t fl = strlen(folder), nl = strlen(name);

	(void)dir;
	if (type != DT_REG && type != DT_UNKNOWN)
		return 0;
	if (name[0] == '.' || strncmp(name, "dovecot", 7) == 0)
		return 0;
	if (!rotate_name_time(name, &e.secs, &e.usec))
		return 0;
	if (r->expire && e.secs >= r->before)
		return 0;
	if (fl > ROTATE_FOLDER_MAX || nl > NAME_MAX)
		return 0;
	e.sub = (unsigned char)sub;
	memcpy(e.folder, folder, fl + 1);
	memcpy(e.name, name, nl + 1);
	if (r->n < ROTATE_BATCH) {
		r->heap[r->n++] = e;
		sift_up(r, r->n - 1);
	} else if (older(&e, &r->heap[0])) {
		r->heap[0] = e;
		sift_down(r, 0);
	}
	return 0;
}

/* Deletes one kept entry if it is still a regular file: 1 when deleted,
 * 0 when not (gone meanwhile, or not a file, or not removable). */
static int delete_entry(struct rotate *r, const struct rotate_entry *e)
{
	struct stat st;
	uint64_t size;
	int root, base, d, done = 0;

	root = open(r->maildir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return 0;
	base = root;
	if (e->folder[0])
		base = openat(root, e->folder, O_PATH | O_NOFOLLOW | O_DIRECTORY
		              | O_CLOEXEC);
	d = base < 0 ? -1 : openat(base, sub_name[e->sub], O_PATH | O_NOFOLLOW
	                           | O_DIRECTORY | O_CLOEXEC);
	if (d >= 0 && bare_fstatat(d, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0
	    && S_ISREG(st.st_mode) && unlinkat(d, e->name, 0) == 0) {
		if (!maildirsize_name_size(e->name, &size))
			size = (uint64_t)st.st_size;
		r->deleted_bytes += size;
		r->deleted_count++;
		r->pass_deleted++;
		done = 1;
		if (r->fn)
			r->fn(r->ctx, e->folder, sub_name[e->sub], e->name, size);
	}
	if (d >= 0)
		(void)close(d);
	if (base >= 0 && base != root)
		(void)close(base);
	(void)close(root);
	return done;
}

static int goal_met(const struct rotate *r)
{
	return !r->expire && r->deleted_bytes >= r->need_bytes
	       && r->deleted_count >= r->need_count;
}

static int start(struct rotate *r, const char *maildir, rotate_fn fn,
                 void *ctx)
{
	r->maildir = maildir;
	r->fn = fn;
	r->ctx = ctx;
	r->n = 0;
	r->deleted_bytes = r->deleted_count = 0;
	r->pass_deleted = 0;
	return maildir_walk_start(&r->walk, maildir, collect, r);
}

/* see rotate.h */
int rotate_start(struct rotate *r, const char *maildir, uint64_t bytes,
                 uint64_t count, rotate_fn fn, void *ctx)
{
	r->need_bytes = bytes;
	r->need_count = count;
	r->expire = 0;
	r->before = 0;
	return start(r, maildir, fn, ctx);
}

/* see rotate.h */
int expire_start(struct rotate *r, const char *maildir, time_t before,
                 rotate_fn fn, void *ctx)
{
	r->need_bytes = r->need_count = 0;
	r->expire = 1;
	r->before = (int64_t)before;
	return start(r, maildir, fn, ctx);
}

/* see rotate.h */
int rotate_step(struct rotate *r, unsigned budget)
{
	unsigned i, j, n;
	int w, full;

	if (goal_met(r)) {
		rotate_stop(r);
		return ROTATE_DONE;
	}
	w = maildir_walk_step(&r->walk, budget);
	if (w < 0)
		return -1;
	if (w > 0)
		return ROTATE_MORE;
	/* the pass is complete: oldest first (a heap of 32: insertion sort
	 * is plenty) */
	n = r->n;
	full = n == ROTATE_BATCH;
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && older(&r->heap[j], &r->heap[j - 1]); j--)
			swap(&r->heap[j], &r->heap[j - 1]);
	r->pass_deleted = 0;
	for (i = 0; i < n && !goal_met(r); i++)
		(void)delete_entry(r, &r->heap[i]);
	r->n = 0;
	if (goal_met(r))
		return ROTATE_DONE;
	/* a short batch held every candidate; a pass that could delete
	 * nothing would only find the same names again */
	if (!full || r->pass_deleted == 0)
		return r->expire ? ROTATE_DONE : ROTATE_SHORT;
	if (maildir_walk_start(&r->walk, r->maildir, collect, r) != 0)
		return -1;
	return ROTATE_MORE;
}

/* see rotate.h */
void rotate_stop(struct rotate *r)
{
	maildir_walk_stop(&r->walk);
}
