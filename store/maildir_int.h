/*
 * Private to store/: what maildir.c (files, messages), maildir_name.c
 * (unique names) and maildir_commit.c (the batch commit) share.
 */
#ifndef MAILNOOK_MAILDIR_INT_H
#define MAILNOOK_MAILDIR_INT_H

#include <sys/types.h>

#include "maildir.h"

/* Our tmp/ files are "mailnook.<unique>": maildir_clean_tmp() knows them. */
#define MAILDIR_TMP_PREFIX "mailnook."

/* The host part, escaped, at most this long: with the other fields at their
 * widest (78 octets) the unique part stays below MAILDIR_NAME_MAX. */
#define MAILDIR_HOST_MAX 64

/* "<unique>,S=<20 digits>,W=<20 digits>" and its NUL. */
#define MAILDIR_FINAL_MAX (MAILDIR_NAME_MAX + 46)

/* Writes a new unique part ("SECS.M<usec>P<pid>Q<n>R<hex>.HOST") into out.
 * Never blocks, never fails. */
void maildir_name_new(char out[MAILDIR_NAME_MAX]);

/* The name in new/: "<m->unique>,S=<m->size>,W=<m->size + m->lines>". */
void maildir_name_final(const struct maildir_msg *m,
                        char out[MAILDIR_FINAL_MAX]);

/* "mailnook.<unique>" and its NUL. */
#define MAILDIR_TMP_MAX (sizeof MAILDIR_TMP_PREFIX - 1 + MAILDIR_NAME_MAX)

/* out = "mailnook.<unique>", the name of a message in tmp/. */
void maildir_tmp_name(char out[MAILDIR_TMP_MAX], const char *unique);

/* Opens MAILDIR[/.FOLDER]/SUB with flags (O_PATH, or O_RDONLY to fsync or
 * read it).  A symbolic link in MAILDIR's own path is followed (that path
 * is the administrator's), none inside it: .FOLDER or SUB being a link is
 * ELOOP.  The fd, or -1 with errno set. */
int maildir_open_sub(const char *maildir, const char *folder,
                     const char *sub, int flags);

/* Creates "mailnook.UNIQUE" in the directory tmp exclusively, never
 * through a link, mode 0600 whatever the umask.  The fd, or -1 with errno
 * set (nothing left behind). */
int maildir_tmp_create(int tmp, const char *unique);

/* write(2)s all n bytes, through short writes and EINTR.  0, or -1 with
 * errno set. */
int maildir_write_all(int fd, const void *p, size_t n);

/* The shared body buffer (maildir.c): writes out whichever message's bytes
 * it holds; a failure becomes that message's error. */
void maildir_body_flush(void);

/* Writes out m's bytes if the buffer holds them; m's sticky result. */
int maildir_body_done(struct maildir_msg *m);

/* The body buffer as scratch space, emptied first (one thread: valid until
 * the next maildir_write()); its size goes to len. */
unsigned char *maildir_scratch(size_t *len);

/* Whether a kernel release string ("6.1.0-13-amd64") is at least
 * MAJOR.MINOR; 0 for anything that does not start with two numbers. */
int maildir_release_at_least(const char *release, long major, long minor);

/* The process umask, read once (platform/ sets it before serving). */
mode_t maildir_umask(void);

#endif
