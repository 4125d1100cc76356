/* The reply table and the reply buffer; see smtp_reply.h. */
#include "smtp_reply.h"

#include <stddef.h>
#include <string.h>

#include "text.h"

/*
 * Each reply is "HEAD" or, for the replies from R_GREETING to R_HELO,
 * "HEAD HOST TAIL" (no TAIL when it is empty), written "HEAD\0TAIL".
 * NOERR marks the 4xx/5xx replies that are not the client's fault: they
 * do not count toward SMTP_MAX_ERRORS.
 *
 * The texts are the fields of one struct, each exactly as long as its
 * string, and a reply is found by its field's offset: 2 bytes a reply
 * instead of a 24-byte row of two pointers and two flags, about 1 KiB of
 * a static build.
 */
#define NOERR 1
#define REPLIES(X) \
	X(R_GREETING,      NOERR, "220\0ESMTP mailnook") \
	X(R_DENIED,        NOERR, "554 5.7.1\0access denied") \
	X(R_BYE,           NOERR, "221 2.0.0\0closing") \
	X(R_ERRLIMIT,      NOERR, "421 4.7.0\0too many errors") \
	X(R_REFUSED_LIMIT, NOERR, "421 4.7.0\0closing connection") \
	X(R_TIMEOUT,       NOERR, "421 4.4.2\0timeout") \
	X(R_SHUTDOWN,      NOERR, "421 4.3.2\0shutting down") \
	X(R_HELO,          NOERR, "250\0") \
	X(R_OK,            NOERR, "250 2.0.0 Ok") \
	X(R_MAIL_OK,       NOERR, "250 2.1.0 Ok") \
	X(R_RCPT_OK,       NOERR, "250 2.1.5 Ok") \
	X(R_DATA_GO,       NOERR, "354 End data with <CR><LF>.<CR><LF>") \
	X(R_VRFY,          NOERR, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery") \
	X(R_HELP,          NOERR, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA " HELP_BDAT "RSET NOOP QUIT VRFY HELP STARTTLS") \
	X(R_UNKNOWN_CMD,   0,     "500 5.5.1 Command unrecognized") \
	X(R_TOO_LONG,      0,     "500 5.5.2 Line too long") \
	X(R_NUL,           0,     "500 5.5.2 NUL character in command") \
	X(R_SYNTAX,        0,     "501 5.5.4 Syntax error") \
	X(R_SYNTAX_MAIL,   0,     "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]") \
	X(R_SYNTAX_RCPT,   0,     "501 5.5.4 Syntax: RCPT TO:<address>") \
	X(R_SYNTAX_VRFY,   0,     "501 5.5.4 Syntax: VRFY address") \
	X(R_BAD_ADDR,      0,     "501 5.1.3 Bad address syntax") \
	X(R_NOT_IMPL,      0,     "502 5.5.1 Command not implemented") \
	X(R_NO_TLS,        0,     "502 5.5.1 STARTTLS not available") \
	X(R_NEED_HELO,     0,     "503 5.5.1 Send HELO/EHLO first") \
	X(R_NEED_MAIL,     0,     "503 5.5.1 Need MAIL command") \
	X(R_NEED_RCPT,     0,     "503 5.5.1 Need RCPT command") \
	X(R_NESTED_MAIL,   0,     "503 5.5.1 Nested MAIL command") \
	X(R_REFUSED_CMD,   NOERR, "503 5.5.1 Access denied") \
	X(R_PARAM,         0,     "555 5.5.4 Unsupported parameter") \
	X(R_TOO_BIG,       0,     "552 5.3.4 Message too big") \
	X(R_TOO_MANY_RCPT, NOERR, "452 4.5.3 Too many recipients") \
	X(R_TEMP,          NOERR, "451 4.3.0 Temporary failure, try again later") \
	X(R_NOSPACE,       NOERR, "452 4.3.1 Insufficient system storage") \
	X(R_PERM,          NOERR, "554 5.3.0 Storage failure") \
	X(R_USER_UNKNOWN,  0,     "550 5.1.1 User unknown") \
	X(R_RELAY,         0,     "550 5.7.1 Relaying denied") \
	X(R_BARE,          0,     "550 5.6.0 Bare CR, bare LF or NUL in message (RFC 5321 2.3.8)") \
	X(R_LOOP,          0,     "554 5.4.6 Too many Received headers (mail loop)") \
	X(R_FULL,          NOERR, "452 4.2.2 Mailbox full") \
	TLS_REPLIES(X) \
	CHUNKING_REPLIES(X) \
	SEQ_REPLIES(X) \
	AUTH_REPLIES(X)

