/*
 * TLS connections: BearSSL's server engine between the socket and the SMTP
 * engine, driven by the shared poll() loop.  See tls.h for the interface.
 *
 * Profile.  What is offered, and which BearSSL code computes it, is
 * tls_algs.c's choice; renegotiation is refused here.
 *
 * Buffers.  Each connection has its br_ssl_server_context (about 4 KiB),
 * an input buffer of BR_SSL_BUFSIZE_INPUT (16 KiB + 325) and a separate
 * output buffer of TLS_OBUF_SIZE (1 KiB + 85): 21.9 KiB in all, static,
 * CFG_MAX_SESSIONS of them.  The pages are touched only when a slot first
 * does TLS.
 *
 * Why not one shared (MONO, half-duplex) buffer.  BR_SSL_BUFSIZE_MONO would
 * save those 1109 bytes, and for most of SMTP half-duplex is harmless: in
 * MONO mode, once any byte of a client record has been received, the
 * engine accepts no application data to send until that record's
 * plaintext has been read out (recvapp), and while a record of ours waits
 * to be written it takes no input.  SMTP answers complete commands, so the
 * server rarely has anything to say while a client record is
 * half-received; when it does (the client pipelined the next record while
 * we were answering the last), the reply waits until the client's record
 * is complete, which it will be without any help from us, because a TLS
 * stack writes whole records; and the client's next record waits in the
 * kernel while ours is written.  Those are brief stalls, not locks.
 *
 * The exception is PIPELINING (RFC 2920) meeting the SMTP engine's
 * back-pressure.  One record may carry 16 KiB of plaintext, the engine's
 * input buffer takes CFG_RECV_BUFSIZE (4 KiB by default), and the engine
 * stops consuming input when its reply buffer (CFG_REPLY_BUFSIZE, 2 KiB)
 * cannot take another reply, until those replies have been sent.  A client
 * that pipelines more than about 4 KiB of commands in one record whose
 * replies overflow 2 KiB (200 RCPTs in a batch, say, or a flood of NOOPs)
 * would then hold the engine waiting for its replies to leave, the replies
 * waiting for the shared buffer, and the buffer holding the rest of the
 * record that the engine will not take: a deadlock until the timeout.
 * (The server cannot make clients send smaller records: the maximum
 * fragment length extension is the client's choice.)  A separate small
 * output buffer removes it: replies always have somewhere to go, BearSSL
 * fragments our records (handshake messages included) to 1 KiB of
 * plaintext, and incoming records of any legal size still fit.
 * tests/unit/t_tls.c pipelines 16 KiB of NOOPs in one record to prove it.
 *
 * Two certificates.  With an RSA and an EC pair, set_keys() offers the
 * suites of both (EC's first) and the policy handler asks BearSSL's own
 * single-key policies in turn: the EC one picks the first ECDHE_ECDSA suite
 * the client can use (it offered one, the EC key's curve among its groups,
 * and for TLS 1.2 an ECDSA signature hash), else the RSA one picks from the
 * rest.
 *
 * Session cache.  One br_ssl_session_cache_lru shared by every connection,
 * TLS_CACHE_ENTRIES entries of 100 bytes in a static buffer: a device that
 * delivers every few minutes resumes its session and skips the ECDHE and
 * signature work, which is what costs on a small CPU.
 */
#include "tls.h"
#include "stats.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#define TLS_OBUF_FRAG      1024
#define TLS_OBUF_SIZE      (TLS_OBUF_FRAG + 85)   /* + BearSSL's max overhead */
#define TLS_CACHE_ENTRIES  16
#define TLS_SEED_LEN       48
#define TLS_CONN_SEED_LEN  32

/* Two certificates: the RSA policy context as br_ssl_server_set_single_rsa()
 * fills it (the EC one stays where br_ssl_server_set_single_ec() puts it,
 * in the server context), and the one chosen. */
struct tls_dual {
	const br_ssl_server_policy_class *vtable;
	const br_ssl_server_policy_class **chosen;
	br_ssl_server_policy_rsa_context rsa;
};

