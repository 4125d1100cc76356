#include "auth.h"

#if CFG_AUTH

#include <string.h>

#include "text.h"

/* Debian's musl has no crypt(3): scripts/static.sh links a libxcrypt built
 * for it (scripts/xcrypt.sh), and when there is none, nothing can be
 * checked and auth-users is a configuration error (auth_can_check)
 * instead of a build failure. */
#if defined(__has_include)
#if __has_include(<crypt.h>)
#define AUTH_CRYPT 1
#endif
#endif

#if defined(AUTH_CRYPT)
#include <crypt.h>

/* libxcrypt's is 32 KiB: static, and touched only by a check */
static struct crypt_data cd;

static const char *hash_of(const char *pass, const char *hash)
{
	cd.initialized = 0;
	return crypt_r(pass, hash, &cd);
}

/* see auth.h */
int auth_can_check(void)
{
	return 1;
}

/* see auth.h */
int auth_hash_usable(const char *hash)
{
	const char *r = hash_of("", hash);
	int ok = r && r[0] == '$' && strlen(r) == strlen(hash);

	text_wipe(&cd, sizeof cd);
	return ok;
}

/* see auth.h */
int auth_verify(const struct mn_config *c, const char *user, const char *pass)
{
	const char *hash, *r;
	unsigned i, diff = 1;
	size_t n;

	if (!c->n_auth_user)
		return 0;
	hash = NULL;
	for (i = 0; i < c->n_auth_user; i++)
		if (strcmp(c->auth_user[i].name, user) == 0)
			hash = c->auth_user[i].hash;
	r = hash_of(pass, hash ? hash : c->auth_user[0].hash);
	if (hash && r && strlen(r) == (n = strlen(hash))) {
		/* every octet compared, whatever the first difference */
		diff = 0;
		for (i = 0; i < n; i++)
			diff |= (unsigned char)(r[i] ^ hash[i]);
	}
	text_wipe(&cd, sizeof cd);
	return diff == 0;
}

#else /* no crypt(3) */

int auth_can_check(void)
{
	return 0;
}

int auth_hash_usable(const char *hash)
{
	(void)hash;
	return 0;
}

int auth_verify(const struct mn_config *c, const char *user, const char *pass)
{
	(void)c;
	(void)user;
	(void)pass;
	return 0;
}

#endif
#endif
