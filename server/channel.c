/* A channel: one port, one listener thread with its own event_base. */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "cause.h"
#include "channel.h"
#include "client.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "service.h"

#define CHANNEL_STACK		(256 * 1024)
#define CHANNEL_PAUSE_MIN_MS	10	/* first accept pause when out of fds */
#define CHANNEL_PAUSE_MAX_MS	1000
#define CHANNEL_REFUSE_LINGER_S	1	/* a refused client's reply gets this long */
#define CHANNEL_LOG_EVERY_S	1	/* one reject line per reason and second */

const char *const reject_reason_names[REJECT_NREASONS] = {
	"busy", "per_ip", "acl", "resources",
};

/* A refused client whose reply is on its way; the listener thread owns it. */
struct refusal {
	struct channel		*rf_channel;
	struct event		*rf_event;
	int			 rf_fd;
	LIST_ENTRY(refusal)	 rf_entry;
};

static int
channel_fail(char **cause, const char *name, int error)
{
	return cause_set(cause, "cannot listen on %s: %s", name,
	    strerror(error));
}

/*
 * A silent client's idle timeout rides on SO_RCVTIMEO (writes keep their own
 * deadline, see client_write). Linux copies it from a listening socket to
 * the sockets it accepts, so setting it here once saves a call per client.
 */
static void
channel_set_timeouts(struct channel *ch, int fd)
{
	struct timeval tv = { .tv_sec = ch->ch_server->sv_opts->o_idle_timeout };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

int
channel_open(struct channel *ch, const struct sockaddr_storage *addr,
    socklen_t addrlen, uint16_t port, char **cause)
{
	const struct options *o = ch->ch_server->sv_opts;
	struct sockaddr_storage bound = *addr;
	socklen_t len = addrlen;
	int one = 1, zero = 0, error;

	ch->ch_fd = -1;
	netaddr_set_port(&bound, port);
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
	if (bind(ch->ch_fd, (struct sockaddr *)&bound, addrlen) == -1 ||
	    listen(ch->ch_fd, o->o_backlog) == -1 ||
	    getsockname(ch->ch_fd, (struct sockaddr *)&bound, &len) == -1)
		goto fail;
	ch->ch_port = netaddr_port((struct sockaddr *)&bound);
	netaddr_format((struct sockaddr *)&bound, ch->ch_name,
	    sizeof ch->ch_name);
	channel_set_timeouts(ch, ch->ch_fd);
	return 0;
fail:
	error = errno;
	close(ch->ch_fd);
	ch->ch_fd = -1;
	return channel_fail(cause, ch->ch_name, error);
}

int
channel_adopt(struct channel *ch, int fd, char **cause)
{
	struct sockaddr_storage bound;
	socklen_t len = sizeof bound;
	int listening = 0, type = 0;
	socklen_t optlen = sizeof listening;

	if (getsockname(fd, (struct sockaddr *)&bound, &len) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) == -1 ||
	    (optlen = sizeof type, getsockopt(fd, SOL_SOCKET, SO_TYPE, &type,
	    &optlen)) == -1 || !listening || type != SOCK_STREAM ||
	    (bound.ss_family != AF_INET && bound.ss_family != AF_INET6)) {
		return cause_set(cause, "inherited descriptor %d is not a "
		    "listening TCP socket", fd);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ch->ch_fd = fd;
	ch->ch_port = netaddr_port((struct sockaddr *)&bound);
	netaddr_format((struct sockaddr *)&bound, ch->ch_name,
	    sizeof ch->ch_name);
	if (ch->ch_server != NULL)
		channel_set_timeouts(ch, fd);
	return 0;
}

/* At most one line per reason and second; the rest are counted in it. */
static bool
channel_log_due(struct channel *ch, int slot, unsigned long *suppressed)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ch->ch_logged[slot].tv_sec != 0 &&
	    now.tv_sec - ch->ch_logged[slot].tv_sec < CHANNEL_LOG_EVERY_S) {
		ch->ch_suppressed[slot]++;
		return false;
	}
	ch->ch_logged[slot] = now;
	*suppressed = ch->ch_suppressed[slot];
	ch->ch_suppressed[slot] = 0;
	return true;
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
	log_begin(&l, LOG_WARN, "reject");
	log_uint(&l, "port", ch->ch_port);
	log_str(&l, "service", ch->ch_service->svc_name);
	log_str(&l, "peer", netaddr_format((struct sockaddr *)&ss, name,
	    sizeof name));
	log_str(&l, "reason", reject_reason_names[reason]);
	if (suppressed > 0)
		log_uint(&l, "suppressed", suppressed);
	log_end(&l);
}

