#include "slot.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "clock.h"
#include "fmt.h"
#include "log.h"
#include "stats.h"
#include "text.h"
#if CFG_TLS
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "tls.h"
#endif

#define SLOT_CLOSE_GRACE_MS 10000   /* CLOSE set: time to take the last reply */
#define SLOT_READS_PER_TURN 4
/* How long a plain session with TLS on offer holds its greeting for a
 * ClientHello (see slot_hello()). */
#define SLOT_HELLO_WAIT_MS  200

struct slot slots[CFG_MAX_SESSIONS];
uint8_t slot_live[CFG_MAX_SESSIONS];

static const struct mn_config *current;
static struct slot *pending[CFG_MAX_SESSIONS];
static unsigned n_pending;

/* Scratch for policy_resolve() and the commit batch: one thread, so static
 * instead of several KiB of stack. */
static struct rcpt_target targets[MAILDIR_MAX_DEST];
static struct maildir_msg *batch_msgs[CFG_MAX_SESSIONS];
static struct slot *batch_slots[CFG_MAX_SESSIONS];
static int batch_results[CFG_MAX_SESSIONS];

#if CFG_BENCH_DISCARD
/* Kconfig BENCH_DISCARD, benchmark only: the store is replaced by a sink
 * that accepts and discards, for the protocol-only baseline of `make
 * bench`.  Normal builds never see these. */
static int discard_open(struct maildir_msg *m)
{
	m->fd = -1;
	m->error = SINK_OK;
	m->size = 0;
	m->lines = 0;
	m->tmp_dir = -1;
	return SINK_OK;
}

static int discard_write(struct maildir_msg *m, const void *p, size_t n)
{
	(void)p;
	m->size += n;
	return SINK_OK;
}

static int discard_finish(struct maildir_msg *m)
{
	(void)m;
	return SINK_OK;
}

static void discard_commit(struct maildir_msg **msgs, size_t n, int *results)
{
	(void)msgs;
	while (n > 0)
		results[--n] = SINK_OK;
}

#define maildir_open discard_open
#define maildir_write discard_write
#define maildir_finish discard_finish
#define maildir_commit_batch discard_commit
#endif

void slot_init(void)
{
	if (CFG_BENCH_DISCARD)
		log_stderr("built with BENCH_DISCARD: every message is "
		           "answered 250 and discarded (benchmark only)");
	/* Nothing else: every slot starts free (slot_live[] zeroed), and
	 * writing to the slots now would make all of them resident. */
}

void slot_set_config(const struct mn_config *c)
{
	current = c;
}

const struct mn_config *slot_config(void)
{
	return current;
}

unsigned slot_cfg_in_use(const struct mn_config *c)
{
	unsigned i, n = 0;

	for (i = 0; i < CFG_MAX_SESSIONS; i++)
		if (slot_live[i] && slots[i].txn && slots[i].txn_cfg == c)
			n++;
	return n;
}

size_t slot_footprint(void)
{
	return sizeof slots;
}

/* ---- log lines ---------------------------------------------------------- */

/* How the engine ended the session, when nothing else came first. */
static enum session_end engine_end(const struct slot *sl)
{
	return sl->s.p.refused ? SESSION_REFUSED :
	       sl->s.errors >= SMTP_MAX_ERRORS ? SESSION_ERRORS : SESSION_QUIT;
}

/* "id=… result=…[ reason=…] size=… nrcpt=… ip=… from=<…> to=<…>", once per
 * message (id[0] is cleared afterwards): the client's text last, each
 * capped (log.h, LOG_FIELD_MAX). */
/* " auth=NAME" after a checked AUTH, else "": capped like the client's
 * other fields (the name is one of auth-users', but as the client sent it) */
static const char *auth_field(const struct slot *sl, char *buf, size_t size)
{
	if (!CFG_AUTH || sl->s.auth != AUTH_CHECKED)
		return "";
	memcpy(buf, " auth=", 6);
	log_clean(buf + 6, size - 6, sl->s.auth_name);
	return buf;
}

static void log_message(struct slot *sl, uint64_t size,
                        enum msg_result result, enum msg_reason reason)
{
	char from[LOG_FIELD_MAX], to[LOG_FIELD_MAX], auth[LOG_FIELD_MAX + 6];