struct tls_conn {
	br_ssl_server_context sc;
	struct tls_dual dual;
	const struct tls_keys *keys;    /* the handshake in progress uses them */
	int64_t hs_deadline;            /* monotonic ms */
	uint8_t why;                    /* enum session_end, set when done */
	int err;                        /* BearSSL's error when it failed */
	unsigned version, suite;        /* after the handshake */
	uint8_t configured;             /* algorithms and buffers are set */
	uint8_t active;
	uint8_t implicit;
	uint8_t established;
	uint8_t closing;                /* close_notify queued */
	uint8_t eof;                    /* the client's FIN was read */
	uint8_t held;                   /* its next record, an alert, waits */
	uint8_t done;
	unsigned char ibuf[BR_SSL_BUFSIZE_INPUT];
	unsigned char obuf[TLS_OBUF_SIZE];
};

static struct tls_conn conns[CFG_MAX_SESSIONS];
static br_ssl_session_cache_lru cache;
static unsigned char cache_store[TLS_CACHE_ENTRIES * 100];
static br_hmac_drbg_context drbg;
static uint8_t drbg_ready;

int tls_init(const char **why)
{
	unsigned char seed[TLS_SEED_LEN];
	size_t got = 0;

	while (got < sizeof seed) {
		ssize_t n = getrandom(seed + got, sizeof seed - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			return -1;
		}
		got += (size_t)n;
	}
	br_hmac_drbg_init(&drbg, &br_sha256_vtable, seed, sizeof seed);
	memset(seed, 0, sizeof seed);
	br_ssl_session_cache_lru_init(&cache, cache_store, sizeof cache_store);
	drbg_ready = 1;
	return 0;
}

struct tls_conn *tls_conn_get(unsigned i)
{
	return i < CFG_MAX_SESSIONS ? &conns[i] : NULL;
}

size_t tls_footprint(void)
{
	return sizeof conns + 2 * sizeof(struct tls_keys) + sizeof cache_store;
}

/* Once per context: everything but the keys. */
static void configure(struct tls_conn *c)
{
	br_ssl_engine_context *eng = &c->sc.eng;

	br_ssl_server_zero(&c->sc);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	tls_algs_configure(eng);
	br_ssl_engine_set_buffers_bidi(eng, c->ibuf, sizeof c->ibuf,
	                               c->obuf, sizeof c->obuf);
	br_ssl_engine_add_flags(eng, BR_OPT_ENFORCE_SERVER_PREFERENCES |
	                             BR_OPT_NO_RENEGOTIATION);
	br_ssl_server_set_cache(&c->sc, &cache.vtable);
	c->configured = 1;
}

static int dual_choose(const br_ssl_server_policy_class **pctx,
                       const br_ssl_server_context *cc,
                       br_ssl_server_choices *choices)
{
	struct tls_dual *d = (struct tls_dual *)(void *)pctx;
	struct tls_conn *c = (struct tls_conn *)(void *)
	                     ((char *)d - offsetof(struct tls_conn, dual));
	br_ssl_server_policy_ec_context *pe = &c->sc.chain_handler.single_ec;

	/* the client's groups are also the curves of the ECDSA certificates
	 * it takes (RFC 8422 5.1.1, and OpenSSL refuses others): without the
	 * key's curve among them, only the RSA certificate can serve */
	d->chosen = &pe->vtable;
	if (((br_ssl_server_get_client_curves(cc) >> pe->sk->curve) & 1) &&
	    (*d->chosen)->choose(d->chosen, cc, choices))
		return 1;
	d->chosen = &d->rsa.vtable;
	return d->rsa.vtable->choose(d->chosen, cc, choices);
}

static uint32_t dual_keyx(const br_ssl_server_policy_class **pctx,
                          unsigned char *data, size_t *len)
{
	struct tls_dual *d = (struct tls_dual *)(void *)pctx;

	return (*d->chosen)->do_keyx(d->chosen, data, len);
}

static size_t dual_sign(const br_ssl_server_policy_class **pctx,
                        unsigned algo_id, unsigned char *data, size_t hv_len,
                        size_t len)
{
	struct tls_dual *d = (struct tls_dual *)(void *)pctx;

	return (*d->chosen)->do_sign(d->chosen, algo_id, data, hv_len, len);
}

static const br_ssl_server_policy_class dual_vtable = {
	sizeof(struct tls_dual), dual_choose, dual_keyx, dual_sign
};

