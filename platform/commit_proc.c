/*
 * The commit process: large group commits made durable beside the loop.
 *
 * With one thread, receiving and committing take turns: the disk is idle
 * while a batch is read and every session waits while it is flushed, so
 * large messages reached about 1/(1/protocol + 1/storage) of either rate
 * (bench/RESULTS.md, "Large messages").  Here a child forked once at
 * start-up (after privileges are dropped) runs maildir_commit_batch() --
 * syncfs or fsyncs, links, fsync of each new/, removal of the tmp/ names --
 * for batches the loop sends it, while the loop goes on receiving.  The
 * 250s are sent when its results come back: the promise (250 only once the
 * message is durable in every new/) is the same, only who waits for the
 * disk has changed.
 *
 * A request is one SOCK_SEQPACKET message: the count, then per message its
 * size, bare-LF count and unique name and its destinations' Maildir and
 * folder names, with its file and its tmp/ directory as descriptors
 * (SCM_RIGHTS).  Passing the descriptors, not names, matters: the child's
 * fsync and sync_file_range() then report the writeback errors since the
 * loop opened the file (errseq is per open file description), as the
 * loop's own calls would.  The answer is one result per message.
 *
 * The child holds nothing else: every other descriptor is closed (the
 * listeners above all: a stopping server must refuse connections), signals
 * are blocked (it ends when the loop's end of the socket closes, after the
 * loop or when it dies), and it writes nothing but its batches' files.
 * Forking once costs 0.5 ms here; forking per batch cost more than the
 * flush it saved (page tables and copy-on-write in a VM).  A child that
 * dies leaves its batch to the loop (maildir_commit_undo: answered 451)
 * and later commits in the loop, as does a batch that does not fit one
 * request.
 */
#include "commit_proc.h"

#if CFG_COMMIT_CHILD
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "single_thread.h"

/* two descriptors a message, within SCM_MAX_FD (253) */
#define PROC_MAX_MSGS (CFG_MAX_SESSIONS < 64 ? CFG_MAX_SESSIONS : 64)
#define PROC_WIRE_MAX 32768

struct wire_msg {
	uint64_t size;
	uint64_t lines;
	uint32_t n_dest;
	char unique[MAILDIR_NAME_MAX];
};

static pid_t proc = -1;
static int sock = -1;           /* the loop's end */
static size_t out_n;            /* messages of the batch sent, 0: none */

/* one request at a time, in either process */
static unsigned char wire[PROC_WIRE_MAX];
static union {
	struct cmsghdr h;
	unsigned char b[CMSG_SPACE(2 * PROC_MAX_MSGS * sizeof(int))];
} ctl;

/* ---- the child ----------------------------------------------------------- */

static struct maildir_msg child_msg[PROC_MAX_MSGS];
static struct maildir_msg *child_ptr[PROC_MAX_MSGS];
static int child_result[PROC_MAX_MSGS];

/* A NUL-terminated string at wire[*at..len), *at moved past it. */
static const char *take_str(size_t *at, size_t len)
{
	const char *s = (const char *)wire + *at;
	const void *nul = memchr(s, '\0', len - *at);

	if (!nul)
		return NULL;
	*at += (size_t)((const char *)nul - s) + 1;
	return s;
}

/* The request in wire[0..len), n messages by its first word, as
 * child_msg[]; n, or 0 when it is malformed. */
