/*
 * The metrics channel: /metrics after known traffic on other channels,
 * /healthz, 404 and 405, keep-alive, a refused client's complete 503, an
 * ACL-denied client closed without a byte, request heads bounded by their
 * own 8 KiB and not by --max-line (a Prometheus-like Accept header is
 * served, 431 past 8 KiB), and a metrics client arriving when descriptors
 * are used up: the channel pauses, the server lives, and the scrape is
 * served once they are back.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

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
	r = itest_scrape(itest_port(&t, 0));
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

/* What Prometheus 2.x sends, Accept header and all. */
#define PROMETHEUS_REQUEST "GET /metrics HTTP/1.1\r\n" \
	"Host: 127.0.0.1\r\n" \
	"User-Agent: Prometheus/2.53.0\r\n" \
	"Accept: application/openmetrics-text;version=1.0.0;q=0.5," \
	"application/openmetrics-text;version=0.0.1;q=0.4," \
	"text/plain;version=0.0.4;q=0.3,*/*;q=0.2\r\n" \
	"Accept-Encoding: gzip\r\n" \
	"X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n"

START_TEST(max_line_does_not_cap_request_heads)
{
	struct itest t;
	char *r, head[9000 + 64];
	size_t i;
	int fd;

	itest_start(&t, "0:metrics --max-line 64");
	fd = itest_connect(itest_port(&t, 0));
	itest_sends(fd, PROMETHEUS_REQUEST);
	r = itest_read_until(fd, "mpserver_build_info", ITEST_TIMEOUT_MS, NULL);
	ck_assert_msg(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0, "got: %.200s",
	    r);
	ck_assert_ptr_nonnull(strstr(r,
	    "\nmpserver_connections_accepted_total"));
	free(r);
	/* Unknown methods, on the same connection. */
	r = http(fd, "PROPFIND", "/metrics", "not allowed\n");
	ck_assert_msg(strncmp(r, "HTTP/1.1 405 ", 13) == 0, "got: %s", r);
	ck_assert_ptr_nonnull(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);
	r = http(fd, "DELETE", "/healthz", "not allowed\n");
	ck_assert_msg(strncmp(r, "HTTP/1.1 405 ", 13) == 0, "got: %s", r);
	ck_assert_ptr_nonnull(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);
	close(fd);
	/* A head over 8 KiB: 431, then the close. */
	snprintf(head, sizeof head, "GET /metrics HTTP/1.1\r\nHost: t\r\n"
	    "X-Padding: ");
	i = strlen(head);
	memset(head + i, 'p', 9000);
	head[i + 9000] = '\0';
	fd = itest_connect(itest_port(&t, 0));
	itest_sends(fd, head);
	itest_sends(fd, "\r\n\r\n");
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_msg(strncmp(r, "HTTP/1.1 431 ", 13) == 0, "got: %s", r);
	free(r);
	close(fd);
	itest_stop(&t);
}
END_TEST

static bool
metrics_paused(struct itest *t)
{
	return stats_get(itest_channel(t, 0)->ch_stats->cs_pauses) > 0;
}

static bool
echo_paused(struct itest *t)
{
	return stats_get(itest_channel(t, 1)->ch_stats->cs_pauses) > 0;
}

#define NHOLDERS 16

/*
 * Echo clients that hold their connections use up a lowered
 * RLIMIT_NOFILE (the server is in this process); a metrics client then
 * finds no descriptor for it. Once the holders leave, its request, sent
 * while it waited in the backlog, is answered under the same limit.
 */
START_TEST(out_of_descriptors_on_metrics)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rlimit saved, low;
	int holders[NHOLDERS], fd, i;
	struct itest t;
	char *r, line[128];

	itest_start(&t, "0:metrics 0:echo");
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Every client socket exists before the limit drops. */
	for (i = 0; i < NHOLDERS; i++) {
		holders[i] = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(holders[i], 0);
	}
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	getrlimit(RLIMIT_NOFILE, &saved);
	low = saved;
	low.rlim_cur = (rlim_t)itest_count_fds() + 4;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	sin.sin_port = htons(itest_port(&t, 1));
	for (i = 0; i < NHOLDERS; i++) {
		ck_assert_int_eq(connect(holders[i], (struct sockaddr *)&sin,
		    sizeof sin), 0);
	}
	ck_assert(itest_eventually(echo_paused, &t, ITEST_TIMEOUT_MS));
	sin.sin_port = htons(itest_port(&t, 0));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	itest_sends(fd, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert(itest_eventually(metrics_paused, &t, ITEST_TIMEOUT_MS));
	ck_assert_uint_eq(stats_get(itest_channel(&t, 0)->ch_stats->
	    cs_accepted), 0);
	/* The holders leave; the limit stays as it is. */
	for (i = 0; i < NHOLDERS; i++)
		close(holders[i]);
	r = itest_read_until(fd, "mpserver_build_info", ITEST_TIMEOUT_MS, NULL);
	ck_assert_msg(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0,
	    "no scrape once descriptors are back: \"%.200s\"", r);
	snprintf(line, sizeof line, "\nmpserver_accept_pauses_total{port="
	    "\"%u\",service=\"metrics\"} ", itest_port(&t, 0));
	ck_assert_msg(strstr(r, line) != NULL && strtoul(strstr(r, line) +
	    strlen(line), NULL, 10) > 0, "no pause counted: %s", r);
	free(r);
	close(fd);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	itest_stop(&t);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("Core");
	TCase *te = tcase_create("Errors");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, counters_after_known_traffic);
	tcase_add_test(tc, paths_methods_and_keep_alive);
	tcase_add_test(tc, refused_client_gets_503);
	tcase_add_test(tc, denied_client_gets_nothing);
	tcase_add_test(tc, max_line_does_not_cap_request_heads);
	suite_add_tcase(s, tc);
	tcase_set_timeout(te, 30);
	tcase_add_test(te, out_of_descriptors_on_metrics);
	suite_add_tcase(s, te);
	return s;
}

int
main(void)
{
	return itest_main(metrics_suite());
}
