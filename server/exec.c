/* The exec service: a program per client, its stdin and stdout relayed (SPEC 10). */
#include "cause.h"
#include "client.h"
#include "service.h"

int
service_exec_check(const struct channel_conf *cc,
    const struct conf_defaults *cd, char **cause)
{
	(void)cc;
	(void)cd;
	return cause_set(cause, "service exec is not available yet");
}

void
service_exec(struct client *cl)
{
	client_set_reason(cl, CLOSE_ERROR);
}
