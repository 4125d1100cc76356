/*
 * The server's certificate chain and private key: PEM files in, DER and key
 * elements out, into one of two fixed stores.  See tls.h.
 *
 * Both files are streamed through BearSSL's PEM decoder in small reads, so
 * a file of any length costs TLS_READ_CHUNK bytes of buffer; only the
 * decoded objects are kept.  The certificates go into the store as DER, the
 * first one is decoded (br_x509_decoder) for its public key, the key object
 * is decoded as it streams (br_skey_decoder) and its elements copied into
 * the store.  Then the key must be the certificate's (tls_cred.c).
 */
#include "tls.h"
#include "fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define TLS_READ_CHUNK 1024
#define TLS_FILE_MAX   (1024 * 1024)   /* a PEM file larger is a mistake */
#define TLS_MSG_MAX    (4096 + 200)

static struct tls_keys stores[2];
static int current_store = -1;

static struct tls_keys *spare_store(void)
{
	return &stores[current_store < 0 ? 0 : current_store ^ 1];
}

const struct tls_keys *tls_keys_current(void)
{
	return current_store < 0 ? NULL : &stores[current_store];
}

const struct tls_keys *tls_keys_spare(void)
{
	return spare_store();
}

void tls_keys_activate(void)
{
	struct tls_keys *k = spare_store();

	if (!k->loaded)
		return;
	current_store = (int)(k - stores);
}

/* ---- loading state (one load at a time: one thread) --------------------- */

struct load {
	struct tls_keys *k;
	struct tls_cred *cr;    /* the pair being read */
	unsigned pair;
	tls_error_fn *err;
	void *ctx;
	unsigned errors;
	enum tls_key_option which;
	const char *path;
	uint8_t overflow;       /* the store is full */

	/* the object being decoded */
	enum { OBJ_SKIP, OBJ_CERT, OBJ_KEY } obj;
	size_t obj_start;       /* OBJ_CERT: its offset in the pool */

	unsigned n_keys;        /* private key objects seen */
	unsigned encrypted;     /* "4,ENCRYPTED" seen in the key file */
	size_t enc_match;       /* how much of it matched so far */
};

static br_pem_decoder_context pem;
static br_x509_decoder_context x509;
static br_skey_decoder_context skey;
static unsigned char chunk[TLS_READ_CHUNK];

