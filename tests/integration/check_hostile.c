/*
 * Hostile clients cost only themselves: binary junk and NUL bytes to every
 * service, 10 MB without a newline to cmd and ack, resets in the middle of
 * chargen and echo replies, a port scan and thousands of connect-and-close.
 * Afterwards PING still answers, the counters are right, and no descriptor
 * or thread has leaked.
 */
#include <sys/socket.h>

#include <check.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"

#define NSERVICES 8	/* channels 0..7 below, one per service */
#define TEN_MB (10 * 1024 * 1024)

static struct itest t;
static int fds_before, threads_before;

static bool
nobody_active(struct itest *it)
{
	return server_active_clients(&it->t_server) == 0;
}

static void
setup(void)
{
	fds_before = itest_count_fds();
	threads_before = itest_count_threads();
	itest_start(&t, "0:ack 0:echo 0:discard 0:chargen 0:daytime 0:time "
	    "0:cmd 0:metrics -t 2");
}

/* The server is whole: PING answers and, once all leave, nothing is held. */
static void
teardown(void)
{
	int fd = itest_connect(itest_port(&t, 6));
	char *r;

	free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	r = itest_cmd(fd, "PING");
	ck_assert_str_eq(r, "200 PONG");
	free(r);
	close(fd);
	ck_assert(itest_eventually(nobody_active, &t, 10000));
	itest_stop(&t);
	ck_assert_int_eq(itest_count_fds(), fds_before);
	ck_assert_int_eq(itest_count_threads(), threads_before);
}

/* Reset, not FIN: SO_LINGER with a zero timeout. */
static void
close_with_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(fd);
}

START_TEST(junk_and_nul_bytes_to_every_service)
{
	unsigned char junk[3000];
	size_t i, c;
	int fd;

	for (i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	junk[0] = 0;
	junk[100] = '\n';
	for (c = 0; c < NSERVICES; c++) {
		fd = itest_connect(itest_port(&t, c));
		send(fd, junk, sizeof junk, MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
		/* chargen never stops by itself; the rest end or reply. */
		if (c == 3)
			close_with_reset(fd);
		else {
			free(itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL));
			close(fd);
		}
	}
}
END_TEST

static void
flood(int fd, size_t total)
{
	char chunk[65536];
	size_t sent = 0;
	ssize_t n;

	memset(chunk, 'z', sizeof chunk);
	while (sent < total) {
		n = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
		if (n <= 0)
			break;	/* the server gave up on us: that is allowed */
		sent += (size_t)n;
	}
}

START_TEST(ten_mb_without_newline_to_cmd)
{
	int fd = itest_connect(itest_port(&t, 6));
	char *r;

	free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	flood(fd, TEN_MB);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_ptr_nonnull(strstr(r, "421 line too long, closing\r\n"));
	free(r);
	close(fd);
}
END_TEST

START_TEST(ten_mb_without_newline_to_ack)
{
	int fd = itest_connect(itest_port(&t, 0));
	char *r;

	flood(fd, TEN_MB);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	/* --max-line bytes are a message; the rest is not our problem. */
	ck_assert(strcmp(r, "ACK\n") == 0 || strcmp(r, "") == 0);
	free(r);
	close(fd);
}
END_TEST

START_TEST(reset_in_the_middle_of_replies)
{
	char big[200000];
	int fd, i;

	memset(big, 'r', sizeof big);
	for (i = 0; i < 20; i++) {
		fd = itest_connect(itest_port(&t, 3));	/* chargen */
		free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
		close_with_reset(fd);
		fd = itest_connect(itest_port(&t, 1));	/* echo */
		send(fd, big, sizeof big, MSG_NOSIGNAL | MSG_DONTWAIT);
		close_with_reset(fd);
	}
}
END_TEST

START_TEST(port_scan_and_connect_close_storm)
{
	int fd, i;
	size_t c;

	for (i = 0; i < 2000; i++) {
		c = (size_t)i % NSERVICES;
		fd = itest_connect(itest_port(&t, c));
		close(fd);
	}
}
END_TEST

static Suite *
hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("Errors");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, junk_and_nul_bytes_to_every_service);
	tcase_add_test(tc, ten_mb_without_newline_to_cmd);
	tcase_add_test(tc, ten_mb_without_newline_to_ack);
	tcase_add_test(tc, reset_in_the_middle_of_replies);
	tcase_add_test(tc, port_scan_and_connect_close_storm);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return itest_main(hostile_suite());
}
