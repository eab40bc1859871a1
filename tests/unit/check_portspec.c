/*
 * portspec_parse: single ports, ranges, services bound to their own item,
 * ephemeral ports, the 4096-channel limit, and every rejection of SPEC 1 and
 * 7 with a cause that quotes the offending token. Uses the real service list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "portspec.h"
#include "service.h"

static struct portlist pl;

static void
setup(void)
{
	memset(&pl, 0, sizeof pl);
}

static void
teardown(void)
{
	portlist_free(&pl);
}

static int
service_index(const char *name)
{
	int i;

	for (i = 0; service_names[i] != NULL; i++) {
		if (strcmp(service_names[i], name) == 0)
			return i;
	}
	ck_abort_msg("service \"%s\" not in service_names", name);
	return -1;
}

static void
parse_ok(const char *arg)
{
	char *cause = NULL;
	int rc;

	rc = portspec_parse(arg, service_names, SERVICE_DEFAULT, &pl, &cause);
	ck_assert_msg(rc == 0, "\"%s\" rejected: %s", arg,
	    cause ? cause : "(null)");
	free(cause);
}

/* Expect a rejection whose cause holds quoted (the token, in quotes). */
static void
parse_fail(const char *arg, const char *quoted)
{
	char *cause = NULL;
	int rc;

	rc = portspec_parse(arg, service_names, SERVICE_DEFAULT, &pl, &cause);
	ck_assert_msg(rc == -1, "\"%s\" accepted", arg);
	ck_assert_msg(cause != NULL, "\"%s\": no cause", arg);
	ck_assert_msg(strstr(cause, quoted) != NULL,
	    "\"%s\": cause \"%s\" does not quote %s", arg, cause, quoted);
	free(cause);
}

static void
expect_item(size_t i, unsigned port, const char *service)
{
	ck_assert_uint_lt(i, pl.pl_count);
	ck_assert_uint_eq(pl.pl_items[i].ps_port, port);
	ck_assert_int_eq(pl.pl_items[i].ps_service, service_index(service));
}

START_TEST(test_portspec_single)
{
	parse_ok("7001");
	ck_assert_uint_eq(pl.pl_count, 1);
	expect_item(0, 7001, "ack");
	ck_assert_int_eq(SERVICE_DEFAULT, service_index("ack"));
}
END_TEST

START_TEST(test_portspec_service)
{
	parse_ok("7002:echo");
	ck_assert_uint_eq(pl.pl_count, 1);
	expect_item(0, 7002, "echo");
}
END_TEST

START_TEST(test_portspec_range)
{
	unsigned i;

	parse_ok("7100-7109:discard");
	ck_assert_uint_eq(pl.pl_count, 10);
	for (i = 0; i < 10; i++)
		expect_item(i, 7100 + i, "discard");
}
END_TEST

START_TEST(test_portspec_service_own_item)
{
	parse_ok("7001,7002:echo");
	ck_assert_uint_eq(pl.pl_count, 2);
	expect_item(0, 7001, "ack");
	expect_item(1, 7002, "echo");
}
END_TEST

START_TEST(test_portspec_every_service)
{
	char arg[64];
	int i;

	for (i = 0; service_names[i] != NULL; i++) {
		snprintf(arg, sizeof arg, "%d:%s", 8000 + i, service_names[i]);
		parse_ok(arg);
		expect_item((size_t)i, 8000u + (unsigned)i, service_names[i]);
	}
}
END_TEST

START_TEST(test_portspec_ephemeral_many)
{
	parse_ok("0:cmd,0,0:echo");
	parse_ok("0");
	ck_assert_uint_eq(pl.pl_count, 4);
	expect_item(0, 0, "cmd");
	expect_item(1, 0, "ack");
	expect_item(2, 0, "echo");
	expect_item(3, 0, "ack");
}
END_TEST

START_TEST(test_portspec_zero_range)
{
	parse_ok("0-3");
	ck_assert_uint_eq(pl.pl_count, 4);
	expect_item(0, 0, "ack");
	expect_item(1, 1, "ack");
	expect_item(2, 2, "ack");
	expect_item(3, 3, "ack");
}
END_TEST

START_TEST(test_portspec_bounds)
{
	parse_ok("65535");
	parse_ok("1");
	parse_ok("9-9:time");
	ck_assert_uint_eq(pl.pl_count, 3);
	expect_item(0, 65535, "ack");
	expect_item(1, 1, "ack");
	expect_item(2, 9, "time");
}
END_TEST

START_TEST(test_portspec_order_across_args)
{
	parse_ok("7005");
	parse_ok("7001-7002:echo,7000");
	ck_assert_uint_eq(pl.pl_count, 4);
	expect_item(0, 7005, "ack");
	expect_item(1, 7001, "echo");
	expect_item(2, 7002, "echo");
	expect_item(3, 7000, "ack");
}
END_TEST

