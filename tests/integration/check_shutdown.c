/*
 * Ordered shutdown with clients connected: listeners close at once, idle
 * clients are woken, a request already received is answered, a SLEEP in
 * progress finishes, whoever is left after the grace is cut, and every
 * thread and descriptor is gone afterwards.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"

START_TEST(clients_are_woken_and_requests_answered)
{
	struct itest t;
	struct itest_stopper s;
	int idle_cmd, idle_echo, asked, fds_before, threads_before;
	uint16_t port;
	char *r;

	fds_before = itest_count_fds();
	threads_before = itest_count_threads();
	itest_start(&t, "0:cmd 0:echo --shutdown-grace 5");
	port = itest_port(&t, 0);
	idle_cmd = itest_connect(port);
	asked = itest_connect(port);
	idle_echo = itest_connect(itest_port(&t, 1));
	free(itest_read_until(idle_cmd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	free(itest_read_until(asked, "\r\n", ITEST_TIMEOUT_MS, NULL));
	/* On loopback a completed send is in the server's socket buffer. */
	itest_sends(asked, "PING\r\n");
	itest_sends(idle_echo, "still here\n");
	itest_stop_in_background(&s, &t);

	r = itest_read_until(asked, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "200 PONG\r\n421 server shutting down\r\n");
	free(r);
	r = itest_read_until(idle_cmd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "421 server shutting down\r\n");
	free(r);
	r = itest_read_until(idle_echo, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "still here\n");
	free(r);
	itest_stop_join(&s);
	/* The port is free again at once. */
	ck_assert_int_eq(connect(socket(AF_INET, SOCK_STREAM, 0), (struct
	    sockaddr *)&(struct sockaddr_in){ .sin_family = AF_INET,
	    .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
	    sizeof(struct sockaddr_in)), -1);
	close(idle_cmd);
	close(asked);
	close(idle_echo);
	ck_assert_int_eq(itest_count_threads(), threads_before);
	ck_assert_int_le(itest_count_fds(), fds_before + 1);	/* the probe */
}
END_TEST

START_TEST(sleep_in_progress_finishes)
{
	struct itest t;
	struct itest_stopper s;
	int fd;
	char *r;

	itest_start(&t, "0:cmd --shutdown-grace 5");
	fd = itest_connect(itest_port(&t, 0));
	free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	itest_sends(fd, "SLEEP 300\r\n");
	itest_stop_in_background(&s, &t);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "200 slept 300\r\n421 server shutting down\r\n");
	free(r);
	itest_stop_join(&s);
	close(fd);
}
END_TEST

START_TEST(grace_over_cuts_the_rest)
{
	struct itest t;
	struct itest_stopper s;
	int sleeper, reader;
	char *r;

	itest_start(&t, "0:cmd 0:chargen --shutdown-grace 1");
	sleeper = itest_connect(itest_port(&t, 0));
	free(itest_read_until(sleeper, "\r\n", ITEST_TIMEOUT_MS, NULL));
	itest_sends(sleeper, "SLEEP 10000\r\n");
	/* A chargen client that never reads: its handler sits in a full send. */
	reader = itest_connect(itest_port(&t, 1));
	itest_stop_in_background(&s, &t);
	/* Cut by the grace, the sleeper still hears why. */
	r = itest_read_until(sleeper, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "421 server shutting down\r\n");
	free(r);
	itest_stop_join(&s);
	ck_assert(itest_closed(reader, ITEST_TIMEOUT_MS));
	close(sleeper);
	close(reader);
}
END_TEST

static Suite *
shutdown_suite(void)
{
	Suite *s = suite_create("shutdown");
	TCase *tc = tcase_create("Core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, clients_are_woken_and_requests_answered);
	tcase_add_test(tc, sleep_in_progress_finishes);
	tcase_add_test(tc, grace_over_cuts_the_rest);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return itest_main(shutdown_suite());
}
