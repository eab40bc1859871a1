/* The server: its set of channels, its clients, start-up, reload and ordered shutdown. */
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

#include "admit.h"
#include "conf.h"
#include "options.h"
#include "idle.h"
#include "worker.h"

#define MPSERVER_NAME "mpserver"

struct channel;
struct client;

struct server {
	const struct options	*sv_opts;	/* read-only once started */
	struct timespec		 sv_started;	/* CLOCK_MONOTONIC */

	atomic_bool		 sv_stopping;	/* SIGTERM seen: wind down */
	atomic_bool		 sv_forced;	/* grace over: cut everyone */
	atomic_ullong		 sv_next_conn;	/* connection ids */
	atomic_uint		 sv_lingering;	/* refused clients reading our reply */

	struct admit		 sv_admit;	/* --max-clients, global --max-per-ip */
	/* Every listener watches it, edge-triggered; a write wakes them all. */
	int			 sv_wakefd;

	/*
	 * The listed channels, in SPEC order: what PORTS, STATS and /metrics
	 * show. Readers hold sv_setlock shared (server_channels); the main
	 * thread swaps the set under it exclusively during a reload.
	 */
	pthread_rwlock_t	 sv_setlock;
	struct channel		**sv_channels;
	size_t			 sv_nchannels;

	/*
	 * A reload's new listeners wait at this gate until the reload commits
	 * (their ch_go) or is undone (their ch_stop); never held for long.
	 */
	pthread_mutex_t		 sv_gate;
	pthread_cond_t		 sv_gate_cond;

	/* Every channel alive, listed or removed with clients still in. */
	pthread_mutex_t		 sv_alllock;
	TAILQ_HEAD(, channel)	 sv_all;

	atomic_ullong		 sv_reloads_ok;
	atomic_ullong		 sv_reloads_failed;
	atomic_bool		 sv_last_reload_ok;

	/* sv_lock guards only the waits: for the last client, for the grace. */
	pthread_mutex_t		 sv_lock;
	pthread_cond_t		 sv_cond;	/* clients drained, or forced */

	struct workers		 sv_workers;	/* handler threads */
	struct idle		 sv_idle;	/* clients parked between requests */

	/* Called, under sv_lock, when the last client leaves while stopping. */
	void			(*sv_drained_cb)(void *);
	void			*sv_drained_arg;
};

/*
 * Bind and listen on every channel of opts, or on none: -1 and *cause
 * (freed by caller). With fds (systemd's), adopt those instead of binding.
 */
int	server_open(struct server *sv, const struct options *opts,
	    const int *fds, int nfds, char **cause);
/* Start a listener thread per channel. */
int	server_start(struct server *sv, char **cause);

/* What a reload did, in channels. */
struct server_reload {
	size_t	sr_added;
	size_t	sr_removed;
	size_t	sr_changed;
	size_t	sr_unchanged;
};
/*
 * Replace the file's channels with list's, all or nothing: -1 with *cause
 * and nothing changed, or 0 with the counts. The main thread's.
 */
int	server_reload(struct server *sv, const struct conf_list *list,
	    struct server_reload *sr, char **cause);

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

/* The listed channels, held until server_channels_done. */
struct channel *const *server_channels(struct server *sv, size_t *n);
void	server_channels_done(struct server *sv);

/* A client left; tell whoever waits for the last one. */
void	server_client_left(struct server *sv);
/* Wake every listener thread, to look at its ch_stop. */
void	server_wake_listeners(struct server *sv);
/* Let these listeners past the gate (go) or tell the gate they must end. */
void	server_open_gate(struct server *sv, struct channel **chs, size_t n);
void	server_gate_changed(struct server *sv);

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
