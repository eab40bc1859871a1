/*
 * options_parse: the defaults of SPEC 1, long and short forms, --opt=value,
 * options after port specs (their values still reach every channel),
 * --help and --version, --bind resolution, --rate, --proxy-from, --backlog
 * from the kernel's somaxconn, --config files after the command line's
 * channels (order, ports listed twice, errors), --check-config,
 * options_reload and options_usage, and every usage error of SPEC 1, 7 and
 * 8 with a cause quoting the offending token. The services are
 * conf_services.h's table.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "conf_services.h"
#include "log.h"
#include "options.h"

#define ARGS_MAX 48

static char		*args[ARGS_MAX + 1];
static int		 nargs;
static struct options	 opts;
static char		*cause;
static char		 conf_path[64];	/* a temporary --config file */

static void
reset(void)
{
	int i;

	options_free(&opts);
	memset(&opts, 0, sizeof opts);
	free(cause);
	cause = NULL;
	for (i = 0; i < nargs; i++)
		free(args[i]);
	memset(args, 0, sizeof args);
	nargs = 0;
}

static void
setup(void)
{
	memset(&opts, 0, sizeof opts);
	cause = NULL;
	nargs = 0;
}

static void
teardown(void)
{
	reset();
	if (conf_path[0] != '\0')
		unlink(conf_path);
	conf_path[0] = '\0';
}

/* (Re)write the temporary config file; its path. */
static const char *
conf_write(const char *text)
{
	FILE *f;
	int fd;

	if (conf_path[0] == '\0') {
		snprintf(conf_path, sizeof conf_path,
		    "/tmp/check_options.XXXXXX");
		ck_assert_int_ne(fd = mkstemp(conf_path), -1);
		close(fd);
	}
	ck_assert_ptr_nonnull(f = fopen(conf_path, "w"));
	ck_assert_int_ne(fputs(text, f), EOF);
	ck_assert_int_eq(fclose(f), 0);
	return conf_path;
}

/* An OPTIONS_ERROR with exactly this cause; each "%s" is the config file. */
static void
expect_cause(int rc, const char *fmt)
{
	char want[512];
	const char *s;
	size_t len = 0;

	for (s = fmt; *s != '\0' && len < sizeof want - 64; s++) {
		if (strncmp(s, "%s", 2) == 0) {
			memcpy(want + len, conf_path, strlen(conf_path));
			len += strlen(conf_path);
			s++;
		} else
			want[len++] = *s;
	}
	want[len] = '\0';
	ck_assert_int_eq(rc, OPTIONS_ERROR);
	ck_assert_msg(cause != NULL && strcmp(cause, want) == 0,
	    "cause \"%s\", want \"%s\"", cause, want);
}

/* Parse "mpserver" then the arguments up to NULL, in writable copies. */
static int __attribute__((sentinel))
parse(const char *arg, ...)
{
	va_list ap;

	reset();
	args[nargs++] = strdup("mpserver");
	va_start(ap, arg);
	for (; arg != NULL; arg = va_arg(ap, const char *)) {
		ck_assert_int_lt(nargs, ARGS_MAX);
		args[nargs++] = strdup(arg);
	}
	va_end(ap);
	args[nargs] = NULL;
	return options_parse(nargs, args, conf_services, SVC_ACK, &opts,
	    &cause);
}

#define PARSE(...) parse(__VA_ARGS__, (const char *)NULL)

static void
expect_run(int rc)
{
	ck_assert_msg(rc == OPTIONS_RUN, "rc %d, cause %s", rc,
	    cause ? cause : "(null)");
}

/* An OPTIONS_ERROR whose cause holds token. */
static void
expect_error(int rc, const char *token)
{
	ck_assert_int_eq(rc, OPTIONS_ERROR);
	ck_assert_msg(cause != NULL, "no cause (want one quoting %s)", token);
	ck_assert_msg(strstr(cause, token) != NULL,
	    "cause \"%s\" does not quote %s", cause, token);
}

static const struct channel_conf *
channel(size_t i)
{
	ck_assert_uint_lt(i, opts.o_channels.cf_count);
	return &opts.o_channels.cf_channels[i];
}

static void
expect_channel(size_t i, unsigned port, int service)
{
	ck_assert_uint_eq(channel(i)->cc_port, port);
	ck_assert_int_eq(channel(i)->cc_service, service);
}

