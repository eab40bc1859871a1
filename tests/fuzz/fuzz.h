/* Helpers shared by the libFuzzer targets: checked invariants, C strings. */
#ifndef MPSERVER_FUZZ_H
#define MPSERVER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
