/*
 * options_parse: the defaults of SPEC 1, long and short forms, --opt=value,
 * options after port specs, --help and --version, --bind resolution, and
 * every usage error of SPEC 1 and 7 with a cause quoting the offending token.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "log.h"
#include "options.h"
#include "service.h"

#define ARGS_MAX 32

static char		*args[ARGS_MAX + 1];
static int		 nargs;
static struct options	 opts;
static char		*cause;

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
	return options_parse(nargs, args, service_names, SERVICE_DEFAULT, &opts,
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

static void
expect_ipv4(const char *addr)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&opts.o_addr;
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
	ck_assert_uint_eq(o->o_nallow, 0);
	ck_assert_uint_eq(o->o_ndeny, 0);
	ck_assert_uint_eq(o->o_idle_timeout, 300);
	ck_assert_uint_eq(o->o_max_line, 4096);
	ck_assert_uint_eq(o->o_shutdown_grace, 5);
	ck_assert_int_eq(o->o_backlog, 1024);
	ck_assert(!o->o_reuseport);
	ck_assert_ptr_null(o->o_user);
	ck_assert_int_eq(o->o_log_level, LOG_INFO);
	ck_assert_int_eq(o->o_log_format, LOG_FORMAT_TEXT);
}

START_TEST(test_options_defaults)
{
	struct options o;

	memset(&o, 0xa5, sizeof o);
	options_defaults(&o);
	expect_default_values(&o);
	ck_assert_uint_eq(o.o_ports.pl_count, 0);
}
END_TEST

START_TEST(test_options_defaults_parsed)
{
	expect_run(PARSE("7001"));
	expect_default_values(&opts);
	expect_ipv4("127.0.0.1");
	ck_assert_uint_eq(opts.o_ports.pl_count, 1);
	ck_assert_uint_eq(opts.o_ports.pl_items[0].ps_port, 7001);
	ck_assert_int_eq(opts.o_ports.pl_items[0].ps_service, SERVICE_DEFAULT);
}
END_TEST

START_TEST(test_options_long)
{
	expect_run(PARSE("--bind", "0.0.0.0", "--max-clients", "10",
	    "--max-per-ip", "3", "--allow", "10.0.0.0/8", "--allow", "::1",
	    "--deny", "10.0.0.5", "--idle-timeout", "60", "--max-line", "100",
	    "--shutdown-grace", "2", "--backlog", "16", "--reuseport",
	    "--user", "nobody", "--log-level", "debug", "--log-format", "json",
	    "7001"));
	ck_assert_str_eq(opts.o_bind, "0.0.0.0");
	expect_ipv4("0.0.0.0");
	ck_assert_uint_eq(opts.o_max_clients, 10);
	ck_assert_uint_eq(opts.o_max_per_ip, 3);
	ck_assert_uint_eq(opts.o_nallow, 2);
	ck_assert_int_eq(opts.o_allow[0].c_family, AF_INET);
	ck_assert_int_eq(opts.o_allow[0].c_bits, 8);
	ck_assert_int_eq(opts.o_allow[1].c_family, AF_INET6);
	ck_assert_int_eq(opts.o_allow[1].c_bits, 128);
	ck_assert_uint_eq(opts.o_ndeny, 1);
	ck_assert_int_eq(opts.o_deny[0].c_bits, 32);
	ck_assert_uint_eq(opts.o_idle_timeout, 60);
	ck_assert_uint_eq(opts.o_max_line, 100);
	ck_assert_uint_eq(opts.o_shutdown_grace, 2);
	ck_assert_int_eq(opts.o_backlog, 16);
	ck_assert(opts.o_reuseport);
	ck_assert_str_eq(opts.o_user, "nobody");
	ck_assert_int_eq(opts.o_log_level, LOG_DEBUG);
	ck_assert_int_eq(opts.o_log_format, LOG_FORMAT_JSON);
	ck_assert_uint_eq(opts.o_ports.pl_count, 1);
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
	ck_assert_uint_eq(opts.o_nallow, 1);
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
	ck_assert_uint_eq(opts.o_ports.pl_count, 3);
	ck_assert_uint_eq(opts.o_ports.pl_items[0].ps_port, 7001);
	ck_assert_uint_eq(opts.o_ports.pl_items[1].ps_port, 7002);
	ck_assert_uint_eq(opts.o_ports.pl_items[2].ps_port, 7003);
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
	ck_assert_uint_eq(opts.o_ports.pl_count, 1);
	ck_assert_uint_eq(opts.o_ports.pl_items[0].ps_port, 7002);
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
