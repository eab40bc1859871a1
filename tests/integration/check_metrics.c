/*
 * The metrics channel: /metrics after known traffic on other channels,
 * /healthz, 404 and 405, keep-alive, a refused client's complete 503, and
 * an ACL-denied client closed without a byte.
 */
#include <sys/socket.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"

/* One request on a kept-alive connection; read until the body's last words. */
static char *
http(int fd, const char *method, const char *path, const char *until)
{
	char req[256];

	snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: test\r\n\r\n", method,
	    path);
	itest_sends(fd, req);
	return itest_read_until(fd, until, ITEST_TIMEOUT_MS, NULL);
}

static char *
scrape(uint16_t port)
{
	int fd = itest_connect(port);
	char *r;

	itest_sends(fd, "GET /metrics HTTP/1.0\r\n\r\n");
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	close(fd);
	return r;
}

START_TEST(counters_after_known_traffic)
{
	struct itest t;
	char *r, line[256];
	int fd, i;

	itest_start(&t, "0:metrics 0:ack 0:echo");
	for (i = 0; i < 3; i++) {
		fd = itest_connect(itest_port(&t, 1));
		itest_sends(fd, "hello\n");	/* 6 bytes in, 4 out */
		free(itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL));
		close(fd);
	}
	r = scrape(itest_port(&t, 0));
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "Content-Type: text/plain; version=0.0.4"));
	snprintf(line, sizeof line, "\nmpserver_connections_accepted_total{port="
	    "\"%u\",service=\"ack\"} 3\n", itest_port(&t, 1));
	ck_assert_msg(strstr(r, line) != NULL, "missing %s in %s", line, r);
	snprintf(line, sizeof line, "\nmpserver_bytes_received_total{port="
	    "\"%u\",service=\"ack\"} 18\n", itest_port(&t, 1));
	ck_assert_msg(strstr(r, line) != NULL, "missing %s", line);
	snprintf(line, sizeof line, "\nmpserver_bytes_sent_total{port="
	    "\"%u\",service=\"ack\"} 12\n", itest_port(&t, 1));
	ck_assert_msg(strstr(r, line) != NULL, "missing %s", line);
	snprintf(line, sizeof line, "\nmpserver_connections_rejected_total{port="
	    "\"%u\",service=\"echo\",reason=\"resources\"} 0\n",
	    itest_port(&t, 2));
	ck_assert_msg(strstr(r, line) != NULL, "missing %s", line);
	ck_assert_ptr_nonnull(strstr(r, "\nmpserver_handler_threads "));
	ck_assert_ptr_nonnull(strstr(r, "\nmpserver_uptime_seconds "));
	snprintf(line, sizeof line, "\nmpserver_build_info{version=\"%s\"} 1\n",
	    MPSERVER_VERSION);
	ck_assert_ptr_nonnull(strstr(r, line));
	free(r);
	itest_stop(&t);
}
END_TEST

START_TEST(paths_methods_and_keep_alive)
{
	struct itest t;
	int fd;
	char *r;

	itest_start(&t, "0:metrics");
	fd = itest_connect(itest_port(&t, 0));
	/* One connection, several requests. */
	r = http(fd, "GET", "/healthz", "ok\n");
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(r, "\r\n\r\nok\n"));
	free(r);
	r = http(fd, "GET", "/nope", "not found\n");
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 404 "));
	free(r);
	r = http(fd, "POST", "/metrics", "not allowed\n");
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 405 "));
	ck_assert_ptr_nonnull(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);
	r = http(fd, "HEAD", "/healthz", "\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 200 OK\r\n"));
	free(r);
	ck_assert(itest_silent(fd, 50));	/* HEAD: no body follows */
	close(fd);
	ck_assert_uint_eq(stats_get(itest_channel(&t, 0)->ch_stats->cs_accepted),
	    1);
	itest_stop(&t);
}
END_TEST

START_TEST(refused_client_gets_503)
{
	struct itest t;
	int held, fd;
	char *r;

	itest_start(&t, "0:metrics 0:echo --max-clients 1");
	held = itest_connect(itest_port(&t, 1));
	itest_sends(held, "x");
	free(itest_read_until(held, "x", ITEST_TIMEOUT_MS, NULL));
	fd = itest_connect(itest_port(&t, 0));
	itest_sends(fd, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_ptr_nonnull(strstr(r, "HTTP/1.1 503 "));
	ck_assert_ptr_nonnull(strstr(r, "\r\n\r\ntoo many connections\n"));
	free(r);
	close(fd);
	close(held);
	ck_assert_uint_eq(stats_get(itest_channel(&t, 0)->ch_stats->
	    cs_rejected[REJECT_BUSY]), 1);
	itest_stop(&t);
}
END_TEST

START_TEST(denied_client_gets_nothing)
{
	struct itest t;
	size_t len;
	int fd;
	char *r;

	itest_start(&t, "0:metrics --deny 127.0.0.0/8");
	fd = itest_connect(itest_port(&t, 0));
	itest_sends(fd, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, &len);
	ck_assert_uint_eq(len, 0);
	free(r);
	close(fd);
	ck_assert_uint_eq(stats_get(itest_channel(&t, 0)->ch_stats->
	    cs_rejected[REJECT_ACL]), 1);
	itest_stop(&t);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("Core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, counters_after_known_traffic);
	tcase_add_test(tc, paths_methods_and_keep_alive);
	tcase_add_test(tc, refused_client_gets_503);
	tcase_add_test(tc, denied_client_gets_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return itest_main(metrics_suite());
}
