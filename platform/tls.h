/*
 * The TLS layer (CONFIG_TLS only): BearSSL between the socket and the SMTP
 * engine.  The engine never knows whether its bytes were encrypted.  Include
 * this header, and call into it, only under `#if CFG_TLS`: without
 * CONFIG_TLS neither these files nor BearSSL are built or linked.
 *
 * The parts:
 *
 * tls_keys.c  The server's certificate chain and private key, read from PEM
 *             files into one of two fixed stores (TLS_KEY_POOL bytes each,
 *             no malloc).  Loading always fills the spare store; activating
 *             it makes it current, so a reload (SIGHUP) never rewrites a key
 *             that a handshake in progress still uses.  Errors come back as
 *             messages tagged with the option they belong to (tls-cert or
 *             tls-key), for "FILE:LINE: message" at that option's line.
 *
 * tls_conn.c  One struct tls_conn per session slot, in a static array of
 *             CFG_MAX_SESSIONS: a br_ssl_server_context and its record
 *             buffers.  tls_conn_pump() is run_ssl_engine() from BearSSL's
 *             tools/sslio.c turned inside out for a shared poll() loop: it
 *             moves bytes in all four directions (socket -> recvrec,
 *             sendrec -> socket, recvapp -> smtp_recv_buf/ack,
 *             smtp_send_buf/ack -> sendapp + flush) without blocking, and
 *             says what to poll for next.
 *
 * tls_algs.c  The profile: the suites offered, the hashes, curves and
 *             ciphers, and which of BearSSL's implementations computes
 *             each (one per primitive, chosen at compile time).
 *
 * tls_cred.c  One loaded credential: does its key match its certificate.
 *
 * tls_names.c Names for BearSSL's numbers: errors, versions, suites.
 *
 * Entropy: tls_init() reads 48 bytes from getrandom() once, at start-up, and
 * seeds a process-wide HMAC-DRBG (SHA-256) with them.  Every
 * tls_conn_start() draws 32 fresh bytes from it and injects them into that
 * connection's engine (br_ssl_engine_inject_entropy), so no two handshakes
 * share a seed and nothing needs /dev/urandom later (after a chroot or a
 * privilege drop).  BearSSL itself also mixes in the OS source once per
 * context when it can.
 */
#ifndef MAILNOOK_TLS_H
#define MAILNOOK_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl.h>

#include <config.h>
#include "outcome.h"
#include "smtp_engine.h"

#if !CFG_TLS
#error "platform/tls.h is for CONFIG_TLS=y builds only"
#endif

/* ---- keys --------------------------------------------------------------- */

/* Bytes for the DER certificate chain plus the private key's elements in
 * one store.  A chain of three 2048-bit RSA certificates is about 4 KiB, an
 * RSA-4096 private key under 1.5 KiB.  Two stores are static (current and
 * spare). */
#define TLS_KEY_POOL   16384
#define TLS_MAX_CHAIN  8       /* certificates in the chain */

#define TLS_MAX_CREDS  2       /* certificate and key pairs: RSA and EC */

enum tls_key_option { TLS_OPT_CERT = 0, TLS_OPT_KEY = 1 };

/* msg names its file, e.g. "tls-key: /etc/k.pem: encrypted keys are not
 * supported"; pair is the index of the tls-cert/tls-key pair at fault */
typedef void tls_error_fn(void *ctx, enum tls_key_option which,
                          unsigned pair, const char *msg);

/* One certificate chain and its private key. */
struct tls_cred {
	br_x509_certificate chain[TLS_MAX_CHAIN];
	size_t chain_len;
	int key_type;                   /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	unsigned issuer_key_type;       /* who signed the leaf: RSA or EC */
	br_x509_pkey pub;               /* the leaf's public key (in pool) */
	union {
		br_rsa_private_key rsa;
		br_ec_private_key ec;
	} sk;                           /* elements in pool */
};

/* One or two credentials (at most one of each key type), in the order the
 * configuration gave them, sharing one pool. */
