#include "slot_io.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#if CFG_TLS
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "tls.h"
#endif

#define SLOT_CLOSE_GRACE_MS 10000   /* CLOSE set: time to take the last reply */
/* Reads of one session in one turn while it has input: eight fill the
 * store's 32 KiB body buffer (CONFIG_BODY_BUFSIZE) with a large message,
 * so it is written once a turn, and the other sessions still get their
 * turn every 8 reads. */
#define SLOT_READS_PER_TURN 8

/*
 * The spill: one buffer for all sessions behind the receive buffer.  A
 * read(2) takes at most RECV_BUFSIZE octets into a session; a 2 MiB
 * message took 512 of them, and in a VM a system call costs more than the
 * copy.  So a read is a readv(2) into the session's free space and, behind
 * it, the spill (BODY_BUFSIZE in all): what lands in the spill is handed to
 * the engine as it takes it, a copy in memory instead of a system call.
 * Only what a session's engine does not take at once (pipelined commands
 * behind a message's end, while it is committed) stays there, for that
 * session alone: it reads no more until the spill is empty, and the others
 * read without it meanwhile.  Resident only as far as large reads fill it,
 * as the body buffer.
 */
#if SLOT_SPILL_SIZE
static uint8_t spill[SLOT_SPILL_SIZE];
static const struct slot *spill_owner;
static size_t spill_at, spill_end;

/* Hands sl's engine what waits for it in the spill, as far as it takes it;
 * 1 when some is left. */
static int spill_feed(struct slot *sl)
{
	while (spill_owner == sl) {
		unsigned st = smtp_state(&sl->s);
		size_t len = 0, k;
		uint8_t *p;

		if ((st & SMTP_START_TLS) || (CFG_TLS && slot_tls(sl))) {
			/* plaintext behind STARTTLS is never read (the
			 * engine drops it too) */
			spill_owner = NULL;
			return 0;
		}
		if (!(st & SMTP_WANT_RECV))
			return 1;
		p = smtp_recv_buf(&sl->s, &len);
		if (!p || len == 0)
			return 1;
		k = spill_end - spill_at < len ? spill_end - spill_at : len;
		memcpy(p, spill + spill_at, k);
		spill_at += k;
		if (spill_at == spill_end)
			spill_owner = NULL;
		smtp_recv_ack(&sl->s, k);
	}
	return 0;
}

/* One read into p[0..len) and, when it is free, the spill behind it. */
static ssize_t read_spill(struct slot *sl, uint8_t *p, size_t len)
{
	struct iovec iov[2];
	ssize_t n;

	if (spill_owner)
		return read(sl->fd, p, len);
	iov[0].iov_base = p;
	iov[0].iov_len = len;
	iov[1].iov_base = spill;
	iov[1].iov_len = sizeof spill;
	n = readv(sl->fd, iov, 2);
	if (n > (ssize_t)len) {
		spill_owner = sl;
		spill_at = 0;
		spill_end = (size_t)n - len;
	}
	return n;
}

/* see slot_io.h */
void slot_spill_drop(const struct slot *sl)
{
	if (spill_owner == sl)
		spill_owner = NULL;
}
#else
#define spill_feed(sl) 0
#define read_spill(sl, p, len) read((sl)->fd, p, len)

/* see slot_io.h */
void slot_spill_drop(const struct slot *sl)
{
	(void)sl;
}
#endif

/* How the engine ended the session, when nothing else came first. */
static enum session_end engine_end(const struct slot *sl)
{
	return sl->s.p.refused ? SESSION_REFUSED :
	       sl->s.errors >= SMTP_MAX_ERRORS ? SESSION_ERRORS : SESSION_QUIT;
}

#if CFG_TLS
/* BearSSL writes a handshake flight as several records, and replies as
 * records of at most 1 KiB: with Nagle's algorithm each record after the
 * first would wait for the peer's (delayed) ACK, 40 ms a time. */
static void tls_nodelay(int fd)
{
	int on = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0) {
		/* not TCP (a test's socketpair): nothing to tune */
	}
}
#endif

