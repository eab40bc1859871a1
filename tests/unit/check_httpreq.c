/*
 * httpreq: the request heads real clients send (Prometheus, curl GET and
 * HEAD, wget, HTTP/1.0 with and without keep-alive), pipelined requests,
 * query strings, absolute-form, bodies announced, leading empty lines, bare
 * LF; every prefix of a valid head is NEED; every error class (400, 431,
 * 505) on complete input and, where the bytes already say so, on the
 * shortest prefix; the 8 KiB limit at exactly 8192 bytes and one more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "httpreq.h"

#define PROMETHEUS_ACCEPT "application/openmetrics-text;version=1.0.0," \
	"application/openmetrics-text;version=0.0.1;q=0.75," \
	"text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

/* What Prometheus 2.x sends for a scrape (Go net/http, HTTP/1.1). */
static const char prometheus[] =
    "GET /metrics HTTP/1.1\r\n"
    "Host: 127.0.0.1:9100\r\n"
    "User-Agent: Prometheus/2.53.0\r\n"
    "Accept: " PROMETHEUS_ACCEPT "\r\n"
    "Accept-Encoding: gzip\r\n"
    "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
    "\r\n";

static struct httpreq req;

/* How much of an input a failure message shows (Check's are short). */
static int
shown(size_t len)
{
	return len < 64 ? (int)len : 64;
}

/* Every proper prefix of a head is NEED: nothing is decided too early. */
static void
expect_prefixes_need(const char *buf, size_t head_len)
{
	struct httpreq r;
	size_t k;
	int rc;

	for (k = 0; k < head_len; k++) {
		rc = httpreq_parse(buf, k, &r);
		ck_assert_msg(rc == HTTPREQ_NEED,
		    "prefix of %zu bytes: %d (status %d), not NEED", k, rc,
		    r.hr_status);
		ck_assert_int_eq(r.hr_status, 0);
	}
}

/* buf[0..len) holds a head of head_len bytes: DONE, and NEED before. */
static void
parse_head(const char *buf, size_t len, size_t head_len)
{
	int rc;

	expect_prefixes_need(buf, head_len);
	rc = httpreq_parse(buf, len, &req);
	ck_assert_msg(rc == HTTPREQ_DONE, "\"%.*s\": %d (status %d)",
	    shown(len), buf, rc, req.hr_status);
	ck_assert_uint_eq(req.hr_head_len, head_len);
}

/* s is exactly one head. */
static void
parse_ok(const char *s)
{
	parse_head(s, strlen(s), strlen(s));
}

static void
expect_request(enum httpreq_method method, const char *path, int minor,
    bool keep_alive, bool has_body)
{
	ck_assert_int_eq(req.hr_method, method);
	ck_assert_str_eq(req.hr_path, path);
	ck_assert_int_eq(req.hr_minor, minor);
	ck_assert_int_eq(req.hr_keep_alive, keep_alive);
	ck_assert_int_eq(req.hr_has_body, has_body);
}

/* An error: the whole input says status; each prefix NEED or the same. */
static void
expect_error(const char *buf, size_t len, int status)
{
	struct httpreq r;
	size_t k;
	int rc;

	rc = httpreq_parse(buf, len, &r);
	ck_assert_msg(rc == HTTPREQ_ERROR, "\"%.*s\": %d, not ERROR",
	    shown(len), buf, rc);
	ck_assert_msg(r.hr_status == status, "\"%.*s\": %d, not %d",
	    shown(len), buf, r.hr_status, status);
	for (k = 0; k < len; k++) {
		rc = httpreq_parse(buf, k, &r);
		ck_assert_msg(rc == HTTPREQ_NEED || (rc == HTTPREQ_ERROR &&
		    r.hr_status == status), "prefix %zu of \"%.*s\": %d (%d)",
		    k, shown(len), buf, rc, r.hr_status);
	}
}

/* A head "GET /metrics HTTP/1.1" with one padding field, of size bytes. */
static char *
make_head(size_t size, size_t extra)
{
	static const char first[] = "GET /metrics HTTP/1.1\r\nX-Pad: ";
	static const char last[] = "\r\n\r\n";
	size_t pad = size - (sizeof first - 1) - (sizeof last - 1);
	char *buf;

	ck_assert_ptr_nonnull(buf = malloc(size + extra));
	memcpy(buf, first, sizeof first - 1);
	memset(buf + sizeof first - 1, 'a', pad);
	memcpy(buf + size - (sizeof last - 1), last, sizeof last - 1);
	memset(buf + size, 'x', extra);
	return buf;
}