struct tls_keys {
	unsigned char pool[TLS_KEY_POOL];
	size_t used;
	struct tls_cred cred[TLS_MAX_CREDS];
	unsigned n_cred;
	uint8_t loaded;
};

/* Reads n pairs (n <= TLS_MAX_CREDS): cert_files[i] (PEM: one or more
 * CERTIFICATE objects, the server's own first) and key_files[i] (PEM: RSA
 * PRIVATE KEY, EC PRIVATE KEY or an unencrypted PKCS#8 PRIVATE KEY; RSA or
 * EC on P-256, P-384, P-521) into the spare store and checks that each key
 * is its certificate's.  Every problem is reported through err; returns
 * the number of errors (0: the spare store is loaded).  Refused: no
 * certificate, a malformed PEM or DER object, an encrypted key, an
 * unsupported key type or curve, a chain over TLS_MAX_CHAIN or the pairs
 * over TLS_KEY_POOL, a key that does not match the certificate, two
 * certificates with the same key type. */
unsigned tls_keys_load(const char *const *cert_files,
                       const char *const *key_files, unsigned n,
                       tls_error_fn *err, void *ctx);

/* Number of handshakes in progress that use the spare store: loading into
 * it must wait until this is 0 (after a reload, a handshake may still use
 * the keys from before the one before). */
unsigned tls_keys_spare_busy(void);

/* The spare store (just loaded) becomes current for new handshakes. */
void tls_keys_activate(void);

/* The current store, or NULL when none was activated. */
const struct tls_keys *tls_keys_current(void);
/* The spare store (what tls_keys_load() filled). */
const struct tls_keys *tls_keys_spare(void);

/* Whether the credential's private key is its certificate's: for RSA the
 * modulus computed from the private key must be the certificate's n, and a
 * signature must verify under its (n, e); for EC the public point computed
 * from the private scalar must be the certificate's, on the same curve
 * (tls_cred.c). */
int tls_cred_matches(const struct tls_cred *cr);

/* "RSA-2048", "EC-P256": for the start-up log (tls_cred.c). */
const char *tls_keys_describe(const struct tls_cred *cr, char *buf,
                              size_t len);

/* ---- profile (tls_algs.c) --------------------------------------------- */

/* Once per engine context: hashes, PRFs, curves, record ciphers (with
 * CONFIG_TLS_LEGACY also the TLS 1.0 PRF and AES-CBC; the suites offered
 * decide whether they are used). */
void tls_algs_configure(br_ssl_engine_context *eng);

/* The curves: X25519, P-256, P-384, P-521, each by one implementation
 * (for ECDHE, and for EC keys: their signatures and tls_cred_matches()). */
extern const br_ec_impl tls_ec;

/* Appends one key type's suites (ec: ECDHE_ECDSA, else ECDHE_RSA and, with
 * legacy, RSA key exchange) to list at n, in the server's order of
 * preference: the AEAD suites, then with legacy (CONFIG_TLS_LEGACY and
 * tls-min-version below 1.2) the CBC ones.  At most TLS_ALGS_SUITES_MAX
 * are added.  Returns the new count. */
size_t tls_algs_suites(uint16_t *list, size_t n, int ec, int legacy);
#define TLS_ALGS_SUITES_MAX 10

/* ---- connections ---------------------------------------------------------- */

struct tls_conn;

/* Once at start-up, before any tls_conn_start(): seeds the DRBG from
 * getrandom().  0, or -1 with a reason in *why. */
int tls_init(const char **why);

/* The connection state of session slot i (0 <= i < CFG_MAX_SESSIONS). */
struct tls_conn *tls_conn_get(unsigned i);

/* Starts a server handshake on this connection with the current keys;
 * implicit: RFC 8314 implicit TLS (listen-tls), the SMTP greeting is
 * already queued in the engine and goes out once the handshake is done;
 * otherwise STARTTLS: smtp_tls_started() is called when it is done.
 * min_version: the oldest version accepted (tls-min-version, as BR_TLS10
 * .. BR_TLS12; below BR_TLS12 only with CONFIG_TLS_LEGACY).  The
 * handshake must finish by now_ms + timeout_ms.  0, or -1 when there are
 * no keys or BearSSL refuses (the session then closes). */
