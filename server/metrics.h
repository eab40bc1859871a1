/* The metrics service: evhttp on the channel's own listener thread. */
#ifndef MPSERVER_METRICS_H
#define MPSERVER_METRICS_H

#include <stddef.h>

struct channel;
struct evbuffer;
struct server;

/* Hand the channel's listener to evhttp; on the channel's event_base. */
int	metrics_attach(struct channel *ch);
void	metrics_detach(struct channel *ch);
/* The Prometheus text exposition of every counter. */
void	metrics_render(struct server *sv, struct evbuffer *out);

#endif
