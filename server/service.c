/* The service table: what each channel speaks. One row and one function a service. */
#include <stddef.h>

#include "service.h"

const struct service service_table[] = {
	/* name       handler          first  http   refused client gets */
	{ "ack",      service_ack,     false, false, NULL },
	{ "echo",     service_echo,    false, false, NULL },
	{ "discard",  service_discard, false, false, NULL },
	{ "chargen",  service_chargen, true,  false, NULL },
	{ "daytime",  service_daytime, true,  false, NULL },
	{ "time",     service_time,    true,  false, NULL },
	{ "cmd",      service_cmd,     true,  false,
	    "421 too many connections\r\n" },
	{ "metrics",  NULL,            false, true,  NULL },
	{ NULL,       NULL,            false, false, NULL },
};

const char *const service_names[] = {
	"ack", "echo", "discard", "chargen", "daytime", "time", "cmd", "metrics",
	NULL,
};
