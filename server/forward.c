/* The forward service: each client relayed to another TCP address (SPEC 10). */
#include "cause.h"
#include "client.h"
#include "service.h"

int
service_forward_check(const struct channel_conf *cc,
    const struct conf_defaults *cd, char **cause)
{
	(void)cc;
	(void)cd;
	return cause_set(cause, "service forward is not available yet");
}

void
service_forward(struct client *cl)
{
	client_set_reason(cl, CLOSE_ERROR);
}
