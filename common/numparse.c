/* Checked conversion of decimal strings to integers. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "numparse.h"

int
num_parse(const char *s, long long min, long long max, long long *out,
    const char **errstr)
{
	char *end;
	long long v;

	/* strtoll accepts leading blanks and a sign; a port or a count has neither. */
	if (s == NULL || !isdigit((unsigned char)s[0])) {
		if (s != NULL && s[0] == '-' && isdigit((unsigned char)s[1]))
			*errstr = "too small";
		else
			*errstr = "invalid";
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0') {
		*errstr = "invalid";
		return -1;
	}
	if (errno == ERANGE || v > max) {
		*errstr = "too large";
		return -1;
	}
	if (v < min) {
		*errstr = "too small";
		return -1;
	}
	*out = v;
	return 0;
}
