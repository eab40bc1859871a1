/*
 * 200 clients at once across 4 channels (2 ack, 2 echo): every one is
 * answered, the counters add up, and no descriptor or thread is left behind.
 */
#include <sys/socket.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"

#define NCLIENTS 200

START_TEST(two_hundred_clients_on_four_channels)
{
	struct itest t;
	int fds[NCLIENTS], i, fds_before, threads_before;
	unsigned long long accepted = 0;
	char msg[64], *r;
	size_t c;

	fds_before = itest_count_fds();
	threads_before = itest_count_threads();
	itest_start(&t, "0 0:echo 0 0:echo");
	/* All connect and speak before any reply is read. */
	for (i = 0; i < NCLIENTS; i++) {
		fds[i] = itest_connect(itest_port(&t, (size_t)(i % 4)));
		snprintf(msg, sizeof msg, "client %d\n", i);
		itest_sends(fds[i], msg);
	}
	for (i = 0; i < NCLIENTS; i++) {
		snprintf(msg, sizeof msg, "client %d\n", i);
		shutdown(fds[i], SHUT_WR);
		r = itest_read_until(fds[i], NULL, ITEST_TIMEOUT_MS, NULL);
		ck_assert_str_eq(r, i % 2 == 0 ? "ACK\n" : msg);
		free(r);
		close(fds[i]);
	}
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	for (c = 0; c < 4; c++) {
		accepted += stats_get(itest_channel(&t, c)->ch_stats->cs_accepted);
		ck_assert_uint_eq(stats_get(itest_channel(&t, c)->ch_stats->
		    cs_active), 0);
	}
	ck_assert_uint_eq(accepted, NCLIENTS);
	itest_stop(&t);
	ck_assert_int_eq(itest_count_fds(), fds_before);
	ck_assert_int_eq(itest_count_threads(), threads_before);
}
END_TEST

static Suite *
parallel_suite(void)
{
	Suite *s = suite_create("parallel");
	TCase *tc = tcase_create("Core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, two_hundred_clients_on_four_channels);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return itest_main(parallel_suite());
}
