/* The cmd service: an SMTP-style line protocol (SPEC 3). */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "channel.h"
#include "client.h"
#include "command_parse.h"
#include "linebuf.h"
#include "log.h"
#include "server.h"
#include "service.h"

static const char *const command_help[] = {
	"PING              200 PONG",
	"ECHO text         200 text",
	"TIME              200 the server's UTC time",
	"WHOAMI            200 your address, this channel, your connection id",
	"PORTS             211 every channel with its counters",
	"STATS             211 server-wide counters",
	"SLEEP ms          200 after ms (0-10000) milliseconds",
	"HELP              214 this list",
	"QUIT              221 bye, then close",
};

/* Send what was built in out as one write. */
static int
command_flush(struct client *cl, struct evbuffer *out)
{
	size_t len = evbuffer_get_length(out);
	int rc;

	rc = client_write(cl, evbuffer_pullup(out, -1), len);
	evbuffer_drain(out, len);
	return rc;
}

static void
command_ports(struct client *cl, struct evbuffer *out)
{
	struct channel *const *chs;
	size_t i, n;

	chs = server_channels(cl->cl_server, &n);
	for (i = 0; i < n; i++) {
		evbuffer_add_printf(out, "211-%u %s active=%llu accepted=%llu\r\n",
		    chs[i]->ch_port, chs[i]->ch_service->svc_name,
		    stats_get(chs[i]->ch_stats->cs_active),
		    stats_get(chs[i]->ch_stats->cs_accepted));
	}
	server_channels_done(cl->cl_server);
	evbuffer_add_printf(out, "211 %zu channels\r\n", n);
}

static void
command_stats(struct client *cl, struct evbuffer *out)
{
	struct server_totals t;
	int r;

	server_totals(cl->cl_server, &t);
	evbuffer_add_printf(out, "211-uptime_s=%llu\r\n",
	    (unsigned long long)t.uptime_s);
	evbuffer_add_printf(out, "211-clients_active=%u\r\n", t.clients_active);
	evbuffer_add_printf(out, "211-handler_threads=%u\r\n",
	    t.handler_threads);
	evbuffer_add_printf(out, "211-channels=%zu\r\n", t.channels);
	evbuffer_add_printf(out, "211-accepted=%llu\r\n", t.accepted);
	for (r = 0; r < REJECT_NREASONS; r++)
		evbuffer_add_printf(out, "211-rejected_%s=%llu\r\n",
		    reject_reason_names[r], t.rejected[r]);
	evbuffer_add_printf(out, "211-bytes_in=%llu\r\n", t.bytes_in);
	evbuffer_add_printf(out, "211-bytes_out=%llu\r\n", t.bytes_out);
	evbuffer_add_printf(out, "211 end\r\n");
}

static void
command_log(struct client *cl, const struct command *c)
{
	struct logline l;

	if (!log_enabled(LOG_DEBUG) || c->c_verb == CMD_EMPTY)
		return;
	log_begin(&l, LOG_DEBUG, "cmd");
	log_uint(&l, "port", cl->cl_channel->ch_port);
	log_str(&l, "service", cl->cl_channel->ch_service->svc_name);
	client_log_peer(cl, &l);
	log_uint(&l, "conn", cl->cl_id);
	log_str(&l, "verb", c->c_name != NULL ? c->c_name : "unknown");
	log_end(&l);
}

/* Answer one line into out; false when the conversation is over. */
static bool
command_dispatch(struct client *cl, const struct command *c,
    struct evbuffer *out)
{
	char ts[40];
	bool slept;
	size_t i;

