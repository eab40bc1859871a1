/* The metrics service: /metrics and /healthz over HTTP/1.1, served like every other service. */
#ifndef MPSERVER_METRICS_H
#define MPSERVER_METRICS_H

struct evbuffer;
struct server;

/* The Prometheus text exposition of every counter. */
void	metrics_render(struct server *sv, struct evbuffer *out);

#endif