/*
 * A client whose first byte on a plain listener is 0x16 (a TLS handshake
 * record) wants implicit TLS: HP printers try that on port 25 before they
 * fall back to plaintext.  SMTP's server speaks first, and such a client
 * sends its ClientHello at once, without reading: a 220 already written
 * would reach its TLS stack as a broken ServerHello.  So while TLS is on
 * offer, a plain session holds its greeting for SLOT_HELLO_WAIT_MS or until
 * the first byte comes, whichever is sooner.  A ClientHello leaves the
 * client's stack right after connect() returns, so it arrives together with
 * the ACK that completed the connection, whatever the round-trip time;
 * only the client's own work stands between them.  A plaintext client
 * waits for the greeting and sends nothing: it is greeted that much later,
 * once, which no SMTP client minds (Postfix's postscreen pauses for 6 s);
 * one that speaks first ends the wait.  Without TLS on offer nothing is
 * held, and a ClientHello, or one after the greeting went out, is answered
 * by closing at once without a reply: the client's fallback to plaintext
 * starts sooner than with a 500 to every line of binary.
 *
 * Returns 0, or -1 with sl->result set: close.
 */
static int slot_hello(struct slot *sl)
{
#if CFG_TLS
	if (sl->hello_wait_ms && tls_keys_current()) {
		/* the session is encrypted from here on, as on listen-tls:
		 * no STARTTLS, the greeting goes out after the handshake */
		smtp_tls_started(&sl->s);
		sl->hello_wait_ms = 0;
		slot_start_tls(sl, 1);
		return 0;
	}
#endif
	sl->result = SESSION_TLS_HELLO;
	return -1;
}

