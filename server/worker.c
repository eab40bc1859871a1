/* Handler threads: one per client at a time, parked between clients. */
#include <sys/syscall.h>

#include <linux/futex.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

/* Handlers do small blocking I/O; their stack stays shallow. */
#ifndef MPSERVER_HANDLER_STACK
#define MPSERVER_HANDLER_STACK (64 * 1024)
#endif
#define WORKER_MAX_IDLE	128		/* parked threads kept for later */
#define WORKER_PARK_MS	(30 * 1000)	/* parked, unused this long: retire */

/* w_state: the futex word a parked thread sleeps on. */
#define WORKER_BUSY	0	/* serving; not on any list */
#define WORKER_PARKED	1	/* on wp_idle, waiting */
#define WORKER_GIVEN	2	/* taken off wp_idle, a client in w_client */
#define WORKER_STOP	3	/* taken off wp_idle by workers_free */

/*
 * A struct worker outlives its thread: a retired one goes to wp_free and
 * the next spawn reuses it, so a wake that lands late is only spurious.
 */
struct worker {
	atomic_uint		 w_state;	/* changed under wp_lock */
	struct client		*w_client;	/* set before GIVEN or spawn */
	struct workers		*w_pool;
	LIST_ENTRY(worker)	 w_entry;	/* wp_idle, wp_free; wp_lock */
};

_Static_assert(sizeof(atomic_uint) == sizeof(uint32_t), "futex word");

static int
worker_futex_wait(atomic_uint *word, unsigned val, const struct timespec *rel)
{
	return syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, val,
	    rel, NULL, 0);
}

/* Only one thread ever sleeps on a word: the worker, or workers_free. */
static void
worker_futex_wake(atomic_uint *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL,
	    0);
}

void
workers_init(struct workers *wp, void (*run)(struct client *))
{
	pthread_mutexattr_t ma;

	/* The lock is held for a few instructions: spin a little first. */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&wp->wp_lock, &ma);
	pthread_mutexattr_destroy(&ma);
	LIST_INIT(&wp->wp_idle);
	LIST_INIT(&wp->wp_free);
	wp->wp_nidle = 0;
	wp->wp_max_idle = WORKER_MAX_IDLE;
	wp->wp_park_ms = WORKER_PARK_MS;
	wp->wp_closing = false;
	wp->wp_has_last = false;
	atomic_init(&wp->wp_nthreads, 0);
	wp->wp_run = run;
	wp->wp_create = pthread_create;
}

/* Put w on wp_idle; false if the pool is closing or has parked enough. */
static bool
worker_enqueue(struct worker *w, unsigned *park_ms)
{
	struct workers *wp = w->w_pool;
	bool parked = false;

	pthread_mutex_lock(&wp->wp_lock);
	if (!wp->wp_closing && wp->wp_nidle < wp->wp_max_idle) {
		atomic_store_explicit(&w->w_state, WORKER_PARKED,
		    memory_order_relaxed);
		LIST_INSERT_HEAD(&wp->wp_idle, w, w_entry);
		wp->wp_nidle++;
		*park_ms = wp->wp_park_ms;
		parked = true;
	}
	pthread_mutex_unlock(&wp->wp_lock);
	return parked;
}

/* Time left until start + ms in rel; false once it has passed. */
static bool
worker_remaining(const struct timespec *start, unsigned ms,
    struct timespec *rel)
{
	struct timespec now;
	long long left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = (long long)ms * 1000000 -
	    ((long long)(now.tv_sec - start->tv_sec) * 1000000000 +
	    (now.tv_nsec - start->tv_nsec));
	if (left <= 0)
		return false;
	rel->tv_sec = left / 1000000000;
	rel->tv_nsec = left % 1000000000;
	return true;
}

/* The wait timed out: leave wp_idle unless a dispatcher was quicker. */
static bool
worker_dequeue(struct worker *w)
{
	struct workers *wp = w->w_pool;
	unsigned state;

	pthread_mutex_lock(&wp->wp_lock);
	state = atomic_load_explicit(&w->w_state, memory_order_relaxed);
	if (state == WORKER_PARKED) {
		LIST_REMOVE(w, w_entry);
		wp->wp_nidle--;
	}
	pthread_mutex_unlock(&wp->wp_lock);
	return state == WORKER_GIVEN;
}

/*
 * Park until a client comes: true with it in w_client, false when it is
 * time to retire. No lock is held while asleep, and whoever takes us off
 * wp_idle changes w_state first, so a wake cannot be lost.
 */
static bool
worker_park(struct worker *w)
{
	struct timespec start, rel;
	unsigned ms, state;

	if (!worker_enqueue(w, &ms))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		state = atomic_load_explicit(&w->w_state, memory_order_acquire);
		if (state == WORKER_GIVEN)
			return true;
		if (state == WORKER_STOP)
			return false;
		if (!worker_remaining(&start, ms, &rel))
			return worker_dequeue(w);
		/* EINTR, EAGAIN, a late wake or a timeout: look again. */
		worker_futex_wait(&w->w_state, WORKER_PARKED, &rel);
	}
}

/*
 * The last retired thread joins the one before it, and workers_free
 * joins the last: each is joined as soon as the next retires, with no
 * reaper thread and no wait for a dispatch. The one left over has
 * exited already; only its stack waits. Since every thread is joined,
 * directly or down the chain, before workers_free returns, the pool is
 * still there for what follows the swap.
 */
