/* A channel: one port, one listener thread with its own event_base. */
#ifndef MPSERVER_CHANNEL_H
#define MPSERVER_CHANNEL_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "admit.h"
#include "conf.h"
#include "netaddr.h"
#include "stats.h"

struct server;
struct service;
struct event;
struct event_base;
struct evconnlistener;
struct refusal;
struct client;

/*
 * What a port keeps across a reload that changes its line: its counters,
 * and the admission count of its channel's max-clients and own max-per-ip,
 * so clients admitted under the old line still count.
 */
struct channel_tally {
	atomic_uint		 ct_refs;	/* channels that share it */
	struct channel_stats	 ct_stats;	/* atomics, any thread */
	struct admit		 ct_admit;	/* its own atomics and lock */
};

/* How a listener thread is asked to end. */
enum channel_stop {
	CHANNEL_RUN,
	CHANNEL_STOP_RELOAD,	/* removed or replaced: serve everyone admitted */
	CHANNEL_STOP_SHUTDOWN,	/* SIGTERM: serve what was already sent */
};

struct channel {
	/* Set before the listener thread starts, read-only afterwards. */
	struct server		*ch_server;
	const struct service	*ch_service;
	struct channel_conf	 ch_conf;
	struct channel_tally	*ch_tally;
	struct channel_stats	*ch_stats;	/* &ch_tally->ct_stats */
	int			 ch_fd;		/* the listening socket */
	bool			 ch_from_file;	/* a reload may change it */
	bool			 ch_inherited;	/* its socket came from systemd */
	uint16_t		 ch_port;	/* the bound port (never 0) */
	char			 ch_name[NETADDR_STRLEN];	/* 127.0.0.1:7001 */

	atomic_uint		 ch_refs;	/* the server's, and one per client */
	atomic_int		 ch_stop;	/* enum channel_stop: set, then wake */
	bool			 ch_keep_fd;	/* written before ch_stop */
	bool			 ch_go;		/* past the gate: sv_gate */
	TAILQ_ENTRY(channel)	 ch_all;	/* server's sv_all, sv_alllock */

	/* ch_lock guards the client list; a client's socket closes under it. */
	pthread_mutex_t		 ch_lock;
	TAILQ_HEAD(, client)	 ch_clients;

	/*
	 * The base and everything on it belong to the listener thread while
	 * it runs (the base has no lock: EVENT_BASE_FLAG_NOLOCK); the main
	 * thread touches them only before it starts and after it is joined.
	 */
	struct event_base	*ch_base;
	struct evconnlistener	*ch_listener;
	struct event		*ch_wake;	/* the server's wake descriptor */
	struct event		*ch_resume;	/* re-enables accept after a pause */
	struct event		*ch_report;	/* suppressed refusal counts, at window end */
	TAILQ_HEAD(, client)	 ch_waiting;	/* for their PROXY header */
	LIST_HEAD(, refusal)	 ch_refusals;	/* refused clients reading our reply */
	struct admit_rate	 ch_rate;
	int			 ch_pause_ms;	/* current back-off */
	struct timespec		 ch_logged[REJECT_NREASONS + 1];	/* rate limit */
	unsigned long		 ch_suppressed[REJECT_NREASONS + 1];
	pthread_t		 ch_thread;
	bool			 ch_running;
};

/* A parking service's client is quiet this long before it parks (client.c). */
#define CHANNEL_PARK_MS 10

/* A channel for cc, not yet bound; tally NULL: a fresh one. NULL with *cause. */
struct channel *channel_new(struct server *sv, const struct channel_conf *cc,
	    bool from_file, struct channel_tally *tally, char **cause);
/* Bind and listen; -1 with *cause naming address, port and reason. */
int	channel_open(struct channel *ch, char **cause);
/* Take over a listening socket (systemd's, or a replaced channel's). */
int	channel_adopt(struct channel *ch, int fd, char **cause);
/* The port a listening socket is bound to, or 0 if it is not one. */
uint16_t channel_socket_port(int fd);
/*
 * Its base, listener and thread; -1 with *cause, nothing started. A gated
 * thread waits for server_open_gate before it serves.
 */
int	channel_start(struct channel *ch, bool gated, char **cause);
/*
 * Ask the listener thread to end (channel_stop_begin, for many channels at
 * once, then server_wake_listeners) and join it (channel_stop_end). With
 * keep_fd the listening socket stays open, its queue too, and is returned
 * for a successor; otherwise it is closed and -1 returned.
 */
void	channel_stop_begin(struct channel *ch, enum channel_stop how,
	    bool keep_fd);
int	channel_stop_end(struct channel *ch);
void	channel_ref(struct channel *ch);
/* Let go; the last one frees it (and leaves the server's list). */
void	channel_release(struct channel *ch);
/* Hand an admitted client to a handler thread, or refuse it (resources). */
void	channel_dispatch(struct channel *ch, struct client *cl);
struct proxyproto_header;
/*
 * A PROXY header is in: its address becomes the client's, and the ACL and
 * max-per-ip are decided on it. REJECT_NONE or the reason. Any thread.
 */
int	channel_proxy_decide(struct channel *ch, struct client *cl,
	    const struct proxyproto_header *h);

#endif
