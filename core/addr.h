/*
 * RFC 5321 paths: the argument of MAIL FROM: and RCPT TO:.
 *
 * addr_parse_path() reads "<...>" (source routes "@a,@b:" are skipped, RFC
 * 5321 appendix C), unquotes a quoted local part (quoted-pairs resolved),
 * and bounds every part: local part 64 octets, domain 255, path 256.  With
 * utf8 set (the MAIL carried SMTPUTF8, RFC 6531) UTF-8 is allowed in the
 * local part and the domain; otherwise any octet above 0x7f is a syntax
 * error.  Control characters are never accepted, quoted or not.
 *
 * The result is text for lookups and headers only: nothing in it is ever
 * used to build a file name (recipients resolve through policy.h to
 * configured Maildirs).
 */
#ifndef MAILNOOK_ADDR_H
#define MAILNOOK_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define ADDR_LOCAL_MAX  64
#define ADDR_DOMAIN_MAX 255
#define ADDR_PATH_MAX   256

struct smtp_addr {
	char local[ADDR_LOCAL_MAX + 1];   /* unquoted local part */
	char domain[ADDR_DOMAIN_MAX + 1]; /* as sent; an address literal keeps its [] */
	char text[ADDR_PATH_MAX + 1];     /* mailbox as sent, without <>; "" for <> */
	uint8_t is_null;                  /* <> (only valid in MAIL) */
	uint8_t is_postmaster;            /* bare <postmaster> (only valid in RCPT) */
	uint8_t has_utf8;                 /* an octet above 0x7f somewhere */
};

enum addr_result {
	ADDR_OK = 0,
	ADDR_SYNTAX,   /* 501 5.1.3 */
	ADDR_TOO_LONG  /* 501 5.1.3 as well; separate for the log */
};

/*
 * Parses the path at s[0..n).  s points at the '<' (leading spaces are the
 * caller's business).  On ADDR_OK, *end is the number of octets consumed
 * (just past '>'), so the caller parses the ESMTP parameters after it.
 * allow_null: accept "<>"; allow_postmaster: accept bare "<postmaster>"
 * (any case).
 */
enum addr_result addr_parse_path(const char *s, size_t n, int utf8,
                                 int allow_null, int allow_postmaster,
                                 struct smtp_addr *out, size_t *end);

/*
 * Whether two client addresses count as one client for the per-IP session
 * limit: IPv4 per address (4 octets), IPv6 per /64 (the first 8 of 16
 * octets), since one IPv6 host commonly holds a whole /64 and may take any
 * address in it.  An IPv4-mapped IPv6 client is passed as IPv4 (v6 = 0,
 * its last 4 octets), as platform/listen.c's listen_peer() gives it, so it
 * counts as its IPv4 address.
 */
int addr_same_client(int v6a, const uint8_t *a, int v6b, const uint8_t *b);

/* Room for addr_ip_text()'s output, NUL included (as INET6_ADDRSTRLEN). */
#define ADDR_IP_TEXT_MAX 46

/*
 * Writes an IP address as text into buf[ADDR_IP_TEXT_MAX], as inet_ntop()
 * does but without stdio: bin holds 4 octets (dotted quad) or, when v6, 16
 * (RFC 5952: lowercase hex without leading zeros, the longest run of two or
 * more zero groups, the first on a tie, as "::"; an IPv4-mapped address as
 * "::ffff:a.b.c.d").  Returns the length.
 */
size_t addr_ip_text(char *buf, int v6, const uint8_t *bin);

#endif