START_TEST(test_portspec_max_channels)
{
	parse_ok("1-4096");
	ck_assert_uint_eq(pl.pl_count, PORTSPEC_MAX_CHANNELS);
	expect_item(4095, 4096, "ack");
	parse_fail("5000", "\"5000\"");
	ck_assert_uint_eq(pl.pl_count, PORTSPEC_MAX_CHANNELS);
	parse_fail("0", "\"0\"");
}
END_TEST

/* A simple token rejected on its own: the cause quotes the whole argument. */
static const struct {
	const char	*arg;
	const char	*quoted;
} portspec_bad[] = {
	{ "123BOGUS", "\"123BOGUS\"" },
	{ "70000", "\"70000\"" },
	{ "65536", "\"65536\"" },
	{ "99999999999999999999", "\"99999999999999999999\"" },
	{ "7-3", "\"7-3\"" },
	{ "-1", "\"-1\"" },
	{ "", "\"\"" },
	{ "7001:", "\"7001:\"" },
	{ "7001,,7002", "\"7001,,7002\"" },
	{ "7001,", "\"7001,\"" },
	{ ",7001", "\",7001\"" },
	{ "7001-", "\"7001-\"" },
	{ ":echo", "\":echo\"" },
	{ " 7001", "\" 7001\"" },
	{ "+7001", "\"+7001\"" },
	{ "7001-7002-7003", "7001-7002-7003" },
	{ "7001:ECHO", "\"ECHO\"" },
	{ "7001:Echo", "\"Echo\"" },
	{ "7001:echo:x", "echo:x" },
	{ "7001:bogus", "\"bogus\"" },
};

START_TEST(test_portspec_bad_token)
{
	parse_fail(portspec_bad[_i].arg, portspec_bad[_i].quoted);
}
END_TEST

START_TEST(test_portspec_unknown_service_lists)
{
	char *cause = NULL;
	int i;

	ck_assert_int_eq(portspec_parse("7001:bogus", service_names,
	    SERVICE_DEFAULT, &pl, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, "bogus"));
	for (i = 0; service_names[i] != NULL; i++) {
		ck_assert_msg(strstr(cause, service_names[i]) != NULL,
		    "cause \"%s\" does not list \"%s\"", cause,
		    service_names[i]);
	}
	free(cause);
}
END_TEST

START_TEST(test_portspec_upper_case_service)
{
	parse_fail("7002:ECHO", "ECHO");
	ck_assert_uint_eq(pl.pl_count, 0);
}
END_TEST

START_TEST(test_portspec_twice_in_one)
{
	parse_fail("7001,7001", "7001");
}
END_TEST

START_TEST(test_portspec_twice_in_range)
{
	parse_fail("7001-7003,7002:echo", "7002");
}
END_TEST

START_TEST(test_portspec_twice_across_calls)
{
	parse_ok("7001");
	parse_fail("7001:echo", "7001");
	ck_assert_uint_eq(pl.pl_count, 1);
	expect_item(0, 7001, "ack");
}
END_TEST

START_TEST(test_portspec_range_too_many)
{
	parse_fail("1-4097", "\"1-4097\"");
}
END_TEST

START_TEST(test_portspec_too_many_zero)
{
	parse_ok("1-4095");
	parse_ok("0");
	parse_fail("0", "\"0\"");
	ck_assert_uint_eq(pl.pl_count, PORTSPEC_MAX_CHANNELS);
}
END_TEST

static Suite *
portspec_suite(void)
{
	Suite *s = suite_create("portspec");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_checked_fixture(tc_core, setup, teardown);
	tcase_add_test(tc_core, test_portspec_single);
	tcase_add_test(tc_core, test_portspec_service);
	tcase_add_test(tc_core, test_portspec_range);
	tcase_add_test(tc_core, test_portspec_service_own_item);
	tcase_add_test(tc_core, test_portspec_every_service);
	tcase_add_test(tc_core, test_portspec_ephemeral_many);
	tcase_add_test(tc_core, test_portspec_zero_range);
	tcase_add_test(tc_core, test_portspec_bounds);
	tcase_add_test(tc_core, test_portspec_order_across_args);
	tcase_add_test(tc_core, test_portspec_max_channels);
	suite_add_tcase(s, tc_core);

	tcase_add_checked_fixture(tc_errors, setup, teardown);
	tcase_add_loop_test(tc_errors, test_portspec_bad_token, 0,
	    (int)(sizeof portspec_bad / sizeof portspec_bad[0]));
	tcase_add_test(tc_errors, test_portspec_unknown_service_lists);
	tcase_add_test(tc_errors, test_portspec_upper_case_service);
	tcase_add_test(tc_errors, test_portspec_twice_in_one);
	tcase_add_test(tc_errors, test_portspec_twice_in_range);
	tcase_add_test(tc_errors, test_portspec_twice_across_calls);
	tcase_add_test(tc_errors, test_portspec_range_too_many);
	tcase_add_test(tc_errors, test_portspec_too_many_zero);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(portspec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
