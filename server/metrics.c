/* The metrics service: evhttp on the channel's own listener thread. */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "channel.h"
#include "metrics.h"
#include "server.h"

int
metrics_attach(struct channel *ch)
{
	(void)ch;
	return -1;
}

void
metrics_detach(struct channel *ch)
{
	(void)ch;
}
