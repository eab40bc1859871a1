/* The command line: options and port specifications (SPEC 1). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cause.h"
#include "log.h"
#include "numparse.h"
#include "options.h"

enum {
	OPT_MAX_PER_IP = 256,
	OPT_ALLOW,
	OPT_DENY,
	OPT_MAX_LINE,
	OPT_SHUTDOWN_GRACE,
	OPT_BACKLOG,
	OPT_REUSEPORT,
	OPT_LOG_FORMAT,
};

static const struct option options_long[] = {
	{ "bind", required_argument, NULL, 'b' },
	{ "max-clients", required_argument, NULL, 'c' },
	{ "max-per-ip", required_argument, NULL, OPT_MAX_PER_IP },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "deny", required_argument, NULL, OPT_DENY },
	{ "idle-timeout", required_argument, NULL, 't' },
	{ "max-line", required_argument, NULL, OPT_MAX_LINE },
	{ "shutdown-grace", required_argument, NULL, OPT_SHUTDOWN_GRACE },
	{ "backlog", required_argument, NULL, OPT_BACKLOG },
	{ "reuseport", no_argument, NULL, OPT_REUSEPORT },
	{ "user", required_argument, NULL, 'u' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

void
options_usage(FILE *f, const char *const *services)
{
	int i;

	fprintf(f,
"usage: mpserver [OPTIONS] PORTSPEC...\n"
"\n"
"Bind one address on many TCP ports; each port (channel) speaks a service.\n"
"PORTSPEC is a comma-separated list of PORT[-PORT][:SERVICE] items, e.g.\n"
"  7001  7002:echo  7100-7109:discard  7001,7002:echo  0:cmd (kernel's pick)\n"
"\n"
"options:\n"
"  -b, --bind ADDR          address every channel binds (127.0.0.1)\n"
"  -c, --max-clients N      concurrent clients over all channels (4096)\n"
"      --max-per-ip N       concurrent clients from one address (0, off)\n"
"      --allow CIDR         serve only these sources (repeatable)\n"
"      --deny CIDR          never serve these sources (repeatable, wins)\n"
"  -t, --idle-timeout SEC   close clients idle this long, 0 never (300)\n"
"      --max-line BYTES     longest line or ack message (4096)\n"
"      --shutdown-grace SEC time handlers get on SIGINT/SIGTERM (5)\n"
"      --backlog N          listen backlog of every channel (1024)\n"
"      --reuseport          SO_REUSEPORT, so processes can share ports\n"
"  -u, --user NAME          drop to this user after binding\n"
"  -l, --log-level L        error, warn, info, debug (info)\n"
"      --log-format F       text (logfmt) or json (text)\n"
"  -h, --help               print this and exit\n"
"  -V, --version            print the version and exit\n"
"\n"
"services:");
	for (i = 0; services[i] != NULL; i++)
		fprintf(f, " %s", services[i]);
	fprintf(f, " (default: ack)\n");
}

void
options_defaults(struct options *o)
{
	memset(o, 0, sizeof *o);
	o->o_bind = "127.0.0.1";
	o->o_max_clients = 4096;
	o->o_idle_timeout = 300;
	o->o_max_line = 4096;
	o->o_shutdown_grace = 5;
	o->o_backlog = 1024;
	o->o_log_level = LOG_INFO;
	o->o_log_format = LOG_FORMAT_TEXT;
}

static int
options_number(const char *name, const char *arg, long long min, long long max,
    unsigned *out, char **cause)
{
	const char *errstr;
	long long v;

	if (num_parse(arg, min, max, &v, &errstr) == -1)
		return cause_set(cause, "%s value \"%s\" is %s (%lld-%lld)",
		    name, arg, errstr, min, max);
	*out = (unsigned)v;
	return 0;
}

static int
options_cidr(const char *arg, struct cidr **list, size_t *n, char **cause)
{
	struct cidr c, *grown;

	if (cidr_parse(arg, &c, cause) == -1)
		return OPTIONS_ERROR;
	if ((grown = realloc(*list, (*n + 1) * sizeof *grown)) == NULL)
		return cause_set(cause, "out of memory");
	grown[(*n)++] = c;
	*list = grown;
	return 0;
}

/* arg must be one of words (NULL-terminated); *out becomes its index. */
static int
options_word(const char *name, const char *arg, const char *const *words,
    int *out, char **cause)
{
	char list[128] = "";
	int i;

	for (i = 0; words[i] != NULL; i++) {
		if (strcmp(arg, words[i]) == 0) {
			*out = i;
			return 0;
		}
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
		    i > 0 ? ", " : "", words[i]);
	}
	return cause_set(cause, "%s value \"%s\" is not one of %s", name, arg,
	    list);
}

