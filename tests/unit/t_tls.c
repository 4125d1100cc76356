/*
 * The TLS layer (platform/tls_keys.c, platform/tls_conn.c).
 *
 * Keys: PEM loading of RSA-2048, EC P-256 and P-384 keys in their three
 * PEM forms, a leaf + intermediate chain, a combined cert+key file; and the
 * refusals: encrypted keys (PKCS#8 and OpenSSL's traditional form), a
 * malformed or truncated PEM, bad DER, no certificate, no key, mismatched
 * pairs, a chain too long.  The key material is made at run time with the
 * openssl command line in a mkdtemp() directory and removed at the end.
 *
 * Connections: the server side (tls_conn_pump() over one end of a
 * socketpair, with a real SMTP engine and a fake sink) against a BearSSL
 * client engine that knows the server's key (br_x509_knownkey), one
 * process, one thread: implicit TLS and STARTTLS, app data both ways, the
 * STARTTLS injection, resumption from the session cache, the pipelining
 * case that half-duplex buffers would deadlock on, the handshake deadline,
 * a client that half-closes (close_notify or FIN) while its message is
 * being committed,
 * and handshakes that must fail: a TLS 1.1 client, a CBC-only client, an
 * RSA-key-exchange-only client, garbage instead of a ClientHello.
 *
 * Without CONFIG_TLS there is nothing to test: it says so and skips.
 */
#include <config.h>

#include <stdio.h>

#if !CFG_TLS
int main(void)
{
	printf("1..0 # SKIP CONFIG_TLS is off\n");
	return 0;
}
#else

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp_engine.h"
#include "tls.h"
#include "tap.h"

static char dir[] = "/tmp/mailnook-t_tls-XXXXXX";

/* ---- helpers -------------------------------------------------------------- */

static const char *path(const char *name)
{
	static char buf[8][512];
	static unsigned k;
	char *p = buf[k++ % 8];

	snprintf(p, sizeof buf[0], "%s/%s", dir, name);
	return p;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[4096];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof cmd, "cd '%s' && { ", dir);
	va_start(ap, fmt);
	n += vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
	va_end(ap);
	snprintf(cmd + n, sizeof cmd - (size_t)n, "; } >/dev/null 2>&1");
	return system(cmd);
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "w");

	if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", name);
		exit(1);
	}
}

static char errs[8][600];
static unsigned n_errs;
static int err_which[8];

static void on_err(void *ctx, enum tls_key_option which, unsigned pair,
                   const char *msg)
{
	(void)ctx;
	(void)pair;
	if (n_errs < 8) {
		snprintf(errs[n_errs], sizeof errs[0], "%s", msg);
		err_which[n_errs] = which;
	}
	n_errs++;
}

static unsigned load(const char *cert, const char *key)
{
	n_errs = 0;
	memset(errs, 0, sizeof errs);
	char cp[512], kp[512];
	const char *c = cp, *k = kp;

	snprintf(cp, sizeof cp, "%s", path(cert));
	snprintf(kp, sizeof kp, "%s", path(key));
	return tls_keys_load(&c, &k, 1, on_err, NULL);
}

/* one error, from the expected option, containing text */
static void refused(const char *cert, const char *key, int which,
                    const char *text, const char *name)
{
	unsigned n = load(cert, key);

	if (!ok(n == 1 && err_which[0] == which && strstr(errs[0], text),
	        "%s", name)) {
		unsigned i;

		printf("#   %u errors\n", n);
		for (i = 0; i < n && i < 8; i++)
			printf("#   [%s] %s\n", err_which[i] ? "key" : "cert",
			       errs[i]);
	}
}

/* loads without an error */
static int loaded(const char *cert, const char *key, const char *name)
{
	unsigned n = load(cert, key), i;

	if (!ok(n == 0, "%s", name))
		for (i = 0; i < n && i < 8; i++)
			printf("#   [%s] %s\n", err_which[i] ? "key" : "cert",
			       errs[i]);
	return n == 0;
}

/* ---- the key material ------------------------------------------------------ */

