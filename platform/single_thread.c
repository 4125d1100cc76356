/*
 * POSIX makes setgroups, setgid, setuid and setrlimit act on the whole
 * process; Linux's system calls act on the calling thread only.  So the
 * C library runs them on every thread in turn: musl's __synccall signals
 * each thread and waits on semaphores under a lock, about 1.9 KiB of a
 * static build (glibc does the same in its setxid code).  mailnook has
 * one thread (one process, one poll() loop, by design), and for that one
 * thread the bare system call is the whole effect.  Were a thread ever
 * added, these calls would have to go back to the C library's.
 */
#include "single_thread.h"

#include <limits.h>

#include <sys/syscall.h>
#include <unistd.h>

/* 32-bit ABIs that began with 16-bit ids (arm, i386, m68k, ...) keep the
 * old numbers for the plain names: the ...32 calls take full ids.  The C
 * library maps them itself; a bare syscall() must choose. */
#ifdef SYS_setgroups32
#define NR_SETGROUPS SYS_setgroups32
#else
#define NR_SETGROUPS SYS_setgroups
#endif
#ifdef SYS_setgid32
#define NR_SETGID SYS_setgid32
#else
#define NR_SETGID SYS_setgid
#endif
#ifdef SYS_setuid32
#define NR_SETUID SYS_setuid32
#else
#define NR_SETUID SYS_setuid
#endif

int st_setgroups(size_t n, const gid_t *groups)
{
	return syscall(NR_SETGROUPS, n, groups) == 0 ? 0 : -1;
}

int st_setgid(gid_t gid)
{
	return syscall(NR_SETGID, gid) == 0 ? 0 : -1;
}

int st_setuid(uid_t uid)
{
	return syscall(NR_SETUID, uid) == 0 ? 0 : -1;
}

/* prlimit64 on every architecture: it takes two 64-bit values, which is
 * struct rlimit with musl and with glibc's _FILE_OFFSET_BITS=64 (the
 * Makefile sets it) on 32-bit targets too. */
_Static_assert(sizeof(rlim_t) == 8, "struct rlimit is two 64-bit values");

int st_setrlimit(int resource, const struct rlimit *rl)
{
	return syscall(SYS_prlimit64, 0, resource, rl, NULL) == 0 ? 0 : -1;
}

int st_getrlimit(int resource, struct rlimit *rl)
{
	return syscall(SYS_prlimit64, 0, resource, NULL, rl) == 0 ? 0 : -1;
}

void st_close_from(unsigned first)
{
	struct rlimit rl;
	long k, max = 1024;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, first, ~0u, 0u) == 0)
		return;
#endif
	if (st_getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < INT_MAX)
		max = (long)rl.rlim_cur;
	for (k = (long)first; k < max; k++)
		(void)close((int)k);
}

pid_t st_fork(void)
{
	return _Fork();
}
