/* mpload: a bounded load generator for mpserver and the reference servers. */
#include <sys/resource.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadutil.h"
#include "mpload.h"

#define MPLOAD_MAX_SECONDS	600.0
#define MPLOAD_MAX_CONNS	200000
#define MPLOAD_MAX_SIZE		(16ul << 20)
#define MPLOAD_MAX_COUNT	1000000000ul
#define MPLOAD_BULK_SIZE	(1ul << 20)	/* bulk's default -s */

static const char *const mpload_modes[] = {
	"churn", "echo", "hold", "ports", "bulk"
};
#define MPLOAD_NMODES	(sizeof mpload_modes / sizeof mpload_modes[0])
static const char *const mpload_expects[] = { "ack", "echo", "any", "connect" };
static const unsigned mpload_default_conns[] = { 32, 64, 1000, 16, 4 };

static const struct option mpload_longopts[] = {
	{ "host",	required_argument,	NULL, 'H' },
	{ "ports",	required_argument,	NULL, 'p' },
	{ "duration",	required_argument,	NULL, 'd' },
	{ "connections", required_argument,	NULL, 'c' },
	{ "size",	required_argument,	NULL, 's' },
	{ "timeout",	required_argument,	NULL, 't' },
	{ "count",	required_argument,	NULL, 'n' },
	{ "expect",	required_argument,	NULL, 'e' },
	{ "burst",	required_argument,	NULL, 'b' },
	{ "hold",	required_argument,	NULL, 'k' },
	{ "pause-at",	required_argument,	NULL, 'P' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

static void
mpload_usage(FILE *f)
{
	fprintf(f,
"usage: mpload MODE -p PORTS [options] [-- SERVER COMMAND...]\n"
"modes:\n"
"  churn  C slots: connect, send a line, read the whole reply, close\n"
"  echo   C persistent connections, closed-loop S-byte round trips\n"
"  hold   open C clients over the ports, verify each with one round trip,\n"
"         print \"held N\" and keep them (--hold, --pause-at, SIGUSR1)\n"
"  ports  time until every port answers a probe; with a command after --\n"
"         start that server and time it from fork (-p 0: probe the ports\n"
"         of its \"listening\" lines once it is ready)\n"
"  bulk   C persistent connections, each a closed loop of S-byte round\n"
"         trips of pseudo-random bytes, checked exactly; MB/s\n"
"options:\n"
"  -H, --host ADDR        a loopback address or name (default 127.0.0.1)\n"
"  -p, --ports LIST       7001,7002 or 7001-7004 (required)\n"
"  -d, --duration SEC     churn, echo and bulk run time (default 2)\n"
"  -c, --connections N    slots; hold: clients; ports: probes in flight\n"
"                         (defaults: 32, 64, 1000, 16, bulk 4)\n"
"  -s, --size BYTES       request bytes, the last one a newline (default 32;\n"
"                         bulk: 1048576)\n"
"  -t, --timeout SEC      an operation without reply fails (default 5);\n"
"                         ports: the whole run\n"
"  -n, --count N          at most N operations (default %lu)\n"
"  -e, --expect KIND      churn: ack (\"ACK\\n\", then EOF) or echo;\n"
"                         ports: any (a reply byte) or connect\n"
"  -b, --burst N          hold, echo: connects in flight (default 256)\n"
"      --hold SEC         hold: keep the clients this long (default 0)\n"
"      --pause-at N,...   hold: also stop at N clients; SIGUSR1 goes on\n"
"Output: a summary, then one JSON line. Exit 0 if no operation failed.\n",
	    MPLOAD_MAX_COUNT);
}

static int
mpload_lookup(const char *name, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

static int
mpload_pause_list(struct load_opts *o, const char *s, char **cause)
{
	char *copy, *item, *save = NULL;
	unsigned long v;
	int rc = 0;

	if ((copy = strdup(s)) == NULL)
		return lu_fail(cause, "out of memory");
	o->o_npause = 0;
	for (item = strtok_r(copy, ",", &save); item != NULL && rc == 0;
	    item = strtok_r(NULL, ",", &save)) {
		if (o->o_npause == sizeof o->o_pause / sizeof o->o_pause[0])
			rc = lu_fail(cause, "too many --pause-at counts");
		else if ((rc = lu_parse_ulong(item, 1, MPLOAD_MAX_CONNS, &v,
		    cause)) == 0) {
			if (o->o_npause > 0 && v <= o->o_pause[o->o_npause - 1])
				rc = lu_fail(cause, "--pause-at must rise");
			o->o_pause[o->o_npause++] = v;
		}
	}
	free(copy);
	return rc;
}

/* One option; -1 with *cause on a bad value. */
static int
mpload_option(struct load_opts *o, int ch, const char *arg, char **cause)
{
	unsigned long v;
	int k;

	switch (ch) {
	case 'H':
		o->o_host = arg;
		return 0;
	case 'p':
		free(o->o_ports);
		return lu_parse_ports(arg, &o->o_ports, &o->o_nports, cause);
	case 'd':
		return lu_parse_seconds(arg, 0, MPLOAD_MAX_SECONDS,
		    &o->o_duration, cause);
	case 't':
		return lu_parse_seconds(arg, 0.001, MPLOAD_MAX_SECONDS,
		    &o->o_timeout, cause);
	case 'k':
		return lu_parse_seconds(arg, 0, MPLOAD_MAX_SECONDS, &o->o_hold,
		    cause);
	case 'c':
		if (lu_parse_ulong(arg, 1, MPLOAD_MAX_CONNS, &v, cause) == -1)
			return -1;
		o->o_conns = (unsigned)v;
		return 0;
	case 'b':
		if (lu_parse_ulong(arg, 1, MPLOAD_MAX_CONNS, &v, cause) == -1)
			return -1;
		o->o_burst = (unsigned)v;
		return 0;
	case 's':
		return lu_parse_ulong(arg, 1, MPLOAD_MAX_SIZE, &o->o_size,
		    cause);
	case 'n':
		return lu_parse_ulong(arg, 1, MPLOAD_MAX_COUNT, &o->o_count,
		    cause);
	case 'e':
		if ((k = mpload_lookup(arg, mpload_expects, 4)) == -1)
			return lu_fail(cause, "unknown --expect \"%s\"", arg);
		o->o_expect = (enum load_expect)k;
		return 0;
	case 'P':
		return mpload_pause_list(o, arg, cause);
	}
	return lu_fail(cause, "bad option");
}

/* Defaults that depend on the mode, then the checks across options. */
static int
mpload_check(struct load_opts *o, bool expect_set, bool size_set,
    char **cause)
{
	if (o->o_nports == 0)
		return lu_fail(cause, "no ports: use -p LIST");
	if (o->o_conns == 0)
		o->o_conns = mpload_default_conns[o->o_mode];
	if (!size_set && o->o_mode == MODE_BULK)
		o->o_size = MPLOAD_BULK_SIZE;
	if (!expect_set)
		o->o_expect = o->o_mode == MODE_PORTS ? EXPECT_ANY :
		    o->o_mode == MODE_CHURN ? EXPECT_ACK : EXPECT_ECHO;
	if ((o->o_mode == MODE_ECHO || o->o_mode == MODE_HOLD ||
	    o->o_mode == MODE_BULK) && o->o_expect != EXPECT_ECHO)
		return lu_fail(cause, "%s mode speaks to echo only",
		    mpload_modes[o->o_mode]);
	if (o->o_mode == MODE_CHURN && o->o_expect != EXPECT_ACK &&
	    o->o_expect != EXPECT_ECHO)
		return lu_fail(cause, "churn expects ack or echo");
	if (o->o_mode == MODE_PORTS && o->o_expect != EXPECT_ANY &&
	    o->o_expect != EXPECT_CONNECT)
		return lu_fail(cause, "ports expects any or connect");
	if (o->o_exec != NULL && o->o_mode != MODE_PORTS)
		return lu_fail(cause, "a server command is for ports mode");
	if (o->o_npause > 0 && o->o_pause[o->o_npause - 1] >= o->o_conns)
		return lu_fail(cause, "--pause-at counts must be below -c");
	/* "-p 0" with a server to start: the ports it says it listens on. */
	o->o_announced = o->o_mode == MODE_PORTS && o->o_exec != NULL &&
	    o->o_nports == 1 && o->o_ports[0] == 0;
	for (size_t i = 0; i < o->o_nports; i++) {
		if (o->o_ports[i] == 0 && !o->o_announced)
			return lu_fail(cause, "port 0 cannot be a target");
	}
	return lu_resolve_loopback(o->o_host, &o->o_addr, &o->o_addrlen,
	    cause);
}

static int
mpload_parse(int argc, char **argv, struct load_opts *o, char **cause)
{
	bool expect_set = false, size_set = false;
	int ch, mode;

	memset(o, 0, sizeof *o);
	o->o_host = "127.0.0.1";
	o->o_duration = 2;
	o->o_size = 32;
	o->o_timeout = 5;
	o->o_count = MPLOAD_MAX_COUNT;
	o->o_burst = 256;
	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
		    strcmp(argv[1], "--help") == 0))
			return 1;
		return lu_fail(cause, "no MODE: churn, echo, hold, ports or "
		    "bulk");
	}
	if ((mode = mpload_lookup(argv[1], mpload_modes, MPLOAD_NMODES)) ==
	    -1)
		return lu_fail(cause, "unknown mode \"%s\"", argv[1]);
	o->o_mode = (enum load_mode)mode;
	opterr = 0;
	while ((ch = getopt_long(argc - 1, argv + 1, "+H:p:d:c:s:t:n:e:b:h",
	    mpload_longopts, NULL)) != -1) {
		if (ch == 'h')
			return 1;
		if (ch == '?' || ch == ':')
			return lu_fail(cause, "bad option or missing value: "
			    "\"%s\"", argv[optind]);
		if (mpload_option(o, ch, optarg, cause) == -1)
			return -1;
		expect_set |= ch == 'e';
		size_set |= ch == 's';
	}
	/* getopt saw argv + 1: its optind counts from argv[1]. */
	if (optind < argc - 1) {
		if (strcmp(argv[optind], "--") != 0)
			return lu_fail(cause, "unexpected \"%s\"",
			    argv[optind + 1]);
		o->o_exec = argv + optind + 1;
	}
	return mpload_check(o, expect_set, size_set, cause) == -1 ? -1 : 0;
}

