/* The command line: options, port specs and the --config file (SPEC 1, 8). */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cause.h"
#include "log.h"
#include "numparse.h"
#include "options.h"

#define OPTIONS_SOMAXCONN	"/proc/sys/net/core/somaxconn"
#define OPTIONS_BACKLOG_FALLBACK 4096	/* Linux's somaxconn since 5.4 */

enum {
	OPT_MAX_PER_IP = 256,
	OPT_ALLOW,
	OPT_DENY,
	OPT_MAX_LINE,
	OPT_SHUTDOWN_GRACE,
	OPT_BACKLOG,
	OPT_REUSEPORT,
	OPT_LOG_FORMAT,
	OPT_CHECK_CONFIG,
	OPT_RATE,
	OPT_PROXY_FROM,
};

static const struct option options_long[] = {
	{ "bind", required_argument, NULL, 'b' },
	{ "max-clients", required_argument, NULL, 'c' },
	{ "max-per-ip", required_argument, NULL, OPT_MAX_PER_IP },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "deny", required_argument, NULL, OPT_DENY },
	{ "idle-timeout", required_argument, NULL, 't' },
	{ "max-line", required_argument, NULL, OPT_MAX_LINE },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "proxy-from", required_argument, NULL, OPT_PROXY_FROM },
	{ "shutdown-grace", required_argument, NULL, OPT_SHUTDOWN_GRACE },
	{ "backlog", required_argument, NULL, OPT_BACKLOG },
	{ "reuseport", no_argument, NULL, OPT_REUSEPORT },
	{ "user", required_argument, NULL, 'u' },
	{ "config", required_argument, NULL, 'f' },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "log-level", required_argument, NULL, 'l' },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

void
options_usage(FILE *f, const struct conf_service *const *services)
{
	int i;

	fprintf(f,
"usage: mpserver [OPTIONS] PORTSPEC...\n"
"       mpserver [OPTIONS] -f FILE [PORTSPEC...]\n"
"\n"
"Bind one address on many TCP ports; each port (channel) speaks a service.\n"
"PORTSPEC is a comma-separated list of PORT[-PORT][:SERVICE[=ARG]] items:\n"
"  7001  7002:echo  7100-7109:discard  7001,7002:echo  0:cmd (kernel's pick)\n"
"  8080:forward=127.0.0.1:80  7010:exec=/usr/bin/id\n"
"FILE has one line per channel item, after the command line's channels:\n"
"  PORTS SERVICE [KEY=VALUE ...] [-- PROGRAM [ARG ...]]\n"
"\n"
"options:\n"
"  -b, --bind ADDR          address every channel binds (127.0.0.1)\n"
"  -c, --max-clients N      concurrent clients over all channels (4096)\n"
"      --max-per-ip N       concurrent clients from one address (0, off)\n"
"      --allow CIDR         serve only these sources (repeatable)\n"
"      --deny CIDR          never serve these sources (repeatable, wins)\n"
"  -t, --idle-timeout SEC   close clients idle this long, 0 never (300)\n"
"      --max-line BYTES     longest line or ack message (4096)\n"
"      --rate N             new clients a channel admits per second (0, off)\n"
"      --proxy-from CIDR    sources that send a PROXY header (repeatable)\n"
"      --shutdown-grace SEC time handlers get on SIGINT/SIGTERM (5)\n"
"      --backlog N          listen backlog of every channel (somaxconn)\n"
"      --reuseport          SO_REUSEPORT, so processes can share ports\n"
"  -u, --user NAME          drop to this user after binding\n"
"  -f, --config FILE        channels from FILE too; SIGHUP reads it again\n"
"      --check-config       check the options and FILE, bind nothing, exit\n"
"  -l, --log-level L        error, warn, info, debug (info)\n"
"      --log-format F       text (logfmt) or json (text)\n"
"  -h, --help               print this and exit\n"
"  -V, --version            print the version and exit\n"
"\n"
"services:");
	for (i = 0; services[i] != NULL; i++)
		fprintf(f, " %s", services[i]->cs_name);
	fprintf(f, " (default: ack)\n");
}

