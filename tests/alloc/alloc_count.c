/*
 * An allocation counter for tests/integration/t70-nomalloc.t, used as
 *   LD_PRELOAD=alloc_count.so MAILNOOK_ALLOC_FILE=/tmp/counts ./mailnook ...
 *
 * Every malloc, calloc, realloc, free (of a non-NULL pointer),
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc and
 * reallocarray of the process is counted, then passed to the C library's
 * own (found with dlsym(RTLD_NEXT)).  strdup, strndup, asprintf and the
 * like allocate through malloc (glibc calls it through its PLT, so the
 * interposed one), so they are counted as mallocs.
 *
 * The counts live in a shared mapping of MAILNOOK_ALLOC_FILE (struct
 * alloc_counts below, all little-endian uint64) that the test reads
 * directly, whenever it likes, without signals or pipes.  Once the test
 * sets `armed`, each allocation also records its size and the address it
 * was called from in a ring, a backtrace-free hint the test resolves with
 * /proc/PID/maps (and addr2line when it can).  MAILNOOK_ALLOC_ARMED=1 arms
 * it from the start, to see what start-up allocates.
 *
 * dlsym() may itself call calloc() before the real one is known: such
 * early requests are served from a small static buffer, and free() ignores
 * pointers into it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RING 16

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_FREE, C_MEMALIGN, C_N };

struct alloc_counts {
	char magic[8];             /* "mnalloc1" once mapped */
	uint64_t pid;
	uint64_t count[C_N];       /* malloc calloc realloc free memalign */
	uint64_t armed;            /* set by the test */
	uint64_t ring_next;        /* allocations recorded while armed */
	struct {
		uint64_t kind;
		uint64_t size;
		uint64_t caller;   /* return address into the caller */
	} ring[RING];
};

static struct alloc_counts *shm;
static struct alloc_counts local_counts;   /* until (or without) the file */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

static _Alignas(64) unsigned char boot[16384];
static size_t boot_used;
static int resolving;

static int in_boot(const void *p)
{
	return (const unsigned char *)p >= boot &&
	       (const unsigned char *)p < boot + sizeof(boot);
}

static void *boot_alloc(size_t n)
{
	size_t at = (boot_used + 63) & ~(size_t)63;

	if (n > sizeof(boot) - at)
		return NULL;
	boot_used = at + n;
	return boot + at;          /* static storage: already zero */
}

static void resolve(void)
{
	if (real_malloc || resolving)
		return;
	resolving = 1;
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
	real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	resolving = 0;
}

static void count(int kind, size_t size, void *caller)
{
	struct alloc_counts *c = shm ? shm : &local_counts;

	__atomic_add_fetch(&c->count[kind], 1, __ATOMIC_SEQ_CST);
	if (kind != C_FREE && __atomic_load_n(&c->armed, __ATOMIC_SEQ_CST)) {
		uint64_t i = __atomic_fetch_add(&c->ring_next, 1, __ATOMIC_SEQ_CST) % RING;

		c->ring[i].kind = (uint64_t)kind;
		c->ring[i].size = size;
		c->ring[i].caller = (uint64_t)(uintptr_t)caller;
	}
}

__attribute__((constructor)) static void alloc_count_init(void)
{
	const char *path = getenv("MAILNOOK_ALLOC_FILE");
	struct alloc_counts *m;
	int fd;

	resolve();
	if (!path || !*path)
		return;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (ftruncate(fd, sizeof(*m)) != 0) {
		close(fd);
		return;
	}
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	memcpy(m->count, local_counts.count, sizeof(m->count));
	if (getenv("MAILNOOK_ALLOC_ARMED"))
		m->armed = 1;
	m->pid = (uint64_t)getpid();
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(m->magic, "mnalloc1", 8);
	shm = m;
}

void *malloc(size_t n)
{
	resolve();
	if (!real_malloc)
		return boot_alloc(n);
	count(C_MALLOC, n, __builtin_return_address(0));
	return real_malloc(n);
}

void *calloc(size_t k, size_t n)
{
	resolve();
	if (!real_calloc) {
		if (n && k > SIZE_MAX / n)
			return NULL;
		return boot_alloc(k * n);
	}
	count(C_CALLOC, k * n, __builtin_return_address(0));
	return real_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
	resolve();
	if (in_boot(p) || !real_realloc) {
		void *q = real_malloc ? real_malloc(n) : boot_alloc(n);

		if (q && p)
			memcpy(q, p, n < (size_t)(boot + sizeof(boot) - (unsigned char *)p) ?
			       n : (size_t)(boot + sizeof(boot) - (unsigned char *)p));
		count(C_REALLOC, n, __builtin_return_address(0));
		return q;
	}
	count(C_REALLOC, n, __builtin_return_address(0));
	return real_realloc(p, n);
}

void *reallocarray(void *p, size_t k, size_t n)
{
	if (n && k > SIZE_MAX / n) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, k * n);
}

void free(void *p)
{
	if (!p || in_boot(p))
		return;
	resolve();
	count(C_FREE, 0, __builtin_return_address(0));
	if (real_free)
		real_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	resolve();
	count(C_MEMALIGN, n, __builtin_return_address(0));
	return real_posix_memalign ? real_posix_memalign(out, align, n) : ENOMEM;
}

void *aligned_alloc(size_t align, size_t n)
{
	resolve();
	count(C_MEMALIGN, n, __builtin_return_address(0));
	return real_aligned_alloc ? real_aligned_alloc(align, n) : NULL;
}

void *memalign(size_t align, size_t n)
{
	resolve();
	count(C_MEMALIGN, n, __builtin_return_address(0));
	return real_memalign ? real_memalign(align, n) : NULL;
}

void *valloc(size_t n)
{
	return memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

void *pvalloc(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return memalign(pg, (n + pg - 1) & ~(pg - 1));
}
