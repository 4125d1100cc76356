/*
 * The walk over a Maildir's message names (see maildir_walk.h).
 *
 * Phases: the inbox's new/ and cur/, then each folder's, in the order the
 * Maildir's own listing gives them; then the check for changes, which
 * lists the folders once more (only stat calls: a handful of folders
 * against thousands of messages, so it is done in one go).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "maildir_walk.h"

#include "bare.h"

enum { PH_INBOX, PH_FOLDERS, PH_DONE };

/* A getdents64(2) record, as the kernel writes it. */
struct walk_record {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

static const char *const sub_name[2] = { "new", "cur" };

static long read_records(int fd, void *buf, size_t len)
{
	long n;

	do
		n = syscall(SYS_getdents64, fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);
	*fd = -1;
}

/* Whether errno names a directory that is simply not there (removed
 * meanwhile, never made, or a link that is not followed). */
static int absent(int e)
{
	return e == ENOENT || e == ENOTDIR || e == ELOOP;
}

/* Opens SUB of the current folder into w->dir: 1, 0 when it is absent,
 * -1 on an error. */
static int open_sub(struct maildir_walk *w)
{
	int base = w->root, e;

	if (w->folder[0]) {
		base = openat(w->root, w->folder, O_PATH | O_NOFOLLOW
		              | O_DIRECTORY | O_CLOEXEC);
		if (base < 0)
			return absent(errno) ? 0 : -1;
	}
	w->dir = openat(base, sub_name[w->sub], O_RDONLY | O_NOFOLLOW
	                | O_DIRECTORY | O_CLOEXEC);
	e = errno;
	if (base != w->root)
		(void)close(base);
	w->dir_off = w->dir_len = 0;
	if (w->dir >= 0)
		return 1;
	errno = e;
	return absent(e) ? 0 : -1;
}

/* The next Maildir++ folder from the Maildir's listing into w->folder:
 * 1, 0 at the end, -1 on an error.  A folder is a ".NAME" directory
 * (not "." or ".."); with no d_type, fstatat decides, never following a
 * link. */
static int next_folder(struct maildir_walk *w)
{
	for (;;) {
		const struct walk_record *r;
		size_t n;

		if (w->root_off >= w->root_len) {
			long got = read_records(w->root, w->root_buf,
			                        sizeof w->root_buf);

			if (got <= 0)
				return got < 0 ? -1 : 0;
			w->root_off = 0;
			w->root_len = got;
		}
		r = (const void *)(w->root_buf + w->root_off);
		w->root_off += r->reclen;
		if (r->name[0] != '.' || r->name[1] == '\0'
		    || (r->name[1] == '.' && r->name[2] == '\0'))
			continue;
		if (r->type == DT_UNKNOWN) {
			struct stat st;

			if (bare_fstatat(w->root, r->name, &st, AT_SYMLINK_NOFOLLOW)
			    != 0 || !S_ISDIR(st.st_mode))
				continue;
		} else if (r->type != DT_DIR) {
			continue;
		}
		n = strlen(r->name);
		memcpy(w->folder, r->name, n + 1);
		return 1;
	}
}

/* Strictly later: a directory modified in the very clock tick the walk
 * began is taken as unchanged, else every recalculation right after a
 * delivery would be refused.  The window left is one tick of the coarse
 * clock (1 to 10 ms); Dovecot's is a whole second. */
static int later(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec
	       || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* Whether NAME/new or NAME/cur under at (NAME "" for at itself) was
 * modified since the walk began. */
static int dir_changed(const struct maildir_walk *w, int at, const char *name)
{
	int base = at, s, r = 0;

	if (name[0]) {
		base = openat(at, name, O_PATH | O_NOFOLLOW | O_DIRECTORY
		              | O_CLOEXEC);
		if (base < 0)
			return 0;
	}
	for (s = 0; s < 2; s++) {
		struct stat st;

		if (bare_fstatat(base, sub_name[s], &st, AT_SYMLINK_NOFOLLOW) == 0
		    && S_ISDIR(st.st_mode) && later(&st.st_mtim, &w->start))
			r = 1;
	}
	if (base != at)
		(void)close(base);
	return r;
}

/* The end of the walk: w->changed, then everything closed. */
static int finish(struct maildir_walk *w)
{
	int r;

	w->changed = dir_changed(w, w->root, "");
	if (lseek(w->root, 0, SEEK_SET) != 0) {
		maildir_walk_stop(w);
		return -1;
	}
	w->root_off = w->root_len = 0;
	while ((r = next_folder(w)) > 0)
		if (!w->changed && dir_changed(w, w->root, w->folder))
			w->changed = 1;
	maildir_walk_stop(w);
	w->phase = PH_DONE;
	return r < 0 ? -1 : 0;
}

/* see maildir_walk.h */
int maildir_walk_start(struct maildir_walk *w, const char *maildir,
                       maildir_walk_fn fn, void *ctx)
{
	w->dir = -1;
	w->phase = PH_DONE;           /* a step after a failed start: done */
	w->changed = 0;
	w->root = open(maildir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->root < 0)
		return -1;
	if (bare_clock_gettime(CLOCK_REALTIME_COARSE, &w->start) != 0) {
		w->start.tv_sec = 0;          /* every change then counts */
		w->start.tv_nsec = 0;
	}
	w->sub = WALK_NEW;
	w->phase = PH_INBOX;
	w->changed = 0;
	w->root_off = w->root_len = 0;
	w->dir_off = w->dir_len = 0;
	w->folder[0] = '\0';
	w->fn = fn;
	w->ctx = ctx;
	return 0;
}

/* Moves to the next directory to read: 1 when w->dir is open, 0 when
 * there is none left, -1 on an error. */
static int next_dir(struct maildir_walk *w)
{
	for (;;) {
		int r;

		if (w->dir < 0 && w->sub <= WALK_CUR) {
			r = open_sub(w);
			w->sub++;
			if (r != 0)
				return r;
			continue;
		}
		if (w->dir >= 0)
			return 1;
		/* this folder (or the inbox) is done: the next folder */
		w->phase = PH_FOLDERS;
		r = next_folder(w);
		if (r <= 0)
			return r;
		w->sub = WALK_NEW;
	}
}

/* see maildir_walk.h */
int maildir_walk_step(struct maildir_walk *w, unsigned budget)
{
	int e;

	if (w->phase == PH_DONE)
		return 0;
	if (budget == 0)
		budget = 1;
	while (budget > 0) {
		const struct walk_record *r;
		int n;

		if (w->dir < 0) {
			n = next_dir(w);
			if (n < 0)
				goto fail;
			if (n == 0)
				return finish(w);
		}
		if (w->dir_off >= w->dir_len) {
			long got = read_records(w->dir, w->dir_buf,
			                        sizeof w->dir_buf);

			if (got < 0)
				goto fail;
			if (got == 0) {
				close_fd(&w->dir);
				continue;
			}
			w->dir_off = 0;
			w->dir_len = got;
		}
		r = (const void *)(w->dir_buf + w->dir_off);
		w->dir_off += r->reclen;
		budget--;
		if (r->name[0] == '.' && (r->name[1] == '\0'
		    || (r->name[1] == '.' && r->name[2] == '\0')))
			continue;
		/* w->sub already points past the directory being read */
		n = (int)w->fn(w->ctx, w->dir, w->folder, w->sub - 1, r->name,
		               r->type);
		budget = (unsigned)n >= budget ? 0 : budget - (unsigned)n;
	}
	return 1;
fail:
	e = errno;
	maildir_walk_stop(w);
	w->phase = PH_DONE;
	errno = e;
	return -1;
}

/* see maildir_walk.h */
void maildir_walk_stop(struct maildir_walk *w)
{
	close_fd(&w->dir);
	close_fd(&w->root);
}
