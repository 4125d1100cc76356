/*
 * The commands; see smtp_int.h.
 *
 * Each command is checked, then run (OpenSMTPD's check/proceed split): the
 * table below says, for every verb and every stage of the session, whether
 * the command may run there and, if not, the reply.  The handlers only do
 * the work: they never look at the phase to refuse.
 */
#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "assert_at.h"
#include "smtp_int.h"
#include "smtp_trace.h"
#include "text.h"

/* Any argument, even none or a bare IP address, is accepted (devices send
 * these); the Received header shows it sanitised, or "unknown" when it is
 * empty. */
static void cmd_helo_ehlo(struct smtp_session *s, const char *arg, size_t n,
                          int esmtp)
{
	(void)n;
	smtp_tx_reset(s);
	smtp_copy_clean(s->helo, sizeof(s->helo), arg, 1);
	s->esmtp = (uint8_t)esmtp;
	smtp_enter(s, PHASE_READY);
	if (esmtp) {
		int ok = smtp_reply_ehlo(s);

		assert(ok);
		(void)ok;
		s->idle_since = s->now;
	} else {
		smtp_say(s, R_HELO);
	}
}

static void cmd_helo(struct smtp_session *s, const char *arg, size_t n)
{
	cmd_helo_ehlo(s, arg, n, 0);
}

static void cmd_ehlo(struct smtp_session *s, const char *arg, size_t n)
{
	cmd_helo_ehlo(s, arg, n, 1);
}

struct mail_params {
	uint64_t size;
	uint8_t smtputf8;
};

/* The parameters known to MAIL (first six) and RCPT (last two).  AUTH
 * (RFC 4954 5) and the DSN ones (RFC 3461) are accepted and ignored:
 * mailnook is the final destination and sends no notices. */
static const char param_names[][9] = {
	"SIZE", "BODY", "SMTPUTF8", "AUTH", "RET", "ENVID", "NOTIFY", "ORCPT"
};
#define P_MAIL_END 6
#define P_ALL_END  8

/*
 * ESMTP parameters after the path (RFC 5321 4.1.2):
 *   *( SP esmtp-keyword [ "=" esmtp-value ] )
 *   esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 *   esmtp-value   = 1*(%d33-60 / %d62-126)
 * mp is NULL for RCPT.  An ignored parameter given twice is a syntax
 * error, as Postfix answers a second ENVID, NOTIFY or ORCPT.  Returns
 * R_NONE, R_SYNTAX or R_PARAM.
 */
static enum smtp_reply_id parse_params(const char *p, struct mail_params *mp)
{
	unsigned seen = 0;

	while (*p) {
		const char *k, *v = NULL;
		size_t kl, vl = 0, i;

		if (smtp_skip_sp(&p) == 0)
			return R_SYNTAX;
		if (!*p)
			break;
		k = p;
		while (*p && *p != ' ' && *p != '=')
			p++;
		kl = (size_t)(p - k);
		for (i = 0; i < kl; i++) {
			unsigned c = (unsigned char)k[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || (c == '-' && i > 0)))
				return R_SYNTAX;
		}
		if (kl == 0)
			return R_SYNTAX;
		if (*p == '=') {
			v = ++p;
			while (*p && *p != ' ')
				p++;
			vl = (size_t)(p - v);
			if (vl == 0)
				return R_SYNTAX;
			for (i = 0; i < vl; i++)
				if ((unsigned char)v[i] < 33 || (unsigned char)v[i] > 126 ||
				    v[i] == '=')
					return R_SYNTAX;
		}
		for (i = mp ? 0 : P_MAIL_END; i < (mp ? P_MAIL_END : P_ALL_END); i++)
			if (strlen(param_names[i]) == kl &&
			    text_ncasecmp(k, param_names[i], kl) == 0)
				break;
		if (i == (mp ? P_MAIL_END : P_ALL_END))
			return R_PARAM;
		switch (i) {
		case 0:
			if (!v || text_parse_u64(v, vl, &mp->size) != 0)
				return R_SYNTAX;
			break;
		case 1:
			if (!v || !((vl == 4 && text_ncasecmp(v, "7BIT", 4) == 0) ||
			            (vl == 8 && text_ncasecmp(v, "8BITMIME", 8) == 0)))
				return R_SYNTAX;
			break;
		case 2:
			if (v)
				return R_SYNTAX;
			mp->smtputf8 = 1;
			break;
		default:
			if (!v || (seen & 1u << i))
				return R_SYNTAX;
			seen |= 1u << i;
			break;
		}
	}
	return R_NONE;
}