static int make_keys(void)
{
	static const char *const cmds[] = {
		/* RSA-2048, PKCS#8 and traditional forms */
		"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key",
		"openssl req -new -x509 -key rsa.key -subj /CN=mx.test -days 2 -out rsa.crt",
		"openssl rsa -in rsa.key -traditional -out rsa-trad.key",
		"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2.key",
		/* EC P-256 as ecparam writes it (EC PARAMETERS + EC PRIVATE KEY) */
		"openssl ecparam -name prime256v1 -genkey -out ec.key",
		"openssl req -new -x509 -key ec.key -subj /CN=mx.test -days 2 -out ec.crt",
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec2.key",
		"openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.key",
		"openssl req -new -x509 -key p384.key -subj /CN=mx.test -days 2 -out p384.crt",
		/* a chain: an RSA intermediate signs an EC leaf */
		"openssl req -new -x509 -key rsa2.key -subj /CN=Test-CA -days 2 -out ca.crt",
		"openssl req -new -key ec2.key -subj /CN=mx.test -out leaf.csr",
		"openssl x509 -req -in leaf.csr -CA ca.crt -CAkey rsa2.key -CAcreateserial -days 2 -out leaf.crt",
		"cat leaf.crt ca.crt > chain.crt",
		/* encrypted keys */
		"openssl pkcs8 -topk8 -in ec.key -passout pass:secret -out enc8.key",
		"openssl rsa -in rsa.key -aes128 -passout pass:secret -traditional -out enctrad.key",
		/* combined file, and a chain of nine */
		"cat ec.crt ec.key > combined.pem",
		"cat ec.crt ec.crt ec.crt ec.crt ec.crt ec.crt ec.crt ec.crt ec.crt > nine.crt",
		/* a certificate whose DER is cut short */
		"openssl x509 -in ec.crt -outform DER | head -c 200 | "
		"openssl base64 | sed '1i -----BEGIN CERTIFICATE-----' | "
		"sed '$a -----END CERTIFICATE-----' > short.crt",
		"ln -s /dev/zero zero.crt",
		"head -c 3000 /dev/urandom > binary.crt",
	};
	size_t i;

	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (sh("%s", cmds[i]) != 0) {
			printf("# failed: %s\n", cmds[i]);
			return -1;
		}
	}
	write_file("garbage.crt", "this is not a certificate\n");
	write_file("badb64.crt", "-----BEGIN CERTIFICATE-----\n"
	           "MIIB!!!not*base64@@@\n-----END CERTIFICATE-----\n");
	write_file("nocert.crt", "");
	return 0;
}

static void test_keys(void)
{
	const struct tls_keys *k;
	char d[32];

	loaded("rsa.crt", "rsa.key", "RSA-2048 certificate and PKCS#8 key load");
	k = tls_keys_spare();
	is_int(k->cred[0].key_type, BR_KEYTYPE_RSA, "  RSA key");
	is_int(k->cred[0].chain_len, 1, "  one certificate");
	is_str(tls_keys_describe(&k->cred[0], d, sizeof d), "RSA-2048", "  described as RSA-2048");

	loaded("rsa.crt", "rsa-trad.key", "RSA key in the traditional form (RSA PRIVATE KEY)");

	loaded("ec.crt", "ec.key", "EC P-256: EC PARAMETERS + EC PRIVATE KEY");
	k = tls_keys_spare();
	is_int(k->cred[0].key_type, BR_KEYTYPE_EC, "  EC key");
	is_int(k->cred[0].sk.ec.curve, BR_EC_secp256r1, "  on P-256");
	is_str(tls_keys_describe(&k->cred[0], d, sizeof d), "EC-P256", "  described as EC-P256");

	loaded("p384.crt", "p384.key", "EC P-384");

	loaded("chain.crt", "ec2.key", "a chain of two: EC leaf signed by an RSA CA");
	k = tls_keys_spare();
	is_int(k->cred[0].chain_len, 2, "  two certificates");
	is_int(k->cred[0].key_type, BR_KEYTYPE_EC, "  the leaf's key type");
	is_int(k->cred[0].issuer_key_type, BR_KEYTYPE_RSA, "  issuer key type RSA");

	loaded("combined.pem", "combined.pem", "one file holding certificate and key serves as both");

	refused("ec.crt", "enc8.key", TLS_OPT_KEY, "tls-key: ", "encrypted PKCS#8 key: names tls-key");
	refused("ec.crt", "enc8.key", TLS_OPT_KEY, "encrypted keys are not supported",
	        "encrypted PKCS#8 key refused");
	refused("rsa.crt", "enctrad.key", TLS_OPT_KEY, "encrypted keys are not supported",
	        "encrypted traditional key (Proc-Type: 4,ENCRYPTED) refused");
	refused("garbage.crt", "ec.key", TLS_OPT_CERT, "no certificate found",
	        "a file without PEM: no certificate found");
	refused("nocert.crt", "ec.key", TLS_OPT_CERT, "no certificate found",
	        "an empty file: no certificate found");
	refused("ec.key", "ec.key", TLS_OPT_CERT, "no certificate found",
	        "a key file as certificate: no certificate found");
	refused("badb64.crt", "ec.key", TLS_OPT_CERT, "malformed PEM",
	        "bad Base64 refused");
	refused("short.crt", "ec.key", TLS_OPT_CERT, "certificate 1:",
	        "a certificate with truncated DER refused");
	refused("ec.crt", "ec.crt", TLS_OPT_KEY, "no private key found",
	        "a certificate as key: no private key found");
	refused("ec.crt", "ec2.key", TLS_OPT_KEY, "key does not match certificate",
	        "EC: another P-256 key refused");
	refused("rsa.crt", "rsa2.key", TLS_OPT_KEY, "key does not match certificate",
	        "RSA: another RSA key refused");
	refused("rsa.crt", "ec.key", TLS_OPT_KEY, "key does not match certificate",
	        "RSA certificate with an EC key refused");
	refused("p384.crt", "ec.key", TLS_OPT_KEY, "key does not match certificate",
	        "P-384 certificate with a P-256 key refused");
	refused("nine.crt", "ec.key", TLS_OPT_CERT, "more than 8 certificates",
	        "a chain of nine refused");
	refused("zero.crt", "ec.key", TLS_OPT_CERT, "file too large",
	        "an endless file (/dev/zero) refused, not read forever");
	refused("binary.crt", "ec.key", TLS_OPT_CERT, "",
	        "random binary data refused");
	refused("missing.crt", "ec.key", TLS_OPT_CERT, "No such file",
	        "a missing file: the system's reason");
	ok(strstr(errs[0], path("missing.crt")) != NULL, "  the message names the file");

	/* both broken: both reported */
	is_int(load("garbage.crt", "enc8.key"), 2, "a bad certificate and a bad key: two errors");
	ok(err_which[0] == TLS_OPT_CERT && err_which[1] == TLS_OPT_KEY,
	   "  one for tls-cert, one for tls-key");

	/* a failed load leaves nothing in the spare store */
	ok(!tls_keys_spare()->loaded, "a failed load leaves the store empty");
}

