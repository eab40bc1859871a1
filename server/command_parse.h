/* The cmd protocol's line parser: a pure function, no I/O. */
#ifndef MPSERVER_COMMAND_PARSE_H
#define MPSERVER_COMMAND_PARSE_H

#include <stddef.h>

#define COMMAND_SLEEP_MAX 10000	/* ms */

enum command_verb {
	CMD_EMPTY,	/* blank line: ignored */
	CMD_PING,
	CMD_ECHO,
	CMD_TIME,
	CMD_WHOAMI,
	CMD_PORTS,
	CMD_STATS,
	CMD_SLEEP,
	CMD_HELP,
	CMD_QUIT,
	CMD_UNKNOWN,	/* 500 */
	CMD_BAD,	/* 501, c_error says why */
};

struct command {
	enum command_verb	 c_verb;
	const char		*c_name;	/* upper case, for logs; NULL if unknown */
	const char		*c_arg;		/* ECHO's text, inside the line */
	size_t			 c_arglen;
	long			 c_ms;		/* SLEEP's milliseconds */
	const char		*c_error;	/* CMD_BAD's reason */
};

/* One line without its terminator; it may hold any bytes, NUL included. */
void	command_parse(const char *line, size_t len, struct command *c);

#endif
