/* A client: one accepted connection, from admission to its one way of closing. */
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "client.h"
#include "idle.h"
#include "log.h"
#include "proxyproto.h"
#include "relay.h"
#include "server.h"
#include "service.h"

#define CLIENT_LINGER_MS	1000	/* wait for the peer's FIN after ours, in all */
#define CLIENT_LINGER_BYTES	(64 * 1024)
/*
 * A client of a service that parks (SVC_PARKS) that sends nothing for this
 * long gives its thread back and waits on the idle thread instead; its
 * channel's listening socket carries it as SO_RCVTIMEO.
 */
#define CLIENT_PARK_MS		CHANNEL_PARK_MS

const char *const close_reason_names[CLOSE_NREASONS] = {
	"none", "client_closed", "done", "quit", "idle_timeout",
	"line_too_long", "shutdown", "forced", "reset", "error", "upstream",
	"proxy",
};

static long
client_elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000;
}

struct client *
client_new(struct channel *ch, int fd, const struct sockaddr *peer,
    socklen_t peerlen)
{
	struct client *cl;

	if ((cl = calloc(1, sizeof *cl)) == NULL)
		return NULL;
	cl->cl_server = ch->ch_server;
	cl->cl_channel = ch;
	cl->cl_fd = fd;
	cl->cl_exit = -1;
	memcpy(&cl->cl_peer, peer, peerlen);
	netaddr_canonical(&cl->cl_peer, NULL);
	admit_key((struct sockaddr *)&cl->cl_peer, &cl->cl_key);
	clock_gettime(CLOCK_MONOTONIC, &cl->cl_start);
	channel_ref(ch);
	return cl;
}

void
client_register(struct client *cl)
{
	struct channel *ch = cl->cl_channel;

	pthread_mutex_lock(&ch->ch_lock);
	TAILQ_INSERT_TAIL(&ch->ch_clients, cl, cl_entry);
	pthread_mutex_unlock(&ch->ch_lock);
}

void
client_admitted(struct client *cl)
{
	struct channel_stats *cs = cl->cl_channel->ch_stats;

	cl->cl_id = atomic_fetch_add(&cl->cl_server->sv_next_conn, 1);
	cl->cl_admitted = true;
	/* Counted before its handler runs, so PORTS sees its own connection. */
	stats_add(cs->cs_accepted, 1);
	stats_add(cs->cs_active, 1);
}

void
client_log_peer(const struct client *cl, struct logline *l)
{
	char via[NETADDR_STRLEN];

	log_str(l, "peer", cl->cl_peername);
	if (cl->cl_proxied)
		log_str(l, "via", netaddr_format((const struct sockaddr *)
		    &cl->cl_via, via, sizeof via));
}

/* The accept or close line of the log, with the fields of SPEC 2. */
static void
client_log(struct client *cl, const char *event, bool closing)
{
	struct logline l;

	if (!log_enabled(LOG_INFO))
		return;
	log_begin(&l, LOG_INFO, event);
	log_uint(&l, "port", cl->cl_channel->ch_port);
	log_str(&l, "service", cl->cl_channel->ch_service->svc_name);
	client_log_peer(cl, &l);
	log_uint(&l, "conn", cl->cl_id);
	if (closing) {
		log_uint(&l, "bytes_in", cl->cl_bytes_in);
		log_uint(&l, "bytes_out", cl->cl_bytes_out);
		log_uint(&l, "ms", (unsigned long long)client_elapsed_ms(
		    &cl->cl_start));
		log_str(&l, "reason", close_reason_names[cl->cl_reason]);
		if (cl->cl_exit >= 0)
			log_uint(&l, "exit", (unsigned long long)cl->cl_exit);
		if (cl->cl_signal > 0)
			log_str(&l, "signal", sigabbrev_np(cl->cl_signal) != NULL ?
			    sigabbrev_np(cl->cl_signal) : "?");
		if (cl->cl_error[0] != '\0')
			log_str(&l, "error", cl->cl_error);
	}
	log_end(&l);
}