static void cmd_mail(struct smtp_session *s, const char *arg, size_t n)
{
	struct smtp_addr a;
	struct mail_params mp = { 0, 0 };
	enum smtp_reply_id r;
	size_t used;
	int res;

#if CFG_AUTH
	if (s->p.auth_required && s->auth != AUTH_CHECKED) {
		smtp_say(s, R_AUTH_NEEDED);
		return;
	}
#endif
	if (n < 5 || text_ncasecmp(arg, "FROM:", 5) != 0) {
		smtp_say(s, R_SYNTAX_MAIL);
		return;
	}
	arg += 5;
	smtp_skip_sp(&arg);
	/* UTF-8 is checked against SMTPUTF8 once the parameters are read. */
	if (addr_parse_path(arg, strlen(arg), 1, 1, 0, &a, &used) != ADDR_OK) {
		smtp_say(s, R_BAD_ADDR);
		return;
	}
	r = parse_params(arg + used, &mp);
	if (r != R_NONE) {
		smtp_say(s, r);
		return;
	}
	if (a.has_utf8 && !mp.smtputf8) {
		smtp_say(s, R_BAD_ADDR);
		return;
	}
	if (mp.size > s->p.max_size) {
		smtp_say(s, R_TOO_BIG);
		return;
	}
	res = s->sink->mail(s->ctx, &a, mp.smtputf8);
	if (res != SINK_OK) {
		smtp_say(s, smtp_sink_reply(res));
		return;
	}
	s->utf8 = mp.smtputf8;
	smtp_copy_clean(s->sender, sizeof(s->sender), a.text, !s->utf8);
	s->nrcpt = 0;
	s->first_rcpt[0] = '\0';
	s->bdat_used = 0;
	s->bdat_failed = 0;
	smtp_enter(s, PHASE_MAIL);
	smtp_say(s, R_MAIL_OK);
}

static void cmd_rcpt(struct smtp_session *s, const char *arg, size_t n)
{
	struct smtp_addr a;
	size_t used;
	enum smtp_reply_id r;
	const char *rest;

	if (n < 3 || text_ncasecmp(arg, "TO:", 3) != 0) {
		smtp_say(s, R_SYNTAX_RCPT);
		return;
	}
	arg += 3;
	smtp_skip_sp(&arg);
	if (addr_parse_path(arg, strlen(arg), s->utf8, 0, 1, &a, &used) != ADDR_OK) {
		smtp_say(s, R_BAD_ADDR);
		return;
	}
	rest = arg + used;
	r = parse_params(rest, NULL);
	if (r != R_NONE) {
		smtp_say(s, r);
		return;
	}
	if (s->nrcpt >= s->p.max_rcpt) {
		smtp_say(s, R_TOO_MANY_RCPT);
		return;
	}
	switch (s->sink->rcpt(s->ctx, &a)) {
	case RCPT_OK:
		if (s->nrcpt++ == 0)
			smtp_copy_clean(s->first_rcpt, sizeof(s->first_rcpt), a.text, !s->utf8);
		smtp_enter(s, PHASE_RCPT);
		smtp_say(s, R_RCPT_OK);
		break;
	case RCPT_UNKNOWN:
		smtp_say(s, R_USER_UNKNOWN);
		break;
	case RCPT_RELAY:
		smtp_say(s, R_RELAY);
		break;
	case RCPT_NOSPACE:
		smtp_say(s, R_NOSPACE);
		break;
	case RCPT_FULL:
		smtp_say(s, R_FULL);
		break;
	default:
		smtp_say(s, R_TEMP);
		break;
	}
}

