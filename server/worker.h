/* Handler threads: one per client at a time, parked between clients. */
#ifndef MPSERVER_WORKER_H
#define MPSERVER_WORKER_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct client;
struct worker;

struct workers {
	pthread_mutex_t		 wp_lock;	/* wp_idle to wp_has_last */
	LIST_HEAD(, worker)	 wp_idle;	/* parked, newest first */
	LIST_HEAD(, worker)	 wp_free;	/* retired, kept for reuse */
	unsigned		 wp_nidle;
	unsigned		 wp_max_idle;
	unsigned		 wp_park_ms;
	bool			 wp_closing;
	pthread_t		 wp_last;	/* retired last, unjoined */
	bool			 wp_has_last;
	atomic_uint		 wp_nthreads;	/* alive; a futex word */
	/* Set before the first dispatch: */
	void			(*wp_run)(struct client *);
	/* pthread_create, or a test's failing stand-in: */
	int			(*wp_create)(pthread_t *,
				    const pthread_attr_t *, void *(*)(void *),
				    void *);
};

void	workers_init(struct workers *wp, void (*run)(struct client *));
/* Hand cl to a parked thread or a new one; -1 with errno if none. */
int	workers_dispatch(struct workers *wp, struct client *cl);
/* Retire parked threads, wait for busy ones, join all; no dispatch races. */
void	workers_free(struct workers *wp);
unsigned workers_count(struct workers *wp);
/* For threads that park from now on: most kept parked (128). */
void	workers_set_max_idle(struct workers *wp, unsigned n);
/* For threads that park from now on: retire after ms unused (30000). */
void	workers_set_park_ms(struct workers *wp, unsigned ms);

#endif
