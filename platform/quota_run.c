/* see quota_run.h */
#include "quota_run.h"

#if CFG_QUOTA

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "quota.h"
#include "rotate.h"
#include "stats.h"

#define QRUN_SLICE 2000                 /* names per loop turn */
#define QRUN_EXPIRE_EVERY (60 * 60)     /* seconds */
#define QRUN_ROTATE_BUDGET 1000000      /* one call: rotation runs to its end */

struct qbox {
	struct quota_box q;
	const char *address;
	uint8_t has_quota;      /* quota= (else only expire=) */
	uint8_t rotate;
	uint8_t expire_due;     /* the next expiry round includes it */
	uint16_t expire_days;
	/* for the batch of qrun_committed() */
	uint64_t add_bytes, add_count;
};

static struct qbox boxes[CFG_MAX_MAILBOXES];
static unsigned n_boxes;

/* One scan (recalculation) and one expiry at a time, for all mailboxes;
 * rotation has its own state, since it runs inside an expiry's turn. */
static struct maildirsize_scan scan;
static int scan_box = -1;
static struct rotate expiry;
static int expiry_box = -1;
static time_t next_expire;
static struct rotate rot;
static int in_expiry;           /* deleted() is reporting for the expiry */

static struct qbox *box_of(const char *maildir)
{
	unsigned i;

	for (i = 0; i < n_boxes; i++)
		if (strcmp(boxes[i].q.maildir, maildir) == 0)
			return &boxes[i];
	return NULL;
}

/* "WHAT ADDRESS: MAILDIR: error" (errno), for every failure here: each
 * leaves the usage to a later recalculation, none loses mail. */
static void warn(const char *what, const struct qbox *b)
{
	log_warn("%s %s: %s: %s", what, b->address, b->q.maildir,
	         strerror(errno));
}

static void stop_work(void)
{
	if (scan_box >= 0)
		maildirsize_scan_stop(&scan);
	if (expiry_box >= 0)
		rotate_stop(&expiry);
	scan_box = expiry_box = -1;
}

/* see quota_run.h */
void qrun_config(const struct mn_config *c, time_t wall, int startup)
{
	unsigned i;

	stop_work();
	n_boxes = 0;
	for (i = 0; i < c->n_mailbox; i++) {
		const struct conf_mailbox *mb = &c->mailbox[i];
		struct maildirsize_limits lim;
		struct qbox *b;

		if (!mb->quota && !mb->expire_days)
			continue;
		if (box_of(mb->maildir))
			continue;       /* a Maildir shared: its first mailbox's */
		b = &boxes[n_boxes++];
		memset(b, 0, sizeof *b);
		lim.bytes = mb->quota_bytes;
		lim.count = mb->quota_count;
		quota_box_init(&b->q, mb->maildir, &lim);
		b->address = mb->address;
		b->has_quota = mb->quota;
		b->rotate = mb->rotate;
		b->expire_days = mb->expire_days;
		if (!b->has_quota) {
			b->q.recalc = 0;
			continue;
		}
		if (quota_box_load(&b->q, wall) != 0)
			warn("quota", b);
		if (startup)
			b->q.recalc = 1;
	}
	if (startup)
		next_expire = wall;     /* at once */
}

/* see quota_run.h */
int qrun_full(const char *maildir, time_t wall)
{
	struct qbox *b = box_of(maildir);

	if (!b || !b->has_quota)
		return 0;
	(void)quota_box_refresh(&b->q, wall);   /* a failure marks recalc */
	return quota_full(&b->q);
}

/* ---- deleting: rotation and expiry --------------------------------------- */

/* rotate.h's callback: the log line and the counters of one file. */
static void deleted(void *ctx, const char *folder, const char *sub,
                    const char *name, uint64_t size)
{
	struct qbox *b = ctx;
	char clean[LOG_FIELD_MAX];

	log_clean(clean, sizeof clean, name);
	/* expiry is logged the same way as rotation (the contract's words),
	 * with its reason */
	log_info("rotate=deleted file=%s/%s%s%s/%s size=%llu reason=%s",
	         b->q.maildir, folder, *folder ? "/" : "", sub, clean,
	         (unsigned long long)size, in_expiry ? "expire" : "quota");
	stats_deleted(in_expiry);
	if (b->has_quota)
		quota_deleted(&b->q, size);
}

