#include "stats.h"

#if CFG_STATS

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "hook.h"
#include "log.h"
#include "sink.h"

/* ---- the counters ----------------------------------------------------- */

enum { RCPT_R_UNKNOWN, RCPT_R_RELAY, RCPT_R_NOSPACE, RCPT_R_TEMP, RCPT_R_FULL,
       RCPT_R_N };
enum { REJ_BARE_LF, REJ_BARE_CR, REJ_NUL, REJ_SIZE, REJ_LOOP, REJ_N };
enum { FAIL_TEMP, FAIL_NOSPACE, FAIL_PERM, FAIL_ABORTED, FAIL_QUOTA, FAIL_N };

static const char *const refusal_label[STATS_REFUSED_N] = {
	"busy", "per_ip", "allow_from"
};
static const char *const rcpt_label[RCPT_R_N] = {
	"unknown", "relay", "nospace", "temp", "full"
};
static const char *const rej_label[REJ_N] = {
	"bare_lf", "bare_cr", "nul", "size", "loop"
};
/* the rejected counters are in enum msg_reason's order of the content
 * refusals (outcome.h) */
_Static_assert(REJ_N == MSG_REASON_CONTENT_LAST - MSG_REASON_CONTENT_FIRST + 1,
               "one rejected counter per content refusal");
static const char *const fail_label[FAIL_N] = {
	"temp", "nospace", "perm", "aborted", "quota"
};

/* upper bounds of the commit batch histogram; +Inf follows */
static const unsigned batch_le[] = { 1, 2, 4, 8, 16, 32, 64 };
#define BATCH_BUCKETS (sizeof batch_le / sizeof batch_le[0])

static struct {
	int64_t start_wall;
	uint64_t accepted;
	uint64_t refused[STATS_REFUSED_N];
	uint64_t mail_nospace;
	uint64_t rcpt_ok;
	uint64_t rcpt_refused[RCPT_R_N];
	uint64_t delivered;
	uint64_t rejected[REJ_N];
	uint64_t failed[FAIL_N];
	uint64_t stored_bytes;
	uint64_t storage_errors;
	uint64_t tls[TLS_RESULT_N];
	uint64_t auth_ok, auth_failed;
	uint64_t rotated, expired;      /* mailbox limits */
	uint64_t batches;
	uint64_t batch_sum;
	uint64_t batch_bucket[BATCH_BUCKETS];  /* not cumulative */
} st;

/* see stats.h */
void stats_init(int64_t wall)
{
	st.start_wall = wall;
}

/* see stats.h */
void stats_session_start(int refused)
{
	if (refused)
		st.refused[STATS_REFUSED_ALLOW_FROM]++;
	else
		st.accepted++;
}

/* see stats.h */
void stats_connection_refused(enum stats_refusal why)
{
	if ((unsigned)why < STATS_REFUSED_N)
		st.refused[why]++;
}

/* see stats.h */
void stats_mail(int sink_result)
{
	if (sink_result == SINK_NOSPACE)
		st.mail_nospace++;
}

/* see stats.h */
void stats_rcpt(int rcpt_result)
{
	switch (rcpt_result) {
	case RCPT_OK:       st.rcpt_ok++; break;
	case RCPT_UNKNOWN:  st.rcpt_refused[RCPT_R_UNKNOWN]++; break;
	case RCPT_RELAY:    st.rcpt_refused[RCPT_R_RELAY]++; break;
	case RCPT_NOSPACE:  st.rcpt_refused[RCPT_R_NOSPACE]++; break;
	case RCPT_FULL:     st.rcpt_refused[RCPT_R_FULL]++; break;
	default:            st.rcpt_refused[RCPT_R_TEMP]++; break;
	}
}

/* see stats.h */
void stats_message(enum msg_result result, enum msg_reason reason,
                   uint64_t size)
{
	if (result == MSG_DELIVERED) {
		st.delivered++;
		st.stored_bytes += size;
		return;
	}
	if (result == MSG_REJECTED && msg_reason_is_content(reason)) {
		st.rejected[reason - MSG_REASON_CONTENT_FIRST]++;
		return;
	}
	/* failed (a rejected one that is no content refusal counts so too) */
	switch (reason) {
	case MSG_REASON_ABORTED:
		st.failed[FAIL_ABORTED]++;
		break;
	case MSG_REASON_QUOTA:
		st.failed[FAIL_QUOTA]++;
		break;
	case MSG_REASON_NO_SPACE:
		st.failed[FAIL_NOSPACE]++;
		st.storage_errors++;
		break;
	case MSG_REASON_MIN_FREE_SPACE:
		st.failed[FAIL_NOSPACE]++;
		break;
	case MSG_REASON_STORE_PERMANENT:
		st.failed[FAIL_PERM]++;
		st.storage_errors++;
		break;
	case MSG_REASON_STORE_ERROR:
		st.failed[FAIL_TEMP]++;
		st.storage_errors++;
		break;
	default:
		st.failed[FAIL_TEMP]++;
		break;
	}
}

/* see stats.h */
void stats_tls_handshake(enum tls_result r)
{
	if ((unsigned)r < TLS_RESULT_N)
		st.tls[r]++;
}