/* The kernel's cap on listen backlogs: what --backlog defaults to. */
static int
options_somaxconn(void)
{
	const char *errstr;
	char buf[32];
	long long v;
	size_t n;
	FILE *f;

	if ((f = fopen(OPTIONS_SOMAXCONN, "re")) == NULL)
		return OPTIONS_BACKLOG_FALLBACK;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (num_parse(buf, 1, INT_MAX, &v, &errstr) == -1)
		return OPTIONS_BACKLOG_FALLBACK;
	return (int)v;
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
	o->o_backlog = options_somaxconn();
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
options_cidr(const char *arg, struct cidr_list *cl, char **cause)
{
	struct cidr c;

	if (cidr_parse(arg, &c, cause) == -1)
		return OPTIONS_ERROR;
	if (cidr_list_add(cl, &c) == -1)
		return cause_set(cause, "out of memory");
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
		snprintf(list + strlen(list), sizeof list - strlen(list),
		    "%s%s", i > 0 ? ", " : "", words[i]);
	}
	return cause_set(cause, "%s value \"%s\" is not one of %s", name, arg,
	    list);
}

static int
options_backlog(const char *arg, struct options *o, char **cause)
{
	unsigned backlog = 0;

	if (options_number("--backlog", arg, 1, 65535, &backlog, cause) == -1)
		return OPTIONS_ERROR;
	o->o_backlog = (int)backlog;
	return 0;
}

/* An option that sets a flag or a string. */
static int
options_flag(int ch, const char *arg, struct options *o, char **cause)
{
	switch (ch) {
	case 'b':
		o->o_bind = arg;
		break;
	case 'u':
		o->o_user = arg;
		break;
	case 'f':
		o->o_config = arg;
		break;
	case OPT_REUSEPORT:
		o->o_reuseport = true;
		break;
	case OPT_CHECK_CONFIG:
		o->o_check_config = true;
		break;
	case 'h':
		return OPTIONS_HELP;
	case 'V':
		return OPTIONS_VERSION;
	default:
		return cause_set(cause, "unexpected option");
	}
	return 0;
}

/* One option; returns 0, OPTIONS_ERROR, or the action it asks for. */
static int
options_one(int ch, const char *arg, struct options *o, char **cause)
{
	static const char *const levels[] = { "error", "warn", "info", "debug",
	    NULL };
	static const char *const formats[] = { "text", "json", NULL };

	switch (ch) {
	case 'c':
		return options_number("--max-clients", arg, 1, 1000000,
		    &o->o_max_clients, cause);
	case OPT_MAX_PER_IP:
		return options_number("--max-per-ip", arg, 0, 1000000,
		    &o->o_max_per_ip, cause);
	case OPT_ALLOW:
		return options_cidr(arg, &o->o_allow, cause);
	case OPT_DENY:
		return options_cidr(arg, &o->o_deny, cause);
	case OPT_PROXY_FROM:
		return options_cidr(arg, &o->o_proxy_from, cause);
	case 't':
		return options_number("--idle-timeout", arg, 0, 86400 * 7,
		    &o->o_idle_timeout, cause);
	case OPT_MAX_LINE:
		return options_number("--max-line", arg, 1, 1 << 20,
		    &o->o_max_line, cause);
	case OPT_RATE:
		return options_number("--rate", arg, 0, 1000000, &o->o_rate,
		    cause);
	case OPT_SHUTDOWN_GRACE:
		return options_number("--shutdown-grace", arg, 0, 3600,
		    &o->o_shutdown_grace, cause);
	case OPT_BACKLOG:
		return options_backlog(arg, o, cause);
	case 'l':
		return options_word("--log-level", arg, levels, &o->o_log_level,
		    cause);
	case OPT_LOG_FORMAT:
		return options_word("--log-format", arg, formats,
		    &o->o_log_format, cause);
	}
	return options_flag(ch, arg, o, cause);
}

/*
 * The options, wherever they are; glibc's getopt_long moves the port specs
 * to argv[optind...] in their order. OPTIONS_RUN, or what to do instead.
 */
static int
options_getopt(int argc, char **argv, struct options *o, char **cause)
{
	const char *token;
	int ch, rc;

	optind = 0;	/* glibc: start afresh, so tests may parse many times */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":b:c:t:u:l:f:hV", options_long,
	    NULL)) != -1) {
		token = argv[optind - 1];
		if (ch == '?') {
			/* optopt: a short option's letter, a long one's code */
			if (optopt > 0 && optopt < 128 &&
			    strncmp(token, "--", 2) != 0)
				return cause_set(cause, "unknown option "
				    "\"-%c\"", optopt);
			return cause_set(cause, "%s option \"%s\"",
			    optopt != 0 ? "bad use of" : "unknown", token);
		}
		if (ch == ':')
			return cause_set(cause, "option \"%s\" needs a value",
			    token);
		if ((rc = options_one(ch, optarg, o, cause)) != 0)
			return rc;
	}
	return OPTIONS_RUN;
}