/* What --backlog defaults to: the kernel's somaxconn, else 4096. */
static int
somaxconn(void)
{
	FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
	int v = 4096;

	if (f != NULL) {
		if (fscanf(f, "%d", &v) != 1)
			v = 4096;
		fclose(f);
	}
	return v;
}

static void
expect_ipv4(const char *addr)
{
	const struct sockaddr_in *sin =
	    (const struct sockaddr_in *)&opts.o_addr;
	struct in_addr want;

	ck_assert_int_eq(inet_pton(AF_INET, addr, &want), 1);
	ck_assert_int_eq(opts.o_addr.ss_family, AF_INET);
	ck_assert_uint_eq(opts.o_addrlen, sizeof(struct sockaddr_in));
	ck_assert_mem_eq(&sin->sin_addr, &want, sizeof want);
	ck_assert_uint_eq(ntohs(sin->sin_port), 0);
}

static void
expect_ipv6(const char *addr)
{
	const struct sockaddr_in6 *sin6 =
	    (const struct sockaddr_in6 *)&opts.o_addr;
	struct in6_addr want;

	ck_assert_int_eq(inet_pton(AF_INET6, addr, &want), 1);
	ck_assert_int_eq(opts.o_addr.ss_family, AF_INET6);
	ck_assert_uint_eq(opts.o_addrlen, sizeof(struct sockaddr_in6));
	ck_assert_mem_eq(&sin6->sin6_addr, &want, sizeof want);
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 0);
}

static void
expect_default_values(const struct options *o)
{
	ck_assert_str_eq(o->o_bind, "127.0.0.1");
	ck_assert_uint_eq(o->o_max_clients, 4096);
	ck_assert_uint_eq(o->o_max_per_ip, 0);
	ck_assert_uint_eq(o->o_allow.cl_count, 0);
	ck_assert_uint_eq(o->o_deny.cl_count, 0);
	ck_assert_uint_eq(o->o_proxy_from.cl_count, 0);
	ck_assert_uint_eq(o->o_rate, 0);
	ck_assert_uint_eq(o->o_idle_timeout, 300);
	ck_assert_uint_eq(o->o_max_line, 4096);
	ck_assert_uint_eq(o->o_shutdown_grace, 5);
	ck_assert_int_eq(o->o_backlog, somaxconn());
	ck_assert(!o->o_reuseport);
	ck_assert_ptr_null(o->o_user);
	ck_assert_int_eq(o->o_log_level, LOG_INFO);
	ck_assert_int_eq(o->o_log_format, LOG_FORMAT_TEXT);
	ck_assert_ptr_null(o->o_config);
	ck_assert(!o->o_check_config);
}

START_TEST(test_options_defaults)
{
	struct options o;

	memset(&o, 0xa5, sizeof o);
	options_defaults(&o);
	expect_default_values(&o);
	ck_assert_uint_eq(o.o_channels.cf_count, 0);
	ck_assert_uint_eq(o.o_ncmdline, 0);
}
END_TEST

START_TEST(test_options_defaults_parsed)
{
	expect_run(PARSE("7001"));
	expect_default_values(&opts);
	expect_ipv4("127.0.0.1");
	ck_assert_uint_eq(opts.o_channels.cf_count, 1);
	ck_assert_uint_eq(opts.o_ncmdline, 1);
	expect_channel(0, 7001, SVC_ACK);
	ck_assert_ptr_null(opts.o_channels.cf_channels[0].cc_origin);
}
END_TEST

