/*
 * libFuzzer target: arbitrary client bytes into the SMTP engine, driven
 * the way platform/'s loop drives it, with a fake sink that answers at
 * random and checks the order of its calls.
 *
 * Input: byte 0 picks the session parameters, bytes 1..4 seed a PRNG, and
 * the rest is what the client sends.  The PRNG cuts the stream into reads,
 * drains the replies in random amounts, answers the sink (begin, write,
 * commit, commit_done, mail, rcpt) with random results, moves the clock
 * (sometimes past a timeout), completes STARTTLS or not, and sometimes
 * shuts the server down.
 *
 *   byte 0  bit 0  strict_crlf          bit 1  tls_offered
 *           bit 2  tls_active           bits 3-4 both set: refused
 *           bits 5-6  max_size: 16, 200, 4096, 65536
 *           bit 7  the sink fails now and then (else it always agrees)
 *
 * Without STARTTLS on offer (whose pipelining rule makes the outcome depend
 * on where reads end, by design), the same input is also replayed twice
 * with a sink whose answers depend only on the order of its calls, once
 * fed whole with every reply drained at once and once cut and drained at
 * random: both must give the very same replies and sink calls.
 *
 * Invariants (abort() on violation, which libFuzzer reports):
 *   - the engine's buffer indexes stay inside their buffers;
 *   - every reply is printable ASCII in lines "DDD " / "DDD-" ending CRLF,
 *     at most 512 octets (RFC 5321 4.5.3.1.5);
 *   - nothing is queued once SMTP_CLOSE was seen;
 *   - "250 ... delivered" only for a commit the sink answered SINK_OK;
 *   - input is never refused unless there is something to wait for
 *     (replies to send, a commit, STARTTLS, the end);
 *   - sink calls come in order: write only between a successful begin and
 *     its commit/abort, commit at most once per begin, abort never after
 *     commit, mail/rcpt/reset never while a message is open or committing,
 *     and every begin is closed by exactly one commit or abort.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_engine.h"

#define T0   1000
#define WALL 1700000000
#define REPLY_LINE_MAX 512

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_engine: invariant failed: %s (line %d)\n", \
		        #cond, __LINE__); \
		abort(); \
	} \
} while (0)

struct rng {
	uint32_t x;
};

static uint32_t rnd(struct rng *r)
{
	r->x ^= r->x << 13;
	r->x ^= r->x >> 17;
	r->x ^= r->x << 5;
	return r->x;
}

/* 1 with probability 1/n */
static int one_in(struct rng *r, uint32_t n)
{
	return rnd(r) % n == 0;
}

enum { K_MAIL, K_RCPT, K_BEGIN, K_WRITE, K_COMMIT, K_DONE, K_COUNT };

struct fake {
	struct rng *r;
	int flaky;            /* the sink fails now and then */
	int det;              /* answers from the call order, not the PRNG */
	uint32_t seed;
	uint32_t calls[K_COUNT];
	int open;             /* begin() succeeded, no commit/abort yet */
	int pending;          /* commit() returned SINK_PENDING */
	unsigned begins, ends;
	unsigned stored;      /* commits answered SINK_OK */
	uint64_t written;     /* of the open message */
	uint64_t fail_at;     /* det: a write past this offset fails */
	uint64_t events;      /* FNV-1a of the calls, their answers, and
	                         the bytes of each committed message */
	uint64_t msg;         /* FNV-1a of the open message's bytes */
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ull;
	return h;
}

static void event(struct fake *f, int kind, long long v)
{
	unsigned char b[9];
	int i;

	b[0] = (unsigned char)kind;
	for (i = 0; i < 8; i++)
		b[1 + i] = (unsigned char)((unsigned long long)v >> (8 * i));
	f->events = fnv(f->events, b, sizeof(b));
}

/* A random number for a sink answer: the PRNG's next, or (det) one that
 * depends only on which call of its kind this is. */
