#include "slot.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "slot_io.h"
#include "slot_log.h"
#include "slot_sink.h"
#include "stats.h"
#if CFG_TLS
#include "tls.h"
#endif

static struct slot slots[CFG_MAX_SESSIONS];
/* 1 while slots[i] holds a session.  Kept apart from the slots, so that
 * the scans over every slot (the iterator, the loop's turns) read this
 * small table only, and a slot's pages stay out of the resident set until
 * a session uses it. */
static uint8_t live[CFG_MAX_SESSIONS];

static const struct mn_config *current;

/* see slot.h */
void slot_init(void)
{
	if (CFG_BENCH_DISCARD)
		log_stderr("built with BENCH_DISCARD: every message is "
		           "answered 250 and discarded (benchmark only)");
	/* Nothing else: every slot starts free (live[] zeroed), and writing
	 * to the slots now would make all of them resident. */
}

/* see slot.h */
void slot_set_config(const struct mn_config *c)
{
	current = c;
}

/* see slot.h */
const struct mn_config *slot_config(void)
{
	return current;
}

/* see slot.h */
unsigned slot_cfg_in_use(const struct mn_config *c)
{
	const struct slot *sl;
	unsigned n = 0;

	for (sl = slot_first(); sl; sl = slot_next(sl))
		if (sl->txn && sl->txn_cfg == c)
			n++;
	return n;
}

/* see slot.h */
size_t slot_footprint(void)
{
	return sizeof slots;
}

/* ---- the table ------------------------------------------------------------ */

/* see slot.h */
int slot_is_live(const struct slot *sl)
{
	return live[sl - slots];
}

/* see slot.h */
struct slot *slot_next(const struct slot *sl)
{
	unsigned i = sl ? (unsigned)(sl - slots) + 1 : 0;

	for (; i < CFG_MAX_SESSIONS; i++)
		if (live[i])
			return &slots[i];
	return NULL;
}

/* see slot.h */
struct slot *slot_free(void)
{
	unsigned i;

	for (i = 0; i < CFG_MAX_SESSIONS; i++)
		if (!live[i])
			return &slots[i];
	return NULL;
}

/* see slot.h */
unsigned slot_count(void)
{
	unsigned i, n = 0;

	for (i = 0; i < CFG_MAX_SESSIONS; i++)
		n += live[i];
	return n;
}

/* ---- a session's start and end ------------------------------------------- */

/* see slot.h */
void slot_start(struct slot *sl, int fd, const char *ip, int v6,
                const uint8_t bin[16], int refused, int tls, int auth,
                int64_t now_ms, int64_t wall)
{
	const struct mn_config *c = current;
	struct smtp_params p;

	live[sl - slots] = 1;
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
		slot_start_tls(sl, 1);
		return;
	}
#endif
	if (slot_flush(sl) != 0)
		slot_close(sl, SESSION_ERROR);
	else
		slot_check(sl, now_ms);
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

/* see slot.h */
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
	slot_spill_drop(sl);
	smtp_session_end(&sl->s);
	slot_sink_end(sl);
	slot_log_session(sl, sl->result ? sl->result : result);
#if CFG_TLS
	tls_conn_stop(sl->tls);
	sl->tls_want = 0;
#endif
	drain(sl->fd);
	if (close(sl->fd) != 0) {
		/* the descriptor is gone either way */
	}
	sl->fd = -1;
	live[sl - slots] = 0;
}
