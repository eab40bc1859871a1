/* Addresses: resolving --bind, formatting peers, CIDR parsing and matching. */
#ifndef MPSERVER_NETADDR_H
#define MPSERVER_NETADDR_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "255.255.255.255:65535" and "[ffff:...:ffff%scope]:65535" both fit. */
#define NETADDR_STRLEN 80

struct cidr {
	int	c_family;	/* AF_INET or AF_INET6 */
	uint8_t	c_addr[16];	/* network bytes, host bits cleared */
	int	c_bits;
};

/* Resolve a literal or host name for binding (first result wins). */
int	netaddr_resolve(const char *host, struct sockaddr_storage *ss,
	    socklen_t *len, char **cause);
/* An IPv4 or IPv6 literal, port 0; -1 if host is not one (no DNS). */
int	netaddr_literal(const char *host, struct sockaddr_storage *ss,
	    socklen_t *len);
/*
 * "host:port", "[v6]:port", "host", "v6" or "[v6]" into host and port
 * (0 when none is given). -1 with *cause.
 */
int	netaddr_split(const char *s, char *host, size_t hostsize,
	    uint16_t *port, char **cause);
void	netaddr_set_port(struct sockaddr_storage *ss, uint16_t port);
uint16_t netaddr_port(const struct sockaddr *sa);
/* Turn an IPv4-mapped IPv6 address into the IPv4 address it stands for. */
void	netaddr_canonical(struct sockaddr_storage *ss, socklen_t *len);
/* "127.0.0.1:7001" or "[::1]:7001". */
char	*netaddr_format(const struct sockaddr *sa, char *buf, size_t size);
/* The address alone, without brackets or port. */
char	*netaddr_format_host(const struct sockaddr *sa, char *buf, size_t size);

/* "10.0.0.0/8", "::1/128", "192.0.2.7" (a host). Host bits are cleared. */
int	cidr_parse(const char *s, struct cidr *c, char **cause);
bool	cidr_match(const struct cidr *c, const struct sockaddr *sa);

#endif