/* The one usage line for what a rotation or an expiry deleted. */
static void note_deleted(struct qbox *b, const struct rotate *r)
{
	if (!b->has_quota || !r->deleted_count)
		return;
	if (maildirsize_append(b->q.maildir, -(int64_t)r->deleted_bytes,
	                       -(int64_t)r->deleted_count, NULL) != 0)
		b->q.recalc = 1;
}

/* Makes room for size bytes in b: 1 when it fits now. */
static int make_room(struct qbox *b, uint64_t size)
{
	uint64_t xb, xc;
	int r;

	quota_excess(&b->q, size, &xb, &xc);
	if (rotate_start(&rot, b->q.maildir, xb, xc, deleted, b) != 0) {
		warn("rotate", b);
		return 0;
	}
	do
		r = rotate_step(&rot, QRUN_ROTATE_BUDGET);
	while (r == ROTATE_MORE);
	if (r < 0)
		warn("rotate", b);
	note_deleted(b, &rot);
	return quota_would_fit(&b->q, size);
}

/* see quota_run.h */
int qrun_reserve(struct maildir_msg *m)
{
	struct qbox *list[MAILDIR_MAX_DEST];
	unsigned n = 0, i, j;

	for (i = 0; i < m->n_dest; i++) {
		struct qbox *b = box_of(m->dest[i].maildir);

		if (!b || !b->has_quota)
			continue;
		for (j = 0; j < n && list[j] != b; j++)
			;
		if (j < n)
			continue;
		/* refused before anything is rotated away for it */
		if (quota_too_big(&b->q, m->size) ||
		    (!b->rotate && !quota_would_fit(&b->q, m->size)))
			return SINK_FULL;
		list[n++] = b;
	}
	for (i = 0; i < n; i++)
		if (!quota_would_fit(&list[i]->q, m->size) &&
		    !make_room(list[i], m->size))
			return SINK_FULL;
	for (i = 0; i < n; i++)
		quota_reserve(&list[i]->q, m->size);
	return SINK_OK;
}

/* see quota_run.h */
void qrun_committed(struct maildir_msg **msgs, size_t n, const int *results)
{
	size_t i;
	unsigned k, j;

	for (i = 0; i < n; i++) {
		struct maildir_msg *m = msgs[i];

		for (j = 0; j < m->n_dest; j++) {
			struct qbox *b = box_of(m->dest[j].maildir);
			unsigned d;

			if (!b || !b->has_quota)
				continue;
			for (d = 0; d < j; d++)
				if (box_of(m->dest[d].maildir) == b)
					break;
			if (d < j)
				continue;       /* once per mailbox */
			if (results[i] != SINK_OK) {
				quota_release(&b->q, m->size);
				continue;
			}
			quota_commit(&b->q, m->size);
			b->add_bytes += m->size;
			b->add_count++;
		}
	}
	for (k = 0; k < n_boxes; k++) {
		struct qbox *b = &boxes[k];
		int fd = -1;

		if (!b->add_count)
			continue;
		/* a cache: a failure costs a recalculation, not the mail */
		if (maildirsize_append(b->q.maildir, (int64_t)b->add_bytes,
		                       (int64_t)b->add_count, &fd) != 0)
			b->q.recalc = 1;
		if (fd >= 0) {
			if (fsync(fd) != 0)
				b->q.recalc = 1;
			(void)close(fd);
		}
		b->add_bytes = b->add_count = 0;
	}
}

/* ---- between loop turns -------------------------------------------------- */

static void scan_slice(time_t wall)
{
	struct qbox *b;
	int r;

	if (scan_box < 0) {
		unsigned i;

		for (i = 0; i < n_boxes && !boxes[i].q.recalc; i++)
			;
		if (i == n_boxes)
			return;
		b = &boxes[i];
		if (maildirsize_scan_start(&scan, b->q.maildir) != 0) {
			warn("quota", b);
			b->q.recalc = 0;        /* usage unknown: taken as empty */
			return;
		}
		scan_box = (int)i;
	}
	b = &boxes[scan_box];
	r = maildirsize_scan_step(&scan, QRUN_SLICE);
	if (r == MAILDIRSIZE_SCAN_MORE)
		return;
	scan_box = -1;
	if (r == MAILDIRSIZE_SCAN_CHANGED)
		return;                 /* recalc still set: again */
	if (r < 0) {
		warn("quota", b);
		b->q.recalc = 0;
		return;
	}
	if (maildirsize_write(b->q.maildir, &b->q.limits, scan.bytes,
	                      scan.count) != 0)
		warn("quota", b);
	quota_box_set(&b->q, scan.bytes, scan.count);
	/* the file as written, so that the next check need not re-read it */
	(void)maildirsize_read(b->q.maildir, &b->q.limits, wall, &b->q.file);
	log_info("quota %s: %llu bytes, %llu messages (recalculated)",
	         b->address, (unsigned long long)scan.bytes,
	         (unsigned long long)scan.count);
}

