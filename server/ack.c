/* The ACK service of the course notes: one message in, "ACK\n" out, close. */
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "client.h"
#include "log.h"
#include "server.h"
#include "service.h"

static void
ack_log(struct client *cl, const char *msg, size_t len)
{
	struct logline l;

	if (!log_enabled(LOG_INFO))
		return;
	log_begin(&l, LOG_INFO, "recv");
	log_uint(&l, "port", cl->cl_channel->ch_port);
	log_str(&l, "service", "ack");
	client_log_peer(cl, &l);
	log_uint(&l, "conn", cl->cl_id);
	log_uint(&l, "bytes", len);
	log_data(&l, "data", msg, len);
	log_end(&l);
}

/*
 * A message is the bytes up to and including the first newline, or up to
 * EOF, or --max-line bytes. Idle, reset or shutdown with half a message
 * gets no ACK; neither does a client that sends nothing.
 */
void
service_ack(struct client *cl)
{
	size_t max = cl->cl_channel->ch_conf.cc_max_line, len = 0;
	bool complete = false;
	char *buf, *nl;
	ssize_t n;

	if ((buf = malloc(max)) == NULL) {
		client_set_reason(cl, CLOSE_ERROR);
		return;
	}
	while (len < max && (n = client_read(cl, buf + len, max - len)) > 0) {
		client_mark_partial(cl, true);
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl != NULL) {
			len = (size_t)(nl - buf) + 1;
			complete = true;
		}
		if (complete)
			break;
	}
	if (len == max || (len > 0 && cl->cl_reason == CLOSE_CLIENT))
		complete = true;
	if (complete) {
		ack_log(cl, buf, len);
		if (client_write(cl, "ACK\n", 4) == 0)
			cl->cl_reason = CLOSE_DONE;
	}
	free(buf);
}
