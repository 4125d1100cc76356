/*
 * mailnook's maildirsize and Dovecot's quota plugin ("maildir" backend)
 * agree on a mailbox's usage: mailnook's store delivers (inbox and a
 * Maildir++ folder) and recalculates, Dovecot reports the same usage over
 * IMAP (GETQUOTAROOT), deletes a message (its "-BYTES -1" line goes into
 * the same file), mailnook reads the file and agrees with a fresh scan,
 * delivers again and appends its line, and Dovecot agrees once more.
 *
 * Dovecot's own imap binary is run preauthenticated over pipes with a
 * private configuration, as tests/integration/t32-dovecot.t does (as
 * nobody when we are root).  Skipped when Dovecot is not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "scratch_dir.h"
#include "tap.h"

#define IMAP "/usr/lib/dovecot/imap"

#if CFG_QUOTA
#include "maildir.h"
#include "maildirsize.h"

static char base[64], md[160], conf[160];
static uid_t run_uid;
static gid_t run_gid;
static const char *run_user;
static struct maildir_msg msg;

/* Delivers text through mailnook's store to folder ("" the inbox); the
 * size of the file (the S= of its name). */
static uint64_t deliver(const char *folder, size_t len, char fill)
{
	static char text[20000];
	struct maildir_msg *one[1] = { &msg };
	int res = -1;

	memset(text, fill, len);
	memcpy(text, "Subject: x\n\n", 12);
	text[len - 1] = '\n';
	memset(&msg, 0, sizeof msg);
	msg.dest[0].maildir = md;
	snprintf(msg.dest[0].folder, sizeof msg.dest[0].folder, "%s", folder);
	msg.n_dest = 1;
	if (maildir_open(&msg) != SINK_OK || maildir_write(&msg, text, len) != SINK_OK
	    || maildir_finish(&msg) != SINK_OK)
		return 0;
	maildir_commit_batch(one, 1, &res);
	return res == SINK_OK ? msg.size : 0;
}

static int chown_one(const char *p, const struct stat *st, int flag,
                     struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return lchown(p, run_uid, run_gid);
}

/* Runs Dovecot's imap over pipes, each command sent once the previous
 * one's tagged reply is in; its output into out. */
