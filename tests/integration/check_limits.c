/*
 * Admission and limits: --max-clients (cmd hears 421, a slot frees the
 * moment a client leaves), --max-per-ip with IPv4-mapped sources counted as
 * IPv4, --deny/--allow (closed without a byte), the idle timeout (silent
 * client, slowloris, an echo client that never reads), and the counters.
 */
#include <sys/socket.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"

static bool
one_active(struct itest *t)
{
	return server_active_clients(&t->t_server) == 1;
}

static unsigned long long
rejected(struct itest *t, size_t ch, int reason)
{
	return stats_get(itest_channel(t, ch)->ch_stats->cs_rejected[reason]);
}

START_TEST(max_clients_refuses_then_frees)
{
	struct itest t;
	int a, b, c, d;
	char *r;

	itest_start(&t, "0:cmd 0:echo --max-clients 2");
	a = itest_connect(itest_port(&t, 0));
	b = itest_connect(itest_port(&t, 1));
	free(itest_read_until(a, "\r\n", ITEST_TIMEOUT_MS, NULL));
	itest_sends(b, "x");
	free(itest_read_until(b, "x", ITEST_TIMEOUT_MS, NULL));
	c = itest_connect(itest_port(&t, 0));
	r = itest_read_until(c, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "421 too many connections\r\n");
	free(r);
	close(c);
	d = itest_connect(itest_port(&t, 1));	/* echo: closed, no bytes */
	ck_assert(itest_closed(d, ITEST_TIMEOUT_MS));
	close(d);
	ck_assert_uint_eq(rejected(&t, 0, REJECT_BUSY), 1);
	ck_assert_uint_eq(rejected(&t, 1, REJECT_BUSY), 1);
	/* The moment one leaves, its slot is free again. */
	close(b);
	ck_assert(itest_eventually(one_active, &t, ITEST_TIMEOUT_MS));
	c = itest_connect(itest_port(&t, 0));
	r = itest_read_until(c, "\r\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_uint_eq(strncmp(r, "220 ", 4), 0);
	free(r);
	close(a);
	close(c);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	ck_assert_uint_eq(stats_get(itest_channel(&t, 0)->ch_stats->cs_accepted),
	    2);
	itest_stop(&t);
}
END_TEST

START_TEST(max_per_ip_counts_mapped_as_ipv4)
{
	struct itest t;
	int a, b;

	itest_start(&t, "0:echo --bind :: --max-per-ip 1");
	a = itest_connect_to("127.0.0.1", itest_port(&t, 0));
	itest_sends(a, "x");
	free(itest_read_until(a, "x", ITEST_TIMEOUT_MS, NULL));
	/* Arrives as ::ffff:127.0.0.1 on the dual-stack socket: the same source. */
	b = itest_connect_to("::ffff:127.0.0.1", itest_port(&t, 0));
	ck_assert(itest_closed(b, ITEST_TIMEOUT_MS));
	close(b);
	ck_assert_uint_eq(rejected(&t, 0, REJECT_PER_IP), 1);
	/* Another source (::1) is not limited by 127.0.0.1's count. */
	b = itest_connect_to("::1", itest_port(&t, 0));
	itest_sends(b, "y");
	free(itest_read_until(b, "y", ITEST_TIMEOUT_MS, NULL));
	close(b);
	close(a);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	/* No count leaked: the source may connect again. */
	a = itest_connect_to("::ffff:127.0.0.1", itest_port(&t, 0));
	itest_sends(a, "z");
	free(itest_read_until(a, "z", ITEST_TIMEOUT_MS, NULL));
	close(a);
	itest_stop(&t);
}
END_TEST

START_TEST(deny_wins_and_closes_without_a_byte)
{
	struct itest t;
	int fd;
	size_t len;
	char *r;

	itest_start(&t, "0:cmd --allow 127.0.0.0/8 --deny 127.0.0.1/32");
	fd = itest_connect(itest_port(&t, 0));
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, &len);
	ck_assert_uint_eq(len, 0);
	free(r);
	close(fd);
	ck_assert_uint_eq(rejected(&t, 0, REJECT_ACL), 1);
	ck_assert_uint_eq(stats_get(itest_channel(&t, 0)->ch_stats->cs_accepted),
	    0);
	itest_stop(&t);
	/* The same source, allowed and denied elsewhere, is served. */
	itest_start(&t, "0:cmd --allow 127.0.0.0/8 --deny 127.0.0.2/32");
	fd = itest_connect(itest_port(&t, 0));
	r = itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_uint_eq(strncmp(r, "220 ", 4), 0);
	free(r);
	close(fd);
	itest_stop(&t);
}
END_TEST

