/*
 * Counters and the stats file (stats-file=FILE): Prometheus text format,
 * rewritten every STATS_INTERVAL_MS, on SIGUSR1 and once at shutdown.
 *
 * The counters are a fixed static table, never allocated.  The file is
 * rendered into a fixed static buffer, written with write(2) to FILE.tmp in
 * the same directory and renamed over FILE, so a reader sees the old file
 * or the new one, never a mix.  It is not fsync'ed: the numbers restart
 * with the process anyway, and a router's flash need not take a sync every
 * ten seconds.  A failed write is logged (once until a write succeeds
 * again) and leaves no FILE.tmp behind; the server goes on.
 *
 * Metrics (all prefixed mailnook_; the label sets are fixed and every
 * series is always present, zero until something happens):
 *
 *   connections_accepted_total            sessions started (greeting 220)
 *   connections_refused_total{reason}     busy (no slot, max-sessions),
 *                                         per_ip (max-sessions-per-ip),
 *                                         allow_from (554 5.7.1 greeting;
 *                                         on listen-tls, closed at once)
 *   sessions_active                       gauge: open sessions
 *   mail_refused_total{reason}            MAIL refused: nospace
 *                                         (below min-free-space)
 *   recipients_accepted_total             RCPT 250
 *   recipients_refused_total{reason}      what the recipient check said:
 *                                         unknown 550 5.1.1, relay 550 5.7.1,
 *                                         nospace 452 4.3.1, temp 451 4.3.0
 *   messages_delivered_total              250 after the commit
 *   messages_rejected_total{reason}       refused for their content:
 *                                         bare_lf, bare_cr, nul (550 5.6.0),
 *                                         size (552 5.3.4), loop (554 5.4.6)
 *   messages_failed_total{reason}         not stored: temp (451 4.3.0),
 *                                         nospace (452 4.3.1, ENOSPC or
 *                                         min-free-space at the commit), perm,
 *                                         aborted (the client went away or
 *                                         timed out mid-message)
 *   stored_bytes_total                    size of delivered messages, once
 *                                         per message (as S= counts)
 *   storage_errors_total                  messages the file system failed
 *                                         (open, write, fsync, link, ENOSPC)
 *   tls_handshakes_total{result}          ok, failed
 *   auth_total{result}                    AUTH exchanges that reached a
 *                                         verdict: ok (235, checked or
 *                                         not), failed (535)
 *   commit_batches_total                  group commits run
 *   commit_batch_size (histogram)         messages per group commit
 *   start_time_seconds                    gauge: UNIX time of the start
 *
 * With CONFIG_STATS=n every call below is an empty inline function and
 * stats.c compiles to nothing (stats-file is then a configuration error).
 */
#ifndef MAILNOOK_STATS_H
#define MAILNOOK_STATS_H

#include <stdint.h>

#include "config.h"
#include "outcome.h"

#define STATS_INTERVAL_MS 10000

enum stats_refusal {
	STATS_REFUSED_BUSY = 0,
	STATS_REFUSED_PER_IP,
	STATS_REFUSED_ALLOW_FROM,
	STATS_REFUSED_N
};

#if CFG_STATS

/* Where the mailbox usage lines come from (CONFIG_QUOTA: qrun_usage(),
 * set by main), so that stats.c needs nothing of the quota code:
 * box i's address and usage (1), 0 for none, -1 past the last. */
typedef int stats_usage_fn(unsigned i, const char **address, uint64_t *bytes,
                           uint64_t *count);
#if CFG_QUOTA
void stats_usage_source(stats_usage_fn *fn);
#endif
#if CFG_HOOK
/* Where the on-delivery counts come from (hook_total(), set by main), so
 * that stats.c links without the hook code (t_tls, fuzz_tls). */
#include "hook.h"
void stats_hooks_source(uint64_t (*fn)(enum hook_result r));
#endif

/* Records the start time; once, before the loop. */
void stats_init(int64_t wall);

/* A session started (refused: by allow-from), or a connection turned
 * away before a session (busy, per_ip; allow_from on listen-tls). */
void stats_session_start(int refused);
void stats_connection_refused(enum stats_refusal why);

/* MAIL refused by the sink (enum sink_result, SINK_OK not counted). */
void stats_mail(int sink_result);

/* One RCPT answered by the sink (enum rcpt_result). */
void stats_rcpt(int rcpt_result);

/* One message ended, as its log line says (result=, reason=; reason
 * MSG_REASON_NONE when delivered); size in octets. */
void stats_message(enum msg_result result, enum msg_reason reason,
                   uint64_t size);

/* A TLS handshake finished. */
void stats_tls_handshake(enum tls_result r);

/* A group commit of n messages ran. */
void stats_commit_batch(unsigned n);

/* An AUTH exchange ended with 235 (ok 1) or 535 (ok 0). */
void stats_auth(int ok);

/* A file deleted by rotate= (expired 0) or expire= (1). */
void stats_deleted(int expired);

/* Milliseconds until the next periodic write of path (NULL: no file,
 * INT64_MAX); 0 when it is due. */
int64_t stats_wait_ms(const char *path, int64_t now_ms);

/* Writes path when the interval has passed, or at once when force;
 * active is the number of open sessions. */
void stats_tick(const char *path, int64_t now_ms, unsigned active, int force);

#else

static inline void stats_init(int64_t wall) { (void)wall; }
static inline void stats_session_start(int refused) { (void)refused; }
static inline void stats_connection_refused(enum stats_refusal why)
{
	(void)why;
}
static inline void stats_mail(int r) { (void)r; }
static inline void stats_rcpt(int r) { (void)r; }
static inline void stats_message(enum msg_result result,
                                 enum msg_reason reason, uint64_t size)
{
	(void)result;
	(void)reason;
	(void)size;
}
static inline void stats_tls_handshake(enum tls_result r) { (void)r; }
static inline void stats_commit_batch(unsigned n) { (void)n; }
static inline void stats_auth(int ok) { (void)ok; }
static inline void stats_deleted(int expired) { (void)expired; }
static inline int64_t stats_wait_ms(const char *path, int64_t now_ms)
{
	(void)path;
	(void)now_ms;
	return INT64_MAX;
}
static inline void stats_tick(const char *path, int64_t now_ms,
                              unsigned active, int force)
{
	(void)path;
	(void)now_ms;
	(void)active;
	(void)force;
}

#endif

#endif
