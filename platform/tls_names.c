/*
 * Names for what BearSSL reports as numbers: its error codes, protocol
 * versions and cipher suites (OpenSSL's spelling), for the log lines.
 */
#include "tls.h"
#include "fmt.h"

static const char *err_name(int e)
{
	switch (e) {
	case BR_ERR_BAD_PARAM:           return "bad-param";
	case BR_ERR_BAD_STATE:           return "bad-state";
	case BR_ERR_UNSUPPORTED_VERSION: return "unsupported-version";
	case BR_ERR_BAD_VERSION:         return "bad-version";
	case BR_ERR_BAD_LENGTH:          return "bad-length";
	case BR_ERR_TOO_LARGE:           return "too-large";
	case BR_ERR_BAD_MAC:             return "bad-mac";
	case BR_ERR_NO_RANDOM:           return "no-random";
	case BR_ERR_UNKNOWN_TYPE:        return "unknown-type";
	case BR_ERR_UNEXPECTED:          return "unexpected";
	case BR_ERR_BAD_CCS:             return "bad-ccs";
	case BR_ERR_BAD_ALERT:           return "bad-alert";
	case BR_ERR_BAD_HANDSHAKE:       return "bad-handshake";
	case BR_ERR_OVERSIZED_ID:        return "oversized-id";
	case BR_ERR_BAD_CIPHER_SUITE:    return "bad-cipher-suite";
	case BR_ERR_BAD_COMPRESSION:     return "bad-compression";
	case BR_ERR_BAD_FRAGLEN:         return "bad-fraglen";
	case BR_ERR_BAD_SECRENEG:        return "bad-secreneg";
	case BR_ERR_EXTRA_EXTENSION:     return "extra-extension";
	case BR_ERR_BAD_SNI:             return "bad-sni";
	case BR_ERR_BAD_HELLO_DONE:      return "bad-hello-done";
	case BR_ERR_LIMIT_EXCEEDED:      return "limit-exceeded";
	case BR_ERR_BAD_FINISHED:        return "bad-finished";
	case BR_ERR_RESUME_MISMATCH:     return "resume-mismatch";
	case BR_ERR_INVALID_ALGORITHM:   return "invalid-algorithm";
	case BR_ERR_BAD_SIGNATURE:       return "bad-signature";
	case BR_ERR_WRONG_KEY_USAGE:     return "wrong-key-usage";
	case BR_ERR_NO_CLIENT_AUTH:      return "no-client-auth";
	case BR_ERR_IO:                  return "io";
	default:                         return NULL;
	}
}

/* see tls.h */
const char *tls_error_name(int err, char *buf, size_t len)
{
	const char *name;

	if (len == 0)
		return "";
	buf[0] = '\0';
	if (err == BR_ERR_OK)
		return buf;
	if (err >= BR_ERR_SEND_FATAL_ALERT)
		fmt_into(buf, len, "alert-sent-%d",
		         err - BR_ERR_SEND_FATAL_ALERT);
	else if (err >= BR_ERR_RECV_FATAL_ALERT)
		fmt_into(buf, len, "alert-received-%d",
		         err - BR_ERR_RECV_FATAL_ALERT);
	else if ((name = err_name(err)) != NULL)
		fmt_into(buf, len, "%s", name);
	else
		fmt_into(buf, len, "error-%d", err);
	return buf;
}

/* see tls.h */
const char *tls_version_name(unsigned version)
{
	switch (version) {
	case BR_TLS10: return "TLSv1.0";
	case BR_TLS11: return "TLSv1.1";
	case BR_TLS12: return "TLSv1.2";
	default:       return "";
	}
}

/* see tls.h */
const char *tls_suite_name(unsigned suite)
{
	switch (suite) {
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:
		return "ECDHE-ECDSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:
		return "ECDHE-ECDSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ECDHE-ECDSA-CHACHA20-POLY1305";
	case BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:
		return "ECDHE-RSA-AES128-GCM-SHA256";
	case BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:
		return "ECDHE-RSA-AES256-GCM-SHA384";
	case BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:
		return "ECDHE-RSA-CHACHA20-POLY1305";
#if CFG_TLS_LEGACY
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256:
		return "ECDHE-ECDSA-AES128-SHA256";
	case BR_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA:
		return "ECDHE-ECDSA-AES128-SHA";
	case BR_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:
		return "ECDHE-ECDSA-AES256-SHA";
	case BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256:
		return "ECDHE-RSA-AES128-SHA256";
	case BR_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:
		return "ECDHE-RSA-AES128-SHA";
	case BR_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:
		return "ECDHE-RSA-AES256-SHA";
	case BR_TLS_RSA_WITH_AES_128_CBC_SHA256:
		return "AES128-SHA256";
	case BR_TLS_RSA_WITH_AES_256_CBC_SHA256:
		return "AES256-SHA256";
	case BR_TLS_RSA_WITH_AES_128_CBC_SHA:
		return "AES128-SHA";
	case BR_TLS_RSA_WITH_AES_256_CBC_SHA:
		return "AES256-SHA";
#endif
	default:
		return "";
	}
}