static uint32_t draw(struct fake *f, int kind)
{
	uint32_t x;

	if (!f->det)
		return rnd(f->r);
	x = f->seed ^ (uint32_t)kind * 0x9e3779b9u ^ f->calls[kind]++ * 0x85ebca6bu;
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static int f_mail(void *ctx, const struct smtp_addr *from, int utf8)
{
	struct fake *f = ctx;
	int r = SINK_OK;

	CHECK(!f->open && !f->pending);
	CHECK(memchr(from->text, '\0', sizeof(from->text)) != NULL);
	if (f->flaky && draw(f, K_MAIL) % 8 == 0)
		r = draw(f, K_MAIL) % 2 ? SINK_TEMP : SINK_NOSPACE;
	event(f, K_MAIL, r * 2 + utf8);
	f->events = fnv(f->events, from->text, strlen(from->text));
	return r;
}

static int f_rcpt(void *ctx, const struct smtp_addr *to)
{
	struct fake *f = ctx;
	int r = RCPT_OK;

	CHECK(!f->open && !f->pending);
	CHECK(memchr(to->text, '\0', sizeof(to->text)) != NULL);
	if (f->flaky && draw(f, K_RCPT) % 4 == 0)
		r = (int)(1 + draw(f, K_RCPT) % 4);   /* UNKNOWN .. TEMP */
	event(f, K_RCPT, r);
	f->events = fnv(f->events, to->text, strlen(to->text));
	return r;
}

static int f_begin(void *ctx, char id[SMTP_ID_MAX])
{
	struct fake *f = ctx;
	uint32_t k;

	CHECK(!f->open && !f->pending);
	if (f->flaky && draw(f, K_BEGIN) % 16 == 0) {
		int r = draw(f, K_BEGIN) % 2 ? SINK_TEMP : SINK_NOSPACE;

		event(f, K_BEGIN, r);
		return r;
	}
	/* an id of random length, sometimes with junk the engine cleans */
	k = draw(f, K_BEGIN) % SMTP_ID_MAX;
	memset(id, 'A', SMTP_ID_MAX);
	if (k && draw(f, K_BEGIN) % 8 == 0)
		id[k / 2] = '\r';
	if (draw(f, K_BEGIN) % 16)
		id[k] = '\0';      /* else: no NUL at all */
	f->open = 1;
	f->begins++;
	f->written = 0;
	f->msg = 0xcbf29ce484222325ull;
	f->fail_at = UINT64_MAX;
	if (f->flaky && draw(f, K_WRITE) % 8 == 0)
		f->fail_at = draw(f, K_WRITE) % 4096;
	event(f, K_BEGIN, SINK_OK);
	return SINK_OK;
}

static int f_write(void *ctx, const void *p, size_t n)
{
	struct fake *f = ctx;
	int fail;

	CHECK(f->open && !f->pending);
	CHECK(p != NULL && n > 0);
	((volatile const char *)p)[n - 1];   /* ASan: the whole range is readable */
	if (f->det)
		fail = f->written + n > f->fail_at;
	else
		fail = f->flaky && one_in(f->r, 64);
	if (fail)
		return f->fail_at % 2 ? SINK_TEMP : SINK_NOSPACE;
	f->written += n;
	f->msg = fnv(f->msg, p, n);
	return SINK_OK;
}

static int f_commit(void *ctx)
{
	struct fake *f = ctx;

	CHECK(f->open && !f->pending);
	f->open = 0;
	f->events = fnv(f->events, &f->msg, sizeof(f->msg));
	if (f->flaky && draw(f, K_COMMIT) % 8 == 0) {
		int r = (int)(SINK_TEMP + draw(f, K_COMMIT) % 3);   /* TEMP, NOSPACE, PERM */

		event(f, K_COMMIT, r);
		f->ends++;
		return r;
	}
	event(f, K_COMMIT, SINK_PENDING);
	f->pending = 1;
	return SINK_PENDING;
}

static void f_abort(void *ctx, enum smtp_reject why, uint64_t size)
{
	struct fake *f = ctx;

	CHECK(f->open && !f->pending);
	CHECK(why != REJECT_NONE);
	event(f, K_COUNT, (long long)why);
	event(f, K_COUNT + 1, (long long)size);
	f->open = 0;
	f->ends++;
}

static void f_reset(void *ctx)
{
	struct fake *f = ctx;

	CHECK(!f->open && !f->pending);
	event(f, K_COUNT + 2, 0);
}

/* AUTH: the user's first letter picks the answer, so every path runs. */
static int f_auth(void *ctx, const char *user, const char *pass)
{
	(void)ctx;
	(void)pass;
	return user[0] == 'a' ? AUTH_CHECKED : user[0] == 'b' ? AUTH_FAIL : AUTH_ANY;
}

static const struct smtp_sink sink = {
	f_mail, f_rcpt, f_begin, f_write, f_commit, f_abort, f_reset, f_auth
};

/* The client's side of the replies: checks their shape as they leave. */
struct reader {
	size_t col;           /* octets of the current line so far */
	int cr;               /* the last octet was CR */
	uint64_t sent;        /* octets acknowledged */
	uint64_t hash;        /* FNV-1a of them */
	char head[32];        /* the start of the current line */
	unsigned delivered;   /* "250 2.0.0 Ok: delivered as" lines */
};

#define DELIVERED "250 2.0.0 Ok: delivered as"   /* then " ID" */


static int verbose = -1;   /* FUZZ_VERBOSE=1: print the replies (replays) */

static void read_replies(struct reader *rd, const char *p, size_t n)
{
	size_t i;

	if (verbose > 0)
		fwrite(p, 1, n, stderr);

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (rd->cr) {
			CHECK(c == '\n');
			rd->cr = 0;
			rd->col = 0;
			continue;
		}
		if (c == '\r') {
			CHECK(rd->col >= 4);
			if (rd->col >= sizeof(DELIVERED) - 1 &&
			    memcmp(rd->head, DELIVERED, sizeof(DELIVERED) - 1) == 0)
				rd->delivered++;
			rd->cr = 1;
			continue;
		}
		CHECK(c >= 0x20 && c < 0x7f);
		if (rd->col < 3)
			CHECK(c >= '0' && c <= '9');
		else if (rd->col == 3)
			CHECK(c == ' ' || c == '-');
		if (rd->col < sizeof(rd->head))
			rd->head[rd->col] = (char)c;
		rd->col++;
		CHECK(rd->col + 2 <= REPLY_LINE_MAX);
	}
	rd->sent += n;
	rd->hash = fnv(rd->hash, p, n);
}

