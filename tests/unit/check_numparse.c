/*
 * num_parse: all of the string is a decimal number inside [min, max]; bogus
 * suffixes, blanks, signs, the empty string, overflow and both bounds.
 */
#include <stdlib.h>

#include <check.h>

#include "numparse.h"

/* Expect a failure with this errstr; *out must not be needed. */
static void
expect_fail(const char *s, long long min, long long max, const char *why)
{
	const char *errstr = NULL;
	long long v = 0;

	ck_assert_msg(num_parse(s, min, max, &v, &errstr) == -1,
	    "\"%s\" in [%lld, %lld] accepted as %lld", s, min, max, v);
	ck_assert_ptr_nonnull(errstr);
	ck_assert_str_eq(errstr, why);
}

static long long
expect_ok(const char *s, long long min, long long max)
{
	const char *errstr = NULL;
	long long v = -12345;

	ck_assert_msg(num_parse(s, min, max, &v, &errstr) == 0,
	    "\"%s\" in [%lld, %lld] rejected: %s", s, min, max,
	    errstr ? errstr : "(null)");
	return v;
}

START_TEST(test_numparse_plain)
{
	ck_assert_int_eq(expect_ok("123", 0, 1000), 123);
	ck_assert_int_eq(expect_ok("0", 0, 1000), 0);
	ck_assert_int_eq(expect_ok("65535", 0, 65535), 65535);
}
END_TEST

START_TEST(test_numparse_bounds)
{
	ck_assert_int_eq(expect_ok("1", 1, 10), 1);
	ck_assert_int_eq(expect_ok("10", 1, 10), 10);
	expect_fail("0", 1, 10, "too small");
	expect_fail("11", 1, 10, "too large");
	expect_fail("65536", 0, 65535, "too large");
}
END_TEST

START_TEST(test_numparse_leading_zeros)
{
	ck_assert_int_eq(expect_ok("007", 0, 10), 7);
}
END_TEST

START_TEST(test_numparse_large)
{
	ck_assert_int_eq(expect_ok("9223372036854775807", 0, 9223372036854775807LL),
	    9223372036854775807LL);
}
END_TEST

START_TEST(test_numparse_bogus_suffix)
{
	expect_fail("123BOGUS", 0, 1000, "invalid");
	expect_fail("5 ", 0, 1000, "invalid");
	expect_fail("1.5", 0, 1000, "invalid");
	expect_fail("0x10", 0, 1000, "invalid");
}
END_TEST

START_TEST(test_numparse_empty)
{
	expect_fail("", 0, 1000, "invalid");
}
END_TEST

START_TEST(test_numparse_negative)
{
	expect_fail("-1", 0, 1000, "too small");
}
END_TEST

START_TEST(test_numparse_blank_and_sign)
{
	expect_fail(" 5", 0, 1000, "invalid");
	expect_fail("\t5", 0, 1000, "invalid");
	expect_fail("+5", 0, 1000, "invalid");
	expect_fail("-", 0, 1000, "invalid");
	expect_fail("abc", 0, 1000, "invalid");
}
END_TEST

START_TEST(test_numparse_overflow)
{
	expect_fail("99999999999999999999", 0, 65535, "too large");
	expect_fail("9223372036854775808", 0, 9223372036854775807LL,
	    "too large");
}
END_TEST

static Suite *
numparse_suite(void)
{
	Suite *s = suite_create("numparse");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_test(tc_core, test_numparse_plain);
	tcase_add_test(tc_core, test_numparse_bounds);
	tcase_add_test(tc_core, test_numparse_leading_zeros);
	tcase_add_test(tc_core, test_numparse_large);
	suite_add_tcase(s, tc_core);

	tcase_add_test(tc_errors, test_numparse_bogus_suffix);
	tcase_add_test(tc_errors, test_numparse_empty);
	tcase_add_test(tc_errors, test_numparse_negative);
	tcase_add_test(tc_errors, test_numparse_blank_and_sign);
	tcase_add_test(tc_errors, test_numparse_overflow);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(numparse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