#if CFG_TLS
#define TLS_REPLIES(X) \
	X(R_TLS_GO,        NOERR, "220 2.0.0 Ready to start TLS") \
	X(R_TLS_ACTIVE,    0,     "503 5.5.1 TLS already active")
#else
#define TLS_REPLIES(X)
#endif
#if CFG_CHUNKING
#define CHUNKING_REPLIES(X) \
	X(R_SYNTAX_BDAT,   0,     "501 5.5.4 Syntax: BDAT size [LAST]") \
	X(R_BDAT_DATA,     0,     "503 5.5.1 DATA and BDAT cannot be mixed")
#else
#define CHUNKING_REPLIES(X)
#endif
#if CFG_CHUNKING || CFG_AUTH
#define SEQ_REPLIES(X) \
	X(R_BDAT_SEQ,      0,     "503 5.5.1 Bad sequence of commands")
#else
#define SEQ_REPLIES(X)
#endif
#if CFG_AUTH
#define AUTH_REPLIES(X) \
	X(R_AUTH_OK,       NOERR, "235 2.7.0 Authenticated") \
	X(R_AUTH_FAIL,     0,     "535 5.7.8 Authentication failed") \
	X(R_AUTH_CANCEL,   0,     "501 5.0.0 Cancelled") \
	X(R_AUTH_BAD,      0,     "501 5.5.2 Bad response") \
	X(R_AUTH_MECH,     0,     "504 5.5.4 Unknown mechanism") \
	X(R_AUTH_NEEDED,   0,     "530 5.7.0 Authentication required") \
	X(R_AUTH_TLS,      0,     "538 5.7.11 Encryption required") \
	X(R_AUTH_PLAIN,    NOERR, "334 ") \
	X(R_AUTH_USER,     NOERR, "334 VXNlcm5hbWU6") \
	X(R_AUTH_PASS,     NOERR, "334 UGFzc3dvcmQ6")
#else
#define AUTH_REPLIES(X)
#endif

/* what CONFIG_CHUNKING adds to HELP and EHLO */
#if CFG_CHUNKING
#define HELP_BDAT "BDAT "
#define EHLO_CHUNKING "250-CHUNKING\r\n"
#else
#define HELP_BDAT ""
#define EHLO_CHUNKING ""
#endif

#define TEXT_FIELD(id, noerr, text) char id[sizeof text];
#define TEXT_VALUE(id, noerr, text) text,
#define TEXT_AT(id, noerr, text) \
	[id] = (uint16_t)(offsetof(struct reply_texts, id) << 1 | (noerr)),

static const struct reply_texts {
	REPLIES(TEXT_FIELD)
} texts = { REPLIES(TEXT_VALUE) };

/* The offset of reply r's text in texts, shifted left once, | NOERR. */
static const uint16_t reply_at[R_COUNT] = { REPLIES(TEXT_AT) };

_Static_assert(sizeof(struct reply_texts) < 0x8000,
               "reply offsets fit in 15 bits");

int smtp_reply_counts(enum smtp_reply_id r)
{
	return r > R_NONE && r < R_COUNT && !(reply_at[r] & NOERR);
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
	const char *head;
	size_t n;

	if (r <= R_NONE || r >= R_COUNT)
		return 0;
	head = (const char *)&texts + (reply_at[r] >> 1);
	if (r <= R_HELO)
		n = smtp_reply_line(buf, sizeof(buf), head, s->hostname,
		                    head + strlen(head) + 1);
	else
		n = smtp_reply_line(buf, sizeof(buf), head, NULL, NULL);
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
	           "250-SMTPUTF8\r\n" EHLO_CHUNKING);
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

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

size_t smtp_format_date(char *buf, size_t len, int64_t t)
{
	static const char wday[] = "SunMonTueWedThuFriSat";
	static const char mon[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct text_date d;
	int64_t y;
	char *p = buf;

	if (len < 32) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	text_date(t, &d);
	y = d.year;
	if (y < 0 || y > 9999)     /* four digits or nothing sensible */
		y = y < 0 ? 0 : 9999;
	memcpy(p, wday + 3 * d.wday, 3);
	p += 3;
	*p++ = ',';
	*p++ = ' ';
	put2(p, d.mday);
	p += 2;
	*p++ = ' ';
	memcpy(p, mon + 3 * (d.mon - 1), 3);
	p += 3;
	*p++ = ' ';
	put2(p, (unsigned)(y / 100));
	put2(p + 2, (unsigned)(y % 100));
	p += 4;
	*p++ = ' ';
	put2(p, d.hour);
	p[2] = ':';
	put2(p + 3, d.min);
	p[5] = ':';
	put2(p + 6, d.sec);
	p += 8;
	memcpy(p, " +0000", 7);
	return (size_t)(p + 6 - buf);
}