/* How a run drives the engine. */
enum drive {
	DRIVE_WILD,      /* random cuts and drains, clock jumps, shutdown, TLS */
	DRIVE_WHOLE,     /* det sink; biggest reads, all replies at once */
	DRIVE_CUT        /* det sink; random reads and drains, nothing else */
};

struct run {
	struct smtp_session s;
	struct fake f;
	struct rng r;
	struct reader rd;
	enum drive how;
	int64_t now, wall;
	int closed;            /* SMTP_CLOSE seen */
	uint64_t queued_at_close;
	unsigned final_state;
};

static struct run R[3];

static void check_session(struct run *u)
{
	const struct smtp_session *s = &u->s;
	unsigned st = smtp_state(s);
	uint64_t queued = u->rd.sent + (s->out_end - s->out_start);

	CHECK(s->out_start <= s->out_end && s->out_end <= sizeof(s->out));
	CHECK(s->in_start <= s->in_end && s->in_end <= sizeof(s->in));
	CHECK(s->line_len <= SMTP_LINE_MAX);
	CHECK(memchr(s->helo, '\0', sizeof(s->helo)) != NULL);
	CHECK(memchr(s->id, '\0', sizeof(s->id)) != NULL);
	CHECK(memchr(s->sender, '\0', sizeof(s->sender)) != NULL);
	CHECK(memchr(s->first_rcpt, '\0', sizeof(s->first_rcpt)) != NULL);
	CHECK(s->errors <= SMTP_MAX_ERRORS);
	CHECK(s->nrcpt <= s->p.max_rcpt);
	CHECK(s->body_open == (uint8_t)u->f.open);
	if (u->f.pending)
		CHECK(s->phase == PHASE_COMMIT || s->closing);
	if (st & SMTP_COMMITTING)
		CHECK(u->f.pending);
	if (st & SMTP_DEAD)
		CHECK((st & SMTP_CLOSE) && !(st & SMTP_WANT_SEND));
	if (u->closed)
		CHECK(queued <= u->queued_at_close);
	else if (st & SMTP_CLOSE) {
		u->closed = 1;
		u->queued_at_close = queued;
	}
}

/* Sends some (or all) of the waiting replies. */
static void drain(struct run *u, int all)
{
	size_t len, k;
	const char *p = smtp_send_buf(&u->s, &len);

	if (len == 0)
		return;
	k = all ? len : 1 + rnd(&u->r) % len;
	read_replies(&u->rd, p, k);
	smtp_send_ack(&u->s, k);
	check_session(u);
}