static void cmd_data(struct smtp_session *s, const char *arg, size_t n)
{
	int r;

	(void)arg;
	if (n) {
		smtp_say(s, R_SYNTAX);
		return;
	}
	r = smtp_message_begin(s);
	if (r != SINK_OK) {
		smtp_say(s, smtp_sink_reply(r));
		return;
	}
	smtp_say(s, R_DATA_GO);
	s->body_since = s->now;
	smtp_enter(s, PHASE_DATA);
	smtp_trace_headers(s);
}

static void cmd_rset(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	if (n) {
		smtp_say(s, R_SYNTAX);
		return;
	}
	smtp_tx_reset(s);
	smtp_say(s, R_OK);
}

static void cmd_noop(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	(void)n;
	smtp_say(s, R_OK);
}

static void cmd_quit(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	(void)n;
	smtp_close_with(s, R_BYE);
}

static void cmd_vrfy(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	smtp_say(s, n ? R_VRFY : R_SYNTAX_VRFY);
}

static void cmd_expn(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	(void)n;
	smtp_say(s, R_NOT_IMPL);
}

static void cmd_help(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
	(void)n;
	smtp_say(s, R_HELP);
}

static void cmd_starttls(struct smtp_session *s, const char *arg, size_t n)
{
	(void)arg;
#if CFG_TLS
	if (s->tls) {
		smtp_say(s, R_TLS_ACTIVE);
		return;
	}
	if (!s->p.tls_offered) {
		smtp_say(s, R_NO_TLS);
		return;
	}
	if (n) {
		smtp_say(s, R_SYNTAX);
		return;
	}
	smtp_tx_reset(s);
	smtp_say(s, R_TLS_GO);
	smtp_enter(s, PHASE_TLS_WAIT);
	/* process() throws away whatever was pipelined after it */
#else   /* never offered (slot.c sets tls_offered only with TLS) */
	(void)n;
	smtp_say(s, R_NO_TLS);
#endif
}


/* Where the session is, as the command table sees it. */
enum stage {
	ST_GREETING,  /* before HELO/EHLO */
	ST_READY,     /* no transaction */
	ST_MAIL,      /* MAIL accepted, no recipient yet */
	ST_RCPT,      /* recipients accepted */
	ST_CHUNKS,    /* ... and BDAT chunks sent: only BDAT goes on */
	ST_REFUSED,   /* allow-from refused the client */
	ST_COUNT
};

#define CMD_LATE   0x01u  /* the handler reads its chunk, then gives the
                             table's answer (s->deny) */
#define CMD_SECRET 0x02u  /* the line may hold credentials: wipe it */

struct command {
	char verb[9];
	uint8_t flags;
	/* by stage: the reply that refuses the command there, or R_NONE */
	uint8_t deny[ST_COUNT];
	void (*fn)(struct smtp_session *s, const char *arg, size_t n);
};

#define H   R_NEED_HELO
#define M   R_NEED_MAIL
#define RC  R_NEED_RCPT
#define NM  R_NESTED_MAIL
#if CFG_CHUNKING
#define MIX R_BDAT_DATA
#define SEQ R_BDAT_SEQ
#else   /* no BDAT: ST_CHUNKS is never reached */
#define MIX R_NONE
#define SEQ R_NONE
#endif
#define X   R_REFUSED_CMD

