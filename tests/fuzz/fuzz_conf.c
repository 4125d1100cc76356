/*
 * libFuzzer target: the configuration parser, conf_finish() and, when the
 * result is valid, recipient policy over it.
 *
 *   byte 0: bit 7 set: a small arena of byte 1 x 32 + 1 octets (else the
 *           compiled-in CONFIG_CONF_ARENA_KB)
 *   the rest: a config file; after a line "%%" each further line is one
 *           command-line argument ("--option=value") for conf_parse_arg()
 *
 * The arena and every argument are exact-size heap copies, so ASan catches
 * any write past the arena or read past an argument.  Invariants: the
 * arena's use stays within its size; every message is bounded printable
 * text naming a file; a configuration without errors has a domain, a
 * mailbox and a listener, per-IP at most max-sessions; each mailbox
 * address resolves to exactly its own mailbox; every resolved target
 * names a configured mailbox and a safe folder.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "arena.h"
#include "conf.h"
#include "policy.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_conf: invariant failed: %s (line %d)\n", \
		        #cond, __LINE__); \
		abort(); \
	} \
} while (0)

#define MSG_MAX 400        /* conf.c's CONF_MSG_MAX */
#define MAX_ARGS 8

static struct mn_config C;
static int verbose = -1;

static void on_msg(void *ctx, const char *file, unsigned line, const char *msg)
{
	size_t i, n;

	(void)ctx;
	CHECK(file != NULL && msg != NULL);
	n = strlen(msg);
	CHECK(n > 0 && n < MSG_MAX);
	for (i = 0; i < n; i++)
		CHECK((unsigned char)msg[i] >= 0x20 && msg[i] != 0x7f);
	if (verbose > 0)
		fprintf(stderr, "%s:%u: %s\n", file, line, msg);
}

static void check_targets(const struct rcpt_target *t, unsigned n, unsigned max)
{
	unsigned i;

	CHECK(n <= max);
	for (i = 0; i < n; i++) {
		const char *z = memchr(t[i].folder, '\0', sizeof(t[i].folder));

		CHECK(t[i].mailbox < C.n_mailbox);
		CHECK(z != NULL);
		if (t[i].folder[0])
			CHECK(C.tag_folders && policy_folder_ok(t[i].folder));
	}
}

static int resolve(const char *local, size_t ll, const char *domain,
                   int postmaster, struct rcpt_target *t, unsigned max,
                   unsigned *n)
{
	struct smtp_addr a;
	size_t dl = strlen(domain);
	int r;

	if (ll > ADDR_LOCAL_MAX || dl > ADDR_DOMAIN_MAX)
		return -1;
	memset(&a, 0, sizeof(a));
	memcpy(a.local, local, ll);
	memcpy(a.domain, domain, dl);
	a.is_postmaster = (uint8_t)postmaster;
	r = policy_resolve(&C, &a, t, max, n);
	CHECK(r == RCPT_OK || r == RCPT_UNKNOWN || r == RCPT_RELAY);
	if (r != RCPT_OK)
		CHECK(*n == 0);
	else
		CHECK(*n >= 1);
	check_targets(t, *n, max);
	return r;
}