START_TEST(test_httpreq_prometheus)
{
	parse_ok(prometheus);
	expect_request(HTTPREQ_GET, "/metrics", 1, true, false);
}
END_TEST

START_TEST(test_httpreq_curl_get)
{
	parse_ok("GET /metrics HTTP/1.1\r\n"
	    "Host: 127.0.0.1:9100\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "\r\n");
	expect_request(HTTPREQ_GET, "/metrics", 1, true, false);
}
END_TEST

START_TEST(test_httpreq_curl_head)
{
	parse_ok("HEAD /healthz HTTP/1.1\r\n"
	    "Host: [::1]:9100\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "\r\n");
	expect_request(HTTPREQ_HEAD, "/healthz", 1, true, false);
}
END_TEST

START_TEST(test_httpreq_wget)
{
	parse_ok("GET /metrics HTTP/1.1\r\n"
	    "Host: localhost:9100\r\n"
	    "User-Agent: Wget/1.21.3\r\n"
	    "Accept: */*\r\n"
	    "Accept-Encoding: identity\r\n"
	    "Connection: Keep-Alive\r\n"
	    "\r\n");
	expect_request(HTTPREQ_GET, "/metrics", 1, true, false);
}
END_TEST

START_TEST(test_httpreq_http10)
{
	parse_ok("GET /healthz HTTP/1.0\r\n\r\n");
	expect_request(HTTPREQ_GET, "/healthz", 0, false, false);
	parse_ok("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	expect_request(HTTPREQ_GET, "/healthz", 0, true, false);
	parse_ok("GET /healthz HTTP/1.0\r\nconnection: KEEP-ALIVE\r\n\r\n");
	expect_request(HTTPREQ_GET, "/healthz", 0, true, false);
	parse_ok("HEAD / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
	expect_request(HTTPREQ_HEAD, "/", 0, false, false);
	parse_ok("GET / HTTP/1.0\r\nConnection: keep-alived\r\n\r\n");
	expect_request(HTTPREQ_GET, "/", 0, false, false);
}
END_TEST

START_TEST(test_httpreq_connection_close)
{
	parse_ok("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
	expect_request(HTTPREQ_GET, "/", 1, false, false);
	parse_ok("GET / HTTP/1.1\r\nCONNECTION:CLOSE\r\n\r\n");
	expect_request(HTTPREQ_GET, "/", 1, false, false);
	parse_ok("GET / HTTP/1.1\r\n"
	    "Connection: \t Upgrade ,, close \t\r\n\r\n");
	expect_request(HTTPREQ_GET, "/", 1, false, false);
	parse_ok("GET / HTTP/1.1\r\nConnection: TE\r\n"
	    "Connection: close\r\n\r\n");
	expect_request(HTTPREQ_GET, "/", 1, false, false);
	parse_ok("GET / HTTP/1.1\r\nConnection: closed, x-close\r\n\r\n");
	expect_request(HTTPREQ_GET, "/", 1, true, false);
	parse_ok("GET / HTTP/1.1\r\nX-Connection: close\r\n\r\n");
	expect_request(HTTPREQ_GET, "/", 1, true, false);
}
END_TEST

START_TEST(test_httpreq_pipelined)
{
	static const char in[] =
	    "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n"
	    "HEAD /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	    "GET /x HTTP/1.1\r\nHo";
	size_t first = strlen("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
	size_t second = strlen("HEAD /healthz HTTP/1.1\r\nHost: a\r\n"
	    "Connection: close\r\n\r\n");

	parse_head(in, sizeof in - 1, first);
	expect_request(HTTPREQ_GET, "/metrics", 1, true, false);
	parse_head(in + first, sizeof in - 1 - first, second);
	expect_request(HTTPREQ_HEAD, "/healthz", 1, false, false);
	ck_assert_int_eq(httpreq_parse(in + first + second,
	    sizeof in - 1 - first - second, &req), HTTPREQ_NEED);
}
END_TEST

/* Bytes after the head, garbage included, are the next request's. */
START_TEST(test_httpreq_after_head_untouched)
{
	static const char in[] = "GET /a HTTP/1.1\n\n\0\x01 \r\r junk";

	parse_head(in, sizeof in - 1, strlen("GET /a HTTP/1.1\n\n"));
	expect_request(HTTPREQ_GET, "/a", 1, true, false);
}
END_TEST

START_TEST(test_httpreq_query)
{
	parse_ok("GET /metrics?name[]=up&x=%20 HTTP/1.1\r\n\r\n");
	ck_assert_str_eq(req.hr_path, "/metrics");
	parse_ok("GET /healthz#frag HTTP/1.1\r\n\r\n");
	ck_assert_str_eq(req.hr_path, "/healthz");
	parse_ok("GET /?a/b?c#d HTTP/1.1\r\n\r\n");
	ck_assert_str_eq(req.hr_path, "/");
	parse_ok("GET /a%2Fb//c/./.. HTTP/1.1\r\n\r\n");
	ck_assert_str_eq(req.hr_path, "/a%2Fb//c/./..");
}
END_TEST

START_TEST(test_httpreq_absolute_form)
{
	parse_ok("GET http://127.0.0.1:9100/metrics?x=1 HTTP/1.1\r\n\r\n");
	expect_request(HTTPREQ_GET, "/metrics", 1, true, false);
	parse_ok("GET HTTPS://[::1]:9100/healthz HTTP/1.1\r\n\r\n");
	ck_assert_str_eq(req.hr_path, "/healthz");
	parse_ok("GET http://localhost HTTP/1.0\r\n\r\n");
	ck_assert_str_eq(req.hr_path, "/");
	parse_ok("HEAD hTtP://localhost?q=/metrics HTTP/1.1\r\n\r\n");
	expect_request(HTTPREQ_HEAD, "/", 1, true, false);
}
END_TEST

/* A path longer than hr_path holds is "" (a 404), not cut short. */
START_TEST(test_httpreq_long_path)
{
	char in[HTTPREQ_PATH_MAX + 64], want[HTTPREQ_PATH_MAX];

	memset(want, 'p', sizeof want - 1);
	want[0] = '/';
	want[sizeof want - 1] = '\0';
	snprintf(in, sizeof in, "GET %s?q HTTP/1.1\r\n\r\n", want);
	parse_ok(in);
	ck_assert_str_eq(req.hr_path, want);
	snprintf(in, sizeof in, "GET %sp?q HTTP/1.1\r\n\r\n", want);
	parse_ok(in);
	ck_assert_str_eq(req.hr_path, "");
	snprintf(in, sizeof in, "GET http://h%sp HTTP/1.1\r\n\r\n", want);
	parse_ok(in);
	ck_assert_str_eq(req.hr_path, "");
}
END_TEST

START_TEST(test_httpreq_other_methods)
{
	parse_ok("POST /metrics HTTP/1.1\r\n\r\n");
	expect_request(HTTPREQ_OTHER, "/metrics", 1, true, false);
	parse_ok("get /metrics HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(req.hr_method, HTTPREQ_OTHER);
	parse_ok("GETS /metrics HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(req.hr_method, HTTPREQ_OTHER);
	parse_ok("HEA /metrics HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(req.hr_method, HTTPREQ_OTHER);
	parse_ok("M-SEARCH! /x HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(req.hr_method, HTTPREQ_OTHER);
}
END_TEST

START_TEST(test_httpreq_body)
{
	static const char in[] = "POST /metrics HTTP/1.1\r\nHost: a\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

	parse_head(in, sizeof in - 1, sizeof in - 1 - 5);
	expect_request(HTTPREQ_OTHER, "/metrics", 1, true, true);
	parse_ok("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	ck_assert(req.hr_has_body);
	parse_ok("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
	ck_assert(req.hr_has_body);
	parse_ok("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	ck_assert(!req.hr_has_body);
	parse_ok("GET / HTTP/1.1\r\nContent-Length:  007 \r\n"
	    "content-length: 7\r\n\r\n");
	ck_assert(req.hr_has_body);
	parse_ok("PUT / HTTP/1.1\r\n"
	    "Content-Length: 18446744073709551615\r\n\r\n");
	ck_assert(req.hr_has_body);
}
END_TEST

START_TEST(test_httpreq_bare_lf)
{
	parse_ok("GET /metrics HTTP/1.1\nHost: a\nAccept: */*\n\n");
	expect_request(HTTPREQ_GET, "/metrics", 1, true, false);
	parse_ok("GET /metrics HTTP/1.1\nHost: a\r\n\r\n");
	expect_request(HTTPREQ_GET, "/metrics", 1, true, false);
	parse_ok("GET /metrics HTTP/1.0\r\n\n");
	expect_request(HTTPREQ_GET, "/metrics", 0, false, false);
}
END_TEST

/* RFC 9112 2.2: empty lines before the request line are skipped, counted. */
START_TEST(test_httpreq_leading_empty)
{
	parse_ok("\r\nGET /metrics HTTP/1.1\r\n\r\n");
	ck_assert_str_eq(req.hr_path, "/metrics");
	parse_ok("\r\n\n\r\n\nHEAD / HTTP/1.1\r\n\r\n");
	ck_assert_int_eq(req.hr_method, HTTPREQ_HEAD);
}
END_TEST

START_TEST(test_httpreq_field_values)
{
	parse_ok("GET / HTTP/1.1\r\nX-Empty:\r\nX-Blank: \t \r\n"
	    "X-Utf8: caf\xc3\xa9\r\nX-Tab: a\tb\r\nX-Colon: a:b: c\r\n"
	    "X-Odd!#$%&'*+-.^_`|~: v\r\nHost: a\r\n\r\n");
	expect_request(HTTPREQ_GET, "/", 1, true, false);
}
END_TEST

START_TEST(test_httpreq_exact_limit)
{
	char *buf = make_head(HTTPREQ_MAX_HEAD, 0);

	parse_head(buf, HTTPREQ_MAX_HEAD, HTTPREQ_MAX_HEAD);
	expect_request(HTTPREQ_GET, "/metrics", 1, true, false);
	free(buf);
	buf = make_head(HTTPREQ_MAX_HEAD, 100);
	parse_head(buf, HTTPREQ_MAX_HEAD + 100, HTTPREQ_MAX_HEAD);
	free(buf);
}
END_TEST

/* The same at exactly the limit with bare LF ends. */
START_TEST(test_httpreq_exact_limit_lf)
{
	char *buf = make_head(HTTPREQ_MAX_HEAD, 0);

	buf[HTTPREQ_MAX_HEAD - 4] = 'a';
	buf[HTTPREQ_MAX_HEAD - 3] = 'a';
	buf[HTTPREQ_MAX_HEAD - 2] = '\n';
	buf[HTTPREQ_MAX_HEAD - 1] = '\n';
	parse_head(buf, HTTPREQ_MAX_HEAD, HTTPREQ_MAX_HEAD);
	free(buf);
}
END_TEST

struct httpreq_bad {
	const char	*hb_in;
	size_t		 hb_len;
	int		 hb_status;
};

#define BAD(s, status) { (s), sizeof(s) - 1, (status) }

/* Complete requests that are refused. */
static const struct httpreq_bad bad_requests[] = {
	/* Request line. */
	BAD(" GET / HTTP/1.1\r\n\r\n", 400),
	BAD("GET  / HTTP/1.1\r\n\r\n", 400),
	BAD("GET /  HTTP/1.1\r\n\r\n", 400),
	BAD("GET\t/ HTTP/1.1\r\n\r\n", 400),
	BAD("GET /\tHTTP/1.1\r\n\r\n", 400),
	BAD("GET / HTTP/1.1 \r\n\r\n", 400),
	BAD("GET\r\n\r\n", 400),
	BAD("GET \r\n\r\n", 400),
	BAD("G(T / HTTP/1.1\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\rX\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\r\n\r\n", 400),
	BAD("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 400),
	BAD("\r\rGET / HTTP/1.1\r\n\r\n", 400),
	BAD("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),
	BAD("GET /\0 HTTP/1.1\r\n\r\n", 400),
	BAD("\0GET / HTTP/1.1\r\n\r\n", 400),
	/* Request target. */
	BAD("OPTIONS * HTTP/1.1\r\n\r\n", 400),
	BAD("GET * HTTP/1.1\r\n\r\n", 400),
	BAD("GET *x HTTP/1.1\r\n\r\n", 400),
	BAD("GET metrics HTTP/1.1\r\n\r\n", 400),
	BAD("CONNECT 127.0.0.1:9100 HTTP/1.1\r\n\r\n", 400),
	BAD("GET ftp://h/ HTTP/1.1\r\n\r\n", 400),
	BAD("GET http:/h/ HTTP/1.1\r\n\r\n", 400),
	BAD("GET httpx://h/ HTTP/1.1\r\n\r\n", 400),
	BAD("GET http:///metrics HTTP/1.1\r\n\r\n", 400),
	BAD("GET http:// HTTP/1.1\r\n\r\n", 400),
	BAD("GET /a\x01 HTTP/1.1\r\n\r\n", 400),
	BAD("GET /a\x7f HTTP/1.1\r\n\r\n", 400),
	BAD("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400),
	BAD("GET /a b HTTP/1.1\r\n\r\n", 400),
	/* Version. */
	BAD("GET / http/1.1\r\n\r\n", 400),
	BAD("GET / HTTP/1.1x\r\n\r\n", 400),
	BAD("GET / HTTP/1\r\n\r\n", 400),
	BAD("GET / HTTP/1.\r\n\r\n", 400),
	BAD("GET / HTTP/1.x\r\n\r\n", 400),
	BAD("GET / HTTP/10.0\r\n\r\n", 400),
	BAD("GET / HTTP/1.10\r\n\r\n", 400),
	BAD("GET / HTTP/\r\n\r\n", 400),
	BAD("GET / HTTP/2.0\r\n\r\n", 505),
	BAD("GET / HTTP/2\r\n\r\n", 505),
	BAD("GET / HTTP/3\r\n\r\n", 505),
	BAD("GET / HTTP/0.9\r\n\r\n", 505),
	BAD("GET / HTTP/1.2\r\n\r\n", 505),
	BAD("GET / HTTP/1.9\r\n\r\n", 505),
	BAD("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
	BAD("GET /metrics\r\n", 505),
	BAD("GET /metrics\n", 505),
	BAD("GET http://h/metrics\r\n", 505),
	/* Header fields. */
	BAD("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\r\n\tfolded\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHost\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\n: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nX\0: a\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\n\r\r\n", 400),
	/* Content-Length and Transfer-Encoding. */
	BAD("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nContent-Length: 5,5\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nContent-Length:  \r\n\r\n", 400),
	BAD("GET / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
	    400),
	BAD("GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n"
	    "\r\n", 400),
	BAD("GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
	    "\r\n", 400),
	BAD("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400),
	BAD("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n", 400),
	BAD("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 0\r\n\r\n", 400),
};

START_TEST(test_httpreq_bad)
{
	const struct httpreq_bad *b = &bad_requests[_i];

	expect_error(b->hb_in, b->hb_len, b->hb_status);
}
END_TEST

/*
 * Incomplete input that is already wrong: ERROR at exactly these bytes
 * (and NEED at every shorter prefix), without waiting for the line's end.
 */
static const struct httpreq_bad bad_early[] = {
	BAD("\0", 400),
	BAD(" ", 400),
	BAD("\t", 400),
	BAD("\x16", 400),
	BAD("\r\n\r\n\r\n\r\n\r", 400),
	BAD("\r\r", 400),
	BAD("GET\0", 400),
	BAD("GET  ", 400),
	BAD("GET x", 400),
	BAD("GET ht/", 400),
	BAD("GET http:// ", 400),
	BAD("GET /\x01", 400),
	BAD("GET / h", 400),
	BAD("GET / HTTP/1.1x", 400),
	BAD("GET / HTTP/1.1\rX", 400),
	BAD("GET / HTTP/2", 505),
	BAD("GET / HTTP/0", 505),
	BAD("GET / HTTP/1.2", 505),
	BAD("PRI * HTTP/2", 505),
	BAD("OPTIONS * HTTP/1.1", 400),
	BAD("GET / HTTP/1.1\r\n ", 400),
	BAD("GET / HTTP/1.1\r\n\t", 400),
	BAD("GET / HTTP/1.1\r\n:", 400),
	BAD("GET / HTTP/1.1\r\nHost ", 400),
	BAD("GET / HTTP/1.1\r\nHost\0", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\0", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\x01", 400),
	BAD("GET / HTTP/1.1\r\nHost: a\r\n\t", 400),
};

START_TEST(test_httpreq_bad_early)
{
	const struct httpreq_bad *b = &bad_early[_i];

	expect_error(b->hb_in, b->hb_len, b->hb_status);
	expect_prefixes_need(b->hb_in, b->hb_len);
}
END_TEST

/* A head one byte over the limit: 431 once the limit is reached. */
START_TEST(test_httpreq_over_limit)
{
	char *buf = make_head(HTTPREQ_MAX_HEAD + 1, 0);
	struct httpreq r;

	expect_prefixes_need(buf, HTTPREQ_MAX_HEAD);
	ck_assert_int_eq(httpreq_parse(buf, HTTPREQ_MAX_HEAD, &r),
	    HTTPREQ_ERROR);
	ck_assert_int_eq(r.hr_status, 431);
	ck_assert_int_eq(httpreq_parse(buf, HTTPREQ_MAX_HEAD + 1, &r),
	    HTTPREQ_ERROR);
	ck_assert_int_eq(r.hr_status, 431);
	free(buf);
}
END_TEST

/* A flood without a newline, or a request line alone, is 431 at 8192. */
START_TEST(test_httpreq_flood)
{
	size_t size = 4 * HTTPREQ_MAX_HEAD;
	char *buf = malloc(size);
	struct httpreq r;

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'A', size);
	expect_prefixes_need(buf, HTTPREQ_MAX_HEAD);
	ck_assert_int_eq(httpreq_parse(buf, size, &r), HTTPREQ_ERROR);
	ck_assert_int_eq(r.hr_status, 431);
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'p', size - 5);
	ck_assert_int_eq(httpreq_parse(buf, size, &r), HTTPREQ_ERROR);
	ck_assert_int_eq(r.hr_status, 431);
	free(buf);
}
END_TEST

/* Within the limit the first error wins; past it nothing is looked at. */
START_TEST(test_httpreq_limit_order)
{
	char *buf = make_head(HTTPREQ_MAX_HEAD + 1, 0);
	struct httpreq r;

	buf[HTTPREQ_MAX_HEAD - 1] = '\0';
	ck_assert_int_eq(httpreq_parse(buf, HTTPREQ_MAX_HEAD + 1, &r),
	    HTTPREQ_ERROR);
	ck_assert_int_eq(r.hr_status, 400);
	buf[HTTPREQ_MAX_HEAD - 1] = 'a';
	buf[HTTPREQ_MAX_HEAD] = '\0';
	ck_assert_int_eq(httpreq_parse(buf, HTTPREQ_MAX_HEAD + 1, &r),
	    HTTPREQ_ERROR);
	ck_assert_int_eq(r.hr_status, 431);
	free(buf);
}
END_TEST

static Suite *
httpreq_suite(void)
{
	Suite *s = suite_create("httpreq");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_test(tc_core, test_httpreq_prometheus);
	tcase_add_test(tc_core, test_httpreq_curl_get);
	tcase_add_test(tc_core, test_httpreq_curl_head);
	tcase_add_test(tc_core, test_httpreq_wget);
	tcase_add_test(tc_core, test_httpreq_http10);
	tcase_add_test(tc_core, test_httpreq_connection_close);
	tcase_add_test(tc_core, test_httpreq_pipelined);
	tcase_add_test(tc_core, test_httpreq_after_head_untouched);
	tcase_add_test(tc_core, test_httpreq_query);
	tcase_add_test(tc_core, test_httpreq_absolute_form);
	tcase_add_test(tc_core, test_httpreq_long_path);
	tcase_add_test(tc_core, test_httpreq_other_methods);
	tcase_add_test(tc_core, test_httpreq_body);
	tcase_add_test(tc_core, test_httpreq_bare_lf);
	tcase_add_test(tc_core, test_httpreq_leading_empty);
	tcase_add_test(tc_core, test_httpreq_field_values);
	tcase_add_test(tc_core, test_httpreq_exact_limit);
	tcase_add_test(tc_core, test_httpreq_exact_limit_lf);
	suite_add_tcase(s, tc_core);

	tcase_add_loop_test(tc_errors, test_httpreq_bad, 0,
	    sizeof bad_requests / sizeof bad_requests[0]);
	tcase_add_loop_test(tc_errors, test_httpreq_bad_early, 0,
	    sizeof bad_early / sizeof bad_early[0]);
	tcase_add_test(tc_errors, test_httpreq_over_limit);
	tcase_add_test(tc_errors, test_httpreq_flood);
	tcase_add_test(tc_errors, test_httpreq_limit_order);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(httpreq_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
