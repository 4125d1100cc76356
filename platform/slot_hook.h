/*
 * The delivery hook (hook.h) wired to the sessions: what a stored file's
 * run gets (MAILNOOK_* from the slot, the message and the configuration),
 * and the rule that it starts only once the file is durable and its 250 is
 * written to the client's socket.
 *
 * The group commit (slot_sink.c) calls slot_hook_stored() for a message it
 * answered 250, before the engine runs any command the client pipelined
 * after it (those may start the next transaction and reuse the slot's
 * message): each file is queued then, held.  slot_hook_sent() releases
 * them once the engine and the TLS layer have nothing left to write, and
 * slot_sink_end() when the session ends first (the file is stored; its run
 * is not lost for a client that went away).
 *
 * With CONFIG_HOOK=n every call is an empty inline function.
 */
#ifndef MAILNOOK_SLOT_HOOK_H
#define MAILNOOK_SLOT_HOOK_H

#include <stdint.h>

#include "conf.h"
#include "slot.h"

#if CFG_HOOK

/* At start-up (after hook_init) and after a reload: on-delivery and its
 * limits.  0, or -1 (logged). */
int slot_hook_configure(const struct mn_config *c);

/* -t: PROGRAM is a regular file this user may execute; else
 * "FILE:LINE: on-delivery: PROGRAM: reason" and 1. */
unsigned slot_hook_check(const struct mn_config *c);

/* RCPT to addr (as the client gave it) added the destinations
 * [first, first + n) of the slot's message. */
void slot_hook_rcpt(struct slot *sl, unsigned first, unsigned n,
                    const char *addr);

/* The slot's message is durable in every destination and answered 250
 * (not written yet): one held run per file. */
void slot_hook_stored(struct slot *sl, int64_t now_ms);

/* Releases the slot's held runs when its replies are all written (force:
 * the session is over). */
void slot_hook_sent(struct slot *sl, int force, int64_t now_ms);

#else

static inline int slot_hook_configure(const struct mn_config *c)
{
	(void)c;
	return 0;
}
static inline unsigned slot_hook_check(const struct mn_config *c)
{
	(void)c;
	return 0;
}
static inline void slot_hook_rcpt(struct slot *sl, unsigned first,
                                  unsigned n, const char *addr)
{
	(void)sl;
	(void)first;
	(void)n;
	(void)addr;
}
static inline void slot_hook_stored(struct slot *sl, int64_t now_ms)
{
	(void)sl;
	(void)now_ms;
}
static inline void slot_hook_sent(struct slot *sl, int force, int64_t now_ms)
{
	(void)sl;
	(void)force;
	(void)now_ms;
}

#endif

#endif