START_TEST(allow_list_excludes_others)
{
	struct itest t;
	int fd;

	itest_start(&t, "0:echo --bind :: --allow ::1");
	fd = itest_connect_to("127.0.0.1", itest_port(&t, 0));
	ck_assert(itest_closed(fd, ITEST_TIMEOUT_MS));
	close(fd);
	fd = itest_connect_to("::1", itest_port(&t, 0));
	itest_sends(fd, "ok");
	free(itest_read_until(fd, "ok", ITEST_TIMEOUT_MS, NULL));
	close(fd);
	ck_assert_uint_eq(rejected(&t, 0, REJECT_ACL), 1);
	itest_stop(&t);
}
END_TEST

START_TEST(idle_cmd_client_is_told)
{
	struct itest t;
	int fd;
	char *r;

	itest_start(&t, "0:cmd 0 -t 1");
	fd = itest_connect(itest_port(&t, 0));
	r = itest_read_until(fd, NULL, 3000, NULL);
	ck_assert_ptr_nonnull(strstr(r, "\r\n421 idle timeout, closing\r\n"));
	free(r);
	close(fd);
	/* An ack client with half a message gets no ACK. */
	fd = itest_connect(itest_port(&t, 1));
	itest_sends(fd, "half a mess");
	r = itest_read_until(fd, NULL, 3000, NULL);
	ck_assert_str_eq(r, "");
	free(r);
	close(fd);
	itest_stop(&t);
}
END_TEST

START_TEST(slowloris_is_closed)
{
	struct itest t;
	int fd, i;
	bool closed = false;

	itest_start(&t, "0:cmd -t 1");
	fd = itest_connect(itest_port(&t, 0));
	free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	/* One byte every 300 ms never completes a line: idle after 1 s. */
	for (i = 0; i < 12 && !closed; i++) {
		if (send(fd, "P", 1, MSG_NOSIGNAL) != 1)
			break;
		closed = !itest_silent(fd, 300);
	}
	ck_assert_msg(closed, "slowloris still served after %d bytes", i);
	ck_assert_int_le(i, 6);
	close(fd);
	itest_stop(&t);
}
END_TEST

START_TEST(echo_client_that_never_reads_is_closed)
{
	struct itest t;
	char chunk[65536];
	int fd, rcv = 4096;

	itest_start(&t, "0:echo 0:chargen -t 1");
	fd = itest_connect(itest_port(&t, 0));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	memset(chunk, 'e', sizeof chunk);
	/* Fill both directions until the server's echo blocks. */
	for (int i = 0; i < 64; i++) {
		if (send(fd, chunk, sizeof chunk, MSG_NOSIGNAL | MSG_DONTWAIT) <= 0)
			break;
	}
	ck_assert(itest_eventually(itest_nobody_active, &t, 3500));
	close(fd);
	/* chargen: a client that stops reading is closed too. */
	fd = itest_connect(itest_port(&t, 1));
	ck_assert(itest_eventually(one_active, &t, ITEST_TIMEOUT_MS));
	ck_assert(itest_eventually(itest_nobody_active, &t, 3500));
	close(fd);
	itest_stop(&t);
}
END_TEST

static Suite *
limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("Core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, max_clients_refuses_then_frees);
	tcase_add_test(tc, max_per_ip_counts_mapped_as_ipv4);
	tcase_add_test(tc, deny_wins_and_closes_without_a_byte);
	tcase_add_test(tc, allow_list_excludes_others);
	tcase_add_test(tc, idle_cmd_client_is_told);
	tcase_add_test(tc, slowloris_is_closed);
	tcase_add_test(tc, echo_client_that_never_reads_is_closed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return itest_main(limits_suite());
}
