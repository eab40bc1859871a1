/* The metrics service: evhttp on the channel's own listener thread. */
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "channel.h"
#include "client.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "service.h"

#define METRICS_BUCKETS 256

/*
 * evhttp accepts on its own, so admission happens at a connection's first
 * request (SPEC 7: a refused metrics client gets its 503 at the latest
 * there). Connections are remembered by pointer; only this thread looks.
 */
struct metrics_conn {
	struct evhttp_connection	*mc_evcon;
	struct channel			*mc_channel;
	struct client			*mc_client;	/* NULL: refused */
	struct metrics_conn		*mc_next;
};

struct metrics {
	struct metrics_conn	*mt_conns[METRICS_BUCKETS];
	bool			 mt_closing;	/* evhttp_free is closing them all */
};

static size_t
metrics_bucket(const struct evhttp_connection *evcon)
{
	return ((uintptr_t)evcon >> 4) % METRICS_BUCKETS;
}

static struct metrics_conn **
metrics_find(struct metrics *mt, const struct evhttp_connection *evcon)
{
	struct metrics_conn **pp;

	for (pp = &mt->mt_conns[metrics_bucket(evcon)]; *pp != NULL;
	    pp = &(*pp)->mc_next) {
		if ((*pp)->mc_evcon == evcon)
			break;
	}
	return pp;
}

/* evhttp is closing the connection: give its slot back. */
static void
metrics_closed(struct evhttp_connection *evcon, void *arg)
{
	struct metrics_conn *mc = arg, **pp;
	struct metrics *mt = mc->mc_channel->ch_metrics;

	if (mc->mc_client != NULL) {
		client_set_reason(mc->mc_client, mt->mt_closing ? CLOSE_SHUTDOWN :
		    CLOSE_CLIENT);
		client_log(mc->mc_client, "close");
		server_client_gone(mc->mc_channel->ch_server, mc->mc_client);
	}
	pp = metrics_find(mt, evcon);
	if (*pp == mc)
		*pp = mc->mc_next;
	free(mc);
}

/* The first request of a connection: admit it or refuse it. */
static struct metrics_conn *
metrics_admit(struct channel *ch, struct evhttp_connection *evcon, int *reason)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	const struct sockaddr *peer = evhttp_connection_get_addr(evcon);
	struct metrics_conn *mc;
	int fd = (int)bufferevent_getfd(bev);

	*reason = REJECT_RESOURCES;
	if (peer == NULL || (mc = calloc(1, sizeof *mc)) == NULL)
		return NULL;
	mc->mc_evcon = evcon;
	mc->mc_channel = ch;
	mc->mc_client = server_client_new(ch->ch_server, ch, fd, peer,
	    peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in), reason);
	if (mc->mc_client != NULL) {
		netaddr_format((struct sockaddr *)&mc->mc_client->cl_peer,
		    mc->mc_client->cl_peername,
		    sizeof mc->mc_client->cl_peername);
		client_log(mc->mc_client, "accept");
	} else
		channel_count_refusal(ch, peer, *reason);
	mc->mc_next = ch->ch_metrics->mt_conns[metrics_bucket(evcon)];
	ch->ch_metrics->mt_conns[metrics_bucket(evcon)] = mc;
	evhttp_connection_set_closecb(evcon, metrics_closed, mc);
	return mc;
}

static void
metrics_family(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static void
metrics_counter(struct evbuffer *out, struct server *sv, const char *name,
    const char *type, const char *help, size_t offset)
{
	size_t i;

	metrics_family(out, name, type, help);
	for (i = 0; i < sv->sv_nchannels; i++) {
		struct channel *ch = &sv->sv_channels[i];
		atomic_ullong *field = (atomic_ullong *)((char *)&ch->ch_stats +
		    offset);

		evbuffer_add_printf(out, "%s{port=\"%u\",service=\"%s\"} %llu\n",
		    name, ch->ch_port, ch->ch_service->svc_name,
		    stats_get(*field));
	}
}

void
metrics_render(struct server *sv, struct evbuffer *out)
{
	size_t i;
	int r;

	metrics_counter(out, sv, "mpserver_connections_accepted_total",
	    "counter", "Clients admitted.",
	    offsetof(struct channel_stats, cs_accepted));
	metrics_family(out, "mpserver_connections_rejected_total", "counter",
	    "Clients refused, by reason.");
	for (i = 0; i < sv->sv_nchannels; i++) {
		struct channel *ch = &sv->sv_channels[i];

		for (r = 0; r < REJECT_NREASONS; r++)
			evbuffer_add_printf(out, "mpserver_connections_rejected_"
			    "total{port=\"%u\",service=\"%s\",reason=\"%s\"} "
			    "%llu\n", ch->ch_port, ch->ch_service->svc_name,
			    reject_reason_names[r],
			    stats_get(ch->ch_stats.cs_rejected[r]));
	}
	metrics_counter(out, sv, "mpserver_connections_active", "gauge",
	    "Clients being served now.",
	    offsetof(struct channel_stats, cs_active));
	metrics_counter(out, sv, "mpserver_bytes_received_total", "counter",
	    "Bytes read from clients.",
	    offsetof(struct channel_stats, cs_bytes_in));
	metrics_counter(out, sv, "mpserver_bytes_sent_total", "counter",
	    "Bytes written to clients.",
	    offsetof(struct channel_stats, cs_bytes_out));
	metrics_counter(out, sv, "mpserver_accept_pauses_total", "counter",
	    "Times accepting paused for lack of descriptors or threads.",
	    offsetof(struct channel_stats, cs_pauses));
	metrics_family(out, "mpserver_handler_threads", "gauge",
	    "Handler threads alive, busy or parked.");
	evbuffer_add_printf(out, "mpserver_handler_threads %u\n",
	    workers_count(&sv->sv_workers));
	metrics_family(out, "mpserver_uptime_seconds", "gauge",
	    "Seconds since the server started.");
	evbuffer_add_printf(out, "mpserver_uptime_seconds %.3f\n",
	    server_uptime(sv));
	metrics_family(out, "mpserver_build_info", "gauge",
	    "Always 1; the version is in the label.");
	evbuffer_add_printf(out, "mpserver_build_info{version=\"%s\"} 1\n",
	    MPSERVER_VERSION);
}

/* Bytes that reach or leave the connection's buffers, headers included. */
static void
metrics_count_in(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct channel *ch = arg;

	(void)buf;
	if (info->n_added > 0)
		stats_add(ch->ch_stats.cs_bytes_in, info->n_added);
}

static void
metrics_count_out(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct channel *ch = arg;

	(void)buf;
	if (info->n_deleted > 0)
		stats_add(ch->ch_stats.cs_bytes_out, info->n_deleted);
}

/* evhttp asks us for each connection's bufferevent: ours count bytes. */
static struct bufferevent *
metrics_bufferevent(struct event_base *base, void *arg)
{
	struct bufferevent *bev;

	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) ==
	    NULL)
		return NULL;
	evbuffer_add_cb(bufferevent_get_input(bev), metrics_count_in, arg);
	evbuffer_add_cb(bufferevent_get_output(bev), metrics_count_out, arg);
	return bev;
}

