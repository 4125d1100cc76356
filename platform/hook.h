/*
 * The delivery hook (contract section 8): on-delivery=PROGRAM[,ARG...] runs
 * once for each file stored, after its 250 went out.  It never feeds back
 * into a reply: a hook that fails, hangs or is missing loses no mail.
 *
 * Memory is fixed: CFG_HOOK_MAX run slots and a queue of HOOK_QUEUE_MAX
 * pending runs whose environments are packed into one HOOK_QUEUE_BYTES
 * ring (prefaulted when a hook is configured).  Nothing is allocated per
 * run: the child is started with vfork()+execve() straight from the
 * argument vector (never a shell), with an environment built from
 * sanitised values in that ring.  The child gets stdin /dev/null, its
 * stdout and stderr on one pipe read here without blocking, its own
 * process group (so the timeout kills what it started too), default
 * signal dispositions and an empty signal mask.
 *
 * Events, all from the caller's poll() loop:
 *
 *   hook_init()              once, at start-up, after the descriptors
 *                            inherited are closed and after detaching:
 *                            /dev/null, the SIGCHLD self-pipe and its
 *                            handler (a poll() may then end in EINTR);
 *   hook_configure(p)        at start-up and after each reload: the
 *                            program, on-delivery-max, the timeout; runs
 *                            already started keep theirs, queued ones take
 *                            the new ones;
 *   hook_queue(job, now)     a file is durable and its 250 has gone out:
 *                            start at once when a slot is free, otherwise
 *                            queue; a full queue skips it.  With
 *                            job->hold set, the 250 is answered but not
 *                            all written yet: the entry is queued (its
 *                            values copied now) and waits for
 *                            hook_release(hold), letting later entries
 *                            pass;
 *   hook_release(hold, now)  everything queued with that hold may start;
 *   hook_pollfds(pfd, room)  before poll(): the SIGCHLD pipe and the
 *                            output pipes, all POLLIN;
 *   hook_poll_ready(pfd, n, now)  after poll(): the same entries with
 *                            their revents: reads output, reaps children,
 *                            starts queued runs;
 *   hook_deadline_ms()       the next time hook_tick() has work (a kill);
 *   hook_tick(now)           every turn of the loop: kills runs past the
 *                            timeout, reaps, starts queued runs (also a
 *                            safety net for a lost SIGCHLD byte; it costs
 *                            one waitpid(WNOHANG) per running hook);
 *   hook_stop_begin(now)     SIGTERM: drops the queue (a waiting hook is
 *                            never run later) and gives running hooks
 *                            HOOK_STOP_MS (or stop_ms); the loop may go
 *                            on polling;
 *   hook_stop()              before exit: waits (its own poll) for the
 *                            rest of that time, then kills and reaps.
 *
 * Log lines go through the caller's callback, fixed fields first:
 *
 *   hook=exit:N id=ID file=FILE duration=Ms            ok when N is 0
 *   hook=killed id=ID file=FILE duration=Ms reason=timeout|shutdown|signal:N
 *   hook=failed id=ID file=FILE error=TEXT             could not start
 *   hook=skipped id=ID file=FILE reason=queue-full|shutdown|too-long
 *   hook=output id=ID TEXT                             one line of its
 *        stdout/stderr: the first HOOK_LINE_MAX octets, control and
 *        non-ASCII octets as \xNN, at most HOOK_LINES_MAX per run (the
 *        rest is read and dropped)
 *
 * Outcomes (mailnook_hooks_total{result=...}): ok (exit 0), failed (exit
 * non-zero, or could not start), killed (timeout, shutdown, or died of a
 * signal), skipped.
 *
 * Descriptors: one /dev/null and the two ends of the SIGCHLD pipe for good,
 * and one per running hook (two for the moment of a start): RLIMIT_NOFILE
 * must leave room for HOOK_FDS.  Every other descriptor of mailnook must be
 * O_CLOEXEC, or the hook inherits it.
 *
 * With CONFIG_HOOK=n every call is an empty inline function and hook.c
 * compiles to nothing.
 */
#ifndef MAILNOOK_HOOK_H
#define MAILNOOK_HOOK_H

#include <poll.h>
#include <stdint.h>

#include "config.h"

#define HOOK_QUEUE_MAX   64     /* pending runs (contract section 8) */
#define HOOK_QUEUE_BYTES 32768  /* their environments, packed */
#define HOOK_LINE_MAX    200    /* octets of one output line logged */
#define HOOK_LINES_MAX   10     /* output lines logged per run */
#define HOOK_STOP_MS     10000  /* running hooks' grace at SIGTERM */
#define HOOK_ARGS_MAX    16     /* PROGRAM and its ARGs */
#define HOOK_ARGV_BYTES  1024   /* their text, NULs included */
#define HOOK_VALUE_MAX   255    /* a client's value in the environment */
#define HOOK_PATH_MAX    640    /* MAILNOOK_FILE, MAILNOOK_MAILDIR */
#define HOOK_ID_MAX      32     /* as SMTP_ID_MAX */
#define HOOK_NFDS        (1 + CFG_HOOK_MAX)  /* hook_pollfds() room */
#define HOOK_FDS         (3 + CFG_HOOK_MAX + 1)

