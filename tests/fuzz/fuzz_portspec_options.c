/*
 * Fuzz the command line: options_parse() on the input split into argv
 * words, and conf_parse_portspec() on the whole input as one PORTSPEC
 * argument.
 *
 * Words end at a NUL or a newline, so a seed reads one word per line; at most
 * FUZZ_MAX_WORDS are used. Words that would set --bind (-b..., --bi...) are
 * dropped: options_parse() resolves the bind address with getaddrinfo(), and
 * the default it is left with, 127.0.0.1, is a literal that never reaches
 * DNS. Words that would set --config (-f..., --co...) are dropped too: a
 * file named by the input could be anything (fuzz_conf reads files).
 * Accepted results are checked against SPEC 1 and 8: ports listed once,
 * services from the table, values inside their documented ranges, each
 * channel with the command line's defaults, "=ARG" where the service needs
 * it; a PORTSPEC that fails adds nothing. The services are the table of
 * tests/unit/conf_services.h, like the server's.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

#include "../unit/conf_services.h"
#include "fuzz.h"

#define FUZZ_MAX_WORDS 32

/* Would this word set --bind or --config? "-b", "--bi", "-fFILE"... */
static bool
fuzz_is_dropped(const char *w)
{
	return w[0] == '-' && (w[1] == 'b' || w[1] == 'f' ||
	    strncmp(w + 1, "-bi", 3) == 0 || strncmp(w + 1, "-co", 3) == 0);
}

/* Cut buf (size bytes, then a NUL) into argv[1...]; returns argc. */
static int
fuzz_split(char *buf, size_t size, char **argv)
{
	size_t i, start = 0;
	int argc = 1;

	argv[0] = "mpserver";
	for (i = 0; i < size && argc <= FUZZ_MAX_WORDS; i++) {
		if (buf[i] != '\0' && buf[i] != '\n')
			continue;
		buf[i] = '\0';
		if (!fuzz_is_dropped(buf + start))
			argv[argc++] = buf + start;
		start = i + 1;
	}
	/* A last word without a terminator; a trailing newline adds none. */
	if (start < size && argc <= FUZZ_MAX_WORDS &&
	    !fuzz_is_dropped(buf + start))
		argv[argc++] = buf + start;
	argv[argc] = NULL;
	return argc;
}

/* A command-line channel: the defaults, and at most its main argument. */
static void
fuzz_check_channel(const struct channel_conf *cc,
    const struct conf_defaults *d)
{
	const struct conf_service *svc;
	struct channel_conf copy;

	FUZZ_CHECK(cc->cc_service >= 0 &&
	    (size_t)cc->cc_service < SVC_COUNT);
	svc = conf_services[cc->cc_service];
	FUZZ_CHECK(cc->cc_keys == 0 || cc->cc_keys == svc->cs_main_key);
	FUZZ_CHECK(cc->cc_origin == NULL);
	FUZZ_CHECK(cc->cc_max_clients == 0 && !cc->cc_own_per_ip);
	FUZZ_CHECK(cc->cc_max_per_ip == d->cd_max_per_ip);
	FUZZ_CHECK(cc->cc_idle_timeout == d->cd_idle_timeout);
	FUZZ_CHECK(cc->cc_max_line == d->cd_max_line);
	FUZZ_CHECK(cc->cc_rate == d->cd_rate);
	FUZZ_CHECK(fuzz_cidrs_equal(&cc->cc_allow, &d->cd_allow));
	FUZZ_CHECK(fuzz_cidrs_equal(&cc->cc_deny, &d->cd_deny));
	FUZZ_CHECK(fuzz_cidrs_equal(&cc->cc_proxy_from, &d->cd_proxy_from));
	FUZZ_CHECK(cc->cc_connect_timeout == CONF_CONNECT_TIMEOUT_DEFAULT);
	FUZZ_CHECK(cc->cc_proxy_protocol == 0 && cc->cc_user == NULL &&
	    cc->cc_env == NULL);
	FUZZ_CHECK((cc->cc_to != NULL) == (cc->cc_service == SVC_FORWARD));
	FUZZ_CHECK(cc->cc_to == NULL || cc->cc_to[0] != '\0');
	FUZZ_CHECK((cc->cc_argv != NULL) == (cc->cc_service == SVC_EXEC));
	FUZZ_CHECK(cc->cc_argv == NULL || (cc->cc_argv[0][0] == '/' &&
	    cc->cc_argv[1] == NULL));
	FUZZ_CHECK(conf_copy(&copy, cc) == 0);
	FUZZ_CHECK(conf_equal(&copy, cc));
	conf_free(&copy);
}

