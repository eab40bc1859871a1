/*
 * Faults that must cost nothing but a pause: pthread_create failing (EAGAIN,
 * injected with the linker's --wrap) refuses that one client with reason
 * "resources" and keeps the counters right, per-source ones included; running out of descriptors
 * (a real, lowered RLIMIT_NOFILE) pauses the listener instead of spinning,
 * and it recovers by itself once descriptors are free again.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"

/* How many of the next pthread_create calls fail with EAGAIN. */
static atomic_int fail_creates;

int __real_pthread_create(pthread_t *, const pthread_attr_t *,
    void *(*)(void *), void *);
int __wrap_pthread_create(pthread_t *, const pthread_attr_t *,
    void *(*)(void *), void *);

int
__wrap_pthread_create(pthread_t *t, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	if (atomic_load(&fail_creates) > 0) {
		atomic_fetch_sub(&fail_creates, 1);
		return EAGAIN;
	}
	return __real_pthread_create(t, attr, fn, arg);
}

static bool
paused(struct itest *t)
{
	return stats_get(itest_channel(t, 0)->ch_stats->cs_pauses) > 0;
}

START_TEST(no_thread_refuses_one_client)
{
	struct itest t;
	struct channel *ch;
	int fd;
	char *r;

	/* --max-per-ip 1: a slot leaked by the failure would refuse the retry. */
	itest_start(&t, "0:cmd --max-per-ip 1");
	ch = itest_channel(&t, 0);
	atomic_store(&fail_creates, 1);
	fd = itest_connect(itest_port(&t, 0));
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "421 too many connections\r\n");
	free(r);
	close(fd);
	ck_assert_uint_eq(stats_get(ch->ch_stats->cs_rejected[REJECT_RESOURCES]),
	    1);
	ck_assert_uint_eq(stats_get(ch->ch_stats->cs_accepted), 0);
	ck_assert_uint_eq(stats_get(ch->ch_stats->cs_active), 0);
	/* Refused at once: a missing thread pauses nothing (SPEC 4). */
	ck_assert_uint_eq(stats_get(ch->ch_stats->cs_pauses), 0);
	ck_assert_uint_eq(server_active_clients(&t.t_server), 0);
	/* The next client is served as usual, at once. */
	fd = itest_connect(itest_port(&t, 0));
	r = itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_uint_eq(strncmp(r, "220 ", 4), 0);
	free(r);
	close(fd);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	ck_assert_uint_eq(stats_get(ch->ch_stats->cs_accepted), 1);
	itest_stop(&t);
}
END_TEST

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

#define NCLIENTS 24

START_TEST(out_of_descriptors_pauses_and_recovers)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rlimit saved, low;
	struct itest t;
	int fds[NCLIENTS], i;
	double cpu;
	char *r;

	itest_start(&t, "0:echo");
	sin.sin_port = htons(itest_port(&t, 0));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Every client socket exists before the limit drops. */
	for (i = 0; i < NCLIENTS; i++)
		ck_assert_int_ge(fds[i] = socket(AF_INET, SOCK_STREAM, 0), 0);
	getrlimit(RLIMIT_NOFILE, &saved);
	low = saved;
	low.rlim_cur = (rlim_t)itest_count_fds() + 4;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (i = 0; i < NCLIENTS; i++) {
		ck_assert_int_eq(connect(fds[i], (struct sockaddr *)&sin,
		    sizeof sin), 0);
	}
	/* The server has some clients; the rest wait in the backlog. */
	ck_assert(itest_eventually(paused, &t, ITEST_TIMEOUT_MS));
	cpu = cpu_seconds();
	poll(NULL, 0, 1000);
	cpu = cpu_seconds() - cpu;
	ck_assert_msg(cpu < 0.5, "%.2f s of CPU in 1 s: the listener spins", cpu);
	ck_assert_uint_lt(stats_get(itest_channel(&t, 0)->ch_stats->cs_accepted),
	    NCLIENTS);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	/* Descriptors are back: every waiting client is served. */
	for (i = 0; i < NCLIENTS; i++) {
		itest_sends(fds[i], "back\n");
		r = itest_read_until(fds[i], "back\n", ITEST_TIMEOUT_MS, NULL);
		ck_assert_str_eq(r, "back\n");
		free(r);
		close(fds[i]);
	}
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	ck_assert_uint_eq(stats_get(itest_channel(&t, 0)->ch_stats->cs_accepted),
	    NCLIENTS);
	itest_stop(&t);
}
END_TEST

static Suite *
faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("Errors");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, no_thread_refuses_one_client);
	tcase_add_test(tc, out_of_descriptors_pauses_and_recovers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return itest_main(faults_suite());
}
