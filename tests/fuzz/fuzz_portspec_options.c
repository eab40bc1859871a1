/*
 * Fuzz the command line: options_parse() on the input split into argv
 * words, and portspec_parse() on the whole input as one PORTSPEC argument.
 *
 * Words end at a NUL or a newline, so a seed reads one word per line; at most
 * FUZZ_MAX_WORDS are used. Words that would set --bind (-b..., --bi...) are
 * dropped: options_parse() resolves the bind address with getaddrinfo(), and
 * the default it is left with, 127.0.0.1, is a literal that never reaches
 * DNS. Accepted results are checked against SPEC 1: ports listed once,
 * services from the table, values inside their documented ranges.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "portspec.h"
#include "service.h"

#include "fuzz.h"

#define FUZZ_MAX_WORDS 32

/* Would this word set --bind? "-b", "-bADDR", "--bi", "--bind=ADDR"... */
static bool
fuzz_is_bind(const char *w)
{
	return w[0] == '-' && (w[1] == 'b' || strncmp(w + 1, "-bi", 3) == 0);
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
		if (!fuzz_is_bind(buf + start))
			argv[argc++] = buf + start;
		start = i + 1;
	}
	/* A last word without a terminator; a trailing newline adds none. */
	if (start < size && argc <= FUZZ_MAX_WORDS && !fuzz_is_bind(buf + start))
		argv[argc++] = buf + start;
	argv[argc] = NULL;
	return argc;
}

static size_t
fuzz_nservices(void)
{
	size_t n = 0;

	while (service_names[n] != NULL)
		n++;
	return n;
}

/* A port list, complete or cut short by an error, is still well formed. */
static void
fuzz_check_ports(const struct portlist *pl)
{
	uint8_t seen[65536 / 8];
	size_t i, nservices = fuzz_nservices();
	unsigned port;

	FUZZ_CHECK(pl->pl_count <= PORTSPEC_MAX_CHANNELS);
	FUZZ_CHECK(pl->pl_count == 0 || pl->pl_items != NULL);
	memset(seen, 0, sizeof seen);
	for (i = 0; i < pl->pl_count; i++) {
		port = pl->pl_items[i].ps_port;
		FUZZ_CHECK(pl->pl_items[i].ps_service >= 0);
		FUZZ_CHECK((size_t)pl->pl_items[i].ps_service < nservices);
		if (port == 0)
			continue;
		FUZZ_CHECK(!(seen[port / 8] & (1u << (port % 8))));
		FUZZ_CHECK(pl->pl_seen[port / 8] & (1u << (port % 8)));
		seen[port / 8] |= 1u << (port % 8);
	}
}

static void
fuzz_portspec(const char *arg)
{
	struct portlist pl;
	char *cause;
	int rc;

	memset(&pl, 0, sizeof pl);
	rc = portspec_parse(arg, service_names, SERVICE_DEFAULT, &pl, &cause);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK((rc == -1) == (cause != NULL));
	FUZZ_CHECK(rc == -1 || pl.pl_count > 0);
	fuzz_check_ports(&pl);
	free(cause);
	portlist_free(&pl);
}

/* What OPTIONS_RUN promises: every value within its documented range. */
static void
fuzz_check_run(const struct options *o, int argc)
{
	FUZZ_CHECK(o->o_ports.pl_count > 0);
	fuzz_check_ports(&o->o_ports);
	FUZZ_CHECK(strcmp(o->o_bind, "127.0.0.1") == 0);
	FUZZ_CHECK(o->o_addr.ss_family == AF_INET);
	FUZZ_CHECK(o->o_max_clients >= 1 && o->o_max_clients <= 1000000);
	FUZZ_CHECK(o->o_max_per_ip <= 1000000);
	FUZZ_CHECK(o->o_idle_timeout <= 86400 * 7);
	FUZZ_CHECK(o->o_max_line >= 1 && o->o_max_line <= 1 << 20);
	FUZZ_CHECK(o->o_shutdown_grace <= 3600);
	FUZZ_CHECK(o->o_backlog >= 1 && o->o_backlog <= 65535);
	FUZZ_CHECK(o->o_log_level >= 0 && o->o_log_level <= 3);
	FUZZ_CHECK(o->o_log_format == 0 || o->o_log_format == 1);
	FUZZ_CHECK(o->o_nallow + o->o_ndeny <= (size_t)argc);
}

static void
fuzz_options(int argc, char **argv)
{
	struct options o;
	char *cause;
	int rc;

	rc = options_parse(argc, argv, service_names, SERVICE_DEFAULT, &o,
	    &cause);
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
