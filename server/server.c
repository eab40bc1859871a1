/* The server: its set of channels, its clients, start-up, reload and ordered shutdown. */
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
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

static int
server_init(struct server *sv, const struct options *opts, char **cause)
{
	pthread_rwlockattr_t ra;

	memset(sv, 0, sizeof *sv);
	sv->sv_opts = opts;
	clock_gettime(CLOCK_MONOTONIC, &sv->sv_started);
	pthread_mutex_init(&sv->sv_lock, NULL);
	pthread_mutex_init(&sv->sv_alllock, NULL);
	pthread_mutex_init(&sv->sv_gate, NULL);
	pthread_cond_init(&sv->sv_gate_cond, NULL);
	/* A reload must not starve behind a stream of PORTS and scrapes. */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&sv->sv_setlock, &ra);
	pthread_rwlockattr_destroy(&ra);
	server_cond_init(&sv->sv_cond);
	admit_init(&sv->sv_admit);
	workers_init(&sv->sv_workers, client_run);
	TAILQ_INIT(&sv->sv_all);
	atomic_init(&sv->sv_next_conn, 1);
	atomic_init(&sv->sv_last_reload_ok, true);
	/* First, so its number is low: every base's map is sized by it. */
	if ((sv->sv_wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		return cause_set(cause, "eventfd: %s", strerror(errno));
	return 0;
}

/* A channel object for each of the options' channels, in order. */
static int
server_make_channels(struct server *sv, char **cause)
{
	const struct conf_list *cl = &sv->sv_opts->o_channels;
	size_t i;

	if ((sv->sv_channels = calloc(cl->cf_count + 1,
	    sizeof *sv->sv_channels)) == NULL)
		return cause_set(cause, "out of memory");
	for (i = 0; i < cl->cf_count; i++) {
		sv->sv_channels[i] = channel_new(sv, &cl->cf_channels[i],
		    i >= sv->sv_opts->o_ncmdline, NULL, cause);
		if (sv->sv_channels[i] == NULL)
			return -1;
		sv->sv_nchannels++;
	}
	return 0;
}

/*
 * Inherited sockets are matched to channels by the port they are bound to;
 * every one needs a channel, and a channel without one binds its own
 * (a file may name ports the socket unit does not). On failure the sockets
 * not yet adopted are closed here, the adopted ones by server_free.
 */
static int
server_match_inherited(struct server *sv, const int *fds, int nfds,
    char **cause)
{
	bool *used;
	size_t i;
	int k, rc = -1;

	if ((used = calloc((size_t)nfds, sizeof *used)) == NULL)
		return cause_set(cause, "out of memory");
	for (k = 0; k < nfds; k++) {
		if (channel_socket_port(fds[k]) == 0) {
			cause_set(cause, "inherited descriptor %d is not a "
			    "listening TCP socket", fds[k]);
			goto out;
		}
	}
	for (i = 0; i < sv->sv_nchannels; i++) {
		uint16_t want = sv->sv_channels[i]->ch_conf.cc_port;

		for (k = 0; k < nfds; k++) {
			if (want != 0 && !used[k] &&
			    channel_socket_port(fds[k]) == want)
				break;
		}
		/* Not passed by systemd: bound by us, as without activation. */
		if (k == nfds)
			continue;
		channel_adopt(sv->sv_channels[i], fds[k], cause);
		sv->sv_channels[i]->ch_inherited = true;
		used[k] = true;
	}
	for (k = 0; k < nfds; k++) {
		if (!used[k]) {
			cause_set(cause, "socket activation: inherited socket "
			    "on port %u matches no channel",
			    channel_socket_port(fds[k]));
			goto out;
		}
	}
	rc = 0;
out:
	for (k = 0; rc == -1 && k < nfds; k++) {
		if (!used[k])
			close(fds[k]);
	}
	free(used);
	return rc;
}

int
server_open(struct server *sv, const struct options *opts, const int *fds,
    int nfds, char **cause)
{
	size_t i;

	if (server_init(sv, opts, cause) == -1 ||
	    server_make_channels(sv, cause) == -1)
		goto fail;
	if (nfds > 0 && server_match_inherited(sv, fds, nfds, cause) == -1)
		goto fail;
	for (i = 0; i < sv->sv_nchannels; i++) {
		if (sv->sv_channels[i]->ch_fd == -1 &&
		    channel_open(sv->sv_channels[i], cause) == -1)
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

	if (idle_start(&sv->sv_idle) == -1)
		return cause_set(cause, "cannot start the idle thread: %s",
		    strerror(errno));

	for (i = 0; i < sv->sv_nchannels; i++) {
		if (channel_start(sv->sv_channels[i], false, cause) == -1)
			return -1;
	}
	return 0;
}

void
server_gate_changed(struct server *sv)
{
	pthread_mutex_lock(&sv->sv_gate);
	pthread_cond_broadcast(&sv->sv_gate_cond);
	pthread_mutex_unlock(&sv->sv_gate);
}

void
server_open_gate(struct server *sv, struct channel **chs, size_t n)
{
	size_t i;

	pthread_mutex_lock(&sv->sv_gate);
	for (i = 0; i < n; i++)
		chs[i]->ch_go = true;
	pthread_cond_broadcast(&sv->sv_gate_cond);
	pthread_mutex_unlock(&sv->sv_gate);
}

void
server_wake_listeners(struct server *sv)
{
	uint64_t one = 1;

	/* Every base watches it edge-triggered: each write is a new edge. */
	if (write(sv->sv_wakefd, &one, sizeof one) == -1)
		abort();	/* an eventfd write fails only on overflow */
}

/* Stop many listeners with one wake-up, then join them. */
static void
server_stop_channels(struct server *sv, struct channel **chs, size_t n,
    enum channel_stop how)
{
	size_t i;

	for (i = 0; i < n; i++)
		channel_stop_begin(chs[i], how, false);
	server_wake_listeners(sv);
	for (i = 0; i < n; i++)
		channel_stop_end(chs[i]);
}

/* --- Reload --------------------------------------------------------------- */

/* A reload's plan: the new set, and what it means for each old channel. */
struct server_plan {
	struct channel		**sp_set;	/* the new listed set */
	size_t			 sp_n;
	struct channel		**sp_new;	/* channels made for it */
	struct channel		**sp_replaced;	/* sp_new[i] replaces this, or NULL */
	size_t			 sp_nnew;
	struct channel		**sp_gone;	/* old file channels not kept */
	size_t			 sp_ngone;
	bool			*sp_kept;	/* by old index: unchanged */
};

/* The old file channel that cc's line describes, if any. */
static ssize_t
server_plan_match(struct server *sv, const struct channel_conf *cc,
    const bool *matched)
{
	size_t i;

	for (i = 0; i < sv->sv_nchannels; i++) {
		const struct channel *old = sv->sv_channels[i];

		if (!old->ch_from_file || matched[i])
			continue;
		/* Port 0 lines pair up only with an identical port 0 line. */
		if (cc->cc_port != 0 ? old->ch_conf.cc_port == cc->cc_port :
		    old->ch_conf.cc_port == 0 && conf_equal(&old->ch_conf, cc))
			return (ssize_t)i;
	}
	return -1;
}

static void
server_plan_free(struct server_plan *p)
{
	free(p->sp_set);
	free(p->sp_new);
	free(p->sp_replaced);
	free(p->sp_gone);
	free(p->sp_kept);
}

static int
server_plan_alloc(struct server_plan *p, size_t nold, size_t nnew)
{
	memset(p, 0, sizeof *p);
	p->sp_set = calloc(nold + nnew + 1, sizeof *p->sp_set);
	p->sp_new = calloc(nnew + 1, sizeof *p->sp_new);
	p->sp_replaced = calloc(nnew + 1, sizeof *p->sp_replaced);
	p->sp_gone = calloc(nold + 1, sizeof *p->sp_gone);
	p->sp_kept = calloc(nold + 1, sizeof *p->sp_kept);
	return p->sp_set && p->sp_new && p->sp_replaced && p->sp_gone &&
	    p->sp_kept ? 0 : -1;
}

/* One line of the new file: keep, replace or add its channel. */
static int
server_plan_line(struct server *sv, struct server_plan *p,
    const struct channel_conf *cc, struct server_reload *sr, char **cause)
{
	struct channel *old = NULL, *ch;
	ssize_t i;

	if ((i = server_plan_match(sv, cc, p->sp_kept)) >= 0) {
		old = sv->sv_channels[i];
		p->sp_kept[i] = true;	/* matched; replaced or not */
		if (conf_equal(&old->ch_conf, cc)) {
			p->sp_set[p->sp_n++] = old;
			sr->sr_unchanged++;
			return 0;
		}
	}
	/* Its counters go on, unless it speaks another service now. */
	if ((ch = channel_new(sv, cc, true, old != NULL &&
	    old->ch_conf.cc_service == cc->cc_service ? old->ch_tally : NULL,
	    cause)) == NULL)
		return -1;
	p->sp_new[p->sp_nnew] = ch;
	p->sp_replaced[p->sp_nnew++] = old;
	p->sp_set[p->sp_n++] = ch;
	if (old != NULL) {
		/* The same listening socket, so no client is refused meanwhile. */
		ch->ch_fd = old->ch_fd;
		ch->ch_port = old->ch_port;
		memcpy(ch->ch_name, old->ch_name, sizeof ch->ch_name);
		ch->ch_keep_fd = true;
		sr->sr_changed++;
		return 0;
	}
	sr->sr_added++;
	return channel_open(ch, cause);
}

/* Undo a plan that failed: its new channels go, the old set stays. */
static void
server_plan_abort(struct server *sv, struct server_plan *p)
{
	size_t i;

	for (i = 0; i < p->sp_nnew; i++)
		channel_stop_begin(p->sp_new[i], CHANNEL_STOP_RELOAD,
		    p->sp_replaced[i] != NULL);
	server_wake_listeners(sv);
	for (i = 0; i < p->sp_nnew; i++) {
		channel_stop_end(p->sp_new[i]);
		channel_release(p->sp_new[i]);
	}
}

/* The new set goes live: old listeners end, new ones run. */
static void
server_plan_commit(struct server *sv, struct server_plan *p)
{
	struct channel **old = sv->sv_channels;
	size_t i;

	pthread_rwlock_wrlock(&sv->sv_setlock);
	sv->sv_channels = p->sp_set;
	sv->sv_nchannels = p->sp_n;
	pthread_rwlock_unlock(&sv->sv_setlock);
	p->sp_set = NULL;
	/* Removed ports are free at once; their clients are served to the end. */
	for (i = 0; i < p->sp_ngone; i++)
		channel_stop_begin(p->sp_gone[i], CHANNEL_STOP_RELOAD, false);
	for (i = 0; i < p->sp_nnew; i++) {
		if (p->sp_replaced[i] != NULL)
			channel_stop_begin(p->sp_replaced[i],
			    CHANNEL_STOP_RELOAD, true);
	}
	server_wake_listeners(sv);
	for (i = 0; i < p->sp_ngone; i++)
		channel_stop_end(p->sp_gone[i]);
	for (i = 0; i < p->sp_nnew; i++) {
		if (p->sp_replaced[i] != NULL)
			channel_stop_end(p->sp_replaced[i]);
	}
	server_open_gate(sv, p->sp_new, p->sp_nnew);
	for (i = 0; i < p->sp_ngone; i++)
		channel_release(p->sp_gone[i]);
	for (i = 0; i < p->sp_nnew; i++) {
		if (p->sp_replaced[i] != NULL)
			channel_release(p->sp_replaced[i]);
	}
	free(old);
}

int
server_reload(struct server *sv, const struct conf_list *list,
    struct server_reload *sr, char **cause)
{
	struct server_plan p;
	size_t i;

	memset(sr, 0, sizeof *sr);
	if (server_plan_alloc(&p, sv->sv_nchannels, list->cf_count) == -1) {
		server_plan_free(&p);
		return cause_set(cause, "out of memory");
	}
	for (i = 0; i < sv->sv_nchannels; i++) {
		if (!sv->sv_channels[i]->ch_from_file)
			p.sp_set[p.sp_n++] = sv->sv_channels[i];
	}
	/* Bind and prepare everything new before anything changes. */
	for (i = 0; i < list->cf_count; i++) {
		if (server_plan_line(sv, &p, &list->cf_channels[i], sr,
		    cause) == -1)
			goto fail;
	}
	for (i = 0; i < p.sp_nnew; i++) {
		if (channel_start(p.sp_new[i], true, cause) == -1)
			goto fail;
	}
	for (i = 0; i < sv->sv_nchannels; i++) {
		if (sv->sv_channels[i]->ch_from_file && !p.sp_kept[i])
			p.sp_gone[p.sp_ngone++] = sv->sv_channels[i];
	}
	sr->sr_removed = p.sp_ngone;
	server_plan_commit(sv, &p);
	server_plan_free(&p);
	return 0;
fail:
	server_plan_abort(sv, &p);
	server_plan_free(&p);
	return -1;
}

/* --- Clients and shutdown ------------------------------------------------- */

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

void
server_client_left(struct server *sv)
{
	if (admit_active(&sv->sv_admit) == 0 && atomic_load(&sv->sv_stopping))
		server_drained(sv);
}

/* shutdown(2) every client's socket, channel by channel, removed ones too. */
static void
server_shutdown_clients(struct server *sv, int how)
{
	struct channel *ch;
	struct client *cl;
	bool relay;

	pthread_mutex_lock(&sv->sv_alllock);
	TAILQ_FOREACH(ch, &sv->sv_all, ch_all) {
		relay = ch->ch_service->svc_flags & SVC_RELAY;
		pthread_mutex_lock(&ch->ch_lock);
		TAILQ_FOREACH(cl, &ch->ch_clients, cl_entry) {
			/* Relays keep relaying through the grace (SPEC 10). */
			if (how == SHUT_RD && relay)
				continue;
			/* A sleeper wakes by itself and still says 421. */
			shutdown(cl->cl_fd, how == SHUT_RDWR &&
			    atomic_load(&cl->cl_sleeping) ? SHUT_RD : how);
		}
		pthread_mutex_unlock(&ch->ch_lock);
	}
	pthread_mutex_unlock(&sv->sv_alllock);
}

void
server_shutdown(struct server *sv)
{
	/* 1. Listeners first: the ports are free and nobody new comes in. */
	server_stop_channels(sv, sv->sv_channels, sv->sv_nchannels,
	    CHANNEL_STOP_SHUTDOWN);
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
	if (sv->sv_channels != NULL)
		server_stop_channels(sv, sv->sv_channels, sv->sv_nchannels,
		    CHANNEL_STOP_SHUTDOWN);
	idle_stop(&sv->sv_idle);
	workers_free(&sv->sv_workers);
	for (i = 0; i < sv->sv_nchannels; i++)
		channel_release(sv->sv_channels[i]);
	free(sv->sv_channels);
	admit_free(&sv->sv_admit);
	if (sv->sv_wakefd > 0)
		close(sv->sv_wakefd);
	pthread_rwlock_destroy(&sv->sv_setlock);
	pthread_cond_destroy(&sv->sv_cond);
	pthread_cond_destroy(&sv->sv_gate_cond);
	pthread_mutex_destroy(&sv->sv_gate);
	pthread_mutex_destroy(&sv->sv_alllock);
	pthread_mutex_destroy(&sv->sv_lock);
	/* Not a memset: a stopped server's flags stay readable (tests poll them). */
	sv->sv_channels = NULL;
	sv->sv_nchannels = 0;
	sv->sv_wakefd = -1;
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

/* --- Reading the set ------------------------------------------------------ */

struct channel *const *
server_channels(struct server *sv, size_t *n)
{
	pthread_rwlock_rdlock(&sv->sv_setlock);
	*n = sv->sv_nchannels;
	return sv->sv_channels;
}

void
server_channels_done(struct server *sv)
{
	pthread_rwlock_unlock(&sv->sv_setlock);
}

void
server_totals(struct server *sv, struct server_totals *t)
{
	struct channel *const *chs;
	size_t i, n;
	int r;

	memset(t, 0, sizeof *t);
	t->uptime_s = server_uptime(sv);
	t->clients_active = server_active_clients(sv);
	t->handler_threads = workers_count(&sv->sv_workers);
	chs = server_channels(sv, &n);
	t->channels = n;
	for (i = 0; i < n; i++) {
		struct channel_stats *cs = chs[i]->ch_stats;

		t->accepted += stats_get(cs->cs_accepted);
		t->bytes_in += stats_get(cs->cs_bytes_in);
		t->bytes_out += stats_get(cs->cs_bytes_out);
		for (r = 0; r < REJECT_NREASONS; r++)
			t->rejected[r] += stats_get(cs->cs_rejected[r]);
	}
	server_channels_done(sv);
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
