/* The service table: what each channel speaks, one row a service. */
#ifndef MPSERVER_SERVICE_H
#define MPSERVER_SERVICE_H

#include <stdbool.h>

#include "conf.h"

struct client;

enum service_flag {
	SVC_SPEAKS_FIRST = 1 << 0,	/* handed to a thread at once, not at its first byte */
	SVC_RELAY	 = 1 << 1,	/* keeps relaying through shutdown's grace */
	SVC_PARKS	 = 1 << 2,	/* quiet between requests: parked without a thread */
};

struct service {
	struct conf_service	 svc_spec;	/* name, settings and their check */
	/* Runs in the client's handler thread. */
	void			(*svc_handler)(struct client *);
	/*
	 * Optional, in the handler thread before the client's accept line:
	 * REJECT_NONE, or a reason to refuse it after all (REJECT_RESOURCES).
	 */
	int			(*svc_start)(struct client *);
	unsigned		 svc_flags;	/* enum service_flag */
	const char		*svc_busy_reply;	/* what a refused client gets, or NULL */
};
#define svc_name svc_spec.cs_name

extern const struct service service_table[];
#define SERVICE_DEFAULT 0	/* ack */

/* The rows' parser halves, NULL-terminated, for options_parse and conf_load. */
const struct conf_service *const *service_specs(void);

void	service_ack(struct client *);
void	service_echo(struct client *);
void	service_discard(struct client *);
void	service_chargen(struct client *);
void	service_daytime(struct client *);
void	service_time(struct client *);
void	service_cmd(struct client *);
void	service_metrics(struct client *);
void	service_exec(struct client *);
void	service_forward(struct client *);
int	service_exec_check(const struct channel_conf *,
	    const struct conf_defaults *, char **);
int	service_forward_check(const struct channel_conf *,
	    const struct conf_defaults *, char **);

/* RFC 868: seconds since 1900 for a Unix time, wrapping mod 2^32. */
unsigned long	service_time_value(long long unix_seconds);
/* RFC 864 line i (BSD inetd's ring): 72 characters then CR LF. */
void		service_chargen_line(unsigned long i, char line[74]);

#endif