static void
mpload_on_signal(int sig)
{
	if (sig == SIGUSR1)
		load_resume = 1;
	else
		load_stop = 1;
}

static void
mpload_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = mpload_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static double
mpload_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static uint64_t
mpload_errors(const struct result *r)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < ERR_N; i++)
		n += r->r_errors[i];
	return n;
}

static void
mpload_report(const struct load_opts *o, const struct result *r, double cpu)
{
	double rate = r->r_elapsed > 0 ? (double)r->r_count / r->r_elapsed : 0;
	uint64_t p50 = histo_quantile(&r->r_lat, 0.50);
	uint64_t p99 = histo_quantile(&r->r_lat, 0.99);
	char addr[80];
	int i;

	lu_format_addr(&o->o_addr, addr, sizeof addr);
	printf("mpload %s: %s, %zu port(s), %u connections, %zu-byte "
	    "requests, expect %s\n", mpload_modes[o->o_mode], o->o_host,
	    o->o_nports, o->o_conns, o->o_size, mpload_expects[o->o_expect]);
	printf("  %-14s %llu in %.3f s\n", "count", (unsigned long long)
	    r->r_count, r->r_elapsed);
	printf("  %-14s %.1f/s\n", "rate", rate);
	printf("  %-14s p50 %llu  p99 %llu  max %llu\n", "latency_us",
	    (unsigned long long)p50, (unsigned long long)p99,
	    (unsigned long long)r->r_lat.h_max);
	printf("  %-14s %llu", "errors", (unsigned long long)mpload_errors(r));
	for (i = 0; i < ERR_N; i++) {
		if (r->r_errors[i] > 0)
			printf(" %s=%llu", load_error_names[i],
			    (unsigned long long)r->r_errors[i]);
	}
	printf("\n  %-14s %.2f s (%.0f%% of one core)\n%s", "client_cpu", cpu,
	    r->r_elapsed > 0 ? 100 * cpu / r->r_elapsed : 0, r->r_text);
	printf("{\"mode\":\"%s\",\"ports\":%zu,\"conns\":%u,\"size\":%zu,"
	    "\"elapsed_s\":%.3f,\"count\":%llu,\"rate\":%.1f,\"p50_us\":%llu,"
	    "\"p99_us\":%llu,\"max_us\":%llu,\"errors\":%llu,\"errors_by_kind\":{",
	    mpload_modes[o->o_mode], o->o_nports, o->o_conns, o->o_size,
	    r->r_elapsed, (unsigned long long)r->r_count, rate,
	    (unsigned long long)p50, (unsigned long long)p99,
	    (unsigned long long)r->r_lat.h_max,
	    (unsigned long long)mpload_errors(r));
	for (i = 0; i < ERR_N; i++)
		printf("%s\"%s\":%llu", i > 0 ? "," : "", load_error_names[i],
		    (unsigned long long)r->r_errors[i]);
	printf("},\"client_cpu_s\":%.3f%s}\n", cpu, r->r_json);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static int (*const run[])(const struct load_opts *, struct result *) = {
		churn_run, echo_run, hold_run, ports_run, bulk_run,
	};
	static struct result res;
	struct load_opts o;
	char *cause = NULL;
	unsigned long limit;
	int rc;

	if ((rc = mpload_parse(argc, argv, &o, &cause)) != 0) {
		if (rc == 1) {
			mpload_usage(stdout);
			return 0;
		}
		fprintf(stderr, "mpload: %s\n", cause != NULL ? cause :
		    "out of memory");
		free(cause);
		free(o.o_ports);
		return 2;
	}
	limit = lu_raise_nofile(o.o_conns + 64);
	if (limit < o.o_conns + 64) {
		fprintf(stderr, "mpload: %u connections need %u descriptors, "
		    "the limit is %lu\n", o.o_conns, o.o_conns + 64, limit);
		free(o.o_ports);
		return 2;
	}
	mpload_signals();
	if (run[o.o_mode](&o, &res) == -1) {
		perror("mpload");
		free(o.o_ports);
		return 1;
	}
	mpload_report(&o, &res, mpload_cpu_seconds());
	free(o.o_ports);
	return mpload_errors(&res) == 0 && res.r_count > 0 ? 0 : 1;
}
