/*
 * loadgen: SMTP load on 127.0.0.1 for mailnook's benchmark.
 *
 * N concurrent sessions in one process (non-blocking sockets and one
 * poll(), no threads), each sending M messages of S octets.  A session
 * keeps its connection and sends each transaction pipelined when the
 * server offers PIPELINING (MAIL, RCPT and DATA in one write, the message
 * after the 354), one command at a time otherwise; with -r it connects
 * anew for every message (greeting, EHLO, the transaction, QUIT).  Every
 * reply code is checked; a wrong one counts as an error and ends that
 * session.
 *
 *   loadgen -p PORT [-c SESSIONS] [-n MESSAGES] [-s SIZE] [-t SECONDS] [-r]
 *           [-a RCPT] [-f FROM]
 *
 * -n is per session; with -t the sessions run for SECONDS instead (-n, if
 * given as well, still caps each session).  SIZE is octets as sent, dot
 * and CRLF excluded, rounded up to whole CRLF lines (at least 72).  Latency is per message: from
 * the first byte of MAIL (with -r: from the connect) to the 250 after the
 * final dot.  The last line is the machine-readable result:
 *
 *   RESULT messages=.. errors=.. seconds=.. rate=.. p50_ms=.. p99_ms=..
 *          max_ms=.. connects=..
 *
 * Bounded: a session that sees no reply for 60 s counts an error and ends;
 * the whole run ends at most 120 s after its deadline.  Prints figures,
 * passes or fails nothing on time; the exit code is 1 when any error was
 * seen.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SESSIONS 1024
#define IN_SIZE 8192
#define CMD_SIZE 1024
#define STALL_US (60 * 1000000LL)
#define GRACE_US (120 * 1000000LL)

/* Latency histogram: fixed size, about 0.2 % resolution.  Values below
 * 1024 us are exact; above, each power of two has 512 buckets. */
#define HIST_EXACT 1024
#define HIST_SUB 512
#define HIST_OCTAVES 30          /* up to 2^40 us */
#define HIST_SIZE (HIST_EXACT + HIST_OCTAVES * HIST_SUB)

static uint64_t hist[HIST_SIZE];
static uint64_t hist_n, lat_max;

enum phase {
	P_CONNECT,      /* connect in progress */
	P_GREETING,     /* waiting for 220 */
	P_EHLO,         /* waiting for EHLO's 250 */
	P_MAIL,         /* waiting for MAIL's 250 (pipelined: MAIL RCPT DATA) */
	P_RCPT,
	P_DATA,         /* waiting for 354 */
	P_DOT,          /* waiting for the 250 after the message */
	P_QUIT,         /* waiting for 221 */
	P_DONE
};

struct session {
	int fd;
	unsigned gen;           /* counts connections: a new one may get the
	                           same descriptor number */
	enum phase phase;
	int pipelining;
	unsigned sent;          /* messages completed */
	int64_t msg_start;
	int64_t last_io;
	const char *out;        /* what is being written */
	size_t out_len, out_off;
	char cmd[CMD_SIZE];
	char in[IN_SIZE];
	size_t in_len;
};

static struct session sess[MAX_SESSIONS];
static struct pollfd pfd[MAX_SESSIONS];

static unsigned n_sessions = 1, per_session;
static size_t msg_size = 1024;
static int reconnect, port;
static double run_seconds;
static const char *rcpt = "user@localhost", *from = "bench@loadgen.test";
static char *body;
static size_t body_len;
static uint64_t errors, connects, total;
static int64_t t0, deadline, last_done;

static int64_t now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("clock_gettime");
		exit(2);
	}
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static unsigned hist_bucket(uint64_t us)
{
	int msb, oct;

	if (us < HIST_EXACT)
		return (unsigned)us;
	msb = 63 - __builtin_clzll(us);         /* >= 10 */
	oct = msb - 10;
	if (oct >= HIST_OCTAVES)
		return HIST_SIZE - 1;
	return HIST_EXACT + (unsigned)oct * HIST_SUB
	       + (unsigned)((us >> (msb - 9)) - HIST_SUB);
}