static void check_policy(void)
{
	struct rcpt_target t[CFG_MAX_MAILBOXES];
	unsigned i, n;
	char local[ADDR_LOCAL_MAX + 1];
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
	                                0, 0, 0, 0, 0, 0, 0, 1 };

	CHECK(C.n_domains >= 1 && C.first_domain != NULL);
	CHECK(C.n_mailbox >= 1 && C.n_listen >= 1);
	CHECK(C.max_per_ip >= 1 && C.max_per_ip <= C.max_sessions);
	CHECK(conf_is_local_domain(&C, C.first_domain));
	(void)conf_allowed(&C, 0, v4);
	(void)conf_allowed(&C, 1, v6);

	for (i = 0; i < C.n_mailbox; i++) {
		const char *addr = C.mailbox[i].address;
		const char *at = strchr(addr, '@');
		size_t ll;

		CHECK(at != NULL && C.mailbox[i].maildir && C.mailbox[i].maildir[0]);
		CHECK(conf_is_local_domain(&C, at + 1));
		ll = (size_t)(at - addr);
		if (ll > 0) {
			/* a mailbox reaches itself, alone */
			CHECK(resolve(addr, ll, at + 1, 0, t, CFG_MAX_MAILBOXES, &n) == RCPT_OK);
			CHECK(n == 1 && t[0].mailbox == i);
			/* then with a tag after each delimiter, and upper case */
			if (C.rcpt_delim[0] && ll + 5 <= ADDR_LOCAL_MAX) {
				memcpy(local, addr, ll);
				local[ll] = C.rcpt_delim[0];
				memcpy(local + ll + 1, "t.g", 3);
				resolve(local, ll + 4, at + 1, 0, t, 1, &n);
				memcpy(local + ll + 1, "../", 3);
				resolve(local, ll + 4, at + 1, 0, t, CFG_MAX_MAILBOXES, &n);
			}
		}
		resolve("postmaster", 10, at + 1, 0, t, CFG_MAX_MAILBOXES, &n);
		resolve("nobody+x", 8, at + 1, 0, t, 2, &n);
	}
	CHECK(resolve("", 0, "", 1, t, CFG_MAX_MAILBOXES, &n) == RCPT_OK);
	resolve("a", 1, "elsewhere.invalid", 0, t, CFG_MAX_MAILBOXES, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	size_t asize, n, cut, i;
	unsigned char *mem;
	char *file, *args[MAX_ARGS];
	unsigned nargs = 0, errors;
	const uint8_t *text;

	if (size < 2)
		return 0;
	if (verbose < 0)
		verbose = getenv("FUZZ_VERBOSE") != NULL;   /* print the messages */
	asize = (data[0] & 0x80) ? (size_t)data[1] * 32 + 1
	                         : (size_t)CFG_CONF_ARENA_KB * 1024;
	text = data + 2;
	n = size - 2;

	/* the file, then the arguments after a "%%" line */
	for (cut = 0; cut < n; cut++)
		if ((cut == 0 || text[cut - 1] == '\n') && n - cut >= 2 &&
		    text[cut] == '%' && text[cut + 1] == '%')
			break;
	file = malloc(cut ? cut : 1);
	mem = malloc(asize);
	if (!file || !mem) {
		free(file);
		free(mem);
		return 0;
	}
	memcpy(file, text, cut);
	i = cut + 2;
	while (i < n && nargs < MAX_ARGS) {
		const uint8_t *nl = memchr(text + i, '\n', n - i);
		size_t l = nl ? (size_t)(nl - (text + i)) : n - i;

		if (l && !memchr(text + i, '\0', l)) {
			args[nargs] = malloc(l + 1);
			if (!args[nargs])
				break;
			memcpy(args[nargs], text + i, l);
			args[nargs][l] = '\0';
			nargs++;
		}
		i += l + 1;
	}

	arena_init(&a, mem, asize);
	conf_init(&C, &a);
	errors = conf_parse(&C, "fuzz.conf", file, cut, on_msg, NULL);
	CHECK(a.used <= a.size);
	for (i = 0; i < nargs; i++) {
		unsigned e = conf_parse_arg(&C, args[i], on_msg, NULL);

		CHECK(e <= 1);
		errors += e;
		CHECK(a.used <= a.size);
	}
	errors += conf_finish(&C, on_msg, NULL);
	CHECK(a.used <= a.size);
	if (errors == 0) {
		CHECK(!a.failed);
		conf_warnings(&C, on_msg, NULL);
		check_policy();
	}
	for (i = 0; i < nargs; i++)
		free(args[i]);
	free(file);
	free(mem);
	return 0;
}