/* ---- the in-process client ------------------------------------------------ */

struct client {
	br_ssl_client_context cc;
	br_x509_minimal_context xm;
	br_x509_knownkey_context xk;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	int fd;
	char got[65536];
	size_t got_len;
	const char *out;
	size_t out_len, out_pos;
	int closed;
};

static struct client cl;
static struct smtp_session sess;

/* a sink that accepts everything and keeps the message */
static char stored[4096];
static size_t stored_len;

static int f_mail(void *ctx, const struct smtp_addr *a, int u)
{
	(void)ctx; (void)a; (void)u;
	return SINK_OK;
}
static int f_rcpt(void *ctx, const struct smtp_addr *a)
{
	(void)ctx; (void)a;
	return RCPT_OK;
}
static int f_begin(void *ctx, char id[SMTP_ID_MAX])
{
	(void)ctx;
	strcpy(id, "TESTID");
	stored_len = 0;
	return SINK_OK;
}
static int f_write(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	if (n > sizeof stored - stored_len)
		return SINK_TEMP;
	memcpy(stored + stored_len, p, n);
	stored_len += n;
	return SINK_OK;
}
static int commit_later;         /* commit() says SINK_PENDING */

static int f_commit(void *ctx)
{
	(void)ctx;
	return commit_later ? SINK_PENDING : SINK_OK;
}
static void f_abort(void *ctx, enum smtp_reject r, uint64_t size)
{
	(void)ctx; (void)r; (void)size;
}
static void f_reset(void *ctx)
{
	(void)ctx;
}

static const struct smtp_sink fake_sink = {
	f_mail, f_rcpt, f_begin, f_write, f_commit, f_abort, f_reset, NULL
};

static void session(int tls_offered, int tls_active)
{
	struct smtp_params p;

	memset(&p, 0, sizeof p);
	p.hostname = "mx.test";
	p.client_ip = "192.0.2.1";
	p.max_size = 65536;
	p.max_rcpt = 100;
	p.timeout = 300;
	p.tls_offered = (uint8_t)tls_offered;
	p.tls_active = (uint8_t)tls_active;
	smtp_session_start(&sess, &p, &fake_sink, NULL, 1000, 1700000000);
}

/* the server key the client accepts (with two, the one it should get) */
static unsigned client_knows;