/* see slot_io.h */
int slot_read(struct slot *sl)
{
	int k;

	if (sl->fresh) {
		uint8_t b;
		ssize_t n = recv(sl->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

		if (n == 1) {
			sl->fresh = 0;
			if (b == 0x16)
				return slot_hello(sl);
			sl->hello_wait_ms = 0;  /* it spoke first: greet now */
		}
	}

	for (k = 0; k < SLOT_READS_PER_TURN; k++) {
		size_t len = 0;
		uint8_t *p;
		ssize_t n;

		if (spill_feed(sl))
			return 0;
		if (!(smtp_state(&sl->s) & SMTP_WANT_RECV))
			return 0;
		p = smtp_recv_buf(&sl->s, &len);
		if (!p || len == 0)
			return 0;
		do
			n = read_spill(sl, p, len);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			/* a half-close: what came before it is still
			 * answered (slot_check) */
			sl->eof = 1;
			return 0;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		if ((size_t)n > len) {
			/* the rest is in the spill: the engine takes it next */
			smtp_recv_ack(&sl->s, len);
			if (spill_feed(sl) || sl->pending
			    || (size_t)n < len + SLOT_SPILL_SIZE)
				return 0;
			continue;
		}
		smtp_recv_ack(&sl->s, (size_t)n);
		if ((size_t)n < len || sl->pending)
			return 0;
	}
	return 0;
}

#if CFG_TLS
/* see slot_io.h */
int slot_tls(const struct slot *sl)
{
	return slot_is_live(sl) && tls_conn_active(sl->tls);
}

/* The TLS connection is over: the result for the log line. */
static enum session_end tls_result(struct slot *sl)
{
	enum session_end why = tls_conn_why(sl->tls);

	if (why == SESSION_QUIT)
		return sl->result ? sl->result : engine_end(sl);
	if (why == SESSION_CLOSED || why == SESSION_ERROR)
		return sl->result ? sl->result : why;
	return why;             /* tls-error, tls-timeout */
}

/* see slot_io.h */
void slot_tls_io(struct slot *sl, short revents, int64_t now_ms)
{
	int r;

	if (!slot_is_live(sl))
		return;
	r = tls_conn_pump(sl->tls, sl->fd, &sl->s, revents, now_ms);
	if (r == TLS_PUMP_DONE) {
		/* (while committing, slot_close() waits for the answer) */
		sl->tls_want = 0;
		slot_close(sl, tls_result(sl));
		return;
	}
	sl->tls_want = (short)r;
	slot_check(sl, now_ms);
}

/* see slot_io.h.  STARTTLS's 220 has gone out (implicit: the greeting
 * waits for the handshake): from here on the socket belongs to TLS.
 * Whatever the client pipelined after STARTTLS was read with it and the
 * engine dropped it; the next byte read goes to BearSSL. */
void slot_start_tls(struct slot *sl, int implicit)
{
	const struct mn_config *c = slot_config();
	int64_t now_ms = clock_mono_ms();

	if (tls_conn_start(sl->tls, implicit, c->tls_min_version, now_ms,
	                   (int64_t)c->timeout * 1000) != 0) {
		slot_close(sl, SESSION_TLS_ERROR);
		return;
	}
	tls_nodelay(sl->fd);
	slot_tls_io(sl, 0, now_ms);
}
#else
/* see slot_io.h */
int slot_tls(const struct slot *sl)
{
	(void)sl;
	return 0;
}
#endif

/* see slot_io.h */
short slot_events(const struct slot *sl)
{
	unsigned st;

#if CFG_TLS
	if (slot_tls(sl))
		return sl->tls_want;
#endif
	st = smtp_state(&sl->s);
	return (short)((st & SMTP_WANT_RECV && !sl->eof ? POLLIN : 0) |
	               (st & SMTP_WANT_SEND && !sl->hello_wait_ms ? POLLOUT : 0));
}

/* see slot_io.h */
int64_t slot_deadline_ms(const struct slot *sl)
{
	if (sl->hello_wait_ms)
		return sl->hello_wait_ms;
#if CFG_TLS
	if (slot_tls(sl))
		return tls_conn_deadline(sl->tls);
#else
	(void)sl;
#endif
	return INT64_MAX;
}

/* see slot_io.h */
int slot_flush(struct slot *sl)
{
#if CFG_TLS
	if (slot_tls(sl)) {
		slot_tls_io(sl, 0, clock_mono_ms());
		return 0;
	}
#endif
	if (sl->hello_wait_ms) {
		if (clock_mono_ms() < sl->hello_wait_ms)
			return 0;
		sl->hello_wait_ms = 0;
	}
	for (;;) {
		size_t len = 0;
		const char *p = smtp_send_buf(&sl->s, &len);
		ssize_t n;

		if (!p || len == 0) {
#if CFG_TLS
			if (smtp_state(&sl->s) & SMTP_START_TLS)
				slot_start_tls(sl, 0);
#endif
			return 0;
		}
		n = send(sl->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		smtp_send_ack(&sl->s, (size_t)n);
	}
}

/* see slot_io.h */
void slot_check(struct slot *sl, int64_t now_ms)
{
	unsigned st;

	if (!slot_is_live(sl) || sl->pending)
		return;
	/* input in the spill that the engine would take now (its commit is
	 * done, its replies went out): before anything waits for the socket */
	(void)spill_feed(sl);
	st = smtp_state(&sl->s);
	if (!(st & (SMTP_CLOSE | SMTP_DEAD))) {
		/* half-closed, and every command read is answered: the
		 * engine consumes buffered input whenever its replies have
		 * room, so with none queued and no commit it has nothing
		 * left to say (an unfinished message is dropped) */
		if (sl->eof && !(st & (SMTP_WANT_SEND | SMTP_COMMITTING |
		                       SMTP_START_TLS | SMTP_PAUSED)))
			slot_close(sl, SESSION_CLOSED);
		return;
	}
	if (!sl->result)
		sl->result = engine_end(sl);
	if (!sl->close_by_ms)
		sl->close_by_ms = now_ms + SLOT_CLOSE_GRACE_MS;
	/* TLS: the last replies are in records, not yet on the wire; the
	 * pump closes once they and the close_notify are written */
	if (slot_tls(sl)) {
		if (now_ms >= sl->close_by_ms)
			slot_close(sl, sl->result);
		return;
	}
	if ((st & SMTP_DEAD) || !(st & SMTP_WANT_SEND) ||
	    now_ms >= sl->close_by_ms)
		slot_close(sl, sl->result);
}