static void set_keys(struct tls_conn *c, const struct tls_keys *k,
                     unsigned min_version)
{
	br_ssl_engine_context *eng = &c->sc.eng;
	const struct tls_cred *ec = NULL, *rsa = NULL;
	uint16_t suites[2 * TLS_ALGS_SUITES_MAX];
	size_t n = 0;
	unsigned i;
	int legacy = CFG_TLS_LEGACY && min_version < BR_TLS12;

	if (!legacy)
		min_version = BR_TLS12;
	br_ssl_engine_set_versions(eng, min_version, BR_TLS12);
#if CFG_TLS_LEGACY
	/* TLS 1.0/1.1 hash the handshake with MD5 and SHA-1 */
	br_ssl_engine_set_hash(eng, br_md5_ID, legacy ? &br_md5_vtable : NULL);
#endif
	for (i = 0; i < k->n_cred; i++) {
		if (k->cred[i].key_type == BR_KEYTYPE_EC)
			ec = &k->cred[i];
		else
			rsa = &k->cred[i];
	}
	/* EC first: the suites and, with two, the policy try it first */
	if (ec)
		n = tls_algs_suites(suites, n, 1, legacy);
	if (rsa) {
		/* KEYX: RSA key exchange, only ever chosen from the suites
		 * offered, so only with legacy ones */
		n = tls_algs_suites(suites, n, 0, legacy);
		br_ssl_server_set_single_rsa(&c->sc, rsa->chain, rsa->chain_len,
		                             &rsa->sk.rsa,
		                             BR_KEYTYPE_SIGN | BR_KEYTYPE_KEYX,
		                             br_rsa_private_get_default(),
		                             br_rsa_pkcs1_sign_get_default());
		c->dual.rsa = c->sc.chain_handler.single_rsa;
	}
	if (ec)
		br_ssl_server_set_single_ec(&c->sc, ec->chain, ec->chain_len,
		                            &ec->sk.ec, BR_KEYTYPE_SIGN,
		                            ec->issuer_key_type,
		                            &tls_ec,
		                            br_ecdsa_sign_asn1_get_default());
	br_ssl_engine_set_suites(eng, suites, n);
	if (ec && rsa) {
		c->dual.vtable = &dual_vtable;
		br_ssl_server_set_policy(&c->sc, &c->dual.vtable);
	}
}

int tls_conn_start(struct tls_conn *c, int implicit, unsigned min_version,
                   int64_t now_ms, int64_t timeout_ms)
{
	const struct tls_keys *k = tls_keys_current();
	unsigned char seed[TLS_CONN_SEED_LEN];

	c->active = 1;
	c->implicit = (uint8_t)(implicit != 0);
	c->established = 0;
	c->closing = 0;
	c->eof = 0;
	c->held = 0;
	c->done = 0;
	c->why = SESSION_END_NONE;
	c->err = 0;
	c->version = c->suite = 0;
	c->hs_deadline = now_ms + timeout_ms;
	c->keys = k;
	if (!k || !drbg_ready) {
		c->done = 1;
		c->why = SESSION_TLS_ERROR;
		return -1;
	}
	if (!c->configured)
		configure(c);
	set_keys(c, k, min_version);
	br_hmac_drbg_generate(&drbg, seed, sizeof seed);
	br_ssl_engine_inject_entropy(&c->sc.eng, seed, sizeof seed);
	memset(seed, 0, sizeof seed);
	c->sc.client_max_version = 0;   /* not reset by BearSSL */
	if (!br_ssl_server_reset(&c->sc)) {
		c->err = br_ssl_engine_last_error(&c->sc.eng);
		c->done = 1;
		c->why = SESSION_TLS_ERROR;
		return -1;
	}
	return 0;
}

void tls_conn_stop(struct tls_conn *c)
{
	c->active = 0;
	c->keys = NULL;
	c->established = 0;
}

int tls_conn_active(const struct tls_conn *c)
{
	return c->active;
}

int tls_conn_established(const struct tls_conn *c)
{
	return c->active && c->established;
}

unsigned tls_keys_spare_busy(void)
{
	const struct tls_keys *spare = tls_keys_spare();
	unsigned i, n = 0;

	for (i = 0; i < CFG_MAX_SESSIONS; i++)
		if (conns[i].active && !conns[i].established &&
		    conns[i].keys == spare)
			n++;
	return n;
}

int64_t tls_conn_deadline(const struct tls_conn *c)
{
	if (!c->active || c->established || c->done)
		return INT64_MAX;
	return c->hs_deadline;
}

