/*
 * libFuzzer target: platform/'s TLS glue (tls_conn.c, with keys from
 * tls_keys.c), the server side of one connection over a socketpair,
 * pumped as the poll loop pumps it.  A fake SMTP engine stands in for
 * core/'s (the glue only calls the smtp_* functions below), so every byte
 * the glue hands it, and every reply it takes from it, is checked.
 *
 * Byte 0 picks the mode and its options:
 *
 *   bit 0     0: raw.  Bytes 1..4 seed a PRNG, the rest is what a client
 *                sends, cut into writes where the PRNG says; it also moves
 *                the clock (past the handshake deadline now and then),
 *                stops the fake engine, and may shut the client's side at
 *                the end.  With CONFIG_TLS_LEGACY, byte 1 also picks
 *                tls-min-version (1.0, 1.1 or 1.2).
 *             1: client.  A BearSSL client that knows the test key
 *                handshakes with the server, then bytes 1.. are operations
 *                (op_client()): application data of some size, flushes,
 *                how the client's bytes are cut into writes, a corrupted
 *                byte, raw bytes slipped in, close_notify, renegotiation,
 *                a pause in its reading (the sockets' buffers are small:
 *                writes block), a shutdown or close of the socket, and the
 *                fake engine's replies, back-pressure, pause (a failed
 *                AUTH: SMTP_PAUSED, its reply due a second later) and end.
 *   bit 1     implicit TLS, else STARTTLS (smtp_tls_started() expected)
 *   bits 2-3  client suites: BearSSL's defaults, or only ECDHE-ECDSA with
 *             AES-256-GCM, only ECDHE-ECDSA with ChaCha20-Poly1305, only
 *             ECDHE-RSA with AES-128-GCM (the server's second, RSA,
 *             certificate; the defaults get the EC one)
 *   bit 4     the client writes small records (a 600-byte output buffer)
 *   bit 5     the operations start at once, the handshake among them
 *   bit 6     the slot is reused, as the loop reuses it: a first client
 *             handshakes on it and is cut off; then the connection under
 *             test starts there (and mode 1's client resumes that session)
 *   bit 7     8 bytes for tls_conn_error()'s and tls_conn_failure()'s
 *             text (a cut name), else 64; with CONFIG_TLS_LEGACY in mode
 *             1 also tls-min-version 1.0 (the client still gets TLS 1.2)
 *
 * Invariants (abort() on violation, which libFuzzer reports):
 *   - tls_conn_pump() answers POLLIN/POLLOUT or TLS_PUMP_DONE, and once
 *     done tls_conn_why() is one of its documented reasons;
 *   - tls_conn_failure() says nothing for a completed handshake, and for
 *     a failed one one of its documented reasons (timeout only for
 *     "tls-timeout", closed only for "closed" or "error"), or BearSSL's
 *     reason exactly as tls_conn_error() puts it;
 *   - the engine is given bytes, and asked for replies, only after the
 *     handshake (after smtp_tls_started(), once, on STARTTLS only), and
 *     never more than it offered;
 *   - what the engine receives is a prefix of what the client sent, and
 *     what the client receives a prefix of what the engine replied,
 *     whatever was cut, corrupted or slipped in (the records are AEAD);
 *   - on a clean run (handshake done, nothing corrupted or slipped in, the
 *     client neither closed nor shut down, the engine not stopped) every
 *     byte arrives, both ways;
 *   - when the engine stopped after the handshake ("quit"), every reply
 *     reached the client, then close_notify;
 *   - when the client half-closed after the handshake (and did nothing
 *     worse), every reply reached it, a paused one included
 *     (a client may pipeline QUIT and half-close, as Exim does);
 *   - the suite is ECDHE-RSA when the client asked for it, else ECDHE-ECDSA.
 *
 * Deterministic: getrandom() and BearSSL's system seeder are replaced
 * below by fixed bytes and none; every input gets a fresh tls_init() (DRBG
 * and session cache), slot 0 back in its start-up state, and a socketpair
 * per connection, closed at its end.  The keys and certificates (throwaway
 * EC P-256 and RSA-1024 pairs made for this file, RSA small for speed) go
 * through tls_keys_load() once, from memfds: no file is written.
 */
#include <config.h>

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp_engine.h"
#include "tls.h"

#if CFG_MAX_SESSIONS < 2
#error "fuzz_tls measures a slot as the distance between slots 0 and 1"
#endif

#define T0          1000
#define HS_TIMEOUT  10000
#define DATA_MAX    (256 * 1024)   /* per direction and input */
#define WIRE_MAX    (64 * 1024)    /* client bytes not yet written */
#define SMALL_OBUF  600            /* 512 bytes of plaintext per record */
#define SOCKET_BUF  8192           /* SO_SNDBUF of both ends */

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_tls: invariant failed: %s (line %d)\n", \
		        #cond, __LINE__); \
		abort(); \
	} \
} while (0)