START_TEST(test_options_long)
{
	expect_run(PARSE("--bind", "0.0.0.0", "--max-clients", "10",
	    "--max-per-ip", "3", "--allow", "10.0.0.0/8", "--allow", "::1",
	    "--deny", "10.0.0.5", "--idle-timeout", "60", "--max-line", "100",
	    "--shutdown-grace", "2", "--backlog", "16", "--reuseport",
	    "--user", "nobody", "--log-level", "debug", "--log-format", "json",
	    "--rate", "20", "--proxy-from", "::1", "--proxy-from",
	    "192.0.2.0/24", "--config", "/dev/null", "--check-config", "7001"));
	ck_assert_str_eq(opts.o_bind, "0.0.0.0");
	expect_ipv4("0.0.0.0");
	ck_assert_uint_eq(opts.o_max_clients, 10);
	ck_assert_uint_eq(opts.o_max_per_ip, 3);
	ck_assert_uint_eq(opts.o_allow.cl_count, 2);
	ck_assert_int_eq(opts.o_allow.cl_items[0].c_family, AF_INET);
	ck_assert_int_eq(opts.o_allow.cl_items[0].c_bits, 8);
	ck_assert_int_eq(opts.o_allow.cl_items[1].c_family, AF_INET6);
	ck_assert_int_eq(opts.o_allow.cl_items[1].c_bits, 128);
	ck_assert_uint_eq(opts.o_deny.cl_count, 1);
	ck_assert_int_eq(opts.o_deny.cl_items[0].c_bits, 32);
	ck_assert_uint_eq(opts.o_proxy_from.cl_count, 2);
	ck_assert_int_eq(opts.o_proxy_from.cl_items[1].c_bits, 24);
	ck_assert_uint_eq(opts.o_rate, 20);
	ck_assert_str_eq(opts.o_config, "/dev/null");
	ck_assert(opts.o_check_config);
	ck_assert_uint_eq(opts.o_idle_timeout, 60);
	ck_assert_uint_eq(opts.o_max_line, 100);
	ck_assert_uint_eq(opts.o_shutdown_grace, 2);
	ck_assert_int_eq(opts.o_backlog, 16);
	ck_assert(opts.o_reuseport);
	ck_assert_str_eq(opts.o_user, "nobody");
	ck_assert_int_eq(opts.o_log_level, LOG_DEBUG);
	ck_assert_int_eq(opts.o_log_format, LOG_FORMAT_JSON);
	ck_assert_uint_eq(opts.o_channels.cf_count, 1);
}
END_TEST

START_TEST(test_options_short)
{
	expect_run(PARSE("-b", "::1", "-c", "7", "-t", "9", "-u", "daemon",
	    "-l", "warn", "7001"));
	expect_ipv6("::1");
	ck_assert_uint_eq(opts.o_max_clients, 7);
	ck_assert_uint_eq(opts.o_idle_timeout, 9);
	ck_assert_str_eq(opts.o_user, "daemon");
	ck_assert_int_eq(opts.o_log_level, LOG_WARN);
}
END_TEST

START_TEST(test_options_short_attached)
{
	expect_run(PARSE("-c7", "-lerror", "7001"));
	ck_assert_uint_eq(opts.o_max_clients, 7);
	ck_assert_int_eq(opts.o_log_level, LOG_ERROR);
}
END_TEST

START_TEST(test_options_equals)
{
	expect_run(PARSE("--max-clients=12", "--log-level=debug",
	    "--bind=::1", "--allow=192.0.2.0/24", "--log-format=json",
	    "--max-line=8", "7001"));
	ck_assert_uint_eq(opts.o_max_clients, 12);
	ck_assert_int_eq(opts.o_log_level, LOG_DEBUG);
	ck_assert_int_eq(opts.o_log_format, LOG_FORMAT_JSON);
	ck_assert_uint_eq(opts.o_max_line, 8);
	ck_assert_uint_eq(opts.o_allow.cl_count, 1);
	expect_ipv6("::1");
}
END_TEST

START_TEST(test_options_after_portspec)
{
	expect_run(PARSE("7001", "--max-clients", "5", "7002:echo", "-l",
	    "debug", "7003:cmd", "--reuseport"));
	ck_assert_uint_eq(opts.o_max_clients, 5);
	ck_assert_int_eq(opts.o_log_level, LOG_DEBUG);
	ck_assert(opts.o_reuseport);
	ck_assert_uint_eq(opts.o_channels.cf_count, 3);
	expect_channel(0, 7001, SVC_ACK);
	expect_channel(1, 7002, SVC_ECHO);
	expect_channel(2, 7003, SVC_CMD);
}
END_TEST

START_TEST(test_options_help)
{
	ck_assert_int_eq(PARSE("--help"), OPTIONS_HELP);
	ck_assert_int_eq(PARSE("-h"), OPTIONS_HELP);
	ck_assert_int_eq(PARSE("7001", "--help"), OPTIONS_HELP);
}
END_TEST

START_TEST(test_options_version)
{
	ck_assert_int_eq(PARSE("--version"), OPTIONS_VERSION);
	ck_assert_int_eq(PARSE("-V"), OPTIONS_VERSION);
	ck_assert_int_eq(PARSE("7001", "-V"), OPTIONS_VERSION);
}
END_TEST