static void report(struct load *L, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void report(struct load *L, const char *fmt, ...)
{
	char msg[TLS_MSG_MAX];
	int n;
	va_list ap;

	n = fmt_into(msg, sizeof msg, "%s: %s: ",
	             L->which == TLS_OPT_CERT ? "tls-cert" : "tls-key", L->path);
	if (n < 0 || (size_t)n >= sizeof msg)
		n = 0;
	va_start(ap, fmt);
	(void)fmt_vinto(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	L->errors++;
	L->err(L->ctx, L->which, L->pair, msg);
}

static void *pool_take(struct load *L, size_t n)
{
	struct tls_keys *k = L->k;
	void *p;

	if (n > sizeof k->pool - k->used) {
		L->overflow = 1;
		return NULL;
	}
	p = k->pool + k->used;
	k->used += n;
	return p;
}

static unsigned char *pool_copy(struct load *L, const void *src, size_t n)
{
	unsigned char *p = pool_take(L, n);

	if (p && n)
		memcpy(p, src, n);
	return p;
}

/* PEM decoder destinations */
static void cert_bytes(void *ctx, const void *src, size_t n)
{
	struct load *L = ctx;

	if (L->overflow)
		return;
	if (!pool_copy(L, src, n))
		L->overflow = 1;
}

static void key_bytes(void *ctx, const void *src, size_t n)
{
	(void)ctx;
	br_skey_decoder_push(&skey, src, n);
}

/* Traditional OpenSSL encryption puts "Proc-Type: 4,ENCRYPTED" inside the
 * object, which the PEM decoder only sees as bad Base64: look for it in the
 * raw bytes.  The pattern repeats no prefix of itself, so a mismatch can
 * only restart the match at the current byte. */
static void scan_encrypted(struct load *L, const unsigned char *p, size_t n)
{
	static const char pat[] = "4,ENCRYPTED";
	size_t i;

	for (i = 0; i < n && !L->encrypted; i++) {
		if (p[i] == (unsigned char)pat[L->enc_match])
			L->enc_match++;
		else
			L->enc_match = p[i] == (unsigned char)pat[0];
		if (L->enc_match == sizeof pat - 1)
			L->encrypted = 1;
	}
}

static int is_cert_name(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 ||
	       strcmp(name, "X509 CERTIFICATE") == 0;
}

static int is_key_name(const char *name)
{
	return strcmp(name, "RSA PRIVATE KEY") == 0 ||
	       strcmp(name, "EC PRIVATE KEY") == 0 ||
	       strcmp(name, "PRIVATE KEY") == 0;
}

static int is_encrypted_name(const char *name)
{
	return strcmp(name, "ENCRYPTED PRIVATE KEY") == 0;
}

/* An object begins: choose where its bytes go.  0, or -1 to stop. */
static int obj_begin(struct load *L, const char *name)
{
	struct tls_cred *k = L->cr;

	L->obj = OBJ_SKIP;
	br_pem_decoder_setdest(&pem, NULL, NULL);
	if (L->which == TLS_OPT_CERT) {
		if (!is_cert_name(name))
			return 0;       /* a key or parameters in a combined file */
		if (k->chain_len >= TLS_MAX_CHAIN) {
			report(L, "more than %d certificates in the chain",
			       TLS_MAX_CHAIN);
			return -1;
		}
		L->obj = OBJ_CERT;
		L->obj_start = L->k->used;
		br_pem_decoder_setdest(&pem, cert_bytes, L);
		return 0;
	}
	if (is_encrypted_name(name)) {
		report(L, "encrypted keys are not supported");
		return -1;
	}
	if (!is_key_name(name))
		return 0;               /* EC PARAMETERS, a certificate... */
	if (++L->n_keys > 1) {
		report(L, "more than one private key");
		return -1;
	}
	L->obj = OBJ_KEY;
	br_skey_decoder_init(&skey);
	br_pem_decoder_setdest(&pem, key_bytes, L);
	return 0;
}

static const char *x509_reason(int e)
{
	switch (e) {
	case BR_ERR_X509_TRUNCATED:
	case BR_ERR_X509_INNER_TRUNC:
		return "truncated";
	case BR_ERR_X509_UNSUPPORTED:
	case BR_ERR_X509_WRONG_KEY_TYPE:
		return "unsupported public key type";
	default:
		return "not a valid DER X.509 certificate";
	}
}

/* The leaf: its public key (copied into the pool) and its issuer's key
 * type.  0, or -1 after a report. */
static int take_leaf_key(struct load *L)
{
	struct tls_cred *k = L->cr;
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&x509);

	if (!pk) {
		report(L, "certificate 1: %s",
		       x509_reason(br_x509_decoder_last_error(&x509)));
		return -1;
	}
	k->issuer_key_type = (unsigned)br_x509_decoder_get_signer_key_type(&x509);
	k->pub.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		k->pub.key.rsa.n = pool_copy(L, pk->key.rsa.n, pk->key.rsa.nlen);
		k->pub.key.rsa.nlen = pk->key.rsa.nlen;
		k->pub.key.rsa.e = pool_copy(L, pk->key.rsa.e, pk->key.rsa.elen);
		k->pub.key.rsa.elen = pk->key.rsa.elen;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		switch (pk->key.ec.curve) {
		case BR_EC_secp256r1:
		case BR_EC_secp384r1:
		case BR_EC_secp521r1:
			break;
		default:
			report(L, "certificate 1: unsupported EC curve (P-256, "
			       "P-384 and P-521 are supported)");
			return -1;
		}
		k->pub.key.ec.curve = pk->key.ec.curve;
		k->pub.key.ec.q = pool_copy(L, pk->key.ec.q, pk->key.ec.qlen);
		k->pub.key.ec.qlen = pk->key.ec.qlen;
	} else {
		report(L, "certificate 1: unsupported public key type");
		return -1;
	}
	return 0;
}