static void complete_commit(struct run *u)
{
	static const int res[] = { SINK_OK, SINK_OK, SINK_OK, SINK_OK, SINK_OK,
	                           SINK_TEMP, SINK_NOSPACE, SINK_PERM };
	int r = u->f.flaky ? res[draw(&u->f, K_DONE) % 8] : SINK_OK;

	CHECK(u->f.pending);
	u->f.pending = 0;
	u->f.ends++;
	u->f.stored += r == SINK_OK;
	event(&u->f, K_DONE, r);
	smtp_commit_done(&u->s, r);
	check_session(u);
}

static void tick(struct run *u)
{
	uint32_t x = rnd(&u->r) % 64;

	if (x == 0)
		u->now += 1 + rnd(&u->r) % 4000;   /* past some timeout */
	else if (x < 8)
		u->now += 1;
	u->wall = WALL + (u->now - T0);
	smtp_tick(&u->s, u->now, u->wall);
	check_session(u);
}

/* Feeds one read of the client; 0 when the engine takes nothing now. */
static int feed(struct run *u, const uint8_t *in, size_t n, size_t *pos)
{
	size_t len, k;
	uint8_t *b;
	unsigned st;

	smtp_tick(&u->s, u->now, u->wall);
	check_session(u);
	b = smtp_recv_buf(&u->s, &len);
	st = smtp_state(&u->s);
	if (len == 0) {
		/* a full input buffer must have a reason */
		CHECK(st & (SMTP_WANT_SEND | SMTP_COMMITTING | SMTP_START_TLS |
		            SMTP_DEAD));
		return 0;
	}
	if (u->how == DRIVE_WHOLE) {
		k = len;
	} else {
		switch (rnd(&u->r) % 4) {
		case 0:
			k = 1;
			break;
		case 1:
			k = 1 + rnd(&u->r) % 16;
			break;
		default:
			k = 1 + rnd(&u->r) % len;
			break;
		}
	}
	if (k > len)
		k = len;
	if (k > n - *pos)
		k = n - *pos;
	memcpy(b, in + *pos, k);
	smtp_recv_ack(&u->s, k);
	*pos += k;
	check_session(u);
	return 1;
}

