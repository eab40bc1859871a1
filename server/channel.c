/* A channel: one port, one listener thread with its own event_base. */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "cause.h"
#include "channel.h"
#include "client.h"
#include "idle.h"
#include "log.h"
#include "proxyproto.h"
#include "server.h"
#include "service.h"

/* A listener runs libevent's loop and our callbacks: a small stack does. */
#if defined(MPSERVER_HANDLER_STACK) && MPSERVER_HANDLER_STACK > 65536
#define CHANNEL_STACK		MPSERVER_HANDLER_STACK
#else
#define CHANNEL_STACK		(64 * 1024)
#endif
#define CHANNEL_PAUSE_MIN_MS	10	/* first accept pause when out of fds */
#define CHANNEL_PAUSE_MAX_MS	1000
#define CHANNEL_REFUSE_LINGER_MS 1000	/* a refused client's reply gets this long, in all */
#define CHANNEL_REFUSE_MAX	256	/* refused clients lingering at once, server-wide */
#define CHANNEL_REFUSE_DRAIN	(16 * 1024)
#define CHANNEL_LOG_EVERY_S	1	/* one reject line per reason and second */
#define CHANNEL_PROXY_WAIT_S	30	/* a PROXY header's deadline when idle-timeout is 0 */
#define CHANNEL_BASE_FDS	3	/* a base's epoll and signal pair */
#define CHANNEL_WAIT_FD_MAX	1024	/* a first byte awaited here below it: an 8 KiB map */

/* A refused client reading its reply; the listener thread owns it. */
struct refusal {
	struct channel		*rf_channel;
	struct event		*rf_event;
	int			 rf_fd;
	struct timespec		 rf_start;
	LIST_ENTRY(refusal)	 rf_entry;
};

static void	channel_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);

static int
channel_fail(char **cause, const char *name, int error)
{
	return cause_set(cause, "cannot listen on %s: %s", name,
	    strerror(error));
}

static long
channel_ms_since(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 +
	    (now.tv_nsec - since->tv_nsec) / 1000000;
}

static struct timeval
channel_tv(long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return tv;
}

struct channel *
channel_new(struct server *sv, const struct channel_conf *cc, bool from_file,
    struct channel_tally *tally, char **cause)
{
	struct channel *ch;

	if ((ch = calloc(1, sizeof *ch)) == NULL ||
	    conf_copy(&ch->ch_conf, cc) == -1) {
		free(ch);
		cause_set(cause, "out of memory");
		return NULL;
	}
	if (tally == NULL) {
		if ((tally = calloc(1, sizeof *tally)) == NULL) {
			conf_free(&ch->ch_conf);
			free(ch);
			cause_set(cause, "out of memory");
			return NULL;
		}
		admit_init(&tally->ct_admit);
	}
	atomic_fetch_add(&tally->ct_refs, 1);
	ch->ch_server = sv;
	ch->ch_service = &service_table[cc->cc_service];
	ch->ch_tally = tally;
	ch->ch_stats = &tally->ct_stats;
	ch->ch_fd = -1;
	ch->ch_from_file = from_file;
	ch->ch_port = cc->cc_port;
	atomic_init(&ch->ch_refs, 1);
	atomic_init(&ch->ch_stop, CHANNEL_RUN);
	pthread_mutex_init(&ch->ch_lock, NULL);
	TAILQ_INIT(&ch->ch_clients);
	TAILQ_INIT(&ch->ch_waiting);
	LIST_INIT(&ch->ch_refusals);
	pthread_mutex_lock(&sv->sv_alllock);
	TAILQ_INSERT_TAIL(&sv->sv_all, ch, ch_all);
	pthread_mutex_unlock(&sv->sv_alllock);
	return ch;
}

/*
 * A silent client's idle timeout rides on SO_RCVTIMEO (writes keep their own
 * deadline, see client_write). Linux copies it from a listening socket to
 * the sockets it accepts, so setting it here once saves a call per client.
 */