	if (!sl->id[0])
		return;
	log_clean(from, sizeof from, sl->from);
	log_clean(to, sizeof to, sl->to);
	log_info("id=%s result=%s%s%s size=%llu nrcpt=%u ip=%s%s from=<%s> "
	         "to=<%s>", sl->id, msg_result_name(result),
	         reason ? " reason=" : "", msg_reason_name(reason),
	         (unsigned long long)size, sl->nrcpt,
	         sl->s.client_ip, auth_field(sl, auth, sizeof auth), from, to);
	stats_message(result, reason, size);
	sl->id[0] = '\0';
}

/* "session ip=… msgs=… result=…[ reason=…] duration=…s[ tls=… cipher=…]
 * helo=…": once per connection, the client's text last and capped.  A TLS
 * failure gives BearSSL's reason; a TLS session its protocol version and
 * cipher suite. */
static void log_session(struct slot *sl, enum session_end result)
{
	char helo[LOG_FIELD_MAX], auth[LOG_FIELD_MAX + 6];
	char tls[128] = "", reason[64] = "";
	int64_t secs = (clock_mono_ms() - sl->started_ms) / 1000;

#if CFG_TLS
	/* by minor version, 7 bytes each */
	static const char names[] = "SSL3.0\0TLS1.0\0TLS1.1\0TLS1.2\0TLS1.3\0"
	                            "unknown";
	char err[48];
	unsigned v;
	const char *failed = tls_conn_failure(sl->tls, &v, err, sizeof err);

	/* a line of its own, for log watchers: which version did that
	 * printer want, and why did it fail? */
	if (failed) {
		if (v >> 8 != 3 || (v & 0xff) > 4)
			v = 5;
		log_info("tls=%s reason=%s client-version=%s ip=%s",
		         tls_result_name(TLS_RESULT_FAILED), failed,
		         names + 7 * (v & 0xff), sl->s.client_ip);
	}
	if (tls_conn_established(sl->tls))
		fmt_into(tls, sizeof tls, " tls=%s cipher=%s",
		         tls_conn_version(sl->tls), tls_conn_suite(sl->tls));
	if (tls_conn_active(sl->tls) && result == SESSION_TLS_ERROR) {
		fmt_into(reason, sizeof reason, " reason=%s",
		         tls_conn_error(sl->tls, err, sizeof err));
	}
#endif
	log_clean(helo, sizeof helo, sl->s.helo);
	log_info("session ip=%s msgs=%u result=%s%s duration=%llds%s%s helo=%s",
	         sl->s.client_ip, sl->delivered, session_end_name(result), reason,
	         (long long)(secs < 0 ? 0 : secs), tls,
	         auth_field(sl, auth, sizeof auth), helo);
}

/* ---- the sink ------------------------------------------------------------ */

static int below_min_free(const struct mn_config *c, const char *maildir)
{
	int64_t free_bytes;

	if (!c->min_free)
		return 0;
	free_bytes = maildir_free_space(maildir);
	if (free_bytes < 0)
		return 0;       /* cannot tell: let the write find out */
	return (uint64_t)free_bytes < c->min_free;
}

static int sink_mail(void *ctx, const struct smtp_addr *from, int utf8)
{
	struct slot *sl = ctx;
	const struct mn_config *c = current;

	(void)utf8;
	if (c->n_mailbox && below_min_free(c, c->mailbox[0].maildir)) {
		stats_mail(SINK_NOSPACE);
		return SINK_NOSPACE;
	}
	sl->txn_cfg = c;
	sl->txn = 1;
	text_copy(sl->from, sizeof sl->from, from->is_null ? "" : from->text);
	sl->to[0] = '\0';
	sl->nrcpt = 0;
	sl->msg.n_dest = 0;
	return SINK_OK;
}

/* A +tag folder only counts when MAILDIR/.tag/ exists; otherwise the
 * message goes to the inbox, and must then be deduplicated as such. */
