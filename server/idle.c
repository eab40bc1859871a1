/* Clients between requests: parked on one event_base, without a thread, until they send again. */
#include <stdlib.h>
#include <sys/time.h>

#include <event2/event.h>

#include "client.h"
#include "idle.h"
#include "log.h"
#include "server.h"

/* A parked client is readable again, or its idle time is up: serve it. */
static void
idle_ready(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;

	(void)fd;
	event_free(cl->cl_park);
	cl->cl_park = NULL;
	if (what & EV_TIMEOUT)
		cl->cl_idle_expired = true;
	if (workers_dispatch(&cl->cl_server->sv_workers, cl) == -1) {
		snprintf(cl->cl_error, sizeof cl->cl_error, "no thread to "
		    "resume it");
		client_set_reason(cl, CLOSE_ERROR);
		client_close(cl);
	}
}

int
idle_park(struct idle *id, struct client *cl, long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	cl->cl_park = event_new(id->id_base, cl->cl_fd, EV_READ, idle_ready, cl);
	if (cl->cl_park == NULL)
		return -1;
	if (event_add(cl->cl_park, ms > 0 ? &tv : NULL) == -1) {
		event_free(cl->cl_park);
		cl->cl_park = NULL;
		return -1;
	}
	return 0;
}

static void
idle_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct idle *id = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(id->id_base);
}

static void *
idle_main(void *arg)
{
	struct idle *id = arg;

	pthread_setname_np(pthread_self(), "mp-idle");
	event_base_loop(id->id_base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int
idle_start(struct idle *id)
{
	pthread_attr_t attr;
	int error;

	if ((id->id_base = event_base_new()) == NULL ||
	    (id->id_stop = event_new(id->id_base, -1, 0, idle_stop_cb, id)) ==
	    NULL)
		return -1;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	error = pthread_create(&id->id_thread, &attr, idle_main, id);
	pthread_attr_destroy(&attr);
	if (error != 0)
		return -1;
	id->id_running = true;
	return 0;
}

void
idle_stop(struct idle *id)
{
	if (id->id_running) {
		/* An active event, unlike loopbreak, is not lost before the loop runs. */
		event_active(id->id_stop, 0, 0);
		pthread_join(id->id_thread, NULL);
		id->id_running = false;
	}
	if (id->id_stop != NULL)
		event_free(id->id_stop);
	if (id->id_base != NULL)
		event_base_free(id->id_base);
	id->id_stop = NULL;
	id->id_base = NULL;
}