static size_t decode(size_t len, uint32_t n, const int *fds, size_t n_fds)
{
	size_t at = sizeof n, i, j;

	if (len < sizeof n || n == 0 || n > PROC_MAX_MSGS
	    || n_fds != 2 * (size_t)n)
		return 0;
	for (i = 0; i < n; i++) {
		struct maildir_msg *m = &child_msg[i];
		struct wire_msg w;

		if (len - at < sizeof w)
			return 0;
		memcpy(&w, wire + at, sizeof w);
		at += sizeof w;
		if (w.n_dest == 0 || w.n_dest > MAILDIR_MAX_DEST)
			return 0;
		m->fd = fds[2 * i];
		m->tmp_dir = fds[2 * i + 1];
		m->error = SINK_OK;
		m->size = w.size;
		m->lines = w.lines;
		m->n_dest = w.n_dest;
		memcpy(m->unique, w.unique, sizeof m->unique);
		m->unique[sizeof m->unique - 1] = '\0';
		for (j = 0; j < w.n_dest; j++) {
			const char *dir = take_str(&at, len);
			const char *folder = dir ? take_str(&at, len) : NULL;

			if (!folder || strlen(folder) > MAILDIR_FOLDER_MAX)
				return 0;
			m->dest[j].maildir = dir;
			memcpy(m->dest[j].folder, folder, strlen(folder) + 1);
		}
		child_ptr[i] = m;
	}
	return n;
}

/* Only keep stays open, as descriptor 3. */
static void close_others(int keep)
{
	if (dup2(keep, 3) != 3)
		_exit(1);
	st_close_from(4);
}

static void child_main(void)
{
	for (;;) {
		struct iovec iov = { wire, sizeof wire };
		struct msghdr mh;
		struct cmsghdr *c;
		int fds[2 * PROC_MAX_MSGS];
		size_t n_fds = 0, n, i;
		uint32_t count = 0;     /* messages; 0 with one file: a hint */
		ssize_t got;

		memset(&mh, 0, sizeof mh);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof ctl.b;
		got = recvmsg(3, &mh, MSG_CMSG_CLOEXEC);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			_exit(0);       /* the loop is gone */
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			if (c->cmsg_level != SOL_SOCKET
			    || c->cmsg_type != SCM_RIGHTS
			    || n_fds + k > 2 * PROC_MAX_MSGS)
				continue;
			memcpy(fds + n_fds, CMSG_DATA(c), k * sizeof(int));
			n_fds += k;
		}
		if ((size_t)got >= sizeof count)
			memcpy(&count, wire, sizeof count);
		if (got == sizeof count && count == 0 && n_fds == 1) {
			/* a hint: this file's data may go to the disk now, so
			 * that its commit finds less to write */
			(void)sync_file_range(fds[0], 0, 0,
			                      SYNC_FILE_RANGE_WRITE);
			(void)close(fds[0]);
			continue;
		}
		n = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? 0 :
		    decode((size_t)got, count, fds, n_fds);
		if (n)
			maildir_commit_batch(child_ptr, n, child_result);
		else {
			for (i = 0; i < n_fds; i++)
				(void)close(fds[i]);
			/* the loop waits for as many results as it sent */
			n = count <= PROC_MAX_MSGS ? count : 0;
			for (i = 0; i < n; i++)
				child_result[i] = SINK_TEMP;
		}
		if (n && send(3, child_result, n * sizeof child_result[0],
		              MSG_NOSIGNAL) < 0)
			_exit(1);
	}
}

/* ---- the loop's side --------------------------------------------------- */