static const char rsa_key_pem[] =
	"-----BEGIN RSA PRIVATE KEY-----\n"
	"MIICXAIBAAKBgQC4AhqOQNRJFk/G4BhJkSwE7TzJSjC87HEDmKtITLZz2sYHsu1P\n"
	"Tt157JsLUeF5MNF9Y/COsrAONwMVCoM5h5cEGQ8piR+FwOEB0lPmIao8O4luV0lQ\n"
	"0wyJjKDtPpdm2LCAUCgHEzyCKpP6Ybfmtd+LtifPzW5xxrHWTNyKVBp8KwIDAQAB\n"
	"AoGBAJb5wugs8QD2uYYnoEXcQw3XySQvJ0Ybia61uPOdXaY5PnpaqLOFtdqv85aa\n"
	"HDHfiEMlmN68Zg+Du5esBHdTdOeXYXR6NC+cSfeeyhA5+aacsnL2Msdf9oCa1xrF\n"
	"yMAFsIb/Q4hksZd48XXuQPQWPyGhB+8dfF+1hmyHRdCSWFFhAkEA4i9EygvL4k0V\n"
	"oO8yaAQEU2Oklvht38WnKTXrt+0/mwbhNdODQJ5NZ3V8t9sWnyplu9KWqSCWwVuC\n"
	"hc61XYw1dwJBANBDkTRrTEDpByK9skcYMK2fTjHdAAkXdrEUBvfcV88TO5VM15MK\n"
	"sgRz1F6NJK7jCyA9pZZH9yhsioTnvvK+K+0CQHAyXGARG/DEpg7vuERKgc7PpaxR\n"
	"zUbsJ7BUk/nnkN6YugxWQExEekbwy43z+rO3d0GFA8Efbki52PQBBoxB6Z8CQAkV\n"
	"2YDK6YGvaMNIOT3GvWDloTilpnm/D0t8Ty2C7EW5VhEWUBU3EzsEfpA9YgtLFlIq\n"
	"vk2HCC44Rfa0UW0vhKUCQBOkjj3+QnPuJgAFFT7Yy9put7LLZueOrW+3/+TtHjnM\n"
	"c1K5KTL43u6z7K+ADbEAYvYIcCzffIWpWrB9fp/ylNM=\n"
	"-----END RSA PRIVATE KEY-----\n";
static const char rsa_cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIICAjCCAWugAwIBAgIUYSd6A77BYWRZAsVid9vJHdswwaAwDQYJKoZIhvcNAQEL\n"
	"BQAwEjEQMA4GA1UEAwwHbXgudGVzdDAgFw0yNjEyMDMxNjE1NThaGA8yMTI2MTEw\n"
	"OTE2MTU1OFowEjEQMA4GA1UEAwwHbXgudGVzdDCBnzANBgkqhkiG9w0BAQEFAAOB\n"
	"jQAwgYkCgYEAuAIajkDUSRZPxuAYSZEsBO08yUowvOxxA5irSEy2c9rGB7LtT07d\n"
	"eeybC1HheTDRfWPwjrKwDjcDFQqDOYeXBBkPKYkfhcDhAdJT5iGqPDuJbldJUNMM\n"
	"iYyg7T6XZtiwgFAoBxM8giqT+mG35rXfi7Ynz81uccax1kzcilQafCsCAwEAAaNT\n"
	"MFEwHQYDVR0OBBYEFJ+syEncY9cxTj4M2sNT9d8V4DIYMB8GA1UdIwQYMBaAFJ+s\n"
	"yEncY9cxTj4M2sNT9d8V4DIYMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQEL\n"
	"BQADgYEAkCGUEcnvGcmBpHSqfsWiRJXKk2kilfjYr82dWUwIHmXZBQqNjU7uqhVb\n"
	"zIe5bVMBC7SS2XBEEXb0afELBvYBsDvgDseBq7dwbQgTCprZP87GjQoq/IgDDkYa\n"
	"Gfz96wp9E23SiJ5fDTrZCn6nstKIgSZwtW45zQih/gO0QvLwfVs=\n"
	"-----END CERTIFICATE-----\n";
static const char key_pem[] =
	"-----BEGIN EC PRIVATE KEY-----\n"
	"MHcCAQEEIONCw9kqOE73elr86Qc4BmMv5wWFLNVlk7lzgj62fO0aoAoGCCqGSM49\n"
	"AwEHoUQDQgAE2CrelBwYZgwiHPyJRQZMdlzIa8nYO3rOupB8eo7teQeZh9RzM8gA\n"
	"HE8X9T3yjj2ZUr65DUJG2DBsjA/z/E0Bmg==\n"
	"-----END EC PRIVATE KEY-----\n";
