/*
 * command_parse: every verb of the cmd protocol in any case, blank lines,
 * ECHO's verbatim text, and the 500/501 cases: unknown verbs (NUL bytes and
 * trailing garbage included), arguments where none belong, bad SLEEP values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "command_parse.h"

static struct command
parse_n(const char *line, size_t len)
{
	struct command c;

	memset(&c, 0xa5, sizeof c);
	command_parse(line, len, &c);
	return c;
}

static struct command
parse(const char *line)
{
	return parse_n(line, strlen(line));
}

#define PARSE_LIT(s) parse_n((s), sizeof(s) - 1)

static void
expect_bad(const char *line)
{
	struct command c = parse(line);

	ck_assert_msg(c.c_verb == CMD_BAD, "\"%s\": verb %d, want CMD_BAD",
	    line, c.c_verb);
	ck_assert_ptr_nonnull(c.c_error);
	ck_assert_uint_gt(strlen(c.c_error), 0);
}

static const struct {
	const char		*name;
	enum command_verb	 verb;
} verbs[] = {
	{ "PING", CMD_PING },
	{ "ECHO", CMD_ECHO },
	{ "TIME", CMD_TIME },
	{ "WHOAMI", CMD_WHOAMI },
	{ "PORTS", CMD_PORTS },
	{ "STATS", CMD_STATS },
	{ "SLEEP", CMD_SLEEP },
	{ "HELP", CMD_HELP },
	{ "QUIT", CMD_QUIT },
};
#define NVERBS ((int)(sizeof verbs / sizeof verbs[0]))

START_TEST(test_command_verbs)
{
	char line[32];
	struct command c;

	if (verbs[_i].verb == CMD_SLEEP)
		snprintf(line, sizeof line, "%s 5", verbs[_i].name);
	else if (verbs[_i].verb == CMD_ECHO)
		snprintf(line, sizeof line, "%s x", verbs[_i].name);
	else
		snprintf(line, sizeof line, "%s", verbs[_i].name);
	c = parse(line);
	ck_assert_msg(c.c_verb == verbs[_i].verb, "\"%s\": verb %d, want %d",
	    line, c.c_verb, verbs[_i].verb);
	ck_assert_ptr_nonnull(c.c_name);
	ck_assert_str_eq(c.c_name, verbs[_i].name);
}
END_TEST

/* Lower case and mixed case give the same verb and the upper-case name. */
START_TEST(test_command_case)
{
	char lower[32], mixed[32];
	struct command c;
	size_t i;

	snprintf(lower, sizeof lower, "%s", verbs[_i].name);
	snprintf(mixed, sizeof mixed, "%s", verbs[_i].name);
	for (i = 0; lower[i] != '\0'; i++) {
		lower[i] = (char)(lower[i] - 'A' + 'a');
		if (i % 2 == 1)
			mixed[i] = lower[i];
	}
	if (verbs[_i].verb == CMD_SLEEP || verbs[_i].verb == CMD_ECHO) {
		strcat(lower, " 1");
		strcat(mixed, " 1");
	}
	c = parse(lower);
	ck_assert_int_eq(c.c_verb, verbs[_i].verb);
	ck_assert_str_eq(c.c_name, verbs[_i].name);
	c = parse(mixed);
	ck_assert_int_eq(c.c_verb, verbs[_i].verb);
	ck_assert_str_eq(c.c_name, verbs[_i].name);
}
END_TEST

START_TEST(test_command_ping_cases)
{
	ck_assert_int_eq(parse("ping").c_verb, CMD_PING);
	ck_assert_int_eq(parse("PiNg").c_verb, CMD_PING);
	ck_assert_int_eq(parse("PING").c_verb, CMD_PING);
}
END_TEST

START_TEST(test_command_empty)
{
	ck_assert_int_eq(parse("").c_verb, CMD_EMPTY);
	ck_assert_int_eq(parse("    ").c_verb, CMD_EMPTY);
	ck_assert_int_eq(parse(" ").c_verb, CMD_EMPTY);
}
END_TEST

START_TEST(test_command_echo_text)
{
	struct command c = parse("ECHO some text");

	ck_assert_int_eq(c.c_verb, CMD_ECHO);
	ck_assert_uint_eq(c.c_arglen, strlen("some text"));
	ck_assert_mem_eq(c.c_arg, "some text", c.c_arglen);
}
END_TEST

START_TEST(test_command_echo_inner_spaces)
{
	static const char text[] = "a  b   c d";
	struct command c = parse("echo a  b   c d");

	ck_assert_int_eq(c.c_verb, CMD_ECHO);
	ck_assert_uint_eq(c.c_arglen, sizeof text - 1);
	ck_assert_mem_eq(c.c_arg, text, c.c_arglen);
}
END_TEST

