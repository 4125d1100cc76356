/* see hook.h and hook_int.h: the queue of pending runs and their packed
 * environments */
#include "hook_int.h"

#if CFG_HOOK

#include <string.h>

#include "fmt.h"

/*
 * The queue is a ring of HOOK_QUEUE_MAX entries, in order; each entry's
 * text lies in ring[off, off + len) and is the child's environment as NUL-
 * terminated "NAME=value" strings, in env_names[] order.  Entries are
 * placed one after another in ring[]; one that does not fit before the end
 * starts again at 0 when the oldest entry leaves room there.  So, with
 * head = the first entry's off and tail = the end of the last one, the
 * used bytes are [head, tail) when the last entry does not lie before the
 * first (not wrapped), else [head, end of its run) and [0, tail).  An empty
 * queue starts again at 0, so a queue that rarely holds more than one
 * entry touches one page.
 *
 * Runs start in queue order, but an entry still held (its file's 250 has
 * not all gone out: hook_release()) lets later ones pass; a started entry
 * keeps its place (and its bytes) until every entry before it has gone,
 * so the ring only ever frees from the head.
 */
enum { E_WAIT, E_HELD, E_DONE };

struct hook_entry {
	unsigned off, len;
	unsigned char state;            /* E_WAIT, E_HELD (by hold), E_DONE */
	const void *hold;
};

static const char *const env_names[ENV_N] = {
	"MAILNOOK_FILE=", "MAILNOOK_MAILDIR=", "MAILNOOK_MAILBOX=",
	"MAILNOOK_RECIPIENT=", "MAILNOOK_SENDER=", "MAILNOOK_SIZE=",
	"MAILNOOK_ID=", "MAILNOOK_CLIENT_IP=", "MAILNOOK_HELO=",
	"MAILNOOK_AUTH="
};

static char env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

/* the largest entry: two paths, five client values, size, id, ip, names */
#define HOOK_ENTRY_MAX (2 * HOOK_PATH_MAX + 5 * HOOK_VALUE_MAX + 21 + \
                        HOOK_ID_MAX + 64 + 192)

static struct hook_entry queue[HOOK_QUEUE_MAX];
static unsigned q_first, q_n, q_done;   /* q_done: E_DONE entries */
static char ring[HOOK_QUEUE_BYTES];
static char pack[HOOK_ENTRY_MAX];       /* an entry being built */
static int prefaulted;

/* ---- the environment ---------------------------------------------------- */

/* Appends "NAME=value\0" to pack[] at *o.  Control characters (C0, DEL and
 * the C1 range as UTF-8, U+0080..U+009F) become '?'.  A value longer than
 * max octets is cut after a whole UTF-8 sequence when cut, or refused (-1)
 * when not. */
static int put_env(size_t *o, const char *name, const char *val, size_t max,
                   int cut)
{
	size_t n = strlen(name), start, k = 0;
	const unsigned char *s = (const unsigned char *)(val ? val : "");

	if (*o + n + max + 1 > sizeof pack)
		return -1;              /* cannot happen: HOOK_ENTRY_MAX */
	memcpy(pack + *o, name, n);
	start = *o + n;
	for (; *s; s++) {
		unsigned char c = *s;

		if (k == max) {
			if (!cut)
				return -1;
			break;
		}
		if (c == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
			s++;
			c = '?';
		} else if (c < 0x20 || c == 0x7f) {
			c = '?';
		}
		pack[start + k++] = (char)c;
	}
	if (*s && k > 0) {
		/* cut: drop a UTF-8 sequence left incomplete */
		size_t lead = k, need;
		unsigned char b;

		while (lead > 0 && ((unsigned char)pack[start + lead - 1] & 0xc0) == 0x80)
			lead--;
		if (lead > 0) {
			b = (unsigned char)pack[start + lead - 1];
			need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
			if (need > 1 && lead - 1 + need > k)
				k = lead - 1;
		}
	}
	pack[start + k] = '\0';
	*o = start + k + 1;
	return 0;
}

/* Packs the job into pack[]; its length, or 0 when a path does not fit. */
static size_t pack_job(const struct hook_job *j)
{
	/* the paths are never cut: a cut path names another file */
	static const unsigned short max[ENV_N] = {
		HOOK_PATH_MAX - 1, HOOK_PATH_MAX - 1, HOOK_VALUE_MAX,
		HOOK_VALUE_MAX, HOOK_VALUE_MAX, 23, HOOK_ID_MAX - 1, 63,
		HOOK_VALUE_MAX, HOOK_VALUE_MAX
	};
	char size[24];
	const char *v[ENV_N];
	size_t o = 0;
	unsigned i;

	(void)fmt_into(size, sizeof size, "%llu", (unsigned long long)j->size);
	v[ENV_FILE] = j->file;
	v[ENV_MAILDIR] = j->maildir;
	v[ENV_MAILBOX] = j->mailbox;
	v[ENV_RECIPIENT] = j->recipient;
	v[ENV_SENDER] = j->sender;
	v[ENV_SIZE] = size;
	v[ENV_ID] = j->id;
	v[ENV_CLIENT_IP] = j->client_ip;
	v[ENV_HELO] = j->helo;
	v[ENV_AUTH] = j->auth;
	for (i = 0; i < ENV_N; i++)
		if (put_env(&o, env_names[i], v[i], max[i], i > ENV_MAILDIR))
			return 0;
	return o;
}