/* Command-line channels: their ports (fuzz_check_seen), then each. */
static void
fuzz_check_ports(const struct conf_list *list, const struct conf_defaults *d)
{
	size_t i;

	fuzz_check_seen(list);
	FUZZ_CHECK(list->cf_count == 0 || list->cf_channels != NULL);
	for (i = 0; i < list->cf_count; i++)
		fuzz_check_channel(&list->cf_channels[i], d);
}

static void
fuzz_portspec(const char *arg)
{
	static struct conf_list list;
	struct conf_defaults d;
	struct sockaddr_in sin;
	struct cidr allow;
	char *cause;
	int rc;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&d, 0, sizeof d);
	d.cd_bind = (struct sockaddr_storage *)(void *)&sin;
	d.cd_max_per_ip = 2;
	d.cd_idle_timeout = 30;
	d.cd_max_line = 100;
	d.cd_rate = 5;
	if (cidr_parse("10.0.0.0/8", &allow, &cause) == -1)
		abort();
	d.cd_allow.cl_items = &allow;
	d.cd_allow.cl_count = 1;
	rc = conf_parse_portspec(arg, conf_services, 0, &d, &list, &cause);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK((rc == -1) == (cause != NULL));
	FUZZ_CHECK(rc == 0 ? list.cf_count > 0 : list.cf_count == 0);
	fuzz_check_ports(&list, &d);
	free(cause);
	conf_list_free(&list);
}

/* What OPTIONS_RUN promises: every value within its documented range. */
static void
fuzz_check_run(const struct options *o, int argc)
{
	struct conf_defaults d;

	options_conf_defaults(o, &d);
	FUZZ_CHECK(o->o_channels.cf_count > 0);
	FUZZ_CHECK(o->o_ncmdline == o->o_channels.cf_count);
	FUZZ_CHECK(o->o_config == NULL);
	fuzz_check_ports(&o->o_channels, &d);
	FUZZ_CHECK(strcmp(o->o_bind, "127.0.0.1") == 0);
	FUZZ_CHECK(o->o_addr.ss_family == AF_INET);
	FUZZ_CHECK(o->o_max_clients >= 1 && o->o_max_clients <= 1000000);
	FUZZ_CHECK(o->o_max_per_ip <= 1000000);
	FUZZ_CHECK(o->o_idle_timeout <= 86400 * 7);
	FUZZ_CHECK(o->o_max_line >= 1 && o->o_max_line <= 1 << 20);
	FUZZ_CHECK(o->o_shutdown_grace <= 3600);
	FUZZ_CHECK(o->o_rate <= 1000000);
	FUZZ_CHECK(o->o_backlog >= 1);
	FUZZ_CHECK(o->o_log_level >= 0 && o->o_log_level <= 3);
	FUZZ_CHECK(o->o_log_format == 0 || o->o_log_format == 1);
	FUZZ_CHECK(o->o_allow.cl_count + o->o_deny.cl_count +
	    o->o_proxy_from.cl_count <= (size_t)argc);
}

static void
fuzz_options(int argc, char **argv)
{
	struct options o;
	char *cause;
	int rc;

	rc = options_parse(argc, argv, conf_services, 0, &o, &cause);
	FUZZ_CHECK(rc >= OPTIONS_ERROR && rc <= OPTIONS_VERSION);
	FUZZ_CHECK((rc == OPTIONS_ERROR) == (cause != NULL));
	if (rc == OPTIONS_RUN)
		fuzz_check_run(&o, argc);
	free(cause);
	options_free(&o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[FUZZ_MAX_WORDS + 2], *arg, *words;
	int saved_optind = optind, saved_opterr = opterr;
	int saved_optopt = optopt;
	char *saved_optarg = optarg;

	arg = fuzz_cstring(data, size);
	fuzz_portspec(arg);
	free(arg);

	words = fuzz_cstring(data, size);
	fuzz_options(fuzz_split(words, size, argv), argv);
	free(words);

	/* getopt's globals as they were: optarg pointed into words. */
	optind = saved_optind;
	opterr = saved_opterr;
	optopt = saved_optopt;
	optarg = saved_optarg;
	return 0;
}
