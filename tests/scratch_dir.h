/*
 * For the unit tests that work in a scratch directory: making it, removing
 * a tree, joining paths.
 */
#ifndef MAILNOOK_SCRATCH_DIR_H
#define MAILNOOK_SCRATCH_DIR_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"

static int scratch_rm_one(const char *p, const struct stat *st, int flag,
                          struct FTW *f)
{
	(void)st;
	(void)f;
	if (flag == FTW_DP)
		return rmdir(p);
	return unlink(p);
}

/* mkdtemp(tmpl), or the test run ends with a TAP bail-out. */
static void __attribute__((unused)) scratch_dir_make(char *tmpl)
{
	if (!mkdtemp(tmpl)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
}

/* rm -rf p, without following symbolic links. */
static void __attribute__((unused)) rm_rf(const char *p)
{
	(void)nftw(p, scratch_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* out = a/b, or "" when that does not fit in MAILDIR_PATH_MAX. */
static void __attribute__((unused)) path(char *out, const char *a, const char *b)
{
	if (snprintf(out, MAILDIR_PATH_MAX, "%s/%s", a, b) >= MAILDIR_PATH_MAX)
		out[0] = '\0';
}

#endif