static void client_init(int fd, unsigned vmin, unsigned vmax,
                        const uint16_t *suites, size_t n_suites,
                        const br_ssl_session_parameters *resume)
{
	const struct tls_cred *k = &tls_keys_current()->cred[client_knows];

	memset(&cl, 0, sizeof cl);
	cl.fd = fd;
	br_ssl_client_init_full(&cl.cc, &cl.xm, NULL, 0);
	if (k->pub.key_type == BR_KEYTYPE_RSA)
		br_x509_knownkey_init_rsa(&cl.xk, &k->pub.key.rsa,
		                          BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
	else
		br_x509_knownkey_init_ec(&cl.xk, &k->pub.key.ec,
		                         BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN);
	br_ssl_engine_set_x509(&cl.cc.eng, &cl.xk.vtable);
	br_ssl_engine_set_versions(&cl.cc.eng, vmin, vmax);
	if (suites)
		br_ssl_engine_set_suites(&cl.cc.eng, suites, n_suites);
	br_ssl_engine_set_buffer(&cl.cc.eng, cl.iobuf, sizeof cl.iobuf, 1);
	if (resume)
		br_ssl_engine_set_session_parameters(&cl.cc.eng, resume);
	if (!br_ssl_client_reset(&cl.cc, "mx.test", resume != NULL)) {
		printf("Bail out! br_ssl_client_reset failed\n");
		exit(1);
	}
}

static void client_send(const char *s, size_t n)
{
	cl.out = s;
	cl.out_len = n;
	cl.out_pos = 0;
}

/* Moves the client's bytes as far as they go without blocking. */
static void client_pump(void)
{
	br_ssl_engine_context *eng = &cl.cc.eng;

	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		size_t len;
		unsigned char *b;
		ssize_t n;

		if (st & BR_SSL_CLOSED) {
			cl.closed = 1;
			return;
		}
		if (st & BR_SSL_RECVAPP) {
			b = br_ssl_engine_recvapp_buf(eng, &len);
			if (len > sizeof cl.got - cl.got_len)
				len = sizeof cl.got - cl.got_len;
			if (len) {
				memcpy(cl.got + cl.got_len, b, len);
				cl.got_len += len;
				br_ssl_engine_recvapp_ack(eng, len);
				continue;
			}
		}
		if ((st & BR_SSL_SENDAPP) && cl.out_pos < cl.out_len) {
			b = br_ssl_engine_sendapp_buf(eng, &len);
			if (len > cl.out_len - cl.out_pos)
				len = cl.out_len - cl.out_pos;
			memcpy(b, cl.out + cl.out_pos, len);
			cl.out_pos += len;
			br_ssl_engine_sendapp_ack(eng, len);
			if (cl.out_pos == cl.out_len)
				br_ssl_engine_flush(eng, 0);
			continue;
		}
		if (st & BR_SSL_SENDREC) {
			b = br_ssl_engine_sendrec_buf(eng, &len);
			n = send(cl.fd, b, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)n);
				continue;
			}
		}
		if (st & BR_SSL_RECVREC) {
			b = br_ssl_engine_recvrec_buf(eng, &len);
			n = recv(cl.fd, b, len, MSG_DONTWAIT);
			if (n > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)n);
				continue;
			}
			if (n == 0) {
				cl.closed = 1;
				return;
			}
		}
		return;
	}
}

static int sv[2];
static struct tls_conn *conn;
static int server_rc;

static void pair(void)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) {
		printf("Bail out! socketpair: %s\n", strerror(errno));
		exit(1);
	}
}

static void unpair(void)
{
	close(sv[0]);
	close(sv[1]);
}

/* A socket pair and an implicit-TLS session on slot's TLS state, started
 * at 1000 ms with a handshake timeout of timeout_ms: tls_conn_start()'s
 * result. */
static int start_implicit(unsigned slot, int64_t timeout_ms)
{
	pair();
	session(0, 1);
	conn = tls_conn_get(slot);
	server_rc = 0;
	return tls_conn_start(conn, 1, BR_TLS12, 1000, timeout_ms);
}

/* Runs server and client by turns until cond() holds, the server is done,
 * or nothing moves for a while.  Returns cond(). */
static int run(int (*cond)(void), int64_t now_ms)
{
	int rounds;

	for (rounds = 0; rounds < 20000; rounds++) {
		if (cond())
			return 1;
		if (server_rc != TLS_PUMP_DONE)
			server_rc = tls_conn_pump(conn, sv[0], &sess, POLLIN, now_ms);
		client_pump();
		if (server_rc == TLS_PUMP_DONE && cl.closed)
			break;
	}
	return cond();
}

static int c_established(void)
{
	return tls_conn_established(conn) &&
	       (br_ssl_engine_current_state(&cl.cc.eng) & BR_SSL_SENDAPP);
}

static const char *want_text;
static int c_got(void)
{
	return memmem(cl.got, cl.got_len, want_text, strlen(want_text)) != NULL;
}

static int c_server_done(void)
{
	return server_rc == TLS_PUMP_DONE;
}

static int c_never(void)
{
	return 0;
}

static int wait_for(const char *text)
{
	want_text = text;
	return run(c_got, 1000);
}

static void say(const char *text)
{
	client_send(text, strlen(text));
}