/* The lowest value of bucket b. */
static uint64_t hist_value(unsigned b)
{
	unsigned oct, sub;

	if (b < HIST_EXACT)
		return b;
	oct = (b - HIST_EXACT) / HIST_SUB;
	sub = (b - HIST_EXACT) % HIST_SUB;
	return (uint64_t)(HIST_SUB + sub) << (oct + 1);
}

static void hist_add(uint64_t us)
{
	hist[hist_bucket(us)]++;
	hist_n++;
	if (us > lat_max)
		lat_max = us;
}

static uint64_t hist_pct(double p)
{
	uint64_t want, seen = 0;
	unsigned b;

	if (hist_n == 0)
		return 0;
	want = (uint64_t)(p * (double)hist_n + 0.999999);
	if (want < 1)
		want = 1;
	for (b = 0; b < HIST_SIZE; b++) {
		seen += hist[b];
		if (seen >= want)
			return hist_value(b);
	}
	return lat_max;
}

/* S octets as sent: a few header fields, then CRLF lines of 78 octets
 * (none starts with a dot), then the final dot. */
static void make_body(void)
{
	static const char head[] = "From: <bench@loadgen.test>\r\n"
	                           "To: <user@localhost>\r\n"
	                           "Subject: loadgen\r\n\r\n";
	size_t n = sizeof head - 1;

	if (msg_size < n + 2)
		msg_size = n + 2;
	if ((msg_size - n) % 2)         /* CRLF lines: an even remainder */
		msg_size++;
	body = malloc(msg_size + 3);
	if (!body) {
		perror("malloc");
		exit(2);
	}
	memcpy(body, head, n);
	while (n < msg_size) {
		size_t line = msg_size - n < 78 ? msg_size - n : 78;

		memset(body + n, 'x', line - 2);
		memcpy(body + n + line - 2, "\r\n", 2);
		n += line;
	}
	memcpy(body + n, ".\r\n", 3);
	body_len = n + 3;
}

static void fail(struct session *s, const char *why, const char *line)
{
	errors++;
	if (errors <= 10)
		fprintf(stderr, "loadgen: session %ld: %s%s%s\n",
		        (long)(s - sess), why, line ? ": " : "", line ? line : "");
	if (s->fd >= 0)
		(void)close(s->fd);
	s->fd = -1;
	s->phase = P_DONE;
}

static void send_text(struct session *s, const char *p, size_t n)
{
	s->out = p;
	s->out_len = n;
	s->out_off = 0;
}

/* fmt has at most one %s, for arg */
static void send_cmd(struct session *s, const char *fmt, const char *arg)
{
	int n = snprintf(s->cmd, sizeof s->cmd, fmt, arg);

	if (n < 0 || (size_t)n >= sizeof s->cmd) {
		fprintf(stderr, "loadgen: command too long\n");
		exit(2);
	}
	send_text(s, s->cmd, (size_t)n);
}

static int more_to_send(const struct session *s, int64_t now)
{
	if (per_session && s->sent >= per_session)
		return 0;
	return run_seconds > 0 ? now < deadline : 1;
}

static void start_connect(struct session *s, int64_t now)
{
	struct sockaddr_in sa;
	int one = 1;

	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		fail(s, "socket", strerror(errno));
		return;
	}
	if (setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
		fail(s, "setsockopt", strerror(errno));
		return;
	}
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	connects++;
	s->gen++;
	s->phase = P_CONNECT;
	s->in_len = 0;
	s->out_len = s->out_off = 0;
	s->pipelining = 0;
	s->last_io = now;
	if (reconnect)
		s->msg_start = now;
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
		s->phase = P_GREETING;
		return;
	}
	if (errno != EINPROGRESS)
		fail(s, "connect", strerror(errno));
}

static void begin_message(struct session *s, int64_t now)
{
	if (!reconnect)
		s->msg_start = now;
	if (s->pipelining) {
		int n = snprintf(s->cmd, sizeof s->cmd,
		                 "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n",
		                 from, rcpt);

		if (n < 0 || (size_t)n >= sizeof s->cmd) {
			fprintf(stderr, "loadgen: command too long\n");
			exit(2);
		}
		send_text(s, s->cmd, (size_t)n);
	} else {
		send_cmd(s, "MAIL FROM:<%s>\r\n", from);
	}
	s->phase = P_MAIL;
}

