/*
 * linebuf: "\n" and "\r\n" lines, several per commit, split across commits,
 * empty lines, NUL bytes, the limit at exactly max bytes with either
 * terminator, and over-long input refused early without growing the buffer.
 */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "linebuf.h"

#define MAX 8

static struct linebuf lb;

static void
setup(void)
{
	ck_assert_int_eq(linebuf_init(&lb, MAX), 0);
}

static void
teardown(void)
{
	linebuf_free(&lb);
}

/* Copy n bytes in as one commit; they must fit. */
static void
feed(const char *data, size_t n)
{
	size_t avail;
	char *p = linebuf_space(&lb, &avail);

	ck_assert_ptr_nonnull(p);
	ck_assert_msg(avail >= n, "%zu bytes do not fit in %zu", n, avail);
	memcpy(p, data, n);
	linebuf_commit(&lb, n);
}

#define FEED(s) feed((s), sizeof(s) - 1)

static void
expect_line(const char *want, size_t wantlen)
{
	const char *line = NULL;
	size_t len = 12345;

	ck_assert_int_eq(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	ck_assert_uint_eq(len, wantlen);
	if (wantlen > 0)
		ck_assert_mem_eq(line, want, wantlen);
}

#define EXPECT_LINE(s) expect_line((s), sizeof(s) - 1)

static void
expect_result(int want)
{
	const char *line;
	size_t len;

	ck_assert_int_eq(linebuf_next(&lb, &line, &len), want);
}

START_TEST(test_linebuf_lf)
{
	FEED("PING\n");
	EXPECT_LINE("PING");
	expect_result(LINEBUF_NEED);
	ck_assert_uint_eq(linebuf_pending(&lb), 0);
}
END_TEST

START_TEST(test_linebuf_crlf)
{
	FEED("PING\r\n");
	EXPECT_LINE("PING");
	expect_result(LINEBUF_NEED);
	ck_assert_uint_eq(linebuf_pending(&lb), 0);
}
END_TEST

START_TEST(test_linebuf_several)
{
	FEED("a\nbb\r\nccc\n");
	EXPECT_LINE("a");
	EXPECT_LINE("bb");
	EXPECT_LINE("ccc");
	expect_result(LINEBUF_NEED);
	ck_assert_uint_eq(linebuf_pending(&lb), 0);
}
END_TEST

START_TEST(test_linebuf_split)
{
	FEED("PI");
	expect_result(LINEBUF_NEED);
	FEED("NG\r");
	expect_result(LINEBUF_NEED);
	ck_assert_uint_eq(linebuf_pending(&lb), 5);
	FEED("\n");
	EXPECT_LINE("PING");
	expect_result(LINEBUF_NEED);
}
END_TEST

START_TEST(test_linebuf_split_after_line)
{
	FEED("a\nbc");
	EXPECT_LINE("a");
	expect_result(LINEBUF_NEED);
	ck_assert_uint_eq(linebuf_pending(&lb), 2);
	FEED("d\n");
	EXPECT_LINE("bcd");
	expect_result(LINEBUF_NEED);
}
END_TEST

START_TEST(test_linebuf_empty)
{
	FEED("\n\r\n");
	EXPECT_LINE("");
	EXPECT_LINE("");
	expect_result(LINEBUF_NEED);
}
END_TEST

START_TEST(test_linebuf_exact_max_lf)
{
	FEED("12345678\n");
	EXPECT_LINE("12345678");
	expect_result(LINEBUF_NEED);
}
END_TEST

START_TEST(test_linebuf_exact_max_crlf)
{
	FEED("12345678\r\n");
	EXPECT_LINE("12345678");
	expect_result(LINEBUF_NEED);
}
END_TEST

/* The same, a byte at a time: the "\r" after max bytes is not yet too long. */
START_TEST(test_linebuf_exact_max_bytewise)
{
	const char *s = "12345678\r\n";
	size_t i;

	for (i = 0; i < strlen(s) - 1; i++) {
		feed(s + i, 1);
		expect_result(LINEBUF_NEED);
	}
	feed("\n", 1);
	EXPECT_LINE("12345678");
}
END_TEST

/* A "\r" inside a line counts toward the limit. */
START_TEST(test_linebuf_inner_cr)
{
	FEED("1234567\r\r\n");
	EXPECT_LINE("1234567\r");
}
END_TEST

START_TEST(test_linebuf_space_reused)
{
	size_t avail;

	FEED("1234567\n");
	EXPECT_LINE("1234567");
	linebuf_space(&lb, &avail);
	ck_assert_uint_eq(avail, MAX + 2);
	FEED("abcdefgh\r\n");
	EXPECT_LINE("abcdefgh");
}
END_TEST

START_TEST(test_linebuf_nul)
{
	FEED("a\0b\0\n");
	EXPECT_LINE("a\0b\0");
	FEED("\0\r\n");
	EXPECT_LINE("\0");
}
END_TEST

START_TEST(test_linebuf_too_long_no_newline)
{
	FEED("123456789");
	expect_result(LINEBUF_TOO_LONG);
}
END_TEST

START_TEST(test_linebuf_too_long_bytewise)
{
	const char *s = "123456789";
	size_t i;

	for (i = 0; i < MAX; i++) {
		feed(s + i, 1);
		expect_result(LINEBUF_NEED);
	}
	feed(s + MAX, 1);
	expect_result(LINEBUF_TOO_LONG);
}
END_TEST

START_TEST(test_linebuf_too_long_lf)
{
	FEED("123456789\n");
	expect_result(LINEBUF_TOO_LONG);
}
END_TEST

START_TEST(test_linebuf_too_long_after_cr)
{
	FEED("12345678\r");
	expect_result(LINEBUF_NEED);
	FEED("x");
	expect_result(LINEBUF_TOO_LONG);
}
END_TEST

START_TEST(test_linebuf_too_long_second_line)
{
	FEED("ok\n123456");
	EXPECT_LINE("ok");
	FEED("789");
	expect_result(LINEBUF_TOO_LONG);
}
END_TEST

/* 10 MB without a newline: refused within max + 2 bytes, never more room. */
START_TEST(test_linebuf_flood)
{
	static const size_t total = 10 * 1024 * 1024, chunk = 4096;
	struct linebuf big;
	const char *line;
	size_t fed = 0, avail, n, len, max = 1000;
	int rc = LINEBUF_NEED;
	char *p;

	ck_assert_int_eq(linebuf_init(&big, max), 0);
	while (fed < total && rc == LINEBUF_NEED) {
		p = linebuf_space(&big, &avail);
		ck_assert_ptr_nonnull(p);
		ck_assert_uint_gt(avail, 0);
		ck_assert_uint_le(avail, max + 2);
		n = avail < chunk ? avail : chunk;
		memset(p, 'x', n);
		linebuf_commit(&big, n);
		fed += n;
		ck_assert_uint_le(linebuf_pending(&big), max + 2);
		rc = linebuf_next(&big, &line, &len);
	}
	ck_assert_int_eq(rc, LINEBUF_TOO_LONG);
	ck_assert_uint_le(fed, max + 2);
	linebuf_free(&big);
}
END_TEST

/* The same with small odd chunks, so the limit falls inside a chunk. */
START_TEST(test_linebuf_flood_small_chunks)
{
	struct linebuf big;
	const char *line;
	size_t fed = 0, avail, n, len, max = 100;
	int rc = LINEBUF_NEED;
	char *p;

	ck_assert_int_eq(linebuf_init(&big, max), 0);
	while (fed < 10 * 1024 * 1024 && rc == LINEBUF_NEED) {
		p = linebuf_space(&big, &avail);
		ck_assert_uint_gt(avail, 0);
		ck_assert_uint_le(avail, max + 2);
		n = avail < 7 ? avail : 7;
		memset(p, 'y', n);
		linebuf_commit(&big, n);
		fed += n;
		rc = linebuf_next(&big, &line, &len);
	}
	ck_assert_int_eq(rc, LINEBUF_TOO_LONG);
	ck_assert_uint_le(fed, max + 2);
	linebuf_free(&big);
}
END_TEST

static Suite *
linebuf_suite(void)
{
	Suite *s = suite_create("linebuf");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_checked_fixture(tc_core, setup, teardown);
	tcase_add_test(tc_core, test_linebuf_lf);
	tcase_add_test(tc_core, test_linebuf_crlf);
	tcase_add_test(tc_core, test_linebuf_several);
	tcase_add_test(tc_core, test_linebuf_split);
	tcase_add_test(tc_core, test_linebuf_split_after_line);
	tcase_add_test(tc_core, test_linebuf_empty);
	tcase_add_test(tc_core, test_linebuf_exact_max_lf);
	tcase_add_test(tc_core, test_linebuf_exact_max_crlf);
	tcase_add_test(tc_core, test_linebuf_exact_max_bytewise);
	tcase_add_test(tc_core, test_linebuf_inner_cr);
	tcase_add_test(tc_core, test_linebuf_space_reused);
	tcase_add_test(tc_core, test_linebuf_nul);
	suite_add_tcase(s, tc_core);

	tcase_add_checked_fixture(tc_errors, setup, teardown);
	tcase_add_test(tc_errors, test_linebuf_too_long_no_newline);
	tcase_add_test(tc_errors, test_linebuf_too_long_bytewise);
	tcase_add_test(tc_errors, test_linebuf_too_long_lf);
	tcase_add_test(tc_errors, test_linebuf_too_long_after_cr);
	tcase_add_test(tc_errors, test_linebuf_too_long_second_line);
	tcase_add_test(tc_errors, test_linebuf_flood);
	tcase_add_test(tc_errors, test_linebuf_flood_small_chunks);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(linebuf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
