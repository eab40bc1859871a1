/* The metrics service: /metrics and /healthz over HTTP/1.1, served like every other service. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "channel.h"
#include "client.h"
#include "httpreq.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "service.h"

#define METRICS_TEXT	"text/plain; charset=utf-8"
#define METRICS_PROM	"text/plain; version=0.0.4; charset=utf-8"

static void
metrics_family(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* One series per listed channel of a per-channel counter. */
static void
metrics_counter(struct evbuffer *out, struct channel *const *chs, size_t n,
    const char *name, const char *type, const char *help, size_t offset)
{
	size_t i;

	metrics_family(out, name, type, help);
	for (i = 0; i < n; i++) {
		atomic_ullong *field = (atomic_ullong *)((char *)chs[i]->ch_stats +
		    offset);

		evbuffer_add_printf(out, "%s{port=\"%u\",service=\"%s\"} %llu\n",
		    name, chs[i]->ch_port, chs[i]->ch_service->svc_name,
		    stats_get(*field));
	}
}

static void
metrics_rejected(struct evbuffer *out, struct channel *const *chs, size_t n)
{
	size_t i;
	int r;

	metrics_family(out, "mpserver_connections_rejected_total", "counter",
	    "Clients refused, by reason.");
	for (i = 0; i < n; i++) {
		for (r = 0; r < REJECT_NREASONS; r++)
			evbuffer_add_printf(out, "mpserver_connections_rejected_"
			    "total{port=\"%u\",service=\"%s\",reason=\"%s\"} "
			    "%llu\n", chs[i]->ch_port,
			    chs[i]->ch_service->svc_name, reject_reason_names[r],
			    stats_get(chs[i]->ch_stats->cs_rejected[r]));
	}
}

/* The families without a channel label. */
static void
metrics_process(struct server *sv, struct evbuffer *out)
{
	metrics_family(out, "mpserver_handler_threads", "gauge",
	    "Handler threads alive, busy or parked.");
	evbuffer_add_printf(out, "mpserver_handler_threads %u\n",
	    workers_count(&sv->sv_workers));
	metrics_family(out, "mpserver_config_reloads_total", "counter",
	    "Configuration reloads (SIGHUP), by result.");
	evbuffer_add_printf(out, "mpserver_config_reloads_total{result=\"success\"} "
	    "%llu\n", atomic_load(&sv->sv_reloads_ok));
	evbuffer_add_printf(out, "mpserver_config_reloads_total{result=\"failure\"} "
	    "%llu\n", atomic_load(&sv->sv_reloads_failed));
	metrics_family(out, "mpserver_config_last_reload_successful", "gauge",
	    "1 if the last reload succeeded (or none was tried), else 0.");
	evbuffer_add_printf(out, "mpserver_config_last_reload_successful %d\n",
	    atomic_load(&sv->sv_last_reload_ok) ? 1 : 0);
	metrics_family(out, "mpserver_log_lines_dropped_total", "counter",
	    "Log lines dropped because stderr could not keep up.");
	evbuffer_add_printf(out, "mpserver_log_lines_dropped_total %llu\n",
	    log_dropped());
	metrics_family(out, "mpserver_uptime_seconds", "gauge",
	    "Seconds since the server started.");
	evbuffer_add_printf(out, "mpserver_uptime_seconds %.3f\n",
	    server_uptime(sv));
	metrics_family(out, "mpserver_build_info", "gauge",
	    "Always 1; the version is in the label.");
	evbuffer_add_printf(out, "mpserver_build_info{version=\"%s\"} 1\n",
	    MPSERVER_VERSION);
}

void
metrics_render(struct server *sv, struct evbuffer *out)
{
	struct channel *const *chs;
	size_t n;

	chs = server_channels(sv, &n);
	metrics_counter(out, chs, n, "mpserver_connections_accepted_total",
	    "counter", "Clients admitted.",
	    offsetof(struct channel_stats, cs_accepted));
	metrics_rejected(out, chs, n);
	metrics_counter(out, chs, n, "mpserver_connections_active", "gauge",
	    "Clients being served now.",
	    offsetof(struct channel_stats, cs_active));
	metrics_counter(out, chs, n, "mpserver_bytes_received_total", "counter",
	    "Bytes read from clients.",
	    offsetof(struct channel_stats, cs_bytes_in));
	metrics_counter(out, chs, n, "mpserver_bytes_sent_total", "counter",
	    "Bytes written to clients.",
	    offsetof(struct channel_stats, cs_bytes_out));
	metrics_counter(out, chs, n, "mpserver_accept_pauses_total", "counter",
	    "Times accepting paused for lack of descriptors.",
	    offsetof(struct channel_stats, cs_pauses));
	metrics_counter(out, chs, n, "mpserver_upstream_failures_total",
	    "counter", "Forward clients whose upstream could not be reached.",
	    offsetof(struct channel_stats, cs_upstream_failures));
	server_channels_done(sv);
	metrics_process(sv, out);
}

