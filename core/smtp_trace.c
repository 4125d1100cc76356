/*
 * Trace headers; see smtp_trace.h.
 *
 * Return-Path: and Received: are built from text the engine already
 * sanitised (HELO, sender, first recipient, id, host name) and sanitised
 * again token by token, so nothing a client sent can break a header line.
 */
#include "smtp_trace.h"

#include <string.h>

#include "smtp_data.h"
#include "smtp_reply.h"
#include "text.h"

void smtp_sanitize(char *p, int ascii_only)
{
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;

		/* a C1 control (U+0080..U+009F, UTF-8 C2 80..C2 9F): "??" keeps
		 * the text valid UTF-8 and its length */
		if (c == 0xc2 && (unsigned char)p[1] >= 0x80 &&
		    (unsigned char)p[1] <= 0x9f) {
			*p++ = '?';
			c = 0;
		}
		if (c < 0x20 || c == 0x7f || (ascii_only && c > 0x7e))
			*p = '?';
	}
}

/* Header text with folding: tokens separated by one space, or by "\n\t"
 * when the token would take the line past 998 octets. */
struct hdr {
	char *p;
	size_t n, cap, col;
};

static void hdr_raw(struct hdr *h, const char *t, size_t len)
{
	if (len > h->cap - h->n)
		len = h->cap - h->n;
	memcpy(h->p + h->n, t, len);
	h->n += len;
	h->col += len;
}

/* Appends sp (a separator: "" or " ") and the token pre+t+post, sanitised. */
static void hdr_tok(struct hdr *h, const char *pre, const char *t,
                    const char *post)
{
	char tok[ADDR_PATH_MAX + SMTP_HOSTNAME_MAX + 16];
	size_t lp = strlen(pre), lt = strlen(t), lq = strlen(post);

	if (lt > sizeof(tok) - lp - lq - 1)
		lt = sizeof(tok) - lp - lq - 1;
	memcpy(tok, pre, lp);
	memcpy(tok + lp, t, lt);
	memcpy(tok + lp + lt, post, lq + 1);
	tok[lp + lt + lq] = '\0';
	smtp_sanitize(tok, 0);
	if (h->col > 0) {
		if (h->col + 1 + lp + lt + lq > 998) {
			hdr_raw(h, "\n\t", 2);
			h->col = 1;
		} else {
			hdr_raw(h, " ", 1);
		}
	}
	hdr_raw(h, tok, lp + lt + lq);
}

void smtp_trace_headers(struct smtp_session *s)
{
	char buf[2 * (ADDR_PATH_MAX + SMTP_HOSTNAME_MAX) + SMTP_HELO_MAX + 256];
	char date[32], ip[SMTP_IP_MAX + 16];
	struct hdr h = { buf, 0, sizeof(buf), 0 };
	const char *lit = strchr(s->client_ip, ':') ? "[IPv6:" : "[";

	hdr_tok(&h, "Return-Path: <", s->sender, ">");
	hdr_raw(&h, "\n", 1);
	h.col = 0;
	smtp_format_date(date, sizeof(date), s->wall);
	memcpy(ip, lit, strlen(lit));
	text_copy(ip + strlen(lit), sizeof(ip) - strlen(lit), s->client_ip);
	hdr_tok(&h, "Received:", "", "");
	hdr_tok(&h, "from", "", "");
	hdr_tok(&h, "", s->helo[0] ? s->helo : "unknown", "");
	hdr_tok(&h, "(", ip, "])");
	hdr_tok(&h, "by", "", "");
	hdr_tok(&h, "", s->hostname, "");
	hdr_tok(&h, "(mailnook)", "", "");
	hdr_tok(&h, "with", "", "");
	hdr_tok(&h, "", smtp_proto(s), "");
	hdr_tok(&h, "id", "", "");
	if (s->nrcpt == 1) {
		hdr_tok(&h, "", s->id, "");
		hdr_tok(&h, "for", "", "");
		hdr_tok(&h, "<", s->first_rcpt, ">;");
	} else {
		hdr_tok(&h, "", s->id, ";");
	}
	hdr_tok(&h, "", date, "");
	hdr_raw(&h, "\n", 1);
	smtp_data_write(&s->dec, buf, h.n);
}

/* see smtp_engine.h */
const char *smtp_proto(const struct smtp_session *s)
{
#if CFG_AUTH
	if (s->auth == AUTH_CHECKED) {   /* RFC 3848: AUTH is ESMTP */
		if (s->utf8)
			return s->tls ? "UTF8SMTPSA" : "UTF8SMTPA";
		return s->tls ? "ESMTPSA" : "ESMTPA";
	}
#endif
	if (s->utf8)
		return s->tls ? "UTF8SMTPS" : "UTF8SMTP";
	if (!s->esmtp)
		return "SMTP";
	return s->tls ? "ESMTPS" : "ESMTP";
}