/* see commit_proc.h */
int commit_proc_start(void)
{
	sigset_t all, old;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	(void)sigfillset(&all);
	if (sigprocmask(SIG_SETMASK, &all, &old) != 0) {
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	pid = st_fork();
	if (pid == 0) {
		/* signals stay blocked: the loop's handlers write to the
		 * loop's pipes; the end of the socket is the only stop */
		close_others(sv[1]);
		/* "mailnook-commit" in ps and top, beside its parent */
		(void)prctl(PR_SET_NAME, "mailnook-commit", 0, 0, 0);
		child_main();
	}
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	(void)close(sv[1]);
	if (pid < 0) {
		(void)close(sv[0]);
		return -1;
	}
	proc = pid;
	sock = sv[0];
	return 0;
}

/* The child is gone or going: its end reaped. */
static void lost(void)
{
	int st;

	(void)close(sock);
	sock = -1;
	while (waitpid(proc, &st, 0) < 0 && errno == EINTR)
		;
	proc = -1;
}

/* see commit_proc.h */
void commit_proc_stop(void)
{
	if (proc > 0)
		lost();
}

/* Appends n octets at *at; 0, or -1 when they do not fit. */
static int put(size_t *at, const void *p, size_t n)
{
	if (n > sizeof wire - *at)
		return -1;
	memcpy(wire + *at, p, n);
	*at += n;
	return 0;
}

/* One request: p[0..len) with the descriptors fds[0..n_fds) (SCM_RIGHTS),
 * never waiting.  0, or -1 with errno set. */
static int send_fds(const void *p, size_t len, const int *fds, size_t n_fds)
{
	struct iovec iov = { (void *)p, len };
	struct msghdr mh;

	memset(&ctl, 0, sizeof ctl);
	ctl.h.cmsg_level = SOL_SOCKET;
	ctl.h.cmsg_type = SCM_RIGHTS;
	ctl.h.cmsg_len = CMSG_LEN(n_fds * sizeof(int));
	memcpy(CMSG_DATA(&ctl.h), fds, n_fds * sizeof(int));
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.b;
	mh.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
	while (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* see commit_proc.h */
int commit_proc_send(struct maildir_msg **msgs, size_t n)
{
	int fds[2 * PROC_MAX_MSGS];
	uint32_t n32 = (uint32_t)n;
	size_t at = 0, i, j;

	if (proc <= 0 || out_n || n == 0 || n > PROC_MAX_MSGS)
		return -1;
	if (put(&at, &n32, sizeof n32) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		const struct maildir_msg *m = msgs[i];
		struct wire_msg w;

		if (m->fd < 0 || m->tmp_dir < 0 || m->error)
			return -1;
		memset(&w, 0, sizeof w);
		w.size = m->size;
		w.lines = m->lines;
		w.n_dest = m->n_dest;
		memcpy(w.unique, m->unique, sizeof w.unique);
		if (put(&at, &w, sizeof w) != 0)
			return -1;
		for (j = 0; j < m->n_dest; j++) {
			if (put(&at, m->dest[j].maildir,
			        strlen(m->dest[j].maildir) + 1) != 0
			    || put(&at, m->dest[j].folder,
			           strlen(m->dest[j].folder) + 1) != 0)
				return -1;
		}
		fds[2 * i] = m->fd;
		fds[2 * i + 1] = m->tmp_dir;
	}
	if (send_fds(wire, at, fds, 2 * n) != 0) {
		if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
			lost();         /* it is gone: the loop commits */
		return -1;
	}
	out_n = n;
	return 0;
}

/* see commit_proc.h */
void commit_proc_writeback(int fd)
{
	static const uint32_t zero;     /* no messages: a hint */

	if (proc <= 0 || fd < 0)
		return;
	/* when the socket is full it is dropped */
	(void)send_fds(&zero, sizeof zero, &fd, 1);
}

/* see commit_proc.h */
int commit_proc_running(void)
{
	return proc > 0;
}

/* see commit_proc.h */
int commit_proc_fd(void)
{
	return proc > 0 ? sock : -1;
}

/* see commit_proc.h */
int commit_proc_gone(void)
{
	unsigned char b;
	ssize_t got;

	if (proc <= 0 || out_n)
		return 0;
	got = recv(sock, &b, 1, MSG_DONTWAIT | MSG_PEEK);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK
	                || errno == EINTR))
		return 0;
	lost();                 /* ended, or said something unasked */
	return 1;
}

/* see commit_proc.h */
int commit_proc_collect(int *results, size_t n, int wait)
{
	ssize_t got;

	if (!out_n || n != out_n)
		return -1;
	do
		got = recv(sock, results, n * sizeof *results,
		           wait ? 0 : MSG_DONTWAIT);
	while (got < 0 && errno == EINTR);
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	out_n = 0;
	if (got == (ssize_t)(n * sizeof *results))
		return 1;
	lost();                 /* ended, or answered nonsense */
	return -1;
}
#endif