/* Pointers are read during hook_queue() only: the values are copied. */
struct hook_job {
	const char *file;       /* absolute path of the file in new/ */
	const char *maildir;    /* the Maildir it went to */
	const char *mailbox;    /* the mailbox address */
	const char *recipient;  /* the address the client gave, first one
	                           for that mailbox */
	const char *sender;     /* "" for <> */
	uint64_t size;
	const char *id;         /* the message id of the log */
	const char *client_ip;
	const char *helo;
	const char *auth;       /* "" (or NULL) without checked AUTH */
	const void *hold;       /* NULL, or wait for hook_release(hold) */
};

struct hook_params {
	/* PROGRAM (absolute path), ARG..., NULL; NULL or argv[0] NULL: no
	 * hook.  Copied. */
	const char *const *argv;
	unsigned max;           /* on-delivery-max; capped at CFG_HOOK_MAX */
	unsigned timeout_s;     /* on-delivery-timeout */
	unsigned stop_ms;       /* grace at SIGTERM; 0: HOOK_STOP_MS */
	/* one log line, NUL-terminated, no newline (log_info's "%s") */
	void (*log)(const char *line);
};

enum hook_result {
	HOOK_OK = 0,
	HOOK_FAILED,
	HOOK_KILLED,
	HOOK_SKIPPED,
	HOOK_RESULT_N
};

#if CFG_HOOK

/* /dev/null, the SIGCHLD self-pipe (O_NONBLOCK, O_CLOEXEC) and the
 * SIGCHLD handler (SA_RESTART | SA_NOCLDSTOP).  Once.  0, or -1 with errno
 * set. */
int hook_init(void);

/* Takes the program and limits for runs started from now on.  -1 (and
 * EINVAL or E2BIG) when argv[0] is not an absolute path, or there are more
 * than HOOK_ARGS_MAX arguments or HOOK_ARGV_BYTES of them: the previous
 * settings stay. */
int hook_configure(const struct hook_params *p);

/* A file was stored and answered: starts or queues its run.  0 (also when
 * no hook is configured), or -1 when it was skipped (logged and counted). */
int hook_queue(const struct hook_job *job, int64_t now_ms);

/* Fills pfd[0..n) (n <= room, room >= HOOK_NFDS for all of them) with
 * POLLIN entries; returns n. */
unsigned hook_pollfds(struct pollfd *pfd, unsigned room);

/* The entries hook_pollfds() gave, after poll() set their revents. */
void hook_poll_ready(const struct pollfd *pfd, unsigned n, int64_t now_ms);

/* Monotonic milliseconds at which hook_tick() must next run, INT64_MAX
 * when no run is going. */
int64_t hook_deadline_ms(void);

void hook_tick(int64_t now_ms);

/* Runs going on, and runs waiting in the queue (held ones included). */
unsigned hook_running(void);
unsigned hook_waiting(void);

/* Entries queued with this hold may start now; and how many wait for
 * it. */
void hook_release(const void *hold, int64_t now_ms);
unsigned hook_held(const void *hold);

/* Counted outcomes since start-up. */
uint64_t hook_total(enum hook_result r);

void hook_stop_begin(int64_t now_ms);
void hook_stop(void);

#else

static inline int hook_init(void) { return 0; }
static inline int hook_configure(const struct hook_params *p)
{
	(void)p;
	return 0;
}
static inline int hook_queue(const struct hook_job *job, int64_t now_ms)
{
	(void)job;
	(void)now_ms;
	return 0;
}
static inline unsigned hook_pollfds(struct pollfd *pfd, unsigned room)
{
	(void)pfd;
	(void)room;
	return 0;
}
static inline void hook_poll_ready(const struct pollfd *pfd, unsigned n,
                                   int64_t now_ms)
{
	(void)pfd;
	(void)n;
	(void)now_ms;
}
static inline int64_t hook_deadline_ms(void) { return INT64_MAX; }
static inline void hook_tick(int64_t now_ms) { (void)now_ms; }
static inline unsigned hook_running(void) { return 0; }
static inline unsigned hook_waiting(void) { return 0; }
static inline void hook_release(const void *hold, int64_t now_ms)
{
	(void)hold;
	(void)now_ms;
}
static inline unsigned hook_held(const void *hold)
{
	(void)hold;
	return 0;
}
static inline uint64_t hook_total(enum hook_result r)
{
	(void)r;
	return 0;
}
static inline void hook_stop_begin(int64_t now_ms) { (void)now_ms; }
static inline void hook_stop(void) {}

#endif

#endif