static void quit(struct session *s)
{
	send_text(s, "QUIT\r\n", 6);
	s->phase = P_QUIT;
}

/* After a session's EHLO or a message: the next message or QUIT. */
static void next(struct session *s, int64_t now)
{
	if (more_to_send(s, now))
		begin_message(s, now);
	else
		quit(s);
}

/* One complete reply line (NUL-terminated, CRLF removed). */
static void on_line(struct session *s, char *line, int64_t now)
{
	int code, last;

	if (strlen(line) < 4 || line[0] < '2' || line[0] > '5'
	    || (line[3] != ' ' && line[3] != '-')) {
		fail(s, "bad reply line", line);
		return;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	last = line[3] == ' ';
	switch (s->phase) {
	case P_GREETING:
		if (code != 220) {
			fail(s, "greeting", line);
			return;
		}
		if (!last)
			return;
		send_cmd(s, "EHLO loadgen.test\r\n", "");
		s->phase = P_EHLO;
		return;
	case P_EHLO:
		if (code != 250) {
			fail(s, "EHLO", line);
			return;
		}
		if (strncmp(line + 4, "PIPELINING", 10) == 0
		    && (line[14] == '\0' || line[14] == ' '))
			s->pipelining = 1;
		if (last)
			next(s, now);
		return;
	case P_MAIL:
	case P_RCPT:
		if (code != 250 || !last) {
			fail(s, s->phase == P_MAIL ? "MAIL" : "RCPT", line);
			return;
		}
		if (s->phase == P_MAIL) {
			s->phase = P_RCPT;
			if (!s->pipelining)
				send_cmd(s, "RCPT TO:<%s>\r\n", rcpt);
		} else {
			s->phase = P_DATA;
			if (!s->pipelining)
				send_cmd(s, "DATA\r\n", "");
		}
		return;
	case P_DATA:
		if (code != 354 || !last) {
			fail(s, "DATA", line);
			return;
		}
		send_text(s, body, body_len);
		s->phase = P_DOT;
		return;
	case P_DOT:
		if (code != 250 || !last) {
			fail(s, "end of data", line);
			return;
		}
		hist_add((uint64_t)(now - s->msg_start));
		total++;
		s->sent++;
		last_done = now;
		if (reconnect)
			quit(s);
		else
			next(s, now);
		return;
	case P_QUIT:
		if (code != 221 || !last) {
			fail(s, "QUIT", line);
			return;
		}
		(void)close(s->fd);
		s->fd = -1;
		s->phase = P_DONE;
		if (reconnect && more_to_send(s, now))
			start_connect(s, now);
		return;
	case P_CONNECT:
	case P_DONE:
		break;
	}
	fail(s, "unexpected reply", line);
}

static void on_readable(struct session *s, int64_t now)
{
	const unsigned gen = s->gen;

	for (;;) {
		ssize_t n = read(s->fd, s->in + s->in_len,
		                 sizeof s->in - 1 - s->in_len);
		char *p, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			fail(s, "read", strerror(errno));
			return;
		}
		if (n == 0) {
			fail(s, "connection closed by the server", NULL);
			return;
		}
		s->last_io = now;
		s->in_len += (size_t)n;
		s->in[s->in_len] = '\0';
		p = s->in;
		while ((nl = memchr(p, '\n', s->in_len - (size_t)(p - s->in)))) {
			*nl = '\0';
			if (nl > p && nl[-1] == '\r')
				nl[-1] = '\0';
			on_line(s, p, now);
			if (s->fd < 0 || s->gen != gen)
				return;         /* failed, or QUIT done */
			p = nl + 1;
		}
		s->in_len -= (size_t)(p - s->in);
		memmove(s->in, p, s->in_len);
		if (s->in_len >= sizeof s->in - 1) {
			fail(s, "reply line too long", NULL);
			return;
		}
	}
}

static void on_writable(struct session *s, int64_t now)
{
	while (s->out_off < s->out_len) {
		ssize_t n = send(s->fd, s->out + s->out_off,
		                 s->out_len - s->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			fail(s, "send", strerror(errno));
			return;
		}
		s->out_off += (size_t)n;
		s->last_io = now;
	}
	s->out_len = s->out_off = 0;
}