static void
channel_set_timeouts(struct channel *ch, int fd)
{
	struct timeval tv = { .tv_sec = ch->ch_conf.cc_idle_timeout };

	/* A service that parks waits briefly, then on the idle thread (client.c). */
	if (ch->ch_service->svc_flags & SVC_PARKS) {
		tv.tv_sec = 0;
		tv.tv_usec = CHANNEL_PARK_MS * 1000;
	}

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

int
channel_open(struct channel *ch, char **cause)
{
	const struct options *o = ch->ch_server->sv_opts;
	struct sockaddr_storage bound = o->o_addr;
	socklen_t len = o->o_addrlen;
	int one = 1, zero = 0, error;

	netaddr_set_port(&bound, ch->ch_conf.cc_port);
	netaddr_format((struct sockaddr *)&bound, ch->ch_name,
	    sizeof ch->ch_name);
	ch->ch_fd = socket(bound.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (ch->ch_fd == -1)
		return channel_fail(cause, ch->ch_name, errno);
	setsockopt(ch->ch_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (o->o_reuseport && setsockopt(ch->ch_fd, SOL_SOCKET, SO_REUSEPORT,
	    &one, sizeof one) == -1)
		goto fail;
	/* "::" means both families, whatever net.ipv6.bindv6only says. */
	if (bound.ss_family == AF_INET6)
		setsockopt(ch->ch_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
		    sizeof zero);
	if (bind(ch->ch_fd, (struct sockaddr *)&bound, len) == -1 ||
	    listen(ch->ch_fd, o->o_backlog) == -1 ||
	    getsockname(ch->ch_fd, (struct sockaddr *)&bound, &len) == -1)
		goto fail;
	ch->ch_port = netaddr_port((struct sockaddr *)&bound);
	netaddr_format((struct sockaddr *)&bound, ch->ch_name,
	    sizeof ch->ch_name);
	return 0;
fail:
	error = errno;
	close(ch->ch_fd);
	ch->ch_fd = -1;
	return channel_fail(cause, ch->ch_name, error);
}

uint16_t
channel_socket_port(int fd)
{
	struct sockaddr_storage bound;
	socklen_t len = sizeof bound;
	int listening = 0, type = 0;
	socklen_t optlen = sizeof listening;

	if (getsockname(fd, (struct sockaddr *)&bound, &len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) == -1 ||
	    (optlen = sizeof type, getsockopt(fd, SOL_SOCKET, SO_TYPE, &type,
	    &optlen)) == -1 || !listening || type != SOCK_STREAM ||
	    (bound.ss_family != AF_INET && bound.ss_family != AF_INET6))
		return 0;
	return netaddr_port((struct sockaddr *)&bound);
}

int
channel_adopt(struct channel *ch, int fd, char **cause)
{
	struct sockaddr_storage bound;
	socklen_t len = sizeof bound;

	if (channel_socket_port(fd) == 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &len) == -1) {
		return cause_set(cause, "inherited descriptor %d is not a "
		    "listening TCP socket", fd);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ch->ch_fd = fd;
	ch->ch_port = netaddr_port((struct sockaddr *)&bound);
	netaddr_format((struct sockaddr *)&bound, ch->ch_name,
	    sizeof ch->ch_name);
	return 0;
}

/* At most one line per reason and second; the rest are counted and reported. */
static bool
channel_log_due(struct channel *ch, int slot, unsigned long *suppressed)
{
	struct timespec now;
	struct timeval tv;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ch->ch_logged[slot].tv_sec != 0 &&
	    now.tv_sec - ch->ch_logged[slot].tv_sec < CHANNEL_LOG_EVERY_S) {
		/* The window's count is logged when it closes (channel_report). */
		if (ch->ch_suppressed[slot]++ == 0 &&
		    !evtimer_pending(ch->ch_report, NULL)) {
			tv = channel_tv(CHANNEL_LOG_EVERY_S * 1000);
			evtimer_add(ch->ch_report, &tv);
		}
		return false;
	}
	ch->ch_logged[slot] = now;
	*suppressed = ch->ch_suppressed[slot];
	ch->ch_suppressed[slot] = 0;
	return true;
}

static void
channel_log_head(struct channel *ch, struct logline *l, const char *event)
{
	log_begin(l, LOG_WARN, event);
	log_uint(l, "port", ch->ch_port);
	log_str(l, "service", ch->ch_service->svc_name);
}

static void
channel_log_reject(struct channel *ch, const struct sockaddr *peer, int reason)
{
	char name[NETADDR_STRLEN];
	unsigned long suppressed;
	struct sockaddr_storage ss;
	struct logline l;

	if (!log_enabled(LOG_WARN) || !channel_log_due(ch, reason, &suppressed))
		return;
	memset(&ss, 0, sizeof ss);
	memcpy(&ss, peer, peer->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	netaddr_canonical(&ss, NULL);
	channel_log_head(ch, &l, "reject");
	log_str(&l, "peer", netaddr_format((struct sockaddr *)&ss, name,
	    sizeof name));
	log_str(&l, "reason", reject_reason_names[reason]);
	if (suppressed > 0)
		log_uint(&l, "suppressed", suppressed);
	log_end(&l);
}

/* The counts the rate limit held back, once their window is over (or at stop). */
static void
channel_report(evutil_socket_t fd, short what, void *arg)
{
	struct channel *ch = arg;
	struct logline l;
	int slot;

	(void)fd;
	(void)what;
	for (slot = 0; slot <= REJECT_NREASONS; slot++) {
		if (ch->ch_suppressed[slot] == 0)
			continue;
		if (log_enabled(LOG_WARN)) {
			channel_log_head(ch, &l, slot == REJECT_NREASONS ?
			    "accept_pause" : "reject");
			if (slot < REJECT_NREASONS)
				log_str(&l, "reason", reject_reason_names[slot]);
			log_uint(&l, "suppressed", ch->ch_suppressed[slot]);
			log_end(&l);
		}
		ch->ch_suppressed[slot] = 0;
	}
}

/* Count and log (rate-limited) a refusal; on the channel's thread. */
static void
channel_count_refusal(struct channel *ch, const struct sockaddr *peer,
    int reason)
{
	stats_add(ch->ch_stats->cs_rejected[reason], 1);
	channel_log_reject(ch, peer, reason);
}

static void
channel_refusal_free(struct refusal *rf)
{
	LIST_REMOVE(rf, rf_entry);
	event_free(rf->rf_event);
	close(rf->rf_fd);
	atomic_fetch_sub(&rf->rf_channel->ch_server->sv_lingering, 1);
	free(rf);
}

/*
 * A refused client that got a reply: read until its FIN, then close. The
 * deadline counts from the refusal; what it sends does not extend it.
 */
static void
channel_refusal_read(evutil_socket_t fd, short what, void *arg)
{
	struct refusal *rf = arg;
	struct timeval tv;
	char scratch[1024];
	long left;

	if ((what & EV_READ) && recv(fd, scratch, sizeof scratch,
	    MSG_DONTWAIT) > 0 && (left = CHANNEL_REFUSE_LINGER_MS -
	    channel_ms_since(&rf->rf_start)) > 0) {
		tv = channel_tv(left);
		event_add(rf->rf_event, &tv);
		return;
	}
	channel_refusal_free(rf);
}

/* Read what the client already sent, so our close is a FIN; true if there was any. */
static bool
channel_refusal_drain(int fd)
{
	char scratch[1024];
	size_t total = 0;
	ssize_t n;

	while (total < CHANNEL_REFUSE_DRAIN && (n = recv(fd, scratch,
	    sizeof scratch, MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	return total > 0;
}

/* Close a refused client, after its busy reply if the service has one. */
static void
channel_refuse(struct channel *ch, int fd, const struct sockaddr *peer,
    int reason)
{
	const char *reply = ch->ch_service->svc_busy_reply;
	struct server *sv = ch->ch_server;
	struct timeval tv = channel_tv(CHANNEL_REFUSE_LINGER_MS);
	struct refusal *rf;

	channel_count_refusal(ch, peer, reason);
	/* ACL and PROXY refusals get no byte. */
	if (reason == REJECT_ACL || reason == REJECT_PROXY || reply == NULL) {
		close(fd);
		return;
	}
	/* A fresh socket's send buffer takes a short reply without blocking. */
	if (send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT) == -1 ||
	    !channel_refusal_drain(fd) || shutdown(fd, SHUT_WR) == -1) {
		close(fd);
		return;
	}
	/* Lingering is bounded too: past the cap, a reset may eat the reply. */
	if (atomic_fetch_add(&sv->sv_lingering, 1) >= CHANNEL_REFUSE_MAX) {
		atomic_fetch_sub(&sv->sv_lingering, 1);
		close(fd);
		return;
	}
	if ((rf = calloc(1, sizeof *rf)) == NULL ||
	    (rf->rf_event = event_new(ch->ch_base, fd, EV_READ,
	    channel_refusal_read, rf)) == NULL ||
	    event_add(rf->rf_event, &tv) == -1) {
		if (rf != NULL && rf->rf_event != NULL)
			event_free(rf->rf_event);
		free(rf);
		atomic_fetch_sub(&sv->sv_lingering, 1);
		close(fd);
		return;
	}
	rf->rf_channel = ch;
	rf->rf_fd = fd;
	clock_gettime(CLOCK_MONOTONIC, &rf->rf_start);
	LIST_INSERT_HEAD(&ch->ch_refusals, rf, rf_entry);
}

/* A registered client refused after all: forget it, then refuse its socket. */
static void
channel_refuse_client(struct channel *ch, struct client *cl, int reason)
{
	struct sockaddr_storage peer = cl->cl_peer;
	int fd = cl->cl_fd;

	channel_ref(ch);	/* cl's reference may be the last */
	client_discard(cl);
	channel_refuse(ch, fd, (struct sockaddr *)&peer, reason);
	channel_release(ch);
}

void
channel_dispatch(struct channel *ch, struct client *cl)
{
	/* No thread: refused at once (SPEC 4); pauses are for descriptors only. */
	if (workers_dispatch(&ch->ch_server->sv_workers, cl) == -1)
		channel_refuse_client(ch, cl, REJECT_RESOURCES);
}

/* Out of descriptors: stop accepting for a while, not spin. */
static void
channel_pause(struct channel *ch, const char *why)
{
	unsigned long suppressed;
	struct timeval tv;
	struct logline l;

	evconnlistener_disable(ch->ch_listener);
	stats_add(ch->ch_stats->cs_pauses, 1);
	ch->ch_pause_ms = ch->ch_pause_ms == 0 ? CHANNEL_PAUSE_MIN_MS :
	    ch->ch_pause_ms * 2;
	if (ch->ch_pause_ms > CHANNEL_PAUSE_MAX_MS)
		ch->ch_pause_ms = CHANNEL_PAUSE_MAX_MS;
	tv = channel_tv(ch->ch_pause_ms);
	evtimer_add(ch->ch_resume, &tv);
	if (!log_enabled(LOG_WARN) ||
	    !channel_log_due(ch, REJECT_NREASONS, &suppressed))
		return;
	channel_log_head(ch, &l, "accept_pause");
	log_str(&l, "error", why);
	log_uint(&l, "pause_ms", (unsigned long long)ch->ch_pause_ms);
	if (suppressed > 0)
		log_uint(&l, "suppressed", suppressed);
	log_end(&l);
}

static void
channel_resume(evutil_socket_t fd, short what, void *arg)
{
	struct channel *ch = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(ch->ch_listener);
}

static void
channel_unwait(struct client *cl)
{
	TAILQ_REMOVE(&cl->cl_channel->ch_waiting, cl, cl_wait_entry);
	event_free(cl->cl_wait);
	cl->cl_wait = NULL;
}

static void	channel_waited(evutil_socket_t, short, void *);

/*
 * Wait until the client sends its first byte (or its PROXY header), so a
 * thread is woken only when there is work for it (as nginx's "deferred"
 * and Apache's AcceptFilter do), with the idle deadline from accept. On
 * the listener's own base, which costs no other thread, while the
 * client's descriptor is low: a base's map of descriptors grows as large
 * as the highest one it ever watched, and never shrinks, so a high one is
 * awaited on the idle thread's base, one map for the whole server. A
 * PROXY header is awaited here, edge-triggered: a half header stays
 * unread (peeked), and only new bytes should wake us.
 */
static void
channel_wait(struct channel *ch, struct client *cl)
{
	long idle = client_idle_ms(cl);
	bool header = !cl->cl_admitted;
	struct timeval tv;

	/* A high descriptor would grow this base's map: the idle thread's then. */
	if (!header && cl->cl_fd >= CHANNEL_WAIT_FD_MAX) {
		if (idle_park(&ch->ch_server->sv_idle, cl, idle) == -1)
			channel_dispatch(ch, cl);
		return;
	}
	if (idle == 0 && header)
		idle = CHANNEL_PROXY_WAIT_S * 1000;
	cl->cl_wait = event_new(ch->ch_base, cl->cl_fd, header ?
	    EV_READ | EV_PERSIST | EV_ET : EV_READ, channel_waited, cl);
	tv = channel_tv(idle);
	if (cl->cl_wait == NULL || event_add(cl->cl_wait, idle > 0 ? &tv :
	    NULL) == -1) {
		if (cl->cl_wait != NULL)
			event_free(cl->cl_wait);
		cl->cl_wait = NULL;
		if (header)
			channel_refuse_client(ch, cl, REJECT_RESOURCES);
		else
			channel_dispatch(ch, cl);
		return;
	}
	TAILQ_INSERT_TAIL(&ch->ch_waiting, cl, cl_wait_entry);
}

/* Has the client sent anything (or closed)? */
static bool
channel_readable(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0;
}

/* Admitted: to a thread now if the service speaks first, else at its first byte. */
static void
channel_serve(struct channel *ch, struct client *cl, bool data_waiting)
{
	client_admitted(cl);
	/* Often the request came with the handshake: no need to wait then. */
	if ((ch->ch_service->svc_flags & SVC_SPEAKS_FIRST) || data_waiting ||
	    channel_readable(cl->cl_fd))
		channel_dispatch(ch, cl);
	else
		channel_wait(ch, cl);
}

/* The per-source table and limit that apply to key on this channel, if any. */
static struct admit *
channel_ip_table(struct channel *ch)
{
	const struct channel_conf *cc = &ch->ch_conf;

	if (cc->cc_max_per_ip == 0)
		return NULL;
	return cc->cc_own_per_ip ? &ch->ch_tally->ct_admit :
	    &ch->ch_server->sv_admit;
}

static int
channel_take_ip(struct channel *ch, const struct admit_key *key,
    struct admit **table)
{
	int rc;

	if ((*table = channel_ip_table(ch)) == NULL)
		return REJECT_NONE;
	if ((rc = admit_take_ip(*table, key, ch->ch_conf.cc_max_per_ip)) !=
	    REJECT_NONE)
		*table = NULL;
	return rc;
}

int
channel_proxy_decide(struct channel *ch, struct client *cl,
    const struct proxyproto_header *h)
{
	const struct channel_conf *cc = &ch->ch_conf;
	int reason;

	if (h->pp_local)
		return REJECT_NONE;	/* a health check: the proxy's own */
	cl->cl_via = cl->cl_peer;
	memcpy(&cl->cl_peer, &h->pp_src, h->pp_srclen);
	netaddr_canonical(&cl->cl_peer, NULL);
	admit_key((struct sockaddr *)&cl->cl_peer, &cl->cl_key);
	cl->cl_proxied = true;
	reason = admit_acl(&cc->cc_allow, &cc->cc_deny,
	    (struct sockaddr *)&cl->cl_peer);
	if (reason == REJECT_NONE)
		reason = channel_take_ip(ch, &cl->cl_key, &cl->cl_ip_admit);
	return reason;
}

/* The header is in, on the listener: serve the client, or refuse it. */
static void
channel_proxied(struct channel *ch, struct client *cl,
    const struct proxyproto_header *h, bool data_waiting)
{
	int reason = channel_proxy_decide(ch, cl, h);

	if (reason != REJECT_NONE)
		channel_refuse_client(ch, cl, reason);
	else
		channel_serve(ch, cl, data_waiting);
}

/* Has the client shut down its side (its FIN may wait behind unread bytes)? */
static bool
channel_peer_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* A proxy-from client has sent bytes: is its header complete? */
static void
channel_read_header(struct channel *ch, struct client *cl)
{
	char buf[PROXYPROTO_MAX];
	struct proxyproto_header h;
	const char *why = "connection closed";
	struct timeval tv;
	size_t used = 0;
	ssize_t n;
	long left;
	int rc = PROXYPROTO_ERROR;

	n = recv(cl->cl_fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		rc = proxyproto_parse(buf, (size_t)n, &h, &used, &why);
	/* Peeking hides a FIN behind the bytes: a half header then EOF is truncated. */
	if (rc == PROXYPROTO_NEED && channel_peer_closed(cl->cl_fd)) {
		rc = PROXYPROTO_ERROR;
		why = "truncated";
	}
	if (rc == PROXYPROTO_NEED && (size_t)n < sizeof buf &&
	    (left = client_idle_ms(cl)) > 0) {
		/* Still the deadline from accept, however it trickles. */
		if ((left -= channel_ms_since(&cl->cl_start)) > 0) {
			tv = channel_tv(left);
			event_add(cl->cl_wait, &tv);
			return;
		}
	} else if (rc == PROXYPROTO_NEED && (size_t)n < sizeof buf)
		return;
	channel_unwait(cl);
	/* Exactly the header's bytes: what follows belongs to the service. */
	if (rc == PROXYPROTO_DONE && recv(cl->cl_fd, buf, used, 0) ==
	    (ssize_t)used) {
		channel_proxied(ch, cl, &h, (size_t)n > used);
		return;
	}
	if (rc == PROXYPROTO_NEED)
		why = "header too long";
	log_msg(LOG_DEBUG, "proxy", "port %u: %s", ch->ch_port, why);
	channel_refuse_client(ch, cl, REJECT_PROXY);
}

static void
channel_waited(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	struct channel *ch = cl->cl_channel;

	(void)fd;
	if (!cl->cl_admitted && (what & EV_READ)) {
		channel_read_header(ch, cl);
		return;
	}
	channel_unwait(cl);
	if (!cl->cl_admitted) {
		log_msg(LOG_DEBUG, "proxy", "port %u: no header in time",
		    ch->ch_port);
		channel_refuse_client(ch, cl, REJECT_PROXY);
	} else if (what & EV_TIMEOUT) {
		/* Silent since accept: idle, closed without a byte. */
		client_set_reason(cl, CLOSE_IDLE);
		client_log_accept(cl);
		client_close(cl);
	} else
		channel_dispatch(ch, cl);
}

/*
 * Admission at accept, in SPEC order: ACL, rate, max-clients (the
 * server's, then the channel's), max-per-ip. A proxy-from source passes the
 * ACL and max-per-ip here; they are decided on its header's address.
 */
static int
channel_admit(struct channel *ch, int fd, const struct sockaddr *peer,
    socklen_t peerlen, bool proxied, struct client **clp)
{
	const struct channel_conf *cc = &ch->ch_conf;
	struct server *sv = ch->ch_server;
	struct admit *ip = NULL;
	struct admit_key key;
	int rc;

	if (!proxied && admit_acl(&cc->cc_allow, &cc->cc_deny, peer) !=
	    REJECT_NONE)
		return REJECT_ACL;
	if ((rc = admit_rate(&ch->ch_rate, cc->cc_rate)) != REJECT_NONE)
		return rc;
	if ((rc = admit_take(&sv->sv_admit, sv->sv_opts->o_max_clients)) !=
	    REJECT_NONE)
		return rc;
	if (cc->cc_max_clients > 0 && (rc = admit_take(&ch->ch_tally->ct_admit,
	    cc->cc_max_clients)) != REJECT_NONE)
		goto fail;
	admit_key(peer, &key);
	if (!proxied && (rc = channel_take_ip(ch, &key, &ip)) != REJECT_NONE)
		goto fail_channel;
	if ((*clp = client_new(ch, fd, peer, peerlen)) == NULL) {
		rc = REJECT_RESOURCES;
		if (ip != NULL)
			admit_release_ip(ip, &key);
		goto fail_channel;
	}
	(*clp)->cl_ip_admit = ip;
	return REJECT_NONE;
fail_channel:
	if (cc->cc_max_clients > 0)
		admit_release(&ch->ch_tally->ct_admit);
fail:
	admit_release(&sv->sv_admit);
	return rc;
}

static void
channel_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *peer, int peerlen, void *arg)
{
	struct channel *ch = arg;
	struct client *cl;
	bool proxied;
	int reason;

	(void)lev;
	ch->ch_pause_ms = 0;
	proxied = admit_listed(&ch->ch_conf.cc_proxy_from, peer);
	reason = channel_admit(ch, fd, peer, (socklen_t)peerlen, proxied, &cl);
	if (reason != REJECT_NONE) {
		channel_refuse(ch, fd, peer, reason);
		return;
	}
	client_register(cl);
	if (proxied)
		channel_wait(ch, cl);
	else
		channel_serve(ch, cl, false);
}

static void
channel_accept_error(struct evconnlistener *lev, void *arg)
{
	struct channel *ch = arg;
	int error = EVUTIL_SOCKET_ERROR();

	(void)lev;
	if (error == EMFILE || error == ENFILE || error == ENOBUFS ||
	    error == ENOMEM)
		channel_pause(ch, strerror(error));
	else
		log_msg(LOG_WARN, "accept_error", "port %u: %s", ch->ch_port,
		    strerror(error));
}

/*
 * Clients the kernel has accepted but we have not are clients too: take
 * them in before the listener closes, so a request already sent is answered.
 */
static void
channel_drain_backlog(struct channel *ch)
{
	struct sockaddr_storage peer;
	socklen_t len;
	int fd;

	for (;;) {
		len = sizeof peer;
		if ((fd = accept4(ch->ch_fd, (struct sockaddr *)&peer, &len,
		    SOCK_CLOEXEC)) == -1)
			break;
		channel_accept(ch->ch_listener, fd, (struct sockaddr *)&peer,
		    (int)len, ch);
	}
}

/*
 * The listener is ending while clients still wait on it. One waiting for
 * its first byte is served, but at shutdown only if it sent something
 * (SPEC 4: what was sent before the signal is answered). One still
 * sending its PROXY header is served in a reload (a thread reads the rest
 * of the header); at shutdown what is there is decided on now.
 */
static void
channel_settle_waiting(struct channel *ch, enum channel_stop how)
{
	struct client *cl;

	while ((cl = TAILQ_FIRST(&ch->ch_waiting)) != NULL) {
		if (cl->cl_admitted) {
			/* A first byte: served, but at shutdown only if it came. */
			channel_unwait(cl);
			if (how == CHANNEL_STOP_SHUTDOWN &&
			    !channel_readable(cl->cl_fd)) {
				client_set_reason(cl, CLOSE_SHUTDOWN);
				client_log_accept(cl);
				client_close(cl);
			} else
				channel_dispatch(ch, cl);
			continue;
		}
		if (how == CHANNEL_STOP_RELOAD) {
			channel_unwait(cl);
			cl->cl_header_pending = true;
			channel_dispatch(ch, cl);
			continue;
		}
		channel_read_header(ch, cl);
		if (cl->cl_wait == NULL)
			continue;	/* decided: served or refused */
		channel_unwait(cl);
		channel_refuse_client(ch, cl, REJECT_PROXY);
	}
}

/* The server's wake descriptor fired: is it for us? */
static void
channel_woken(evutil_socket_t fd, short what, void *arg)
{
	struct channel *ch = arg;
	enum channel_stop how = atomic_load(&ch->ch_stop);

	(void)fd;
	(void)what;
	if (how == CHANNEL_RUN)
		return;
	/* A replaced channel leaves its queue to its successor. */
	if (ch->ch_fd != -1 && !(how == CHANNEL_STOP_RELOAD &&
	    ch->ch_keep_fd))
		channel_drain_backlog(ch);
	channel_settle_waiting(ch, how);
	channel_report(-1, 0, ch);
	event_base_loopbreak(ch->ch_base);
}

/* The base and what is on it: by its thread at its end, or before it ever ran. */
static void
channel_free_base(struct channel *ch)
{
	while (!LIST_EMPTY(&ch->ch_refusals))
		channel_refusal_free(LIST_FIRST(&ch->ch_refusals));
	if (ch->ch_listener != NULL)
		evconnlistener_free(ch->ch_listener);	/* the socket stays open */
	if (ch->ch_wake != NULL)
		event_free(ch->ch_wake);
	if (ch->ch_resume != NULL)
		event_free(ch->ch_resume);
	if (ch->ch_report != NULL)
		event_free(ch->ch_report);
	if (ch->ch_base != NULL)
		event_base_free(ch->ch_base);
	ch->ch_listener = NULL;
	ch->ch_wake = ch->ch_resume = ch->ch_report = NULL;
	ch->ch_base = NULL;
}

static void *
channel_main(void *arg)
{
	struct channel *ch = arg;

	pthread_setname_np(pthread_self(), "mp-listener");
	/* A reload lets its new listeners run only once it commits. */
	pthread_mutex_lock(&ch->ch_server->sv_gate);
	while (!ch->ch_go && atomic_load(&ch->ch_stop) == CHANNEL_RUN)
		pthread_cond_wait(&ch->ch_server->sv_gate_cond,
		    &ch->ch_server->sv_gate);
	pthread_mutex_unlock(&ch->ch_server->sv_gate);
	if (atomic_load(&ch->ch_stop) == CHANNEL_RUN)
		event_base_dispatch(ch->ch_base);
	else
		channel_woken(-1, 0, ch);
	/* Its own base, freed by its own thread; stops run in parallel. */
	channel_free_base(ch);
	if (!ch->ch_keep_fd && ch->ch_fd != -1) {
		close(ch->ch_fd);
		ch->ch_fd = -1;
	}
	return NULL;
}

/*
 * A base of our own per channel, without a lock or a notification
 * descriptor: only its listener thread touches it once that runs, and it
 * is woken through the server's shared wake descriptor. libevent 2.1
 * calls exit() when a base cannot get its descriptors, so make sure they
 * are there first.
 */
static struct event_base *
channel_base_new(void)
{
	struct event_config *cfg;
	struct event_base *base = NULL;
	int probe[CHANNEL_BASE_FDS], i, n;

	for (n = 0; n < CHANNEL_BASE_FDS; n++) {
		if ((probe[n] = fcntl(0, F_DUPFD_CLOEXEC, 0)) == -1 &&
		    (probe[n] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC,
		    0)) == -1)
			break;
	}
	for (i = 0; i < n; i++)
		close(probe[i]);
	if (n < CHANNEL_BASE_FDS) {
		errno = EMFILE;
		return NULL;
	}
	if ((cfg = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

int
channel_start(struct channel *ch, bool gated, char **cause)
{
	const unsigned flags = LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_LEAVE_SOCKETS_BLOCKING;
	pthread_attr_t attr;
	int error;

	channel_set_timeouts(ch, ch->ch_fd);
	errno = ENOMEM;
	if ((ch->ch_base = channel_base_new()) == NULL ||
	    (ch->ch_resume = evtimer_new(ch->ch_base, channel_resume, ch)) ==
	    NULL ||
	    (ch->ch_report = evtimer_new(ch->ch_base, channel_report, ch)) ==
	    NULL ||
	    (ch->ch_wake = event_new(ch->ch_base, ch->ch_server->sv_wakefd,
	    EV_READ | EV_PERSIST | EV_ET, channel_woken, ch)) == NULL ||
	    event_add(ch->ch_wake, NULL) == -1)
		goto fail;
	/* Handlers do blocking I/O, so accepted sockets stay blocking. */
	ch->ch_listener = evconnlistener_new(ch->ch_base, channel_accept, ch,
	    flags, 0, ch->ch_fd);
	if (ch->ch_listener == NULL)
		goto fail;
	evconnlistener_set_error_cb(ch->ch_listener, channel_accept_error);
	ch->ch_go = !gated;	/* before the thread: pthread_create orders it */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CHANNEL_STACK);
	error = pthread_create(&ch->ch_thread, &attr, channel_main, ch);
	pthread_attr_destroy(&attr);
	if (error != 0) {
		errno = error;
		goto fail;
	}
	ch->ch_running = true;
	return 0;
fail:
	error = errno;
	cause_set(cause, "cannot start channel %s: %s", ch->ch_name,
	    strerror(error));
	return -1;
}

void
channel_stop_begin(struct channel *ch, enum channel_stop how, bool keep_fd)
{
	ch->ch_keep_fd = keep_fd;
	atomic_store(&ch->ch_stop, how);
	/* A listener still at a reload's gate must see it too. */
	server_gate_changed(ch->ch_server);
}

int
channel_stop_end(struct channel *ch)
{
	int fd;

	if (ch->ch_running) {
		pthread_join(ch->ch_thread, NULL);
		ch->ch_running = false;
	}
	channel_free_base(ch);
	fd = ch->ch_fd;
	ch->ch_fd = -1;
	if (ch->ch_keep_fd)
		return fd;
	if (fd != -1)
		close(fd);
	return -1;
}

void
channel_ref(struct channel *ch)
{
	atomic_fetch_add(&ch->ch_refs, 1);
}

static void
channel_tally_release(struct channel_tally *ct)
{
	if (atomic_fetch_sub(&ct->ct_refs, 1) != 1)
		return;
	admit_free(&ct->ct_admit);
	free(ct);
}

void
channel_release(struct channel *ch)
{
	struct server *sv = ch->ch_server;

	if (atomic_fetch_sub(&ch->ch_refs, 1) != 1)
		return;
	/* The last client of a stopped channel is gone, or it never had one. */
	pthread_mutex_lock(&sv->sv_alllock);
	TAILQ_REMOVE(&sv->sv_all, ch, ch_all);
	pthread_mutex_unlock(&sv->sv_alllock);
	channel_free_base(ch);
	if (ch->ch_fd != -1)
		close(ch->ch_fd);
	channel_tally_release(ch->ch_tally);
	conf_free(&ch->ch_conf);
	pthread_mutex_destroy(&ch->ch_lock);
	free(ch);
}
