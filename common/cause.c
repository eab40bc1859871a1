/* Error causes: parsers and start-up steps return -1 and say why in *cause. */
#include <stdarg.h>
#include <stdio.h>

#include "cause.h"

int
cause_set(char **cause, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		*cause = NULL;
	va_end(ap);
	return -1;
}
