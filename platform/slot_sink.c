#include "slot_sink.h"

#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "bare.h"
#include "clock.h"
#include "commit_proc.h"
#include "discard.h"
#include "fmt.h"
#include "log.h"
#include "slot_hook.h"
#include "slot_io.h"
#include "slot_log.h"
#include "stats.h"
#include "text.h"
#if CFG_QUOTA
#include "quota_run.h"
#endif

static struct slot *pending[CFG_MAX_SESSIONS];
static unsigned n_pending;

/* Scratch for policy_resolve() and the commit batch: one thread, so static
 * instead of several KiB of stack. */
static struct rcpt_target targets[MAILDIR_MAX_DEST];
static struct maildir_msg *batch_msgs[CFG_MAX_SESSIONS];
static struct slot *batch_slots[CFG_MAX_SESSIONS];
static int batch_results[CFG_MAX_SESSIONS];
/* Messages are made durable beside the loop (commit_proc.c): a store
 * that writes (not the benchmark's discard store) with the commit process
 * compiled in. */
#define COMMIT_BESIDE (CFG_COMMIT_CHILD && !CFG_BENCH_DISCARD)
/* A batch this large goes to the commit process, and a message this large
 * has its data sent to the disk from there: below it the flushes cost more
 * than the data and there is little reading to overlap with them; 1 KiB
 * messages, even 32 at once, stay in the loop. */
#define COMMIT_CHILD_MIN_BYTES (64 * 1024)
/* ... and every WRITEBACK_STEP octets of a message as it arrives */
#define WRITEBACK_STEP (1024 * 1024)
#if CFG_COMMIT_CHILD
static unsigned n_flight;       /* batch_*[0..n_flight) in the commit process */
#endif

/* ---- the store: the Maildirs, or the benchmark's discard store -------- */

static int store_open(struct maildir_msg *m)
{
	return CFG_BENCH_DISCARD ? discard_open(m) : maildir_open(m);
}

static int store_write(struct maildir_msg *m, const void *p, size_t n)
{
	return CFG_BENCH_DISCARD ? discard_write(m, p, n) :
	       maildir_write(m, p, n);
}

static int store_finish(struct maildir_msg *m)
{
	return CFG_BENCH_DISCARD ? discard_finish(m) : maildir_finish(m);
}

static void store_commit(struct maildir_msg **msgs, size_t n, int *results)
{
	if (CFG_BENCH_DISCARD)
		discard_commit(msgs, n, results);
	else
		maildir_commit_batch(msgs, n, results);
}

/* ---- the sink ------------------------------------------------------------ */

static int below_min_free(const struct mn_config *c, const char *maildir)
{
	int64_t free_bytes;

	if (!c->min_free)
		return 0;
	free_bytes = maildir_free_space(maildir);
	if (free_bytes < 0)
		return 0;       /* cannot tell: let the write find out */
	return (uint64_t)free_bytes < c->min_free;
}

static int sink_mail(void *ctx, const struct smtp_addr *from, int utf8)
{
	struct slot *sl = ctx;
	const struct mn_config *c = slot_config();

	(void)utf8;
	if (c->n_mailbox && below_min_free(c, c->mailbox[0].maildir)) {
		stats_mail(SINK_NOSPACE);
		return SINK_NOSPACE;
	}
	sl->txn_cfg = c;
	sl->txn = 1;
	text_copy(sl->from, sizeof sl->from, from->is_null ? "" : from->text);
	sl->to[0] = '\0';
	sl->nrcpt = 0;
	sl->msg.n_dest = 0;
	return SINK_OK;
}

/* A +tag folder only counts when MAILDIR/.tag/ exists; otherwise the
 * message goes to the inbox, and must then be deduplicated as such. */