/* ---- the queue ---------------------------------------------------------- */

static struct hook_entry *q_at(unsigned i)
{
	return &queue[(q_first + i) % HOOK_QUEUE_MAX];
}

/* Where n octets fit in ring[], or -1. */
static long ring_place(unsigned n)
{
	const struct hook_entry *first, *last;
	unsigned head, tail;

	if (q_n == HOOK_QUEUE_MAX)
		return -1;
	if (q_n == 0)
		return n <= HOOK_QUEUE_BYTES ? 0 : -1;
	first = q_at(0);
	last = q_at(q_n - 1);
	head = first->off;
	tail = last->off + last->len;
	if (last->off >= head) {        /* not wrapped */
		if (HOOK_QUEUE_BYTES - tail >= n)
			return tail;
		return head >= n ? 0 : -1;
	}
	return head - tail >= n ? (long)tail : -1;
}

static void q_pop(void)
{
	if (q_at(0)->state == E_DONE)
		q_done--;
	q_first = (q_first + 1) % HOOK_QUEUE_MAX;
	q_n--;
	if (q_n == 0)
		q_first = 0;
}

/* ---- what hook.c sees (hook_int.h) ------------------------------------- */

void hq_prefault(void)
{
	if (!prefaulted) {
		/* the queue is resident from the start, as the session
		 * slots are: a burst of deliveries does not grow the RSS */
		memset(ring, 0, sizeof ring);
		prefaulted = 1;
	}
}

int hq_push(const struct hook_job *job, const char **why)
{
	struct hook_entry *e;
	size_t n;
	long at;

	n = pack_job(job);
	if (n == 0) {
		*why = "too-long";
		return -1;
	}
	at = ring_place((unsigned)n);
	if (at < 0) {
		*why = "queue-full";
		return -1;
	}
	memcpy(ring + at, pack, n);
	e = q_at(q_n);
	e->off = (unsigned)at;
	e->len = (unsigned)n;
	e->hold = job->hold;
	e->state = job->hold ? E_HELD : E_WAIT;
	q_n++;
	return 0;
}

void hq_clean(char *dst, const char *val, size_t max)
{
	size_t o = 0;

	if (put_env(&o, "", val, max, 1) == 0)
		memcpy(dst, pack, o);
	else
		dst[0] = '\0';
}

/* The oldest entry that may start, or NULL. */
struct hook_entry *hq_next(void)
{
	unsigned i;

	for (i = 0; i < q_n; i++)
		if (q_at(i)->state == E_WAIT)
			return q_at(i);
	return NULL;
}

void hq_envp(const struct hook_entry *e, char *envp[HQ_ENVP])
{
	char *p = ring + e->off;
	unsigned i;

	envp[0] = env_path;
	for (i = 0; i < ENV_N; i++) {
		envp[i + 1] = p;
		p += strlen(p) + 1;
	}
	envp[ENV_N + 1] = NULL;
}

/* The value of one variable of an entry. */
const char *hq_value(const struct hook_entry *e, unsigned which)
{
	const char *p = ring + e->off;
	unsigned i;

	for (i = 0; i < which; i++)
		p += strlen(p) + 1;
	return p + strlen(env_names[which]);
}

void hq_done(struct hook_entry *e)
{
	e->state = E_DONE;
	q_done++;
}

void hq_trim(void)
{
	while (q_n && q_at(0)->state == E_DONE)
		q_pop();
}

int hq_drop(const char **id, const char **file)
{
	while (q_n) {
		const struct hook_entry *e = q_at(0);
		int used = e->state == E_DONE;

		if (!used) {
			/* the bytes stay where they are until the next push */
			*id = hq_value(e, ENV_ID);
			*file = hq_value(e, ENV_FILE);
		}
		q_pop();
		if (!used)
			return 1;
	}
	return 0;
}

void hq_release(const void *hold)
{
	unsigned i;

	for (i = 0; i < q_n; i++) {
		struct hook_entry *e = q_at(i);

		if (e->state == E_HELD && e->hold == hold)
			e->state = E_WAIT;
	}
}

/* ---- the API (hook.h) --------------------------------------------------- */

unsigned hook_waiting(void)
{
	return q_n - q_done;
}

unsigned hook_held(const void *hold)
{
	unsigned i, n = 0;

	for (i = 0; i < q_n; i++)
		n += q_at(i)->state == E_HELD && q_at(i)->hold == hold;
	return n;
}

#endif