static int finish(struct tls_conn *c, enum session_end why)
{
	if (!c->done) {
		c->done = 1;
		c->why = (uint8_t)why;
		/* a handshake that never finished, by error or by time */
		if (!c->established && why != SESSION_QUIT &&
		    why != SESSION_CLOSED)
			stats_tls_handshake(TLS_RESULT_FAILED);
	}
	return TLS_PUMP_DONE;
}

static void handshake_done(struct tls_conn *c, struct smtp_session *s)
{
	br_ssl_session_parameters sp;

	c->established = 1;
	stats_tls_handshake(TLS_RESULT_OK);
	c->keys = NULL;         /* no renegotiation: the keys are not needed */
	c->version = br_ssl_engine_get_version(&c->sc.eng);
	br_ssl_engine_get_session_parameters(&c->sc.eng, &sp);
	c->suite = sp.cipher_suite;
	memset(&sp, 0, sizeof sp);      /* it holds the master secret */
	if (!c->implicit)
		smtp_tls_started(s);
}

/* The four channels, as run_ssl_engine() in BearSSL's tools/sslio.c moves
 * them, but without blocking and with the SMTP engine instead of stdio.
 * Each step either moves bytes (then the state is read again) or cannot
 * (then the next step is tried); the loop ends when nothing moved. */
int tls_conn_pump(struct tls_conn *c, int fd, struct smtp_session *s,
                  short revents, int64_t now_ms)
{
	br_ssl_engine_context *eng = &c->sc.eng;
	int reads = (revents & (POLLIN | POLLHUP | POLLERR)) ?
	            TLS_READS_PER_PUMP : 0;
	int write_blocked = 0;
	unsigned st, ss;
	int want = 0;

	if (c->done || !c->active)
		return TLS_PUMP_DONE;
	/* input is not polled for after the FIN or while an alert is held:
	 * an error or hang-up then says the peer is gone (RST) */
	if ((c->eof || c->held) && (revents & (POLLHUP | POLLERR)))
		return finish(c, SESSION_CLOSED);
	if (!c->established && now_ms >= c->hs_deadline)
		return finish(c, SESSION_TLS_TIMEOUT);
	/* the session ended (a timeout, a shutdown) before the handshake
	 * did: no reply can reach the client any more */
	if (!c->established && (smtp_state(s) & SMTP_CLOSE))
		return finish(c, SESSION_QUIT);
	for (;;) {
		st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED) {
			c->err = br_ssl_engine_last_error(eng);
			if (c->err != BR_ERR_OK)
				return finish(c, SESSION_TLS_ERROR);
			/* the peer's close_notify, answered */
			return finish(c, c->closing ? SESSION_QUIT : SESSION_CLOSED);
		}
		if (!c->established && (st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)))
			handshake_done(c, s);

		/* client plaintext -> SMTP engine */
		ss = smtp_state(s);
		if ((st & BR_SSL_RECVAPP) && (ss & SMTP_WANT_RECV)) {
			size_t alen = 0, room = 0, n;
			unsigned char *a = br_ssl_engine_recvapp_buf(eng, &alen);
			uint8_t *p = smtp_recv_buf(s, &room);

			if (a && alen && p && room) {
				n = alen < room ? alen : room;
				memcpy(p, a, n);
				br_ssl_engine_recvapp_ack(eng, n);
				smtp_recv_ack(s, n);
				continue;
			}
		}

		/* SMTP replies -> records */
		ss = smtp_state(s);
		if (c->established && (ss & SMTP_WANT_SEND) &&
		    (st & BR_SSL_SENDAPP)) {
			size_t rlen = 0, blen = 0, n;
			const char *r = smtp_send_buf(s, &rlen);
			unsigned char *b = br_ssl_engine_sendapp_buf(eng, &blen);

			if (r && rlen && b && blen) {
				n = rlen < blen ? rlen : blen;
				memcpy(b, r, n);
				br_ssl_engine_sendapp_ack(eng, n);
				smtp_send_ack(s, n);
				br_ssl_engine_flush(eng, 0);
				continue;
			}
		}

		/* the session is over and every reply is in a record:
		 * close_notify goes after them */
		if ((ss & SMTP_DEAD) && !c->closing) {
			c->closing = 1;
			if (c->established)
				br_ssl_engine_close(eng);
			continue;
		}

		/* records -> socket */
		if ((st & BR_SSL_SENDREC) && !write_blocked) {
			size_t len = 0;
			unsigned char *b = br_ssl_engine_sendrec_buf(eng, &len);
			ssize_t n = send(fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)n);
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				write_blocked = 1;
			else
				return finish(c, SESSION_ERROR);
		}
		if (c->closing && !(st & BR_SSL_SENDREC))
			return finish(c, SESSION_QUIT);

		/* socket -> records */
		if ((st & BR_SSL_RECVREC) && reads > 0 && !c->eof) {
			size_t len = 0;
			unsigned char *b = br_ssl_engine_recvrec_buf(eng, &len);
			unsigned char type;
			ssize_t n;

			/* BearSSL asks for a record's 5-byte header at the
			 * start of ibuf, then for its body: nothing beyond
			 * the record is read.  A client's alert (close_notify
			 * sent with its last commands) makes BearSSL close at
			 * once and refuse our replies still to come, so while
			 * the SMTP engine has some (a commit, replies not yet
			 * in records) the alert stays in the socket.  Only a
			 * peeked byte lets the record be read: one that
			 * arrives after the peek waits for the next turn. */
			n = 1;
			c->held = 0;
			if (b == c->ibuf && c->established &&
			    (ss & (SMTP_WANT_SEND | SMTP_COMMITTING | SMTP_PAUSED))) {
				n = recv(fd, &type, 1, MSG_PEEK | MSG_DONTWAIT);
				c->held = n == 1 && type == 21;
				if (c->held)
					break;
			}
			if (n > 0)
				n = recv(fd, b, len, MSG_DONTWAIT);
			reads--;
			if (n > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)n);
				continue;
			}
			if (n == 0) {
				/* a half-close: the replies still go out */
				c->eof = 1;
				continue;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return finish(c, SESSION_ERROR);
			reads = 0;
		}
		break;
	}
	/* after the FIN: done once every reply is on the wire (a QUIT's
	 * 221 and close_notify went the SMTP_DEAD way above) */
	if (c->eof && !c->closing && !(st & BR_SSL_SENDREC) &&
	    (!c->established ||
	     !(ss & (SMTP_WANT_SEND | SMTP_COMMITTING | SMTP_PAUSED))))
		return finish(c, SESSION_CLOSED);
	if (st & BR_SSL_SENDREC)
		want |= POLLOUT;
	if ((st & BR_SSL_RECVREC) && !c->eof &&
	    !(c->held && (ss & (SMTP_WANT_SEND | SMTP_COMMITTING | SMTP_PAUSED))))
		want |= POLLIN;
	return want;
}

