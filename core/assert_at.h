/*
 * assert() that names the file and line of a failed check, not its
 * expression and function too: those texts were 1 KiB of a static build
 * (about 20 checks), and the line finds the check as well.  The check
 * itself stays in every build (no NDEBUG): most guard a buffer's bounds.
 * Failures go to the C library's __assert_fail name, which platform/log.c
 * defines for mailnook (logged, then SIGABRT).
 */
#ifndef MAILNOOK_ASSERT_AT_H
#define MAILNOOK_ASSERT_AT_H

#include <assert.h>

#ifndef NDEBUG
#undef assert
#define assert(x) \
	((void)((x) || (__assert_fail("", __FILE__, __LINE__, ""), 0)))
#endif

#endif
