/* Port specifications: "7001", "7100-7109:discard", "7001,7002:echo", "0:cmd". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cause.h"
#include "numparse.h"
#include "portspec.h"

static int
portspec_service(const char *name, const char *const *services)
{
	int i;

	for (i = 0; services[i] != NULL; i++) {
		if (strcmp(name, services[i]) == 0)
			return i;
	}
	return -1;
}

static char *
portspec_service_list(const char *const *services)
{
	size_t len = 1;
	char *list;
	int i;

	for (i = 0; services[i] != NULL; i++)
		len += strlen(services[i]) + 2;
	if ((list = calloc(1, len)) == NULL)
		return NULL;
	for (i = 0; services[i] != NULL; i++) {
		if (i > 0)
			strcat(list, ", ");
		strcat(list, services[i]);
	}
	return list;
}

static int
portspec_port(const char *s, const char *item, long long *port, char **cause)
{
	const char *errstr;

	if (num_parse(s, 0, 65535, port, &errstr) == 0)
		return 0;
	if (strcmp(errstr, "invalid") == 0)
		return cause_set(cause, "invalid port \"%s\" in \"%s\"", s,
		    item);
	return cause_set(cause, "port \"%s\" out of range 0-65535 in \"%s\"",
	    s, item);
}

static int
portspec_add(struct portlist *pl, uint16_t port, int service, const char *item,
    char **cause)
{
	struct portspec *items;

	/* The caller has checked the count against PORTSPEC_MAX_CHANNELS. */
	if (port != 0) {
		if (pl->pl_seen[port / 8] & (1u << (port % 8)))
			return cause_set(cause, "port %u listed twice (\"%s\")",
			    port, item);
		pl->pl_seen[port / 8] |= 1u << (port % 8);
	}
	items = realloc(pl->pl_items, (pl->pl_count + 1) * sizeof *items);
	if (items == NULL)
		return cause_set(cause, "out of memory");
	pl->pl_items = items;
	items[pl->pl_count].ps_port = port;
	items[pl->pl_count].ps_service = service;
	pl->pl_count++;
	return 0;
}

/* One non-empty item: PORT[-PORT][:SERVICE]. item is a writable copy. */
static int
portspec_item(char *item, const char *const *services, int default_service,
    struct portlist *pl, char **cause)
{
	char *colon, *dash, *list, orig[256];
	long long lo, hi, p;
	int service = default_service;

	snprintf(orig, sizeof orig, "%s", item);
	if ((colon = strchr(item, ':')) != NULL) {
		*colon++ = '\0';
		if ((service = portspec_service(colon, services)) == -1) {
			list = portspec_service_list(services);
			cause_set(cause, "unknown service \"%s\" in \"%s\" "
			    "(services: %s)", colon, orig, list ? list : "?");
			free(list);
			return -1;
		}
	}
	if ((dash = strchr(item, '-')) != NULL && dash != item)
		*dash++ = '\0';
	else
		dash = NULL;
	if (portspec_port(item, orig, &lo, cause) == -1)
		return -1;
	hi = lo;
	if (dash != NULL && portspec_port(dash, orig, &hi, cause) == -1)
		return -1;
	if (lo > hi)
		return cause_set(cause, "range \"%s\" runs backwards", orig);
	if (hi - lo + 1 + (long long)pl->pl_count > PORTSPEC_MAX_CHANNELS)
		return cause_set(cause, "too many channels (at most %d) at \"%s\"",
		    PORTSPEC_MAX_CHANNELS, orig);
	for (p = lo; p <= hi; p++) {
		if (portspec_add(pl, (uint16_t)p, service, orig, cause) == -1)
			return -1;
	}
	return 0;
}

int
portspec_parse(const char *arg, const char *const *services,
    int default_service, struct portlist *pl, char **cause)
{
	char *copy, *item, *next;
	int rc = 0;

	*cause = NULL;
	if (*arg == '\0')
		return cause_set(cause, "empty port specification \"\"");
	if ((copy = strdup(arg)) == NULL)
		return cause_set(cause, "out of memory");
	for (item = copy; item != NULL && rc == 0; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		if (*item == '\0') {
			rc = cause_set(cause, "empty item in port "
			    "specification \"%s\"", arg);
			break;
		}
		rc = portspec_item(item, services, default_service, pl, cause);
	}
	free(copy);
	return rc;
}

void
portlist_free(struct portlist *pl)
{
	free(pl->pl_items);
	memset(pl, 0, sizeof *pl);
}
