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
 *
 * The configuration checks mailbox=, alias= and domain= values with the same
 * grammar (addr_parse_mailbox(), addr_parse_domain()), so whatever it can
 * name, RCPT can reach.
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
	uint8_t why;                      /* enum addr_why, when not ADDR_OK */
};

enum addr_result {
	ADDR_OK = 0,
	ADDR_SYNTAX,   /* 501 5.1.3 */
	ADDR_TOO_LONG  /* 501 5.1.3 as well; separate for the log */
};

/* What was wrong, for the configuration's messages (the engine answers
 * 501 5.1.3 to all of them).  The _LONG ones come with ADDR_TOO_LONG. */
enum addr_why {
	ADDR_WHY_SYNTAX = 0,   /* the path around the mailbox: <, >, route */
	ADDR_WHY_NO_AT,        /* the local part is all there is */
	ADDR_WHY_LOCAL_CHAR,   /* an octet a local part cannot hold here */
	ADDR_WHY_LOCAL_DOT,    /* a leading, trailing or doubled dot, unquoted */
	ADDR_WHY_QUOTE,        /* a quoted local part is not closed */
	ADDR_WHY_AT,           /* another '@' after the domain */
	ADDR_WHY_DOMAIN_EMPTY,
	ADDR_WHY_DOMAIN_CHAR,  /* an octet a domain cannot hold */
	ADDR_WHY_DOMAIN_DOT,   /* an empty label */
	ADDR_WHY_HYPHEN_START, /* a label starts with '-' */
	ADDR_WHY_HYPHEN_END,   /* a label ends with '-' */
	ADDR_WHY_LITERAL,      /* not [a.b.c.d], [IPv6:...] nor [tag:text] */
	ADDR_WHY_8BIT,         /* an octet above 0x7f without utf8 */
	ADDR_WHY_UTF8,         /* not well-formed UTF-8 */
	ADDR_WHY_LOCAL_LONG,   /* local part over 64 octets, as written */
	ADDR_WHY_DOMAIN_LONG,  /* domain over 255 */
	ADDR_WHY_PATH_LONG     /* path over 256, "<" and ">" counted */
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
 * s[0..n) is exactly one Mailbox, "local@domain" without the <> (and short
 * enough to be sent with them): the grammar of addr_parse_path(), for the
 * configuration.  out as there; on failure out->why says what is wrong.
 */
enum addr_result addr_parse_mailbox(const char *s, size_t n, int utf8,
                                    struct smtp_addr *out);

/* s[0..n) is exactly one Domain or address literal, as after the '@'; it
 * goes to out->domain.  On failure out->why says what is wrong. */
enum addr_result addr_parse_domain(const char *s, size_t n, int utf8,
                                   struct smtp_addr *out);

/* Numeric IP addresses, the one parser of each for address literals and
 * the configuration: a dotted quad of four decimal parts 0..255 without
 * leading zeros (which some parsers read as octal); RFC 4291 2.2 text (at
 * most one "::", an IPv4 tail, no zone).  0, or -1 when s[0..n) is not
 * one. */
int addr_ip4(const char *s, size_t n, uint8_t out[4]);
int addr_ip6(const char *s, size_t n, uint8_t out[16]);

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
