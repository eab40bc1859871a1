/* Handler threads: one per client at a time, parked between clients. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "worker.h"

/* Handlers do small blocking I/O; their stack stays shallow. */
#ifndef MPSERVER_HANDLER_STACK
#define MPSERVER_HANDLER_STACK (64 * 1024)
#endif
#define WORKER_MAX_IDLE	128	/* parked threads kept for the next clients */
#define WORKER_PARK_SEC	30	/* a parked thread unused this long retires */

struct worker {
	pthread_t		 w_thread;
	struct workers		*w_pool;
	pthread_cond_t		 w_cond;
	struct client		*w_client;	/* wp_lock; NULL while parked */
	LIST_ENTRY(worker)	 w_entry;	/* wp_idle or wp_dead */
};

void
workers_init(struct workers *wp, void (*run)(struct client *))
{
	pthread_mutex_init(&wp->wp_lock, NULL);
	pthread_cond_init(&wp->wp_done, NULL);
	LIST_INIT(&wp->wp_idle);
	LIST_INIT(&wp->wp_dead);
	wp->wp_nidle = 0;
	wp->wp_max_idle = WORKER_MAX_IDLE;
	wp->wp_closing = false;
	atomic_init(&wp->wp_nthreads, 0);
	wp->wp_run = run;
}

/* Park until a client comes; false when it is time to retire. */
static bool
worker_park(struct worker *w)
{
	struct workers *wp = w->w_pool;
	struct timespec deadline;
	int rc = 0;

	if (wp->wp_closing || wp->wp_nidle >= wp->wp_max_idle)
		return false;
	LIST_INSERT_HEAD(&wp->wp_idle, w, w_entry);
	wp->wp_nidle++;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += WORKER_PARK_SEC;
	while (w->w_client == NULL && !wp->wp_closing && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->w_cond, &wp->wp_lock, &deadline);
	if (w->w_client != NULL)
		return true;	/* the dispatcher took us off the idle list */
	LIST_REMOVE(w, w_entry);
	wp->wp_nidle--;
	return false;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct workers *wp = w->w_pool;
	struct client *cl;

	pthread_setname_np(pthread_self(), "mp-handler");
	pthread_mutex_lock(&wp->wp_lock);
	for (;;) {
		cl = w->w_client;
		pthread_mutex_unlock(&wp->wp_lock);
		wp->wp_run(cl);
		pthread_mutex_lock(&wp->wp_lock);
		w->w_client = NULL;
		if (!worker_park(w))
			break;
	}
	/* Whoever dispatches next, or workers_free, joins us. */
	LIST_INSERT_HEAD(&wp->wp_dead, w, w_entry);
	atomic_fetch_sub(&wp->wp_nthreads, 1);
	pthread_cond_signal(&wp->wp_done);
	pthread_mutex_unlock(&wp->wp_lock);
	return NULL;
}

static void
workers_reap(struct workers *wp, struct worker *dead)
{
	struct worker *next;

	for (; dead != NULL; dead = next) {
		next = LIST_NEXT(dead, w_entry);
		pthread_join(dead->w_thread, NULL);
		pthread_cond_destroy(&dead->w_cond);
		free(dead);
	}
}

static int
workers_spawn(struct workers *wp, struct client *cl)
{
	pthread_condattr_t ca;
	pthread_attr_t attr;
	struct worker *w;
	int error;

	if ((w = calloc(1, sizeof *w)) == NULL)
		return -1;
	w->w_pool = wp;
	w->w_client = cl;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->w_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, MPSERVER_HANDLER_STACK);
	atomic_fetch_add(&wp->wp_nthreads, 1);
	error = pthread_create(&w->w_thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (error != 0) {
		atomic_fetch_sub(&wp->wp_nthreads, 1);
		pthread_cond_destroy(&w->w_cond);
		free(w);
		errno = error;
		return -1;
	}
	return 0;
}

int
workers_dispatch(struct workers *wp, struct client *cl)
{
	struct worker *w, *dead;

	pthread_mutex_lock(&wp->wp_lock);
	dead = LIST_FIRST(&wp->wp_dead);
	LIST_INIT(&wp->wp_dead);
	if ((w = LIST_FIRST(&wp->wp_idle)) != NULL) {
		LIST_REMOVE(w, w_entry);
		wp->wp_nidle--;
		w->w_client = cl;
		/*
		 * Under the lock: once we let go, the worker may serve cl,
		 * retire and be freed before a later signal could land.
		 */
		pthread_cond_signal(&w->w_cond);
	}
	pthread_mutex_unlock(&wp->wp_lock);
	workers_reap(wp, dead);
	if (w != NULL)
		return 0;
	return workers_spawn(wp, cl);
}

void
workers_free(struct workers *wp)
{
	struct worker *w, *dead;

	pthread_mutex_lock(&wp->wp_lock);
	wp->wp_closing = true;
	LIST_FOREACH(w, &wp->wp_idle, w_entry)
		pthread_cond_signal(&w->w_cond);
	/* Parked threads wake, busy ones finish; each ends on the dead list. */
	for (;;) {
		dead = LIST_FIRST(&wp->wp_dead);
		LIST_INIT(&wp->wp_dead);
		if (dead == NULL && atomic_load(&wp->wp_nthreads) == 0)
			break;
		pthread_mutex_unlock(&wp->wp_lock);
		workers_reap(wp, dead);
		pthread_mutex_lock(&wp->wp_lock);
		if (LIST_EMPTY(&wp->wp_dead) && atomic_load(&wp->wp_nthreads) > 0)
			pthread_cond_wait(&wp->wp_done, &wp->wp_lock);
	}
	pthread_mutex_unlock(&wp->wp_lock);
	pthread_cond_destroy(&wp->wp_done);
	pthread_mutex_destroy(&wp->wp_lock);
}

unsigned
workers_count(struct workers *wp)
{
	return atomic_load(&wp->wp_nthreads);
}
