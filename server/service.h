/* The service table: what each channel speaks. */
#ifndef MPSERVER_SERVICE_H
#define MPSERVER_SERVICE_H

#include <stdbool.h>

struct client;

struct service {
	const char	*svc_name;
	/* Runs in the client's handler thread; NULL for evhttp services. */
	void		(*svc_handler)(struct client *);
	bool		 svc_speaks_first;	/* sends before reading */
	bool		 svc_http;	/* served by evhttp on the listener thread */
	const char	*svc_busy_reply;	/* sent to a refused client, or NULL */
};

extern const struct service service_table[];
/* Names in table order, NULL-terminated, for the option parser. */
extern const char *const service_names[];
#define SERVICE_DEFAULT 0	/* ack */

void	service_ack(struct client *);
void	service_echo(struct client *);
void	service_discard(struct client *);
void	service_chargen(struct client *);
void	service_daytime(struct client *);
void	service_time(struct client *);
void	service_cmd(struct client *);

/* RFC 868: seconds since 1900 for a Unix time, wrapping mod 2^32. */
unsigned long	service_time_value(long long unix_seconds);
/* RFC 864 line i (BSD inetd's ring): 72 characters then CR LF. */
void		service_chargen_line(unsigned long i, char line[74]);

#endif
