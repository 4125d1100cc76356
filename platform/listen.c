#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "fmt.h"
#include "log.h"

#define LISTEN_BACKLOG 64

void listen_name(char *buf, size_t size, const struct conf_listen *l)
{
	fmt_into(buf, size, l->v6 ? "[%s]:%u" : "%s:%u", l->addr,
	         (unsigned)l->port);
}

static int open_one(const struct conf_listen *l, struct listener *out)
{
	union {
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} sa;
	socklen_t salen;
	int fd, on = 1;

	memset(&sa, 0, sizeof sa);
	if (l->v6) {
		if (!CFG_IPV6) {
			errno = EAFNOSUPPORT;
			return -1;
		}
		sa.in6.sin6_family = AF_INET6;
		sa.in6.sin6_port = htons(l->port);
		memcpy(&sa.in6.sin6_addr, l->ip, 16);
		salen = sizeof sa.in6;
	} else {
		sa.in4.sin_family = AF_INET;
		sa.in4.sin_port = htons(l->port);
		memcpy(&sa.in4.sin_addr, l->ip, 4);
		salen = sizeof sa.in4;
	}
	fd = socket(l->v6 ? AF_INET6 : AF_INET,
	            SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
		goto fail;
	if (l->v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
	                        sizeof on) != 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sa, salen) != 0)
		goto fail;
	if (listen(fd, LISTEN_BACKLOG) != 0)
		goto fail;
	out->fd = fd;
	out->tls = l->tls;
	out->auth = l->auth;
	listen_name(out->name, sizeof out->name, l);
	return 0;
fail:
	{
		int e = errno;
		close(fd);
		errno = e;
	}
	return -1;
}

int listen_open(const struct mn_config *c, struct listener *out, unsigned *n)
{
	unsigned i;

	*n = 0;
	for (i = 0; i < c->n_listen && i < CFG_MAX_LISTENERS; i++) {
		const struct conf_listen *l = &c->listen[i];
		char name[LISTEN_NAME_MAX];

		listen_name(name, sizeof name, l);
		if (open_one(l, &out[*n]) != 0) {
			log_stderr("listen %s: %s", name, strerror(errno));
			goto fail;
		}
		(*n)++;
	}
	return 0;
fail:
	listen_close(out, *n);
	*n = 0;
	return -1;
}

void listen_close(struct listener *l, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (l[i].fd >= 0)
			close(l[i].fd);
		l[i].fd = -1;
	}
}

void listen_peer(const struct sockaddr_storage *ss, char *text, size_t size,
                 uint8_t bin[16], int *v6)
{
	char buf[ADDR_IP_TEXT_MAX] = "unknown";

	memset(bin, 0, 16);
	*v6 = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		memcpy(bin, &s4->sin_addr, 4);
		addr_ip_text(buf, 0, bin);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(bin, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			*v6 = 1;
			memcpy(bin, s6->sin6_addr.s6_addr, 16);
		}
		addr_ip_text(buf, *v6, bin);
	}
	fmt_into(text, size, "%s", buf);
}