enum session_end tls_conn_why(const struct tls_conn *c)
{
	return (enum session_end)c->why;
}

const char *tls_conn_error(const struct tls_conn *c, char *buf, size_t len)
{
	return tls_error_name(c->err, buf, len);
}

const char *tls_conn_failure(const struct tls_conn *c, unsigned *version,
                             char *buf, size_t len)
{
	enum session_end why = (enum session_end)c->why;
	/* BearSSL keeps the ClientHello's client_version, and the record
	 * layer's version of what came in (reset with the engine): old
	 * clients put their best in the first, a few in the second */
	unsigned v = c->sc.client_max_version, r = c->sc.eng.version_in;

	*version = v > r ? v : r;
	/* "quit": the session ended it; "closed" before a record: a probe */
	if (!c->active || c->established || why == SESSION_END_NONE ||
	    why == SESSION_QUIT || (why == SESSION_CLOSED && !*version))
		return NULL;
	if (why == SESSION_CLOSED || why == SESSION_ERROR)
		return "closed";        /* the client gave up, or a socket error */
	if (why == SESSION_TLS_TIMEOUT)
		return "timeout";
	switch (c->err) {
	case BR_ERR_SEND_FATAL_ALERT + 40:      /* handshake_failure */
		return "no-common-suite";
	case BR_ERR_SEND_FATAL_ALERT + 70:      /* protocol_version */
		return "no-common-version";
	case BR_ERR_UNSUPPORTED_VERSION:        /* not a TLS record at all */
		return "bad-record";
	default:
		return tls_conn_error(c, buf, len);
	}
}

const char *tls_conn_version(const struct tls_conn *c)
{
	return c->established ? tls_version_name(c->version) : "";
}

const char *tls_conn_suite(const struct tls_conn *c)
{
	return c->established ? tls_suite_name(c->suite) : "";
}