/* The command line's channels, then the file's. */
static int
options_channels(int nspecs, char **specs,
    const struct conf_service *const *services, int default_service,
    struct options *o, char **cause)
{
	struct conf_defaults d;
	int i;

	options_conf_defaults(o, &d);
	for (i = 0; i < nspecs; i++) {
		if (conf_parse_portspec(specs[i], services, default_service,
		    &d, &o->o_channels, cause) == -1)
			return -1;
	}
	o->o_ncmdline = o->o_channels.cf_count;
	if (o->o_config != NULL && conf_load(o->o_config, services, &d,
	    &o->o_channels, cause) == -1)
		return -1;
	if (o->o_channels.cf_count == 0)
		return cause_set(cause, "no channels: give a PORTSPEC or a "
		    "--config file with channels");
	return 0;
}

int
options_parse(int argc, char **argv,
    const struct conf_service *const *services, int default_service,
    struct options *o, char **cause)
{
	int rc;

	*cause = NULL;
	options_defaults(o);
	if ((rc = options_getopt(argc, argv, o, cause)) != OPTIONS_RUN)
		return rc;
	if (optind >= argc && o->o_config == NULL)
		return cause_set(cause, "no PORTSPEC given (try --help)");
	/* Before the channels: a service's check may compare with it. */
	if (netaddr_resolve(o->o_bind, &o->o_addr, &o->o_addrlen, cause) == -1)
		return OPTIONS_ERROR;
	if (options_channels(argc - optind, argv + optind, services,
	    default_service, o, cause) == -1)
		return OPTIONS_ERROR;
	return OPTIONS_RUN;
}

void
options_conf_defaults(const struct options *o, struct conf_defaults *d)
{
	memset(d, 0, sizeof *d);
	d->cd_bind = &o->o_addr;
	d->cd_user = o->o_user;
	d->cd_max_per_ip = o->o_max_per_ip;
	d->cd_idle_timeout = o->o_idle_timeout;
	d->cd_max_line = o->o_max_line;
	d->cd_rate = o->o_rate;
	d->cd_allow = o->o_allow;
	d->cd_deny = o->o_deny;
	d->cd_proxy_from = o->o_proxy_from;
}

/* Mark (or unmark) the command line's ports in seen. */
static void
options_cmdline_ports(const struct options *o, uint8_t *seen, bool mark)
{
	unsigned port;
	size_t i;

	for (i = 0; i < o->o_ncmdline; i++) {
		if ((port = o->o_channels.cf_channels[i].cc_port) == 0)
			continue;
		if (mark)
			seen[port / 8] |= (uint8_t)(1u << (port % 8));
		else
			seen[port / 8] &= (uint8_t)~(1u << (port % 8));
	}
}

int
options_reload(const struct options *o,
    const struct conf_service *const *services, struct conf_list *list,
    char **cause)
{
	struct conf_defaults d;
	struct conf_list *fresh;

	*cause = NULL;
	if (o->o_config == NULL)
		return cause_set(cause, "no --config file to read again");
	if ((fresh = calloc(1, sizeof *fresh)) == NULL)
		return cause_set(cause, "out of memory");
	/* The command line's ports are taken: the file may not list them. */
	options_cmdline_ports(o, fresh->cf_seen, true);
	options_conf_defaults(o, &d);
	if (conf_load(o->o_config, services, &d, fresh, cause) == -1)
		goto fail;
	if (o->o_ncmdline + fresh->cf_count > CONF_MAX_CHANNELS) {
		cause_set(cause, "%s: too many channels (at most %d with the "
		    "command line's %zu)", o->o_config, CONF_MAX_CHANNELS,
		    o->o_ncmdline);
		goto fail;
	}
	options_cmdline_ports(o, fresh->cf_seen, false);
	*list = *fresh;
	free(fresh);
	return 0;
fail:
	conf_list_free(fresh);
	free(fresh);
	return -1;
}

void
options_free(struct options *o)
{
	free(o->o_allow.cl_items);
	free(o->o_deny.cl_items);
	free(o->o_proxy_from.cl_items);
	memset(&o->o_allow, 0, sizeof o->o_allow);
	memset(&o->o_deny, 0, sizeof o->o_deny);
	memset(&o->o_proxy_from, 0, sizeof o->o_proxy_from);
	conf_list_free(&o->o_channels);
	o->o_ncmdline = 0;
}
