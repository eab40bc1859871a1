/* A channel: one port, one listener thread with its own event_base. */
#ifndef MPSERVER_CHANNEL_H
#define MPSERVER_CHANNEL_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "netaddr.h"
#include "stats.h"

struct server;
struct service;
struct event;
struct event_base;
struct evconnlistener;
struct evhttp;
struct refusal;
struct client;
struct metrics;

struct channel {
	struct server		*ch_server;
	const struct service	*ch_service;
	int			 ch_fd;		/* listening socket until started */
	uint16_t		 ch_port;	/* the bound port (never 0) */
	char			 ch_name[NETADDR_STRLEN];	/* 127.0.0.1:7001 */
	struct channel_stats	 ch_stats;	/* atomics, any thread */

	/* ch_lock guards the client list; a socket closes under it. */
	pthread_mutex_t		 ch_lock;
	TAILQ_HEAD(, client)	 ch_clients;

	/* Owned by the listener thread once it runs. */
	struct event_base	*ch_base;
	struct evconnlistener	*ch_listener;
	struct evhttp		*ch_http;	/* metrics service only */
	struct metrics		*ch_metrics;	/* its connections */
	struct event		*ch_resume;	/* re-enables accept after a pause */
	struct event		*ch_stop;	/* activated to end the thread */
	LIST_HEAD(, refusal)	 ch_refusals;	/* replies to refused clients */
	int			 ch_pause_ms;	/* current back-off */
	struct timespec		 ch_logged[REJECT_NREASONS + 1];	/* rate limit */
	unsigned long		 ch_suppressed[REJECT_NREASONS + 1];
	pthread_t		 ch_thread;
	bool			 ch_running;
};

/* Create, bind and listen; -1 with *cause naming address, port and reason. */
int	channel_open(struct channel *ch, const struct sockaddr_storage *addr,
	    socklen_t addrlen, uint16_t port, char **cause);
/* Take over a listening socket passed by systemd instead of binding one. */
int	channel_adopt(struct channel *ch, int fd, char **cause);
int	channel_start(struct channel *ch, char **cause);
/* Stop the listener thread and close the listening socket. */
void	channel_stop(struct channel *ch);
void	channel_free(struct channel *ch);
/* Count and log (rate-limited) a refusal; on the channel's thread. */
void	channel_count_refusal(struct channel *ch, const struct sockaddr *peer,
	    int reason);
/* The same, then close the client, after its busy reply if the service has one. */
void	channel_refuse(struct channel *ch, int fd, const struct sockaddr *peer,
	    int reason);

#endif