void
client_log_accept(struct client *cl)
{
	if (cl->cl_logged)
		return;
	cl->cl_logged = true;
	netaddr_format((struct sockaddr *)&cl->cl_peer, cl->cl_peername,
	    sizeof cl->cl_peername);
	client_log(cl, "accept", false);
}

/* Forget cl: release what it holds, close its socket, free it. */
static void
client_forget(struct client *cl)
{
	struct channel *ch = cl->cl_channel;
	struct server *sv = cl->cl_server;

	if (cl->cl_admitted)
		stats_sub(ch->ch_stats->cs_active, 1);
	pthread_mutex_lock(&ch->ch_lock);
	TAILQ_REMOVE(&ch->ch_clients, cl, cl_entry);
	/* Closed under the lock, so shutdown never touches a reused number. */
	if (cl->cl_fd != -1)
		close(cl->cl_fd);
	pthread_mutex_unlock(&ch->ch_lock);
	if (cl->cl_ip_admit != NULL)
		admit_release_ip(cl->cl_ip_admit, &cl->cl_key);
	if (ch->ch_conf.cc_max_clients > 0)
		admit_release(&ch->ch_tally->ct_admit);
	admit_release(&sv->sv_admit);
	free(cl);
	channel_release(ch);
	server_client_left(sv);
}

void
client_close(struct client *cl)
{
	if (cl->cl_logged) {
		client_set_reason(cl, CLOSE_DONE);
		client_log(cl, "close", true);
	}
	client_forget(cl);
}

void
client_discard(struct client *cl)
{
	if (cl->cl_admitted)
		stats_sub(cl->cl_channel->ch_stats->cs_accepted, 1);
	cl->cl_fd = -1;		/* the refusal owns the socket now */
	client_forget(cl);
}

bool
client_stopping(const struct client *cl)
{
	return atomic_load_explicit(&cl->cl_server->sv_stopping,
	    memory_order_relaxed);
}

bool
client_forced(const struct client *cl)
{
	return atomic_load_explicit(&cl->cl_server->sv_forced,
	    memory_order_relaxed);
}

long
client_idle_ms(const struct client *cl)
{
	return (long)cl->cl_channel->ch_conf.cc_idle_timeout * 1000;
}

void
client_set_reason(struct client *cl, enum close_reason reason)
{
	if (cl->cl_reason == CLOSE_NONE)
		cl->cl_reason = reason;
}

void
client_mark_partial(struct client *cl, bool partial)
{
	if (partial && !cl->cl_partial)
		clock_gettime(CLOCK_MONOTONIC, &cl->cl_partial_since);
	cl->cl_partial = partial;
}

void
client_count(struct client *cl, bool out, size_t n)
{
	struct channel_stats *cs = cl->cl_channel->ch_stats;

	if (out) {
		cl->cl_bytes_out += n;
		stats_add(cs->cs_bytes_out, n);
	} else {
		cl->cl_bytes_in += n;
		stats_add(cs->cs_bytes_in, n);
	}
}

