/*
 * The event loop: one poll() over the signal pipe, the listeners and the
 * session sockets.  Each turn:
 *
 *   1. poll, with the timeout set by the earliest smtp_deadline();
 *   2. signals (self-pipe): SIGTERM/SIGINT start the shutdown, SIGHUP asks
 *      for a reload, SIGUSR1 is noted;
 *   3. every session: smtp_tick(), read once if readable and wanted, write
 *      out what the engine queued (at once, POLLOUT only for the rest),
 *      close when the engine says so;
 *   4. accept new connections on readable listeners (bounded per turn);
 *   5. group commit: every message completed in this turn is committed by
 *      one maildir_commit_batch() and answered;
 *   6. reload or shutdown housekeeping.
 */
#ifndef MAILNOOK_LOOP_H
#define MAILNOOK_LOOP_H

#include "listen.h"

struct loop_params {
	struct listener *listeners;
	unsigned n_listeners;
	unsigned gen;                   /* the configuration generation in use */
	const char *conf_file;          /* for reloads */
	char *const *args;              /* command-line options, for reloads */
	int nargs;
};

/* Installs the signal handlers (self-pipe).  0, or -1 with a message. */
int loop_signals_init(void);

/* Runs until SIGTERM/SIGINT and the shutdown are done; returns the exit
 * status (0). */
int loop_run(struct loop_params *lp);

#endif
