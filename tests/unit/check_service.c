/*
 * Service helpers: RFC 868 time values (the 1900 epoch and the 2036 wrap)
 * and RFC 864 chargen lines as BSD inetd makes them (ring of the 95
 * printable characters from space, 72 per line, CR LF, period 95).
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "service.h"

#define CHARGEN_WIDTH 72
#define CHARGEN_RING 95

static const char chargen_line0[] =
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg"
    "\r\n";

static void
chargen(unsigned long i, char line[74])
{
	memset(line, 0, 74);
	service_chargen_line(i, line);
}

START_TEST(test_time_epoch)
{
	ck_assert_uint_eq(service_time_value(0), 2208988800UL);
	ck_assert_uint_eq(service_time_value(1700000000LL), 3908988800UL);
	ck_assert_uint_eq(service_time_value(-2208988800LL), 0);
}
END_TEST

START_TEST(test_chargen_line0)
{
	char line[74];

	ck_assert_uint_eq(sizeof chargen_line0 - 1, CHARGEN_WIDTH + 2);
	chargen(0, line);
	ck_assert_int_eq(line[0], ' ');
	ck_assert_mem_eq(line, chargen_line0, CHARGEN_WIDTH + 2);
	ck_assert_int_eq(line[72], '\r');
	ck_assert_int_eq(line[73], '\n');
}
END_TEST

START_TEST(test_chargen_line1)
{
	char line[74];

	chargen(1, line);
	ck_assert_int_eq(line[0], '!');
	ck_assert_mem_eq(line, chargen_line0 + 1, CHARGEN_WIDTH - 1);
	ck_assert_int_eq(line[71], 'h');
	ck_assert_mem_eq(line + 72, "\r\n", 2);
}
END_TEST

START_TEST(test_chargen_period)
{
	char line[74], first[74];

	chargen(0, first);
	chargen(95, line);
	ck_assert_mem_eq(line, first, sizeof line);
	chargen(94, line);
	ck_assert_int_eq(line[0], '~');
	ck_assert_int_eq(line[1], ' ');
}
END_TEST

/* Every line is 72 printable characters starting at ring position i mod 95. */
START_TEST(test_chargen_every_line)
{
	char line[74];
	unsigned long i;
	int k;

	for (i = 0; i < 2 * CHARGEN_RING; i++) {
		chargen(i, line);
		for (k = 0; k < CHARGEN_WIDTH; k++) {
			ck_assert_int_eq(line[k],
			    ' ' + (int)((i + (unsigned long)k) % CHARGEN_RING));
		}
		ck_assert_mem_eq(line + CHARGEN_WIDTH, "\r\n", 2);
	}
}
END_TEST

START_TEST(test_time_wrap_2036)
{
	/* 2036-02-07T06:28:16Z is 2^32 seconds after 1900: 0 again. */
	ck_assert_uint_eq(service_time_value(2085978496LL), 0);
	ck_assert_uint_eq(service_time_value(2085978495LL), 4294967295UL);
	ck_assert_uint_eq(service_time_value(2085978497LL), 1);
	ck_assert_uint_eq(service_time_value(4000000000LL), 1914021504UL);
}
END_TEST

START_TEST(test_chargen_large_index)
{
	char line[74], want[74];

	chargen(95UL * 1000000 + 3, line);
	chargen(3, want);
	ck_assert_mem_eq(line, want, sizeof line);
}
END_TEST

static Suite *
service_suite(void)
{
	Suite *s = suite_create("service");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_test(tc_core, test_time_epoch);
	tcase_add_test(tc_core, test_chargen_line0);
	tcase_add_test(tc_core, test_chargen_line1);
	tcase_add_test(tc_core, test_chargen_period);
	tcase_add_test(tc_core, test_chargen_every_line);
	suite_add_tcase(s, tc_core);

	tcase_add_test(tc_errors, test_time_wrap_2036);
	tcase_add_test(tc_errors, test_chargen_large_index);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(service_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
