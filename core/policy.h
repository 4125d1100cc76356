/*
 * Recipient policy: which configured Maildir(s) a RCPT address reaches.
 *
 * Order: domain not local -> RCPT_RELAY.  Then the whole address
 * (case-insensitive) as a mailbox or alias; then, when the local part holds
 * a recipient-delimiter character, the part before it (and the tag after it
 * goes along for tag-folders); then the domain's catch-all; then postmaster
 * (always accepted: the first mailbox when nothing names it).  Otherwise
 * RCPT_UNKNOWN.  A result only ever names mailbox indexes into
 * mn_config.mailbox[]: no part of an address becomes a path.
 */
#ifndef MAILNOOK_POLICY_H
#define MAILNOOK_POLICY_H

#include "addr.h"
#include "conf.h"
#include "sink.h"

struct rcpt_target {
	uint16_t mailbox;                /* index into mn_config.mailbox[] */
	char folder[CONF_TAG_MAX + 1];   /* Maildir++ folder name without the
	                                    leading dot, "" for the inbox; only
	                                    set with tag-folders, and only to a
	                                    plain name (no '/', no leading '.',
	                                    no control characters) */
};

/* Resolves a; fills up to max targets (an alias may give several; each
 * mailbox at most once; targets beyond max are dropped) and *n (0 unless
 * RCPT_OK).  The local part splits at the first character of rcpt_delim
 * that occurs in it, when something precedes it; the tag becomes the
 * folder as sent (case kept) with tag-folders when policy_folder_ok(), and
 * an exact match wins over a split.  A bare <postmaster> (is_postmaster)
 * resolves as postmaster@first_domain; postmaster and postmaster+tag fall
 * back to mailbox 0 after the catch-all.  Returns RCPT_OK, RCPT_UNKNOWN or
 * RCPT_RELAY (enum rcpt_result). */
int policy_resolve(const struct mn_config *c, const struct smtp_addr *a,
                   struct rcpt_target *out, unsigned max, unsigned *n);

/* Is name a plain folder name that may follow "MAILDIR/." ?  1 to
 * CONF_TAG_MAX printable ASCII characters, no '/' or '\\', no leading or
 * trailing '.', no "..": inner dots (Maildir++ sub-folders) are fine. */
int policy_folder_ok(const char *name);

#endif