static void
worker_retire(struct worker *w)
{
	struct workers *wp = w->w_pool;
	pthread_t prev;
	bool has_prev;

	pthread_mutex_lock(&wp->wp_lock);
	LIST_INSERT_HEAD(&wp->wp_free, w, w_entry);
	prev = wp->wp_last;
	has_prev = wp->wp_has_last;
	wp->wp_last = pthread_self();
	wp->wp_has_last = true;
	pthread_mutex_unlock(&wp->wp_lock);
	/* w may belong to a new thread from here on. */
	if (has_prev)
		pthread_join(prev, NULL);
	if (atomic_fetch_sub(&wp->wp_nthreads, 1) == 1)
		worker_futex_wake(&wp->wp_nthreads);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct workers *wp = w->w_pool;

	pthread_setname_np(pthread_self(), "mp-handler");
	do
		wp->wp_run(w->w_client);
	while (worker_park(w));
	worker_retire(w);
	return NULL;
}

/* A retired struct worker, or a new one; NULL with errno. */
static struct worker *
workers_take_free(struct workers *wp)
{
	struct worker *w;

	pthread_mutex_lock(&wp->wp_lock);
	if ((w = LIST_FIRST(&wp->wp_free)) != NULL)
		LIST_REMOVE(w, w_entry);
	pthread_mutex_unlock(&wp->wp_lock);
	if (w == NULL && (w = malloc(sizeof *w)) == NULL)
		return NULL;
	atomic_store_explicit(&w->w_state, WORKER_BUSY, memory_order_relaxed);
	w->w_pool = wp;
	return w;
}

/* Start a thread for cl; fail at once, never wait for one to free up. */
static int
workers_spawn(struct workers *wp, struct client *cl)
{
	pthread_attr_t attr;
	pthread_t thread;
	struct worker *w;
	int error;

	if ((w = workers_take_free(wp)) == NULL)
		return -1;
	w->w_client = cl;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, MPSERVER_HANDLER_STACK);
	atomic_fetch_add(&wp->wp_nthreads, 1);
	error = wp->wp_create(&thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (error != 0) {
		atomic_fetch_sub(&wp->wp_nthreads, 1);
		pthread_mutex_lock(&wp->wp_lock);
		LIST_INSERT_HEAD(&wp->wp_free, w, w_entry);
		pthread_mutex_unlock(&wp->wp_lock);
		errno = error;
		return -1;
	}
	return 0;
}

/*
 * A short critical section, not a lock-free stack, guards wp_idle: a
 * parked thread that times out must leave from the middle of it, and
 * reused structs would make a lock-free pop suffer ABA. The lock is held
 * for a few instructions and never across a syscall, so it rarely
 * contends; the wake is after the unlock.
 */
int
workers_dispatch(struct workers *wp, struct client *cl)
{
	struct worker *w;

	pthread_mutex_lock(&wp->wp_lock);
	if ((w = LIST_FIRST(&wp->wp_idle)) != NULL) {
		LIST_REMOVE(w, w_entry);
		wp->wp_nidle--;
		w->w_client = cl;
		atomic_store_explicit(&w->w_state, WORKER_GIVEN,
		    memory_order_release);
	}
	pthread_mutex_unlock(&wp->wp_lock);
	if (w == NULL)
		return workers_spawn(wp, cl);
	/* If w has served cl and parked again, this wake is spurious. */
	worker_futex_wake(&w->w_state);
	return 0;
}

/* Take every parked thread off wp_idle and tell it to retire. */
static void
workers_stop_idle(struct workers *wp)
{
	struct worker *w;

	pthread_mutex_lock(&wp->wp_lock);
	wp->wp_closing = true;
	while ((w = LIST_FIRST(&wp->wp_idle)) != NULL) {
		LIST_REMOVE(w, w_entry);
		wp->wp_nidle--;
		atomic_store_explicit(&w->w_state, WORKER_STOP,
		    memory_order_release);
		worker_futex_wake(&w->w_state);
	}
	pthread_mutex_unlock(&wp->wp_lock);
}

void
workers_free(struct workers *wp)
{
	struct worker *w;
	unsigned n;

	/* Parked threads retire now, busy ones once their client is done. */
	workers_stop_idle(wp);
	while ((n = atomic_load(&wp->wp_nthreads)) != 0)
		worker_futex_wait(&wp->wp_nthreads, n, NULL);
	/* The others are joined down the chain; join the last. */
	if (wp->wp_has_last)
		pthread_join(wp->wp_last, NULL);
	wp->wp_has_last = false;
	while ((w = LIST_FIRST(&wp->wp_free)) != NULL) {
		LIST_REMOVE(w, w_entry);
		free(w);
	}
	pthread_mutex_destroy(&wp->wp_lock);
}

unsigned
workers_count(struct workers *wp)
{
	return atomic_load(&wp->wp_nthreads);
}

void
workers_set_max_idle(struct workers *wp, unsigned n)
{
	pthread_mutex_lock(&wp->wp_lock);
	wp->wp_max_idle = n;
	pthread_mutex_unlock(&wp->wp_lock);
}

void
workers_set_park_ms(struct workers *wp, unsigned ms)
{
	pthread_mutex_lock(&wp->wp_lock);
	wp->wp_park_ms = ms;
	pthread_mutex_unlock(&wp->wp_lock);
}