static const struct command commands[] = {
	/* verb       flags       GREET READY MAIL RCPT CHUNKS REFUSED */
	{ "HELO",     0,          { 0,  0,    0,   0,   0,     X }, cmd_helo },
	{ "EHLO",     0,          { 0,  0,    0,   0,   0,     X }, cmd_ehlo },
	{ "MAIL",     0,          { H,  0,    NM,  NM,  SEQ,   X }, cmd_mail },
	{ "RCPT",     0,          { H,  M,    0,   0,   SEQ,   X }, cmd_rcpt },
	{ "DATA",     0,          { H,  M,    RC,  0,   MIX,   X }, cmd_data },
#if CFG_CHUNKING
	{ "BDAT",     CMD_LATE,   { H,  M,    RC,  0,   0,     X }, smtp_cmd_bdat },
#else   /* known, not in this build: 502, as EXPN */
	{ "BDAT",     0,          { 0,  0,    0,   0,   0,     X }, cmd_expn },
#endif
	{ "RSET",     0,          { 0,  0,    0,   0,   0,     X }, cmd_rset },
	{ "NOOP",     0,          { 0,  0,    0,   0,   0,     X }, cmd_noop },
	{ "QUIT",     0,          { 0,  0,    0,   0,   0,     0 }, cmd_quit },
	{ "VRFY",     0,          { 0,  0,    0,   0,   0,     X }, cmd_vrfy },
	{ "EXPN",     0,          { 0,  0,    0,   0,   0,     X }, cmd_expn },
	{ "HELP",     0,          { 0,  0,    0,   0,   0,     X }, cmd_help },
	{ "STARTTLS", 0,          { 0,  0,    0,   0,   0,     X }, cmd_starttls },
#if CFG_AUTH
	{ "AUTH",     CMD_SECRET, { H,  0,    SEQ, SEQ, SEQ,   X }, smtp_cmd_auth },
#endif
};

#undef H
#undef M
#undef RC
#undef NM
#undef MIX
#undef SEQ
#undef X

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Commands run only in these phases (the others read no lines, and
 * PHASE_AUTH reads responses). */
static enum stage stage(const struct smtp_session *s)
{
	switch (s->phase) {
	case PHASE_GREETING:
		return ST_GREETING;
	case PHASE_READY:
		return ST_READY;
	case PHASE_MAIL:
		return ST_MAIL;
	case PHASE_REFUSED:
		return ST_REFUSED;
	default:   /* PHASE_RCPT */
		return s->bdat_used ? ST_CHUNKS : ST_RCPT;
	}
}

/* Checks command c (NULL: unknown or unreadable), then runs it.  A
 * refused client's commands are counted: SMTP_REFUSED_MAX_COMMANDS end
 * the session. */
static void run(struct smtp_session *s, const struct command *c,
                const char *arg)
{
	int refused = s->phase == PHASE_REFUSED;
	enum smtp_reply_id deny = refused ? R_REFUSED_CMD : R_UNKNOWN_CMD;

	if (c) {
		deny = (enum smtp_reply_id)c->deny[stage(s)];
		if (c->flags & CMD_SECRET)
			s->wipe = 1;
	}
	if (c && (deny == R_NONE || (c->flags & CMD_LATE))) {
		s->deny = (uint8_t)deny;
		c->fn(s, arg, strlen(arg));
	} else {
		smtp_say(s, deny);
	}
	if (refused && ++s->commands >= SMTP_REFUSED_MAX_COMMANDS)
		smtp_close_with(s, R_REFUSED_LIMIT);
}

void smtp_exec_bad_line(struct smtp_session *s)
{
	if (s->phase == PHASE_REFUSED) {
		run(s, NULL, "");
		return;
	}
	if (CFG_AUTH && s->phase == PHASE_AUTH)
		smtp_enter(s, PHASE_READY);  /* the exchange is over */
	smtp_say(s, R_TOO_LONG);
}

void smtp_exec_line(struct smtp_session *s)
{
	char *l = s->line;
	size_t n = s->line_len, vl, i;
	const char *arg;

	if (n && l[n - 1] == '\r')
		n--;
#if CFG_AUTH
	if (s->phase == PHASE_AUTH) {
		while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
			n--;
		smtp_auth_response(s, l, n);   /* a NUL is bad base64 */
		return;
	}
#endif
	if (memchr(l, '\0', n)) {
		if (s->phase == PHASE_REFUSED)
			run(s, NULL, "");
		else
			smtp_say(s, R_NUL);
		return;
	}
	while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
		n--;
	l[n] = '\0';
	for (vl = 0; vl < n && l[vl] != ' '; vl++)
		;
	arg = l + vl;
	smtp_skip_sp(&arg);
	for (i = 0; i < NCOMMANDS; i++)
		if (strlen(commands[i].verb) == vl &&
		    text_ncasecmp(l, commands[i].verb, vl) == 0)
			break;
	run(s, i < NCOMMANDS ? &commands[i] : NULL, arg);
}