static int obj_end(struct load *L)
{
	struct tls_cred *k = L->cr;

	if (L->obj == OBJ_CERT) {
		br_x509_certificate *c = &k->chain[k->chain_len];
		int e;

		if (L->overflow)
			return 0;       /* reported at the end */
		c->data = L->k->pool + L->obj_start;
		c->data_len = L->k->used - L->obj_start;
		k->chain_len++;
		/* every certificate must at least decode */
		br_x509_decoder_init(&x509, NULL, NULL);
		br_x509_decoder_push(&x509, c->data, c->data_len);
		e = br_x509_decoder_last_error(&x509);
		if (e != 0) {
			report(L, "certificate %zu: %s", k->chain_len,
			       x509_reason(e));
			return -1;
		}
		if (k->chain_len == 1 && take_leaf_key(L) != 0)
			return -1;
	} else if (L->obj == OBJ_KEY) {
		int e = br_skey_decoder_last_error(&skey);

		if (e != 0) {
			report(L, "%s", e == BR_ERR_X509_UNSUPPORTED ?
			       "unsupported private key type or curve" :
			       "malformed private key");
			return -1;
		}
	}
	L->obj = OBJ_SKIP;
	br_pem_decoder_setdest(&pem, NULL, NULL);
	return 0;
}

/* Streams one PEM file through the decoder.  0, or -1 after a report. */
static int read_pem(struct load *L)
{
	int fd, in_obj = 0, rc = 0, eof = 0;
	size_t total = 0;

	fd = open(L->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		report(L, "%s", strerror(errno));
		return -1;
	}
	br_pem_decoder_init(&pem);
	L->obj = OBJ_SKIP;
	while (rc == 0 && !eof) {
		const unsigned char *p = chunk;
		ssize_t got;
		size_t n;

		got = read(fd, chunk, sizeof chunk);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			report(L, "%s", strerror(errno));
			rc = -1;
			break;
		}
		total += (size_t)got;
		if (total > TLS_FILE_MAX) {
			report(L, "file too large (over %d bytes)", TLS_FILE_MAX);
			rc = -1;
			break;
		}
		if (got == 0) {
			/* A last line without its newline is common: end it,
			 * as BearSSL's own tools do. */
			chunk[0] = '\n';
			got = 1;
			eof = 1;
		}
		n = (size_t)got;
		if (L->which == TLS_OPT_KEY)
			scan_encrypted(L, p, n);
		while (n > 0 && rc == 0) {
			size_t used = br_pem_decoder_push(&pem, p, n);
			int ev = br_pem_decoder_event(&pem);

			p += used;
			n -= used;
			if (used == 0 && ev == 0) {
				/* no progress and nothing to say: binary
				 * junk the decoder will not take */
				ev = BR_PEM_ERROR;
			}
			switch (ev) {
			case BR_PEM_BEGIN_OBJ:
				in_obj = 1;
				rc = obj_begin(L, br_pem_decoder_name(&pem));
				break;
			case BR_PEM_END_OBJ:
				in_obj = 0;
				rc = obj_end(L);
				break;
			case BR_PEM_ERROR:
				if (L->which == TLS_OPT_KEY && L->encrypted)
					report(L, "encrypted keys are not "
					       "supported");
				else
					report(L, "malformed PEM data");
				rc = -1;
				break;
			default:
				break;
			}
		}
	}
	if (close(fd) != 0 && rc == 0) {
		report(L, "%s", strerror(errno));
		rc = -1;
	}
	if (rc == 0 && in_obj) {
		report(L, "truncated PEM object (no END line)");
		rc = -1;
	}
	return rc;
}

static int load_cert(struct load *L, const char *path)
{
	struct tls_cred *k = L->cr;

	L->which = TLS_OPT_CERT;
	L->path = path;
	if (read_pem(L) != 0)
		return -1;
	if (L->overflow) {
		report(L, "certificate chain too large (the chain and the key "
		       "must fit in %d bytes)", TLS_KEY_POOL);
		return -1;
	}
	if (k->chain_len == 0) {
		report(L, "no certificate found (expected a PEM "
		       "\"BEGIN CERTIFICATE\" block)");
		return -1;
	}
	return 0;
}