/* see stats.h */
void stats_auth(int ok)
{
	if (ok)
		st.auth_ok++;
	else
		st.auth_failed++;
}

/* see stats.h */
void stats_deleted(int expired)
{
	if (expired)
		st.expired++;
	else
		st.rotated++;
}

/* see stats.h */
void stats_commit_batch(unsigned n)
{
	unsigned i;

	st.batches++;
	st.batch_sum += n;
	for (i = 0; i < BATCH_BUCKETS; i++) {
		if (n <= batch_le[i]) {
			st.batch_bucket[i]++;
			break;
		}
	}
}

/* ---- rendering ---------------------------------------------------------- */

/* Worst case, every value 20 digits: about 5 KiB, and with CONFIG_QUOTA
 * two lines of up to 700 octets per mailbox. */
#define STATS_BUF (8192 + CFG_QUOTA * CFG_MAX_MAILBOXES * 1400)

static char out[STATS_BUF];
static size_t out_len;
static int out_full;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void put(const char *fmt, ...)
{
	va_list ap;
	int n;

	if (out_full)
		return;
	va_start(ap, fmt);
	n = fmt_vinto(out + out_len, sizeof out - out_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof out - out_len) {
		out_full = 1;
		return;
	}
	out_len += (size_t)n;
}

static void head(const char *name, const char *type, const char *help)
{
	put("# HELP mailnook_%s %s\n# TYPE mailnook_%s %s\n", name, help, name,
	    type);
}

static void value(const char *name, uint64_t v)
{
	put("mailnook_%s %llu\n", name, (unsigned long long)v);
}

static void labelled(const char *name, const char *label, const char *lv,
                     uint64_t v)
{
	put("mailnook_%s{%s=\"%s\"} %llu\n", name, label, lv,
	    (unsigned long long)v);
}

#if CFG_HOOK
static uint64_t (*hooks_of)(enum hook_result r);

void stats_hooks_source(uint64_t (*fn)(enum hook_result r))
{
	hooks_of = fn;
}
#endif

#if CFG_QUOTA
static stats_usage_fn *usage_of;

void stats_usage_source(stats_usage_fn *fn)
{
	usage_of = fn;
}

/* Mailbox limits: usage of each mailbox with a quota, and the files
 * deleted.  An address may hold '"' or '\\' (a quoted local part):
 * escaped as the text format wants. */
static void render_quota(void)
{
	char esc[2 * 320 + 1];
	static const char *const fam[2][2] = {
		{ "mailbox_bytes", "Bytes of a mailbox with a quota (its "
		  "maildirsize)." },
		{ "mailbox_messages", "Messages of a mailbox with a quota." },
	};
	const char *addr;
	uint64_t v[2];
	unsigned i, k;
	int r;

	for (k = 0; k < 2; k++) {
		head(fam[k][0], "gauge", fam[k][1]);
		for (i = 0; usage_of && (r = usage_of(i, &addr, &v[0], &v[1])) >= 0; i++)
			if (r) {
				size_t n = 0;

				for (; *addr && n + 2 < sizeof esc; addr++) {
					if (*addr == '"' || *addr == '\\')
						esc[n++] = '\\';
					esc[n++] = *addr;
				}
				esc[n] = '\0';
				labelled(fam[k][0], "mailbox", esc, v[k]);
			}
	}
	head("rotated_total", "counter", "Files deleted by rotate=.");
	value("rotated_total", st.rotated);
	head("expired_total", "counter", "Files deleted by expire=.");
	value("expired_total", st.expired);
}
#endif