static void
channel_refusal_free(struct refusal *rf)
{
	LIST_REMOVE(rf, rf_entry);
	event_free(rf->rf_event);
	close(rf->rf_fd);
	free(rf);
}

/* A refused client that gets a reply: wait for its FIN, briefly, then close. */
static void
channel_refuse_drain(evutil_socket_t fd, short what, void *arg)
{
	char scratch[1024];

	if ((what & EV_READ) && recv(fd, scratch, sizeof scratch,
	    MSG_DONTWAIT) > 0)
		return;
	channel_refusal_free(arg);
}

void
channel_count_refusal(struct channel *ch, const struct sockaddr *peer,
    int reason)
{
	stats_add(ch->ch_stats.cs_rejected[reason], 1);
	channel_log_reject(ch, peer, reason);
}

void
channel_refuse(struct channel *ch, int fd, const struct sockaddr *peer,
    int reason)
{
	const char *reply = ch->ch_service->svc_busy_reply;
	struct timeval tv = { .tv_sec = CHANNEL_REFUSE_LINGER_S };
	struct refusal *rf;

	channel_count_refusal(ch, peer, reason);
	if (reason == REJECT_ACL || reply == NULL) {
		close(fd);
		return;
	}
	/* A fresh socket's send buffer takes a short reply without blocking. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (send(fd, reply, strlen(reply), MSG_NOSIGNAL) == -1 ||
	    shutdown(fd, SHUT_WR) == -1 ||
	    (rf = calloc(1, sizeof *rf)) == NULL) {
		close(fd);
		return;
	}
	rf->rf_event = event_new(ch->ch_base, fd, EV_READ | EV_PERSIST,
	    channel_refuse_drain, rf);
	if (rf->rf_event == NULL || event_add(rf->rf_event, &tv) == -1) {
		if (rf->rf_event != NULL)
			event_free(rf->rf_event);
		free(rf);
		close(fd);
		return;
	}
	rf->rf_channel = ch;
	rf->rf_fd = fd;
	LIST_INSERT_HEAD(&ch->ch_refusals, rf, rf_entry);
}

/* Out of descriptors or threads: stop accepting for a while, not spin. */
static void
channel_pause(struct channel *ch, const char *why)
{
	struct timeval tv;
	unsigned long suppressed;
	struct logline l;

	evconnlistener_disable(ch->ch_listener);
	stats_add(ch->ch_stats.cs_pauses, 1);
	ch->ch_pause_ms = ch->ch_pause_ms == 0 ? CHANNEL_PAUSE_MIN_MS :
	    ch->ch_pause_ms * 2;
	if (ch->ch_pause_ms > CHANNEL_PAUSE_MAX_MS)
		ch->ch_pause_ms = CHANNEL_PAUSE_MAX_MS;
	tv.tv_sec = ch->ch_pause_ms / 1000;
	tv.tv_usec = (ch->ch_pause_ms % 1000) * 1000;
	evtimer_add(ch->ch_resume, &tv);
	if (!log_enabled(LOG_WARN) ||
	    !channel_log_due(ch, REJECT_NREASONS, &suppressed))
		return;
	log_begin(&l, LOG_WARN, "accept_pause");
	log_uint(&l, "port", ch->ch_port);
	log_str(&l, "service", ch->ch_service->svc_name);
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
channel_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *peer, int peerlen, void *arg)
{
	struct channel *ch = arg;
	struct server *sv = ch->ch_server;
	struct client *cl;
	int reason;

	(void)lev;
	cl = server_client_new(sv, ch, fd, peer, (socklen_t)peerlen, &reason);
	if (cl == NULL) {
		channel_refuse(ch, fd, peer, reason);
		return;
	}
	if (workers_dispatch(&sv->sv_workers, cl) == -1) {
		server_client_abort(sv, cl);
		channel_refuse(ch, fd, peer, REJECT_RESOURCES);
		channel_pause(ch, "no_thread");
		return;
	}
	ch->ch_pause_ms = 0;
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
	int lfd, fd, n;

	if (ch->ch_listener == NULL || ch->ch_service->svc_http)
		return;
	lfd = evconnlistener_get_fd(ch->ch_listener);
	for (n = 0; n < ch->ch_server->sv_opts->o_backlog; n++) {
		len = sizeof peer;
		if ((fd = accept4(lfd, (struct sockaddr *)&peer, &len,
		    SOCK_CLOEXEC)) == -1)
			break;
		channel_accept(ch->ch_listener, fd, (struct sockaddr *)&peer,
		    (int)len, ch);
	}
}

static void
channel_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct channel *ch = arg;

	(void)fd;
	(void)what;
	channel_drain_backlog(ch);
	event_base_loopbreak(ch->ch_base);
}

