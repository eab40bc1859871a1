/*
 * log: lines written to a pipe and read back. logfmt keys and quoting,
 * log_data's escapes (\n \r \t \" \\ \xHH), its trailing newline dropped and
 * its cut to 80 bytes, JSON lines that parse with the same keys, the level
 * filter, and the timestamp's shape YYYY-MM-DDTHH:MM:SS.mmmZ.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "log.h"

#define TS_LEN 24	/* 2026-11-22T14:03:01.123Z */

static int	fds[2] = { -1, -1 };
static char	out[65536];

static void
setup(void)
{
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_ne(fcntl(fds[0], F_SETFL, O_NONBLOCK), -1);
}

static void
teardown(void)
{
	log_init(LOG_INFO, LOG_FORMAT_TEXT, 2);
	close(fds[0]);
	close(fds[1]);
}

/* Everything written so far, NUL-terminated; "" if nothing. */
static const char *
drain(void)
{
	size_t len = 0;
	ssize_t n;

	for (;;) {
		n = read(fds[0], out + len, sizeof out - 1 - len);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		break;
	}
	out[len] = '\0';
	return out;
}

static bool
ts_valid(const char *ts)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	for (i = 0; i < TS_LEN; i++) {
		if (shape[i] == 'd' ? !isdigit((unsigned char)ts[i]) :
		    ts[i] != shape[i])
			return false;
	}
	return true;
}

/* A text line: "ts=<timestamp>" then rest exactly. */
static void
expect_text(const char *line, const char *rest)
{
	ck_assert_msg(strncmp(line, "ts=", 3) == 0, "no ts= in \"%s\"", line);
	ck_assert_msg(strlen(line) >= 3 + TS_LEN && ts_valid(line + 3),
	    "bad timestamp in \"%s\"", line);
	ck_assert_str_eq(line + 3 + TS_LEN, rest);
}

static void
expect_json(const char *line, const char *rest)
{
	ck_assert_msg(strncmp(line, "{\"ts\":\"", 7) == 0, "no ts in \"%s\"",
	    line);
	ck_assert_msg(strlen(line) >= 7 + TS_LEN && ts_valid(line + 7),
	    "bad timestamp in \"%s\"", line);
	ck_assert_str_eq(line + 7 + TS_LEN, rest);
}

/* A JSON string at *pp, escapes checked; moves past it. */
static bool
json_string(const char **pp)
{
	const char *p = *pp;
	int i;

	if (*p++ != '"')
		return false;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return false;
		if (*p++ != '\\')
			continue;
		if (*p == 'u') {
			for (i = 1; i <= 4; i++) {
				if (!isxdigit((unsigned char)p[i]))
					return false;
			}
			p += 5;
		} else if (*p != '\0' && strchr("\"\\/bfnrt", *p) != NULL)
			p++;
		else
			return false;
	}
	*pp = p + 1;
	return true;
}

/* One flat JSON object of string and number values, then "\n", then end. */
static bool
json_line_valid(const char *p)
{
	if (*p++ != '{')
		return false;
	for (;;) {
		if (!json_string(&p) || *p++ != ':')
			return false;
		if (*p == '"') {
			if (!json_string(&p))
				return false;
		} else if (isdigit((unsigned char)*p)) {
			while (isdigit((unsigned char)*p))
				p++;
		} else
			return false;
		if (*p == '}')
			break;
		if (*p++ != ',')
			return false;
	}
	return strcmp(p, "}\n") == 0;
}

/* The line of the accept event of SPEC 2, with some data. */
static void
write_accept(int level)
{
	struct logline l;

	log_begin(&l, level, "accept");
	log_uint(&l, "port", 7001);
	log_str(&l, "service", "ack");
	log_str(&l, "peer", "127.0.0.1:53422");
	log_uint(&l, "conn", 17);
	log_end(&l);
}

static void
write_data(const char *data, size_t len)
{
	struct logline l;

	log_begin(&l, LOG_INFO, "recv");
	log_data(&l, "data", data, len);
	log_end(&l);
}

#define WRITE_DATA(s) write_data((s), sizeof(s) - 1)

START_TEST(test_log_text_keys)
{
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	write_accept(LOG_INFO);
	expect_text(drain(), " level=info event=accept port=7001 service=ack "
	    "peer=127.0.0.1:53422 conn=17\n");
}
END_TEST

