/* The command line: options and port specifications (SPEC 1). */
#ifndef MPSERVER_OPTIONS_H
#define MPSERVER_OPTIONS_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stdio.h>

#include "netaddr.h"
#include "portspec.h"

enum options_action {
	OPTIONS_ERROR = -1,
	OPTIONS_RUN,
	OPTIONS_HELP,
	OPTIONS_VERSION,
};

struct options {
	const char		*o_bind;
	struct sockaddr_storage	 o_addr;	/* o_bind resolved, port 0 */
	socklen_t		 o_addrlen;
	unsigned		 o_max_clients;
	unsigned		 o_max_per_ip;	/* 0: no limit */
	unsigned		 o_idle_timeout;	/* seconds, 0: never */
	unsigned		 o_max_line;
	unsigned		 o_shutdown_grace;
	int			 o_backlog;
	bool			 o_reuseport;
	const char		*o_user;
	int			 o_log_level;	/* enum log_level */
	int			 o_log_format;	/* enum log_format */
	struct cidr		*o_allow;
	size_t			 o_nallow;
	struct cidr		*o_deny;
	size_t			 o_ndeny;
	struct portlist		 o_ports;
};

/* Every field at its documented default, no ports. */
void	options_defaults(struct options *o);
/*
 * Parse argv (getopt_long: options before or after port specs). services is
 * the NULL-terminated list of service names, default_service the index of
 * the one a bare port gets. On OPTIONS_ERROR *cause says why (to be freed).
 */
int	options_parse(int argc, char **argv, const char *const *services,
	    int default_service, struct options *o, char **cause);
void	options_free(struct options *o);
void	options_usage(FILE *f, const char *const *services);

#endif