static size_t imap(const char *const *cmds, char *out, size_t cap)
{
	int in[2], from[2];
	size_t len = 0;
	pid_t pid;
	int i, status;

	if (pipe(in) != 0 || pipe(from) != 0)
		return 0;
	pid = fork();
	if (pid == 0) {
		char home[200], user[80];
		char *const argv[] = { (char *)IMAP, (char *)"-c", conf, NULL };
		char *env[] = { home, user, (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		                NULL };

		snprintf(home, sizeof home, "HOME=%s", base);
		snprintf(user, sizeof user, "USER=%s", run_user);
		dup2(in[0], 0);
		dup2(from[1], 1);
		close(in[1]);
		close(from[0]);
		if (getuid() == 0 && (setgroups(0, NULL) != 0 || setgid(run_gid) != 0
		                      || setuid(run_uid) != 0))
			_exit(126);
		execve(IMAP, argv, env);
		_exit(127);
	}
	close(in[0]);
	close(from[1]);
	for (i = 0; cmds[i] && pid > 0; i++) {
		char line[256], tag[8];
		time_t until = time(NULL) + 30;

		snprintf(tag, sizeof tag, "\n%c ", 'a' + i);
		snprintf(line, sizeof line, "%c %s\r\n", 'a' + i, cmds[i]);
		if (write(in[1], line, strlen(line)) != (ssize_t)strlen(line))
			break;
		while (time(NULL) < until) {
			struct pollfd p = { from[0], POLLIN, 0 };
			ssize_t n;

			out[len] = '\0';
			if (strstr(out, tag))
				break;
			if (poll(&p, 1, 1000) <= 0)
				continue;
			n = read(from[0], out + len, cap - 1 - len);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
	}
	close(in[1]);
	for (;;) {
		ssize_t n = read(from[0], out + len, cap - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(from[0]);
	if (pid > 0 && waitpid(pid, &status, 0) != pid)
		kill(pid, SIGKILL);
	out[len] = '\0';
	return len;
}

/* Dovecot's usage from "* QUOTA "User quota" (STORAGE used limit MESSAGE
 * used limit)": kilobytes (rounded up, as Dovecot reports them) and
 * messages; 0 when missing. */
static int quota_reply(const char *out, long *kb, long *msgs)
{
	const char *p = strstr(out, "(STORAGE ");

	if (!p || sscanf(p, "(STORAGE %ld %*d MESSAGE %ld", kb, msgs) != 2)
		return 0;
	return 1;
}

static void agree(const char *label, const char *out)
{
	struct maildirsize_limits lim = { 100000, 100 };
	static struct maildirsize_scan s;
	struct maildirsize_info in;
	long kb = -1, n = -1;
	int r, tries;

	r = maildirsize_read(md, &lim, time(NULL), &in);
	is_int(r, MAILDIRSIZE_OK, "%s: mailnook trusts maildirsize", label);
	/* A change within the scan's first clock tick (Dovecot's expunge just
	 * before it) is reported as a change: scan again, as the server does. */
	for (tries = 0; tries < 5; tries++) {
		if ((r = maildirsize_scan_start(&s, md)) != 0)
			break;
		while ((r = maildirsize_scan_step(&s, 100)) == MAILDIRSIZE_SCAN_MORE)
			;
		if (r != MAILDIRSIZE_SCAN_CHANGED)
			break;
		usleep(20000);
	}
	is_int(r == -1 ? -1 : 0, 0, "%s: scan", label);
	is_int(r, MAILDIRSIZE_SCAN_DONE, "%s: scan done", label);
	ok(s.bytes == (uint64_t)in.bytes && s.count == (uint64_t)in.count,
	   "%s: maildirsize (%lld bytes, %lld messages) is what is there "
	   "(%llu, %llu)", label, (long long)in.bytes, (long long)in.count,
	   (unsigned long long)s.bytes, (unsigned long long)s.count);
	ok(quota_reply(out, &kb, &n), "%s: Dovecot reports its quota", label);
	ok(kb == (long)((in.bytes + 1023) / 1024) && n == in.count,
	   "%s: Dovecot agrees (%ld KiB, %ld messages)", label, kb, n);
}

static void run(void)
{
	static char out[65536];
	struct maildirsize_limits lim = { 100000, 100 };
	static struct maildirsize_scan s;
	char p[MAILDIR_PATH_MAX], text[512];
	uint64_t first, size;
	FILE *f;
	const char *quota_cmds[] = { "GETQUOTAROOT INBOX", "LOGOUT", NULL };
	const char *del_cmds[] = { "SELECT INBOX", "STORE 1 +FLAGS (\\Deleted)",
	                           "EXPUNGE", "GETQUOTAROOT INBOX", "LOGOUT",
	                           NULL };
	int fd, i;

	maildir_set_host("dovecot.test");
	first = deliver("", 3000, 'a');
	is_int(first, 3000, "delivered (S= is the file's size)");
	for (i = 0; i < 2; i++)
		(void)deliver("", 4000 + 1000 * (size_t)i, 'b');
	path(p, md, ".Cameras");
	ok(maildir_prepare(p) == 0, "a Maildir++ folder");
	ok(deliver("Cameras", 7000, 'c') > 0, "delivered into the folder");
	is_int(maildirsize_recalculate(md, &lim, &s), MAILDIRSIZE_SCAN_DONE,
	       "recalculated");
	is_int(s.count, 4, "four messages");

	f = fopen(conf, "w");
	fprintf(f, "base_dir = %s/run\nlog_path = %s/dovecot.log\n"
	        "mail_location = maildir:%s\nprotocols = imap\nssl = no\n"
	        "first_valid_uid = 1\nmail_plugins = quota\n"
	        "protocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}\n"
	        "plugin {\n  quota = maildir:User quota\n"
	        "  quota_rule = *:storage=100000B:messages=100\n}\n",
	        base, base, md);
	fclose(f);
	path(p, base, "run");
	mkdir(p, 0700);
	if (getuid() == 0)
		(void)nftw(base, chown_one, 16, FTW_PHYS);

	imap(quota_cmds, out, sizeof out);
	agree("after mailnook's deliveries", out);

	imap(del_cmds, out, sizeof out);
	ok(strstr(out, "* 1 EXPUNGE") != NULL, "Dovecot expunged one message");
	path(p, md, "maildirsize");
	fd = open(p, O_RDONLY);
	text[0] = '\0';
	if (fd >= 0) {
		ssize_t n = read(fd, text, sizeof text - 1);

		text[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	{
		char want[64];

		snprintf(want, sizeof want, "\n-%llu -1\n", (unsigned long long)first);
		ok(strncmp(text, "100000S,100C\n", 13) == 0 && strstr(text, want),
		   "Dovecot appended its deletion to mailnook's file");
		if (!strstr(text, want))
			printf("# maildirsize:\n# %s\n", text);
	}
	agree("after Dovecot's deletion", out);

	size = deliver("", 9000, 'd');
	ok(size > 0, "delivered again");
	is_int(maildirsize_append(md, (int64_t)size, 1, NULL), 0,
	       "mailnook appends its delivery");
	if (getuid() == 0)
		(void)nftw(md, chown_one, 16, FTW_PHYS);
	imap(quota_cmds, out, sizeof out);
	agree("after mailnook's next delivery", out);
	path(p, md, "maildirsize");
	fd = open(p, O_RDONLY);
	text[0] = '\0';
	if (fd >= 0) {
		ssize_t n = read(fd, text, sizeof text - 1);

		text[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	ok(strstr(text, "\n9000 1\n") && strncmp(text, "100000S,100C\n", 13) == 0,
	   "Dovecot took mailnook's line as it is (no rebuild)");
}

int main(void)
{
	char tmpl[] = "/tmp/t_quota_dovecot.XXXXXX";

	if (access(IMAP, X_OK) != 0) {
		tap_skip("Dovecot's imap is not installed");
		return tap_done();
	}
	if (getuid() == 0) {
		struct passwd *pw = getpwnam("nobody");

		if (!pw) {
			tap_skip("no user nobody to run Dovecot as");
			return tap_done();
		}
		run_uid = pw->pw_uid;
		run_gid = pw->pw_gid;
		run_user = "nobody";
	} else {
		struct passwd *pw = getpwuid(getuid());

		run_uid = getuid();
		run_gid = getgid();
		run_user = pw ? pw->pw_name : "user";
	}
	scratch_dir_make(tmpl);
	chmod(tmpl, 0711);
	snprintf(base, sizeof base, "%s", tmpl);
	snprintf(md, sizeof md, "%s/Maildir", base);
	snprintf(conf, sizeof conf, "%s/dovecot.conf", base);
	if (maildir_prepare(md) != 0) {
		printf("Bail out! maildir_prepare: %s\n", strerror(errno));
		return 1;
	}
	run();
	rm_rf(base);
	return tap_done();
}
#else
int main(void)
{
	tap_skip("CONFIG_QUOTA is off");
	return tap_done();
}
#endif
