/* A small printf for mailnook's own messages, so the binary links none of
 * the C library's stdio (in a static musl build vfprintf and its buffers
 * are about 12 KiB).  Pure string code: core/ and everything above use it.
 *
 * Conversions: %d %u %x with the length modifiers l and ll, %zu %zx,
 * %s, %c and %%; flags '-' (left-justify) and '0' (zero-pad
 * numbers), and a decimal field width.  No precision, no '*', no floating
 * point: the format attribute makes gcc check every call, and a
 * conversion outside this list prints as '?' and ends the output.
 * %s of NULL prints "(null)". */
#ifndef MAILNOOK_FMT_H
#define MAILNOOK_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Writes into buf[size], cut to fit and always NUL-terminated when size
 * > 0 (buf may be NULL when size is 0).  Returns the length the whole
 * output would have, as snprintf does (never negative), so
 * `fmt_into(...) >= size` means it was cut. */
size_t fmt_vinto(char *buf, size_t size, const char *f, va_list ap);
size_t fmt_into(char *buf, size_t size, const char *f, ...)
	__attribute__((format(printf, 3, 4)));

#endif