static const char cert_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBezCCASGgAwIBAgIUQ8rsP8YbaADowm1MQ9D5Ubr1HAEwCgYIKoZIzj0EAwIw\n"
	"EjEQMA4GA1UEAwwHbXgudGVzdDAgFw0yNjEyMDMxNTAxMzlaGA8yMTI2MTEwOTE1\n"
	"MDEzOVowEjEQMA4GA1UEAwwHbXgudGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
	"A0IABNgq3pQcGGYMIhz8iUUGTHZcyGvJ2Dt6zrqQfHqO7XkHmYfUczPIABxPF/U9\n"
	"8o49mVK+uQ1CRtgwbIwP8/xNAZqjUzBRMB0GA1UdDgQWBBSJwlUnlxno8C/f/nJs\n"
	"49EqMlQwWjAfBgNVHSMEGDAWgBSJwlUnlxno8C/f/nJs49EqMlQwWjAPBgNVHRMB\n"
	"Af8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQCZSozGed8O4yTOGI83hMpj3Akk\n"
	"mL3cTfdg8goeHGEaBgIgP2jn4Ff4/1dtV48MSNBzRAhyL5yi2stpDIsYHOisu1Q=\n"
	"-----END CERTIFICATE-----\n";

/* ---- fixed entropy ------------------------------------------------------- */

/* tls_init()'s seed: the same for every input. */
ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
	(void)flags;
	memset(buf, 0x5a, len);
	return (ssize_t)len;
}

/* BearSSL asks for the OS's entropy once per context: none here (RDRAND
 * or /dev/urandom would make runs differ); what the glue injects, and
 * the client's fixed seed, are enough. */
br_prng_seeder br_prng_seeder_system(const char **name)
{
	if (name)
		*name = "none";
	return 0;
}

/* ---- the byte streams ---------------------------------------------------- */

/* Byte i of what the client sends, and of what the engine replies. */
static uint8_t c2s(uint64_t i)
{
	return (uint8_t)(i * 13 + 7 + (i >> 8));
}

static uint8_t s2c(uint64_t i)
{
	return (uint8_t)(i % 251);
}

/* ---- the fake SMTP engine ------------------------------------------------- */

static struct {
	uint8_t rbuf[CFG_RECV_BUFSIZE];
	size_t rlen;            /* held: not yet "parsed" */
	size_t room_max;        /* room offered at most, 1.. */
	size_t offered;         /* by the last smtp_recv_buf() */
	char sbuf[CFG_REPLY_BUFSIZE];
	size_t queued;          /* reply bytes not yet taken */
	size_t offered_send;
	uint64_t got;           /* bytes received from the client */
	uint64_t sent;          /* reply bytes taken by the glue */
	uint64_t replies;       /* reply bytes ever queued */
	uint8_t implicit, start_tls, tls_started;
	uint8_t hold;           /* keeps what it receives: back-pressure */
	uint8_t quit;           /* SMTP_CLOSE */
	uint8_t paused;         /* SMTP_PAUSED: keeps its input, a reply due */
	int64_t pause_until;    /* ... at this time (ms, as the glue's clock) */
} app;

static struct smtp_session sess;
static struct tls_conn *conn;

unsigned smtp_state(const struct smtp_session *s)
{
	unsigned st = 0;

	(void)s;
	if (app.start_tls)
		st |= SMTP_START_TLS;
	else if (app.quit ? app.queued != 0 : app.rlen < sizeof app.rbuf)
		st |= SMTP_WANT_RECV;   /* closing: read and drop, as core/'s */
	if (app.queued)
		st |= SMTP_WANT_SEND;
	if (app.quit)
		st |= SMTP_CLOSE | (app.queued ? 0 : SMTP_DEAD);
	else if (app.paused)
		st |= SMTP_PAUSED;
	return st;
}

/* nothing passes before the handshake, nor before smtp_tls_started() */
static int app_open(void)
{
	return tls_conn_established(conn) && !app.start_tls &&
	       app.tls_started == !app.implicit;
}

uint8_t *smtp_recv_buf(const struct smtp_session *s, size_t *len)
{
	size_t room = sizeof app.rbuf - app.rlen;

	(void)s;
	CHECK(app_open());
	app.offered = room < app.room_max ? room : app.room_max;
	*len = app.offered;
	return app.rbuf + app.rlen;
}