static int folder_exists(const char *maildir, const char *folder)
{
	char path[MAILDIR_PATH_MAX + MAILDIR_FOLDER_MAX + 4];
	struct stat st;
	int n;

	n = fmt_into(path, sizeof path, "%s/.%s", maildir, folder);
	if (n < 0 || (size_t)n >= sizeof path)
		return 0;
	return bare_fstatat(AT_FDCWD, path, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

static int rcpt_add(void *ctx, const struct smtp_addr *to)
{
	struct slot *sl = ctx;
	const struct mn_config *c = sl->txn ? sl->txn_cfg : slot_config();
	struct maildir_msg *m = &sl->msg;
	unsigned n = 0, i, j, added = 0;
	int r;

	r = policy_resolve(c, to, targets, MAILDIR_MAX_DEST, &n);
	if (r != RCPT_OK)
		return r;
	for (i = 0; i < n; i++) {
		const char *dir;
		const char *folder = targets[i].folder;

		if (targets[i].mailbox >= c->n_mailbox)
			return RCPT_TEMP;       /* cannot happen */
		dir = c->mailbox[targets[i].mailbox].maildir;
		if (below_min_free(c, dir))
			return RCPT_NOSPACE;
#if CFG_QUOTA
		/* mailbox limits: this mailbox only, so the transaction's
		 * other recipients are still accepted */
		if (qrun_full(dir, (time_t)clock_wall()))
			return RCPT_FULL;
#endif
		if (folder[0] && !folder_exists(dir, folder))
			folder = "";
		for (j = 0; j < m->n_dest + added; j++)
			if (strcmp(m->dest[j].maildir, dir) == 0 &&
			    strcmp(m->dest[j].folder, folder) == 0)
				break;
		if (j < m->n_dest + added)
			continue;               /* already a destination */
		if (m->n_dest + added >= MAILDIR_MAX_DEST)
			return RCPT_TEMP;
		m->dest[m->n_dest + added].maildir = dir;
		text_copy(m->dest[m->n_dest + added].folder,
		          sizeof m->dest[0].folder, folder);
		added++;
	}
	/* only now: a refused RCPT leaves the list as it was */
	slot_hook_rcpt(sl, m->n_dest, added,
	               to->text[0] ? to->text : "postmaster");
	m->n_dest += added;
	if (sl->nrcpt == 0)
		text_copy(sl->to, sizeof sl->to,
		          to->text[0] ? to->text : "postmaster");
	sl->nrcpt++;
	if (!sl->txn) {
		sl->txn = 1;
		sl->txn_cfg = c;
	}
	return RCPT_OK;
}

static int sink_rcpt(void *ctx, const struct smtp_addr *to)
{
	int r = rcpt_add(ctx, to);

	stats_rcpt(r);
	return r;
}

static int sink_begin(void *ctx, char id[SMTP_ID_MAX])
{
	struct slot *sl = ctx;
	int r;

	clock_make_id(id);
	text_copy(sl->id, sizeof sl->id, id);
	if (sl->msg.n_dest == 0) {
		slot_log_message(sl, 0, MSG_FAILED, MSG_REASON_NO_DESTINATION);
		return SINK_TEMP;
	}
	r = store_open(&sl->msg);
	if (r != SINK_OK) {
		slot_log_message(sl, 0, MSG_FAILED, msg_reason_of_sink(r));
		return r;
	}
	sl->msg_open = 1;
	return SINK_OK;
}

/* Every WRITEBACK_STEP octets of a message, and at its end (sink_commit),
 * its data is sent on its way to the disk beside the loop, so that the
 * commit's flush finds less to write. */
static int sink_write(void *ctx, const void *p, size_t n)
{
	struct slot *sl = ctx;
	uint64_t before = sl->msg.size;
	int r;

	if (!sl->msg_open)
		return SINK_TEMP;
	r = store_write(&sl->msg, p, n);
	if (COMMIT_BESIDE && r == SINK_OK
	    && before / WRITEBACK_STEP != sl->msg.size / WRITEBACK_STEP)
		commit_proc_writeback(sl->msg.fd);
	return r;
}

/* min-free-space once more before the commit: MAIL and RCPT saw the space
 * before the message was written (it is in tmp/ now, counted). */
static int dests_below_min_free(const struct slot *sl)
{
	const struct mn_config *c = sl->txn_cfg ? sl->txn_cfg : slot_config();
	unsigned i;

	for (i = 0; i < sl->msg.n_dest; i++)
		if (below_min_free(c, sl->msg.dest[i].maildir))
			return 1;
	return 0;
}

static int sink_commit(void *ctx)
{
	struct slot *sl = ctx;
	int r;

	if (!sl->msg_open)
		return SINK_TEMP;
	r = store_finish(&sl->msg);
	if (r == SINK_OK && dests_below_min_free(sl))
		r = SINK_NOSPACE;       /* the message itself took the space */
#if CFG_QUOTA
	/* mailbox limits, last: a message held here is committed or
	 * released by slot_commit_run() */
	if (r == SINK_OK && !CFG_BENCH_DISCARD)
		r = qrun_reserve(&sl->msg);
#endif
	if (r != SINK_OK) {
		maildir_abort(&sl->msg);
		sl->msg_open = 0;
		sl->txn = 0;
		slot_log_message(sl, sl->msg.size, MSG_FAILED,
		                 sl->msg.error || r == SINK_FULL ?
		                 msg_reason_of_sink(r) :
		                 MSG_REASON_MIN_FREE_SPACE);
		return r;
	}
	/* only for a message that is kept: the child holds the file open
	 * for a moment, and a dropped one's space should come back at once */
	if (COMMIT_BESIDE && sl->msg.size >= COMMIT_CHILD_MIN_BYTES)
		commit_proc_writeback(sl->msg.fd);
	sl->pending = 1;
	pending[n_pending++] = sl;
	return SINK_PENDING;
}

static void sink_abort(void *ctx, enum smtp_reject reason, uint64_t size)
{
	struct slot *sl = ctx;
	enum msg_reason why;

	if (sl->pending)
		return;         /* the engine promised not to; be safe anyway */
	if (sl->msg_open) {
		maildir_abort(&sl->msg);
		sl->msg_open = 0;
	}
	sl->txn = 0;
	/* a failed write: ENOSPC says no-space, as the 452 the client got */
	why = reason == REJECT_STORE && sl->msg.error ?
	      msg_reason_of_sink(sl->msg.error) : msg_reason_of_reject(reason);
	slot_log_message(sl, size, msg_reason_is_content(why) ? MSG_REJECTED :
	                 MSG_FAILED, why);
}

/* Also the end of the session (slot_sink_end): an open message is dropped
 * and logged "aborted" (the engine should have aborted it already). */
static void sink_reset(void *ctx)
{
	struct slot *sl = ctx;

	if (sl->pending)
		return;
	if (sl->msg_open) {
		maildir_abort(&sl->msg);
		sl->msg_open = 0;
		slot_log_message(sl, sl->msg.size, MSG_FAILED, MSG_REASON_ABORTED);
	}
	sl->from[0] = '\0';
	sl->to[0] = '\0';
	sl->nrcpt = 0;
	sl->msg.n_dest = 0;
	sl->txn = 0;
	sl->txn_cfg = NULL;
	sl->id[0] = '\0';
}

#if CFG_AUTH
/* Whether the credentials are right.  Without auth-users there is nothing
 * to check them against: any credentials go through, granting nothing. */
static int sink_auth(void *ctx, const char *user, const char *pass)
{
	struct slot *sl = ctx;
	const struct mn_config *c = slot_config();
	int r = AUTH_ANY;

	if (c->auth_users)
		r = auth_verify(c, user, pass) ? AUTH_CHECKED : AUTH_FAIL;
	stats_auth(r != AUTH_FAIL);
	if (r == AUTH_FAIL) {
		char name[LOG_FIELD_MAX];

		log_clean(name, sizeof name, user);
		log_info("auth=failed user=%s ip=%s", name, sl->s.client_ip);
	}
	return r;
}
#endif

/* see slot_sink.h */
const struct smtp_sink slot_sink = {
	.mail = sink_mail,
	.rcpt = sink_rcpt,
	.begin = sink_begin,
	.write = sink_write,
	.commit = sink_commit,
	.abort = sink_abort,
	.reset = sink_reset,
#if CFG_AUTH
	.auth = sink_auth,
#endif
};

/* see slot_sink.h */
void slot_sink_end(struct slot *sl)
{
	sink_reset(sl);
	/* its files are stored: their runs go ahead without the 250 */
	slot_hook_sent(sl, 1, clock_mono_ms());
}

/* ---- the group commit ------------------------------------------------- */

/* see slot_sink.h */
unsigned slot_commit_pending(void)
{
	return n_pending;
}

/* The batch's results are known: the quota lines, the log lines, the
 * replies. */
static void commit_answer(unsigned n, int64_t now_ms)
{
	unsigned i;

#if CFG_QUOTA
	/* the usage lines, durable before any 250 below */
	if (!CFG_BENCH_DISCARD)
		qrun_committed(batch_msgs, n, batch_results);
#endif
	stats_commit_batch(n);
	for (i = 0; i < n; i++) {
		struct slot *sl = batch_slots[i];
		int r = batch_results[i];

		sl->pending = 0;
		sl->msg_open = 0;
		sl->txn = 0;
		if (r == SINK_OK) {
			sl->delivered++;
			/* before the log line, which forgets the id, and
			 * before smtp_commit_done(): the commands pipelined
			 * after the message may start the next one */
			slot_hook_stored(sl, now_ms);
			slot_log_message(sl, sl->msg.size, MSG_DELIVERED,
			                 MSG_REASON_NONE);
		} else {
			slot_log_message(sl, sl->msg.size, MSG_FAILED,
			                 msg_reason_of_sink(r));
		}
		smtp_commit_done(&sl->s, r);
		if (sl->end_after_commit) {     /* the peer is gone already */
			sl->end_after_commit = 0;
			slot_close(sl, sl->result ? sl->result : SESSION_CLOSED);
			continue;
		}
		if (slot_flush(sl) != 0) {
			slot_close(sl, SESSION_ERROR);
		} else {
			slot_hook_sent(sl, 0, now_ms);  /* the 250 is out */
			slot_check(sl, now_ms);
		}
	}
}

#if CFG_COMMIT_CHILD
/* Found gone between commits (at a send, or its socket's end): said once,
 * since it is not started again. */
static void log_commit_gone(void)
{
	log_err("commit: the commit process has ended; commits go on in the "
	        "loop");
}

/* see slot_sink.h */
int slot_commit_large(void)
{
	uint64_t bytes = 0;
	unsigned i;

	if (!COMMIT_BESIDE || !commit_proc_running())
		return 0;       /* the loop commits: it gathers, as for small */
	for (i = 0; i < n_pending; i++)
		bytes += pending[i]->msg.size;
	return bytes >= COMMIT_CHILD_MIN_BYTES;
}

/* see slot_sink.h */
int slot_commit_busy(void)
{
	return n_flight != 0;
}

/* see slot_sink.h */
int slot_commit_fd(void)
{
	return commit_proc_fd();
}

/* see slot_sink.h */
void slot_commit_collect(int64_t now_ms, int wait)
{
	unsigned i, n = n_flight;
	int r;

	if (!n) {
		/* readable with nothing out: it has ended (killed, say),
		 * reaped now rather than at the next large commit */
		if (commit_proc_gone())
			log_commit_gone();
		return;
	}
	r = commit_proc_collect(batch_results, n, wait);
	if (r == 0)
		return;
	if (r > 0) {
		maildir_commit_adopt(batch_msgs, n, batch_results);
	} else {
		log_err("commit: the commit process ended without its "
		        "results; %u messages failed, commits go on in the "
		        "loop", n);
		maildir_commit_undo(batch_msgs, n);
		for (i = 0; i < n; i++)
			batch_results[i] = SINK_TEMP;
	}
	n_flight = 0;
	commit_answer(n, now_ms);
}
#endif

/* see slot_sink.h */
void slot_commit_run(int64_t now_ms)
{
	unsigned i, n;
#if CFG_COMMIT_CHILD
	int large;
#endif

	n = n_pending;
	if (n == 0 || slot_commit_busy())
		return;
#if CFG_COMMIT_CHILD
	large = slot_commit_large();
#endif
	for (i = 0; i < n; i++) {
		batch_slots[i] = pending[i];
		batch_msgs[i] = &pending[i]->msg;
	}
	n_pending = 0;          /* commit_answer may queue new ones */
#if CFG_COMMIT_CHILD
	if (large) {
		if (commit_proc_send(batch_msgs, n) == 0) {
			n_flight = n;
			return;
		}
		if (!commit_proc_running())
			log_commit_gone();
	}
#endif
	store_commit(batch_msgs, n, batch_results);
	commit_answer(n, now_ms);
}
