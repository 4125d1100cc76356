/*
 * platform/account.c: user= looked up in a passwd file, its groups in a
 * group file, both written here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "scratch_dir.h"
#include "tap.h"

static char dir[64], pw[128], gr[128];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		printf("Bail out! %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static int has_group(const struct account *a, gid_t g)
{
	unsigned i;

	for (i = 0; i < a->ngroups; i++)
		if (a->groups[i] == g)
			return 1;
	return 0;
}

int main(void)
{
	char tmpl[] = "/tmp/t_account.XXXXXX", longline[3000];
	struct account a;
	int r;

	scratch_dir_make(tmpl);
	snprintf(dir, sizeof dir, "%s", tmpl);
	snprintf(pw, sizeof pw, "%s/passwd", dir);
	snprintf(gr, sizeof gr, "%s/group", dir);
	memset(longline, 'x', sizeof longline - 1);
	longline[sizeof longline - 1] = '\0';

	write_file(pw, "root:x:0:0:root:/root:/bin/sh\n"
	               "+mail::::::\n"
	               "mailnookx:x:7:7::/:/bin/false\n"
	               "bad:x:12a:5::/:/bin/false\n"
	               "big:x:4294967296:5::/:/bin/false\n"
	               "short:x:9\n"
	               "mailnook:x:1001:1002:mail daemon:/var/empty:/sbin/nologin\n"
	               "last:x:3000:3001::/:/bin/false");   /* no final LF */
	write_file(gr, "root:x:0:\n"
	               "mail:x:8:mailnookx,mailnook\n"
	               "mailnook:x:1002:\n"
	               "staff:x:50:alice,mailnook,bob\n"
	               "dup:x:50:mailnook\n"
	               "prefix:x:60:mailnookx\n"
	               "+:::\n");

	r = account_lookup(pw, gr, "mailnook", &a);
	is_int(r, 0, "mailnook: found");
	ok(a.uid == 1001 && a.gid == 1002, "mailnook: uid 1001 gid 1002 (%u %u)",
	   (unsigned)a.uid, (unsigned)a.gid);
	ok(a.ngroups == 3 && a.groups[0] == 1002 && has_group(&a, 8) && has_group(&a, 50),
	   "mailnook: groups 1002 (primary, first), 8, 50 once (%u)", a.ngroups);
	ok(!has_group(&a, 60), "mailnook: not a member through a longer name");

	r = account_lookup(pw, gr, "mailnookx", &a);
	ok(r == 0 && a.uid == 7 && a.ngroups == 3 && has_group(&a, 60),
	   "mailnookx: a different account, groups 7, 8, 60");
	r = account_lookup(pw, gr, "last", &a);
	ok(r == 0 && a.uid == 3000 && a.gid == 3001 && a.ngroups == 1,
	   "last line without LF; primary group only");
	is_int(account_lookup(pw, gr, "mailnoo", &a), 1, "a prefix of a name: no such account");
	is_int(account_lookup(pw, gr, "nobody", &a), 1, "absent: no such account");
	is_int(account_lookup(pw, gr, "bad", &a), 1, "uid not a number: not an account");
	is_int(account_lookup(pw, gr, "big", &a), 1, "uid past 32 bits: not an account");
	is_int(account_lookup(pw, gr, "short", &a), 1, "too few fields: not an account");
	is_int(account_lookup(pw, gr, "+mail", &a), 1, "NIS compat lines are ignored");

	/* a line longer than the buffer is skipped whole, the next one read */
	{
		static char text[4000];

		snprintf(text, sizeof text, "%s:x:1:1::/:/bin/sh\nafter:x:5:6::/:/bin/sh\n",
		         longline);
		write_file(pw, text);
		r = account_lookup(pw, gr, "after", &a);
		ok(r == 0 && a.uid == 5, "after a 3000-octet line: found");
	}

	unlink(gr);
	r = account_lookup(pw, gr, "after", &a);
	ok(r == 0 && a.ngroups == 1 && a.groups[0] == 6, "no group file: the primary group only");
	unlink(pw);
	errno = 0;
	r = account_lookup(pw, gr, "after", &a);
	ok(r == -1 && errno == ENOENT, "no passwd file: -1, ENOENT");

	rmdir(dir);
	return tap_done();
}
