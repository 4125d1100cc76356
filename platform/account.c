/*
 * user=: see account.h.
 *
 * Not getpwnam(3) and initgroups(3): in a static musl binary they bring the
 * name-service client and malloc along, 16 KiB of a 190 KiB daemon, for
 * what is on an appliance two small local files.  The price: an account
 * known only through NSS (LDAP, systemd's dynamic users) is not found, so
 * the user= account must be in /etc/passwd, as a daemon's account is.
 * Lines are read through a fixed buffer; lines longer than LINE_MAX_ are
 * skipped; "+" and "-" (NIS compat) lines are ignored.
 */
#include "account.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define LINE_MAX_ 1024
#define FIELDS_MAX 7

struct reader {
	int fd;
	int eof;
	size_t start, end;
	char buf[4096];
};

/* The next line of r into line, NUL-terminated, without its LF.  1: a
 * line; 2: a line too long for cap (skip it); 0: the end; -1: error. */
static int read_line(struct reader *r, char *line, size_t cap)
{
	size_t n = 0;
	int any = 0, too_long = 0;

	for (;;) {
		char c;

		if (r->start == r->end) {
			ssize_t k;

			if (r->eof)
				break;
			do
				k = read(r->fd, r->buf, sizeof r->buf);
			while (k < 0 && errno == EINTR);
			if (k < 0)
				return -1;
			if (k == 0) {
				r->eof = 1;
				break;
			}
			r->start = 0;
			r->end = (size_t)k;
		}
		c = r->buf[r->start++];
		any = 1;
		if (c == '\n')
			break;
		if (n + 1 < cap)
			line[n++] = c;
		else
			too_long = 1;
	}
	line[n] = '\0';
	if (!any)
		return 0;
	return too_long ? 2 : 1;
}

/* Splits line at ':' into at most FIELDS_MAX fields; the count. */
static unsigned split(char *line, char *field[FIELDS_MAX])
{
	unsigned n = 0;

	field[n++] = line;
	for (; *line; line++)
		if (*line == ':' && n < FIELDS_MAX) {
			*line = '\0';
			field[n++] = line + 1;
		}
	return n;
}

/* A decimal id (uid_t and gid_t are 32-bit unsigned on Linux); -1 when p
 * is not one. */
static int64_t parse_id(const char *p)
{
	int64_t v = 0;

	if (*p == '\0')
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	return v;
}

/* Whether name is one of the comma-separated members. */
static int is_member(const char *members, const char *name)
{
	size_t len = strlen(name);

	while (*members) {
		const char *end = strchr(members, ',');
		size_t n = end ? (size_t)(end - members) : strlen(members);

		if (n == len && memcmp(members, name, len) == 0)
			return 1;
		if (!end)
			break;
		members = end + 1;
	}
	return 0;
}

static int open_reader(struct reader *r, const char *path)
{
	do
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
	while (r->fd < 0 && errno == EINTR);
	r->eof = 0;
	r->start = r->end = 0;
	return r->fd < 0 ? -1 : 0;
}

static void close_reader(struct reader *r)
{
	int e = errno;

	(void)close(r->fd);
	errno = e;
}

/* see account.h */
int account_lookup(const char *passwd_file, const char *group_file,
                   const char *name, struct account *a)
{
	static struct reader r;   /* one thread, start-up only: no stack */
	static char line[LINE_MAX_];
	char *f[FIELDS_MAX];
	int found = 0, k;

	if (open_reader(&r, passwd_file) != 0)
		return -1;
	while (!found && (k = read_line(&r, line, sizeof line)) != 0) {
		int64_t uid, gid;

		if (k < 0) {
			close_reader(&r);
			return -1;
		}
		if (k != 1 || line[0] == '+' || line[0] == '-')
			continue;
		if (split(line, f) < 4 || strcmp(f[0], name) != 0)
			continue;
		uid = parse_id(f[2]);
		gid = parse_id(f[3]);
		if (uid < 0 || gid < 0)
			continue;
		a->uid = (uid_t)uid;
		a->gid = (gid_t)gid;
		a->groups[0] = a->gid;
		a->ngroups = 1;
		found = 1;
	}
	close_reader(&r);
	if (!found)
		return 1;

	if (open_reader(&r, group_file) != 0)
		return errno == ENOENT ? 0 : -1;
	while ((k = read_line(&r, line, sizeof line)) != 0) {
		int64_t gid;
		unsigned i;

		if (k < 0) {
			close_reader(&r);
			return -1;
		}
		if (k != 1 || line[0] == '+' || line[0] == '-')
			continue;
		if (split(line, f) < 4 || !is_member(f[3], name))
			continue;
		gid = parse_id(f[2]);
		if (gid < 0)
			continue;
		for (i = 0; i < a->ngroups && a->groups[i] != (gid_t)gid; i++)
			;
		if (i == a->ngroups && a->ngroups < ACCOUNT_GROUPS_MAX)
			a->groups[a->ngroups++] = (gid_t)gid;
	}
	close_reader(&r);
	return 0;
}
