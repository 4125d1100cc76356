/*
 * AUTH PLAIN and LOGIN (RFC 4954, 4616); see smtp_int.h.
 *
 * The dialogue is protocol, so it is here; whether the credentials are
 * right is the sink's auth().  The line that held them is wiped after it
 * ran (s->wipe, smtp_engine.c).  A failure is answered after a pause: the
 * session waits in PHASE_AUTH_WAIT until auth_until, and smtp_tick() then
 * calls smtp_auth_failed().
 */
#include <string.h>

#include "smtp_int.h"
#include "text.h"

#if CFG_AUTH
enum { STEP_PLAIN, STEP_USER, STEP_PASS };

/* Back to the command state with reply r; the user name is forgotten
 * unless a checked AUTH made it the session's identity. */
static void auth_end(struct smtp_session *s, enum smtp_reply_id r)
{
	if (s->auth != AUTH_CHECKED)
		s->auth_name[0] = '\0';
	smtp_enter(s, PHASE_READY);
	smtp_say(s, r);
}

void smtp_auth_failed(struct smtp_session *s)
{
	auth_end(s, R_AUTH_FAIL);
	if (++s->auth_fails >= SMTP_AUTH_MAX_FAILS)
		smtp_close_with(s, R_ERRLIMIT);
}

static void auth_check(struct smtp_session *s, const char *pass)
{
	int r = s->sink->auth(s->ctx, s->auth_name, pass);

	if (r == AUTH_FAIL) {
		/* now is whole seconds, up to one behind the real time:
		 * two of them make the pause at least one real second */
		s->auth_until = s->now + 2;
		s->idle_since = s->now;
		smtp_enter(s, PHASE_AUTH_WAIT);
		return;
	}
	s->auth = (uint8_t)(r == AUTH_CHECKED ? AUTH_CHECKED : AUTH_ANY);
	auth_end(s, R_AUTH_OK);
}

void smtp_auth_response(struct smtp_session *s, char *t, size_t n)
{
	long k;
	char *z1, *z2;

	if (n == 1 && t[0] == '*') {
		auth_end(s, R_AUTH_CANCEL);
		return;
	}
	if (n == 1 && t[0] == '=')
		n = 0;          /* an empty initial response (RFC 4954 4) */
	k = text_b64_decode(t, n, t, n);
	if (k < 0) {
		auth_end(s, R_AUTH_BAD);
		return;
	}
	t[k] = '\0';
	if (s->auth_step == STEP_PLAIN) {
		/* authzid NUL authcid NUL passwd (RFC 4616); the authzid is
		 * ignored: the identity is the authcid */
		z1 = memchr(t, '\0', (size_t)k);
		z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(t + k - z1 - 1)) : NULL;
		if (!z2 || strlen(z2 + 1) != (size_t)(t + k - z2 - 1) ||
		    (size_t)(z2 - z1 - 1) > SMTP_AUTH_NAME_MAX) {
			auth_end(s, R_AUTH_BAD);
			return;
		}
		memcpy(s->auth_name, z1 + 1, (size_t)(z2 - z1));
		auth_check(s, z2 + 1);
		return;
	}
	if (strlen(t) != (size_t)k ||
	    (s->auth_step == STEP_USER && k > SMTP_AUTH_NAME_MAX)) {
		auth_end(s, R_AUTH_BAD);
		return;
	}
	if (s->auth_step == STEP_PASS) {
		auth_check(s, t);
		return;
	}
	memcpy(s->auth_name, t, (size_t)k + 1);
	s->auth_step = STEP_PASS;
	smtp_enter(s, PHASE_AUTH);
	smtp_say(s, R_AUTH_PASS);
}

void smtp_cmd_auth(struct smtp_session *s, const char *arg, size_t n)
{
	const char *sp = memchr(arg, ' ', n);
	size_t ml = sp ? (size_t)(sp - arg) : n;

	if (s->auth) {
		smtp_say(s, R_BDAT_SEQ);
		return;
	}
	if (s->p.auth == SMTP_AUTH_TLS && !s->tls) {
		smtp_say(s, R_AUTH_TLS);
		return;
	}
	if (ml == 5 && text_ncasecmp(arg, "PLAIN", 5) == 0) {
		s->auth_step = STEP_PLAIN;
	} else if (ml == 5 && text_ncasecmp(arg, "LOGIN", 5) == 0) {
		s->auth_step = STEP_USER;
	} else {
		smtp_say(s, n ? R_AUTH_MECH : R_SYNTAX);
		return;
	}
	smtp_enter(s, PHASE_AUTH);
	if (sp) {
		smtp_skip_sp(&sp);
		smtp_auth_response(s, s->line + (sp - s->line), strlen(sp));
	} else {
		smtp_say(s, s->auth_step == STEP_PLAIN ? R_AUTH_PLAIN : R_AUTH_USER);
	}
}
#endif
