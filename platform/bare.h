/*
 * pipe2, accept4 and socket as the bare system calls, on the architectures
 * mailnook is built for.  musl's wrappers add fallbacks for kernels before
 * 2.6.27/2.6.28, which lacked these calls or their CLOEXEC/NONBLOCK flags
 * (pipe + fcntl, accept + fcntl; about 0.6 KiB of a static build), and
 * mailnook needs 2.6.36 anyway (prlimit64, single_thread.c).  Elsewhere
 * (i386 and others, where the C library may go through socketcall) the C
 * library's calls stay.  As those: the descriptor (0 for bare_pipe2), or
 * -1 with errno set.
 */
#ifndef MAILNOOK_BARE_H
#define MAILNOOK_BARE_H

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__aarch64__) || defined(__arm__) || \
    defined(__mips__) || defined(__riscv)
static inline int bare_pipe2(int fd[2], int flags)
{
	return (int)syscall(SYS_pipe2, fd, flags);
}

static inline int bare_accept4(int fd, struct sockaddr *sa, socklen_t *len,
                               int flags)
{
	return (int)syscall(SYS_accept4, fd, sa, len, flags);
}

static inline int bare_socket(int domain, int type, int protocol)
{
	return (int)syscall(SYS_socket, domain, type, protocol);
}
#else
#define bare_pipe2 pipe2
#define bare_accept4 accept4
#define bare_socket socket
#endif

/* clock_gettime(2) without the vDSO: musl's lookup of it (the ELF symbol
 * parser in __vdsosym) is about 1 KiB of a static build, for reads that
 * cost a system call's 0.1 to 0.5 us instead of 20 ns, a few per loop
 * turn beside its poll(), recv() and write() (and an fsync per message).
 * Only where struct timespec is the kernel's (64-bit time_t, one
 * clock_gettime call); 32-bit ABIs need clock_gettime64 and keep the C
 * library's.  0, or -1 with errno set. */
#if (defined(__x86_64__) && !defined(__ILP32__)) || defined(__aarch64__) || \
    (defined(__riscv) && __riscv_xlen == 64) || defined(__mips64)
static inline int bare_clock_gettime(clockid_t id, struct timespec *ts)
{
	return (int)syscall(SYS_clock_gettime, id, ts);
}
#else
#define bare_clock_gettime clock_gettime
#endif

/* fstatat(2) and fstat(2) as the bare system calls where the kernel's
 * struct stat is the C library's own (x86_64, 144 bytes; aarch64 and
 * riscv64, the generic 128): musl's copy from its struct kstat and its
 * fallback through /proc for O_PATH descriptors, which mailnook never
 * stats, are 0.7 KiB of a static build.  Elsewhere the C library's.  As
 * those: 0, or -1 with errno set. */
#if (defined(__x86_64__) && !defined(__ILP32__)) || defined(__aarch64__) || \
    (defined(__riscv) && __riscv_xlen == 64)
#ifdef __x86_64__
_Static_assert(sizeof(struct stat) == 144, "the kernel's struct stat");
#else
_Static_assert(sizeof(struct stat) == 128, "the kernel's struct stat");
#endif
static inline int bare_fstatat(int fd, const char *path, struct stat *st,
                               int flags)
{
	return (int)syscall(SYS_newfstatat, fd, path, st, flags);
}

static inline int bare_fstat(int fd, struct stat *st)
{
	return (int)syscall(SYS_fstat, fd, st);
}
#else
#define bare_fstatat fstatat
#define bare_fstat fstat
#endif

#endif
