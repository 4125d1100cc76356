/* see slot_hook.h */
#include "slot_hook.h"

#if CFG_HOOK

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bare.h"
#include "conf_load.h"
#include "fmt.h"
#include "hook.h"
#include "log.h"
#include "maildir.h"
#include "slot_io.h"

_Static_assert(CONF_HOOK_ARGS_MAX == HOOK_ARGS_MAX &&
               CONF_HOOK_ARGV_BYTES == HOOK_ARGV_BYTES,
               "the configuration takes what hook_configure() takes");

static void log_hook(const char *line)
{
	log_info("%s", line);
}

/* see slot_hook.h */
int slot_hook_configure(const struct mn_config *c)
{
	struct hook_params p;

	memset(&p, 0, sizeof p);
	p.argv = c->on_delivery;
	/* 0: the default 2 was above a CONFIG_HOOK_MAX of 1 */
	p.max = c->on_delivery_max ? c->on_delivery_max : 1;
	p.timeout_s = c->on_delivery_timeout;
	p.log = log_hook;
	if (hook_configure(&p) != 0) {
		log_err("on-delivery: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* see slot_hook.h */
unsigned slot_hook_check(const struct mn_config *c)
{
	char msg[CONF_HOOK_ARGV_BYTES + 64];
	const char *prog, *why;
	struct stat st;

	if (!c->on_delivery)
		return 0;
	prog = c->on_delivery[0];
	if (bare_fstatat(AT_FDCWD, prog, &st, 0) != 0 || access(prog, X_OK) != 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else
		return 0;
	fmt_into(msg, sizeof msg, "on-delivery: %s: %s", prog, why);
	conf_report(c, &c->on_delivery_at, msg);
	return 1;
}

/* see slot_hook.h */
void slot_hook_rcpt(struct slot *sl, unsigned first, unsigned n,
                    const char *addr)
{
	size_t len = strlen(addr) + 1;
	unsigned at = 0xffff, i;

	if (first == 0)
		sl->hook_rcpt_len = 0;  /* a new transaction */
	if (n && len <= sizeof sl->hook_rcpt - sl->hook_rcpt_len) {
		at = sl->hook_rcpt_len;
		memcpy(sl->hook_rcpt + at, addr, len);
		sl->hook_rcpt_len += (uint16_t)len;
	}
	for (i = first; i < first + n && i < MAILDIR_MAX_DEST; i++)
		sl->hook_rcpt_at[i] = (uint16_t)at;
}

/* see slot_hook.h */
void slot_hook_stored(struct slot *sl, int64_t now_ms)
{
	const struct mn_config *c = sl->txn_cfg ? sl->txn_cfg : slot_config();
	/* room for any path the store makes; hook_queue() skips one longer
	 * than the environment takes (logged too-long) */
	char file[MAILDIR_PATH_MAX + MAILDIR_FOLDER_MAX + MAILDIR_NAME_MAX + 64];
	struct hook_job j;
	unsigned i, k;

	memset(&j, 0, sizeof j);
	j.sender = sl->from;
	j.size = sl->msg.size;
	j.id = sl->id;
	j.client_ip = sl->s.client_ip;
	j.helo = sl->s.helo;
	j.auth = CFG_AUTH && sl->s.auth == AUTH_CHECKED ? sl->s.auth_name : "";
	j.hold = sl;
	j.file = file;
	for (i = 0; i < sl->msg.n_dest; i++) {
		const struct maildir_dest *d = &sl->msg.dest[i];

		j.maildir = d->maildir;
		j.mailbox = "";
		for (k = 0; k < c->n_mailbox; k++)
			if (c->mailbox[k].maildir == d->maildir) {
				j.mailbox = c->mailbox[k].address;
				break;
			}
		j.recipient = sl->hook_rcpt_at[i] < sl->hook_rcpt_len ?
		              sl->hook_rcpt + sl->hook_rcpt_at[i] : j.mailbox;
		if (maildir_msg_path(&sl->msg, i, file, sizeof file) == 0)
			(void)hook_queue(&j, now_ms);
	}
	sl->hook_held = 1;
}

/* see slot_hook.h */
void slot_hook_sent(struct slot *sl, int force, int64_t now_ms)
{
	if (!sl->hook_held)
		return;
	if (!force && ((smtp_state(&sl->s) & SMTP_WANT_SEND) ||
	               (slot_events(sl) & POLLOUT)))
		return;
	sl->hook_held = 0;
	hook_release(sl, now_ms);
}

#endif