/* Expiry: every box's turn in order, in slices. */
static int expiry_slice(time_t wall)
{
	struct qbox *b;
	int r;

	if (expiry_box < 0) {
		unsigned i;

		for (i = 0; i < n_boxes && !boxes[i].expire_due; i++)
			;
		if (i == n_boxes)
			return 0;
		b = &boxes[i];
		b->expire_due = 0;
		if (expire_start(&expiry, b->q.maildir,
		                 wall - (time_t)b->expire_days * 86400,
		                 deleted, b) != 0) {
			warn("expire", b);
			return 1;
		}
		expiry_box = (int)i;
	}
	b = &boxes[expiry_box];
	in_expiry = 1;
	r = rotate_step(&expiry, QRUN_SLICE);
	in_expiry = 0;
	if (r == ROTATE_MORE)
		return 1;
	if (r < 0)
		warn("expire", b);
	note_deleted(b, &expiry);
	expiry_box = -1;
	return 1;
}

/* see quota_run.h */
void qrun_tick(time_t wall)
{
	unsigned i;

	if (next_expire && wall >= next_expire) {
		for (i = 0; i < n_boxes; i++)
			boxes[i].expire_due = boxes[i].expire_days != 0;
		next_expire = wall + QRUN_EXPIRE_EVERY;
	}
	/* expiry first: what it deletes, a scan after it need not see
	 * change */
	if (expiry_slice(wall))
		return;
	scan_slice(wall);
}

/* see quota_run.h */
int64_t qrun_wait_ms(time_t wall)
{
	unsigned i;

	if (scan_box >= 0 || expiry_box >= 0)
		return 0;
	for (i = 0; i < n_boxes; i++)
		if (boxes[i].q.recalc || boxes[i].expire_due)
			return 0;
	if (!next_expire)
		return INT64_MAX;
	return next_expire > wall ? (int64_t)(next_expire - wall) * 1000 : 0;
}

/* see quota_run.h */
int qrun_report(const struct mn_config *c)
{
	unsigned i;
	int bad = 0;

	for (i = 0; i < c->n_mailbox; i++) {
		const struct conf_mailbox *mb = &c->mailbox[i];
		int r;

		if (!mb->quota)
			continue;
		if (maildirsize_scan_start(&scan, mb->maildir) != 0) {
			bad |= log_stdout("mailnook: quota %s: cannot read %s: "
			                  "%s\n", mb->address, mb->maildir,
			                  strerror(errno));
			continue;
		}
		do
			r = maildirsize_scan_step(&scan, QRUN_ROTATE_BUDGET);
		while (r == MAILDIRSIZE_SCAN_MORE);
		if (r < 0) {
			bad |= log_stdout("mailnook: quota %s: cannot read %s: "
			                  "%s\n", mb->address, mb->maildir,
			                  strerror(errno));
			continue;
		}
		bad |= log_stdout("mailnook: quota %s: %llu of %llu bytes, %llu "
		                  "of %llu messages\n", mb->address,
		                  (unsigned long long)scan.bytes,
		                  (unsigned long long)mb->quota_bytes,
		                  (unsigned long long)scan.count,
		                  (unsigned long long)mb->quota_count);
	}
	return bad ? -1 : 0;
}

/* see quota_run.h */
int qrun_usage(unsigned i, const char **address, uint64_t *bytes,
               uint64_t *count)
{
	struct qbox *b;

	if (i >= n_boxes)
		return -1;
	b = &boxes[i];
	if (!b->has_quota)
		return 0;
	/* A reader (Dovecot's expunge) may have changed maildirsize since the
	 * last RCPT looked: one stat, a re-read only when it changed (a
	 * failure marks a recalculation and keeps the figure until then). */
	(void)quota_box_refresh(&b->q, (time_t)clock_wall());
	*address = b->address;
	*bytes = b->q.known ? b->q.bytes : 0;
	*count = b->q.known ? b->q.count : 0;
	return 1;
}

#endif