START_TEST(test_log_text_levels_named)
{
	log_init(LOG_DEBUG, LOG_FORMAT_TEXT, fds[1]);
	log_msg(LOG_ERROR, "e", "x");
	expect_text(drain(), " level=error event=e msg=x\n");
	log_msg(LOG_WARN, "reject", "x");
	expect_text(drain(), " level=warn event=reject msg=x\n");
	log_msg(LOG_INFO, "i", "x");
	expect_text(drain(), " level=info event=i msg=x\n");
	log_msg(LOG_DEBUG, "d", "x");
	expect_text(drain(), " level=debug event=d msg=x\n");
}
END_TEST

START_TEST(test_log_text_quoting)
{
	struct logline l;

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	log_begin(&l, LOG_INFO, "listen");
	log_str(&l, "msg", "hello world");
	log_str(&l, "empty", "");
	log_str(&l, "q", "say \"hi\"");
	log_str(&l, "eq", "a=b");
	log_str(&l, "bs", "a\\b");
	log_str(&l, "bare", "127.0.0.1:7001");
	log_end(&l);
	expect_text(drain(), " level=info event=listen msg=\"hello world\" "
	    "empty=\"\" q=\"say \\\"hi\\\"\" eq=\"a=b\" bs=\"a\\\\b\" "
	    "bare=127.0.0.1:7001\n");
}
END_TEST

START_TEST(test_log_msg_format)
{
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	log_msg(LOG_INFO, "listen", "port %d %s", 7001, "up");
	expect_text(drain(), " level=info event=listen msg=\"port 7001 up\"\n");
}
END_TEST

START_TEST(test_log_data_escapes)
{
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	WRITE_DATA("a\nb\rc\td\"e\\f\x01g\xffh\x7f\0i\n");
	expect_text(drain(), " level=info event=recv "
	    "data=\"a\\nb\\rc\\td\\\"e\\\\f\\x01g\\xffh\\x7f\\x00i\"\n");
}
END_TEST

START_TEST(test_log_data_plain)
{
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	WRITE_DATA("hello");
	expect_text(drain(), " level=info event=recv data=\"hello\"\n");
}
END_TEST

START_TEST(test_log_data_trailing_newline)
{
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	WRITE_DATA("hello\n");
	expect_text(drain(), " level=info event=recv data=\"hello\"\n");
	/* Only the one trailing newline goes. */
	WRITE_DATA("a\n\n");
	expect_text(drain(), " level=info event=recv data=\"a\\n\"\n");
	WRITE_DATA("\n");
	expect_text(drain(), " level=info event=recv data=\"\"\n");
}
END_TEST

START_TEST(test_log_data_cut)
{
	char data[200], want[200];

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	memset(data, 'a', 100);
	write_data(data, 100);
	snprintf(want, sizeof want, " level=info event=recv data=\"%.*s\"\n",
	    LOG_DATA_MAX, data);
	expect_text(drain(), want);
	ck_assert_int_eq(LOG_DATA_MAX, 80);
	/* 80 bytes exactly are not cut; a newline after them is dropped. */
	data[80] = '\n';
	write_data(data, 81);
	expect_text(drain(), want);
}
END_TEST

START_TEST(test_log_json_keys)
{
	const char *line;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	write_accept(LOG_INFO);
	line = drain();
	expect_json(line, "\",\"level\":\"info\",\"event\":\"accept\","
	    "\"port\":7001,\"service\":\"ack\",\"peer\":\"127.0.0.1:53422\","
	    "\"conn\":17}\n");
	ck_assert_msg(json_line_valid(line), "invalid JSON: %s", line);
}
END_TEST

START_TEST(test_log_json_data)
{
	const char *line;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	WRITE_DATA("a\nb\rc\td\"e\\f\x01g\xffh\n");
	line = drain();
	ck_assert_msg(json_line_valid(line), "invalid JSON: %s", line);
	expect_json(line, "\",\"level\":\"info\",\"event\":\"recv\","
	    "\"data\":\"a\\nb\\rc\\td\\\"e\\\\f\\u0001g\\u00ffh\"}\n");
}
END_TEST

START_TEST(test_log_json_msg)
{
	struct logline l;
	const char *line;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	log_begin(&l, LOG_WARN, "reject");
	log_str(&l, "reason", "busy");
	log_str(&l, "msg", "two words \"quoted\"");
	log_end(&l);
	line = drain();
	ck_assert_msg(json_line_valid(line), "invalid JSON: %s", line);
	expect_json(line, "\",\"level\":\"warn\",\"event\":\"reject\","
	    "\"reason\":\"busy\",\"msg\":\"two words \\\"quoted\\\"\"}\n");
}
END_TEST