static void run_one(struct run *u, const struct smtp_params *p, uint8_t flags,
                    uint32_t seed, const uint8_t *in, size_t n)
{
	size_t pos = 0, turns = 0, turn_max;
	int wild = u->how == DRIVE_WILD;
	int shutdown = 0;

	memset(&u->f, 0, sizeof(u->f));
	memset(&u->rd, 0, sizeof(u->rd));
	if (verbose > 0)
		fprintf(stderr, "---- %s run\n", u->how == DRIVE_WILD ? "wild" :
		        u->how == DRIVE_WHOLE ? "whole" : "cut");
	u->rd.hash = 0xcbf29ce484222325ull;
	u->f.events = 0xcbf29ce484222325ull;
	u->r.x = seed | 1u;
	u->f.r = &u->r;
	u->f.flaky = flags >> 7;
	u->f.det = !wild;
	u->f.seed = seed;
	u->closed = 0;
	u->now = T0;
	u->wall = WALL;

	smtp_session_start(&u->s, p, &sink, &u->f, u->now, u->wall);
	check_session(u);

	/* every turn consumes input, sends replies, completes a commit or
	 * moves the clock; the bound only keeps a run short */
	turn_max = 256 + 64 * n;
	while (turns++ < turn_max) {
		unsigned st = smtp_state(&u->s);
		uint32_t pick = u->how == DRIVE_WHOLE ? 15 : rnd(&u->r) % 16;

		if (st & SMTP_DEAD)
			break;
		if (st & SMTP_START_TLS) {
			CHECK(wild);
			CHECK(!(st & SMTP_WANT_SEND));
			if (one_in(&u->r, 4))
				break;          /* the handshake failed: end */
			smtp_tls_started(&u->s);
			check_session(u);
			continue;
		}
		if (wild && !shutdown && one_in(&u->r, 512))
			shutdown = 1;
		if (shutdown) {
			/* SIGTERM: ask, and after a while force, as the loop does */
			int force = shutdown++ > 16 && !u->f.pending;

			smtp_shutdown(&u->s, force);
			check_session(u);
			st = smtp_state(&u->s);
		}
		if (wild && pick == 0) {
			tick(u);
			continue;
		}
		if ((st & SMTP_COMMITTING) && (pick < 4 || u->how == DRIVE_WHOLE)) {
			complete_commit(u);
			continue;
		}
		if ((st & SMTP_WANT_SEND) && (pick < 8 || u->how == DRIVE_WHOLE)) {
			drain(u, u->how == DRIVE_WHOLE);
			continue;
		}
		if (pick == 8 && one_in(&u->r, 8)) {
			/* a stray commit_done is ignored */
			if (!u->f.pending) {
				smtp_commit_done(&u->s, SINK_OK);
				check_session(u);
			}
			continue;
		}
		if (pos < n) {
			if (!feed(u, in, n, &pos)) {
				st = smtp_state(&u->s);
				if (st & SMTP_WANT_SEND)
					drain(u, 1);
				else if (st & SMTP_COMMITTING)
					complete_commit(u);
			}
			continue;
		}
		/* all input sent: let the session settle */
		if (st & SMTP_WANT_SEND)
			drain(u, 1);
		else if (st & SMTP_COMMITTING)
			complete_commit(u);
		else
			break;
	}
	if (!wild)
		CHECK(pos == n || (smtp_state(&u->s) & SMTP_DEAD));

	/* the end: commits finish, then a timeout or the peer goes away */
	while (smtp_state(&u->s) & (SMTP_WANT_SEND | SMTP_COMMITTING)) {
		if (smtp_state(&u->s) & SMTP_COMMITTING)
			complete_commit(u);
		else
			drain(u, 1);
	}
	if (u->f.pending)
		complete_commit(u);
	u->final_state = smtp_state(&u->s);
	if (wild && one_in(&u->r, 2)) {
		u->now += 100000;
		smtp_tick(&u->s, u->now, u->wall);
		check_session(u);
		drain(u, 1);
	}
	smtp_session_end(&u->s);
	CHECK(!u->f.open && !u->f.pending);
	CHECK(u->f.begins == u->f.ends);
	/* 250 for a message only once it is stored (and each time, unless
	 * the session was closing by then) */
	CHECK(u->rd.delivered <= u->f.stored);
	if (!wild)
		CHECK(u->rd.delivered == u->f.stored);
	{
		size_t len;

		smtp_send_buf(&u->s, &len);
		CHECK(len == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t max_sizes[] = { 16, 200, 4096, 65536 };
	struct smtp_params p;
	uint32_t seed;

	if (size < 5)
		return 0;
	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;
	memset(&p, 0, sizeof(p));
	p.hostname = "mx.example.org";
	p.client_ip = (data[0] & 1) ? "2001:db8::1" : "192.0.2.1";
	p.strict_crlf = data[0] & 1;
	p.tls_offered = (data[0] >> 1) & 1;
	p.tls_active = (data[0] >> 2) & 1;
	p.refused = (data[0] & 0x18) == 0x18;
	p.max_size = max_sizes[(data[0] >> 5) & 3];
	p.max_rcpt = 100;
	p.timeout = 300;
	seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 |
	       (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;

	R[0].how = DRIVE_WILD;
	run_one(&R[0], &p, data[0], seed, data + 5, size - 5);
	if (p.tls_offered)
		return 0;
	R[1].how = DRIVE_WHOLE;
	run_one(&R[1], &p, data[0], seed, data + 5, size - 5);
	R[2].how = DRIVE_CUT;
	run_one(&R[2], &p, data[0], seed, data + 5, size - 5);
	if (R[1].rd.sent != R[2].rd.sent || R[1].rd.hash != R[2].rd.hash ||
	    R[1].f.events != R[2].f.events ||
	    (R[1].final_state & ~SMTP_WANT_RECV) != (R[2].final_state & ~SMTP_WANT_RECV)) {
		fprintf(stderr, "fuzz_engine: whole and cut runs differ: replies "
		        "%llu/%llx vs %llu/%llx, sink %llx vs %llx, state %x vs %x\n",
		        (unsigned long long)R[1].rd.sent, (unsigned long long)R[1].rd.hash,
		        (unsigned long long)R[2].rd.sent, (unsigned long long)R[2].rd.hash,
		        (unsigned long long)R[1].f.events, (unsigned long long)R[2].f.events,
		        R[1].final_state, R[2].final_state);
		abort();
	}
	return 0;
}