static int folder_exists(const char *maildir, const char *folder)
{
	char path[MAILDIR_PATH_MAX + MAILDIR_FOLDER_MAX + 4];
	struct stat st;
	int n;

	n = fmt_into(path, sizeof path, "%s/.%s", maildir, folder);
	if (n < 0 || (size_t)n >= sizeof path)
		return 0;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int rcpt_add(void *ctx, const struct smtp_addr *to)
{
	struct slot *sl = ctx;
	const struct mn_config *c = sl->txn ? sl->txn_cfg : current;
	struct maildir_msg *m = &sl->msg;
	unsigned n = 0, i, j, added = 0;
	int r;

	r = policy_resolve(c, to, targets, MAILDIR_MAX_DEST, &n);
	if (r != RCPT_OK)
		return r;
	for (i = 0; i < n; i++) {
		const char *dir;
		const char *folder = targets[i].folder;

		if (targets[i].mailbox >= c->n_mailbox)
			return RCPT_TEMP;       /* cannot happen */
		dir = c->mailbox[targets[i].mailbox].maildir;
		if (below_min_free(c, dir))
			return RCPT_NOSPACE;
		if (folder[0] && !folder_exists(dir, folder))
			folder = "";
		for (j = 0; j < m->n_dest + added; j++)
			if (strcmp(m->dest[j].maildir, dir) == 0 &&
			    strcmp(m->dest[j].folder, folder) == 0)
				break;
		if (j < m->n_dest + added)
			continue;               /* already a destination */
		if (m->n_dest + added >= MAILDIR_MAX_DEST)
			return RCPT_TEMP;
		m->dest[m->n_dest + added].maildir = dir;
		text_copy(m->dest[m->n_dest + added].folder,
		          sizeof m->dest[0].folder, folder);
		added++;
	}
	/* only now: a refused RCPT leaves the list as it was */
	m->n_dest += added;
	if (sl->nrcpt == 0)
		text_copy(sl->to, sizeof sl->to,
		          to->text[0] ? to->text : "postmaster");
	sl->nrcpt++;
	if (!sl->txn) {
		sl->txn = 1;
		sl->txn_cfg = c;
	}
	return RCPT_OK;
}

static int sink_rcpt(void *ctx, const struct smtp_addr *to)
{
	int r = rcpt_add(ctx, to);

	stats_rcpt(r);
	return r;
}

static int sink_begin(void *ctx, char id[SMTP_ID_MAX])
{
	struct slot *sl = ctx;
	int r;

	clock_make_id(id);
	text_copy(sl->id, sizeof sl->id, id);
	if (sl->msg.n_dest == 0) {
		log_message(sl, 0, MSG_FAILED, MSG_REASON_NO_DESTINATION);
		return SINK_TEMP;
	}
	r = maildir_open(&sl->msg);
	if (r != SINK_OK) {
		log_message(sl, 0, MSG_FAILED, msg_reason_of_sink(r));
		return r;
	}
	sl->msg_open = 1;
	return SINK_OK;
}

static int sink_write(void *ctx, const void *p, size_t n)
{
	struct slot *sl = ctx;

	if (!sl->msg_open)
		return SINK_TEMP;
	return maildir_write(&sl->msg, p, n);
}

/* min-free-space once more before the commit: MAIL and RCPT saw the space
 * before the message was written (it is in tmp/ now, counted). */
static int dests_below_min_free(const struct slot *sl)
{
	const struct mn_config *c = sl->txn_cfg ? sl->txn_cfg : current;
	unsigned i;

	for (i = 0; i < sl->msg.n_dest; i++)
		if (below_min_free(c, sl->msg.dest[i].maildir))
			return 1;
	return 0;
}

static int sink_commit(void *ctx)
{
	struct slot *sl = ctx;
	int r;

	if (!sl->msg_open)
		return SINK_TEMP;
	r = maildir_finish(&sl->msg);
	if (r == SINK_OK && dests_below_min_free(sl))
		r = SINK_NOSPACE;       /* the message itself took the space */
	if (r != SINK_OK) {
		maildir_abort(&sl->msg);
		sl->msg_open = 0;
		sl->txn = 0;
		log_message(sl, sl->msg.size, MSG_FAILED,
		            sl->msg.error ? msg_reason_of_sink(r) :
		            MSG_REASON_MIN_FREE_SPACE);
		return r;
	}
	sl->pending = 1;
	pending[n_pending++] = sl;
	return SINK_PENDING;
}

static void sink_abort(void *ctx, enum smtp_reject reason, uint64_t size)
{
	struct slot *sl = ctx;
	/* a failed write: ENOSPC says no-space, as the 452 the client got */
	enum msg_reason why = reason == REJECT_STORE && sl->msg.error ?
	                      msg_reason_of_sink(sl->msg.error) :
	                      msg_reason_of_reject(reason);

	if (sl->pending)
		return;         /* the engine promised not to; be safe anyway */
	if (sl->msg_open) {
		maildir_abort(&sl->msg);
		sl->msg_open = 0;
	}
	sl->txn = 0;
	log_message(sl, size, msg_reason_is_content(why) ? MSG_REJECTED :
	            MSG_FAILED, why);
}

static void sink_reset(void *ctx)
{
	struct slot *sl = ctx;

	if (sl->pending)
		return;
	if (sl->msg_open) {
		maildir_abort(&sl->msg);
		sl->msg_open = 0;
		log_message(sl, sl->msg.size, MSG_FAILED, MSG_REASON_ABORTED);
	}
	sl->from[0] = '\0';
	sl->to[0] = '\0';
	sl->nrcpt = 0;
	sl->msg.n_dest = 0;
	sl->txn = 0;
	sl->txn_cfg = NULL;
	sl->id[0] = '\0';
}

#if CFG_AUTH
/* Whether the credentials are right.  Without auth-users there is nothing
 * to check them against: any credentials go through, granting nothing. */
static int sink_auth(void *ctx, const char *user, const char *pass)
{
	struct slot *sl = ctx;
	int r = AUTH_ANY;

	if (current->auth_users)
		r = auth_verify(current, user, pass) ? AUTH_CHECKED : AUTH_FAIL;
	stats_auth(r != AUTH_FAIL);
	if (r == AUTH_FAIL) {
		char name[LOG_FIELD_MAX];

		log_clean(name, sizeof name, user);
		log_info("auth=failed user=%s ip=%s", name, sl->s.client_ip);
	}
	return r;
}
#endif

static const struct smtp_sink slot_sink = {
	.mail = sink_mail,
	.rcpt = sink_rcpt,
	.begin = sink_begin,
	.write = sink_write,
	.commit = sink_commit,
	.abort = sink_abort,
	.reset = sink_reset,
#if CFG_AUTH
	.auth = sink_auth,
#endif
};

/* ---- sessions -------------------------------------------------------------- */

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

static void start_tls(struct slot *sl, int implicit);
#endif

void slot_start(struct slot *sl, int fd, const char *ip, int v6,
                const uint8_t bin[16], int refused, int tls, int auth,
                int64_t now_ms, int64_t wall)
{
	const struct mn_config *c = current;
	struct smtp_params p;

	slot_live[sl - slots] = 1;
	sl->fd = fd;
	sl->v6 = (uint8_t)v6;
	memcpy(sl->ip, bin, 16);
	sl->pending = 0;
	sl->msg_open = 0;
	sl->txn = 0;
	sl->shut = 0;
	sl->end_after_commit = 0;
	sl->eof = 0;
	sl->fresh = (uint8_t)!tls;
	sl->hello_wait_ms = 0;
	sl->result = SESSION_END_NONE;
	sl->txn_cfg = NULL;
	sl->started_ms = now_ms;
	sl->close_by_ms = 0;
	sl->delivered = 0;
	sl->nrcpt = 0;
	sl->from[0] = sl->to[0] = sl->id[0] = '\0';
	sl->msg.fd = -1;
	sl->msg.n_dest = 0;
#if CFG_TLS
	sl->tls = tls_conn_get((unsigned)(sl - slots));
	sl->tls_want = 0;
#else
	tls = 0;                /* listen-tls cannot be configured */
#endif

	memset(&p, 0, sizeof p);
	p.hostname = c->hostname;
	p.client_ip = ip;
	p.max_size = c->max_size;
	p.max_rcpt = c->max_rcpt;
	p.timeout = c->timeout;
	p.strict_crlf = c->strict_crlf &&
	                !conf_cidr_match(c->bare_lf, c->n_bare_lf, v6, bin);
#if CFG_TLS
	p.tls_offered = !tls && c->n_tls_cert && tls_keys_current();
#endif
	p.tls_active = (uint8_t)(tls != 0);
	p.refused = (uint8_t)(refused != 0);
	if (CFG_AUTH && c->auth_any)
		p.auth = SMTP_AUTH_OFFER;
	else if (CFG_AUTH && c->auth_users)
		p.auth = c->auth_plaintext ? SMTP_AUTH_OFFER : SMTP_AUTH_TLS;
	p.auth_required = (uint8_t)(CFG_AUTH && auth);
	stats_session_start(refused);
	smtp_session_start(&sl->s, &p, &slot_sink, sl, now_ms / 1000, wall);
#if CFG_TLS
	if (p.tls_offered && !p.refused)
		sl->hello_wait_ms = now_ms + SLOT_HELLO_WAIT_MS;
	/* RFC 8314: the handshake first; the greeting waits in the engine */
	if (tls) {
		start_tls(sl, 1);
		return;
	}
#endif
	if (slot_flush(sl) != 0)
		slot_close(sl, SESSION_ERROR);
	else
		slot_check(sl, now_ms);
}

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
		start_tls(sl, 1);
		return 0;
	}