static int load_key(struct load *L, const char *path)
{
	struct tls_cred *k = L->cr;
	int type;

	L->which = TLS_OPT_KEY;
	L->path = path;
	L->n_keys = 0;
	L->encrypted = 0;
	L->enc_match = 0;
	if (read_pem(L) != 0)
		return -1;
	if (L->n_keys == 0) {
		if (L->encrypted)
			report(L, "encrypted keys are not supported");
		else
			report(L, "no private key found (expected a PEM "
			       "\"BEGIN PRIVATE KEY\" block)");
		return -1;
	}
	if (L->encrypted) {
		report(L, "encrypted keys are not supported");
		return -1;
	}
	type = br_skey_decoder_key_type(&skey);
	if (type == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *r = br_skey_decoder_get_rsa(&skey);

		k->sk.rsa.n_bitlen = r->n_bitlen;
		k->sk.rsa.p = pool_copy(L, r->p, r->plen);
		k->sk.rsa.plen = r->plen;
		k->sk.rsa.q = pool_copy(L, r->q, r->qlen);
		k->sk.rsa.qlen = r->qlen;
		k->sk.rsa.dp = pool_copy(L, r->dp, r->dplen);
		k->sk.rsa.dplen = r->dplen;
		k->sk.rsa.dq = pool_copy(L, r->dq, r->dqlen);
		k->sk.rsa.dqlen = r->dqlen;
		k->sk.rsa.iq = pool_copy(L, r->iq, r->iqlen);
		k->sk.rsa.iqlen = r->iqlen;
	} else if (type == BR_KEYTYPE_EC) {
		const br_ec_private_key *e = br_skey_decoder_get_ec(&skey);

		switch (e->curve) {
		case BR_EC_secp256r1:
		case BR_EC_secp384r1:
		case BR_EC_secp521r1:
			break;
		default:
			report(L, "unsupported EC curve (P-256, P-384 and "
			       "P-521 are supported)");
			return -1;
		}
		k->sk.ec.curve = e->curve;
		k->sk.ec.x = pool_copy(L, e->x, e->xlen);
		k->sk.ec.xlen = e->xlen;
	} else {
		report(L, "unsupported private key type");
		return -1;
	}
	if (L->overflow) {
		report(L, "the certificate chain and the key do not fit in %d "
		       "bytes", TLS_KEY_POOL);
		return -1;
	}
	k->key_type = type;
	return 0;
}

/* One pair into L->cr.  0, or the number of errors. */
static unsigned load_pair(struct load *L, const char *cert_file,
                          const char *key_file)
{
	unsigned before = L->errors;
	int cert_ok, key_ok;

	cert_ok = load_cert(L, cert_file) == 0;
	/* the key is read even after a bad certificate: report both */
	key_ok = load_key(L, key_file) == 0;
	if (cert_ok && key_ok && !tls_cred_matches(L->cr)) {
		L->which = TLS_OPT_KEY;
		L->path = key_file;
		report(L, "key does not match certificate %s", cert_file);
	}
	return L->errors - before;
}

unsigned tls_keys_load(const char *const *cert_files,
                       const char *const *key_files, unsigned n,
                       tls_error_fn *err, void *ctx)
{
	struct tls_keys *k = spare_store();
	struct load L;
	unsigned i;

	memset(k, 0, sizeof *k);
	memset(&L, 0, sizeof L);
	L.k = k;
	L.err = err;
	L.ctx = ctx;
	for (i = 0; i < n && i < TLS_MAX_CREDS; i++) {
		L.pair = i;
		L.cr = &k->cred[i];
		if (load_pair(&L, cert_files[i], key_files[i]) == 0 && i > 0 &&
		    k->cred[0].key_type == L.cr->key_type) {
			/* the client's choice is by key type: two of one
			 * type leave one unused */
			L.which = TLS_OPT_CERT;
			L.path = cert_files[i];
			report(&L, "same key type as the first (one RSA, "
			       "one EC)");
		}
	}
	k->n_cred = i;
	/* the decoders held key material: leave none of it behind */
	memset(&skey, 0, sizeof skey);
	memset(&pem, 0, sizeof pem);
	memset(chunk, 0, sizeof chunk);
	if (L.errors) {
		memset(k, 0, sizeof *k);
		return L.errors;
	}
	k->loaded = 1;
	return 0;
}
