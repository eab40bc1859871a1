/* Addresses: resolving --bind, formatting peers, CIDR parsing and matching. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cause.h"
#include "netaddr.h"
#include "numparse.h"

int
netaddr_resolve(const char *host, struct sockaddr_storage *ss, socklen_t *len,
    char **cause)
{
	struct addrinfo hints, *res;
	int error;

	*cause = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((error = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		return cause_set(cause, "cannot resolve bind address \"%s\": %s",
		    host, gai_strerror(error));
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
netaddr_literal(const char *host, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*len = sizeof *sin;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*len = sizeof *sin6;
		return 0;
	}
	return -1;
}

int
netaddr_split(const char *s, char *host, size_t hostsize, uint16_t *port,
    char **cause)
{
	const char *end, *colon;
	const char *errstr;
	long long v;
	size_t len;

	*port = 0;
	if (*s == '[') {
		/* "[v6]" or "[v6]:port": the brackets keep the colons apart. */
		if ((end = strchr(s, ']')) == NULL || end == s + 1)
			return cause_set(cause, "bad address \"%s\"", s);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return cause_set(cause, "bad address \"%s\"", s);
		s++;
		len = (size_t)(end - s);
	} else {
		colon = strrchr(s, ':');
		/* A bare IPv6 literal has colons but no port. */
		if (colon != NULL && strchr(s, ':') != colon)
			colon = NULL;
		len = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (len == 0 || len >= hostsize)
		return cause_set(cause, "bad host in \"%s\"", s);
	memcpy(host, s, len);
	host[len] = '\0';
	if (colon == NULL)
		return 0;
	if (num_parse(colon + 1, 1, 65535, &v, &errstr) == -1)
		return cause_set(cause, "bad port \"%s\" (1-65535)", colon + 1);
	*port = (uint16_t)v;
	return 0;
}

void
netaddr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

uint16_t
netaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void
netaddr_canonical(struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in sin;

	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = sin6->sin6_port;
	memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof *ss);
	memcpy(ss, &sin, sizeof sin);
	if (len != NULL)
		*len = sizeof sin;
}

char *
netaddr_format_host(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *addr;

	if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else {
		snprintf(buf, size, "unknown");
		return buf;
	}
	if (inet_ntop(sa->sa_family, addr, buf, size) == NULL)
		snprintf(buf, size, "unknown");
	return buf;
}

char *
netaddr_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	netaddr_format_host(sa, host, sizeof host);
	if (sa->sa_family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", host, netaddr_port(sa));
	else
		snprintf(buf, size, "%s:%u", host, netaddr_port(sa));
	return buf;
}

static void
cidr_mask(struct cidr *c)
{
	int i, nbytes = c->c_family == AF_INET ? 4 : 16;

	for (i = 0; i < nbytes; i++) {
		int keep = c->c_bits - i * 8;

		if (keep <= 0)
			c->c_addr[i] = 0;
		else if (keep < 8)
			c->c_addr[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

static int
cidr_fail(char **cause, const char *what, const char *s)
{
	return cause_set(cause, "%s \"%s\"", what, s);
}

int
cidr_parse(const char *s, struct cidr *c, char **cause)
{
	char addr[INET6_ADDRSTRLEN], *slash;
	const char *errstr;
	long long bits;
	int max;

	*cause = NULL;
	memset(c, 0, sizeof *c);
	if (strcspn(s, "/") >= sizeof addr)
		return cidr_fail(cause, "invalid CIDR address in", s);
	snprintf(addr, sizeof addr, "%.*s", (int)strcspn(s, "/"), s);
	slash = strchr(s, '/');
	if (inet_pton(AF_INET, addr, c->c_addr) == 1)
		c->c_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, c->c_addr) == 1)
		c->c_family = AF_INET6;
	else
		return cidr_fail(cause, "invalid CIDR address in", s);
	max = c->c_family == AF_INET ? 32 : 128;
	bits = max;
	if (slash != NULL && num_parse(slash + 1, 0, max, &bits, &errstr) == -1)
		return cidr_fail(cause, "invalid CIDR prefix length in", s);
	c->c_bits = (int)bits;
	/* ::ffff:10.0.0.0/104 is 10.0.0.0/8: clients are matched canonically. */
	if (c->c_family == AF_INET6 && c->c_bits >= 96 &&
	    IN6_IS_ADDR_V4MAPPED((struct in6_addr *)c->c_addr)) {
		memmove(c->c_addr, c->c_addr + 12, 4);
		memset(c->c_addr + 4, 0, 12);
		c->c_family = AF_INET;
		c->c_bits -= 96;
	}
	cidr_mask(c);
	return 0;
}

bool
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	struct sockaddr_storage ss;
	struct cidr peer;

	memset(&ss, 0, sizeof ss);
	memcpy(&ss, sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	netaddr_canonical(&ss, NULL);
	if (ss.ss_family != c->c_family)
		return false;
	memset(&peer, 0, sizeof peer);
	peer.c_family = c->c_family;
	peer.c_bits = c->c_bits;
	if (ss.ss_family == AF_INET)
		memcpy(peer.c_addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else
		memcpy(peer.c_addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	cidr_mask(&peer);
	return memcmp(peer.c_addr, c->c_addr, sizeof peer.c_addr) == 0;
}
