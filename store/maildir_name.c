/*
 * Unique Maildir names: "SECS.M<usec>P<pid>Q<n>R<random>.HOST".
 *
 * Each field covers a way two deliveries could meet:
 *   SECS.M<usec>  another moment;
 *   P<pid>        another process at the same moment;
 *   Q<n>          the same process within one microsecond (a per-process
 *                 counter that never repeats, so a long-lived process never
 *                 reuses a name even if the clock stands still or steps back);
 *   R<random>     64 fresh random bits per name: a restart that gets the same
 *                 pid at a repeated clock reading (a router without a
 *                 real-time clock boots at the same date every time);
 *   HOST          another machine sharing the Maildir over NFS.
 * The random bits come from getrandom(2) without blocking, else from
 * /dev/urandom (never blocks), else from a mix of the clock, the pid and the
 * previous value: never blocking matters more than their quality, since the
 * other fields already make the name unique on a machine whose clock does
 * not repeat.  And nothing relies on the name alone: tmp/ files are created
 * with O_EXCL and reach new/ by link(2), which never replaces a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bare.h"
#include "fmt.h"
#include "maildir.h"
#include "maildir_int.h"

/* The widest fields: 20 digits, ".M", 6, "P", 10, "Q", 20, "R", 16, ".":
 * 78 octets, then the host and the NUL. */
_Static_assert(78 + MAILDIR_HOST_MAX + 1 <= MAILDIR_NAME_MAX,
               "unique names must fit MAILDIR_NAME_MAX");

static char host[MAILDIR_HOST_MAX + 1];
static uint64_t counter;
static uint64_t mix_state;

/* see maildir.h */
void maildir_set_host(const char *h)
{
	size_t o = 0;
	const unsigned char *c;

	for (c = (const unsigned char *)h; *c; c++) {
		const char *esc = NULL;

		/* '/' and ':' as the Maildir spec says; ',' too, so that no
		 * host can fake the ",S=" and ",W=" fields Dovecot reads. */
		if (*c == '/')
			esc = "\\057";
		else if (*c == ':')
			esc = "\\072";
		else if (*c == ',')
			esc = "\\054";
		else if (*c <= 0x20 || *c >= 0x7f)
			continue;           /* controls, space, non-ASCII */
		if (esc) {
			if (o + 4 > MAILDIR_HOST_MAX)
				break;
			memcpy(host + o, esc, 4);
			o += 4;
		} else {
			if (o + 1 > MAILDIR_HOST_MAX)
				break;
			host[o++] = (char)*c;
		}
	}
	host[o] = '\0';
	if (o == 0)
		memcpy(host, "localhost", sizeof "localhost");
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int read_urandom(void *p, size_t n)
{
	ssize_t r;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	do
		r = read(fd, p, n);
	while (r < 0 && errno == EINTR);
	(void)close(fd);
	return r == (ssize_t)n ? 0 : -1;
}

static uint64_t random64(const struct timespec *ts)
{
	uint64_t v = 0;
	long r = -1;

#if defined(SYS_getrandom)
	do
		r = syscall(SYS_getrandom, &v, sizeof v, 1 /* GRND_NONBLOCK */);
	while (r < 0 && errno == EINTR);
#endif
	if (r == (long)sizeof v || read_urandom(&v, sizeof v) == 0)
		return v;
	mix_state ^= (uint64_t)ts->tv_sec * 1000000007ULL
	             ^ (uint64_t)ts->tv_nsec ^ ((uint64_t)getpid() << 32);
	return splitmix64(&mix_state);
}

/* see maildir_int.h */
void maildir_name_new(char out[MAILDIR_NAME_MAX])
{
	struct timespec ts;

	if (bare_clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0) {
		ts.tv_sec = 0;
		ts.tv_nsec = 0;
	}
	if (host[0] == '\0') {
		/* maildir_set_host() not called yet: the system's name, from
		 * uname(2) as gethostname(3) has it (the commit calls uname) */
		struct utsname u;

		maildir_set_host(uname(&u) == 0 ? u.nodename : "");
	}
	(void)fmt_into(out, MAILDIR_NAME_MAX,
	               "%lld.M%ldP%ldQ%" PRIu64 "R%016" PRIx64 ".%s",
	               (long long)ts.tv_sec, (long)(ts.tv_nsec / 1000),
	               (long)getpid(), counter++, random64(&ts), host);
}

/* see maildir_int.h */
void maildir_name_final(const struct maildir_msg *m,
                        char out[MAILDIR_FINAL_MAX])
{
	(void)fmt_into(out, MAILDIR_FINAL_MAX, "%s,S=%" PRIu64 ",W=%" PRIu64,
	               m->unique, m->size, m->size + m->lines);
}

#if CFG_HOOK
/* see maildir.h */
int maildir_msg_path(const struct maildir_msg *m, unsigned i, char *out,
                     size_t n)
{
	const struct maildir_dest *d = &m->dest[i];
	char name[MAILDIR_FINAL_MAX];
	struct stat st;
	size_t k;

	maildir_name_final(m, name);
	if (d->folder[0]) {
		/* the commit linked into the inbox when the folder was gone
		 * or not a plain name: then the file is not there */
		k = fmt_into(out, n, "%s/.%s/new/%s", d->maildir, d->folder,
		             name);
		if (k < n && !strchr(d->folder, '/') &&
		    bare_fstatat(AT_FDCWD, out, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
	}
	k = fmt_into(out, n, "%s/new/%s", d->maildir, name);
	return k < n ? 0 : -1;
}
#endif
