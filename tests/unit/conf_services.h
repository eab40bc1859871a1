/* The services as conf and options see them: a table like the server's. */
#ifndef MPSERVER_CONF_SERVICES_H
#define MPSERVER_CONF_SERVICES_H

/*
 * For the unit tests and fuzz targets of the parsers, which link no
 * server: its rows, and its exec and forward checks in short. Each file
 * that includes this gets its own copy.
 */
#include <sys/stat.h>

#include <unistd.h>

#include "cause.h"
#include "conf.h"

enum {
	SVC_ACK, SVC_ECHO, SVC_DISCARD, SVC_CHARGEN, SVC_DAYTIME, SVC_TIME,
	SVC_CMD, SVC_METRICS, SVC_EXEC, SVC_FORWARD,
	SVC_COUNT
};

/* An absolute path to an executable file. */
static int
conf_services_exec_check(const struct channel_conf *cc,
    const struct conf_defaults *d, char **cause)
{
	struct stat sb;
	const char *prog;

	if (cc->cc_argv == NULL)
		return cause_set(cause, "exec needs a program");
	prog = cc->cc_argv[0];
	if (prog[0] != '/')
		return cause_set(cause, "exec program \"%s\" is not an "
		    "absolute path", prog);
	if (stat(prog, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    access(prog, X_OK) == -1)
		return cause_set(cause, "exec program \"%s\" is not an "
		    "executable file", prog);
	return 0;
}

static int
conf_services_forward_check(const struct channel_conf *cc,
    const struct conf_defaults *d, char **cause)
{
	if (cc->cc_to == NULL)
		return cause_set(cause, "forward needs to=HOST:PORT");
	return 0;
}

static const struct conf_service conf_services_rows[SVC_COUNT] = {
	{ "ack", 0, 0, NULL },
	{ "echo", 0, 0, NULL },
	{ "discard", 0, 0, NULL },
	{ "chargen", 0, 0, NULL },
	{ "daytime", 0, 0, NULL },
	{ "time", 0, 0, NULL },
	{ "cmd", 0, 0, NULL },
	{ "metrics", 0, 0, NULL },
	{ "exec", CONF_KEY_USER | CONF_KEY_ENV | CONF_KEY_PROGRAM,
	    CONF_KEY_PROGRAM, conf_services_exec_check },
	{ "forward", CONF_KEY_TO | CONF_KEY_CONNECT_TIMEOUT |
	    CONF_KEY_PROXY_PROTOCOL, CONF_KEY_TO, conf_services_forward_check },
};

/* In SVC_* order, NULL-terminated, as service_specs() gives them. */
static const struct conf_service *const conf_services[SVC_COUNT + 1] = {
	&conf_services_rows[SVC_ACK], &conf_services_rows[SVC_ECHO],
	&conf_services_rows[SVC_DISCARD], &conf_services_rows[SVC_CHARGEN],
	&conf_services_rows[SVC_DAYTIME], &conf_services_rows[SVC_TIME],
	&conf_services_rows[SVC_CMD], &conf_services_rows[SVC_METRICS],
	&conf_services_rows[SVC_EXEC], &conf_services_rows[SVC_FORWARD],
	NULL,
};

#endif
