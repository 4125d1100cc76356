/*
 * Checking AUTH credentials against auth-users (CONFIG_AUTH), with the C
 * library's crypt(3): crypt_r() into one static struct crypt_data, so no
 * allocation after start-up, and the scratch that saw the password is
 * wiped after each check.  A check costs the hash's rounds of CPU time and
 * blocks the loop that long (README: rounds for a slow router).
 */
#ifndef MAILNOOK_AUTH_H
#define MAILNOOK_AUTH_H

#include "conf.h"

/* 0 when the C library has no crypt(3) (Debian's musl): auth-users
 * cannot be used. */
int auth_can_check(void);

/* 1 when crypt(3) can check hash (it computes a string of its shape). */
int auth_hash_usable(const char *hash);

/* 1 when user is in c's auth-users and pass is its password.  An unknown
 * user costs a hash too, so timing does not tell names apart. */
int auth_verify(const struct mn_config *c, const char *user, const char *pass);

#endif
