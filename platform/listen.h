/*
 * Listening sockets: bound at start-up (before privileges are dropped),
 * non-blocking, close-on-exec, SO_REUSEADDR, IPv6 ones IPV6_V6ONLY.
 */
#ifndef MAILNOOK_LISTEN_H
#define MAILNOOK_LISTEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "conf.h"

#define LISTEN_NAME_MAX 80

struct listener {
	int fd;                         /* -1 when closed */
	uint8_t tls;                    /* listen-tls */
	uint8_t auth;                   /* ,auth: a checked AUTH before MAIL */
	char name[LISTEN_NAME_MAX];     /* "127.0.0.1:2525", "[::1]:25" */
};

/* "ADDR:PORT", IPv6 in brackets. */
void listen_name(char *buf, size_t size, const struct conf_listen *l);

/* Binds every listener of c into out[] (*n of them).  On failure prints
 * "mailnook: listen ADDR:PORT: reason" to stderr, closes what was opened
 * and returns -1. */
int listen_open(const struct mn_config *c, struct listener *out, unsigned *n);

void listen_close(struct listener *l, unsigned n);

/* A peer address as text (IPv4 dotted, IPv6 compressed, IPv4-mapped IPv6
 * shown as IPv4) and as octets for allow-from (4 or 16, *v6 says which). */
void listen_peer(const struct sockaddr_storage *ss, char *text, size_t size,
                 uint8_t bin[16], int *v6);

#endif