static void on_connected(struct session *s)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err) {
		fail(s, "connect", strerror(err));
		return;
	}
	s->phase = P_GREETING;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen -p PORT [-c SESSIONS] [-n MESSAGES] "
	        "[-s SIZE] [-t SECONDS] [-r] [-a RCPT] [-f FROM]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int64_t now, hard_end;
	double secs;
	unsigned i;
	int c;

	while ((c = getopt(argc, argv, "p:c:n:s:t:ra:f:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'c': n_sessions = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': per_session = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': msg_size = strtoul(optarg, NULL, 10); break;
		case 't': run_seconds = strtod(optarg, NULL); break;
		case 'r': reconnect = 1; break;
		case 'a': rcpt = optarg; break;
		case 'f': from = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || port <= 0 || port > 65535 || n_sessions < 1
	    || n_sessions > MAX_SESSIONS || msg_size > (256u << 20)
	    || run_seconds < 0 || run_seconds > 3600
	    || (run_seconds == 0 && per_session == 0))
		usage();
	if (strlen(rcpt) > 300 || strlen(from) > 300)
		usage();
	make_body();

	t0 = now_us();
	last_done = t0;
	deadline = t0 + (int64_t)(run_seconds * 1e6);
	hard_end = (run_seconds > 0 ? deadline : t0 + 3600 * 1000000LL) + GRACE_US;
	for (i = 0; i < n_sessions; i++)
		start_connect(&sess[i], t0);

	for (;;) {
		unsigned active = 0;
		int rc;

		now = now_us();
		for (i = 0; i < n_sessions; i++) {
			struct session *s = &sess[i];

			pfd[i].fd = -1;
			pfd[i].events = 0;
			pfd[i].revents = 0;
			if (s->phase == P_DONE)
				continue;
			if (now - s->last_io > STALL_US || now > hard_end) {
				fail(s, "no reply for too long", NULL);
				continue;
			}
			active++;
			pfd[i].fd = s->fd;
			pfd[i].events = (short)(s->phase == P_CONNECT
			                        || s->out_off < s->out_len ?
			                        POLLOUT : POLLIN);
		}
		if (active == 0)
			break;
		rc = poll(pfd, n_sessions, 1000);
		if (rc < 0 && errno != EINTR) {
			perror("poll");
			return 2;
		}
		if (rc <= 0)
			continue;
		now = now_us();
		for (i = 0; i < n_sessions; i++) {
			struct session *s = &sess[i];
			short re = pfd[i].revents;

			if (pfd[i].fd < 0 || !re || s->fd != pfd[i].fd)
				continue;
			if (s->phase == P_CONNECT) {
				on_connected(s);
				continue;
			}
			if (re & POLLOUT)
				on_writable(s, now);
			if (s->fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
				on_readable(s, now);
			/* replies queued a command: try it at once */
			if (s->fd >= 0 && s->out_off < s->out_len)
				on_writable(s, now);
		}
	}

	secs = (double)(last_done - t0) / 1e6;
	{
		printf("loadgen: %u sessions, %zu octets, %s: %llu messages in "
		       "%.2f s, %.1f msg/s, latency p50 %.2f ms p99 %.2f ms "
		       "max %.2f ms, %llu errors\n", n_sessions, msg_size,
		       reconnect ? "a connection per message" : "pipelined",
		       (unsigned long long)total, secs,
		       secs > 0 ? (double)total / secs : 0.0,
		       (double)hist_pct(0.50) / 1e3, (double)hist_pct(0.99) / 1e3,
		       (double)lat_max / 1e3, (unsigned long long)errors);
	}
	printf("RESULT messages=%llu errors=%llu seconds=%.3f rate=%.1f "
	       "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f connects=%llu\n",
	       (unsigned long long)total, (unsigned long long)errors, secs,
	       secs > 0 ? (double)total / secs : 0.0,
	       (double)hist_pct(0.50) / 1e3, (double)hist_pct(0.99) / 1e3,
	       (double)lat_max / 1e3, (unsigned long long)connects);
	free(body);
	return errors ? 1 : 0;
}
