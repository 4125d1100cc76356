/* The reply table and the reply buffer; see smtp_reply.h. */
#include "smtp_reply.h"

#include <string.h>

#include "text.h"

/*
 * Each reply is "HEAD" or, with host set, "HEAD HOST TAIL".  noerr marks
 * the 4xx/5xx replies that are not the client's fault: they do not count
 * toward SMTP_MAX_ERRORS.
 */
static const struct {
	const char *head;
	const char *tail;
	uint8_t host;
	uint8_t noerr;
} replies[R_COUNT] = {
	[R_NONE]          = { "", "", 0, 1 },
	[R_GREETING]      = { "220", "ESMTP mailnook", 1, 1 },
	[R_DENIED]        = { "554 5.7.1", "access denied", 1, 1 },
	[R_BYE]           = { "221 2.0.0", "closing", 1, 1 },
	[R_ERRLIMIT]      = { "421 4.7.0", "too many errors", 1, 1 },
	[R_REFUSED_LIMIT] = { "421 4.7.0", "closing connection", 1, 1 },
	[R_TIMEOUT]       = { "421 4.4.2", "timeout", 1, 1 },
	[R_SHUTDOWN]      = { "421 4.3.2", "shutting down", 1, 1 },
	[R_HELO]          = { "250", "", 1, 1 },
	[R_OK]            = { "250 2.0.0 Ok", NULL, 0, 1 },
	[R_MAIL_OK]       = { "250 2.1.0 Ok", NULL, 0, 1 },
	[R_RCPT_OK]       = { "250 2.1.5 Ok", NULL, 0, 1 },
	[R_DATA_GO]       = { "354 End data with <CR><LF>.<CR><LF>", NULL, 0, 1 },
	[R_TLS_GO]        = { "220 2.0.0 Ready to start TLS", NULL, 0, 1 },
	[R_VRFY]          = { "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery", NULL, 0, 1 },
	[R_HELP]          = { "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS", NULL, 0, 1 },
	[R_UNKNOWN_CMD]   = { "500 5.5.1 Command unrecognized", NULL, 0, 0 },
	[R_TOO_LONG]      = { "500 5.5.2 Line too long", NULL, 0, 0 },
	[R_NUL]           = { "500 5.5.2 NUL character in command", NULL, 0, 0 },
	[R_SYNTAX]        = { "501 5.5.4 Syntax error", NULL, 0, 0 },
	[R_SYNTAX_MAIL]   = { "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]", NULL, 0, 0 },
	[R_SYNTAX_RCPT]   = { "501 5.5.4 Syntax: RCPT TO:<address>", NULL, 0, 0 },
	[R_SYNTAX_BDAT]   = { "501 5.5.4 Syntax: BDAT size [LAST]", NULL, 0, 0 },
	[R_SYNTAX_VRFY]   = { "501 5.5.4 Syntax: VRFY address", NULL, 0, 0 },
	[R_BAD_ADDR]      = { "501 5.1.3 Bad address syntax", NULL, 0, 0 },
	[R_NOT_IMPL]      = { "502 5.5.1 Command not implemented", NULL, 0, 0 },
	[R_NO_TLS]        = { "502 5.5.1 STARTTLS not available", NULL, 0, 0 },
	[R_NEED_HELO]     = { "503 5.5.1 Send HELO/EHLO first", NULL, 0, 0 },
	[R_NEED_MAIL]     = { "503 5.5.1 Need MAIL command", NULL, 0, 0 },
	[R_NEED_RCPT]     = { "503 5.5.1 Need RCPT command", NULL, 0, 0 },
	[R_NESTED_MAIL]   = { "503 5.5.1 Nested MAIL command", NULL, 0, 0 },
	[R_BDAT_DATA]     = { "503 5.5.1 DATA and BDAT cannot be mixed", NULL, 0, 0 },
	[R_BDAT_SEQ]      = { "503 5.5.1 Bad sequence of commands", NULL, 0, 0 },
	[R_TLS_ACTIVE]    = { "503 5.5.1 TLS already active", NULL, 0, 0 },
	[R_REFUSED_CMD]   = { "503 5.5.1 Access denied", NULL, 0, 1 },
	[R_PARAM]         = { "555 5.5.4 Unsupported parameter", NULL, 0, 0 },
	[R_TOO_BIG]       = { "552 5.3.4 Message too big", NULL, 0, 0 },
	[R_TOO_MANY_RCPT] = { "452 4.5.3 Too many recipients", NULL, 0, 1 },
	[R_TEMP]          = { "451 4.3.0 Temporary failure, try again later", NULL, 0, 1 },
	[R_NOSPACE]       = { "452 4.3.1 Insufficient system storage", NULL, 0, 1 },
	[R_PERM]          = { "554 5.3.0 Storage failure", NULL, 0, 1 },
	[R_USER_UNKNOWN]  = { "550 5.1.1 User unknown", NULL, 0, 0 },
	[R_RELAY]         = { "550 5.7.1 Relaying denied", NULL, 0, 0 },
	[R_BARE]          = { "550 5.6.0 Bare CR, bare LF or NUL in message (RFC 5321 2.3.8)", NULL, 0, 0 },
	[R_LOOP]          = { "554 5.4.6 Too many Received headers (mail loop)", NULL, 0, 0 },
#if CFG_AUTH
	[R_AUTH_OK]       = { "235 2.7.0 Authenticated", NULL, 0, 1 },
	[R_AUTH_FAIL]     = { "535 5.7.8 Authentication failed", NULL, 0, 0 },
	[R_AUTH_CANCEL]   = { "501 5.0.0 Cancelled", NULL, 0, 0 },
	[R_AUTH_BAD]      = { "501 5.5.2 Bad response", NULL, 0, 0 },
	[R_AUTH_MECH]     = { "504 5.5.4 Unknown mechanism", NULL, 0, 0 },
	[R_AUTH_NEEDED]   = { "530 5.7.0 Authentication required", NULL, 0, 0 },
	[R_AUTH_TLS]      = { "538 5.7.11 Encryption required", NULL, 0, 0 },
	[R_AUTH_PLAIN]    = { "334 ", NULL, 0, 1 },
	[R_AUTH_USER]     = { "334 VXNlcm5hbWU6", NULL, 0, 1 },
	[R_AUTH_PASS]     = { "334 UGFzc3dvcmQ6", NULL, 0, 1 },
#endif
};