static void
metrics_reply(struct evhttp_request *req, struct client *cl, int code,
    const char *reason, const char *type, struct evbuffer *body)
{
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);

	char length[24];

	evhttp_add_header(headers, "Content-Type", type);
	/* The close line counts bodies; the channel counters count everything. */
	if (cl != NULL) {
		cl->cl_bytes_in += evbuffer_get_length(
		    evhttp_request_get_input_buffer(req));
		cl->cl_bytes_out += evbuffer_get_length(body);
	}
	/* HEAD: the length GET would have, and no body. */
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		snprintf(length, sizeof length, "%zu", evbuffer_get_length(body));
		evhttp_add_header(headers, "Content-Length", length);
		evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(req, code, reason, body);
}

static void
metrics_request(struct evhttp_request *req, void *arg)
{
	struct channel *ch = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct metrics_conn *mc = *metrics_find(ch->ch_metrics, evcon);
	struct evbuffer *body = evbuffer_new();
	int reason = REJECT_NONE;

	if (body == NULL)
		return;
	if (mc == NULL)
		mc = metrics_admit(ch, evcon, &reason);
	if (mc == NULL || mc->mc_client == NULL) {
		if (reason == REJECT_ACL) {
			/* Closed without a byte: the reply has nowhere to go. */
			shutdown(bufferevent_getfd(evhttp_connection_get_bufferevent(
			    evcon)), SHUT_RDWR);
		}
		evhttp_add_header(headers, "Connection", "close");
		evbuffer_add_printf(body, "too many connections\n");
		metrics_reply(req, NULL, 503, "Service Unavailable",
		    "text/plain; charset=utf-8", body);
	} else if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(headers, "Allow", "GET, HEAD");
		evbuffer_add_printf(body, "method not allowed\n");
		metrics_reply(req, mc->mc_client, 405, "Method Not Allowed",
		    "text/plain; charset=utf-8", body);
	} else if (path != NULL && strcmp(path, "/metrics") == 0) {
		metrics_render(ch->ch_server, body);
		metrics_reply(req, mc->mc_client, 200, "OK",
		    "text/plain; version=0.0.4; charset=utf-8", body);
	} else if (path != NULL && strcmp(path, "/healthz") == 0) {
		evbuffer_add_printf(body, "ok\n");
		metrics_reply(req, mc->mc_client, 200, "OK",
		    "text/plain; charset=utf-8", body);
	} else {
		evbuffer_add_printf(body, "not found\n");
		metrics_reply(req, mc->mc_client, 404, "Not Found",
		    "text/plain; charset=utf-8", body);
	}
	evbuffer_free(body);
}

int
metrics_attach(struct channel *ch)
{
	const struct options *o = ch->ch_server->sv_opts;

	if ((ch->ch_metrics = calloc(1, sizeof *ch->ch_metrics)) == NULL ||
	    (ch->ch_http = evhttp_new(ch->ch_base)) == NULL)
		return -1;
	/* Every method reaches us, so the others get 405 rather than 501. */
	evhttp_set_allowed_methods(ch->ch_http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(ch->ch_http, (ev_ssize_t)o->o_max_line * 4);
	evhttp_set_max_body_size(ch->ch_http, (ev_ssize_t)o->o_max_line);
	if (o->o_idle_timeout > 0)
		evhttp_set_timeout(ch->ch_http, (int)o->o_idle_timeout);
	evhttp_set_gencb(ch->ch_http, metrics_request, ch);
	evhttp_set_bevcb(ch->ch_http, metrics_bufferevent, ch);
	if (evhttp_bind_listener(ch->ch_http, ch->ch_listener) == NULL)
		return -1;
	return 0;
}

void
metrics_detach(struct channel *ch)
{
	/* Frees the listener too, and closes every connection (closecbs run). */
	ch->ch_metrics->mt_closing = true;
	evhttp_free(ch->ch_http);
	ch->ch_http = NULL;
	ch->ch_listener = NULL;
	free(ch->ch_metrics);
	ch->ch_metrics = NULL;
}
