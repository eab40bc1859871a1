/* A client: one accepted connection served by one handler thread. */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "client.h"
#include "log.h"
#include "server.h"
#include "service.h"

#define CLIENT_LINGER_MS	1000	/* wait for the peer's FIN after ours */
#define CLIENT_LINGER_BYTES	(64 * 1024)

static long
client_elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000;
}

bool
client_stopping(const struct client *cl)
{
	return atomic_load_explicit(&cl->cl_server->sv_stopping,
	    memory_order_relaxed);
}

void
client_set_reason(struct client *cl, const char *reason)
{
	if (cl->cl_reason == NULL)
		cl->cl_reason = reason;
}

void
client_mark_partial(struct client *cl, bool partial)
{
	if (partial && !cl->cl_partial)
		clock_gettime(CLOCK_MONOTONIC, &cl->cl_partial_since);
	cl->cl_partial = partial;
}

/* Why the conversation ended, from recv's or send's failure. */
static void
client_failed(struct client *cl, int error)
{
	if (atomic_load(&cl->cl_server->sv_forced))
		client_set_reason(cl, CLOSE_FORCED);
	else if (error == EAGAIN || error == EWOULDBLOCK)
		client_set_reason(cl, CLOSE_IDLE);
	else if (error == ECONNRESET || error == EPIPE)
		client_set_reason(cl, CLOSE_RESET);
	else if (error == 0)
		client_set_reason(cl, client_stopping(cl) ? CLOSE_SHUTDOWN :
		    CLOSE_CLIENT);
	else
		client_set_reason(cl, CLOSE_ERROR);
}

/*
 * Wait until the socket is ready for events or the idle timeout, counted
 * from since, has passed: false then (reason set), and at once when forced.
 * Reads use it while half a message is in, writes while the client's
 * buffers are full, so progress is a whole message or a whole write.
 */
static bool
client_wait(struct client *cl, short events, const struct timespec *since)
{
	long idle = (long)cl->cl_server->sv_opts->o_idle_timeout * 1000, left;
	struct pollfd pfd = { .fd = cl->cl_fd, .events = events };
	int n;

	do {
		if (atomic_load(&cl->cl_server->sv_forced)) {
			client_set_reason(cl, CLOSE_FORCED);
			return false;
		}
		left = idle == 0 ? -1 : idle - client_elapsed_ms(since);
		if (idle > 0 && left <= 0) {
			client_set_reason(cl, CLOSE_IDLE);
			return false;
		}
		n = poll(&pfd, 1, (int)left);
	} while (n == 0 || (n == -1 && errno == EINTR));
	return true;
}

ssize_t
client_read(struct client *cl, void *buf, size_t len)
{
	ssize_t n;

	if (cl->cl_partial && !client_wait(cl, POLLIN, &cl->cl_partial_since))
		return 0;
	while ((n = recv(cl->cl_fd, buf, len, 0)) == -1 && errno == EINTR)
		continue;
	if (n > 0) {
		cl->cl_bytes_in += (size_t)n;
		stats_add(cl->cl_channel->ch_stats.cs_bytes_in, (size_t)n);
		return n;
	}
	client_failed(cl, n == 0 ? 0 : errno);
	return 0;
}

int
client_write(struct client *cl, const void *buf, size_t len)
{
	struct timespec since = { 0, 0 };
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(cl->cl_fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (since.tv_sec == 0)
				clock_gettime(CLOCK_MONOTONIC, &since);
			if (!client_wait(cl, POLLOUT, &since))
				return -1;
			continue;
		}
		if (n <= 0) {
			client_failed(cl, n == 0 ? EPIPE : errno);
			return -1;
		}
		p += n;
		len -= (size_t)n;
		cl->cl_bytes_out += (size_t)n;
		stats_add(cl->cl_channel->ch_stats.cs_bytes_out, (size_t)n);
	}
	return 0;
}

void
client_log(struct client *cl, const char *event)
{
	struct logline l;

	if (!log_enabled(LOG_INFO))
		return;
	log_begin(&l, LOG_INFO, event);
	log_uint(&l, "port", cl->cl_channel->ch_port);
	log_str(&l, "service", cl->cl_channel->ch_service->svc_name);
	log_str(&l, "peer", cl->cl_peername);
	log_uint(&l, "conn", cl->cl_id);
	if (strcmp(event, "close") == 0) {
		log_uint(&l, "bytes_in", cl->cl_bytes_in);
		log_uint(&l, "bytes_out", cl->cl_bytes_out);
		log_uint(&l, "ms", (unsigned long long)client_elapsed_ms(
		    &cl->cl_start));
		log_str(&l, "reason", cl->cl_reason);
	}
	log_end(&l);
}

/*
 * We spoke last. If the client sent more than we read, closing now would
 * answer with a reset that can eat our reply: send our FIN and drain its
 * input briefly first.
 */
static void
client_linger(struct client *cl)
{
	struct pollfd pfd = { .fd = cl->cl_fd, .events = POLLIN };
	size_t drained = 0;
	char scratch[4096];
	ssize_t n;

	/* Nothing unread (the usual case): a plain close sends a FIN, not a reset. */
	if (recv(cl->cl_fd, scratch, sizeof scratch, MSG_DONTWAIT) <= 0)
		return;
	if (shutdown(cl->cl_fd, SHUT_WR) == -1)
		return;
	while (drained < CLIENT_LINGER_BYTES &&
	    poll(&pfd, 1, CLIENT_LINGER_MS) == 1) {
		n = recv(cl->cl_fd, scratch, sizeof scratch, MSG_DONTWAIT);
		if (n <= 0)
			break;
		drained += (size_t)n;
	}
}

static bool
client_spoke_last(const char *reason)
{
	return strcmp(reason, CLOSE_DONE) == 0 || strcmp(reason, CLOSE_QUIT) ==
	    0 || strcmp(reason, CLOSE_IDLE) == 0 || strcmp(reason,
	    CLOSE_TOO_LONG) == 0 || strcmp(reason, CLOSE_SHUTDOWN) == 0;
}

void
client_run(struct client *cl)
{
	netaddr_format((struct sockaddr *)&cl->cl_peer, cl->cl_peername,
	    sizeof cl->cl_peername);
	client_log(cl, "accept");
	cl->cl_channel->ch_service->svc_handler(cl);
	client_set_reason(cl, CLOSE_DONE);
	if (client_spoke_last(cl->cl_reason))
		client_linger(cl);
	client_log(cl, "close");
	server_client_done(cl->cl_server, cl);
}