#endif
	sl->result = SESSION_TLS_HELLO;
	return -1;
}

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

		if (!(smtp_state(&sl->s) & SMTP_WANT_RECV))
			return 0;
		p = smtp_recv_buf(&sl->s, &len);
		if (!p || len == 0)
			return 0;
		do
			n = read(sl->fd, p, len);
		while (n < 0 && errno == EINTR);
		if (n == 0) {
			/* a half-close: what came before it is still
			 * answered (slot_check) */
			sl->eof = 1;
			return 0;
		}
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		smtp_recv_ack(&sl->s, (size_t)n);
		if ((size_t)n < len || sl->pending)
			return 0;
	}
	return 0;
}

#if CFG_TLS
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

/* STARTTLS's 220 has gone out (implicit: the greeting waits for the
 * handshake): from here on the socket belongs to TLS.  Whatever the client
 * pipelined after STARTTLS was read with it and the engine dropped it; the
 * next byte read goes to BearSSL. */
static void start_tls(struct slot *sl, int implicit)
{
	const struct mn_config *c = current;
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
int slot_tls(const struct slot *sl)
{
	(void)sl;
	return 0;
}
#endif

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
				start_tls(sl, 0);
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

void slot_check(struct slot *sl, int64_t now_ms)
{
	unsigned st;

	if (!slot_is_live(sl) || sl->pending)
		return;
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

/* Reads what the client sent after its last command (pipelined input
 * after QUIT, say): closing a socket with unread input sends a RST, which
 * may destroy the final reply still in flight.  Bounded, never blocks. */
static void drain(int fd)
{
	static unsigned char scratch[4096];
	int k;

	for (k = 0; k < 8; k++)
		if (recv(fd, scratch, sizeof scratch, MSG_DONTWAIT) <= 0)
			break;
}

void slot_close(struct slot *sl, enum session_end result)
{
	if (!slot_is_live(sl))
		return;
	if (sl->pending) {
		sl->end_after_commit = 1;
		if (!sl->result)
			sl->result = (uint8_t)result;
		return;
	}
	smtp_session_end(&sl->s);
	if (sl->msg_open) {             /* the engine should have aborted it */
		maildir_abort(&sl->msg);
		sl->msg_open = 0;
		log_message(sl, sl->msg.size, MSG_FAILED, MSG_REASON_ABORTED);
	}
	sink_reset(sl);
	log_session(sl, sl->result ? sl->result : result);
#if CFG_TLS
	tls_conn_stop(sl->tls);
	sl->tls_want = 0;
#endif
	drain(sl->fd);
	if (close(sl->fd) != 0) {
		/* the descriptor is gone either way */
	}
	sl->fd = -1;
	slot_live[sl - slots] = 0;
}

unsigned slot_commit_pending(void)
{
	return n_pending;
}

void slot_commit_run(int64_t now_ms)
{
	unsigned i, n;

	n = n_pending;
	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		batch_slots[i] = pending[i];
		batch_msgs[i] = &pending[i]->msg;
	}
	n_pending = 0;          /* commit_done below may queue new ones */
	maildir_commit_batch(batch_msgs, n, batch_results);
	stats_commit_batch(n);
	for (i = 0; i < n; i++) {
		struct slot *sl = batch_slots[i];
		int r = batch_results[i];

		sl->pending = 0;
		sl->msg_open = 0;
		sl->txn = 0;
		if (r == SINK_OK) {
			sl->delivered++;
			log_message(sl, sl->msg.size, MSG_DELIVERED,
			            MSG_REASON_NONE);
		} else {
			log_message(sl, sl->msg.size, MSG_FAILED,
			            msg_reason_of_sink(r));
		}
		smtp_commit_done(&sl->s, r);
		if (sl->end_after_commit) {     /* the peer is gone already */
			sl->end_after_commit = 0;
			slot_close(sl, sl->result ? sl->result : SESSION_CLOSED);
			continue;
		}
		if (slot_flush(sl) != 0)
			slot_close(sl, SESSION_ERROR);
		else
			slot_check(sl, now_ms);
	}
}
