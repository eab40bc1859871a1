/* Error causes: parsers and start-up steps return -1 and say why in *cause. */
#ifndef MPSERVER_CAUSE_H
#define MPSERVER_CAUSE_H

/* Set *cause to a formatted message (NULL if out of memory); returns -1. */
int	cause_set(char **cause, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
