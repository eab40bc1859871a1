/* The server: its channels, its clients, start-up and ordered shutdown. */
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cause.h"
#include "channel.h"
#include "client.h"
#include "server.h"
#include "service.h"

static void
server_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
}

int
server_open(struct server *sv, const struct options *opts, char **cause)
{
	return server_open_inherited(sv, opts, NULL, 0, cause);
}

/*
 * Inherited sockets are matched to channels by the port they are bound to;
 * every channel needs one and every one needs a channel. On failure the
 * sockets not yet adopted are closed here, the adopted ones by server_free.
 */
static int
server_match_inherited(struct server *sv, const int *fds, int nfds,
    char **cause)
{
	struct channel *probes;
	size_t i;
	int k, rc = -1;

	if ((probes = calloc((size_t)nfds, sizeof *probes)) == NULL)
		goto out;
	for (k = 0; k < nfds; k++) {
		if (channel_adopt(&probes[k], fds[k], cause) == -1)
			goto out;
	}
	for (i = 0; i < sv->sv_nchannels; i++) {
		uint16_t want = sv->sv_opts->o_ports.pl_items[i].ps_port;

		for (k = 0; k < nfds; k++) {
			if (want != 0 && probes[k].ch_fd != -1 &&
			    probes[k].ch_port == want)
				break;
		}
		if (k == nfds) {
			cause_set(cause, "socket activation: no "
			    "inherited socket for port %u%s", want, want == 0 ?
			    " (port 0 cannot be matched)" : "");
			goto out;
		}
		channel_adopt(&sv->sv_channels[i], fds[k], cause);
		probes[k].ch_fd = -1;
	}
	for (k = 0; k < nfds; k++) {
		if (probes[k].ch_fd != -1) {
			cause_set(cause, "socket activation: "
			    "inherited socket on port %u (%s) matches no channel",
			    probes[k].ch_port, probes[k].ch_name);
			goto out;
		}
	}
	rc = 0;
out:
	for (k = 0; rc == -1 && k < nfds; k++) {
		if (probes == NULL || probes[k].ch_fd != -1)
			close(fds[k]);
	}
	free(probes);
	return rc;
}