static void test_implicit(const char *label, br_ssl_session_parameters *save)
{
	char err[64];

	is_int(start_implicit(0, 60000), 0, "%s: implicit TLS starts", label);
	client_init(sv[1], BR_TLS10, BR_TLS12, NULL, 0, NULL);
	ok(run(c_established, 1000), "%s: handshake completes", label);
	is_str(tls_conn_version(conn), "TLSv1.2", "%s: TLS 1.2", label);
	ok(strstr(tls_conn_suite(conn), "GCM") || strstr(tls_conn_suite(conn), "CHACHA20"),
	   "%s: an AEAD suite (%s)", label, tls_conn_suite(conn));
	ok(strncmp(tls_conn_suite(conn), "ECDHE-", 6) == 0, "%s: ECDHE key exchange", label);
	ok(wait_for("220 mx.test ESMTP"), "%s: the greeting arrives through TLS", label);
	say("EHLO client.test\r\n");
	ok(wait_for("250 HELP\r\n"), "%s: EHLO answered", label);
	ok(!memmem(cl.got, cl.got_len, "STARTTLS", 8), "%s: no STARTTLS inside TLS", label);
	cl.got_len = 0;
	say("MAIL FROM:<a@b.test>\r\nRCPT TO:<u@mx.test>\r\nDATA\r\n");
	ok(wait_for("354 "), "%s: DATA accepted", label);
	say("Subject: over TLS\r\n\r\nbody line\r\n..dot\r\n.\r\n");
	ok(wait_for("250 2.0.0 Ok: delivered as TESTID\r\n"), "%s: message delivered", label);
	ok(memmem(stored, stored_len, "with ESMTPS id TESTID", 21) != NULL,
	   "%s: Received says ESMTPS", label);
	ok(stored_len > 0 && memmem(stored, stored_len, "\nSubject: over TLS\n\nbody line\n.dot\n", 34),
	   "%s: body stored, dot-unstuffed", label);
	if (save)
		br_ssl_engine_get_session_parameters(&cl.cc.eng, save);
	cl.got_len = 0;
	say("QUIT\r\n");
	ok(wait_for("221 2.0.0"), "%s: QUIT answered", label);
	run(c_server_done, 1000);
	is_int(server_rc, TLS_PUMP_DONE, "%s: the server side finishes", label);
	is_str(session_end_name(tls_conn_why(conn)), "quit", "%s: because the session ended", label);
	is_str(tls_conn_error(conn, err, sizeof err), "", "%s: no TLS error", label);
	client_pump();
	ok(cl.closed && br_ssl_engine_last_error(&cl.cc.eng) == BR_ERR_OK,
	   "%s: the client got close_notify", label);
	tls_conn_stop(conn);
	unpair();
}

static void test_resume(const br_ssl_session_parameters *saved)
{
	br_ssl_session_parameters now;

	start_implicit(1, 60000);
	client_init(sv[1], BR_TLS12, BR_TLS12, NULL, 0, saved);
	ok(run(c_established, 1000), "resumption: handshake completes");
	br_ssl_engine_get_session_parameters(&cl.cc.eng, &now);
	ok(saved->session_id_len > 0 && now.session_id_len == saved->session_id_len &&
	   memcmp(now.session_id, saved->session_id, now.session_id_len) == 0,
	   "resumption: the session cache resumed the earlier session "
	   "(on another connection slot)");
	ok(wait_for("220 mx.test"), "resumption: greeting");
	tls_conn_stop(conn);
	unpair();
}

static void test_starttls(void)
{
	uint8_t *p;
	size_t len;
	const char *out;
	const char *cmds = "EHLO plain.test\r\nSTARTTLS\r\nRSET\r\n";
	const char *go = "220 2.0.0 Ready to start TLS\r\n";
	char plain[2048];
	size_t plain_len = 0;

	pair();
	session(1, 0);
	conn = tls_conn_get(0);
	server_rc = 0;
	/* the plaintext phase, as the loop does it */
	p = smtp_recv_buf(&sess, &len);
	memcpy(p, cmds, strlen(cmds));
	smtp_recv_ack(&sess, strlen(cmds));
	while ((out = smtp_send_buf(&sess, &len)) && len) {
		memcpy(plain + plain_len, out, len);
		plain_len += len;
		smtp_send_ack(&sess, len);
	}
	plain[plain_len] = '\0';
	ok(strstr(plain, "250-STARTTLS\r\n") != NULL, "STARTTLS: offered in plaintext");
	ok(plain_len > strlen(go) && strcmp(plain + plain_len - strlen(go), go) == 0,
	   "STARTTLS: 220, and nothing for the pipelined RSET");
	ok(smtp_state(&sess) & SMTP_START_TLS, "STARTTLS: the engine asks for the handshake");
	is_int(tls_conn_start(conn, 0, BR_TLS12, 1000, 60000), 0, "STARTTLS: handshake starts");
	client_init(sv[1], BR_TLS12, BR_TLS12, NULL, 0, NULL);
	ok(run(c_established, 1000), "STARTTLS: handshake completes");
	ok(sess.tls && sess.phase == PHASE_GREETING, "STARTTLS: the session started over");
	say("EHLO tls.test\r\n");
	ok(wait_for("250 HELP\r\n"), "STARTTLS: EHLO answered inside TLS");
	ok(cl.got_len > 13 && memcmp(cl.got, "250-mx.test\r\n", 13) == 0,
	   "STARTTLS: the first reply inside TLS is EHLO's (the RSET was never run)");
	ok(!memmem(cl.got, cl.got_len, "STARTTLS", 8), "STARTTLS: not offered again");
	cl.got_len = 0;
	say("STARTTLS\r\n");
	ok(wait_for("503 5.5.1"), "STARTTLS: a second STARTTLS gets 503 5.5.1");
	tls_conn_stop(conn);
	unpair();
}

