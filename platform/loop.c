#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bare.h"
#include "clock.h"
#include "conf_load.h"
#include "hook.h"
#include "log.h"
#include "maildir.h"
#include "slot.h"
#include "slot_hook.h"
#include "slot_io.h"
#include "slot_sink.h"
#include "stats.h"
#if CFG_QUOTA
#include "quota_run.h"
#endif
#if CFG_TLS
#include "tls.h"
#endif

#define LOOP_ACCEPTS_PER_TURN 16
#define LOOP_SHUTDOWN_MS      10000   /* DATA/BDAT/commit may finish */
#define LOOP_ACCEPT_PAUSE_MS  1000    /* after EMFILE and friends */
#define LOOP_MAX_WAIT_MS      60000
#define LOOP_GATHER_MS        10      /* a complete message waits at most
                                         this for others to join its commit */

enum { PFD_SIGNAL = 0, PFD_LISTEN = 1 };
#define LOOP_NFDS (1 + CFG_MAX_LISTENERS + CFG_MAX_SESSIONS + \
                   (CFG_HOOK ? HOOK_NFDS : 0) + CFG_COMMIT_CHILD)

static int sig_pipe[2] = { -1, -1 };
static struct pollfd pfd[LOOP_NFDS];
static struct slot *pfd_slot[LOOP_NFDS];

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (write(sig_pipe[1], &b, 1) < 0) {
		/* pipe full: a signal of that kind is already waiting */
	}
	errno = saved;
}

