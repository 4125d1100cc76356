/*
 * One credential, once loaded (tls_keys.c): whether its private key is its
 * certificate's, and what to call it in the log.
 */
#include "tls.h"
#include "fmt.h"

#include <string.h>

/* Big-endian unsigned integers, leading zeros aside. */
static int same_uint(const unsigned char *a, size_t alen,
                     const unsigned char *b, size_t blen)
{
	while (alen > 0 && *a == 0) {
		a++;
		alen--;
	}
	while (blen > 0 && *b == 0) {
		b++;
		blen--;
	}
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* see tls.h.  RSA: the modulus computed from p and q must be the certificate's n, and
 * a signature made with the private key must verify under the
 * certificate's (n, e) -- which checks e too (br_rsa_compute_pubexp()
 * only works for p and q = 3 mod 4, which OpenSSL's keys need not be).
 * EC: the point computed from the private scalar must be the
 * certificate's, on the same curve. */
int tls_cred_matches(const struct tls_cred *k)
{
	if (k->key_type != k->pub.key_type)
		return 0;
	if (k->key_type == BR_KEYTYPE_RSA) {
		br_rsa_compute_modulus modulus = br_rsa_compute_modulus_get_default();
		/* BearSSL handles RSA up to 4096 bits */
		unsigned char n[4096 / 8], sig[4096 / 8], hash[32], back[32];
		size_t nlen;
		br_rsa_public_key pk;

		nlen = modulus(NULL, &k->sk.rsa);
		if (nlen == 0 || nlen > sizeof n || modulus(n, &k->sk.rsa) != nlen)
			return 0;
		if (!same_uint(n, nlen, k->pub.key.rsa.n, k->pub.key.rsa.nlen))
			return 0;
		memset(hash, 0x5a, sizeof hash);
		pk = k->pub.key.rsa;
		return br_rsa_pkcs1_sign_get_default()(BR_HASH_OID_SHA256, hash,
		                                       sizeof hash, &k->sk.rsa, sig) &&
		       br_rsa_pkcs1_vrfy_get_default()(sig, nlen, BR_HASH_OID_SHA256,
		                                       sizeof back, &pk, back) &&
		       memcmp(hash, back, sizeof hash) == 0;
	} else {
		unsigned char q[BR_EC_KBUF_PUB_MAX_SIZE];
		br_ec_public_key pk;
		size_t qlen;

		if (k->sk.ec.curve != k->pub.key.ec.curve)
			return 0;
		qlen = br_ec_compute_pub(&tls_ec, &pk, q, &k->sk.ec);
		return qlen != 0 && qlen == k->pub.key.ec.qlen &&
		       memcmp(q, k->pub.key.ec.q, qlen) == 0;
	}
}

/* see tls.h */
const char *tls_keys_describe(const struct tls_cred *k, char *buf, size_t len)
{
	const char *curve;

	if (k->key_type == BR_KEYTYPE_RSA) {
		fmt_into(buf, len, "RSA-%u", k->sk.rsa.n_bitlen);
		return buf;
	}
	switch (k->sk.ec.curve) {
	case BR_EC_secp256r1: curve = "P256"; break;
	case BR_EC_secp384r1: curve = "P384"; break;
	default:              curve = "P521"; break;
	}
	fmt_into(buf, len, "EC-%s", curve);
	return buf;
}
