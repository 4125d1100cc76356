/*
 * The configuration as the running process holds it: two static arenas of
 * CONFIG_CONF_ARENA_KB KiB, two struct mn_config (generation 0 and 1).  A
 * load fills one generation from the file and the command line, finishes it
 * (core's conf_finish), then makes it fit the OS: default host name, paths
 * made absolute against the directory mailnook was started in.  Errors are
 * printed at start-up ("FILE:LINE: message", "mailnook: ARG: message") or
 * logged during a reload ("reload: FILE:LINE: message").
 */
#ifndef MAILNOOK_CONF_LOAD_H
#define MAILNOOK_CONF_LOAD_H

#include "config.h"
#include "conf.h"
#include "policy.h"

/* Once, at start-up: records the working directory (for relative paths). */
int conf_load_init(void);

/* The configuration of generation gen (0 or 1). */
struct mn_config *conf_gen(unsigned gen);

/* Loads file, then args[0..nargs) ("--option[=value]"), into generation
 * gen: conf_parse, conf_parse_arg, conf_finish, then the host name default
 * and absolute paths.  to_log NULL: errors go to stderr as "FILE:LINE:
 * message" (a command-line argument: "mailnook: ARG: message"); otherwise
 * they are logged, each prefixed with to_log (e.g. "reload: ").  Returns the number of errors (0: usable). */
unsigned conf_load(unsigned gen, const char *file, char *const *args,
                   int nargs, const char *to_log);

/* The OS-side checks of a loaded configuration: every Maildir is created
 * where missing (tmp/ new/ cur/, 0700) and is writable.  Errors as
 * "FILE:LINE: mailbox ADDRESS: DIR: reason".  Returns the number of errors. */
unsigned conf_check_maildirs(const struct mn_config *c,
                             const char *to_log);

/* With CONFIG_TLS: loads tls-cert and tls-key (when configured) into the
 * TLS layer's spare key store and reports every problem as "FILE:LINE:
 * tls-cert: PATH: message" at the line of the option at fault (a key that
 * does not match the certificate: at tls-key).  The caller activates the
 * store (tls_keys_activate) once the whole configuration is accepted.
 * Without CONFIG_TLS: 0.  Returns the number of errors. */
unsigned conf_check_tls(const struct mn_config *c, const char *to_log);

/* An error found by the caller about the option set at at, to stderr as
 * "FILE:LINE: msg" (a command-line argument: "mailnook: ARG: msg"). */
void conf_report(const struct mn_config *c, const struct conf_origin *at,
                 const char *msg);

/* Prints conf_warnings() as "FILE:LINE: warning: message" (stderr or log). */
void conf_print_warnings(const struct mn_config *c, const char *to_log);

/* Makes path absolute against the start-up directory, as a copy in c's
 * arena; NULL when the arena is full. */
const char *conf_abs_path(struct mn_config *c, const char *path);

#endif