void smtp_recv_ack(struct smtp_session *s, size_t n)
{
	size_t i;

	(void)s;
	CHECK(app_open());
	CHECK(n > 0 && n <= app.offered);
	for (i = 0; i < n; i++)
		CHECK(app.rbuf[app.rlen + i] == c2s(app.got + i));
	app.got += n;
	app.offered = 0;
	app.rlen = (app.hold || app.paused) && !app.quit ? app.rlen + n : 0;
}

const char *smtp_send_buf(const struct smtp_session *s, size_t *len)
{
	size_t i, n = app.queued < sizeof app.sbuf ? app.queued : sizeof app.sbuf;

	(void)s;
	CHECK(app_open());
	for (i = 0; i < n; i++)
		app.sbuf[i] = (char)s2c(app.sent + i);
	app.offered_send = n;
	*len = n;
	return app.sbuf;
}

void smtp_send_ack(struct smtp_session *s, size_t n)
{
	(void)s;
	CHECK(app_open());
	CHECK(n > 0 && n <= app.offered_send);
	app.sent += n;
	app.queued -= n;
	app.offered_send = 0;
}

void smtp_tls_started(struct smtp_session *s)
{
	(void)s;
	CHECK(!app.implicit && app.start_tls && !app.tls_started);
	CHECK(tls_conn_established(conn));
	app.start_tls = 0;
	app.tls_started = 1;
}

static void app_queue(size_t n)
{
	if (app.quit || app.replies + n > DATA_MAX)
		return;
	app.queued += n;
	app.replies += n;
}

/* ---- the server side ------------------------------------------------------- */

static int sv[2] = { -1, -1 };
static int64_t now;
static int srv_rc;
static size_t slot_size;
static unsigned min_version;    /* tls-min-version for tls_conn_start() */
static uint8_t want_rsa;        /* the client offers only ECDHE-RSA */
static const struct tls_cred *cred_ec, *cred_rsa;

/* What the loop's smtp_tick() does before a pump: a pause's reply is
 * queued once its time has come, and the held input is "parsed". */
static void app_tick(void)
{
	if (!app.paused || now < app.pause_until)
		return;
	app.paused = 0;
	app_queue(40);
	if (!app.hold)
		app.rlen = 0;
}

/* revents: what poll() says, or 0 (a pump after a commit) */
static void server_pump_ev(short revents)
{
	const char *why;

	if (srv_rc == TLS_PUMP_DONE)
		return;
	app_tick();
	srv_rc = tls_conn_pump(conn, sv[0], &sess, revents, now);
	if (srv_rc != TLS_PUMP_DONE) {
		CHECK((srv_rc & ~(POLLIN | POLLOUT)) == 0);
		if (tls_conn_established(conn))
			CHECK(tls_conn_deadline(conn) == INT64_MAX);
		return;
	}
	why = session_end_name(tls_conn_why(conn));
	CHECK(!strcmp(why, "quit") || !strcmp(why, "closed") ||
	      !strcmp(why, "error") || !strcmp(why, "tls-error") ||
	      !strcmp(why, "tls-timeout"));
	CHECK(tls_conn_deadline(conn) == INT64_MAX);
}

static void server_pump(void)
{
	struct pollfd p = { sv[0], POLLIN | POLLOUT, 0 };

	CHECK(poll(&p, 1, 0) >= 0);
	server_pump_ev(p.revents);
}

/* A connection on slot 0, as the loop starts one. */
static void begin(int implicit)
{
	int small = SOCKET_BUF;

	conn = tls_conn_get(0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	                 0, sv) == 0);
	/* writes that fill the socket come sooner, both ways */
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
	memset(&app, 0, sizeof app);
	app.room_max = sizeof app.rbuf;
	app.implicit = (uint8_t)implicit;
	app.start_tls = (uint8_t)!implicit;
	if (implicit)
		app_queue(32);  /* the greeting, sent once the handshake is done */
	now = T0;
	srv_rc = 0;
	CHECK(tls_conn_start(conn, implicit, min_version, now, HS_TIMEOUT) == 0);
	CHECK(tls_conn_active(conn) && !tls_conn_established(conn));
}

static void hang_up(void)
{
	tls_conn_stop(conn);
	CHECK(!tls_conn_active(conn));
	CHECK(close(sv[0]) == 0);
	if (sv[1] >= 0)
		CHECK(close(sv[1]) == 0);
	sv[0] = sv[1] = -1;
}

