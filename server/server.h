/* The server: its channels, its clients, start-up and ordered shutdown. */
#ifndef MPSERVER_SERVER_H
#define MPSERVER_SERVER_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "options.h"
#include "admit.h"
#include "worker.h"

#define MPSERVER_NAME "mpserver"

struct channel;
struct client;

struct server {
	const struct options	*sv_opts;	/* read-only once started */
	struct channel		*sv_channels;	/* command-line order */
	size_t			 sv_nchannels;
	struct timespec		 sv_started;	/* CLOCK_MONOTONIC */

	atomic_bool		 sv_stopping;	/* SIGTERM seen: wind down */
	atomic_bool		 sv_forced;	/* grace over: cut everyone */
	atomic_ullong		 sv_next_conn;	/* connection ids */

	struct admit		 sv_admit;	/* its own atomics and lock */

	/* sv_lock guards only the waits: for the last client, for the grace. */
	pthread_mutex_t		 sv_lock;
	pthread_cond_t		 sv_cond;	/* clients drained, or forced */

	struct workers		 sv_workers;	/* handler threads */

	/* Called, under sv_lock, when the last client leaves while stopping. */
	void			(*sv_drained_cb)(void *);
	void			*sv_drained_arg;
};

/* Bind and listen on every channel, or on none: -1 and *cause (freed by caller). */
int	server_open(struct server *sv, const struct options *opts, char **cause);
/* The same with sockets inherited from systemd instead of binding. */
int	server_open_inherited(struct server *sv, const struct options *opts,
	    const int *fds, int nfds, char **cause);
/* Start a listener thread per channel. */
int	server_start(struct server *sv, char **cause);
/* Close every listener (ports are free on return) and wake idle clients. */
void	server_shutdown(struct server *sv);
/* Cut every remaining client. */
void	server_force(struct server *sv);
/* Wait up to ms (-1: for ever) for the last client to leave. */
bool	server_wait(struct server *sv, long ms);
/* Join every thread and free everything; after server_shutdown. */
void	server_free(struct server *sv);
/* The whole sequence, for tests: shutdown, wait for the grace, force, free. */
void	server_stop(struct server *sv);

/*
 * Admit a client of ch (ACL, --max-clients, --max-per-ip) and register it;
 * NULL with *reason (enum reject_reason) when refused.
 */
struct client *server_client_new(struct server *sv, struct channel *ch,
	    int fd, const struct sockaddr *peer, socklen_t peerlen, int *reason);
/* The client has finished: release its slot and close its socket. */
void	server_client_done(struct server *sv, struct client *cl);
/* The same, for a socket someone else closes (evhttp's). */
void	server_client_gone(struct server *sv, struct client *cl);
/* Its thread could not start: uncount it, release the slot, leave the socket open. */
void	server_client_abort(struct server *sv, struct client *cl);

/* Server-wide totals, for STATS and SIGUSR1. */
struct server_totals {
	double			uptime_s;
	unsigned		clients_active;
	unsigned		handler_threads;
	size_t			channels;
	unsigned long long	accepted;
	unsigned long long	rejected[REJECT_NREASONS];
	unsigned long long	bytes_in;
	unsigned long long	bytes_out;
};

void	server_totals(struct server *sv, struct server_totals *t);

/* Sleep ms, or less if the server is forced down; false if cut short. */
bool	server_sleep(struct server *sv, long ms);
unsigned server_active_clients(struct server *sv);
double	server_uptime(const struct server *sv);

#endif