static void *
channel_main(void *arg)
{
	struct channel *ch = arg;

	pthread_setname_np(pthread_self(), "mp-listener");
	event_base_dispatch(ch->ch_base);
	return NULL;
}

int
channel_start(struct channel *ch, char **cause)
{
	const unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	    LEV_OPT_LEAVE_SOCKETS_BLOCKING;
	pthread_attr_t attr;
	int error;

	if ((ch->ch_base = event_base_new()) == NULL ||
	    (ch->ch_resume = evtimer_new(ch->ch_base, channel_resume, ch)) ==
	    NULL ||
	    (ch->ch_stop = event_new(ch->ch_base, -1, 0, channel_stop_cb,
	    ch)) == NULL)
		goto fail;
	/* Handlers do blocking I/O, so accepted sockets stay blocking. */
	ch->ch_listener = evconnlistener_new(ch->ch_base, channel_accept, ch,
	    flags, 0, ch->ch_fd);
	if (ch->ch_listener == NULL)
		goto fail;
	ch->ch_fd = -1;		/* the listener owns it now */
	evconnlistener_set_error_cb(ch->ch_listener, channel_accept_error);
	if (ch->ch_service->svc_http && metrics_attach(ch) == -1)
		goto fail;
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
	return cause_set(cause, "cannot start channel %s: %s", ch->ch_name,
	    strerror(errno));
}

void
channel_stop(struct channel *ch)
{
	if (ch->ch_running) {
		/* An active event, unlike loopbreak, is not lost before dispatch. */
		event_active(ch->ch_stop, 0, 0);
		pthread_join(ch->ch_thread, NULL);
		ch->ch_running = false;
	}
	if (ch->ch_http != NULL)
		metrics_detach(ch);
	if (ch->ch_listener != NULL) {
		evconnlistener_free(ch->ch_listener);
		ch->ch_listener = NULL;
	}
	if (ch->ch_fd != -1) {
		close(ch->ch_fd);
		ch->ch_fd = -1;
	}
}

void
channel_free(struct channel *ch)
{
	channel_stop(ch);
	while (!LIST_EMPTY(&ch->ch_refusals))
		channel_refusal_free(LIST_FIRST(&ch->ch_refusals));
	if (ch->ch_resume != NULL)
		event_free(ch->ch_resume);
	if (ch->ch_stop != NULL)
		event_free(ch->ch_stop);
	/* Refused clients still lingering are closed with the base. */
	if (ch->ch_base != NULL)
		event_base_free(ch->ch_base);
	if (ch->ch_server != NULL)
		pthread_mutex_destroy(&ch->ch_lock);
	memset(ch, 0, sizeof *ch);
	ch->ch_fd = -1;
}