/* 16 KiB of pipelined NOOPs in one record: the replies (38 KiB) overflow
 * the engine's reply buffer many times over while most of the record is
 * still unread.  With a shared half-duplex buffer this deadlocks. */
static char flood[16384];

static void test_pipelined_record(void)
{
	size_t n = 0, i, count = 0;
	const char *q;

	start_implicit(0, 60000);
	client_init(sv[1], BR_TLS12, BR_TLS12, NULL, 0, NULL);
	ok(wait_for("220 mx.test"), "pipelining: greeting");
	n = (size_t)snprintf(flood, sizeof flood, "EHLO flood.test\r\n");
	for (i = 0; n + 6 <= sizeof flood - 6; i++) {
		memcpy(flood + n, "NOOP\r\n", 6);
		n += 6;
	}
	memcpy(flood + n, "QUIT\r\n", 6);
	n += 6;
	cl.got_len = 0;
	client_send(flood, n);
	ok(wait_for("221 2.0.0"), "pipelining: %zu commands in one 16 KiB record all answered", i + 2);
	for (q = cl.got; (q = memmem(q, cl.got_len - (size_t)(q - cl.got), "250 2.0.0 Ok\r\n", 14)); q += 14)
		count++;
	is_int(count, i, "pipelining: one 250 per NOOP, in order");
	tls_conn_stop(conn);
	unpair();
}

static void refused_handshake(const char *label, unsigned vmax,
                              const uint16_t *suites, size_t n, const char *why,
                              const char *failure)
{
	char err[64];
	unsigned v = 0;

	start_implicit(0, 60000);
	client_init(sv[1], BR_TLS10, vmax, suites, n, NULL);
	run(c_server_done, 1000);
	is_int(server_rc, TLS_PUMP_DONE, "%s: refused", label);
	is_str(session_end_name(tls_conn_why(conn)), "tls-error", "%s: as a TLS error", label);
	ok(strstr(tls_conn_error(conn, err, sizeof err), why) != NULL,
	   "%s: %s", label, err);
	ok(!memmem(cl.got, cl.got_len, "220", 3), "%s: no greeting leaked", label);
	is_str(tls_conn_failure(conn, &v, err, sizeof err), failure,
	       "%s: logged as tls=failed reason=%s", label, failure);
	is_int(v, vmax, "%s: with the client's highest version", label);
	tls_conn_stop(conn);
	unpair();
}

static void test_refusals(void)
{
	static const uint16_t cbc[] = {
		BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	};
	static const uint16_t rsa_kx[] = {
		BR_TLS_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_RSA_WITH_AES_256_GCM_SHA384,
	};

	refused_handshake("TLS 1.1 client", BR_TLS11, NULL, 0, "",
	                  "no-common-version");
	refused_handshake("CBC-only client", BR_TLS12, cbc, 4, "",
	                  "no-common-suite");
	refused_handshake("RSA-key-exchange-only client", BR_TLS12, rsa_kx, 2, "",
	                  "no-common-suite");
}

/* garbage on one connection while another handshakes and talks */
static struct smtp_session sess2;

