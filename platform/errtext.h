/*
 * Texts of the errno values mailnook can meet, in musl's wording.
 *
 * musl's strerror() carries a table of every errno (2.2 KiB of a static
 * binary); mailnook prints errno texts only for the system calls it makes
 * (files, sockets, processes, locks), so with musl strerror.c defines
 * strerror() itself over this shorter table, and the C library's drops
 * out of the link.  (Two files: t_errtext links errtext.o alone and
 * compares the table with the C library's own strerror().)  The logs read as before for every errno listed in
 * errtext.c; any other prints as "error N" (musl: "No error information").
 * With glibc (and uClibc, which defines __GLIBC__ too) the C library's
 * strerror() stays: there it costs no space in the binary.
 */
#ifndef MAILNOOK_ERRTEXT_H
#define MAILNOOK_ERRTEXT_H

/* The text for e: the table's, else "error N" in a static buffer that the
 * next call for an unlisted errno overwrites (single thread). */
const char *errtext(int e);

#endif