/* One response, written whole; HEAD gets the headers GET would. */
static int
metrics_reply(struct client *cl, const struct httpreq *req, int code,
    const char *reason, const char *type, const char *extra,
    struct evbuffer *body, bool keep_alive)
{
	struct evbuffer *head = evbuffer_new();
	size_t blen = evbuffer_get_length(body);
	int rc = -1;

	if (head == NULL)
		return -1;
	evbuffer_add_printf(head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%s%s\r\n", code, reason, type, blen,
	    extra != NULL ? extra : "", !keep_alive ? "Connection: close\r\n" :
	    req != NULL && req->hr_minor == 0 ? "Connection: keep-alive\r\n" :
	    "");
	if (req == NULL || req->hr_method != HTTPREQ_HEAD)
		evbuffer_add_buffer(head, body);
	rc = client_write(cl, evbuffer_pullup(head, -1),
	    evbuffer_get_length(head));
	evbuffer_free(head);
	return rc;
}

/* Answer one request; false when the connection is over. */
static bool
metrics_answer(struct client *cl, const struct httpreq *req)
{
	struct evbuffer *body = evbuffer_new();
	bool keep = req->hr_keep_alive && !req->hr_has_body &&
	    !client_stopping(cl);
	int rc;

	if (body == NULL) {
		client_set_reason(cl, CLOSE_ERROR);
		return false;
	}
	if (req->hr_method == HTTPREQ_OTHER) {
		evbuffer_add_printf(body, "method not allowed\n");
		rc = metrics_reply(cl, req, 405, "Method Not Allowed",
		    METRICS_TEXT, "Allow: GET, HEAD\r\n", body, keep);
	} else if (strcmp(req->hr_path, "/metrics") == 0) {
		metrics_render(cl->cl_server, body);
		rc = metrics_reply(cl, req, 200, "OK", METRICS_PROM, NULL, body,
		    keep);
	} else if (strcmp(req->hr_path, "/healthz") == 0) {
		evbuffer_add_printf(body, "ok\n");
		rc = metrics_reply(cl, req, 200, "OK", METRICS_TEXT, NULL, body,
		    keep);
	} else {
		evbuffer_add_printf(body, "not found\n");
		rc = metrics_reply(cl, req, 404, "Not Found", METRICS_TEXT, NULL,
		    body, keep);
	}
	evbuffer_free(body);
	if (rc == 0 && !keep)
		client_set_reason(cl, CLOSE_DONE);
	return rc == 0 && keep;
}

static void
metrics_error(struct client *cl, int status)
{
	struct evbuffer *body = evbuffer_new();
	const char *reason = status == 431 ? "Request Header Fields Too Large" :
	    status == 505 ? "HTTP Version Not Supported" :
	    status == 501 ? "Not Implemented" : "Bad Request";

	if (body == NULL)
		return;
	evbuffer_add_printf(body, "%s\n", reason);
	metrics_reply(cl, NULL, status, reason, METRICS_TEXT, NULL, body, false);
	evbuffer_free(body);
	client_set_reason(cl, CLOSE_DONE);
}

/*
 * Requests one after the other on a kept-alive connection; a request
 * must be complete within the idle timeout of its first byte, and its head
 * within HTTPREQ_MAX_HEAD bytes. A request with a body is answered, then
 * the connection closed, so its body is never read.
 */
void
service_metrics(struct client *cl)
{
	struct httpreq req;
	size_t len = 0;
	ssize_t n;
	char *buf;
	int rc;

	if ((buf = malloc(HTTPREQ_MAX_HEAD)) == NULL) {
		client_set_reason(cl, CLOSE_ERROR);
		return;
	}
	for (;;) {
		rc = httpreq_parse(buf, len, &req);
		if (rc == HTTPREQ_ERROR) {
			metrics_error(cl, req.hr_status);
			break;
		}
		if (rc == HTTPREQ_DONE) {
			if (!metrics_answer(cl, &req))
				break;
			len -= req.hr_head_len;
			memmove(buf, buf + req.hr_head_len, len);
			client_mark_partial(cl, false);
			client_mark_partial(cl, len > 0);
			continue;
		}
		if ((n = client_read(cl, buf + len, HTTPREQ_MAX_HEAD - len)) == 0)
			break;
		len += (size_t)n;
		client_mark_partial(cl, true);
	}
	free(buf);
}