/* err_len: how much room tls_conn_error() gets */
static void end(size_t err_len)
{
	char e[64], f[64];
	const char *err = tls_conn_error(conn, e, err_len);
	const char *why = session_end_name(tls_conn_why(conn));
	unsigned version = 0x10000;
	const char *fail = tls_conn_failure(conn, &version, f, err_len);

	CHECK(strlen(err) < err_len);
	/* BearSSL's reason for "tls-error", "" otherwise */
	CHECK(!*err || !strcmp(why, "tls-error"));
	/* the highest version offered: 16 bits, 0 when none came */
	CHECK(version <= 0xffff);
	if (fail) {
		CHECK(srv_rc == TLS_PUMP_DONE && !tls_conn_established(conn));
		if (!strcmp(fail, "timeout"))
			CHECK(!strcmp(why, "tls-timeout"));
		else if (!strcmp(fail, "closed"))
			CHECK(!strcmp(why, "closed") || !strcmp(why, "error"));
		else if (strcmp(fail, "no-common-suite") &&
		         strcmp(fail, "no-common-version") &&
		         strcmp(fail, "bad-record"))
			/* BearSSL's reason, as tls_conn_error() says it */
			CHECK(fail == f && *fail && !strcmp(fail, err));
		else
			CHECK(!strcmp(why, "tls-error"));
		/* a client that closed without a byte is no failure */
		CHECK(strcmp(why, "closed") || version);
	} else {
		CHECK(srv_rc != TLS_PUMP_DONE || tls_conn_established(conn) ||
		      !strcmp(why, "quit") ||
		      (!strcmp(why, "closed") && !version));
	}
	if (tls_conn_established(conn)) {
		CHECK(!strcmp(tls_conn_version(conn), "TLSv1.2"));
		CHECK(!strncmp(tls_conn_suite(conn), want_rsa ? "ECDHE-RSA-" :
		               "ECDHE-ECDSA-", want_rsa ? 10 : 12));
	} else {
		CHECK(!*tls_conn_version(conn) && !*tls_conn_suite(conn));
	}
	CHECK(tls_keys_spare_busy() == 0);
	hang_up();
}

/* ---- mode 0: raw bytes ------------------------------------------------------ */

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* what the server writes to a raw client goes nowhere */
static void discard(void)
{
	static unsigned char sink[16384];

	while (sv[1] >= 0 && recv(sv[1], sink, sizeof sink, MSG_DONTWAIT) > 0)
		;
}

