/* core/outcome.c: the words the log lines print for each outcome (they are
 * the user-facing log format, which log watchers match), and how the
 * engine's and the store's reasons map onto them. */
#include <string.h>

#include "outcome.h"
#include "tap.h"

int main(void)
{
	static const char *const reasons[MSG_REASON_N] = {
		"", "bare-lf", "bare-cr", "nul", "size", "loop", "store-error",
		"aborted", "no-space", "store-permanent", "min-free-space",
		"no-destination", "quota", "unknown",
	};
	static const char *const ends[SESSION_END_N] = {
		"", "quit", "errors", "refused", "timeout", "closed", "error",
		"shutdown", "busy", "tls-error", "tls-timeout", "tls-hello",
	};
	unsigned i;

	is_str(msg_result_name(MSG_DELIVERED), "delivered", "delivered");
	is_str(msg_result_name(MSG_REJECTED), "rejected", "rejected");
	is_str(msg_result_name(MSG_FAILED), "failed", "failed");
	for (i = 0; i < MSG_REASON_N; i++)
		is_str(msg_reason_name((enum msg_reason)i), reasons[i],
		       "reason %u", i);
	is_str(msg_reason_name(MSG_REASON_N), "unknown", "reason out of range");
	for (i = 0; i < SESSION_END_N; i++)
		is_str(session_end_name((enum session_end)i), ends[i],
		       "session end %u", i);
	is_str(session_end_name(SESSION_END_N), "unknown",
	       "session end out of range");
	is_str(tls_result_name(TLS_RESULT_OK), "ok", "tls ok");
	is_str(tls_result_name(TLS_RESULT_FAILED), "failed", "tls failed");

	/* the engine's reasons: the content refusals are "rejected" */
	is_str(msg_reason_name(msg_reason_of_reject(REJECT_BARE_LF)), "bare-lf",
	       "reject bare LF");
	is_str(msg_reason_name(msg_reason_of_reject(REJECT_BARE_CR)), "bare-cr",
	       "reject bare CR");
	is_str(msg_reason_name(msg_reason_of_reject(REJECT_NUL)), "nul",
	       "reject NUL");
	is_str(msg_reason_name(msg_reason_of_reject(REJECT_SIZE)), "size",
	       "reject size");
	is_str(msg_reason_name(msg_reason_of_reject(REJECT_LOOP)), "loop",
	       "reject loop");
	is_str(msg_reason_name(msg_reason_of_reject(REJECT_STORE)),
	       "store-error", "reject store");
	is_str(msg_reason_name(msg_reason_of_reject(REJECT_ABORTED)), "aborted",
	       "reject aborted");
	is_str(msg_reason_name(msg_reason_of_reject(REJECT_NONE)), "unknown",
	       "reject none");
	for (i = REJECT_BARE_LF; i <= REJECT_LOOP; i++)
		ok(msg_reason_is_content(msg_reason_of_reject((enum smtp_reject)i)),
		   "reject %u is a content refusal", i);
	ok(!msg_reason_is_content(msg_reason_of_reject(REJECT_STORE)),
	   "a store failure is no content refusal");
	ok(!msg_reason_is_content(msg_reason_of_reject(REJECT_ABORTED)),
	   "an abort is no content refusal");
	ok(!msg_reason_is_content(MSG_REASON_NONE), "none is no refusal");

	/* the store's */
	is_str(msg_reason_name(msg_reason_of_sink(SINK_TEMP)), "store-error",
	       "sink temp");
	is_str(msg_reason_name(msg_reason_of_sink(SINK_NOSPACE)), "no-space",
	       "sink no space");
	is_str(msg_reason_name(msg_reason_of_sink(SINK_PERM)),
	       "store-permanent", "sink perm");
	is_str(msg_reason_name(msg_reason_of_sink(SINK_OK)), "unknown",
	       "sink ok is no failure");
	return tap_done();
}