START_TEST(test_options_zero_allowed)
{
	expect_run(PARSE("--idle-timeout", "0", "--shutdown-grace", "0",
	    "--max-per-ip", "0", "7001"));
	ck_assert_uint_eq(opts.o_idle_timeout, 0);
	ck_assert_uint_eq(opts.o_shutdown_grace, 0);
	ck_assert_uint_eq(opts.o_max_per_ip, 0);
}
END_TEST

START_TEST(test_options_bind_ipv6_any)
{
	expect_run(PARSE("--bind", "::", "7001"));
	expect_ipv6("::");
}
END_TEST

START_TEST(test_options_bind_name)
{
	struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT;

	expect_run(PARSE("--bind", "localhost", "7001"));
	ck_assert_str_eq(opts.o_bind, "localhost");
	if (opts.o_addr.ss_family == AF_INET)
		expect_ipv4("127.0.0.1");
	else {
		ck_assert_int_eq(opts.o_addr.ss_family, AF_INET6);
		ck_assert_mem_eq(
		    &((struct sockaddr_in6 *)&opts.o_addr)->sin6_addr, &lo6,
		    sizeof lo6);
	}
}
END_TEST

/* getopt state is reset: a parse after a failed or cut-short one is whole. */
START_TEST(test_options_many_parses)
{
	ck_assert_int_eq(PARSE("-hV"), OPTIONS_HELP);
	ck_assert_int_eq(PARSE("--max-clients", "0", "7001"), OPTIONS_ERROR);
	expect_run(PARSE("-c", "3", "7001"));
	ck_assert_uint_eq(opts.o_max_clients, 3);
	expect_run(PARSE("7002"));
	ck_assert_uint_eq(opts.o_max_clients, 4096);
	ck_assert_uint_eq(opts.o_channels.cf_count, 1);
	expect_channel(0, 7002, SVC_ACK);
}
END_TEST

/* Options after the port specs still reach every channel. */
START_TEST(test_options_channel_defaults)
{
	const struct channel_conf *cc;

	expect_run(PARSE("7001", "--max-line", "100", "--idle-timeout", "0",
	    "--rate", "3", "--max-per-ip", "2", "--allow", "10.0.0.0/8",
	    "--deny", "10.0.0.5", "--proxy-from", "::1", "7002:echo"));
	ck_assert_uint_eq(opts.o_channels.cf_count, 2);
	cc = channel(1);
	ck_assert_uint_eq(cc->cc_max_line, 100);
	ck_assert_uint_eq(cc->cc_idle_timeout, 0);
	ck_assert_uint_eq(cc->cc_rate, 3);
	ck_assert_uint_eq(cc->cc_max_per_ip, 2);
	ck_assert(!cc->cc_own_per_ip);
	ck_assert_uint_eq(cc->cc_max_clients, 0);
	ck_assert_uint_eq(cc->cc_allow.cl_count, 1);
	ck_assert_int_eq(cc->cc_allow.cl_items[0].c_bits, 8);
	ck_assert_uint_eq(cc->cc_deny.cl_count, 1);
	ck_assert_uint_eq(cc->cc_proxy_from.cl_count, 1);
	ck_assert_ptr_ne(cc->cc_allow.cl_items, opts.o_allow.cl_items);
	ck_assert_uint_eq(channel(0)->cc_rate, 3);
}
END_TEST

START_TEST(test_options_main_arg)
{
	expect_run(PARSE("8080:forward=127.0.0.1:80", "7010:exec=/bin/cat"));
	expect_channel(0, 8080, SVC_FORWARD);
	ck_assert_str_eq(channel(0)->cc_to, "127.0.0.1:80");
	expect_channel(1, 7010, SVC_EXEC);
	ck_assert_str_eq(channel(1)->cc_argv[0], "/bin/cat");
	ck_assert_ptr_null(channel(1)->cc_argv[1]);
}
END_TEST

START_TEST(test_options_new_bounds)
{
	expect_run(PARSE("--rate", "0", "--backlog", "1", "7001"));
	ck_assert_uint_eq(opts.o_rate, 0);
	ck_assert_int_eq(opts.o_backlog, 1);
	expect_run(PARSE("--rate=1000000", "--backlog=65535", "7001"));
	ck_assert_uint_eq(opts.o_rate, 1000000);
	ck_assert_int_eq(opts.o_backlog, 65535);
	ck_assert_uint_eq(channel(0)->cc_rate, 1000000);
}
END_TEST