START_TEST(test_command_echo_points_into_line)
{
	static const char line[] = "ECHO hello";
	struct command c = PARSE_LIT(line);

	ck_assert_int_eq(c.c_verb, CMD_ECHO);
	ck_assert_ptr_eq(c.c_arg, line + 5);
	ck_assert_uint_eq(c.c_arglen, 5);
}
END_TEST

START_TEST(test_command_sleep_bounds)
{
	struct command c = parse("SLEEP 0");

	ck_assert_int_eq(c.c_verb, CMD_SLEEP);
	ck_assert_int_eq(c.c_ms, 0);
	c = parse("SLEEP 10000");
	ck_assert_int_eq(c.c_verb, CMD_SLEEP);
	ck_assert_int_eq(c.c_ms, 10000);
	c = parse("sleep 250");
	ck_assert_int_eq(c.c_verb, CMD_SLEEP);
	ck_assert_int_eq(c.c_ms, 250);
	ck_assert_int_eq(COMMAND_SLEEP_MAX, 10000);
}
END_TEST

START_TEST(test_command_echo_control)
{
	expect_bad("ECHO a\rb");
	expect_bad("ECHO \x1b[2J");
	expect_bad("ECHO bell\a");
	expect_bad("ECHO del\x7f");
	ck_assert_int_eq(PARSE_LIT("ECHO a\0b").c_verb, CMD_BAD);
	ck_assert_int_eq(PARSE_LIT("ECHO a\nb").c_verb, CMD_BAD);
}
END_TEST

START_TEST(test_command_nul_in_verb)
{
	struct command c = PARSE_LIT("PI\0NG");

	ck_assert_int_eq(c.c_verb, CMD_UNKNOWN);
	ck_assert_int_eq(PARSE_LIT("PING\0").c_verb, CMD_UNKNOWN);
	ck_assert_int_eq(PARSE_LIT("\0PING").c_verb, CMD_UNKNOWN);
	ck_assert_int_eq(PARSE_LIT("QUI\0").c_verb, CMD_UNKNOWN);
}
END_TEST

START_TEST(test_command_unknown)
{
	ck_assert_int_eq(parse("PINGX").c_verb, CMD_UNKNOWN);
	ck_assert_int_eq(parse("PIN").c_verb, CMD_UNKNOWN);
	ck_assert_int_eq(parse("FOO bar").c_verb, CMD_UNKNOWN);
	ck_assert_int_eq(parse("ECHOsome text").c_verb, CMD_UNKNOWN);
	ck_assert_int_eq(parse("GET / HTTP/1.0").c_verb, CMD_UNKNOWN);
}
END_TEST

/* Verbs that take no argument answer 501 to one (SPEC 7). */
START_TEST(test_command_no_argument)
{
	char line[32];
	int i, checked = 0;

	for (i = 0; i < NVERBS; i++) {
		if (verbs[i].verb == CMD_ECHO || verbs[i].verb == CMD_SLEEP)
			continue;
		snprintf(line, sizeof line, "%s x", verbs[i].name);
		expect_bad(line);
		snprintf(line, sizeof line, "%s 1 2", verbs[i].name);
		expect_bad(line);
		checked++;
	}
	ck_assert_int_eq(checked, 7);
}
END_TEST

START_TEST(test_command_ping_arg)
{
	expect_bad("PING x");
	expect_bad("QUIT now");
}
END_TEST

START_TEST(test_command_sleep_bad)
{
	expect_bad("SLEEP");
	expect_bad("SLEEP abc");
	expect_bad("SLEEP 10001");
	expect_bad("SLEEP -1");
	expect_bad("SLEEP 99999999999999999999");
	expect_bad("SLEEP 5x");
	expect_bad("SLEEP 1 2");
	expect_bad("SLEEP +5");
	expect_bad("SLEEP 1.5");
}
END_TEST

static Suite *
command_parse_suite(void)
{
	Suite *s = suite_create("command_parse");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_loop_test(tc_core, test_command_verbs, 0, NVERBS);
	tcase_add_loop_test(tc_core, test_command_case, 0, NVERBS);
	tcase_add_test(tc_core, test_command_ping_cases);
	tcase_add_test(tc_core, test_command_empty);
	tcase_add_test(tc_core, test_command_echo_text);
	tcase_add_test(tc_core, test_command_echo_inner_spaces);
	tcase_add_test(tc_core, test_command_echo_points_into_line);
	tcase_add_test(tc_core, test_command_sleep_bounds);
	suite_add_tcase(s, tc_core);

	tcase_add_test(tc_errors, test_command_echo_control);
	tcase_add_test(tc_errors, test_command_nul_in_verb);
	tcase_add_test(tc_errors, test_command_unknown);
	tcase_add_test(tc_errors, test_command_no_argument);
	tcase_add_test(tc_errors, test_command_ping_arg);
	tcase_add_test(tc_errors, test_command_sleep_bad);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(command_parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
