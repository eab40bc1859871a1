/* The command line: options and port specifications (SPEC 1). */
#ifndef MPSERVER_OPTIONS_H
#define MPSERVER_OPTIONS_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stdio.h>

#include "netaddr.h"
#include "conf.h"

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
	int			 o_backlog;	/* default: the kernel's somaxconn */
	bool			 o_reuseport;
	const char		*o_user;
	int			 o_log_level;	/* enum log_level */
	int			 o_log_format;	/* enum log_format */
	unsigned		 o_rate;	/* per channel and second, 0: off */
	struct cidr_list	 o_allow;
	struct cidr_list	 o_deny;
	struct cidr_list	 o_proxy_from;
	const char		*o_config;	/* -f FILE, or NULL */
	bool			 o_check_config;
	/* The command line's channels, then the file's (SPEC 8 order). */
	struct conf_list	 o_channels;
	size_t			 o_ncmdline;	/* how many came from the command line */
};

/* Every field at its documented default, no ports. */
void	options_defaults(struct options *o);
/*
 * Parse argv (getopt_long: options before or after port specs), then the
 * --config file if any. services is the NULL-terminated service list,
 * default_service the index of the one a bare port gets. On OPTIONS_ERROR
 * *cause says why (to be freed).
 */
int	options_parse(int argc, char **argv,
	    const struct conf_service *const *services, int default_service,
	    struct options *o, char **cause);
/* The defaults a configuration line starts from. Points into o. */
void	options_conf_defaults(const struct options *o, struct conf_defaults *d);
/*
 * Read the --config file again (SIGHUP): its channels, checked against the
 * command line's ports, into a fresh list. -1 with *cause; list untouched.
 */
int	options_reload(const struct options *o,
	    const struct conf_service *const *services, struct conf_list *list,
	    char **cause);
void	options_free(struct options *o);
void	options_usage(FILE *f, const struct conf_service *const *services);

#endif