int
server_open_inherited(struct server *sv, const struct options *opts,
    const int *fds, int nfds, char **cause)
{
	const struct portlist *pl = &opts->o_ports;
	size_t i;

	memset(sv, 0, sizeof *sv);
	sv->sv_opts = opts;
	clock_gettime(CLOCK_MONOTONIC, &sv->sv_started);
	pthread_mutex_init(&sv->sv_lock, NULL);
	server_cond_init(&sv->sv_cond);
	admit_init(&sv->sv_admit, opts);
	workers_init(&sv->sv_workers, client_run);
	atomic_init(&sv->sv_next_conn, 1);
	if ((sv->sv_channels = calloc(pl->pl_count, sizeof *sv->sv_channels)) ==
	    NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	for (i = 0; i < pl->pl_count; i++) {
		struct channel *ch = &sv->sv_channels[i];

		ch->ch_server = sv;
		ch->ch_fd = -1;
		pthread_mutex_init(&ch->ch_lock, NULL);
		TAILQ_INIT(&ch->ch_clients);
		ch->ch_service = &service_table[pl->pl_items[i].ps_service];
	}
	sv->sv_nchannels = pl->pl_count;
	if (nfds > 0) {
		if (server_match_inherited(sv, fds, nfds, cause) == -1)
			goto fail;
		return 0;
	}
	for (i = 0; i < pl->pl_count; i++) {
		if (channel_open(&sv->sv_channels[i], &opts->o_addr,
		    opts->o_addrlen, pl->pl_items[i].ps_port, cause) == -1)
			goto fail;
	}
	return 0;
fail:
	/* All or nothing: what was bound is closed again. */
	server_free(sv);
	return -1;
}

int
server_start(struct server *sv, char **cause)
{
	size_t i;

	for (i = 0; i < sv->sv_nchannels; i++) {
		if (channel_start(&sv->sv_channels[i], cause) == -1)
			return -1;
	}
	return 0;
}

struct client *
server_client_new(struct server *sv, struct channel *ch, int fd,
    const struct sockaddr *peer, socklen_t peerlen, int *reason)
{
	struct admit_key key;
	struct client *cl;

	if ((*reason = admit_acl(sv->sv_opts, peer)) != REJECT_NONE)
		return NULL;
	admit_key(peer, &key);
	if ((cl = calloc(1, sizeof *cl)) == NULL) {
		*reason = REJECT_RESOURCES;
		return NULL;
	}
	if ((*reason = admit_take(&sv->sv_admit, &key)) != REJECT_NONE) {
		free(cl);
		return NULL;
	}
	cl->cl_server = sv;
	cl->cl_channel = ch;
	cl->cl_fd = fd;
	cl->cl_key = key;
	cl->cl_id = atomic_fetch_add(&sv->sv_next_conn, 1);
	memcpy(&cl->cl_peer, peer, peerlen);
	netaddr_canonical(&cl->cl_peer, NULL);
	clock_gettime(CLOCK_MONOTONIC, &cl->cl_start);
	/* Counted before its handler runs, so PORTS sees its own connection. */
	stats_add(ch->ch_stats.cs_accepted, 1);
	stats_add(ch->ch_stats.cs_active, 1);
	pthread_mutex_lock(&ch->ch_lock);
	TAILQ_INSERT_TAIL(&ch->ch_clients, cl, cl_entry);
	pthread_mutex_unlock(&ch->ch_lock);
	return cl;
}

/* Tell whoever waits for the last client (server_wait, the main loop). */
static void
server_drained(struct server *sv)
{
	pthread_mutex_lock(&sv->sv_lock);
	pthread_cond_broadcast(&sv->sv_cond);
	if (sv->sv_drained_cb != NULL)
		sv->sv_drained_cb(sv->sv_drained_arg);
	pthread_mutex_unlock(&sv->sv_lock);
}

/* Forget cl; with close_fd the socket goes too. */
static void
server_client_forget(struct server *sv, struct client *cl, bool close_fd)
{
	struct channel *ch = cl->cl_channel;

	stats_sub(ch->ch_stats.cs_active, 1);
	pthread_mutex_lock(&ch->ch_lock);
	TAILQ_REMOVE(&ch->ch_clients, cl, cl_entry);
	/* Closed under the lock, so shutdown never touches a reused number. */
	if (close_fd)
		close(cl->cl_fd);
	pthread_mutex_unlock(&ch->ch_lock);
	if (admit_release(&sv->sv_admit, &cl->cl_key) == 0 &&
	    atomic_load(&sv->sv_stopping))
		server_drained(sv);
	free(cl);
}

void
server_client_done(struct server *sv, struct client *cl)
{
	server_client_forget(sv, cl, true);
}

void
server_client_gone(struct server *sv, struct client *cl)
{
	server_client_forget(sv, cl, false);
}

void
server_client_abort(struct server *sv, struct client *cl)
{
	/* No thread could take it: it was refused after all, not accepted. */
	stats_sub(cl->cl_channel->ch_stats.cs_accepted, 1);
	server_client_forget(sv, cl, false);
}

/* shutdown(2) every client's socket, channel by channel. */
static void
server_shutdown_clients(struct server *sv, int how)
{
	struct client *cl;
	size_t i;

	for (i = 0; i < sv->sv_nchannels; i++) {
		struct channel *ch = &sv->sv_channels[i];

		pthread_mutex_lock(&ch->ch_lock);
		TAILQ_FOREACH(cl, &ch->ch_clients, cl_entry) {
			/* A sleeper wakes by itself and still says 421. */
			shutdown(cl->cl_fd, how == SHUT_RDWR &&
			    atomic_load(&cl->cl_sleeping) ? SHUT_RD : how);
		}
		pthread_mutex_unlock(&ch->ch_lock);
	}
}

void
server_shutdown(struct server *sv)
{
	size_t i;

	/* 1. Listeners first: the ports are free and nobody new comes in. */
	for (i = 0; i < sv->sv_nchannels; i++)
		channel_stop(&sv->sv_channels[i]);
	/* 2. Wake clients blocked in a read; what they already sent stays readable. */
	atomic_store(&sv->sv_stopping, true);
	server_shutdown_clients(sv, SHUT_RD);
	/* 3. If nobody is left, say so now: no client's leaving will. */
	if (admit_active(&sv->sv_admit) == 0)
		server_drained(sv);
}

void
server_force(struct server *sv)
{
	atomic_store(&sv->sv_stopping, true);
	atomic_store(&sv->sv_forced, true);
	server_shutdown_clients(sv, SHUT_RDWR);
	pthread_mutex_lock(&sv->sv_lock);
	pthread_cond_broadcast(&sv->sv_cond);	/* ends every SLEEP */
	pthread_mutex_unlock(&sv->sv_lock);
}

static void
server_deadline(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

bool
server_wait(struct server *sv, long ms)
{
	struct timespec deadline;
	bool drained;
	int rc = 0;

	server_deadline(&deadline, ms < 0 ? 0 : ms);
	pthread_mutex_lock(&sv->sv_lock);
	while (admit_active(&sv->sv_admit) > 0 && rc != ETIMEDOUT) {
		if (ms < 0)
			pthread_cond_wait(&sv->sv_cond, &sv->sv_lock);
		else
			rc = pthread_cond_timedwait(&sv->sv_cond, &sv->sv_lock,
			    &deadline);
	}
	drained = admit_active(&sv->sv_admit) == 0;
	pthread_mutex_unlock(&sv->sv_lock);
	return drained;
}

bool
server_sleep(struct server *sv, long ms)
{
	struct timespec deadline;
	int rc = 0;

	server_deadline(&deadline, ms);
	pthread_mutex_lock(&sv->sv_lock);
	while (!atomic_load(&sv->sv_forced) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&sv->sv_cond, &sv->sv_lock,
		    &deadline);
	pthread_mutex_unlock(&sv->sv_lock);
	return rc == ETIMEDOUT;
}

void
server_free(struct server *sv)
{
	size_t i;

	/* Listeners are stopped; every client has left; now the threads. */
	for (i = 0; i < sv->sv_nchannels; i++)
		channel_stop(&sv->sv_channels[i]);
	workers_free(&sv->sv_workers);
	for (i = 0; i < sv->sv_nchannels; i++)
		channel_free(&sv->sv_channels[i]);
	free(sv->sv_channels);
	admit_free(&sv->sv_admit);
	pthread_cond_destroy(&sv->sv_cond);
	pthread_mutex_destroy(&sv->sv_lock);
	memset(sv, 0, sizeof *sv);
}

void
server_stop(struct server *sv)
{
	server_shutdown(sv);
	if (!server_wait(sv, (long)sv->sv_opts->o_shutdown_grace * 1000)) {
		server_force(sv);
		server_wait(sv, -1);
	}
	server_free(sv);
}

void
server_totals(struct server *sv, struct server_totals *t)
{
	size_t i;
	int r;

	memset(t, 0, sizeof *t);
	t->uptime_s = server_uptime(sv);
	t->clients_active = server_active_clients(sv);
	t->handler_threads = workers_count(&sv->sv_workers);
	t->channels = sv->sv_nchannels;
	for (i = 0; i < sv->sv_nchannels; i++) {
		struct channel_stats *cs = &sv->sv_channels[i].ch_stats;

		t->accepted += stats_get(cs->cs_accepted);
		t->bytes_in += stats_get(cs->cs_bytes_in);
		t->bytes_out += stats_get(cs->cs_bytes_out);
		for (r = 0; r < REJECT_NREASONS; r++)
			t->rejected[r] += stats_get(cs->cs_rejected[r]);
	}
}

unsigned
server_active_clients(struct server *sv)
{
	return admit_active(&sv->sv_admit);
}

double
server_uptime(const struct server *sv)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - sv->sv_started.tv_sec) +
	    (double)(now.tv_nsec - sv->sv_started.tv_nsec) / 1e9;
}
