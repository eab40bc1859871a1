/*
 * Admission at accept, seen from the wire: an ACL-denied source gets no
 * byte from any service and holds no descriptor (200 silent connections
 * to a denied metrics channel cost nothing once refused); a refused cmd
 * client that keeps trickling hears 421 and is closed within its linger,
 * however it trickles; and after a burst of 500 busy cmd clients the
 * handler threads are retired and joined with no further client to wake
 * the pool.
 */
#include <sys/socket.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"
#include "service.h"

#define NDENIED		200	/* silent connections to a denied channel */
#define NBURST		500	/* busy cmd clients at once */
#define NNOISE		20	/* refused clients before the trickling one */
#define LINGER_MAX_MS	2500	/* a refused client's linger is 1 s; margin */

static int fds_expected;
static int threads_expected;

static unsigned long long
rejected(struct itest *t, size_t ch, int reason)
{
	return stats_get(itest_channel(t, ch)->ch_stats->cs_rejected[reason]);
}

static unsigned long long
accepted(struct itest *t, size_t ch)
{
	return stats_get(itest_channel(t, ch)->ch_stats->cs_accepted);
}

static bool
all_denied(struct itest *t)
{
	return rejected(t, 0, REJECT_ACL) == NDENIED;
}

static bool
fds_as_expected(struct itest *t)
{
	(void)t;
	return itest_count_fds() == fds_expected;
}

static bool
threads_at_most_expected(struct itest *t)
{
	(void)t;
	return itest_count_threads() <= threads_expected;
}

static bool
threads_at_least_expected(struct itest *t)
{
	(void)t;
	return itest_count_threads() >= threads_expected;
}

/* Read until the peer closes (EOF or reset); what came before it, in *len. */
static bool
closed_after(int fd, int timeout_ms, size_t *len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long t0 = itest_now_ms();
	char buf[4096];
	ssize_t n;

	*len = 0;
	while (poll(&pfd, 1, (int)(timeout_ms - (itest_now_ms() - t0))) == 1) {
		if ((n = recv(fd, buf, sizeof buf, 0)) == 0)
			return true;
		if (n == -1)
			return errno == ECONNRESET;
		*len += (size_t)n;
		if (itest_now_ms() - t0 >= timeout_ms)
			break;
	}
	return false;
}

/* What a client of each service might send first. */
static const char *const first_words[] = {
	"hello\n",				/* ack */
	"echo me\n",				/* echo */
	"dropped\n",				/* discard */
	"",					/* chargen */
	"",					/* daytime */
	"",					/* time */
	"PING\r\n",				/* cmd */
	"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n",	/* metrics */
};
#define NSERVICES (sizeof first_words / sizeof first_words[0])

START_TEST(denied_source_gets_no_byte_from_any_service)
{
	struct itest t;
	size_t c, len;
	int fd;

	itest_start(&t, "0:ack 0:echo 0:discard 0:chargen 0:daytime 0:time "
	    "0:cmd 0:metrics --deny 127.0.0.0/8");
	for (c = 0; c < NSERVICES; c++) {
		fd = itest_connect(itest_port(&t, c));
		/* The close may come first: a failed send is fine. */
		if (first_words[c][0] != '\0')
			send(fd, first_words[c], strlen(first_words[c]),
			    MSG_NOSIGNAL);
		ck_assert_msg(closed_after(fd, ITEST_TIMEOUT_MS, &len),
		    "channel %zu: not closed", c);
		ck_assert_msg(len == 0, "channel %zu (%s): %zu bytes to a "
		    "denied client", c, itest_channel(&t, c)->ch_service->
		    svc_name, len);
		close(fd);
		ck_assert_uint_eq(rejected(&t, c, REJECT_ACL), 1);
		ck_assert_uint_eq(accepted(&t, c), 0);
	}
	ck_assert_uint_eq(server_active_clients(&t.t_server), 0);
	itest_stop(&t);
}
END_TEST

START_TEST(denied_metrics_clients_hold_no_descriptor)
{
	struct itest t;
	int fds[NDENIED], before, i;
	size_t len;

	itest_start(&t, "0:metrics --deny 0.0.0.0/0");
	before = itest_count_fds();
	for (i = 0; i < NDENIED; i++)
		fds[i] = itest_connect(itest_port(&t, 0));
	/* Every one accepted and refused; then only our own ends are left. */
	ck_assert_msg(itest_eventually(all_denied, &t, ITEST_TIMEOUT_MS),
	    "%llu of %d refused", rejected(&t, 0, REJECT_ACL), NDENIED);
	fds_expected = before + NDENIED;
	ck_assert_msg(itest_eventually(fds_as_expected, &t, ITEST_TIMEOUT_MS),
	    "%d descriptors, want %d: the server holds denied clients",
	    itest_count_fds(), fds_expected);
	for (i = 0; i < NDENIED; i++) {
		ck_assert_msg(closed_after(fds[i], ITEST_TIMEOUT_MS, &len),
		    "client %d not closed", i);
		ck_assert_msg(len == 0, "client %d got %zu bytes", i, len);
		close(fds[i]);
	}
	ck_assert_int_eq(itest_count_fds(), before);
	ck_assert_uint_eq(accepted(&t, 0), 0);
	itest_stop(&t);
}
END_TEST