static void test_garbage(void)
{
	static const char junk[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
	struct tls_conn *bad = tls_conn_get(1);
	int bsv[2], brc = 0, rounds;
	struct smtp_params p;
	char err[64];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, bsv) != 0)
		return;
	memset(&p, 0, sizeof p);
	p.hostname = "mx.test";
	p.client_ip = "192.0.2.9";
	p.max_size = 65536;
	p.max_rcpt = 100;
	p.timeout = 300;
	p.tls_active = 1;
	smtp_session_start(&sess2, &p, &fake_sink, NULL, 1000, 1700000000);
	tls_conn_start(bad, 1, BR_TLS12, 1000, 60000);
	if (write(bsv[1], junk, sizeof junk - 1) < 0)
		return;

	start_implicit(0, 60000);
	client_init(sv[1], BR_TLS12, BR_TLS12, NULL, 0, NULL);
	for (rounds = 0; rounds < 100 && brc != TLS_PUMP_DONE; rounds++) {
		brc = tls_conn_pump(bad, bsv[0], &sess2, POLLIN, 1000);
		server_rc = tls_conn_pump(conn, sv[0], &sess, POLLIN, 1000);
		client_pump();
	}
	is_int(brc, TLS_PUMP_DONE, "garbage instead of a ClientHello: that connection ends");
	is_str(session_end_name(tls_conn_why(bad)), "tls-error", "garbage: as a TLS error (%s)",
	       tls_conn_error(bad, err, sizeof err));
	{
		unsigned v = 1;

		is_str(tls_conn_failure(bad, &v, err, sizeof err), "bad-record",
		       "garbage: logged as tls=failed reason=bad-record");
		is_int(v, 0, "garbage: no client version");
	}
	ok(wait_for("220 mx.test"), "garbage: the other connection is served meanwhile");
	tls_conn_stop(bad);
	tls_conn_stop(conn);
	close(bsv[0]);
	close(bsv[1]);
	unpair();
}

static void test_deadline(void)
{
	start_implicit(0, 5000);
	is_int(tls_conn_deadline(conn), 6000, "stalled handshake: deadline = start + timeout");
	server_rc = tls_conn_pump(conn, sv[0], &sess, 0, 5999);
	is_int(server_rc, POLLIN, "stalled handshake: waits for the ClientHello before the deadline");
	if (write(sv[1], "\x16\x03\x01\x00", 4) < 0)       /* half a record header */
		return;
	server_rc = tls_conn_pump(conn, sv[0], &sess, POLLIN, 5999);
	is_int(server_rc, POLLIN, "stalled handshake: a partial record keeps it waiting");
	server_rc = tls_conn_pump(conn, sv[0], &sess, 0, 6000);
	is_int(server_rc, TLS_PUMP_DONE, "stalled handshake: ends at the deadline");
	is_str(session_end_name(tls_conn_why(conn)), "tls-timeout", "stalled handshake: as tls-timeout");
	is_int(tls_conn_deadline(conn), INT64_MAX, "stalled handshake: no deadline once done");
	tls_conn_stop(conn);
	unpair();
}

static void test_peer_close(void)
{
	start_implicit(0, 60000);
	client_init(sv[1], BR_TLS12, BR_TLS12, NULL, 0, NULL);
	ok(wait_for("220 mx.test"), "peer close: greeting");
	shutdown(sv[1], SHUT_WR);
	run(c_server_done, 1000);
	is_str(session_end_name(tls_conn_why(conn)), "closed", "peer close: the TCP close ends the connection");
	tls_conn_stop(conn);
	unpair();
	(void)c_never;
}

/* The client sends the end of its message and QUIT in one record while
 * the commit is pending, then half-closes: with a close_notify first
 * (notify), or with the FIN alone.  Every reply must still go out before
 * the server's close_notify. */
static void half_close(const char *label, int notify)
{
	static const char last[] = "Subject: h\r\n\r\nbody\r\n.\r\nQUIT\r\n";
	unsigned char raw[4096];
	size_t got = 0, i;
	int app = 0, alert_last = 0, k;
	ssize_t n;

	start_implicit(0, 60000);
	client_init(sv[1], BR_TLS12, BR_TLS12, NULL, 0, NULL);
	ok(wait_for("220 mx.test"), "%s: greeting", label);
	say("EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<u@mx.test>\r\nDATA\r\n");
	ok(wait_for("354 "), "%s: DATA accepted", label);
	cl.got_len = 0;
	commit_later = 1;
	say(last);
	client_pump();
	if (notify) {
		/* BearSSL's client drops what comes after its close_notify:
		 * from here on the server's records are read raw */
		br_ssl_engine_close(&cl.cc.eng);
		client_pump();
	}
	ok(shutdown(sv[1], SHUT_WR) == 0, "%s: the client half-closes", label);
	for (k = 0; k < 20; k++)
		server_rc = tls_conn_pump(conn, sv[0], &sess, POLLIN, 1000);
	ok(server_rc != TLS_PUMP_DONE && (smtp_state(&sess) & SMTP_COMMITTING),
	   "%s: the half-close does not end it while the commit is pending", label);
	ok(!(server_rc & POLLIN), "%s: and input is no longer polled for", label);
	commit_later = 0;
	smtp_commit_done(&sess, SINK_OK);
	for (k = 0; k < 20 && server_rc != TLS_PUMP_DONE; k++)
		server_rc = tls_conn_pump(conn, sv[0], &sess, 0, 1000);
	is_int(server_rc, TLS_PUMP_DONE, "%s: done once the replies are written", label);
	is_str(session_end_name(tls_conn_why(conn)), "quit", "%s: ended by the QUIT", label);
	if (notify) {
		while (got < sizeof raw &&
		       (n = recv(sv[1], raw + got, sizeof raw - got, MSG_DONTWAIT)) > 0)
			got += (size_t)n;
		for (i = 0; i + 5 <= got; i += 5 + (size_t)(raw[i + 3] << 8 | raw[i + 4])) {
			app += raw[i] == 23;
			alert_last = raw[i] == 21;
		}
		ok(app >= 1 && alert_last && i == got,
		   "%s: application records (the replies), then the close_notify", label);
	} else {
		want_text = "221 2.0.0";
		for (k = 0; k < 100 && !c_got(); k++)
			client_pump();
		ok(memmem(cl.got, cl.got_len, "250 2.0.0 Ok: delivered as TESTID\r\n", 35) &&
		   c_got(), "%s: the client reads the 250 and the 221", label);
	}
	tls_conn_stop(conn);
	unpair();
}

