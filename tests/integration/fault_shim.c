/*
 * EIO on demand, for t72-faults.t: an LD_PRELOAD library that makes
 * fsync(2) fail with EIO while the file named by $MAILNOOK_FAULT exists.
 * Its content says which fsync:
 *
 *   "file"  a message file (a path containing "/tmp/mailnook.")
 *   "dir"   a directory (new/ after the links)
 *
 * and two that fail nothing but take their time (t84-large.t), an fsync
 * of a directory sleeping first:
 *
 *   "slowdir"  2 s
 *   "hangdir"  30 s (the test kills the process meanwhile)
 *
 * No device-mapper "error" target is needed, and the test switches the
 * fault on and off while the server runs.  Built by the test itself:
 *   cc -shared -fPIC -o fault_shim.so fault_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsync(int fd);

static int fault_kind(char *kind, size_t size)
{
	const char *flag = getenv("MAILNOOK_FAULT");
	ssize_t n;
	int f;

	if (!flag)
		return 0;
	f = open(flag, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	n = read(f, kind, size - 1);
	close(f);
	if (n <= 0)
		return 0;
	kind[n] = '\0';
	return 1;
}

int fsync(int fd)
{
	static int (*real)(int);
	char kind[16], link[64], path[4096];
	struct stat st;
	ssize_t n;

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (fault_kind(kind, sizeof kind) && fstat(fd, &st) == 0) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof path - 1);
		path[n > 0 ? n : 0] = '\0';
		if (S_ISDIR(st.st_mode) && strncmp(kind, "slowdir", 7) == 0)
			sleep(2);
		if (S_ISDIR(st.st_mode) && strncmp(kind, "hangdir", 7) == 0)
			sleep(30);
		if ((strncmp(kind, "file", 4) == 0 && S_ISREG(st.st_mode) &&
		     strstr(path, "/tmp/mailnook.")) ||
		    (strncmp(kind, "dir", 3) == 0 && S_ISDIR(st.st_mode))) {
			errno = EIO;
			return -1;
		}
	}
	return real ? real(fd) : 0;
}