static void render(unsigned active)
{
	uint64_t cum = 0;
	unsigned i;

	out_len = 0;
	out_full = 0;
	head("start_time_seconds", "gauge",
	     "UNIX time at which mailnook started.");
	put("mailnook_start_time_seconds %lld\n", (long long)st.start_wall);
	head("connections_accepted_total", "counter",
	     "Connections that started a session.");
	value("connections_accepted_total", st.accepted);
	head("connections_refused_total", "counter",
	     "Connections refused: busy (max-sessions), per_ip "
	     "(max-sessions-per-ip), allow_from.");
	for (i = 0; i < STATS_REFUSED_N; i++)
		labelled("connections_refused_total", "reason", refusal_label[i],
		         st.refused[i]);
	head("sessions_active", "gauge", "Sessions open now.");
	value("sessions_active", active);
	head("mail_refused_total", "counter",
	     "MAIL commands refused by the store (nospace: below "
	     "min-free-space).");
	labelled("mail_refused_total", "reason", "nospace", st.mail_nospace);
	head("recipients_accepted_total", "counter", "Recipients accepted.");
	value("recipients_accepted_total", st.rcpt_ok);
	head("recipients_refused_total", "counter",
	     "Recipients refused: unknown (550 5.1.1), relay (550 5.7.1), "
	     "nospace (452 4.3.1), temp (451 4.3.0), full (452 4.2.2).");
	for (i = 0; i < RCPT_R_N; i++)
		labelled("recipients_refused_total", "reason", rcpt_label[i],
		         st.rcpt_refused[i]);
	head("messages_delivered_total", "counter",
	     "Messages stored and answered 250.");
	value("messages_delivered_total", st.delivered);
	head("messages_rejected_total", "counter",
	     "Messages refused for their content: bare_lf, bare_cr, nul "
	     "(550 5.6.0), size (552 5.3.4), loop (554 5.4.6).");
	for (i = 0; i < REJ_N; i++)
		labelled("messages_rejected_total", "reason", rej_label[i],
		         st.rejected[i]);
	head("messages_failed_total", "counter",
	     "Messages not stored: temp (451 4.3.0), nospace (452 4.3.1), "
	     "perm, aborted (client gone or timed out mid-message), quota "
	     "(452 4.2.2).");
	for (i = 0; i < FAIL_N; i++)
		labelled("messages_failed_total", "reason", fail_label[i],
		         st.failed[i]);
	head("stored_bytes_total", "counter",
	     "Bytes of delivered messages, once per message.");
	value("stored_bytes_total", st.stored_bytes);
	head("storage_errors_total", "counter",
	     "Messages that failed in the file system (open, write, fsync, "
	     "link, no space).");
	value("storage_errors_total", st.storage_errors);
	head("tls_handshakes_total", "counter", "TLS handshakes by result.");
	for (i = 0; i < TLS_RESULT_N; i++)
		labelled("tls_handshakes_total", "result", tls_result_name(i),
		         st.tls[i]);
	if (CFG_AUTH) {
		head("auth_total", "counter", "AUTH exchanges by result.");
		labelled("auth_total", "result", "ok", st.auth_ok);
		labelled("auth_total", "result", "failed", st.auth_failed);
	}
#if CFG_HOOK
	/* on-delivery (hook.h) */
	{
		static const char label[HOOK_RESULT_N][8] = {
			"ok", "failed", "killed", "skipped"
		};

		head("hooks_total", "counter", "on-delivery runs by result: "
		     "ok (exit 0), failed (exit non-zero, or could not start), "
		     "killed (timeout, shutdown, signal), skipped (queue full, "
		     "shutdown).");
		for (i = 0; i < HOOK_RESULT_N; i++)
			labelled("hooks_total", "result", label[i],
			         hooks_of ? hooks_of((enum hook_result)i) : 0);
	}
#endif
#if CFG_QUOTA
	render_quota();
#endif
	head("commit_batches_total", "counter", "Group commits run.");
	value("commit_batches_total", st.batches);
	head("commit_batch_size", "histogram", "Messages per group commit.");
	for (i = 0; i < BATCH_BUCKETS; i++) {
		cum += st.batch_bucket[i];
		put("mailnook_commit_batch_size_bucket{le=\"%u\"} %llu\n",
		    batch_le[i], (unsigned long long)cum);
	}
	put("mailnook_commit_batch_size_bucket{le=\"+Inf\"} %llu\n",
	    (unsigned long long)st.batches);
	value("commit_batch_size_sum", st.batch_sum);
	value("commit_batch_size_count", st.batches);
}

/* ---- the file ----------------------------------------------------------- */

static int64_t next_ms;         /* 0: not written yet */
static int failing;

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* FILE.tmp, then rename.  FILE.tmp is made afresh (O_EXCL) after removing
 * whatever has the name: a hard link or a symbolic link planted there is
 * never written through.  0, or -1 with errno set and no FILE.tmp. */
static int write_file(const char *path)
{
	static char tmp[PATH_MAX];
	int fd, n, e;

	n = fmt_into(tmp, sizeof tmp, "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unlink(tmp) != 0 && errno != ENOENT)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW |
	          O_NOCTTY | O_NONBLOCK, 0644);
	if (fd < 0)
		return -1;
	/* readable by a collector running as another user, whatever the
	 * umask: the numbers are no secret */
	if (fchmod(fd, 0644) != 0 || write_all(fd, out, out_len) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		(void)close(fd);
	(void)unlink(tmp);
	errno = e;
	return -1;
}

/* see stats.h */
int64_t stats_wait_ms(const char *path, int64_t now_ms)
{
	if (!path || !path[0])
		return INT64_MAX;
	if (next_ms == 0 || next_ms <= now_ms)
		return 0;
	return next_ms - now_ms;
}

/* see stats.h */
void stats_tick(const char *path, int64_t now_ms, unsigned active, int force)
{
	if (!path || !path[0])
		return;
	if (!force && next_ms != 0 && now_ms < next_ms)
		return;
	next_ms = now_ms + STATS_INTERVAL_MS;
	render(active);
	if (out_full) {
		/* cannot happen with STATS_BUF sized for the worst case */
		log_err("stats-file: %d-byte buffer too small", STATS_BUF);
		return;
	}
	if (write_file(path) != 0) {
		if (!failing)
			log_warn("stats-file %s: cannot write: %s", path,
			         strerror(errno));
		failing = 1;
		return;
	}
	if (failing)
		log_info("stats-file %s: written again", path);
	failing = 0;
}

#else

/* CONFIG_STATS=n: nothing here (ISO C wants a declaration). */
typedef int stats_compiled_out;

#endif
