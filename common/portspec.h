/* Port specifications: "7001", "7100-7109:discard", "7001,7002:echo", "0:cmd". */
#ifndef MPSERVER_PORTSPEC_H
#define MPSERVER_PORTSPEC_H

#include <stddef.h>
#include <stdint.h>

#define PORTSPEC_MAX_CHANNELS 4096

struct portspec {
	uint16_t	ps_port;	/* 0: the kernel picks one */
	int		ps_service;	/* index into the service name list */
};

struct portlist {
	struct portspec	*pl_items;	/* in command-line order */
	size_t		 pl_count;
	uint8_t		 pl_seen[65536 / 8];	/* non-zero ports already listed */
};

/*
 * Append the channels of one PORTSPEC argument to pl. services is the
 * NULL-terminated list of valid service names; an item without ":SERVICE"
 * gets default_service. On error returns -1 and sets *cause (to be freed),
 * leaving pl holding the items added before the error.
 */
int	portspec_parse(const char *arg, const char *const *services,
	    int default_service, struct portlist *pl, char **cause);
void	portlist_free(struct portlist *pl);

#endif
