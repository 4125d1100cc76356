/*
 * The TLS profile: what the server offers (versions, suites, hashes,
 * curves) and which of BearSSL's implementations computes each primitive.
 * See tls.h.
 *
 * Profile.  TLS 1.2 only; ECDHE key exchange only (the key signs, it never
 * decrypts a premaster secret); AES-128-GCM, AES-256-GCM and
 * ChaCha20-Poly1305 only, nothing weaker offered.  (With CONFIG_TLS_LEGACY
 * and tls-min-version=1.0 or 1.1, for printers and old firmware, also TLS
 * 1.0/1.1 and, after the AEAD suites, AES-CBC with HMAC-SHA1/SHA256 under
 * ECDHE and RSA key exchange; not the static-ECDH, SHA-384 or 3DES ones.)
 * The server's preference order is enforced: AES-128-GCM first when this
 * build uses AES instructions (TLS_AES_NI below), ChaCha20-Poly1305 first
 * otherwise, because constant-time software AES-GCM is three to four
 * times slower than ChaCha20-Poly1305.  Renegotiation is refused
 * (tls_conn.c).  ECDHE groups: X25519 (BearSSL takes it whenever the
 * client offers it), then P-256, P-384, P-521.
 *
 * One implementation of each primitive.  BearSSL's
 * br_ssl_engine_set_default_*() and br_ec_all_m31 choose at run time, so
 * each links a fast implementation and its constant-time fallback (or one
 * implementation per curve), and a given machine never runs half of them.
 * Here the choice is made at compile time, for the target, and only what
 * is chosen is linked.  Every implementation named is BearSSL's
 * constant-time code.  Bytes: the stripped static musl x86-64 -Os build
 * of configs/defconfig (on armhf only the EC choice saves anything: the
 * others are x86 or 64-bit code that BearSSL builds there as stubs).
 * Speeds: BearSSL's test/test_speed.c built -Os, and bench/tls_cpu.py (the
 * server's own CPU), on the project's build machine (AMD EPYC, AES-NI), so
 * relative, not absolute.
 *
 *   ChaCha20   chacha20_ct everywhere.  chacha20_sse2 (x86 only) is
 *              slower here, 320 MB/s against 520 (with -Os and in Debian's
 *              -O2 libbearssl alike).  -564 bytes.
 *   Poly1305   poly1305_ctmul everywhere.  poly1305_ctmulq (64-bit
 *              targets with a 64x64->128 multiply) does 2.6 GB/s against
 *              2.0, 5% of ChaCha20-Poly1305's time.  -3090 bytes.
 *   EC         X25519 by ec_c25519_m31; P-256, P-384 and P-521 by
 *              ec_prime_i31, which P-384 and P-521 keys need anyway.
 *              br_ec_all_m31 also links ec_p256_m31 for P-256 alone: 1950
 *              mul/s and 3300 generator mul/s where ec_prime_i31 does 1200
 *              and 1260.  So a full handshake with an EC P-256 key costs
 *              the server 1.75 ms of CPU instead of 1.2 (the signature),
 *              3.3 ms instead of 1.7 when the client has no X25519 (few
 *              do); with an RSA key and X25519 nothing changes, with P-256
 *              3.8 ms instead of 2.9.  A resumed session (the cache in
 *              tls_conn.c) does neither.  -8064 bytes.
 *   AES, GHASH With AES-NI and PCLMULQDQ guaranteed by the compiler flags
 *              (-maes -mpclmul, or an -march that has both): aes_x86ni and
 *              ghash_pclmul.  Otherwise (the default: not every x86-64 CPU
 *              has AES-NI, and BearSSL 0.6 has AES instructions for no
 *              router CPU) the bitsliced aes_ct64 (64-bit words) or aes_ct,
 *              with ghash_ctmul64 or ghash_ctmul: AES-CTR 150 MB/s and
 *              GHASH 380 MB/s (9.4 and 4.4 GB/s with AES-NI).  The server
 *              spends 11.6 ms of CPU per MiB received over AES-128-GCM
 *              instead of 2.2, and 4.1 over ChaCha20-Poly1305, which comes
 *              first then, so only clients without it (older Windows, Java
 *              8, OpenSSL 1.0) run AES-GCM.  AES-CBC (legacy) 115 MB/s.
 *              -5664 bytes.
 *   RSA        BearSSL's default: i62 with a 64x64->128 multiply, else
 *              i31.  rsa_i31 everywhere would save 1.6 KiB on x86-64 but
 *              add 1.5 ms of server CPU to every RSA-2048 handshake.
 *   Hashes     SHA-256 and SHA-384 for the PRFs; SHA-1 and every SHA-2 for
 *              the ServerKeyExchange signature, in whatever hash the client
 *              lists.  Without the AES-256-GCM suites (SHA-384) the build
 *              would be 2880 bytes smaller (4 KiB on armhf), but some
 *              hardened clients offer nothing else.
 */
#include "tls.h"

#include <limits.h>

/* 64-bit words (as BearSSL's BR_64 decides): the bitsliced AES and GHASH
 * that work on 64-bit words are the faster ones there */
#if ULONG_MAX > 0xFFFFFFFFUL || defined(__x86_64__) || defined(_LP64)
#define TLS_WORD64 1
#else
#define TLS_WORD64 0
#endif

#if (defined(__x86_64__) || defined(__i386__)) && defined(__AES__) && \
    defined(__PCLMUL__)
#define TLS_AES_NI 1
#else
#define TLS_AES_NI 0
#endif

