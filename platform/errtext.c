#include "errtext.h"

#include <errno.h>
#include <string.h>

#include "fmt.h"

/* Why each is here, by the calls that can fail with it: open, read,
 * fstat, link, rename, mkdir of configuration files, Maildirs and the
 * pid file (EPERM to EDQUOT, ESTALE on NFS); fork, exec and pipes of the
 * on-delivery hook (E2BIG, ENOEXEC, ECHILD, ETXTBSY, EPIPE); socket,
 * bind, listen and accept (EADDRINUSE to ENOBUFS, EPROTO); flock and
 * setrlimit (ENOLCK, EOPNOTSUPP); anything (EINTR, ENOMEM, ENOSYS).
 * One list, so a code cannot drift from its text.  The codes are the C
 * library's constants: they differ between architectures (EDQUOT is 122
 * on x86 and 1133 on MIPS). */
#define ERRTEXTS(X) \
	X(EPERM, "Operation not permitted") \
	X(ENOENT, "No such file or directory") \
	X(EINTR, "Interrupted system call") \
	X(EIO, "I/O error") \
	X(ENXIO, "No such device or address") \
	X(E2BIG, "Argument list too long") \
	X(ENOEXEC, "Exec format error") \
	X(EBADF, "Bad file descriptor") \
	X(ECHILD, "No child process") \
	X(EAGAIN, "Resource temporarily unavailable") \
	X(ENOMEM, "Out of memory") \
	X(EACCES, "Permission denied") \
	X(EBUSY, "Resource busy") \
	X(EEXIST, "File exists") \
	X(EXDEV, "Cross-device link") \
	X(ENOTDIR, "Not a directory") \
	X(EISDIR, "Is a directory") \
	X(EINVAL, "Invalid argument") \
	X(ENFILE, "Too many open files in system") \
	X(EMFILE, "No file descriptors available") \
	X(ETXTBSY, "Text file busy") \
	X(EFBIG, "File too large") \
	X(ENOSPC, "No space left on device") \
	X(EROFS, "Read-only file system") \
	X(EMLINK, "Too many links") \
	X(EPIPE, "Broken pipe") \
	X(ENAMETOOLONG, "Filename too long") \
	X(ENOLCK, "No locks available") \
	X(ENOSYS, "Function not implemented") \
	X(ENOTEMPTY, "Directory not empty") \
	X(ELOOP, "Symbolic link loop") \
	X(EOVERFLOW, "Value too large for data type") \
	X(EPROTO, "Protocol error") \
	X(EOPNOTSUPP, "Not supported") \
	X(EAFNOSUPPORT, "Address family not supported by protocol") \
	X(EADDRINUSE, "Address in use") \
	X(EADDRNOTAVAIL, "Address not available") \
	X(ENETDOWN, "Network is down") \
	X(ECONNABORTED, "Connection aborted") \
	X(ENOBUFS, "No buffer space available") \
	X(ESTALE, "Stale file handle") \
	X(EDQUOT, "Quota exceeded")

#define ERRTEXT_CODE(e, t) e,
#define ERRTEXT_TEXT(e, t) t "\0"

static const unsigned short codes[] = { ERRTEXTS(ERRTEXT_CODE) };
/* the texts one after another, each ended by its NUL: no pointer table */
static const char texts[] = ERRTEXTS(ERRTEXT_TEXT);

const char *errtext(int e)
{
	static char other[24];
	const char *t = texts;
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		if (codes[i] == e)
			return t;
		t += strlen(t) + 1;
	}
	fmt_into(other, sizeof other, "error %d", e);
	return other;
}
