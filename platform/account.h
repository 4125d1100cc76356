/*
 * user=: the account and its groups, read from /etc/passwd and /etc/group.
 */
#ifndef MAILNOOK_ACCOUNT_H
#define MAILNOOK_ACCOUNT_H

#include <sys/types.h>

#define ACCOUNT_GROUPS_MAX 64   /* the primary group and supplementary ones */

struct account {
	uid_t uid;
	gid_t gid;
	unsigned ngroups;       /* groups[0] is gid */
	gid_t groups[ACCOUNT_GROUPS_MAX];
};

/*
 * Looks name up in the passwd file, then collects the groups that list it
 * as a member in the group file (a missing group file: the primary group
 * only).  0: found; 1: no such account; -1: a file could not be read
 * (errno set).
 */
int account_lookup(const char *passwd_file, const char *group_file,
                   const char *name, struct account *a);

#endif
