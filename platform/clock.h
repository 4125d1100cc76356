/*
 * Time and identifiers for platform/.  core/ never reads a clock: the loop
 * reads these and passes them in.
 */
#ifndef MAILNOOK_CLOCK_H
#define MAILNOOK_CLOCK_H

#include <stdint.h>

#include "sink.h"       /* SMTP_ID_MAX */

/* Seeds the id generator from getrandom() (or the pid and time when that
 * fails).  Once, at start-up. */
void clock_init(void);

/* Monotonic time in seconds / milliseconds (CLOCK_MONOTONIC). */
int64_t clock_mono(void);
int64_t clock_mono_ms(void);

/* UNIX time in seconds. */
int64_t clock_wall(void);

/* A message id: 16 characters of [0-9A-Za-z], NUL-terminated.  8 encode the
 * wall clock in milliseconds, 4 a per-process counter, 4 a random value
 * chosen at start-up: unique within the process (the counter cannot wrap
 * within one millisecond) and, through the random part, across restarts
 * even when the clock is set back. */
void clock_make_id(char id[SMTP_ID_MAX]);

#endif
