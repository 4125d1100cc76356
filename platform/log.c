#include "log.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bare.h"
#include "config.h"
#include "clock.h"
#include "fmt.h"
#include "text.h"

static enum log_target target = LOG_TO_STDERR;
static int syslog_fd = -1;
static unsigned long dropped;
static long pid;

/* All of p[0..n), over short writes and EINTR; -1 on any other error. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void syslog_connect(void)
{
	struct sockaddr_un sun;

	if (syslog_fd >= 0)
		close(syslog_fd);
	syslog_fd = bare_socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (syslog_fd < 0)
		return;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, "/dev/log", sizeof "/dev/log");
	if (connect(syslog_fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		close(syslog_fd);
		syslog_fd = -1;
	}
}

void log_open(enum log_target t)
{
	pid = (long)getpid();
	if (t == LOG_TO_SYSLOG && !CFG_SYSLOG)
		t = LOG_TO_NOWHERE;
	target = t;
	if (CFG_SYSLOG && t == LOG_TO_SYSLOG)
		syslog_connect();
}

static int send_syslog(const char *line, size_t n)
{
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (syslog_fd < 0)
			syslog_connect();
		if (syslog_fd < 0)
			return -1;
		if (send(syslog_fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return -1;
		/* syslogd restarted (ECONNREFUSED, ENOTCONN): reconnect once */
		close(syslog_fd);
		syslog_fd = -1;
	}
	return -1;
}

static void emit(enum log_level lvl, const char *msg)
{
	char line[LOG_LINE_MAX + 128];
	struct text_date d;
	size_t n;

	if (target == LOG_TO_NOWHERE)
		return;
	if (target == LOG_TO_STDERR) {
		text_date(clock_wall(), &d);
		n = fmt_into(line, sizeof line,
		             "%04lld-%02u-%02uT%02u:%02u:%02uZ mailnook[%ld]: %s\n",
		             (long long)d.year, d.mon, d.mday, d.hour, d.min,
		             d.sec, pid, msg);
		if (n >= sizeof line) {
			n = sizeof line - 1;
			line[n - 1] = '\n';
		}
		(void)write_all(STDERR_FILENO, line, n);
		return;
	}
	if (!CFG_SYSLOG)        /* log_open() made it LOG_TO_NOWHERE */
		return;
	{
		/* facility mail (2 << 3), severity err 3 / warning 4 / info 6.
		 * No TIMESTAMP: the syslog daemon stamps the line when it
		 * arrives (RFC 3164 4.3.2), in its own time zone; local time
		 * here would bring the time zone code (and malloc) into a
		 * static binary for nothing. */
		int pri = 16 + (lvl == LOG_LVL_ERR ? 3 : lvl == LOG_LVL_WARN ? 4 : 6);

		if (dropped) {
			char note[96];
			size_t m;

			m = fmt_into(note, sizeof note,
			             "<%d>mailnook[%ld]: %lu log lines dropped",
			             16 + 4, pid, dropped);
			if (m < sizeof note && send_syslog(note, m) == 0)
				dropped = 0;
		}
		n = fmt_into(line, sizeof line, "<%d>mailnook[%ld]: %s", pri,
		             pid, msg);
		if (n >= sizeof line)
			n = sizeof line - 1;
		if (send_syslog(line, n) != 0)
			dropped++;
	}
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	(void)fmt_vinto(msg, sizeof msg, fmt, ap);
	va_end(ap);
	emit(lvl, msg);
	errno = saved;
}

void log_stderr(const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;
	size_t n;
	int saved = errno;

	memcpy(msg, "mailnook: ", 10);
	va_start(ap, fmt);
	n = fmt_vinto(msg + 10, sizeof msg - 11, fmt, ap);
	va_end(ap);
	if (n > sizeof msg - 12)
		n = sizeof msg - 12;
	msg[10 + n] = '\n';
	(void)write_all(STDERR_FILENO, msg, 11 + n);
	errno = saved;
}

int log_stdout(const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = fmt_vinto(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n >= sizeof msg)
		n = sizeof msg - 1;
	return write_all(STDOUT_FILENO, msg, n);
}

char *log_clean(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, keep = 0;

	if (size < 4) {                 /* no room for "..." */
		if (size)
			dst[0] = '\0';
		return dst;
	}
	for (; src && *src; src++) {
		unsigned char c = (unsigned char)*src;
		size_t k = c > 0x20 && c < 0x7f && c != '"' && c != '\\' ? 1 : 4;

		if (o + k >= size) {
			/* cut after the last whole character that leaves
			 * room for the mark: never inside a \xNN */
			memcpy(dst + keep, "...", 4);
			return dst;
		}
		if (k == 1) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
		if (o + 3 < size)
			keep = o;
	}
	dst[o] = '\0';
	return dst;
}

/* assert() without stdio: the C library's own __assert_fail prints with
 * fprintf, which would bring all of stdio (about 12 KiB of a static musl
 * binary) back for this one message.  Logged like any error, so it also
 * reaches syslog when detached. */
#ifdef __GLIBC__
void __assert_fail(const char *expr, const char *file, unsigned line,
                   const char *func)
#else
void __assert_fail(const char *expr, const char *file, int line,
                   const char *func)
#endif
{
	/* mailnook's checks (core/assert_at.h) pass "" for the expression
	 * and the function: the file and line name them */
	(void)expr;
	(void)func;
	log_err("assertion failed at %s:%d", file, (int)line);
	abort();
}
