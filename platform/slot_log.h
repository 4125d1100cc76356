/*
 * The log lines of a session slot: one per message and one per session,
 * key=value style, the fields mailnook decides first and the client's text
 * last and capped (log.h, LOG_FIELD_MAX), so no client can push a fixed
 * field off a line.  The words come from core/outcome.h; each message line
 * is counted in the stats as it is logged.
 */
#ifndef MAILNOOK_SLOT_LOG_H
#define MAILNOOK_SLOT_LOG_H

#include <stdint.h>

#include "outcome.h"
#include "slot.h"

/* "id=… result=…[ reason=…] size=… nrcpt=… ip=…[ auth=…] from=<…> to=<…>",
 * once per message: nothing when sl->id is empty, and sl->id is cleared
 * afterwards.  reason MSG_REASON_NONE (delivered) leaves out reason=. */
void slot_log_message(struct slot *sl, uint64_t size, enum msg_result result,
                      enum msg_reason reason);

/* "session ip=… msgs=… result=…[ reason=…] duration=…s[ tls=… cipher=…]
 * [ auth=…] helo=…", once per connection; a TLS session adds its protocol
 * version and cipher suite, a TLS error BearSSL's reason, and a failed
 * handshake a line "tls=failed reason=… client-version=… ip=…" before. */
void slot_log_session(struct slot *sl, enum session_end result);

#endif