void
client_failed(struct client *cl, int error)
{
	if (client_forced(cl))
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
	long idle = client_idle_ms(cl), left;
	struct pollfd pfd = { .fd = cl->cl_fd, .events = events };
	int n;

	do {
		if (client_forced(cl)) {
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

static bool
client_parking_service(const struct client *cl)
{
	return (cl->cl_channel->ch_service->svc_flags & SVC_PARKS) != 0;
}

/* Between requests and quiet for a while: give the thread back? */
static bool
client_parks(struct client *cl, int error)
{
	return (error == EAGAIN || error == EWOULDBLOCK) && !cl->cl_partial &&
	    client_parking_service(cl) && !client_stopping(cl);
}

ssize_t
client_read(struct client *cl, void *buf, size_t len)
{
	ssize_t n;

	if (cl->cl_idle_expired) {
		cl->cl_idle_expired = false;
		client_set_reason(cl, CLOSE_IDLE);
		return 0;
	}
	if (cl->cl_partial && !client_wait(cl, POLLIN, &cl->cl_partial_since))
		return 0;
	/*
	 * A parking service's quiet spell ends in EAGAIN; while stopping,
	 * shutdown's SHUT_RD is on its way: read on, to hear it.
	 */
	while ((n = recv(cl->cl_fd, buf, len, 0)) == -1 && (errno == EINTR ||
	    (client_parking_service(cl) && errno == EAGAIN &&
	    client_stopping(cl) && !client_forced(cl))))
		continue;
	if (n > 0) {
		client_count(cl, false, (size_t)n);
		return n;
	}
	if (n == -1 && client_parks(cl, errno)) {
		cl->cl_parking = true;
		return 0;
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
		client_count(cl, true, (size_t)n);
	}
	return 0;
}

/*
 * We spoke last. If the client sent more than we read, closing now would
 * answer with a reset that can eat our reply: send our FIN and read its
 * input until its FIN, for one second in all (a trickle does not extend
 * it), counting what we read.
 */
static void
client_linger(struct client *cl)
{
	struct pollfd pfd = { .fd = cl->cl_fd, .events = POLLIN };
	struct timespec since;
	size_t drained = 0;
	char scratch[2048];
	long left;
	ssize_t n;

	/* Nothing unread (the usual case): a plain close sends a FIN, not a reset. */
	if ((n = recv(cl->cl_fd, scratch, sizeof scratch, MSG_DONTWAIT)) <= 0)
		return;
	client_count(cl, false, (size_t)n);
	if (shutdown(cl->cl_fd, SHUT_WR) == -1)
		return;
	clock_gettime(CLOCK_MONOTONIC, &since);
	while (drained < CLIENT_LINGER_BYTES &&
	    (left = CLIENT_LINGER_MS - client_elapsed_ms(&since)) > 0 &&
	    poll(&pfd, 1, (int)left) == 1) {
		n = recv(cl->cl_fd, scratch, sizeof scratch, MSG_DONTWAIT);
		if (n <= 0)
			break;
		drained += (size_t)n;
		client_count(cl, false, (size_t)n);
	}
}

static bool
client_spoke_last(enum close_reason reason)
{
	return reason == CLOSE_DONE || reason == CLOSE_QUIT ||
	    reason == CLOSE_IDLE || reason == CLOSE_TOO_LONG ||
	    reason == CLOSE_SHUTDOWN;
}

/*
 * Its service could not start for it (out of descriptors or processes):
 * a refusal after all, counted and logged as one, with no close line.
 */
static void
client_refuse_late(struct client *cl, int reason)
{
	struct channel *ch = cl->cl_channel;
	const char *reply = ch->ch_service->svc_busy_reply;
	struct logline l;

	stats_add(ch->ch_stats->cs_rejected[reason], 1);
	if (cl->cl_admitted)
		stats_sub(ch->ch_stats->cs_accepted, 1);
	if (reply != NULL && reason != REJECT_ACL && reason != REJECT_PROXY)
		send(cl->cl_fd, reply, strlen(reply), MSG_NOSIGNAL |
		    MSG_DONTWAIT);
	if (log_enabled(LOG_WARN)) {
		netaddr_format((struct sockaddr *)&cl->cl_peer, cl->cl_peername,
		    sizeof cl->cl_peername);
		log_begin(&l, LOG_WARN, "reject");
		log_uint(&l, "port", ch->ch_port);
		log_str(&l, "service", ch->ch_service->svc_name);
		client_log_peer(cl, &l);
		log_str(&l, "reason", reject_reason_names[reason]);
		log_end(&l);
	}
	client_forget(cl);
}

/*
 * How many more bytes a PROXY header may have, so none past it is read:
 * v1 a byte at a time (its line ends where it ends), v2 its fixed part,
 * then the length it announces.
 */
static size_t
client_header_want(const unsigned char *buf, size_t len)
{
	if (len == 0 || buf[0] == 'P')
		return 1;
	if (len < PROXYPROTO_V2_HEAD)
		return PROXYPROTO_V2_HEAD - len;
	return PROXYPROTO_V2_HEAD + ((size_t)buf[14] << 8 | buf[15]) - len;
}

/*
 * The PROXY header of a client whose listener stopped in a reload before
 * it was complete: read exactly its bytes, within the deadline from
 * accept, then decide on its address. False if the client was refused.
 */
static bool
client_proxy_header(struct client *cl)
{
	unsigned char buf[PROXYPROTO_MAX];
	struct proxyproto_header h;
	struct pollfd pfd = { .fd = cl->cl_fd, .events = POLLIN };
	long limit = client_idle_ms(cl) > 0 ? client_idle_ms(cl) : 30000, left;
	size_t len = 0, used, want;
	const char *why;
	int rc, reason = REJECT_PROXY;
	ssize_t n;

	cl->cl_header_pending = false;
	while ((rc = proxyproto_parse(buf, len, &h, &used, &why)) ==
	    PROXYPROTO_NEED && (want = client_header_want(buf, len)) > 0 &&
	    len + want <= sizeof buf) {
		if ((left = limit - client_elapsed_ms(&cl->cl_start)) <= 0 ||
		    poll(&pfd, 1, (int)left) != 1 ||
		    (n = recv(cl->cl_fd, buf + len, want, 0)) <= 0)
			break;
		len += (size_t)n;
	}
	if (rc == PROXYPROTO_DONE)
		reason = channel_proxy_decide(cl->cl_channel, cl, &h);
	if (reason != REJECT_NONE) {
		client_refuse_late(cl, reason);
		return false;
	}
	client_admitted(cl);
	return true;
}

/* Quiet between requests: wait on the idle thread, not on this one. */
static bool
client_park(struct client *cl)
{
	long idle = client_idle_ms(cl);

	cl->cl_parking = false;
	if (cl->cl_reason != CLOSE_NONE || client_stopping(cl))
		return false;
	/* It has been quiet for CLIENT_PARK_MS of its idle time already. */
	if (idle > 0 && (idle -= CLIENT_PARK_MS) <= 0)
		idle = 1;
	if (idle_park(&cl->cl_server->sv_idle, cl, idle) == -1) {
		client_set_reason(cl, CLOSE_ERROR);
		return false;
	}
	return true;
}

void
client_run(struct client *cl)
{
	const struct service *svc = cl->cl_channel->ch_service;
	int reason;

	if (cl->cl_header_pending && !client_proxy_header(cl))
		return;
	if (cl->cl_runs++ == 0) {
		if (svc->svc_start != NULL &&
		    (reason = svc->svc_start(cl)) != REJECT_NONE) {
			client_refuse_late(cl, reason);
			return;
		}
		client_log_accept(cl);
	}
	svc->svc_handler(cl);
	if (cl->cl_parking && client_park(cl))
		return;
	client_set_reason(cl, CLOSE_DONE);
	if (client_spoke_last(cl->cl_reason))
		client_linger(cl);
	client_close(cl);
}

static void
client_relay_count(void *arg, bool to_client, size_t n)
{
	client_count(arg, to_client, n);
}

void
client_relay_init(struct client *cl, struct relay *r, int peer_in,
    int peer_out)
{
	memset(r, 0, sizeof *r);
	r->r_client = cl->cl_fd;
	r->r_peer_in = peer_in;
	r->r_peer_out = peer_out;
	r->r_side = -1;
	r->r_idle_ms = (unsigned)client_idle_ms(cl);
	r->r_forced = &cl->cl_server->sv_forced;
	r->r_count = client_relay_count;
	r->r_arg = cl;
}

void
client_relay_ended(struct client *cl, const struct relay *r,
    enum relay_end end, enum close_reason peer_reset, const char *peer)
{
	switch (end) {
	case RELAY_DONE:
		client_set_reason(cl, CLOSE_DONE);
		break;
	case RELAY_CLIENT_RESET:
		client_set_reason(cl, CLOSE_RESET);
		break;
	case RELAY_PEER_RESET:
		snprintf(cl->cl_error, sizeof cl->cl_error, "reset by %s", peer);
		client_set_reason(cl, peer_reset);
		break;
	case RELAY_IDLE:
		client_set_reason(cl, CLOSE_IDLE);
		break;
	case RELAY_FORCED:
		client_set_reason(cl, CLOSE_FORCED);
		break;
	case RELAY_ERROR:
		snprintf(cl->cl_error, sizeof cl->cl_error, "%s",
		    strerror(r->r_errno));
		client_set_reason(cl, CLOSE_ERROR);
		break;
	}
}
