/*
 * platform/errtext.c: the errno texts mailnook's static musl build prints
 * instead of the C library's strerror().  Built with musl (e.g.
 * `musl-gcc -Icore -Iplatform -Itests tests/unit/t_errtext.c
 * platform/errtext.c core/fmt.c`), every text is compared with musl's own,
 * so that the logs read the same; with glibc, whose wording differs in
 * places ("Address already in use"), a few are checked as written.
 */
#include <errno.h>
#include <string.h>

#include "errtext.h"
#include "tap.h"

/* every errno errtext.c lists, as the table there */
static const int listed[] = {
	EPERM, ENOENT, EINTR, EIO, ENXIO, E2BIG, ENOEXEC, EBADF, ECHILD,
	EAGAIN, ENOMEM, EACCES, EBUSY, EEXIST, EXDEV, ENOTDIR, EISDIR, EINVAL,
	ENFILE, EMFILE, ETXTBSY, EFBIG, ENOSPC, EROFS, EMLINK, EPIPE,
	ENAMETOOLONG, ENOLCK, ENOSYS, ENOTEMPTY, ELOOP, EOVERFLOW, EPROTO,
	EOPNOTSUPP, EAFNOSUPPORT, EADDRINUSE, EADDRNOTAVAIL, ENETDOWN,
	ECONNABORTED, ENOBUFS, ESTALE, EDQUOT,
};

int main(void)
{
	char want[32];
	size_t i;
	int e;

	for (i = 0; i < sizeof listed / sizeof listed[0]; i++) {
		const char *t = errtext(listed[i]);

		ok(strncmp(t, "error ", 6) != 0 && *t, "errno %d is listed (%s)",
		   listed[i], t);
#ifndef __GLIBC__
		is_str(t, strerror(listed[i]), "errno %d: musl's wording",
		       listed[i]);
#endif
	}
	/* a code and its text cannot drift apart: each text is its own */
	is_str(errtext(ENOENT), "No such file or directory", "ENOENT");
	is_str(errtext(EACCES), "Permission denied", "EACCES");
	is_str(errtext(EADDRINUSE), "Address in use", "EADDRINUSE, musl's words");
	is_str(errtext(EDQUOT), "Quota exceeded", "EDQUOT, the last");
	is_str(errtext(EPERM), "Operation not permitted", "EPERM, the first");
	is_str(errtext(ENOSPC), "No space left on device", "ENOSPC");

	/* anything else: "error N", as a number */
	is_str(errtext(0), "error 0", "0 is not an error: its number");
	is_str(errtext(EDOM), "error 33", "EDOM is not listed");
	is_str(errtext(-5), "error -5", "negative");
	is_str(errtext(100000), "error 100000", "out of any range");
	for (e = 1; e < 200; e++) {
		const char *t = errtext(e);

		if (strncmp(t, "error ", 6) != 0)
			continue;
		for (i = 0; i < sizeof listed / sizeof listed[0]; i++)
			if (listed[i] == e)
				break;
		snprintf(want, sizeof want, "error %d", e);
		if (i < sizeof listed / sizeof listed[0] || strcmp(t, want) != 0) {
			ok(0, "errno %d: %s", e, t);
			break;
		}
	}
	ok(e == 200, "unlisted errnos 1-199 are \"error N\", listed ones text");
	return tap_done();
}