/* The command line's channels first, then the file's, in file order. */
START_TEST(test_options_config)
{
	char origin[128];

	conf_write("# channels\n7002 echo\n7003-7004 cmd rate=5\n");
	expect_run(PARSE("-f", conf_path, "7001", "--rate", "9"));
	ck_assert_str_eq(opts.o_config, conf_path);
	ck_assert_uint_eq(opts.o_ncmdline, 1);
	ck_assert_uint_eq(opts.o_channels.cf_count, 4);
	expect_channel(0, 7001, SVC_ACK);
	expect_channel(1, 7002, SVC_ECHO);
	expect_channel(2, 7003, SVC_CMD);
	expect_channel(3, 7004, SVC_CMD);
	ck_assert_ptr_null(channel(0)->cc_origin);
	snprintf(origin, sizeof origin, "%s:2", conf_path);
	ck_assert_str_eq(channel(1)->cc_origin, origin);
	ck_assert_uint_eq(channel(1)->cc_rate, 9);
	ck_assert_uint_eq(channel(3)->cc_rate, 5);
	ck_assert(!opts.o_check_config);
}
END_TEST

START_TEST(test_options_config_only)
{
	char arg[96];

	conf_write("7002 echo\n");
	expect_run(PARSE("--config", conf_path));
	ck_assert_uint_eq(opts.o_ncmdline, 0);
	ck_assert_uint_eq(opts.o_channels.cf_count, 1);
	expect_channel(0, 7002, SVC_ECHO);
	snprintf(arg, sizeof arg, "--config=%s", conf_path);
	expect_run(PARSE(arg, "--check-config"));
	ck_assert(opts.o_check_config);
	ck_assert_uint_eq(opts.o_channels.cf_count, 1);
	snprintf(arg, sizeof arg, "-f%s", conf_path);
	expect_run(PARSE("7001", arg));
	ck_assert_uint_eq(opts.o_ncmdline, 1);
	ck_assert_uint_eq(opts.o_channels.cf_count, 2);
}
END_TEST

START_TEST(test_options_conf_defaults)
{
	struct conf_defaults d;

	expect_run(PARSE("--max-per-ip", "4", "-t", "8", "--max-line", "9",
	    "--rate", "10", "--allow", "::1", "-u", "nobody", "7001"));
	options_conf_defaults(&opts, &d);
	ck_assert_ptr_eq(d.cd_bind, &opts.o_addr);
	ck_assert_str_eq(d.cd_user, "nobody");
	ck_assert_uint_eq(d.cd_max_per_ip, 4);
	ck_assert_uint_eq(d.cd_idle_timeout, 8);
	ck_assert_uint_eq(d.cd_max_line, 9);
	ck_assert_uint_eq(d.cd_rate, 10);
	ck_assert_ptr_eq(d.cd_allow.cl_items, opts.o_allow.cl_items);
	ck_assert_uint_eq(d.cd_allow.cl_count, 1);
	ck_assert_uint_eq(d.cd_deny.cl_count, 0);
	ck_assert_uint_eq(d.cd_proxy_from.cl_count, 0);
}
END_TEST

/* A reload reads the file again; the command line's channels stay. */
START_TEST(test_options_reload)
{
	struct conf_list *fresh = calloc(1, sizeof *fresh);

	conf_write("7001 echo\n");
	expect_run(PARSE("-f", conf_path, "7000", "--idle-timeout", "7"));
	conf_write("7002 cmd\n7001 ack max-clients=3\n");
	ck_assert_msg(options_reload(&opts, conf_services, fresh, &cause) == 0,
	    "%s", cause);
	ck_assert_ptr_null(cause);
	ck_assert_uint_eq(fresh->cf_count, 2);
	ck_assert_uint_eq(fresh->cf_channels[0].cc_port, 7002);
	ck_assert_int_eq(fresh->cf_channels[0].cc_service, SVC_CMD);
	ck_assert_uint_eq(fresh->cf_channels[0].cc_idle_timeout, 7);
	ck_assert_uint_eq(fresh->cf_channels[1].cc_port, 7001);
	ck_assert_uint_eq(fresh->cf_channels[1].cc_max_clients, 3);
	/* cf_seen holds the file's ports only. */
	ck_assert(fresh->cf_seen[7002 / 8] & (1u << (7002 % 8)));
	ck_assert(fresh->cf_seen[7001 / 8] & (1u << (7001 % 8)));
	ck_assert(!(fresh->cf_seen[7000 / 8] & (1u << (7000 % 8))));
	/* The running options are as they were. */
	ck_assert_uint_eq(opts.o_channels.cf_count, 2);
	expect_channel(1, 7001, SVC_ECHO);
	conf_list_free(fresh);
	conf_write("");
	ck_assert_int_eq(options_reload(&opts, conf_services, fresh,
	    &cause), 0);
	ck_assert_uint_eq(fresh->cf_count, 0);
	conf_list_free(fresh);
	free(fresh);
}
END_TEST