	command_log(cl, c);
	switch (c->c_verb) {
	case CMD_EMPTY:
		break;
	case CMD_PING:
		evbuffer_add_printf(out, "200 PONG\r\n");
		break;
	case CMD_ECHO:
		evbuffer_add_printf(out, "200 ");
		evbuffer_add(out, c->c_arg, c->c_arglen);
		evbuffer_add_printf(out, "\r\n");
		break;
	case CMD_TIME:
		log_timestamp(ts, sizeof ts);
		evbuffer_add_printf(out, "200 %s\r\n", ts);
		break;
	case CMD_WHOAMI:
		evbuffer_add_printf(out, "200 client=%s server=%s service=%s "
		    "conn=%llu\r\n", cl->cl_peername, cl->cl_channel->ch_name,
		    cl->cl_channel->ch_service->svc_name,
		    (unsigned long long)cl->cl_id);
		break;
	case CMD_PORTS:
		command_ports(cl, out);
		break;
	case CMD_STATS:
		command_stats(cl, out);
		break;
	case CMD_SLEEP:
		/* Our reply so far goes first; then only this client waits. */
		if (command_flush(cl, out) == -1)
			return false;
		atomic_store(&cl->cl_sleeping, true);
		slept = server_sleep(cl->cl_server, c->c_ms);
		atomic_store(&cl->cl_sleeping, false);
		if (!slept) {
			/* Cut by the grace: said without waiting (client_write). */
			evbuffer_add_printf(out, "421 server shutting down\r\n");
			client_set_reason(cl, CLOSE_FORCED);
			return false;
		}
		evbuffer_add_printf(out, "200 slept %ld\r\n", c->c_ms);
		break;
	case CMD_HELP:
		for (i = 0; i < sizeof command_help / sizeof command_help[0]; i++)
			evbuffer_add_printf(out, "214-%s\r\n", command_help[i]);
		evbuffer_add_printf(out, "214 end\r\n");
		break;
	case CMD_QUIT:
		evbuffer_add_printf(out, "221 bye\r\n");
		client_set_reason(cl, CLOSE_QUIT);
		return false;
	case CMD_UNKNOWN:
		evbuffer_add_printf(out, "500 unknown command\r\n");
		break;
	case CMD_BAD:
		evbuffer_add_printf(out, "501 %s\r\n", c->c_error);
		break;
	}
	return true;
}

/* The read ended: say why, if the client can still hear it. */
static void
command_farewell(struct client *cl, struct evbuffer *out)
{
	if (cl->cl_reason == CLOSE_IDLE)
		evbuffer_add_printf(out, "421 idle timeout, closing\r\n");
	else if (cl->cl_reason == CLOSE_SHUTDOWN)
		evbuffer_add_printf(out, "421 server shutting down\r\n");
}

/*
 * Every complete line in lb is answered, each reply written before the
 * next line is read (so a client that pipelines without reading holds one
 * reply, not thousands); false once the client must go.
 */
static bool
command_lines(struct client *cl, struct linebuf *lb, struct evbuffer *out)
{
	bool progressed = false;
	struct command c;
	const char *line;
	size_t len;
	int rc;

	while ((rc = linebuf_next(lb, &line, &len)) == LINEBUF_LINE) {
		progressed = true;
		command_parse(line, len, &c);
		if (!command_dispatch(cl, &c, out))
			return false;
		if (command_flush(cl, out) == -1)
			return false;
	}
	if (rc == LINEBUF_TOO_LONG) {
		evbuffer_add_printf(out, "421 line too long, closing\r\n");
		client_set_reason(cl, CLOSE_TOO_LONG);
		return false;
	}
	/* Only a whole line restarts the idle clock (see client_mark_partial). */
	if (progressed)
		client_mark_partial(cl, false);
	client_mark_partial(cl, linebuf_pending(lb) > 0);
	return true;
}

void
service_cmd(struct client *cl)
{
	struct evbuffer *out = evbuffer_new();
	struct linebuf lb;
	size_t avail;
	ssize_t n;
	char *space;

	if (out == NULL || linebuf_init(&lb, cl->cl_channel->ch_conf.cc_max_line)
	    == -1) {
		if (out != NULL)
			evbuffer_free(out);
		client_set_reason(cl, CLOSE_ERROR);
		return;
	}
	/* Once: a client taken up again after it was parked is greeted already. */
	if (cl->cl_runs == 1)
		evbuffer_add_printf(out, "220 %s %s ready on %s (%s)\r\n",
		    MPSERVER_NAME, MPSERVER_VERSION, cl->cl_channel->ch_name,
		    cl->cl_channel->ch_service->svc_name);
	for (;;) {
		if (command_flush(cl, out) == -1)
			break;
		space = linebuf_space(&lb, &avail);
		if ((n = client_read(cl, space, avail)) == 0) {
			command_farewell(cl, out);
			command_flush(cl, out);
			break;
		}
		linebuf_commit(&lb, (size_t)n);
		if (!command_lines(cl, &lb, out)) {
			command_flush(cl, out);
			break;
		}
	}
	linebuf_free(&lb);
	evbuffer_free(out);
}