static void run_raw(const uint8_t *d, size_t n)
{
	uint32_t x = 0x9e3779b9u;
	size_t pos = 0;
	int rounds;

	if (n >= 4) {
		x ^= (uint32_t)d[0] | (uint32_t)d[1] << 8 |
		     (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
		d += 4;
		n -= 4;
	}
	if (!x)
		x = 1;
	app.room_max = 1 + rnd(&x) % sizeof app.rbuf;
	for (rounds = 0; pos < n && srv_rc != TLS_PUMP_DONE &&
	     rounds < 4096; rounds++) {
		uint32_t r = rnd(&x);
		/* a quarter of the writes split a record header */
		size_t k = 1 + (r & 3 ? (r >> 8) % 2048 : (r >> 8) % 5);
		ssize_t w;

		if (k > n - pos)
			k = n - pos;
		w = send(sv[1], d + pos, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0)
			pos += (size_t)w;
		if (rnd(&x) % 32 == 0)
			now += rnd(&x) % 15000;
		if (rnd(&x) % 64 == 0)
			app.quit = 1;
		server_pump();
		discard();
	}
	if (rnd(&x) & 1)
		CHECK(shutdown(sv[1], SHUT_WR) == 0);
	for (rounds = 0; rounds < 16 && srv_rc != TLS_PUMP_DONE; rounds++) {
		server_pump();
		discard();
	}
	/* a raw client cannot finish a handshake */
	CHECK(app.got == 0 && app.sent == 0);
}

/* ---- mode 1: a BearSSL client ----------------------------------------------- */

static struct {
	br_ssl_client_context cc;
	br_x509_minimal_context xm;
	br_x509_knownkey_context xk;
	unsigned char ibuf[BR_SSL_BUFSIZE_INPUT];
	unsigned char obuf[BR_SSL_BUFSIZE_OUTPUT];
	unsigned char wire[WIRE_MAX];   /* records not yet written */
	size_t wire_len;
	size_t chunk;                   /* largest write */
	uint64_t pending;               /* app bytes to put into records */
	uint64_t sent;                  /* app bytes put into records */
	uint64_t got;                   /* app bytes received */
	uint8_t flush;                  /* flush once all pending data is in */
	uint8_t closed;                 /* the engine is closed */
	uint8_t eof;                    /* the socket said end of file */
	uint8_t dirty;                  /* corrupted or slipped in bytes */
	uint8_t ending;                 /* close_notify, or a renegotiation
	                                   (refused: the client gives up) */
	uint8_t shut, gone;             /* shutdown(SHUT_WR), close() */
	uint8_t deaf;                   /* reads nothing for now */
} cl;

/* resume: a session to offer, or NULL */
static void client_init(unsigned opts, const br_ssl_session_parameters *resume)
{
	static const uint16_t only[3] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	};
	static const unsigned char seed[32] = { 1, 2, 3 };
	br_ssl_engine_context *eng = &cl.cc.eng;
	unsigned suites = (opts >> 2) & 3;

	memset(&cl, 0, sizeof cl);
	cl.chunk = WIRE_MAX;
	br_ssl_client_init_full(&cl.cc, &cl.xm, NULL, 0);
	want_rsa = suites == 3;
	if (want_rsa)
		br_x509_knownkey_init_rsa(&cl.xk, &cred_rsa->pub.key.rsa,
		                          BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
	else
		br_x509_knownkey_init_ec(&cl.xk, &cred_ec->pub.key.ec,
		                         BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
	br_ssl_engine_set_x509(eng, &cl.xk.vtable);
	if (suites)
		br_ssl_engine_set_suites(eng, &only[suites - 1], 1);
	br_ssl_engine_set_buffers_bidi(eng, cl.ibuf, sizeof cl.ibuf, cl.obuf,
	                               opts & 0x10 ? SMALL_OBUF : sizeof cl.obuf);
	br_ssl_engine_inject_entropy(eng, seed, sizeof seed);
	if (resume)
		br_ssl_engine_set_session_parameters(eng, resume);
	CHECK(br_ssl_client_reset(&cl.cc, "mx.test", resume != NULL));
}

/* Moves the client's bytes as far as they go: plaintext in and out,
 * records into the wire buffer, the server's records from the socket. */
static void client_run(void)
{
	br_ssl_engine_context *eng = &cl.cc.eng;
	int i;

	for (i = 0; i < 256 && !cl.closed; i++) {
		unsigned st = br_ssl_engine_current_state(eng);
		unsigned char *b;
		size_t len, j;
		int moved = 0;

		if (st & BR_SSL_CLOSED) {
			cl.closed = 1;
			break;
		}
		if (st & BR_SSL_RECVAPP) {
			b = br_ssl_engine_recvapp_buf(eng, &len);
			for (j = 0; j < len; j++)
				CHECK(b[j] == s2c(cl.got + j));
			cl.got += len;
			CHECK(cl.got <= app.sent);
			br_ssl_engine_recvapp_ack(eng, len);
			moved = 1;
		}
		if ((st & BR_SSL_SENDAPP) && cl.pending) {
			b = br_ssl_engine_sendapp_buf(eng, &len);
			if (len > cl.pending)
				len = (size_t)cl.pending;
			for (j = 0; j < len; j++)
				b[j] = c2s(cl.sent + j);
			cl.sent += len;
			cl.pending -= len;
			br_ssl_engine_sendapp_ack(eng, len);
			if (!cl.pending && cl.flush)
				br_ssl_engine_flush(eng, 0);
			moved = 1;
		}
		if (st & BR_SSL_SENDREC) {
			b = br_ssl_engine_sendrec_buf(eng, &len);
			if (len > sizeof cl.wire - cl.wire_len)
				len = sizeof cl.wire - cl.wire_len;
			if (len) {
				memcpy(cl.wire + cl.wire_len, b, len);
				cl.wire_len += len;
				br_ssl_engine_sendrec_ack(eng, len);
				moved = 1;
			}
		}
		if ((st & BR_SSL_RECVREC) && !cl.eof && !cl.gone && !cl.deaf) {
			ssize_t r;

			b = br_ssl_engine_recvrec_buf(eng, &len);
			r = recv(sv[1], b, len, MSG_DONTWAIT);
			if (r > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)r);
				moved = 1;
			} else if (r == 0) {
				cl.eof = 1;
			}
		}
		if (!moved)
			break;
	}
	/* once the client engine is closed, the server's bytes go nowhere */
	if (cl.closed && !cl.gone)
		discard();
}

/* Writes at most one chunk of the wire buffer to the server. */
static void forward(size_t most)
{
	size_t k = cl.wire_len < most ? cl.wire_len : most;
	ssize_t w;

	/* Nowhere to go (the client's side is shut, or the server is done
	 * and its socket as good as closed): the bytes are lost, but the
	 * client must not wait to write them, for BearSSL reads a
	 * close_notify only once its output has room. */
	if (cl.shut || cl.gone || srv_rc == TLS_PUMP_DONE) {
		cl.wire_len = 0;
		return;
	}
	if (!k)
		return;
	w = send(sv[1], cl.wire, k, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w <= 0)
		return;
	cl.wire_len -= (size_t)w;
	memmove(cl.wire, cl.wire + w, cl.wire_len);
}

static void step(void)
{
	client_run();
	forward(cl.chunk);
	server_pump();
	client_run();
}