START_TEST(test_options_usage)
{
	static const char *const want[] = { "--bind", "--max-clients",
	    "--max-per-ip", "--allow", "--deny", "--idle-timeout",
	    "--max-line", "--rate", "--proxy-from", "--shutdown-grace",
	    "--backlog", "--reuseport", "--user", "--config",
	    "--check-config", "--log-level", "--log-format", "--help",
	    "--version", "-f, --config", "PORTSPEC", "=ARG" };
	char *text = NULL;
	size_t len, i;
	FILE *f;

	ck_assert_ptr_nonnull(f = open_memstream(&text, &len));
	options_usage(f, conf_services);
	fclose(f);
	for (i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_msg(strstr(text, want[i]) != NULL, "no %s", want[i]);
	ck_assert_ptr_nonnull(strstr(text, "\nservices: ack echo discard "
	    "chargen daytime time cmd metrics exec forward (default: ack)\n"));
	free(text);
}
END_TEST

START_TEST(test_options_unknown_long)
{
	expect_error(PARSE("--bogus", "7001"), "\"--bogus\"");
}
END_TEST

START_TEST(test_options_unknown_short)
{
	expect_error(PARSE("-x", "7001"), "\"-x\"");
}
END_TEST

START_TEST(test_options_unknown_after_portspec)
{
	expect_error(PARSE("7001", "--bogus"), "\"--bogus\"");
}
END_TEST

/* --reuseport takes no value: "--reuseport=1" is an error naming it. */
START_TEST(test_options_flag_with_value)
{
	expect_error(PARSE("--reuseport=1", "7001"), "--reuseport");
}
END_TEST

START_TEST(test_options_missing_value_long)
{
	expect_error(PARSE("7001", "--max-clients"), "\"--max-clients\"");
}
END_TEST

START_TEST(test_options_missing_value_short)
{
	expect_error(PARSE("7001", "-c"), "\"-c\"");
}
END_TEST

START_TEST(test_options_max_clients_zero)
{
	expect_error(PARSE("--max-clients", "0", "7001"), "\"0\"");
	ck_assert_ptr_nonnull(strstr(cause, "--max-clients"));
}
END_TEST

START_TEST(test_options_max_line_zero)
{
	expect_error(PARSE("--max-line", "0", "7001"), "\"0\"");
	ck_assert_ptr_nonnull(strstr(cause, "--max-line"));
}
END_TEST

START_TEST(test_options_max_clients_abc)
{
	expect_error(PARSE("--max-clients", "abc", "7001"), "\"abc\"");
}
END_TEST

START_TEST(test_options_bad_numbers)
{
	expect_error(PARSE("-c", "-1", "7001"), "\"-1\"");
	expect_error(PARSE("--max-clients=", "7001"), "\"\"");
	expect_error(PARSE("--idle-timeout", "5s", "7001"), "\"5s\"");
	expect_error(PARSE("--max-per-ip", "x", "7001"), "\"x\"");
	expect_error(PARSE("--shutdown-grace", "-1", "7001"), "\"-1\"");
	expect_error(PARSE("--backlog", "lots", "7001"), "\"lots\"");
	expect_error(PARSE("--max-line", "99999999999999999999", "7001"),
	    "\"99999999999999999999\"");
}
END_TEST

START_TEST(test_options_log_level_bad)
{
	expect_error(PARSE("--log-level", "loud", "7001"), "\"loud\"");
}
END_TEST

START_TEST(test_options_log_format_bad)
{
	expect_error(PARSE("--log-format", "xml", "7001"), "\"xml\"");
}
END_TEST

START_TEST(test_options_allow_bad)
{
	expect_error(PARSE("--allow", "10.0.0.0/33", "7001"), "10.0.0.0/33");
	expect_error(PARSE("--allow", "bogus", "7001"), "bogus");
	expect_error(PARSE("--deny", "1.2.3.4/", "7001"), "1.2.3.4/");
}
END_TEST

START_TEST(test_options_no_portspec)
{
	ck_assert_int_eq(PARSE("--max-clients", "5"), OPTIONS_ERROR);
	ck_assert_ptr_nonnull(cause);
	/* argv holds "mpserver" alone (the sentinel needs a second NULL). */
	ck_assert_int_eq(parse((const char *)NULL, (const char *)NULL),
	    OPTIONS_ERROR);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, "PORTSPEC"));
}
END_TEST