START_TEST(test_log_levels_filter)
{
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	ck_assert(!log_enabled(LOG_DEBUG));
	ck_assert(log_enabled(LOG_INFO));
	ck_assert(log_enabled(LOG_WARN));
	ck_assert(log_enabled(LOG_ERROR));
	log_msg(LOG_DEBUG, "cmd", "PING");
	ck_assert_str_eq(drain(), "");
	log_msg(LOG_INFO, "ready", "1");
	expect_text(drain(), " level=info event=ready msg=1\n");

	log_init(LOG_ERROR, LOG_FORMAT_TEXT, fds[1]);
	ck_assert(!log_enabled(LOG_WARN));
	log_msg(LOG_WARN, "reject", "busy");
	log_msg(LOG_INFO, "accept", "x");
	ck_assert_str_eq(drain(), "");

	log_init(LOG_DEBUG, LOG_FORMAT_TEXT, fds[1]);
	ck_assert(log_enabled(LOG_DEBUG));
	log_msg(LOG_DEBUG, "cmd", "PING");
	expect_text(drain(), " level=debug event=cmd msg=PING\n");
}
END_TEST

START_TEST(test_log_timestamp)
{
	char ts[64];
	time_t now = time(NULL);
	struct tm tm;
	int year;

	log_timestamp(ts, sizeof ts);
	ck_assert_uint_eq(strlen(ts), TS_LEN);
	ck_assert_msg(ts_valid(ts), "bad timestamp \"%s\"", ts);
	gmtime_r(&now, &tm);
	year = atoi(ts);
	ck_assert_int_ge(year, tm.tm_year + 1900);
	ck_assert_int_le(year, tm.tm_year + 1900 + 1);
	ck_assert_int_le(atoi(ts + 5), 12);
	ck_assert_int_le(atoi(ts + 11), 23);
}
END_TEST

/* Client bytes cannot forge a second line or a second key. */
START_TEST(test_log_data_injection)
{
	const char *line;

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	WRITE_DATA("x\" level=error\nts=0 event=fake");
	line = drain();
	expect_text(line, " level=info event=recv "
	    "data=\"x\\\" level=error\\nts=0 event=fake\"\n");
	ck_assert_ptr_eq(strchr(line, '\n'), line + strlen(line) - 1);
}
END_TEST

START_TEST(test_log_str_control)
{
	struct logline l;
	const char *line;

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	log_begin(&l, LOG_INFO, "x");
	log_str(&l, "user", "a\nb");
	log_end(&l);
	line = drain();
	expect_text(line, " level=info event=x user=\"a\\nb\"\n");
}
END_TEST

START_TEST(test_log_data_empty)
{
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	write_data("", 0);
	expect_text(drain(), " level=info event=recv data=\"\"\n");
}
END_TEST

/* An overlong line is cut but stays one line within LOG_LINE_MAX. */
START_TEST(test_log_overlong_line)
{
	static char big[3 * LOG_LINE_MAX];
	struct logline l;
	const char *line;
	size_t len;

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	memset(big, 'z', sizeof big - 1);
	log_begin(&l, LOG_INFO, "x");
	log_str(&l, "k", big);
	log_end(&l);
	line = drain();
	len = strlen(line);
	ck_assert_uint_le(len, LOG_LINE_MAX);
	ck_assert_uint_gt(len, LOG_LINE_MAX / 2);
	ck_assert_ptr_eq(strchr(line, '\n'), line + len - 1);
	ck_assert(ts_valid(line + 3));
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_checked_fixture(tc_core, setup, teardown);
	tcase_add_test(tc_core, test_log_text_keys);
	tcase_add_test(tc_core, test_log_text_levels_named);
	tcase_add_test(tc_core, test_log_text_quoting);
	tcase_add_test(tc_core, test_log_msg_format);
	tcase_add_test(tc_core, test_log_data_escapes);
	tcase_add_test(tc_core, test_log_data_plain);
	tcase_add_test(tc_core, test_log_data_trailing_newline);
	tcase_add_test(tc_core, test_log_data_cut);
	tcase_add_test(tc_core, test_log_json_keys);
	tcase_add_test(tc_core, test_log_json_data);
	tcase_add_test(tc_core, test_log_json_msg);
	tcase_add_test(tc_core, test_log_levels_filter);
	tcase_add_test(tc_core, test_log_timestamp);
	suite_add_tcase(s, tc_core);

	tcase_add_checked_fixture(tc_errors, setup, teardown);
	tcase_add_test(tc_errors, test_log_data_injection);
	tcase_add_test(tc_errors, test_log_str_control);
	tcase_add_test(tc_errors, test_log_data_empty);
	tcase_add_test(tc_errors, test_log_overlong_line);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
