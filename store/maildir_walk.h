/*
 * Private to store/: a walk over every message name of a Maildir -- new/
 * and cur/ of the inbox, then of every Maildir++ folder (".NAME"
 * directories of the Maildir) -- for the quota recalculation
 * (maildirsize.c) and for rotation and expiry (rotate.c).
 *
 * Fixed memory: the directories are read with getdents64(2) into two
 * buffers inside struct maildir_walk (one for the Maildir's own listing,
 * which finds the folders, one for the new/ or cur/ being read), never
 * opendir(3), and no name is kept beyond its callback.  Resumable: each
 * maildir_walk_step() handles at most `budget` entries and returns, with
 * the directories left open and their positions kept by the kernel, so
 * the event loop can run between slices of a 100,000-message Maildir.
 *
 * Races.  Another program (Dovecot moving new/ to cur/, deleting) may
 * change the Maildir during a walk, and a walk in slices lasts longer than
 * one done at once.  As Courier and Dovecot do for their recalculation,
 * the walk notes whether any new/ or cur/ it read was modified after the
 * walk began: at the end, every one of them is stat'ed again and compared
 * with the coarse clock reading (the clock file times come from) taken at
 * maildir_walk_start(), which catches what Dovecot's comparison of the
 * directories' own times misses (a rename from new/ to cur/ changes both
 * to the same time).  A change within the tick the walk began in is not
 * seen (1 to 10 ms; Dovecot's window is a second).  `changed` is then
 * set, and the caller should not trust the sums (maildirsize.h).
 *
 * Symbolic links are never followed inside the Maildir: a folder, new/ or
 * cur/ that is a link is skipped, as Courier skips them.
 */
#ifndef MAILNOOK_MAILDIR_WALK_H
#define MAILNOOK_MAILDIR_WALK_H

#include <dirent.h>     /* DT_* (the walk reads with getdents64, not readdir) */
#include <limits.h>
#include <time.h>

/* Which subdirectory an entry is in. */
enum { WALK_NEW = 0, WALK_CUR = 1 };

/* One entry of a new/ or cur/ (not "." or ".."): dir is that directory
 * (open, for fstatat/unlinkat), folder "" for the inbox or the folder's
 * name with its leading dot, type the getdents64 d_type (DT_UNKNOWN on
 * some file systems).  Returns what it cost beyond the one unit of budget
 * every entry takes (a stat call is dearer than a name). */
typedef unsigned (*maildir_walk_fn)(void *ctx, int dir, const char *folder,
                                int sub, const char *name,
                                unsigned char type);

struct maildir_walk {
	int root;                 /* the Maildir, O_RDONLY; -1 when closed */
	int dir;                  /* the new/ or cur/ being read; -1 */
	int sub;                  /* WALK_NEW or WALK_CUR of `folder` */
	int phase;                /* see maildir_walk.c */
	int changed;              /* set at the end: see above */
	long root_off, root_len;  /* unread records in root_buf */
	long dir_off, dir_len;    /* unread records in dir_buf */
	struct timespec start;    /* CLOCK_REALTIME_COARSE at the start */
	maildir_walk_fn fn;
	void *ctx;
	char folder[NAME_MAX + 1];
	_Alignas(8) unsigned char root_buf[2048];
	_Alignas(8) unsigned char dir_buf[8192];
};

/* Opens maildir and prepares a walk calling fn(ctx, ...) for each entry.
 * 0, or -1 with errno set (the Maildir cannot be opened). */
int maildir_walk_start(struct maildir_walk *w, const char *maildir,
                       maildir_walk_fn fn, void *ctx);

/* Reads up to budget entries (at least one).  1: more to come; 0: done
 * (w->changed is valid, every descriptor closed); -1 with errno set: a
 * directory could not be read (descriptors closed).  A missing new/, cur/
 * or folder (removed meanwhile) is no error. */
int maildir_walk_step(struct maildir_walk *w, unsigned budget);

/* Closes whatever the walk holds open; safe at any time, and again. */
void maildir_walk_stop(struct maildir_walk *w);

#endif
