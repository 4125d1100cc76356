/*
 * setgroups(2), setgid(2), setuid(2) and setrlimit(2) as the bare system
 * calls, for a process with one thread; see single_thread.c.  And
 * getrlimit(2), to match.
 */
#ifndef MAILNOOK_SINGLE_THREAD_H
#define MAILNOOK_SINGLE_THREAD_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* As the C library's calls of the same names: 0, or -1 with errno set. */
int st_setgroups(size_t n, const gid_t *groups);
int st_setgid(gid_t gid);
int st_setuid(uid_t uid);
int st_setrlimit(int resource, const struct rlimit *rl);
/* Not a process-wide call, but the bare prlimit64 as st_setrlimit(): the
 * C library's getrlimit() adds a fallback for kernels without it (before
 * 2.6.36), which st_setrlimit() needs anyway. */
int st_getrlimit(int resource, struct rlimit *rl);
/* Closes every descriptor from first on: close_range(2) (Linux 5.9) as a
 * raw system call, since older glibc and musl may not wrap it; where it
 * fails (an older kernel: ENOSYS, a seccomp filter: EPERM), one close()
 * per descriptor up to the RLIMIT_NOFILE limit. */
void st_close_from(unsigned first);
/* fork(2) without the C library's atfork handlers and lock resets, which
 * only a process with threads or atfork handlers needs: musl's fork()
 * brings 1.4 KiB of them into a static build.  _Fork() (POSIX 2024; musl
 * 1.2.3, glibc 2.34) still keeps the child's thread id right. */
pid_t st_fork(void);

#endif