START_TEST(test_options_bad_portspec)
{
	expect_error(PARSE("7001", "7001:echo"), "7001");
	expect_error(PARSE("-c", "5", "123BOGUS"), "\"123BOGUS\"");
}
END_TEST

START_TEST(test_options_bind_unresolvable)
{
	expect_error(PARSE("--bind", "no-such-host.invalid", "7001"),
	    "\"no-such-host.invalid\"");
}
END_TEST

START_TEST(test_options_new_bad)
{
	expect_error(PARSE("--rate", "1000001", "7001"), "\"1000001\"");
	ck_assert_ptr_nonnull(strstr(cause, "--rate"));
	expect_error(PARSE("--rate", "-1", "7001"), "\"-1\"");
	expect_error(PARSE("--rate=x", "7001"), "\"x\"");
	expect_error(PARSE("--backlog", "0", "7001"), "\"0\"");
	ck_assert_ptr_nonnull(strstr(cause, "--backlog"));
	expect_error(PARSE("--backlog", "65536", "7001"), "\"65536\"");
	expect_error(PARSE("--proxy-from", "10.0.0.0/33", "7001"),
	    "\"10.0.0.0/33\"");
	expect_error(PARSE("7001", "-f"), "\"-f\"");
	expect_error(PARSE("7001", "--config"), "\"--config\"");
	expect_error(PARSE("--check-config=1", "7001"), "--check-config");
}
END_TEST

START_TEST(test_options_config_unreadable)
{
	expect_cause(PARSE("-f", "/nonexistent/x.conf", "7001"),
	    "cannot read /nonexistent/x.conf: No such file or directory");
	expect_cause(PARSE("--config", "/", "7001"),
	    "cannot read /: Is a directory");
}
END_TEST

START_TEST(test_options_config_bad_line)
{
	conf_write("7002 echo\n7003 echo bogus=1\n");
	expect_cause(PARSE("-f", conf_path, "7001"),
	    "%s:2: unknown key \"bogus\"");
	conf_write("7002 echo max-clients=0\n");
	expect_cause(PARSE("-f", conf_path),
	    "%s:1: max-clients value \"0\" is too small (1-1000000)");
}
END_TEST

/* A port on the command line and in the file: both places named. */
START_TEST(test_options_config_twice)
{
	conf_write("7002 echo\n7000-7001 cmd\n");
	expect_cause(PARSE("-f", conf_path, "7001"),
	    "%s:2: port 7001 listed twice (\"7000-7001\", and the command "
	    "line)");
	conf_write("7002 echo\n\n7002 cmd\n");
	expect_cause(PARSE("-f", conf_path, "7001"),
	    "%s:3: port 7002 listed twice (\"7002\", and %s:1)");
}
END_TEST

START_TEST(test_options_no_channels)
{
	conf_write("# nothing yet\n");
	expect_cause(PARSE("-f", conf_path),
	    "no channels: give a PORTSPEC or a --config file with channels");
	expect_cause(PARSE("--check-config"), "no PORTSPEC given (try --help)");
}
END_TEST

START_TEST(test_options_too_many_with_file)
{
	conf_write("5000-5096 ack\n");
	expect_cause(PARSE("1-4000", "-f", conf_path),
	    "%s:1: too many channels (at most 4096) at \"5000-5096\"");
	conf_write("5000-5095 ack\n");
	expect_run(PARSE("1-4000", "-f", conf_path));
	ck_assert_uint_eq(opts.o_channels.cf_count, CONF_MAX_CHANNELS);
}
END_TEST