/* bytes waiting in the socket for fd */
static uint64_t unread(int fd)
{
	int n = 0;

	if (fd >= 0)
		CHECK(ioctl(fd, FIONREAD, &n) == 0);
	return (uint64_t)n;
}

/* What has moved so far (a pump may read only records that carry no
 * data, empty ones say: the socket's unread bytes count too). */
#define N_MOVED 9

static void moved(uint64_t m[N_MOVED])
{
	m[0] = app.got;
	m[1] = app.sent;
	m[2] = cl.sent;
	m[3] = cl.got;
	m[4] = cl.wire_len;
	m[5] = (uint64_t)srv_rc;
	m[6] = cl.closed;
	m[7] = unread(sv[0]);
	m[8] = unread(sv[1]);
}

/* Runs both sides until nothing moves (bounded). */
static void settle(void)
{
	int rounds, still = 0;
	uint64_t before[N_MOVED], after[N_MOVED];

	for (rounds = 0; rounds < 4096 && still < 2; rounds++) {
		moved(before);

		client_run();
		while (cl.wire_len) {
			size_t left = cl.wire_len;

			forward(WIRE_MAX);
			server_pump();
			if (cl.wire_len == left)
				break;
		}
		server_pump();
		client_run();
		moved(after);
		still = memcmp(before, after, sizeof before) ? 0 : still + 1;
	}
}

struct ops {
	const uint8_t *d;
	size_t n, pos;
};

static unsigned take(struct ops *o)
{
	return o->pos < o->n ? o->d[o->pos++] : 0;
}

static unsigned take16(struct ops *o)
{
	unsigned hi = take(o);

	return hi << 8 | take(o);
}

static void op_client(struct ops *o)
{
	br_ssl_engine_context *eng = &cl.cc.eng;
	unsigned op = take(o), k, i;

	switch (op % 16) {
	case 0:         /* application data */
		k = 1 + take16(o) % 20000;
		if (cl.sent + cl.pending + k <= DATA_MAX)
			cl.pending += k;
		break;
	case 1:
		br_ssl_engine_flush(eng, take(o) & 1);
		break;
	case 2:         /* where the client's bytes are cut */
		k = take(o);
		cl.chunk = k < 16 ? 1 + k : k < 128 ? 5 + k * 4 : WIRE_MAX;
		break;
	case 3:         /* a corrupted byte in what is not yet written */
		k = take16(o);
		i = take(o) | 1;
		if (cl.wire_len && !cl.shut && !cl.gone) {
			cl.wire[k % cl.wire_len] ^= (unsigned char)i;
			cl.dirty = 1;
		}
		break;
	case 4:         /* raw bytes slipped in after those */
		k = take(o) % 64;
		for (i = 0; i < k && cl.wire_len < sizeof cl.wire; i++)
			cl.wire[cl.wire_len++] = (unsigned char)take(o);
		cl.dirty |= k != 0;
		break;
	case 5:
		br_ssl_engine_close(eng);
		cl.ending = 1;
		break;
	case 6:
		if (!cl.shut && !cl.gone)
			CHECK(shutdown(sv[1], SHUT_WR) == 0);
		cl.shut = 1;
		break;
	case 7:
		if (!cl.gone)
			CHECK(close(sv[1]) == 0);
		sv[1] = -1;
		cl.gone = 1;
		break;
	case 8:         /* replies */
		app_queue(1 + take16(o) % 5000);
		break;
	case 9:         /* back-pressure: the engine keeps its input, or
			 * takes it a few bytes at a time */
		k = take(o);
		app.hold = k & 1;
		if (!app.hold)
			app.rlen = 0;
		app.room_max = 1 + (k >> 1) * (k & 0x80 ? 32 : 1);
		break;
	case 10:        /* the end; a paused reply is dropped, as core/'s
			 * closing session drops its 535 */
		app.quit = 1;
		app.paused = 0;
		break;
	case 11:        /* the clock */
		now += (int64_t)take(o) * 100;
		break;
	case 12:        /* a pump after a commit: nothing from poll */
		server_pump_ev(0);
		break;
	case 13:        /* refused by the server */
		cl.ending |= br_ssl_engine_renegotiate(eng) != 0;
		break;
	case 14:        /* the server's writes fill the socket */
		cl.deaf = !cl.deaf;
		break;
	default:        /* 15: a failed AUTH's pause (a step before the
			 * handshake) */
		if (app_open() && !app.paused && !app.quit) {
			app.paused = 1;
			app.pause_until = now + 1000;
		}
		break;
	}
	step();
}

static br_ssl_session_parameters prior;

/* A first session on the slot, cut off once established; then the
 * connection under test starts on the same slot. */