int smtp_reply_counts(enum smtp_reply_id r)
{
	return !replies[r].noerr;
}

size_t smtp_out_free(const struct smtp_session *s)
{
	return sizeof(s->out) - (s->out_end - s->out_start);
}

/* Appends p[0..n) whole, or nothing. */
static int out_put(struct smtp_session *s, const char *p, size_t n)
{
	if (n == 0 || n > smtp_out_free(s))
		return 0;
	if (sizeof(s->out) - s->out_end < n) {
		memmove(s->out, s->out + s->out_start, s->out_end - s->out_start);
		s->out_end -= s->out_start;
		s->out_start = 0;
	}
	memcpy(s->out + s->out_end, p, n);
	s->out_end += n;
	return 1;
}

/* A bounded string builder: any overflow makes the whole result 0. */
struct sb {
	char *p;
	size_t n, cap;
	int over;
};

static void sb_put(struct sb *b, const char *p, size_t n)
{
	if (b->over || n > b->cap - b->n) {
		b->over = 1;
		return;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void sb_str(struct sb *b, const char *p)
{
	sb_put(b, p, strlen(p));
}

size_t smtp_reply_line(char *buf, size_t len, const char *pre,
                       const char *host, const char *post)
{
	struct sb b = { buf, 0, len, 0 };

	sb_str(&b, pre);
	if (host) {
		sb_put(&b, " ", 1);
		sb_str(&b, host);
	}
	if (post && *post) {
		sb_put(&b, " ", 1);
		sb_str(&b, post);
	}
	sb_put(&b, "\r\n", 2);
	return b.over ? 0 : b.n;
}

int smtp_reply(struct smtp_session *s, enum smtp_reply_id r)
{
	char buf[SMTP_HOSTNAME_MAX + 128];
	size_t n;

	if (r <= R_NONE || r >= R_COUNT)
		return 0;
	n = smtp_reply_line(buf, sizeof(buf), replies[r].head,
	                    replies[r].host ? s->hostname : NULL, replies[r].tail);
	return out_put(s, buf, n);
}

int smtp_reply_delivered(struct smtp_session *s)
{
	char buf[64 + SMTP_ID_MAX];
	size_t n = smtp_reply_line(buf, sizeof(buf), "250 2.0.0 Ok: delivered as",
	                           s->id, NULL);

	return out_put(s, buf, n);
}

int smtp_reply_chunk(struct smtp_session *s, uint64_t v)
{
	char num[21];

	text_u64(num, v);
	{
		char buf[64];
		size_t n = smtp_reply_line(buf, sizeof(buf), "250 2.0.0", num,
		                           "octets received");

		return out_put(s, buf, n);
	}
}

int smtp_reply_ehlo(struct smtp_session *s)
{
	char buf[SMTP_REPLY_RESERVE], num[21];
	struct sb b = { buf, 0, sizeof(buf), 0 };

	text_u64(num, s->p.max_size);
	sb_str(&b, "250-");
	sb_str(&b, s->hostname);
	sb_str(&b, "\r\n250-PIPELINING\r\n250-SIZE ");
	sb_str(&b, num);
	sb_str(&b, "\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"
	           "250-SMTPUTF8\r\n250-CHUNKING\r\n");
	if (s->p.tls_offered && !s->tls)
		sb_str(&b, "250-STARTTLS\r\n");
	if (CFG_AUTH && (s->p.auth == SMTP_AUTH_OFFER ||
	                 (s->p.auth == SMTP_AUTH_TLS && s->tls)))
		sb_str(&b, "250-AUTH PLAIN LOGIN\r\n");
	sb_str(&b, "250 HELP\r\n");
	return !b.over && out_put(s, buf, b.n);
}

size_t smtp_busy_reply(char *buf, size_t len, const char *hostname)
{
	char host[SMTP_HOSTNAME_MAX + 1];
	size_t i, n = text_copy(host, sizeof(host), hostname ? hostname : "");

	for (i = 0; i < n; i++)
		if ((unsigned char)host[i] < 0x21 || (unsigned char)host[i] > 0x7e)
			host[i] = '?';
	return smtp_reply_line(buf, len, "421 4.3.2", n ? host : NULL,
	                       "Too many connections, try again later");
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian), after
 * Howard Hinnant's days_from_civil inverse: exact for any int64 day. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, yy;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	yy = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

size_t smtp_format_date(char *buf, size_t len, int64_t t)
{
	static const char wday[] = "ThuFriSatSunMonTueWed";
	static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int64_t days, secs, y;
	unsigned m, d, w;
	char *p = buf;

	if (len < 32) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)     /* four digits or nothing sensible */
		y = y < 0 ? 0 : 9999;
	w = (unsigned)(((days % 7) + 7) % 7);  /* day 0 was a Thursday */
	memcpy(p, wday + 3 * w, 3);
	p += 3;
	*p++ = ',';
	*p++ = ' ';
	put2(p, d);
	p += 2;
	*p++ = ' ';
	memcpy(p, mon + 3 * (m - 1), 3);
	p += 3;
	*p++ = ' ';
	put2(p, (unsigned)(y / 100));
	put2(p + 2, (unsigned)(y % 100));
	p += 4;
	*p++ = ' ';
	put2(p, (unsigned)(secs / 3600));
	p[2] = ':';
	put2(p + 3, (unsigned)(secs / 60 % 60));
	p[5] = ':';
	put2(p + 6, (unsigned)(secs % 60));
	p += 8;
	memcpy(p, " +0000", 7);
	return (size_t)(p + 6 - buf);
}