/* A failed reload says why and leaves list alone. */
START_TEST(test_options_reload_errors)
{
	struct conf_list *fresh = calloc(1, sizeof *fresh);

	fresh->cf_count = 12345;
	expect_run(PARSE("1-4000"));
	ck_assert_int_eq(options_reload(&opts, conf_services, fresh,
	    &cause), -1);
	ck_assert_str_eq(cause, "no --config file to read again");
	free(cause);
	cause = NULL;

	conf_write("7001 echo\n");
	expect_run(PARSE("-f", conf_path, "7000"));
	conf_write("7001 echo\n7000 cmd\n");
	expect_cause(options_reload(&opts, conf_services, fresh, &cause),
	    "%s:2: port 7000 listed twice (\"7000\", and the command line)");
	free(cause);
	cause = NULL;
	conf_write("7001 echo\n7002 nosuch\n");
	ck_assert_int_eq(options_reload(&opts, conf_services, fresh,
	    &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, ":2: unknown service \"nosuch\""));
	free(cause);
	cause = NULL;
	unlink(conf_path);
	expect_cause(options_reload(&opts, conf_services, fresh, &cause),
	    "cannot read %s: No such file or directory");
	free(cause);
	cause = NULL;

	/* The command line's channels count toward the limit. */
	conf_write("5000 ack\n");
	expect_run(PARSE("1-4095", "-f", conf_path));
	conf_write("5000-5001 ack\n");
	expect_cause(options_reload(&opts, conf_services, fresh, &cause),
	    "%s: too many channels (at most 4096 with the command line's "
	    "4095)");
	ck_assert_uint_eq(fresh->cf_count, 12345);
	ck_assert_ptr_null(fresh->cf_channels);
	free(fresh);
}
END_TEST

static Suite *
options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_checked_fixture(tc_core, setup, teardown);
	tcase_add_test(tc_core, test_options_defaults);
	tcase_add_test(tc_core, test_options_defaults_parsed);
	tcase_add_test(tc_core, test_options_long);
	tcase_add_test(tc_core, test_options_short);
	tcase_add_test(tc_core, test_options_short_attached);
	tcase_add_test(tc_core, test_options_equals);
	tcase_add_test(tc_core, test_options_after_portspec);
	tcase_add_test(tc_core, test_options_help);
	tcase_add_test(tc_core, test_options_version);
	tcase_add_test(tc_core, test_options_zero_allowed);
	tcase_add_test(tc_core, test_options_bind_ipv6_any);
	tcase_add_test(tc_core, test_options_bind_name);
	tcase_add_test(tc_core, test_options_many_parses);
	tcase_add_test(tc_core, test_options_channel_defaults);
	tcase_add_test(tc_core, test_options_main_arg);
	tcase_add_test(tc_core, test_options_new_bounds);
	tcase_add_test(tc_core, test_options_config);
	tcase_add_test(tc_core, test_options_config_only);
	tcase_add_test(tc_core, test_options_conf_defaults);
	tcase_add_test(tc_core, test_options_reload);
	tcase_add_test(tc_core, test_options_usage);
	suite_add_tcase(s, tc_core);

	tcase_add_checked_fixture(tc_errors, setup, teardown);
	tcase_add_test(tc_errors, test_options_unknown_long);
	tcase_add_test(tc_errors, test_options_unknown_short);
	tcase_add_test(tc_errors, test_options_unknown_after_portspec);
	tcase_add_test(tc_errors, test_options_flag_with_value);
	tcase_add_test(tc_errors, test_options_missing_value_long);
	tcase_add_test(tc_errors, test_options_missing_value_short);
	tcase_add_test(tc_errors, test_options_max_clients_zero);
	tcase_add_test(tc_errors, test_options_max_line_zero);
	tcase_add_test(tc_errors, test_options_max_clients_abc);
	tcase_add_test(tc_errors, test_options_bad_numbers);
	tcase_add_test(tc_errors, test_options_log_level_bad);
	tcase_add_test(tc_errors, test_options_log_format_bad);
	tcase_add_test(tc_errors, test_options_allow_bad);
	tcase_add_test(tc_errors, test_options_no_portspec);
	tcase_add_test(tc_errors, test_options_bad_portspec);
	tcase_add_test(tc_errors, test_options_bind_unresolvable);
	tcase_add_test(tc_errors, test_options_new_bad);
	tcase_add_test(tc_errors, test_options_config_unreadable);
	tcase_add_test(tc_errors, test_options_config_bad_line);
	tcase_add_test(tc_errors, test_options_config_twice);
	tcase_add_test(tc_errors, test_options_no_channels);
	tcase_add_test(tc_errors, test_options_too_many_with_file);
	tcase_add_test(tc_errors, test_options_reload_errors);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(options_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
