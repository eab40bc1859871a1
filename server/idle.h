/* Clients between requests: parked on one event_base, without a thread, until they send again. */
#ifndef MPSERVER_IDLE_H
#define MPSERVER_IDLE_H

#include <pthread.h>
#include <stdbool.h>

struct client;
struct event_base;
struct event;

/*
 * One thread ("mp-idle") and one event_base, with libevent's locking:
 * handler threads add their idle client to it and go back to the pool; the
 * idle thread hands the client to a thread again when it sends, or when
 * its idle timeout runs out (so the service can say so, as cmd does).
 */
struct idle {
	struct event_base	*id_base;
	struct event		*id_stop;	/* activated to end the thread */
	pthread_t		 id_thread;
	bool			 id_running;
};

int	idle_start(struct idle *id);
/* From the client's handler thread: park it for at most ms (0: no limit). */
int	idle_park(struct idle *id, struct client *cl, long ms);
/* Every client has left: end the thread and free the base. */
void	idle_stop(struct idle *id);

#endif
