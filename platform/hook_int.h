/*
 * Private to platform/hook*.c: the queue of pending on-delivery runs
 * (hook_queue.c) as hook.c, which starts and ends the processes, sees it.
 * Entries are opaque here; a started entry's bytes stay put until every
 * entry before it has gone, so the pointers below last at least until the
 * next hq_push().
 */
#ifndef MAILNOOK_HOOK_INT_H
#define MAILNOOK_HOOK_INT_H

#include <stddef.h>

#include "hook.h"

#if CFG_HOOK

/* The variables of an entry, in this order. */
enum {
	ENV_FILE = 0, ENV_MAILDIR, ENV_MAILBOX, ENV_RECIPIENT, ENV_SENDER,
	ENV_SIZE, ENV_ID, ENV_CLIENT_IP, ENV_HELO, ENV_AUTH, ENV_N
};

/* The child's environment: PATH, the ENV_N variables, NULL. */
#define HQ_ENVP (ENV_N + 2)

struct hook_entry;

/* Makes the ring resident (first call only): a burst of deliveries does
 * not grow the RSS. */
void hq_prefault(void);

/* Copies the job's values into a new entry at the end of the queue, held
 * when job->hold is set.  0, or -1 with *why "too-long" (a path does not
 * fit) or "queue-full". */
int hq_push(const struct hook_job *job, const char **why);

/* val sanitised as in the environment, cut to max octets, into
 * dst[max + 1] ("" when it cannot be). */
void hq_clean(char *dst, const char *val, size_t max);

/* The oldest entry that may start, or NULL. */
struct hook_entry *hq_next(void);

/* Fills envp[HQ_ENVP] with the entry's environment. */
void hq_envp(const struct hook_entry *e, char *envp[HQ_ENVP]);

/* The value of one variable (ENV_*) of an entry. */
const char *hq_value(const struct hook_entry *e, unsigned which);

/* The entry's run was started (or failed to): it is used. */
void hq_done(struct hook_entry *e);

/* Drops the used entries at the head of the queue. */
void hq_trim(void);

/* Drops entries from the head up to the first one not yet used: 1 with its
 * id and file, or 0 once the queue is empty. */
int hq_drop(const char **id, const char **file);

/* Entries held by hold may start. */
void hq_release(const void *hold);

#endif

#endif