int loop_signals_init(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct sigaction sa;
	unsigned i;

	if (bare_pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		log_stderr("pipe: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		if (sigaction(sigs[i], &sa, NULL) != 0) {
			log_stderr("sigaction: %s", strerror(errno));
			return -1;
		}
	}
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0) {
		log_stderr("sigaction: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- state ----------------------------------------------------------------- */

struct loop_state {
	struct loop_params *lp;
	int stopping;
	int64_t stop_deadline_ms;
	int reload_wanted;
	int reload_waiting_logged;
	int64_t accept_paused_until_ms;
	int64_t now_ms;
	int64_t now;            /* seconds, monotonic */
	int64_t wall;
	int gathering;          /* messages wait for the group commit ... */
	int64_t gather_since_ms;        /* ... since then */
};

/* tls: an implicit-TLS client expects a ServerHello, not plaintext: it is
 * only closed (RFC 8314 has no way to say "busy" before the handshake).
 * result: SESSION_BUSY, or SESSION_REFUSED (allow-from, on a listen-tls
 * listener). */
static void turn_away(int fd, const char *ip, enum session_end result,
                      const char *why, int tls)
{
	char buf[SMTP_HOSTNAME_MAX + 64];
	size_t n = tls ? 0 : smtp_busy_reply(buf, sizeof buf,
	                                     slot_config()->hostname);

	if (n && send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* best effort: the client is being turned away anyway */
	}
	close(fd);
	log_info("session ip=%s msgs=0 result=%s reason=%s duration=0s helo=",
	         ip, session_end_name(result), why);
}

static const struct listener *listener_of(const struct loop_params *lp,
                                          int fd)
{
	unsigned i;

	for (i = 0; i < lp->n_listeners; i++)
		if (lp->listeners[i].fd == fd)
			return &lp->listeners[i];
	return NULL;            /* cannot happen: pfd[] was built from them */
}

static void accept_on(struct loop_state *ls, const struct listener *l)
{
	int lfd = l->fd;
	int k;

	for (k = 0; k < LOOP_ACCEPTS_PER_TURN; k++) {
		const struct mn_config *c = slot_config();
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char ip[SMTP_IP_MAX + 1];
		uint8_t bin[16];
		struct slot *free_slot, *other;
		unsigned active = 0, same_ip = 0;
		int fd, v6, refused;

		fd = bare_accept4(lfd, (struct sockaddr *)&ss, &sl,
		                  SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO || errno == EPERM)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			log_warn("accept: %s; pausing new connections for %d ms",
			         strerror(errno), LOOP_ACCEPT_PAUSE_MS);
			ls->accept_paused_until_ms = ls->now_ms +
			                             LOOP_ACCEPT_PAUSE_MS;
			return;
		}
		listen_peer(&ss, ip, sizeof ip, bin, &v6);
		refused = !conf_allowed(c, v6, bin);
		/* its 554 would come only after a full handshake: not worth
		 * the CPU, nor a slot */
		if (refused && l->tls) {
			stats_connection_refused(STATS_REFUSED_ALLOW_FROM);
			turn_away(fd, ip, SESSION_REFUSED, "allow-from", 1);
			continue;
		}
		free_slot = slot_free();
		for (other = slot_first(); other; other = slot_next(other)) {
			active++;
			if (addr_same_client(other->v6, other->ip, v6, bin))
				same_ip++;
		}
		if (!free_slot || active >= c->max_sessions) {
			stats_connection_refused(STATS_REFUSED_BUSY);
			turn_away(fd, ip, SESSION_BUSY, "max-sessions", l->tls);
			continue;
		}
		if (c->max_per_ip && same_ip >= c->max_per_ip) {
			stats_connection_refused(STATS_REFUSED_PER_IP);
			turn_away(fd, ip, SESSION_BUSY, "max-sessions-per-ip",
			          l->tls);
			continue;
		}
		slot_start(free_slot, fd, ip, v6, bin, refused, l->tls,
		           l->auth, ls->now_ms, ls->wall);
	}
}

/* ---- shutdown ---------------------------------------------------------------- */

static void shutdown_start(struct loop_state *ls)
{
	struct slot *sl;

	ls->stopping = 1;
	ls->stop_deadline_ms = ls->now_ms + LOOP_SHUTDOWN_MS;
	listen_close(ls->lp->listeners, ls->lp->n_listeners);
	log_info("shutting down: %u sessions open", slot_count());
	hook_stop_begin(ls->now_ms);    /* running hooks: 10 s from now */
	for (sl = slot_first(); sl; sl = slot_next(sl)) {
		if (sl->pending)
			continue;
		sl->shut = smtp_shutdown(&sl->s, 0) ? 1 : 2;
		if (!sl->result)
			sl->result = SESSION_SHUTDOWN;
		if (slot_flush(sl) != 0)
			slot_close(sl, SESSION_SHUTDOWN);
		else
			slot_check(sl, ls->now_ms);
	}
}

/* Sessions that were finishing a message: once it is answered they get
 * their 421 too. */
static void shutdown_progress(struct loop_state *ls)
{
	struct slot *sl;

	for (sl = slot_first(); sl; sl = slot_next(sl)) {
		if (sl->pending || sl->shut != 1)
			continue;
		if (smtp_shutdown(&sl->s, 0))
			continue;
		sl->shut = 2;
		if (slot_flush(sl) != 0)
			slot_close(sl, SESSION_SHUTDOWN);
		else
			slot_check(sl, ls->now_ms);
	}
}

static void shutdown_force(struct loop_state *ls)
{
	struct slot *sl;

#if CFG_COMMIT_CHILD
	/* what a child is committing, then what waited for it: answered */
	slot_commit_collect(ls->now_ms, 1);
	slot_commit_run(ls->now_ms);
	slot_commit_collect(ls->now_ms, 1);
#else
	(void)ls;
#endif
	for (sl = slot_first(); sl; sl = slot_next(sl)) {
		smtp_shutdown(&sl->s, 1);
		if (slot_flush(sl) != 0) {
			/* closing anyway */
		}
		slot_close(sl, SESSION_SHUTDOWN);
	}
}

/* ---- reload ---------------------------------------------------------------- */

static int same_listeners(const struct mn_config *a, const struct mn_config *b)
{
	unsigned i;

	if (a->n_listen != b->n_listen)
		return 0;
	for (i = 0; i < a->n_listen; i++)
		if (strcmp(a->listen[i].addr, b->listen[i].addr) != 0 ||
		    a->listen[i].port != b->listen[i].port ||
		    a->listen[i].tls != b->listen[i].tls)
			return 0;
	return 1;
}

static int same_str(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Builds the new configuration in the spare arena and makes it current when
 * valid.  The spare arena may still hold the configuration before the
 * current one, referenced by transactions that started under it: then the
 * reload waits for them (they end within their timeouts). */
static void reload_try(struct loop_state *ls)
{
	struct loop_params *lp = ls->lp;
	unsigned spare = lp->gen ^ 1u, busy;
	const struct mn_config *old = conf_gen(lp->gen);
	struct mn_config *c = conf_gen(spare);

	busy = slot_cfg_in_use(c);
#if CFG_TLS
	/* the spare key store may still serve a handshake that started
	 * before the last reload: it ends within its timeout */
	busy += tls_keys_spare_busy();
#endif
	if (busy) {
		if (!ls->reload_waiting_logged)
			log_info("reload: waiting for %u transactions or TLS "
			         "handshakes started under an older "
			         "configuration", busy);
		ls->reload_waiting_logged = 1;
		return;
	}
	ls->reload_wanted = 0;
	ls->reload_waiting_logged = 0;
	if (conf_load(spare, lp->conf_file, lp->args, lp->nargs, "reload: ") ||
	    conf_check_maildirs(c, "reload: ") ||
	    conf_check_tls(c, "reload: ")) {
		log_err("reload: configuration invalid, keeping the old one");
		return;
	}
	conf_print_warnings(c, "reload: ");
	if (!same_listeners(old, c))
		log_warn("reload: listener changes take effect after a "
		         "restart; still listening as before");
	if (!same_str(old->user, c->user) || !same_str(old->pid_file, c->pid_file))
		log_warn("reload: user and pid-file changes take effect after "
		         "a restart");
	maildir_set_host(c->hostname);
#if CFG_TLS
	if (c->n_tls_cert)
		tls_keys_activate();
#endif
	slot_set_config(c);
	(void)slot_hook_configure(c);   /* checked by conf_load: logged */
#if CFG_QUOTA
	qrun_config(c, (time_t)ls->wall, 0);
#endif
	lp->gen = spare;
	log_info("reload: configuration reloaded from %s (%u domains, "
	         "%u mailboxes)", c->conf_file, c->n_domains, c->n_mailbox);
}

/* ---- the loop -------------------------------------------------------------- */

static void read_signals(struct loop_state *ls)
{
	unsigned char buf[32];
	ssize_t n, i;

	while ((n = read(sig_pipe[0], buf, sizeof buf)) > 0) {
		for (i = 0; i < n; i++) {
			switch (buf[i]) {
			case SIGTERM:
			case SIGINT:
				if (!ls->stopping) {
					log_info("signal %s: stopping",
					         buf[i] == SIGTERM ? "TERM" : "INT");
					shutdown_start(ls);
				} else if (ls->stop_deadline_ms > ls->now_ms) {
					log_info("second stop signal: closing "
					         "all sessions now");
					ls->stop_deadline_ms = ls->now_ms;
				}
				break;
			case SIGHUP:
				log_info("reload requested");
				ls->reload_wanted = 1;
				ls->reload_waiting_logged = 0;
				break;
			case SIGUSR1:
				stats_tick(slot_config()->stats_file, ls->now_ms,
				           slot_count(), 1);
				break;
			default:
				break;
			}
		}
	}
}

static int poll_wait_ms(struct loop_state *ls)
{
	int64_t wait = LOOP_MAX_WAIT_MS;
	const struct slot *sl;

	if (slot_commit_pending() && !slot_commit_busy())
		return 0;
	for (sl = slot_first(); sl; sl = slot_next(sl)) {
		int64_t d, w;

		d = smtp_deadline(&sl->s);
		if (d != INT64_MAX) {
			w = d * 1000 - ls->now_ms;
			if (w < wait)
				wait = w;
		}
		if (sl->close_by_ms && sl->close_by_ms - ls->now_ms < wait)
			wait = sl->close_by_ms - ls->now_ms;
		d = slot_deadline_ms(sl);       /* a TLS handshake's */
		if (d != INT64_MAX && d - ls->now_ms < wait)
			wait = d - ls->now_ms;
	}
	if (ls->stopping && ls->stop_deadline_ms - ls->now_ms < wait)
		wait = ls->stop_deadline_ms - ls->now_ms;
	if (ls->accept_paused_until_ms > ls->now_ms &&
	    ls->accept_paused_until_ms - ls->now_ms < wait)
		wait = ls->accept_paused_until_ms - ls->now_ms;
	if (CFG_HOOK && hook_deadline_ms() - ls->now_ms < wait)
		wait = hook_deadline_ms() - ls->now_ms;
	if (ls->reload_wanted && wait > 1000)
		wait = 1000;    /* waiting for old transactions to end */
	if (stats_wait_ms(slot_config()->stats_file, ls->now_ms) < wait)
		wait = stats_wait_ms(slot_config()->stats_file, ls->now_ms);
#if CFG_QUOTA
	if (qrun_wait_ms((time_t)ls->wall) < wait)    /* a scan, an expiry */
		wait = qrun_wait_ms((time_t)ls->wall);
#endif
	return wait < 0 ? 0 : (int)wait;
}

/* Whether the group commit runs at the end of this turn.  Not in the turn
 * in which the first message completed, when rc > 0 descriptors were ready:
 * then the next turn polls without waiting, and while other sessions still
 * have input ready it serves them first, so that the messages they
 * complete join the same commit (its flushes cost the same for one message
 * as for thirty).  The commit runs in the first turn that finds nothing
 * ready, after LOOP_GATHER_MS at the latest, and at once when stopping.
 * One client alone waits for one poll(2) more.  While a commit is in a
 * child, the messages completed meanwhile have gathered already: they are
 * committed as soon as it reports. */
static int commit_due(struct loop_state *ls, int rc)
{
	if (!slot_commit_pending()) {
		ls->gathering = 0;
		return 0;
	}
	if (slot_commit_busy()) {
		ls->gathering = 1;
		ls->gather_since_ms = ls->now_ms - LOOP_GATHER_MS;
		return 0;
	}
	if (slot_commit_large()) {
		ls->gathering = 0;
		return 1;
	}
	if (!ls->gathering) {
		ls->gathering = 1;
		ls->gather_since_ms = ls->now_ms;
	}
	if (rc > 0 && !ls->stopping
	    && ls->now_ms - ls->gather_since_ms < LOOP_GATHER_MS)
		return 0;
	ls->gathering = 0;
	return 1;
}

static void set_time(struct loop_state *ls)
{
	ls->now_ms = clock_mono_ms();
	ls->now = ls->now_ms / 1000;
	ls->wall = clock_wall();
}

static void session_events(struct loop_state *ls, struct slot *sl,
                           short revents)
{
	unsigned st_before = smtp_state(&sl->s), st;

	smtp_tick(&sl->s, ls->now, ls->wall);
	st = smtp_state(&sl->s);
	if (!(st_before & SMTP_CLOSE) && (st & SMTP_CLOSE) && !sl->result)
		sl->result = sl->s.p.refused ? SESSION_REFUSED :
		             SESSION_TIMEOUT;
#if CFG_TLS
	if (slot_tls(sl)) {
		/* the TLS layer reads, writes and closes */
		slot_tls_io(sl, revents, ls->now_ms);
		return;
	}
#endif

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		if (sl->eof) {
			/* input is not polled for after the EOF: an error
			 * or hang-up says the peer is gone (RST) */
			slot_close(sl, SESSION_CLOSED);
			return;
		}
		if (st & SMTP_WANT_RECV) {
			if (slot_read(sl) != 0) {
				slot_close(sl, SESSION_ERROR);
				return;
			}
		} else if ((revents & (POLLHUP | POLLERR)) &&
		           !(st & SMTP_WANT_SEND)) {
			slot_close(sl, SESSION_CLOSED);
			return;
		}
	}
	if (slot_flush(sl) != 0) {
		slot_close(sl, SESSION_ERROR);
		return;
	}
	slot_check(sl, ls->now_ms);
}

int loop_run(struct loop_params *lp)
{
	struct loop_state ls;
	unsigned i;

	memset(&ls, 0, sizeof ls);
	ls.lp = lp;
	set_time(&ls);
	stats_init(ls.wall);
	for (;;) {
		struct slot *sl;
		nfds_t n = 0, hook_at, commit_at;
		int wait, rc;

		set_time(&ls);
		if (ls.stopping) {
			if (slot_count() == 0)
				break;
			if (ls.now_ms >= ls.stop_deadline_ms) {
				shutdown_force(&ls);
				break;
			}
		}

		pfd[n].fd = sig_pipe[0];
		pfd[n].events = POLLIN;
		pfd_slot[n++] = NULL;
		if (!ls.stopping && ls.accept_paused_until_ms <= ls.now_ms) {
			for (i = 0; i < lp->n_listeners; i++) {
				if (lp->listeners[i].fd < 0)
					continue;
				pfd[n].fd = lp->listeners[i].fd;
				pfd[n].events = POLLIN;
				pfd_slot[n++] = NULL;
			}
		}
		for (sl = slot_first(); sl; sl = slot_next(sl)) {
			pfd[n].fd = sl->fd;
			pfd[n].events = slot_events(sl);
			pfd_slot[n++] = sl;
		}
		/* the hooks' SIGCHLD pipe and output pipes: last */
		hook_at = n;
		if (CFG_HOOK) {
			n += hook_pollfds(pfd + n, LOOP_NFDS - (unsigned)n);
			for (i = hook_at; i < n; i++)
				pfd_slot[i] = NULL;
		}

		/* the commit process: readable when it reports, or ends */
		commit_at = n;
#if CFG_COMMIT_CHILD
		if (slot_commit_fd() >= 0) {
			pfd[n].fd = slot_commit_fd();
			pfd[n].events = POLLIN;
			pfd_slot[n++] = NULL;
		}
#endif
		wait = poll_wait_ms(&ls);
		rc = poll(pfd, n, wait);
		if (rc < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			rc = 0;         /* go on: the next turn ticks and retries */
		}
		set_time(&ls);

		if (rc > 0 && (pfd[PFD_SIGNAL].revents & POLLIN))
			read_signals(&ls);

		/* sessions: every one is ticked, the ready ones served */
		for (i = 0; i < n; i++) {
			sl = pfd_slot[i];
			if (!sl || !slot_is_live(sl) || sl->fd != pfd[i].fd)
				continue;
			session_events(&ls, sl, rc > 0 ? pfd[i].revents : 0);
			if (CFG_HOOK && slot_is_live(sl))
				slot_hook_sent(sl, 0, ls.now_ms);
		}
		/* listeners */
		if (rc > 0 && !ls.stopping) {
			for (i = PFD_LISTEN; i < hook_at && !pfd_slot[i]; i++) {
				const struct listener *l;

				if (!(pfd[i].revents & POLLIN))
					continue;
				l = listener_of(lp, pfd[i].fd);
				if (l)
					accept_on(&ls, l);
			}
		}
#if CFG_COMMIT_CHILD
		if (rc > 0 && commit_at < n && pfd[commit_at].revents)
			slot_commit_collect(ls.now_ms, 0);
#endif
		/* group commit: everything completed since the last one */
		if (commit_due(&ls, rc))
			slot_commit_run(ls.now_ms);
		/* hooks: output, ends, timeouts, queued runs */
		if (CFG_HOOK && rc > 0)
			hook_poll_ready(pfd + hook_at, (unsigned)(commit_at - hook_at),
			                ls.now_ms);
		hook_tick(ls.now_ms);

#if CFG_QUOTA
		/* mailbox limits: a slice of recalculation or expiry */
		if (!ls.stopping)
			qrun_tick((time_t)ls.wall);
#endif
		if (ls.stopping)
			shutdown_progress(&ls);
		else if (ls.reload_wanted)
			reload_try(&ls);
		/* the stats file: at the start, then every 10 s */
		stats_tick(slot_config()->stats_file, ls.now_ms,
		           slot_count(), 0);
	}
	hook_stop();            /* what is left of the 10 s, then killed */
	set_time(&ls);
	stats_tick(slot_config()->stats_file, ls.now_ms, slot_count(), 1);
	log_info("stopped");
	return 0;
}
