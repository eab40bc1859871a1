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
	pthread_mutex_t		 wp_lock;	/* guards every list and count */
	pthread_cond_t		 wp_done;	/* a thread joined wp_dead */
	LIST_HEAD(, worker)	 wp_idle;	/* parked, waiting for a client */
	LIST_HEAD(, worker)	 wp_dead;	/* returned, not yet joined */
	unsigned		 wp_nidle;
	unsigned		 wp_max_idle;
	bool			 wp_closing;
	atomic_uint		 wp_nthreads;	/* alive: busy or parked */
	void			(*wp_run)(struct client *);
};

void	workers_init(struct workers *wp, void (*run)(struct client *));
/* Hand cl to a parked thread or a new one; -1 with errno if none. */
int	workers_dispatch(struct workers *wp, struct client *cl);
/* Retire every parked thread and join all; no client may be running. */
void	workers_free(struct workers *wp);
unsigned workers_count(struct workers *wp);

#endif
