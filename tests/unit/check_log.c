/*
 * log: lines written to a pipe and read back. logfmt keys and quoting,
 * log_data's escapes (\n \r \t \" \\ \xHH), its trailing newline dropped and
 * its cut to 80 bytes (log_data_max: to any size), signed numbers, JSON lines
 * that parse with the same keys, UTF-8 kept in JSON and read back as the
 * same characters, each byte of an invalid sequence as \ufffd, the cut on a
 * character boundary, overlong lines that stay valid, the level filter, the
 * timestamp's shape YYYY-MM-DDTHH:MM:SS.mmmZ. Async mode: lines in order and
 * whole from several threads, a pipe nobody reads (log_end stays prompt,
 * drops are counted and reported by a log_dropped line), and a stop that
 * cancels a writer blocked for good.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
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
	log_async_stop(1000);
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

/*
 * Length of the valid UTF-8 character at p, or 0. Decoded, unlike log.c's
 * table of byte ranges: overlong forms, surrogates and values past U+10FFFF
 * are out.
 */
static size_t
utf8_valid(const unsigned char *p)
{
	static const unsigned long min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	unsigned long cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string at *pp, escapes and UTF-8 checked; moves past it. */
static bool
json_string(const char **pp)
{
	const char *p = *pp;
	size_t n;
	int i;

	if (*p++ != '"')
		return false;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return false;
		if ((unsigned char)*p >= 0x80) {
			if ((n = utf8_valid((const unsigned char *)p)) == 0)
				return false;
			p += n;
			continue;
		}
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
		} else if (isdigit((unsigned char)*p) ||
		    (*p == '-' && isdigit((unsigned char)p[1]))) {
			p++;
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

static size_t
count_char(const char *p, size_t len, char c)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += p[i] == c;
	return n;
}

/* Appends code point cp to buf as UTF-8; its length. */
static size_t
utf8_put(char *buf, unsigned long cp)
{
	if (cp < 0x80) {
		buf[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		buf[0] = (char)(0xc0 | cp >> 6);
		buf[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	buf[0] = (char)(0xe0 | cp >> 12);
	buf[1] = (char)(0x80 | (cp >> 6 & 0x3f));
	buf[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

/*
 * The string value of key in a JSON line, decoded to UTF-8 bytes in buf: a
 * reader's view of it. Returns its length.
 */
static size_t
json_value(const char *line, const char *key, char *buf, size_t size)
{
	static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
	char pattern[64], hex[5];
	const char *p, *c;
	size_t len = 0;

	snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
	p = strstr(line, pattern);
	ck_assert_msg(p != NULL, "no string %s in %s", key, line);
	for (p += strlen(pattern); *p != '"'; p++) {
		ck_assert_uint_lt(len + 4, size);
		if (*p != '\\') {
			buf[len++] = *p;
			continue;
		}
		p++;
		if (*p == 'u') {
			memcpy(hex, p + 1, 4);
			hex[4] = '\0';
			len += utf8_put(buf + len, strtoul(hex, NULL, 16));
			p += 4;
			continue;
		}
		c = strchr(plain, *p);
		ck_assert_msg(*p != '\0' && c != NULL, "bad escape: %s", line);
		buf[len++] = decoded[c - plain];
	}
	return len;
}

/* A JSON line whose data value reads back as exactly want. */
static void
expect_json_data(const char *line, const char *want, size_t wantlen)
{
	char got[1024];
	size_t len;

	ck_assert_msg(json_line_valid(line), "invalid JSON: %s", line);
	len = json_value(line, "data", got, sizeof got);
	ck_assert_uint_eq(len, wantlen);
	ck_assert_mem_eq(got, want, len);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fills the pipe with newlines until a blocking write would block. */
static void
fill_pipe(void)
{
	static char chunk[4096];
	int flags = fcntl(fds[1], F_GETFL);
	size_t size;

	memset(chunk, '\n', sizeof chunk);
	ck_assert_int_ne(fcntl(fds[1], F_SETFL, flags | O_NONBLOCK), -1);
	for (size = sizeof chunk; size >= 1; size /= 8) {
		while (write(fds[1], chunk, size) > 0)
			;
		ck_assert_int_eq(errno, EAGAIN);
	}
	ck_assert_int_ne(fcntl(fds[1], F_SETFL, flags), -1);
}

/* Everything read from the pipe in async tests, NUL-terminated. */
struct sink {
	char	*s_buf;
	size_t	 s_len;
	size_t	 s_size;
	size_t	 s_lines;	/* newlines in s_buf */
};

/* Appends one read's worth from the pipe; false if it had nothing. */
static bool
sink_read_once(struct sink *s)
{
	ssize_t n;

	if (s->s_size - s->s_len < 65536) {
		s->s_size = s->s_size * 2 + 65536;
		s->s_buf = realloc(s->s_buf, s->s_size);
		ck_assert_ptr_nonnull(s->s_buf);
	}
	do
		n = read(fds[0], s->s_buf + s->s_len, s->s_size - 1 - s->s_len);
	while (n == -1 && errno == EINTR);
	if (n > 0) {
		s->s_lines += count_char(s->s_buf + s->s_len, (size_t)n, '\n');
		s->s_len += (size_t)n;
	}
	s->s_buf[s->s_len] = '\0';
	return n > 0;
}

/* Appends what the pipe holds now. */
static void
sink_read(struct sink *s)
{
	while (sink_read_once(s))
		;
}

/* Times needle occurs in text. */
static size_t
count_str(const char *text, const char *needle)
{
	size_t n = 0;

	while ((text = strstr(text, needle)) != NULL) {
		text++;
		n++;
	}
	return n;
}

/*
 * Reads until the text holds needle count times (or, if needle is NULL,
 * count newlines), or ms pass; not a read more, so that the writer can be
 * caught partway through its queue.
 */
static void
sink_wait(struct sink *s, const char *needle, size_t count, int ms)
{
	struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
	long deadline = now_ms() + ms;

	for (;;) {
		if (needle == NULL ? s->s_lines >= count : s->s_buf != NULL &&
		    count_str(s->s_buf, needle) >= count)
			return;
		if (now_ms() >= deadline)
			return;
		if (!sink_read_once(s))
			poll(&pfd, 1, 50);
	}
}

/* The next non-empty line of the sink, cut in place; NULL at the end. */
static char *
sink_line(char **cursor)
{
	char *line, *nl;

	while (**cursor == '\n')
		(*cursor)++;
	if (**cursor == '\0')
		return NULL;
	line = *cursor;
	nl = strchr(line, '\n');
	ck_assert_msg(nl != NULL, "a line without its newline: %s", line);
	*nl = '\0';
	*cursor = nl + 1;
	return line;
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
	    "\"data\":\"a\\nb\\rc\\td\\\"e\\\\f\\u0001g\\ufffdh\"}\n");
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

START_TEST(test_log_int)
{
	struct logline l;
	const char *line;

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	log_begin(&l, LOG_INFO, "x");
	log_int(&l, "neg", -42);
	log_int(&l, "zero", 0);
	log_int(&l, "min", LLONG_MIN);
	log_int(&l, "max", LLONG_MAX);
	log_end(&l);
	expect_text(drain(), " level=info event=x neg=-42 zero=0 "
	    "min=-9223372036854775808 max=9223372036854775807\n");

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	log_begin(&l, LOG_INFO, "x");
	log_int(&l, "neg", -42);
	log_uint(&l, "big", ULLONG_MAX);
	log_end(&l);
	line = drain();
	ck_assert_msg(json_line_valid(line), "invalid JSON: %s", line);
	expect_json(line, "\",\"level\":\"info\",\"event\":\"x\",\"neg\":-42,"
	    "\"big\":18446744073709551615}\n");
}
END_TEST

/* café, an emoji (4 bytes), CJK (3 bytes each) */
static const char utf8_text[] =
    "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87";

/* JSON keeps valid UTF-8 as the characters themselves, in both calls. */
START_TEST(test_log_json_utf8)
{
	struct logline l;
	const char *line;
	char got[256], want[256];
	size_t len;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	log_begin(&l, LOG_INFO, "x");
	log_str(&l, "s", utf8_text);
	log_data(&l, "data", utf8_text, sizeof utf8_text - 1);
	log_end(&l);
	line = drain();
	expect_json_data(line, utf8_text, sizeof utf8_text - 1);
	len = json_value(line, "s", got, sizeof got);
	ck_assert_uint_eq(len, sizeof utf8_text - 1);
	ck_assert_mem_eq(got, utf8_text, len);
	/* As raw bytes, not as escapes. */
	snprintf(want, sizeof want, "\"data\":\"%s\"}", utf8_text);
	ck_assert_msg(strstr(line, want) != NULL, "not raw UTF-8: %s", line);
}
END_TEST

/* Text logs are as they were: every byte >= 0x80 as \xHH. */
START_TEST(test_log_text_utf8)
{
	struct logline l;

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	log_begin(&l, LOG_INFO, "x");
	log_str(&l, "s", "caf\xc3\xa9");
	log_data(&l, "data", "\xe4\xb8\xad", 3);
	log_end(&l);
	expect_text(drain(), " level=info event=x s=\"caf\\xc3\\xa9\" "
	    "data=\"\\xe4\\xb8\\xad\"\n");
}
END_TEST

/* Control characters, DEL and NUL take JSON escapes. */
START_TEST(test_log_json_controls)
{
	const char *line;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	WRITE_DATA("\x01\x1f\x7f\0 \b\f~");
	line = drain();
	expect_json(line, "\",\"level\":\"info\",\"event\":\"recv\",\"data\":"
	    "\"\\u0001\\u001f\\u007f\\u0000 \\u0008\\u000c~\"}\n");
	expect_json_data(line, "\x01\x1f\x7f\0 \b\f~", 8);
}
END_TEST

/* The 80-byte cut in JSON leaves out a character it would split. */
START_TEST(test_log_json_cut_utf8)
{
	static const struct {
		size_t		 pad;	/* 'a's before the tail */
		const char	*tail;
		size_t		 keep;	/* bytes of the tail kept */
	} cases[] = {
		{ 79, "\xc3\xa9", 0 },		/* é over the limit */
		{ 78, "\xc3\xa9", 2 },		/* é ends at 80 */
		{ 78, "\xe4\xb8\xad", 0 },
		{ 77, "\xe4\xb8\xad", 3 },
		{ 77, "\xf0\x9f\x98\x80", 0 },
		{ 76, "\xf0\x9f\x98\x80", 4 },
		{ 79, "\xc3\xa9\n", 0 },	/* the newline goes first */
	};
	char data[128], want[128];
	size_t i, n;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(data, 'a', cases[i].pad);
		n = strlen(cases[i].tail);
		memcpy(data + cases[i].pad, cases[i].tail, n);
		write_data(data, cases[i].pad + n);
		memcpy(want, data, cases[i].pad + cases[i].keep);
		expect_json_data(drain(), want, cases[i].pad + cases[i].keep);
	}
	/* Twenty emoji are 80 bytes: all kept; a 21st is left out. */
	for (i = 0; i < 21; i++)
		memcpy(data + 4 * i, "\xf0\x9f\x98\x80", 4);
	write_data(data, 84);
	expect_json_data(drain(), data, 80);
	/* An invalid byte is one byte: 0xff at byte 80 stays, as U+FFFD. */
	memset(data, 'a', 79);
	memcpy(data + 79, "\xff\xff", 2);
	write_data(data, 81);
	memcpy(want, data, 79);
	memcpy(want + 79, "\xef\xbf\xbd", 3);
	expect_json_data(drain(), want, 82);
	/* Text cuts bytes, as before. */
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	memset(data, 'a', 79);
	memcpy(data + 79, "\xc3\xa9", 2);
	write_data(data, 81);
	snprintf(want, sizeof want, " level=info event=recv data=\"%.79s"
	    "\\xc3\"\n", data);
	expect_text(drain(), want);
}
END_TEST

/* log_data_max: 200 bytes of escapes, the longest field, fit whole. */
START_TEST(test_log_data_max)
{
	char data[300], want[2048], got[1024];
	const char *line;
	size_t i, n;

	memset(data, 1, sizeof data);
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	n = (size_t)snprintf(want, sizeof want, " level=info event=recv "
	    "data=\"");
	for (i = 0; i < 200; i++)
		n += (size_t)snprintf(want + n, sizeof want - n, "\\x01");
	snprintf(want + n, sizeof want - n, "\"\n");
	{
		struct logline l;

		log_begin(&l, LOG_INFO, "recv");
		log_data_max(&l, "data", data, sizeof data, 200);
		log_end(&l);
	}
	expect_text(drain(), want);

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	for (i = 0; i < 2; i++) {
		struct logline l;

		memset(data, i == 0 ? 1 : 0xff, sizeof data);
		log_begin(&l, LOG_INFO, "recv");
		log_data_max(&l, "data", data, sizeof data, 200);
		log_uint(&l, "after", 7);
		log_end(&l);
		line = drain();
		ck_assert_msg(json_line_valid(line), "invalid JSON: %s", line);
		ck_assert_msg(strstr(line, ",\"after\":7}\n") != NULL,
		    "field after the data lost: %s", line);
		n = json_value(line, "data", got, sizeof got);
		ck_assert_uint_eq(n, i == 0 ? 200 : 600);
		if (i == 0)
			ck_assert_mem_eq(got, data, 200);
		else
			ck_assert_mem_eq(got + 597, "\xef\xbf\xbd", 3);
	}
}
END_TEST

START_TEST(test_log_data_max_small)
{
	struct logline l;

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	log_begin(&l, LOG_INFO, "recv");
	log_data_max(&l, "none", "abc", 3, 0);
	log_data_max(&l, "two", "abc", 3, 2);
	log_data_max(&l, "all", "abc\n", 4, 1000);
	log_end(&l);
	expect_text(drain(), " level=info event=recv none=\"\" two=\"ab\" "
	    "all=\"abc\"\n");
}
END_TEST

#define FLOOD_DATA "0123456789abcdefghijklmnopqrstuvwxyz"

struct flood_arg {
	int	fa_id;
	int	fa_lines;
};

static void *
flood(void *arg)
{
	const struct flood_arg *fa = arg;
	struct logline l;
	int i;

	for (i = 0; i < fa->fa_lines; i++) {
		log_begin(&l, LOG_INFO, "seq");
		log_uint(&l, "thread", (unsigned)fa->fa_id);
		log_uint(&l, "n", (unsigned)i);
		log_data(&l, "data", FLOOD_DATA, sizeof FLOOD_DATA - 1);
		log_end(&l);
	}
	return NULL;
}

#define THREADS 4
#define PER_THREAD 1000

/* Lines from several threads arrive whole, each thread's in order. */
START_TEST(test_log_async_order)
{
	struct flood_arg fa[THREADS];
	pthread_t t[THREADS];
	struct sink s = { 0 };
	int next[THREADS] = { 0 }, id, n, end;
	unsigned long long before = log_dropped();
	char *cursor, *line;
	size_t i, total = 0;

	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	ck_assert_int_eq(log_async_start(0), 0);
	for (i = 0; i < THREADS; i++) {
		fa[i].fa_id = (int)i;
		fa[i].fa_lines = PER_THREAD;
		ck_assert_int_eq(pthread_create(&t[i], NULL, flood, &fa[i]), 0);
	}
	/* The pipe holds less than all of it: read while they write. */
	sink_wait(&s, NULL, THREADS * PER_THREAD, 10000);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	log_async_stop(5000);
	sink_read(&s);

	cursor = s.s_buf;
	while ((line = sink_line(&cursor)) != NULL) {
		end = 0;
		ck_assert_msg(strncmp(line, "ts=", 3) == 0 &&
		    ts_valid(line + 3), "bad line: %s", line);
		ck_assert_msg(sscanf(line + 3 + TS_LEN, " level=info event=seq "
		    "thread=%d n=%d data=\"" FLOOD_DATA "\"%n", &id, &n,
		    &end) == 2 && end > 0 && line[3 + TS_LEN + end] == '\0',
		    "bad line: %s", line);
		ck_assert_int_lt(id, THREADS);
		ck_assert_int_eq(n, next[id]);
		next[id]++;
		total++;
	}
	ck_assert_uint_eq(total, THREADS * PER_THREAD);
	ck_assert_uint_eq(log_dropped(), before);
	free(s.s_buf);
}
END_TEST

/* A line too big for the queue is dropped; the notice says so, in JSON. */
START_TEST(test_log_async_json_notice)
{
	struct sink s = { 0 };
	unsigned long long before = log_dropped(), sum = 0;
	char *cursor, *line, *p, copy[LOG_LINE_MAX + 2];

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	ck_assert_int_eq(log_async_start(16), 0);
	log_msg(LOG_INFO, "big", "no line fits in 16 bytes");
	log_msg(LOG_INFO, "big", "nor this one");
	log_msg(LOG_INFO, "big", "nor this one");
	log_async_stop(5000);
	ck_assert_uint_eq(log_dropped() - before, 3);
	sink_read(&s);
	cursor = s.s_buf;
	while ((line = sink_line(&cursor)) != NULL) {
		/* json_line_valid wants the newline. */
		snprintf(copy, sizeof copy, "%s\n", line);
		ck_assert_msg(json_line_valid(copy), "invalid JSON: %s", line);
		ck_assert_msg(strstr(line, ",\"level\":\"warn\",\"event\":"
		    "\"log_dropped\",\"lines\":") != NULL, "not a notice: %s",
		    line);
		p = strstr(line, "\"lines\":");
		sum += strtoull(p + 8, NULL, 10);
	}
	ck_assert_uint_eq(sum, 3);
	free(s.s_buf);
}
END_TEST

static const struct {
	const char	*in;
	size_t		 len;
	const char	*want;		/* the escaped value */
	size_t		 bad;		/* U+FFFDs read back */
} utf8_invalid[] = {
	{ "\xff", 1, "\\ufffd", 1 },
	{ "a\x80z", 3, "a\\ufffdz", 1 },		/* continuation */
	{ "x\xe2\x82", 3, "x\\ufffd\\ufffd", 2 },		/* truncated */
	{ "\xe4\xb8z", 3, "\\ufffd\\ufffdz", 2 },
	{ "\xc0\xaf", 2, "\\ufffd\\ufffd", 2 },		/* overlong / */
	{ "\xe0\x80\xaf", 3, "\\ufffd\\ufffd\\ufffd", 3 },
	/* a surrogate */
	{ "\xed\xa0\x80", 3, "\\ufffd\\ufffd\\ufffd", 3 },
	{ "\xf4\x90\x80\x80", 4, "\\ufffd\\ufffd\\ufffd\\ufffd", 4 },
	{ "\xf8\x88", 2, "\\ufffd\\ufffd", 2 },
	{ "\xc3\xa9\xa9", 3, "\xc3\xa9\\ufffd", 1 },
};

/* Each byte of an invalid sequence is one \ufffd, never a raw byte. */
START_TEST(test_log_json_invalid_utf8)
{
	char want[256], got[256];
	const char *line;
	size_t i, j, n, bad;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	for (i = 0; i < sizeof utf8_invalid / sizeof utf8_invalid[0]; i++) {
		write_data(utf8_invalid[i].in, utf8_invalid[i].len);
		line = drain();
		ck_assert_msg(json_line_valid(line), "invalid JSON: %s", line);
		snprintf(want, sizeof want, "\",\"level\":\"info\",\"event\":"
		    "\"recv\",\"data\":\"%s\"}\n", utf8_invalid[i].want);
		expect_json(line, want);
		n = json_value(line, "data", got, sizeof got);
		for (j = bad = 0; j + 3 <= n; j++)
			bad += memcmp(got + j, "\xef\xbf\xbd", 3) == 0;
		ck_assert_uint_eq(bad, utf8_invalid[i].bad);
	}
}
END_TEST

/* An overlong JSON line is cut between characters and still parses. */
START_TEST(test_log_json_overlong)
{
	static const char *const units[] = { "z", "\xe4\xb8\xad", "\x01",
	    "\xff", "\"" };
	static char big[3 * LOG_LINE_MAX];
	struct logline l;
	const char *line;
	size_t i, len, n, u;

	log_init(LOG_INFO, LOG_FORMAT_JSON, fds[1]);
	for (u = 0; u < sizeof units / sizeof units[0]; u++) {
		n = strlen(units[u]);
		for (i = 0; i + n < sizeof big; i += n)
			memcpy(big + i, units[u], n);
		big[i] = '\0';
		log_begin(&l, LOG_INFO, "x");
		log_str(&l, "k", big);
		log_uint(&l, "after", 1);
		log_end(&l);
		line = drain();
		len = strlen(line);
		ck_assert_uint_le(len, LOG_LINE_MAX);
		ck_assert_uint_gt(len, LOG_LINE_MAX / 2);
		ck_assert_msg(json_line_valid(line), "invalid JSON: %s", line);
		ck_assert_ptr_null(strstr(line, "after"));
	}
	/* A number that does not fit is left out whole, and what follows. */
	memset(big, 'z', LOG_LINE_MAX - 73);
	big[LOG_LINE_MAX - 73] = '\0';
	log_begin(&l, LOG_INFO, "x");
	log_str(&l, "k", big);
	log_int(&l, "neg", -1234567);
	log_int(&l, "n", 1);
	log_end(&l);
	line = drain();
	ck_assert_uint_le(strlen(line), LOG_LINE_MAX);
	ck_assert_msg(json_line_valid(line), "invalid JSON: %s", line);
	ck_assert_ptr_null(strstr(line, "neg"));
	ck_assert_ptr_null(strstr(line, "\"n\""));
}
END_TEST

#define FLOOD_LINES 10000

static void *
stopper(void *arg)
{
	atomic_bool *stopped = arg;

	log_async_stop(5000);
	atomic_store(stopped, true);
	return NULL;
}

/* log_async_stop while the pipe is read, so that the queue drains whole. */
static void
stop_while_reading(struct sink *s)
{
	struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
	atomic_bool stopped = false;
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, stopper, &stopped), 0);
	while (!atomic_load(&stopped)) {
		sink_read(s);
		poll(&pfd, 1, 10);
	}
	pthread_join(t, NULL);
	sink_read(s);
}

/* Logs FLOOD_LINES lines numbered from first; each log_end must be prompt. */
static void
flood_prompt(unsigned first)
{
	struct logline l;
	long start = now_ms(), t, worst = 0;
	unsigned i;

	for (i = first; i < first + FLOOD_LINES; i++) {
		t = now_ms();
		log_begin(&l, LOG_INFO, "flood");
		log_uint(&l, "n", i);
		log_end(&l);
		if (now_ms() - t > worst)
			worst = now_ms() - t;
	}
	ck_assert_msg(now_ms() - start < 5000, "%d lines took %ld ms",
	    FLOOD_LINES, now_ms() - start);
	ck_assert_int_lt(worst, 1000);
}

/*
 * Checks every line read: flood lines in order, notices; returns the flood
 * lines and adds the notices' counts to *sum.
 */
static unsigned long long
flood_lines(char *text, unsigned long long *sum)
{
	unsigned long long arrived = 0, last = 0, got;
	char *line;
	int end;

	while ((line = sink_line(&text)) != NULL) {
		ck_assert_msg(strncmp(line, "ts=", 3) == 0 &&
		    ts_valid(line + 3), "bad line: %s", line);
		line += 3 + TS_LEN;
		end = 0;
		if (sscanf(line, " level=info event=flood n=%llu%n", &got,
		    &end) == 1 && line[end] == '\0') {
			ck_assert_uint_gt(got, last);	/* in order */
			last = got;
			arrived++;
			continue;
		}
		ck_assert_msg(sscanf(line, " level=warn event=log_dropped "
		    "lines=%llu%n", &got, &end) == 1 && line[end] == '\0',
		    "bad line: %s", line);
		*sum += got;
	}
	return arrived;
}

/*
 * A pipe nobody reads: log_end stays prompt, lines are dropped and counted,
 * and once the pipe is read the writer says how many. Twice: the second time
 * the writer is stuck partway through its queue, and with a non-blocking
 * descriptor in the middle of a line, where its notice must not go. Every
 * line logged either arrives whole or is counted in a notice.
 */
static void
stalled_reader(bool nonblock, size_t queue)
{
	struct sink s = { 0 };
	unsigned long long before = log_dropped(), round_start, dropped;
	unsigned long long sum = 0;
	size_t round;

	fill_pipe();
	if (nonblock)
		ck_assert_int_ne(fcntl(fds[1], F_SETFL, O_NONBLOCK), -1);
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	ck_assert_int_eq(log_async_start(queue), 0);
	for (round = 1; round <= 2; round++) {
		round_start = log_dropped();
		flood_prompt(1 + (unsigned)(round - 1) * FLOOD_LINES);
		ck_assert_uint_gt(log_dropped() - round_start, 0);
		/* Read until the writer has caught up with the drops. */
		sink_wait(&s, "event=log_dropped", round, 5000);
		ck_assert_msg(count_str(s.s_buf, "event=log_dropped") >= round,
		    "no log_dropped line after the pipe was read");
	}
	dropped = log_dropped() - before;
	stop_while_reading(&s);
	ck_assert_uint_eq(log_dropped() - before, dropped);
	ck_assert_uint_eq(flood_lines(s.s_buf, &sum) + dropped,
	    2 * FLOOD_LINES);
	ck_assert_uint_eq(sum, dropped);
	free(s.s_buf);
}

START_TEST(test_log_async_stalled_reader)
{
	stalled_reader(false, 4096);
}
END_TEST

START_TEST(test_log_async_stalled_nonblock)
{
	stalled_reader(true, 256 * 1024);
}
END_TEST

/* A writer blocked for good is cancelled at the deadline; logs go on. */
START_TEST(test_log_async_stop_stalled)
{
	unsigned long long before = log_dropped();
	const char *rest;
	long start, took;
	int i;

	fill_pipe();
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	ck_assert_int_eq(log_async_start(0), 0);
	for (i = 0; i < 100; i++)
		log_msg(LOG_INFO, "stalled", "line %d", i);
	start = now_ms();
	log_async_stop(300);
	took = now_ms() - start;
	ck_assert_int_ge(took, 250);
	ck_assert_int_lt(took, 300 + 2000);
	ck_assert_uint_eq(log_dropped() - before, 100);

	/* Nothing of them reached the pipe: only the filler is there. */
	while (*(rest = drain()) != '\0')
		ck_assert_uint_eq(strspn(rest, "\n"), strlen(rest));
	log_msg(LOG_INFO, "after", "x");
	expect_text(drain(), " level=info event=after msg=x\n");
}
END_TEST

START_TEST(test_log_async_start_stop)
{
	log_init(LOG_INFO, LOG_FORMAT_TEXT, fds[1]);
	log_async_stop(0);		/* not started: nothing happens */
	log_async_stop(1000);
	ck_assert_int_eq(log_async_start(0), 0);
	errno = 0;
	ck_assert_int_eq(log_async_start(0), -1);
	ck_assert_int_eq(errno, EBUSY);
	log_msg(LOG_INFO, "one", "x");
	log_async_stop(5000);
	log_async_stop(5000);		/* twice is fine */
	expect_text(drain(), " level=info event=one msg=x\n");

	/* Again, and synchronous after it. */
	ck_assert_int_eq(log_async_start(100), 0);
	log_msg(LOG_INFO, "two", "x");
	log_async_stop(5000);
	expect_text(drain(), " level=info event=two msg=x\n");
	log_msg(LOG_INFO, "three", "x");
	expect_text(drain(), " level=info event=three msg=x\n");
	/* errno survives log_end, queued or not. */
	ck_assert_int_eq(log_async_start(0), 0);
	errno = ENOENT;
	log_msg(LOG_INFO, "four", "x");
	ck_assert_int_eq(errno, ENOENT);
	log_async_stop(5000);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_checked_fixture(tc_core, setup, teardown);
	/* Async tests wait up to 5 s for a stalled pipe by design. */
	tcase_set_timeout(tc_core, 20);
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
	tcase_add_test(tc_core, test_log_int);
	tcase_add_test(tc_core, test_log_json_utf8);
	tcase_add_test(tc_core, test_log_text_utf8);
	tcase_add_test(tc_core, test_log_json_controls);
	tcase_add_test(tc_core, test_log_json_cut_utf8);
	tcase_add_test(tc_core, test_log_data_max);
	tcase_add_test(tc_core, test_log_data_max_small);
	tcase_add_test(tc_core, test_log_async_order);
	tcase_add_test(tc_core, test_log_async_json_notice);
	suite_add_tcase(s, tc_core);

	tcase_add_checked_fixture(tc_errors, setup, teardown);
	tcase_set_timeout(tc_errors, 20);
	tcase_add_test(tc_errors, test_log_data_injection);
	tcase_add_test(tc_errors, test_log_str_control);
	tcase_add_test(tc_errors, test_log_data_empty);
	tcase_add_test(tc_errors, test_log_overlong_line);
	tcase_add_test(tc_errors, test_log_json_invalid_utf8);
	tcase_add_test(tc_errors, test_log_json_overlong);
	tcase_add_test(tc_errors, test_log_async_stalled_reader);
	tcase_add_test(tc_errors, test_log_async_stalled_nonblock);
	tcase_add_test(tc_errors, test_log_async_stop_stalled);
	tcase_add_test(tc_errors, test_log_async_start_stop);
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
