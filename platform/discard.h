/*
 * The benchmark's discard store (Kconfig BENCH_DISCARD, benchmark only):
 * in place of store/maildir.h's open, write, finish and commit, calls that
 * accept every message and keep nothing, for the protocol-only baseline of
 * `make bench`.  The delivery sink (slot_sink.c) calls these instead of the
 * Maildir ones when CFG_BENCH_DISCARD is 1; normal builds never call them
 * (and a static build's --gc-sections drops them).
 */
#ifndef MAILNOOK_DISCARD_H
#define MAILNOOK_DISCARD_H

#include <stddef.h>

#include "maildir.h"

/* As maildir_open(), maildir_write(), maildir_finish() and
 * maildir_commit_batch(), with nothing written: every result SINK_OK. */
int discard_open(struct maildir_msg *m);
int discard_write(struct maildir_msg *m, const void *p, size_t n);
int discard_finish(struct maildir_msg *m);
void discard_commit(struct maildir_msg **msgs, size_t n, int *results);

#endif
