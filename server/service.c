/* The service table: what each channel speaks. One row and one file a service. */
#include <pthread.h>
#include <stddef.h>

#include "exec.h"
#include "service.h"

#define SVC_FORWARD_KEYS (CONF_KEY_TO | CONF_KEY_CONNECT_TIMEOUT | \
	CONF_KEY_PROXY_PROTOCOL)
#define SVC_EXEC_KEYS (CONF_KEY_USER | CONF_KEY_ENV | CONF_KEY_PROGRAM)

#define SVC_503 "HTTP/1.1 503 Service Unavailable\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n"

const struct service service_table[] = {
	/* { name, its keys, main key, check }, handler, start, flags, busy reply */
	{ { "ack", 0, 0, NULL }, service_ack, NULL, 0, NULL },
	{ { "echo", 0, 0, NULL }, service_echo, NULL, SVC_PARKS, NULL },
	{ { "discard", 0, 0, NULL }, service_discard, NULL, SVC_PARKS, NULL },
	{ { "chargen", 0, 0, NULL }, service_chargen, NULL, SVC_SPEAKS_FIRST,
	    NULL },
	{ { "daytime", 0, 0, NULL }, service_daytime, NULL, SVC_SPEAKS_FIRST,
	    NULL },
	{ { "time", 0, 0, NULL }, service_time, NULL, SVC_SPEAKS_FIRST, NULL },
	{ { "cmd", 0, 0, NULL }, service_cmd, NULL,
	    SVC_SPEAKS_FIRST | SVC_PARKS, "421 too many connections\r\n" },
	{ { "metrics", 0, 0, NULL }, service_metrics, NULL, SVC_PARKS, SVC_503 },
	{ { "exec", SVC_EXEC_KEYS, CONF_KEY_PROGRAM, service_exec_check },
	    service_exec, exec_start, SVC_SPEAKS_FIRST | SVC_RELAY, NULL },
	{ { "forward", SVC_FORWARD_KEYS, CONF_KEY_TO, service_forward_check },
	    service_forward, NULL, SVC_SPEAKS_FIRST | SVC_RELAY, NULL },
	{ { NULL, 0, 0, NULL }, NULL, NULL, 0, NULL },
};

static const struct conf_service *service_spec_list[
    sizeof service_table / sizeof service_table[0]];
static pthread_once_t service_spec_once = PTHREAD_ONCE_INIT;

static void
service_specs_init(void)
{
	size_t i;

	for (i = 0; service_table[i].svc_name != NULL; i++)
		service_spec_list[i] = &service_table[i].svc_spec;
	service_spec_list[i] = NULL;
}

const struct conf_service *const *
service_specs(void)
{
	pthread_once(&service_spec_once, service_specs_init);
	return service_spec_list;
}