int tls_conn_start(struct tls_conn *c, int implicit, unsigned min_version,
                   int64_t now_ms, int64_t timeout_ms);

/* Forgets the connection (socket closed).  Safe to call twice. */
void tls_conn_stop(struct tls_conn *c);

/* TLS runs on this connection (between tls_conn_start and tls_conn_stop). */
int tls_conn_active(const struct tls_conn *c);

/* The handshake is complete: application data flows. */
int tls_conn_established(const struct tls_conn *c);

/* Return value of tls_conn_pump() when the connection is over. */
#define TLS_PUMP_DONE (-1)

/* Moves bytes between the non-blocking socket fd, BearSSL and session s
 * until nothing more can move without waiting.  revents: what poll()
 * reported for fd (0 when called outside poll's answer, e.g. after a
 * commit); the socket is read only when it says readable, at most
 * TLS_READS_PER_PUMP times.  now_ms is for the handshake deadline.
 *
 * Returns the poll events to wait for (POLLIN, POLLOUT, or 0 when only the
 * SMTP engine can unblock it, e.g. a pending commit), or TLS_PUMP_DONE:
 * the connection is finished -- the SMTP engine said SMTP_DEAD and the
 * close_notify (after every queued reply) has been written, or the peer
 * closed (a FIN or a close_notify ends it only once the SMTP engine has
 * nothing more to say and every reply is written: a client may pipeline
 * QUIT and half-close), or TLS failed; tls_conn_why() says which.  The
 * caller then closes the socket. */
int tls_conn_pump(struct tls_conn *c, int fd, struct smtp_session *s,
                  short revents, int64_t now_ms);

/* Why the pump said TLS_PUMP_DONE: SESSION_QUIT (the SMTP engine ended
 * the session), SESSION_CLOSED (the peer closed), SESSION_ERROR (socket
 * error), SESSION_TLS_ERROR, SESSION_TLS_TIMEOUT (handshake not finished
 * in time); SESSION_END_NONE before. */
enum session_end tls_conn_why(const struct tls_conn *c);

/* For SESSION_TLS_ERROR: BearSSL's reason, e.g. "unsupported-version",
 * "alert-sent-40", "alert-received-70"; "" otherwise. */
const char *tls_conn_error(const struct tls_conn *c, char *buf, size_t len);

/* After TLS_PUMP_DONE, a handshake that failed: returns why, for the log
 * line "tls=failed reason=... client-version=...": "no-common-suite",
 * "no-common-version", "bad-record" (not TLS), "closed" (the client gave
 * up), "timeout", or BearSSL's reason as tls_conn_error() puts it in buf;
 * *version: the highest version the ClientHello offered (0x0301: TLS 1.0),
 * 0 when none came.  NULL when no handshake failed: it completed, the
 * session ended it (shutdown), or the client closed without a byte. */
const char *tls_conn_failure(const struct tls_conn *c, unsigned *version,
                             char *buf, size_t len);

/* The handshake deadline (monotonic ms) while it is in progress, else
 * INT64_MAX: for the poll timeout. */
int64_t tls_conn_deadline(const struct tls_conn *c);

/* After the handshake: "TLSv1.2", and an OpenSSL-style suite name such as
 * "ECDHE-ECDSA-AES128-GCM-SHA256"; "" before. */
const char *tls_conn_version(const struct tls_conn *c);
const char *tls_conn_suite(const struct tls_conn *c);

/* Names for a protocol version and a suite (the same as above;
 * tls_names.c). */
const char *tls_version_name(unsigned version);
const char *tls_suite_name(unsigned suite);

/* BearSSL's error code err as tls_conn_error() puts it, in buf; "" for
 * BR_ERR_OK (tls_names.c). */
const char *tls_error_name(int err, char *buf, size_t len);

/* Bytes of the static TLS state (connections and key stores), for -V. */
size_t tls_footprint(void);

/* Reads at most this many times from one socket per pump (fairness: a
 * record takes two reads, its header and its body). */
#define TLS_READS_PER_PUMP 8

#endif
