/*
 * The session pump: the socket I/O of one session slot, plain or through
 * the TLS layer (tls.h), between the socket and the SMTP engine; when to
 * start TLS (STARTTLS, or a ClientHello on a plain listener), what to poll
 * for, and when the engine's state says the session is over.
 */
#ifndef MAILNOOK_SLOT_IO_H
#define MAILNOOK_SLOT_IO_H

#include <stdint.h>

#include "slot.h"

/* How long a plain session with TLS on offer holds its greeting for a
 * ClientHello (slot_io.c, slot_hello()). */
#define SLOT_HELLO_WAIT_MS 200

/* TLS runs on this slot's connection (implicit, or after STARTTLS): its
 * socket I/O is slot_tls_io()'s, and what to poll for is slot_events(). */
int slot_tls(const struct slot *sl);

/* A TLS slot's turn: moves bytes through the TLS layer as far as they go
 * (reading only when revents says readable), closes the slot when the TLS
 * connection is over, and otherwise applies slot_check(). */
void slot_tls_io(struct slot *sl, short revents, int64_t now_ms);

/* Starts the TLS handshake on the slot (CONFIG_TLS only): implicit, on a
 * listen-tls socket or after a ClientHello, with the greeting waiting in
 * the engine; otherwise after STARTTLS's 220.  Closes the slot when TLS
 * cannot start. */
void slot_start_tls(struct slot *sl, int implicit);

/* The poll events a session waits for. */
short slot_events(const struct slot *sl);

/* The earliest time (monotonic ms) the slot needs a turn without any
 * event: the end of the greeting's wait for a ClientHello, the TLS
 * handshake deadline, or INT64_MAX. */
int64_t slot_deadline_ms(const struct slot *sl);

/* Reads once from the socket into the engine.  0: fine (data, EAGAIN, or
 * the end of the input: then eof is set), -1: a socket error. */
int slot_read(struct slot *sl);
/* The read spill behind every session's receive buffer (slot_io.c): reads
 * of up to BODY_BUFSIZE octets, where that is 4 KiB more than RECV_BUFSIZE
 * at least; else none. */
#define SLOT_SPILL_SIZE (CFG_BODY_BUFSIZE - CFG_RECV_BUFSIZE >= 4096 ? \
                         CFG_BODY_BUFSIZE - CFG_RECV_BUFSIZE : 0)

/* The session's input still in the spill (slot_io.c) is forgotten: it is
 * closing. */
void slot_spill_drop(const struct slot *sl);

/* Writes what the engine has queued until it is empty or the socket would
 * block.  0, or -1 on a socket error.  After STARTTLS's 220 has gone out
 * it starts the handshake.  On a TLS slot it runs the TLS layer (without
 * reading), which may close the slot (then fd is -1 and it returns 0). */
int slot_flush(struct slot *sl);

/* Closes the slot when the engine says so (SMTP_DEAD, or SMTP_CLOSE with
 * nothing left to send, or the grace period after CLOSE has passed), or
 * when the client half-closed and everything it sent is answered. */
void slot_check(struct slot *sl, int64_t now_ms);

#endif
