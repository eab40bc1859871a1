/* The cmd protocol's line parser: a pure function, no I/O. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "command_parse.h"

static const struct {
	const char		*name;
	enum command_verb	 verb;
} command_verbs[] = {
	{ "PING", CMD_PING }, { "ECHO", CMD_ECHO }, { "TIME", CMD_TIME },
	{ "WHOAMI", CMD_WHOAMI }, { "PORTS", CMD_PORTS },
	{ "STATS", CMD_STATS }, { "SLEEP", CMD_SLEEP }, { "HELP", CMD_HELP },
	{ "QUIT", CMD_QUIT },
};

static bool
command_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Text we would send back must not carry control bytes (no reply injection). */
static bool
command_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static void
command_bad(struct command *c, const char *why)
{
	c->c_verb = CMD_BAD;
	c->c_error = why;
}

static void
command_sleep(struct command *c, const char *arg, size_t len)
{
	long ms = 0;
	size_t i;

	if (len == 0) {
		command_bad(c, "SLEEP needs milliseconds (0-10000)");
		return;
	}
	for (i = 0; i < len; i++) {
		if (arg[i] < '0' || arg[i] > '9') {
			command_bad(c, "SLEEP takes a number of milliseconds "
			    "(0-10000)");
			return;
		}
		if ((ms = ms * 10 + (arg[i] - '0')) > COMMAND_SLEEP_MAX) {
			command_bad(c, "SLEEP takes 0-10000 ms");
			return;
		}
	}
	c->c_ms = ms;
}

void
command_parse(const char *line, size_t len, struct command *c)
{
	size_t i, vlen, alen;
	const char *arg;

	memset(c, 0, sizeof *c);
	while (len > 0 && command_blank(*line)) {
		line++;
		len--;
	}
	if (len == 0) {
		c->c_verb = CMD_EMPTY;
		return;
	}
	for (vlen = 0; vlen < len && !command_blank(line[vlen]); vlen++)
		continue;
	c->c_verb = CMD_UNKNOWN;
	for (i = 0; i < sizeof command_verbs / sizeof command_verbs[0]; i++) {
		if (vlen == strlen(command_verbs[i].name) &&
		    strncasecmp(line, command_verbs[i].name, vlen) == 0) {
			c->c_verb = command_verbs[i].verb;
			c->c_name = command_verbs[i].name;
			break;
		}
	}
	if (c->c_verb == CMD_UNKNOWN)
		return;
	/* ECHO keeps its text as sent, after the one separating blank. */
	arg = line + vlen + (vlen < len);
	alen = len - vlen - (vlen < len);
	if (c->c_verb == CMD_ECHO) {
		if (!command_printable(arg, alen))
			command_bad(c, "ECHO text holds control characters");
		c->c_arg = arg;
		c->c_arglen = alen;
		return;
	}
	while (alen > 0 && command_blank(arg[alen - 1]))
		alen--;
	while (alen > 0 && command_blank(*arg)) {
		arg++;
		alen--;
	}
	if (c->c_verb == CMD_SLEEP)
		command_sleep(c, arg, alen);
	else if (alen > 0)
		command_bad(c, "this command takes no argument");
}
