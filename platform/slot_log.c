#include "slot_log.h"

#include <string.h>

#include "clock.h"
#include "fmt.h"
#include "log.h"
#include "stats.h"
#if CFG_TLS
#include "tls.h"
#endif

/* " auth=NAME" after a checked AUTH, else "": capped like the client's
 * other fields (the name is one of auth-users', but as the client sent it) */
static const char *auth_field(const struct slot *sl, char *buf, size_t size)
{
	if (!CFG_AUTH || sl->s.auth != AUTH_CHECKED)
		return "";
	memcpy(buf, " auth=", 6);
	log_clean(buf + 6, size - 6, sl->s.auth_name);
	return buf;
}

/* see slot_log.h */
void slot_log_message(struct slot *sl, uint64_t size, enum msg_result result,
                      enum msg_reason reason)
{
	char from[LOG_FIELD_MAX], to[LOG_FIELD_MAX], auth[LOG_FIELD_MAX + 6];

	if (!sl->id[0])
		return;
	log_clean(from, sizeof from, sl->from);
	log_clean(to, sizeof to, sl->to);
	log_info("id=%s result=%s%s%s size=%llu nrcpt=%u ip=%s%s from=<%s> "
	         "to=<%s>", sl->id, msg_result_name(result),
	         reason ? " reason=" : "", msg_reason_name(reason),
	         (unsigned long long)size, sl->nrcpt,
	         sl->s.client_ip, auth_field(sl, auth, sizeof auth), from, to);
	stats_message(result, reason, size);
	sl->id[0] = '\0';
}

/* see slot_log.h */
void slot_log_session(struct slot *sl, enum session_end result)
{
	char helo[LOG_FIELD_MAX], auth[LOG_FIELD_MAX + 6];
	char tls[128] = "", reason[64] = "";
	int64_t secs = (clock_mono_ms() - sl->started_ms) / 1000;

#if CFG_TLS
	/* by minor version, 7 bytes each */
	static const char names[] = "SSL3.0\0TLS1.0\0TLS1.1\0TLS1.2\0TLS1.3\0"
	                            "unknown";
	char err[48];
	unsigned v;
	const char *failed = tls_conn_failure(sl->tls, &v, err, sizeof err);

	/* a line of its own, for log watchers: which version did that
	 * printer want, and why did it fail? */
	if (failed) {
		if (v >> 8 != 3 || (v & 0xff) > 4)
			v = 5;
		log_info("tls=%s reason=%s client-version=%s ip=%s",
		         tls_result_name(TLS_RESULT_FAILED), failed,
		         names + 7 * (v & 0xff), sl->s.client_ip);
	}
	if (tls_conn_established(sl->tls))
		fmt_into(tls, sizeof tls, " tls=%s cipher=%s",
		         tls_conn_version(sl->tls), tls_conn_suite(sl->tls));
	if (tls_conn_active(sl->tls) && result == SESSION_TLS_ERROR) {
		fmt_into(reason, sizeof reason, " reason=%s",
		         tls_conn_error(sl->tls, err, sizeof err));
	}
#endif
	log_clean(helo, sizeof helo, sl->s.helo);
	log_info("session ip=%s msgs=%u result=%s%s duration=%llds%s%s helo=%s",
	         sl->s.client_ip, sl->delivered, session_end_name(result), reason,
	         (long long)(secs < 0 ? 0 : secs), tls,
	         auth_field(sl, auth, sizeof auth), helo);
}