static void reuse(unsigned opts)
{
	client_init(opts, NULL);
	settle();
	CHECK(tls_conn_established(conn));
	br_ssl_engine_get_session_parameters(&cl.cc.eng, &prior);
	hang_up();
	begin(opts & 2);
}

static void run_client(unsigned opts, const uint8_t *d, size_t n)
{
	struct ops o = { d, n, 0 };
	int established;

	client_init(opts, opts & 0x40 ? &prior : NULL);
	if (!(opts & 0x20))
		settle();
	while (o.pos < o.n && srv_rc != TLS_PUMP_DONE)
		op_client(&o);
	/* the end: the engine takes everything, the client sends everything */
	app.hold = 0;
	app.rlen = 0;
	cl.flush = 1;
	cl.deaf = 0;
	if (app.paused && now < app.pause_until)
		now = app.pause_until;          /* the paused reply is due */
	if (!cl.closed)
		br_ssl_engine_flush(&cl.cc.eng, 0);
	settle();
	established = tls_conn_established(conn);
	CHECK(app.got <= cl.sent && cl.got <= app.sent);
	if (established && !cl.dirty && !cl.ending && !cl.shut && !cl.gone &&
	    !app.quit) {
		CHECK(srv_rc != TLS_PUMP_DONE && !cl.closed);
		CHECK(cl.pending == 0 && app.got == cl.sent);
		CHECK(app.queued == 0 && cl.got == app.sent);
	}
	/* every reply leaves before the close, and then close_notify */
	if (established && srv_rc == TLS_PUMP_DONE && !cl.ending && !cl.gone &&
	    tls_conn_why(conn) == SESSION_QUIT) {
		CHECK(app.queued == 0 && cl.got == app.sent);
		CHECK(cl.closed &&
		      br_ssl_engine_last_error(&cl.cc.eng) == BR_ERR_OK);
	}
	/* a half-close: every reply still leaves, the paused one too */
	if (established && cl.shut && !cl.dirty && !cl.ending && !cl.gone) {
		CHECK(!app.paused);
		CHECK(app.queued == 0 && cl.got == app.sent);
	}
}

/* ---- libFuzzer ---------------------------------------------------------------- */

static void key_error(void *ctx, enum tls_key_option which, unsigned pair,
                      const char *msg)
{
	(void)ctx;
	(void)which;
	(void)pair;
	fprintf(stderr, "fuzz_tls: %s\n", msg);
}

/* a path that reads text, without a file */
static int memfd_path(const char *name, const char *text, char *path,
                      size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	size_t n = strlen(text);

	CHECK(fd >= 0);
	CHECK(write(fd, text, n) == (ssize_t)n);
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char cp[2][64], kp[2][64];
	const char *certs[2] = { cp[0], cp[1] }, *keys[2] = { kp[0], kp[1] };
	int fd[4] = {
		memfd_path("cert", cert_pem, cp[0], sizeof cp[0]),
		memfd_path("key", key_pem, kp[0], sizeof kp[0]),
		memfd_path("rsa-cert", rsa_cert_pem, cp[1], sizeof cp[1]),
		memfd_path("rsa-key", rsa_key_pem, kp[1], sizeof kp[1]),
	};
	const struct tls_keys *k;
	unsigned i;

	(void)argc;
	(void)argv;
	CHECK(tls_keys_load(certs, keys, 2, key_error, NULL) == 0);
	tls_keys_activate();
	k = tls_keys_current();
	CHECK(k && k->n_cred == 2);
	cred_ec = &k->cred[0];
	cred_rsa = &k->cred[1];
	CHECK(cred_ec->key_type == BR_KEYTYPE_EC &&
	      cred_rsa->key_type == BR_KEYTYPE_RSA);
	for (i = 0; i < 4; i++)
		CHECK(close(fd[i]) == 0);
	slot_size = (size_t)((const char *)tls_conn_get(1) -
	                     (const char *)tls_conn_get(0));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	unsigned opts;

	if (size < 1)
		return 0;
	opts = data[0];
	min_version = BR_TLS12;
#if CFG_TLS_LEGACY
	if (opts & 1)
		min_version = opts & 0x80 ? BR_TLS10 : BR_TLS12;
	else if (size > 1)
		min_version = BR_TLS10 + data[1] % 3u;
#endif
	/* a fresh DRBG and session cache, and slot 0 all zero as at start-up
	 * (the slot then configures its BearSSL context again): the same
	 * input always meets the same state */
	CHECK(tls_init(&why) == 0);
	memset(tls_conn_get(0), 0, slot_size);
	begin(opts & 2);
	if (opts & 0x40)
		reuse(opts);
	if (opts & 1)
		run_client(opts, data + 1, size - 1);
	else
		run_raw(data + 1, size - 1);
	end(opts & 0x80 ? 8 : 64);
	return 0;
}
