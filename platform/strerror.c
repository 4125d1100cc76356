/*
 * strerror() over errtext.c's table, with musl only: see errtext.h.  The
 * C library's strerror() is then never asked for, and a static link leaves
 * out its table of every errno (2.2 KiB).
 */
#include <string.h>

#include "errtext.h"

#ifndef __GLIBC__
char *strerror(int e)
{
	return (char *)errtext(e);
}
#else
/* glibc, uClibc: the C library's; an empty file is not valid C */
typedef int mailnook_strerror_is_the_c_librarys;
#endif