/*
 * One refused cmd client that sends a byte at once and then one every
 * ITEST_TRICKLE_MS: it must hear 421, and the time from its refusal to the
 * server's final close is returned. The server lingers only if that first
 * byte is in before the refusal, which a client cannot force; NNOISE
 * refused clients just before it keep the listener busy, so it usually is.
 */
static long
refused_trickler(uint16_t port)
{
	int noise[NNOISE], fd, i;
	long t0, ms;
	char *r;

	for (i = 0; i < NNOISE; i++)
		noise[i] = itest_connect(port);
	fd = itest_connect(port);
	t0 = itest_now_ms();	/* refused at accept */
	send(fd, "P", 1, MSG_NOSIGNAL);
	/* The reply, then the server's FIN. */
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "421 too many connections\r\n");
	free(r);
	ms = itest_trickle_until_reset(fd, t0, 10000, NULL);
	close(fd);
	for (i = 0; i < NNOISE; i++) {
		r = itest_read_until(noise[i], NULL, ITEST_TIMEOUT_MS, NULL);
		ck_assert_str_eq(r, "421 too many connections\r\n");
		free(r);
		close(noise[i]);
	}
	ck_assert_msg(ms >= 0, "a trickling refused client is never closed");
	ck_assert_msg(ms < LINGER_MAX_MS, "closed %ld ms after its refusal",
	    ms);
	return ms;
}

/* Every try is bounded; at least one must have lingered to show it. */
START_TEST(refused_cmd_client_that_trickles_is_closed)
{
	struct itest t;
	int held, tries;
	long ms = 0;

	itest_start(&t, "0:cmd 0:echo --max-clients 1");
	held = itest_connect(itest_port(&t, 1));
	itest_sends(held, "x");
	free(itest_read_until(held, "x", ITEST_TIMEOUT_MS, NULL));
	for (tries = 0; tries < 10 && ms < 500; tries++)
		ms = refused_trickler(itest_port(&t, 0));
	ck_assert_msg(ms >= 500, "no refused client lingered in %d tries",
	    tries);
	ck_assert_uint_eq(rejected(&t, 0, REJECT_BUSY), (unsigned)tries *
	    (NNOISE + 1));
	ck_assert_uint_eq(accepted(&t, 0), 0);
	close(held);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	itest_stop(&t);
}
END_TEST

/* Read the first line from each, checking its start. */
static void
expect_lines(int *fds, int n, const char *want)
{
	char *r;
	int i;

	for (i = 0; i < n; i++) {
		r = itest_read_until(fds[i], "\r\n", 15000, NULL);
		ck_assert_msg(strncmp(r, want, strlen(want)) == 0,
		    "client %d: \"%s\", want \"%s\"", i, r, want);
		free(r);
	}
}

START_TEST(burst_threads_are_joined_without_another_client)
{
	struct itest t;
	int fds[NBURST], idle, i;
	char *r;

	itest_start(&t, "0:cmd --max-clients 1000");
	/* The listener and the idle thread, once they have named themselves. */
	idle = threads_expected = 2;
	ck_assert(itest_eventually(threads_at_least_expected, &t,
	    ITEST_TIMEOUT_MS));
	ck_assert_int_eq(itest_count_threads(), idle);
	for (i = 0; i < NBURST; i++)
		fds[i] = itest_connect(itest_port(&t, 0));
	expect_lines(fds, NBURST, "220 ");
	/* All busy at once: a thread each. */
	for (i = 0; i < NBURST; i++)
		itest_sends(fds[i], "SLEEP 1500\r\nQUIT\r\n");
	threads_expected = idle + NBURST * 4 / 5;
	ck_assert_msg(itest_eventually(threads_at_least_expected, &t, 10000),
	    "only %d threads for %d sleeping clients (idle %d)",
	    itest_count_threads(), NBURST, idle);
	for (i = 0; i < NBURST; i++) {
		r = itest_read_until(fds[i], "221 bye\r\n", 15000, NULL);
		ck_assert_msg(strcmp(r, "200 slept 1500\r\n221 bye\r\n") == 0,
		    "client %d: \"%s\"", i, r);
		free(r);
	}
	for (i = 0; i < NBURST; i++)
		close(fds[i]);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	/* The listener, the idle thread and at most 128 parked handlers. */
	threads_expected = idle + 128;
	ck_assert_msg(itest_eventually(threads_at_most_expected, &t, 5000),
	    "%d threads left after the burst (idle %d)", itest_count_threads(),
	    idle);
	ck_assert_uint_le(workers_count(&t.t_server.sv_workers), 128);
	ck_assert_uint_eq(accepted(&t, 0), NBURST);
	itest_stop(&t);
}
END_TEST

static Suite *
admission_suite(void)
{
	Suite *s = suite_create("admission");
	TCase *tc = tcase_create("Core");
	TCase *te = tcase_create("Errors");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, denied_source_gets_no_byte_from_any_service);
	tcase_add_test(tc, denied_metrics_clients_hold_no_descriptor);
	tcase_add_test(tc, burst_threads_are_joined_without_another_client);
	suite_add_tcase(s, tc);
	tcase_set_timeout(te, 30);
	tcase_add_test(te, refused_cmd_client_that_trickles_is_closed);
	suite_add_tcase(s, te);
	return s;
}

int
main(void)
{
	return itest_main(admission_suite());
}
