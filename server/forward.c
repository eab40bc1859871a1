/* The forward service: each client relayed to another TCP address (SPEC 10). */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cause.h"
#include "channel.h"
#include "client.h"
#include "log.h"
#include "proxyproto.h"
#include "relay.h"
#include "server.h"
#include "service.h"

#define FORWARD_HOST_MAX 256

/* Where to= points: its host, and its port or the channel's own. */
static int
forward_target(const struct channel_conf *cc, uint16_t channel_port,
    char *host, uint16_t *port, char **cause)
{
	if (cc->cc_to == NULL)
		return cause_set(cause, "forward needs to=HOST[:PORT]");
	if (netaddr_split(cc->cc_to, host, FORWARD_HOST_MAX, port, cause) == -1)
		return -1;
	if (*port == 0)
		*port = channel_port;
	if (*port == 0)
		return cause_set(cause, "to=\"%s\" needs a port on an ephemeral "
		    "channel", cc->cc_to);
	return 0;
}

/* Would a connection to addr land on the socket sa is bound to (its own bind)? */
static bool
forward_is_self(const struct sockaddr *target, const struct sockaddr *bound)
{
	struct sockaddr_storage a, b;
	char ha[NETADDR_STRLEN], hb[NETADDR_STRLEN];

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	memcpy(&a, target, target->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	memcpy(&b, bound, bound->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	netaddr_canonical(&a, NULL);
	netaddr_canonical(&b, NULL);
	if (netaddr_port((struct sockaddr *)&a) !=
	    netaddr_port((struct sockaddr *)&b))
		return false;
	netaddr_format((struct sockaddr *)&a, ha, sizeof ha);
	netaddr_format((struct sockaddr *)&b, hb, sizeof hb);
	return strcmp(ha, hb) == 0;
}

int
service_forward_check(const struct channel_conf *cc,
    const struct conf_defaults *cd, char **cause)
{
	char host[FORWARD_HOST_MAX];
	struct sockaddr_storage target, bound;
	socklen_t len;
	uint16_t port;

	if (forward_target(cc, cc->cc_port, host, &port, cause) == -1)
		return -1;
	/* A literal target that is this very channel would loop: refuse it now. */
	if (cd->cd_bind == NULL || cc->cc_port == 0 ||
	    netaddr_literal(host, &target, &len) == -1)
		return 0;
	bound = *cd->cd_bind;
	netaddr_set_port(&bound, cc->cc_port);
	netaddr_set_port(&target, port);
	if (forward_is_self((struct sockaddr *)&target,
	    (struct sockaddr *)&bound))
		return cause_set(cause, "to=\"%s\" is the channel itself",
		    cc->cc_to);
	return 0;
}

static long
forward_ms_since(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* One non-blocking connect, bounded by the deadline; the socket, or -1 with errno. */
static int
forward_connect_one(const struct addrinfo *ai, const struct timespec *start,
    long timeout_ms)
{
	struct pollfd pfd;
	socklen_t len = sizeof pfd.revents;
	int fd, error = 0, n;
	long left;

	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		if ((left = timeout_ms - forward_ms_since(start)) <= 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		n = poll(&pfd, 1, (int)left);
	} while (n == 0 || (n == -1 && errno == EINTR));
	len = sizeof error;
	if (n == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		goto fail;
	if (error != 0) {
		errno = error;
		goto fail;
	}
	return fd;
fail:
	error = errno;
	close(fd);
	errno = error;
	return -1;
}

/* The client's upstream failed: say why, count it, close without a byte. */
static int
forward_failed(struct client *cl, const char *why)
{
	snprintf(cl->cl_error, sizeof cl->cl_error, "%s", why);
	client_set_reason(cl, CLOSE_UPSTREAM);
	stats_add(cl->cl_channel->ch_stats->cs_upstream_failures, 1);
	return -1;
}

/*
 * Resolve for each client (a DNS change applies to the next one) and try
 * each address in turn within connect-timeout. A target that is this
 * channel's own socket is refused, never looped.
 */
static int
forward_connect(struct client *cl, const struct sockaddr *local)
{
	const struct channel_conf *cc = &cl->cl_channel->ch_conf;
	char host[FORWARD_HOST_MAX], service[8], *cause = NULL;
	struct addrinfo hints, *res, *ai;
	struct timespec start;
	uint16_t port;
	int fd = -1, error, saved = ECONNREFUSED;

	if (forward_target(cc, cl->cl_channel->ch_port, host, &port,
	    &cause) == -1) {
		forward_failed(cl, cause != NULL ? cause : "bad target");
		free(cause);
		return -1;
	}
	snprintf(service, sizeof service, "%u", port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((error = getaddrinfo(host, service, &hints, &res)) != 0)
		return forward_failed(cl, gai_strerror(error));
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if (forward_is_self(ai->ai_addr, local)) {
			saved = ELOOP;
			continue;
		}
		if ((fd = forward_connect_one(ai, &start,
		    (long)cc->cc_connect_timeout * 1000)) == -1)
			saved = errno;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return forward_failed(cl, saved == ELOOP ?
		    "target is the channel itself" : strerror(saved));
	return fd;
}

/* PROXY protocol first, with the real client (SPEC 10, 11). */
static int
forward_proxy_header(struct client *cl, int fd, const struct sockaddr *local)
{
	char buf[PROXYPROTO_V1_MAX + 256];
	ssize_t len;

	len = proxyproto_format(cl->cl_channel->ch_conf.cc_proxy_protocol,
	    (struct sockaddr *)&cl->cl_peer, local, buf, sizeof buf);
	/* A new socket's send buffer takes a header whole. */
	if (len < 0 || send(fd, buf, (size_t)len, MSG_NOSIGNAL) != len)
		return forward_failed(cl, "cannot send the PROXY header");
	return 0;
}

/* Relay cl's conversation to cl's channel's upstream, both ways, to the end. */
void
service_forward(struct client *cl)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof local;
	struct relay r;
	int fd;

	if (getsockname(cl->cl_fd, (struct sockaddr *)&local, &len) == -1) {
		client_failed(cl, errno);
		return;
	}
	if ((fd = forward_connect(cl, (struct sockaddr *)&local)) == -1)
		return;
	if (cl->cl_channel->ch_conf.cc_proxy_protocol != 0 &&
	    forward_proxy_header(cl, fd, (struct sockaddr *)&local) == -1) {
		close(fd);
		return;
	}
	client_relay_init(cl, &r, fd, fd);
	client_relay_ended(cl, &r, relay_run(&r), CLOSE_UPSTREAM, "upstream");
	if (r.r_peer_out != -1)
		close(fd);
}
