/* Helpers shared by the libFuzzer targets: invariants, C strings, lists. */
#ifndef MPSERVER_FUZZ_H
#define MPSERVER_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* libFuzzer calls this once per input; it has no header of its own. */
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * An invariant the code under test broke: say which, then abort() so
 * libFuzzer saves the input as a crash artifact.
 */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant failed: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* The input as a NUL-terminated string (cut at its first NUL, if any). */
static inline char *
fuzz_cstring(const uint8_t *data, size_t size)
{
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Two lists of the same CIDRs, in the same order. */
static inline bool
fuzz_cidrs_equal(const struct cidr_list *a, const struct cidr_list *b)
{
	return a->cl_count == b->cl_count && (a->cl_count == 0 ||
	    memcmp(a->cl_items, b->cl_items, a->cl_count *
	    sizeof *a->cl_items) == 0);
}

/* Ports listed once, and cf_seen exactly the non-zero ones. */
static inline void
fuzz_check_seen(const struct conf_list *list)
{
	uint8_t seen[sizeof list->cf_seen];
	unsigned port;
	size_t i;

	FUZZ_CHECK(list->cf_count <= CONF_MAX_CHANNELS);
	memset(seen, 0, sizeof seen);
	for (i = 0; i < list->cf_count; i++) {
		port = list->cf_channels[i].cc_port;
		if (port == 0)
			continue;
		FUZZ_CHECK(!(seen[port / 8] & (1u << (port % 8))));
		seen[port / 8] |= (uint8_t)(1u << (port % 8));
	}
	FUZZ_CHECK(memcmp(seen, list->cf_seen, sizeof seen) == 0);
}

#endif
