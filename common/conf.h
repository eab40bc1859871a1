/* A channel's configuration: one value, from a command-line item or a file line (SPEC 8). */
#ifndef MPSERVER_CONF_H
#define MPSERVER_CONF_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

/* The keys of SPEC 8, as bits: which a line gave, which a service takes. */
enum conf_key {
	CONF_KEY_MAX_CLIENTS	= 1u << 0,
	CONF_KEY_MAX_PER_IP	= 1u << 1,
	CONF_KEY_ALLOW		= 1u << 2,
	CONF_KEY_DENY		= 1u << 3,
	CONF_KEY_IDLE_TIMEOUT	= 1u << 4,
	CONF_KEY_MAX_LINE	= 1u << 5,
	CONF_KEY_RATE		= 1u << 6,
	CONF_KEY_PROXY_FROM	= 1u << 7,
	CONF_KEY_TO		= 1u << 8,	/* forward */
	CONF_KEY_CONNECT_TIMEOUT = 1u << 9,	/* forward */
	CONF_KEY_PROXY_PROTOCOL	= 1u << 10,	/* forward */
	CONF_KEY_USER		= 1u << 11,	/* exec */
	CONF_KEY_ENV		= 1u << 12,	/* exec */
	CONF_KEY_PROGRAM	= 1u << 13,	/* exec: "-- PROGRAM [ARG...]" */
};
/* Every service takes these. */
#define CONF_KEYS_COMMON (CONF_KEY_MAX_CLIENTS | CONF_KEY_MAX_PER_IP | \
	CONF_KEY_ALLOW | CONF_KEY_DENY | CONF_KEY_IDLE_TIMEOUT | \
	CONF_KEY_MAX_LINE | CONF_KEY_RATE | CONF_KEY_PROXY_FROM)

#define CONF_CONNECT_TIMEOUT_DEFAULT 5	/* seconds */

struct cidr_list {
	struct cidr	*cl_items;
	size_t		 cl_count;
};

/*
 * Everything a channel needs, with the command-line defaults already filled
 * in, so two values compare equal exactly when the channel would behave the
 * same (a reload keeps such a channel untouched). Owns its strings and lists.
 */
struct channel_conf {
	uint16_t	 cc_port;	/* 0: the kernel picks one */
	int		 cc_service;	/* index into the service list */
	unsigned	 cc_keys;	/* CONF_KEY_* the line gave */

	unsigned	 cc_max_clients;	/* this channel's cap; 0: none */
	unsigned	 cc_max_per_ip;	/* 0: off */
	bool		 cc_own_per_ip;	/* counted per channel, not server-wide */
	unsigned	 cc_idle_timeout;	/* seconds; 0: never */
	unsigned	 cc_max_line;
	unsigned	 cc_rate;	/* connections per second; 0: off */
	struct cidr_list cc_allow;
	struct cidr_list cc_deny;
	struct cidr_list cc_proxy_from;

	char		*cc_to;		/* forward: "HOST:PORT", "[V6]:PORT" or "HOST" */
	unsigned	 cc_connect_timeout;	/* forward, seconds */
	int		 cc_proxy_protocol;	/* forward: 0 off, 1 or 2 */
	char		*cc_user;	/* exec */
	char		**cc_env;	/* exec: "K=V", NULL-terminated, or NULL */
	char		**cc_argv;	/* exec: program and args, NULL-terminated */

	char		*cc_origin;	/* "FILE:LINE", or NULL: the command line */
};

struct conf_defaults;

/*
 * What the parser must know of each service; the server's service table
 * supplies it (service_specs()), so a service stays one row.
 */
struct conf_service {
	const char	*cs_name;
	unsigned	 cs_keys;	/* CONF_KEY_* beyond CONF_KEYS_COMMON */
	unsigned	 cs_main_key;	/* what "PORT:NAME=ARG" sets, or 0 */
	/* The service's own check of a whole line; NULL: none. -1 and *cause. */
	int		(*cs_check)(const struct channel_conf *,
			    const struct conf_defaults *, char **cause);
};

/* The process-wide defaults a line starts from (the command line's options). */
struct conf_defaults {
	const struct sockaddr_storage *cd_bind;	/* the --bind address, port 0 */
	const char		*cd_user;	/* --user, or NULL */
	unsigned		 cd_max_per_ip;
	unsigned		 cd_idle_timeout;
	unsigned		 cd_max_line;
	unsigned		 cd_rate;
	struct cidr_list	 cd_allow;
	struct cidr_list	 cd_deny;
	struct cidr_list	 cd_proxy_from;
};

/* A growing list of channels in order, and the non-zero ports it holds. */
struct conf_list {
	struct channel_conf	*cf_channels;
	size_t			 cf_count;
	uint8_t			 cf_seen[65536 / 8];
};

#define CONF_MAX_CHANNELS 4096	/* SPEC 1: over the command line and the file */

/*
 * Append the channels of one PORTSPEC argument ("7001,7100-7109:discard",
 * "8080:forward=127.0.0.1:80") to list. services is NULL-terminated; an item
 * without ":SERVICE" gets services[default_service]. -1 with *cause.
 */
int	conf_parse_portspec(const char *arg,
	    const struct conf_service *const *services, int default_service,
	    const struct conf_defaults *defaults, struct conf_list *list,
	    char **cause);
/* Append the channels of one file line (no newline). file and lineno name it in errors. */
int	conf_parse_line(const char *line, const char *file, unsigned lineno,
	    const struct conf_service *const *services,
	    const struct conf_defaults *defaults, struct conf_list *list,
	    char **cause);
/*
 * Read a whole file and append its channels. Errors read
 * "FILE:LINE: message quoting the token". -1 with *cause.
 */
int	conf_load(const char *path, const struct conf_service *const *services,
	    const struct conf_defaults *defaults, struct conf_list *list,
	    char **cause);

/* Append a copy of c; -1 when out of memory. */
int	cidr_list_add(struct cidr_list *cl, const struct cidr *c);
bool	conf_equal(const struct channel_conf *a, const struct channel_conf *b);
/* A deep copy; -1 when out of memory. */
int	conf_copy(struct channel_conf *dst, const struct channel_conf *src);
void	conf_free(struct channel_conf *cc);
void	conf_list_free(struct conf_list *list);

#endif