/* An RSA and an EC pair: each client gets the certificate it can use. */
static void test_two_keys(void)
{
	static const uint16_t rsa_only[] = {
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	};
	const char *certs[2], *keys[2];
	char d[32];
	unsigned v = 0;

	certs[0] = path("rsa.crt");
	keys[0] = path("rsa.key");
	certs[1] = path("ec.crt");
	keys[1] = path("ec.key");
	n_errs = 0;
	is_int(tls_keys_load(certs, keys, 2, on_err, NULL), 0, "two pairs: RSA and EC load");
	is_int(tls_keys_spare()->n_cred, 2, "  two credentials");
	is_str(tls_keys_describe(&tls_keys_spare()->cred[1], d, sizeof d), "EC-P256",
	       "  the second is the EC one");
	tls_keys_activate();

	client_knows = 1;
	start_implicit(0, 60000);
	client_init(sv[1], BR_TLS12, BR_TLS12, NULL, 0, NULL);
	ok(run(c_established, 1000), "two keys: a client that can do both gets EC");
	ok(strncmp(tls_conn_suite(conn), "ECDHE-ECDSA-", 12) == 0, "  %s", tls_conn_suite(conn));
	ok(wait_for("220 mx.test"), "  greeting");
	tls_conn_stop(conn);
	unpair();

	client_knows = 0;
	start_implicit(0, 60000);
	client_init(sv[1], BR_TLS12, BR_TLS12, rsa_only, 1, NULL);
	ok(run(c_established, 1000), "two keys: an RSA-only client gets the RSA certificate");
	is_str(tls_conn_suite(conn), "ECDHE-RSA-AES128-GCM-SHA256", "  and its suite");
	ok(wait_for("220 mx.test"), "  greeting");
	ok(tls_conn_failure(conn, &v, d, sizeof d) == NULL, "  not a failure");
	tls_conn_stop(conn);
	unpair();

	certs[1] = path("rsa.crt");
	keys[1] = path("rsa.key");
	n_errs = 0;
	is_int(tls_keys_load(certs, keys, 2, on_err, NULL), 1, "two RSA pairs: an error");
	ok(err_which[0] == TLS_OPT_CERT && strstr(errs[0], "same key type"),
	   "  at the second tls-cert: %s", errs[0]);
}

int main(void)
{
	const char *why = NULL;
	br_ssl_session_parameters saved;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		printf("1..0 # SKIP the openssl command is needed to make keys\n");
		return 0;
	}
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	if (make_keys() != 0) {
		sh("rm -rf '%s'", dir);
		printf("Bail out! openssl could not make the test keys\n");
		return 1;
	}
	is_int(tls_init(&why), 0, "tls_init seeds from getrandom()");

	test_keys();

	/* EC P-256 server */
	loaded("ec.crt", "ec.key", "EC server keys");
	tls_keys_activate();
	ok(tls_keys_current() == tls_keys_spare() ? 0 : 1, "activated: spare is now the other store");
	test_implicit("EC P-256", &saved);
	test_resume(&saved);
	test_starttls();
	test_pipelined_record();
	test_deadline();
	test_peer_close();
	half_close("half-close with close_notify", 1);
	half_close("half-close with the FIN alone", 0);

	/* RSA-2048 server */
	loaded("rsa.crt", "rsa.key", "RSA server keys");
	is_int(tls_keys_spare_busy(), 0, "no handshake uses the spare store");
	tls_keys_activate();
	test_implicit("RSA-2048", NULL);
	test_refusals();
	test_garbage();
	test_two_keys();

	/* a chain: the client knows the leaf's key */
	loaded("chain.crt", "ec2.key", "chain server keys");
	tls_keys_activate();
	test_implicit("EC leaf + RSA CA chain", NULL);

	sh("rm -rf '%s'", dir);
	return tap_done();
}

#endif
