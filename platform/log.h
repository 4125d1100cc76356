/*
 * Logging: one line per call, key=value style, never buffered in stdio and
 * never allocating.
 *
 *   foreground (-f): "2026-11-29T03:30:52Z mailnook[PID]: LINE\n" to stderr
 *                    with one write(2);
 *   detached:        to syslog (facility mail) through our own non-blocking
 *                    datagram socket on /dev/log when CONFIG_SYSLOG (glibc's
 *                    syslog() may block on a stalled /dev/log and, before
 *                    2.37, allocates); lines that cannot be sent at once are
 *                    dropped and counted, and the count is logged with the
 *                    next line that gets through; without CONFIG_SYSLOG,
 *                    nowhere.
 *
 * Limitation: in the foreground stderr stays blocking (making it
 * non-blocking would change the file description shared with the parent
 * shell), so a stalled terminal or pipe on stderr can stall the loop.
 */
#ifndef MAILNOOK_LOG_H
#define MAILNOOK_LOG_H

#include <stddef.h>

enum log_target {
	LOG_TO_STDERR = 0,   /* start-up default */
	LOG_TO_SYSLOG,
	LOG_TO_NOWHERE
};

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO
};

#define LOG_LINE_MAX 1024

/* Room for one client-chosen field of a log line (from=, to=, helo=),
 * escaped, "..." and NUL included.  The fields mailnook decides come first
 * and take at most about 170 octets on the message line (id 31, result,
 * reason 15, size 20 digits, nrcpt 10, ip 46, keys) and 320 on the session
 * line (ip, msgs, result, reason 63, duration, tls= and cipher= 127), so
 * two client fields of 255 (from=, to=) or one (helo=), or one more such
 * field later, still fit LOG_LINE_MAX: no client can push a fixed field
 * off a line. */
#define LOG_FIELD_MAX 256

/* Switches the destination; LOG_TO_SYSLOG opens the /dev/log socket (falls
 * back to nowhere without CONFIG_SYSLOG).  Call again after fork(): the pid
 * in the prefix is read here. */
void log_open(enum log_target t);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_err(...)  log_msg(LOG_LVL_ERR, __VA_ARGS__)

/* Copies client-supplied text for a log line: control characters, spaces,
 * '"', '\\' and octets above 0x7e become "\xNN" (so a value never splits a
 * key=value pair).  Text that does not fit dst[size] is cut after a whole
 * character (never inside a "\xNN") and ends in "...", all within size.
 * Returns dst. */
char *log_clean(char *dst, size_t size, const char *src);

/* Writes "mailnook: MESSAGE\n" to stderr (start-up errors, -t output). */
void log_stderr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Writes the text to stdout, all of it (--help, -V, -t): -1 when it could
 * not.  Up to LOG_LINE_MAX - 1 octets a call; not for the log. */
int log_stdout(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