/* ---- curves ------------------------------------------------------------- */

static const br_ec_impl *ec_for(int curve)
{
	return curve == BR_EC_curve25519 ? &br_ec_c25519_m31 : &br_ec_prime_i31;
}

static const unsigned char *ec_generator(int curve, size_t *len)
{
	return ec_for(curve)->generator(curve, len);
}

static const unsigned char *ec_order(int curve, size_t *len)
{
	return ec_for(curve)->order(curve, len);
}

static size_t ec_xoff(int curve, size_t *len)
{
	return ec_for(curve)->xoff(curve, len);
}

static uint32_t ec_mul(unsigned char *g, size_t glen, const unsigned char *k,
                       size_t klen, int curve)
{
	return ec_for(curve)->mul(g, glen, k, klen, curve);
}

static size_t ec_mulgen(unsigned char *r, const unsigned char *x, size_t xlen,
                        int curve)
{
	return ec_for(curve)->mulgen(r, x, xlen, curve);
}

static uint32_t ec_muladd(unsigned char *a, const unsigned char *b,
                          size_t len, const unsigned char *x, size_t xlen,
                          const unsigned char *y, size_t ylen, int curve)
{
	return ec_for(curve)->muladd(a, b, len, x, xlen, y, ylen, curve);
}

/* see tls.h */
const br_ec_impl tls_ec = {
	(uint32_t)1 << BR_EC_curve25519 | (uint32_t)1 << BR_EC_secp256r1 |
	(uint32_t)1 << BR_EC_secp384r1 | (uint32_t)1 << BR_EC_secp521r1,
	ec_generator, ec_order, ec_xoff, ec_mul, ec_mulgen, ec_muladd
};

/* ---- the engine --------------------------------------------------------- */

/* see tls.h */
void tls_algs_configure(br_ssl_engine_context *eng)
{
	/* SHA-256/384 for the PRFs; all SHA-2 and SHA-1 for the signature
	 * over the ServerKeyExchange, in whatever hash the client lists */
	br_ssl_engine_set_hash(eng, br_sha1_ID, &br_sha1_vtable);
	br_ssl_engine_set_hash(eng, br_sha224_ID, &br_sha224_vtable);
	br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
	br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable);
	br_ssl_engine_set_hash(eng, br_sha512_ID, &br_sha512_vtable);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_ec(eng, &tls_ec);
	br_ssl_engine_set_gcm(eng, &br_sslrec_in_gcm_vtable,
	                      &br_sslrec_out_gcm_vtable);
#if TLS_AES_NI
	br_ssl_engine_set_aes_ctr(eng, &br_aes_x86ni_ctr_vtable);
	br_ssl_engine_set_ghash(eng, &br_ghash_pclmul);
#elif TLS_WORD64
	br_ssl_engine_set_aes_ctr(eng, &br_aes_ct64_ctr_vtable);
	br_ssl_engine_set_ghash(eng, &br_ghash_ctmul64);
#else
	br_ssl_engine_set_aes_ctr(eng, &br_aes_ct_ctr_vtable);
	br_ssl_engine_set_ghash(eng, &br_ghash_ctmul);
#endif
	br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable,
	                         &br_sslrec_out_chapol_vtable);
	br_ssl_engine_set_chacha20(eng, &br_chacha20_ct_run);
	br_ssl_engine_set_poly1305(eng, &br_poly1305_ctmul_run);
#if CFG_TLS_LEGACY
	/* the suites and versions, set per handshake, decide whether these
	 * are ever used */
	br_ssl_engine_set_prf10(eng, &br_tls10_prf);
	br_ssl_engine_set_cbc(eng, &br_sslrec_in_cbc_vtable,
	                      &br_sslrec_out_cbc_vtable);
#if TLS_AES_NI
	br_ssl_engine_set_aes_cbc(eng, &br_aes_x86ni_cbcenc_vtable,
	                          &br_aes_x86ni_cbcdec_vtable);
#elif TLS_WORD64
	br_ssl_engine_set_aes_cbc(eng, &br_aes_ct64_cbcenc_vtable,
	                          &br_aes_ct64_cbcdec_vtable);
#else
	br_ssl_engine_set_aes_cbc(eng, &br_aes_ct_cbcenc_vtable,
	                          &br_aes_ct_cbcdec_vtable);
#endif
#endif
}

/* see tls.h */
size_t tls_algs_suites(uint16_t *list, size_t n, int ec, int legacy)
{
	static const uint16_t aead[2][3] = {
		{ BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		  BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		  BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 },
		{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		  BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		  BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 },
	};
	unsigned k;

	ec = ec != 0;
	for (k = 0; k < 3; k++)
		list[n++] = aead[ec][k];
	if (!TLS_AES_NI) {
		/* ChaCha20-Poly1305 first */
		list[n - 3] = aead[ec][1];
		list[n - 2] = aead[ec][0];
	}
#if CFG_TLS_LEGACY
	if (legacy) {
		static const uint16_t cbc[2][7] = {
			{ BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
			  BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
			  BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
			  BR_TLS_RSA_WITH_AES_128_CBC_SHA256,
			  BR_TLS_RSA_WITH_AES_256_CBC_SHA256,
			  BR_TLS_RSA_WITH_AES_128_CBC_SHA,
			  BR_TLS_RSA_WITH_AES_256_CBC_SHA },
			{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
			  BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
			  BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA },
		};

		for (k = 0; k < (ec ? 3u : 7u); k++)
			list[n++] = cbc[ec][k];
	}
#else
	(void)legacy;
#endif
	return n;
}