/* One option; returns 0, OPTIONS_ERROR, or the action it asks for. */
static int
options_one(int ch, const char *arg, struct options *o, char **cause)
{
	static const char *const levels[] = { "error", "warn", "info", "debug",
	    NULL };
	static const char *const formats[] = { "text", "json", NULL };
	unsigned backlog = 0;

	switch (ch) {
	case 'b':
		o->o_bind = arg;
		return 0;
	case 'c':
		return options_number("--max-clients", arg, 1, 1000000,
		    &o->o_max_clients, cause);
	case OPT_MAX_PER_IP:
		return options_number("--max-per-ip", arg, 0, 1000000,
		    &o->o_max_per_ip, cause);
	case OPT_ALLOW:
		return options_cidr(arg, &o->o_allow, &o->o_nallow, cause);
	case OPT_DENY:
		return options_cidr(arg, &o->o_deny, &o->o_ndeny, cause);
	case 't':
		return options_number("--idle-timeout", arg, 0, 86400 * 7,
		    &o->o_idle_timeout, cause);
	case OPT_MAX_LINE:
		return options_number("--max-line", arg, 1, 1 << 20,
		    &o->o_max_line, cause);
	case OPT_SHUTDOWN_GRACE:
		return options_number("--shutdown-grace", arg, 0, 3600,
		    &o->o_shutdown_grace, cause);
	case OPT_BACKLOG:
		if (options_number("--backlog", arg, 1, 65535, &backlog,
		    cause) == -1)
			return OPTIONS_ERROR;
		o->o_backlog = (int)backlog;
		return 0;
	case OPT_REUSEPORT:
		o->o_reuseport = true;
		return 0;
	case 'u':
		o->o_user = arg;
		return 0;
	case 'l':
		return options_word("--log-level", arg, levels, &o->o_log_level,
		    cause);
	case OPT_LOG_FORMAT:
		return options_word("--log-format", arg, formats,
		    &o->o_log_format, cause);
	case 'h':
		return OPTIONS_HELP;
	case 'V':
		return OPTIONS_VERSION;
	}
	return cause_set(cause, "unexpected option");
}

int
options_parse(int argc, char **argv, const char *const *services,
    int default_service, struct options *o, char **cause)
{
	const char *token;
	int ch, rc, i;

	*cause = NULL;
	options_defaults(o);
	optind = 0;	/* glibc: start afresh, so tests may parse many times */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":b:c:t:u:l:hV", options_long,
	    NULL)) != -1) {
		token = argv[optind - 1];
		if (ch == '?') {
			/* optopt is a short option's letter, or a long one's code. */
			if (optopt > 0 && optopt < 128 && strncmp(token, "--", 2) != 0)
				return cause_set(cause, "unknown option "
				    "\"-%c\"", optopt);
			return cause_set(cause, "%s option \"%s\"", optopt != 0 ?
			    "bad use of" : "unknown", token);
		}
		if (ch == ':')
			return cause_set(cause, "option \"%s\" needs a value",
			    token);
		if ((rc = options_one(ch, optarg, o, cause)) != 0)
			return rc;
	}
	for (i = optind; i < argc; i++) {
		if (portspec_parse(argv[i], services, default_service,
		    &o->o_ports, cause) == -1)
			return OPTIONS_ERROR;
	}
	if (o->o_ports.pl_count == 0)
		return cause_set(cause, "no PORTSPEC given (try --help)");
	if (netaddr_resolve(o->o_bind, &o->o_addr, &o->o_addrlen, cause) == -1)
		return OPTIONS_ERROR;
	return OPTIONS_RUN;
}

void
options_free(struct options *o)
{
	portlist_free(&o->o_ports);
	free(o->o_allow);
	free(o->o_deny);
	o->o_allow = o->o_deny = NULL;
	o->o_nallow = o->o_ndeny = 0;
}
