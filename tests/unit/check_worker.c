/*
 * worker: every client dispatched runs exactly once, from one dispatcher
 * and from two at once; parked threads serve the next clients; after a
 * burst, threads over max_idle retire at once and the parked ones after
 * park_ms, with no dispatch to help, and are gone from /proc/self/task;
 * workers_free stops parked threads at once and joins busy ones when they
 * finish; a thread that cannot start fails its dispatch at once with the
 * error, and a parked thread that times out as a client comes loses no
 * client.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <check.h>

#include "worker.h"

#define NCLIENTS	10000
#define NBURST		500
#define POLL_SEC	20	/* no bounded wait may take longer */

struct gate {
	pthread_mutex_t	 g_lock;
	pthread_cond_t	 g_cond;
	bool		 g_open;
};

struct client {
	atomic_uint	 c_runs;
	struct gate	*c_gate;	/* wait there before returning */
	void		*c_stack;	/* of the thread that ran it */
};

static struct client clients[NCLIENTS];
static struct workers wp;
static atomic_uint started, finished, created;
static sem_t done;			/* one post per client finished */
static struct gate gates[2];

static void
gate_wait(struct gate *g)
{
	pthread_mutex_lock(&g->g_lock);
	while (!g->g_open)
		pthread_cond_wait(&g->g_cond, &g->g_lock);
	pthread_mutex_unlock(&g->g_lock);
}

static void
gate_set(struct gate *g, bool open)
{
	pthread_mutex_lock(&g->g_lock);
	g->g_open = open;
	pthread_cond_broadcast(&g->g_cond);
	pthread_mutex_unlock(&g->g_lock);
}

static void *
stack_base(void)
{
	pthread_attr_t attr;
	void *addr = NULL;
	size_t size;

	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstack(&attr, &addr, &size);
		pthread_attr_destroy(&attr);
	}
	return addr;
}

static void
run(struct client *cl)
{
	cl->c_stack = stack_base();
	atomic_fetch_add(&started, 1);
	atomic_fetch_add(&cl->c_runs, 1);
	if (cl->c_gate != NULL)
		gate_wait(cl->c_gate);
	atomic_fetch_add(&finished, 1);
	sem_post(&done);
}

/* Readable assertion messages: atomic_load is a macro. */
static unsigned
nstarted(void)
{
	return atomic_load(&started);
}

static unsigned
nfinished(void)
{
	return atomic_load(&finished);
}

static unsigned
ncreated(void)
{
	return atomic_load(&created);
}

static unsigned
nruns(size_t i)
{
	return atomic_load(&clients[i].c_runs);
}

static int
count_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
    void *arg)
{
	atomic_fetch_add(&created, 1);
	return pthread_create(t, attr, fn, arg);
}

static int
fail_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
    void *arg)
{
	(void)t;
	(void)attr;
	(void)fn;
	(void)arg;
	return EAGAIN;
}

static void *
noop_main(void *arg)
{
	return arg;
}

static void
setup(void)
{
	pthread_t t;
	size_t i;

	for (i = 0; i < NCLIENTS; i++) {
		atomic_init(&clients[i].c_runs, 0);
		clients[i].c_gate = NULL;
		clients[i].c_stack = NULL;
	}
	for (i = 0; i < 2; i++) {
		pthread_mutex_init(&gates[i].g_lock, NULL);
		pthread_cond_init(&gates[i].g_cond, NULL);
		gates[i].g_open = false;
	}
	atomic_init(&started, 0);
	atomic_init(&finished, 0);
	atomic_init(&created, 0);
	ck_assert_int_eq(sem_init(&done, 0, 0), 0);
	/* TSan starts a helper thread with the first: count it in tasks(). */
	ck_assert_int_eq(pthread_create(&t, NULL, noop_main, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	workers_init(&wp, run);
	wp.wp_create = count_create;
}

static void
teardown(void)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		pthread_cond_destroy(&gates[i].g_cond);
		pthread_mutex_destroy(&gates[i].g_lock);
	}
	sem_destroy(&done);
}

/* Threads of this process, from /proc/self/task. */
static unsigned
tasks(void)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	ck_assert_ptr_nonnull(d = opendir("/proc/self/task"));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
poll_start(struct timespec *deadline)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += POLL_SEC;
}

/* Nap 1 ms and say whether to look again; false past the deadline. */
static bool
poll_again(const struct timespec *deadline)
{
	struct timespec now, nap = { 0, 1000 * 1000 };

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec &&
	    now.tv_nsec >= deadline->tv_nsec))
		return false;
	nanosleep(&nap, NULL);
	return true;
}

/* Poll until expr holds or POLL_SEC pass; the caller asserts expr. */
#define WAIT_UNTIL(expr) do {						\
	struct timespec wu_deadline;					\
									\
	poll_start(&wu_deadline);					\
	while (!(expr) && poll_again(&wu_deadline))			\
		continue;						\
} while (0)

static void
dispatch_range(size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		ck_assert_int_eq(workers_dispatch(&wp, &clients[i]), 0);
}

static void
assert_each_ran_once(size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ck_assert_msg(nruns(i) == 1, "client %zu ran %u times", i,
		    nruns(i));
}

/* Every thread retires, and is gone from the kernel too, unhelped. */
static void
wait_retired(unsigned base_tasks)
{
	WAIT_UNTIL(workers_count(&wp) == 0 && tasks() == base_tasks);
	ck_assert_uint_eq(workers_count(&wp), 0);
	ck_assert_uint_eq(tasks(), base_tasks);
}

/* Free the pool; nothing may run after, and no thread may be left. */
static void
free_and_check(size_t n, unsigned base_tasks)
{
	workers_free(&wp);
	ck_assert_uint_eq(workers_count(&wp), 0);
	ck_assert_uint_eq(nfinished(), n);
	assert_each_ran_once(n);
	ck_assert_uint_eq(tasks(), base_tasks);
}

START_TEST(test_worker_one_dispatcher)
{
	unsigned base = tasks();

	dispatch_range(0, NCLIENTS);
	WAIT_UNTIL(nfinished() == NCLIENTS);
	ck_assert_uint_eq(nfinished(), NCLIENTS);
	free_and_check(NCLIENTS, base);
}
END_TEST

static void *
dispatcher_main(void *arg)
{
	size_t half = *(size_t *)arg;
	size_t i, failed = 0;

	for (i = half * NCLIENTS / 2; i < (half + 1) * NCLIENTS / 2; i++)
		if (workers_dispatch(&wp, &clients[i]) != 0)
			failed++;
	return (void *)failed;
}

START_TEST(test_worker_two_dispatchers)
{
	size_t halves[2] = { 0, 1 };
	pthread_t t[2];
	unsigned base = tasks();
	void *failed;
	int i;

	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, dispatcher_main,
		    &halves[i]), 0);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(t[i], &failed), 0);
		ck_assert_ptr_null(failed);
	}
	WAIT_UNTIL(nfinished() == NCLIENTS);
	ck_assert_uint_eq(nfinished(), NCLIENTS);
	free_and_check(NCLIENTS, base);
}
END_TEST

/* One client after the other: a handful of threads serve them all. */
START_TEST(test_worker_reuse)
{
	unsigned base = tasks();
	size_t i;

	for (i = 0; i < 1000; i++) {
		dispatch_range(i, i + 1);
		ck_assert_int_eq(sem_wait(&done), 0);
	}
	ck_assert_uint_le(ncreated(), 8);
	ck_assert_uint_le(workers_count(&wp), 8);
	ck_assert_uint_ge(workers_count(&wp), 1);
	free_and_check(1000, base);
}
END_TEST

/* Clients from to to wait at g; the first `from` already run. */
static void
burst(size_t from, size_t to, struct gate *g)
{
	unsigned alive = workers_count(&wp);
	size_t i;

	for (i = from; i < to; i++)
		clients[i].c_gate = g;
	dispatch_range(from, to);
	WAIT_UNTIL(nstarted() == to);
	ck_assert_uint_eq(nstarted(), to);
	/* None was parked: each needed a thread of its own. */
	ck_assert_uint_eq(workers_count(&wp), alive + (to - from));
}

START_TEST(test_worker_burst_retires)
{
	unsigned base = tasks();

	workers_set_park_ms(&wp, 50);
	workers_set_max_idle(&wp, 4);
	burst(0, NBURST, &gates[0]);
	ck_assert_uint_eq(ncreated(), NBURST);
	ck_assert_uint_ge(tasks(), base + NBURST);
	gate_set(&gates[0], true);
	WAIT_UNTIL(workers_count(&wp) <= 4);
	ck_assert_uint_le(workers_count(&wp), 4);
	/* No dispatch and no workers_free: the parked ones retire too. */
	wait_retired(base);
	free_and_check(NBURST, base);
}
END_TEST

/* With a long park_ms, max_idle threads stay parked and serve again. */
START_TEST(test_worker_max_idle_kept)
{
	unsigned base = tasks();
	size_t i;

	workers_set_max_idle(&wp, 4);
	burst(0, 50, &gates[0]);
	gate_set(&gates[0], true);
	WAIT_UNTIL(nfinished() == 50 && workers_count(&wp) == 4 &&
	    tasks() == base + 4);
	ck_assert_uint_eq(nfinished(), 50);
	ck_assert_uint_eq(workers_count(&wp), 4);
	ck_assert_uint_eq(tasks(), base + 4);
	for (i = 50; i < 54; i++)
		clients[i].c_gate = &gates[1];
	dispatch_range(50, 54);
	WAIT_UNTIL(nstarted() == 54);
	ck_assert_uint_eq(nstarted(), 54);
	ck_assert_uint_eq(ncreated(), 50);
	ck_assert_uint_eq(workers_count(&wp), 4);
	gate_set(&gates[1], true);
	free_and_check(54, base);
}
END_TEST

/*
 * /proc/self/task cannot tell joined threads from exited ones. What a
 * join does is give the stack back to glibc, whose cache (40 MiB) hands
 * it to the next thread: a second burst gets the first burst's stacks,
 * all but the one retired last, which waits for the next retirement.
 */
START_TEST(test_worker_retired_joined)
{
	unsigned base = tasks(), reused = 0;
	size_t i, j;

	workers_set_max_idle(&wp, 0);
	burst(0, 40, &gates[0]);
	gate_set(&gates[0], true);
	wait_retired(base);
	burst(40, 80, &gates[1]);
	for (i = 40; i < 80; i++)
		for (j = 0; j < 40; j++)
			if (clients[i].c_stack == clients[j].c_stack) {
				reused++;
				break;
			}
	ck_assert_uint_ge(reused, 39);
	gate_set(&gates[1], true);
	free_and_check(80, base);
}
END_TEST

static atomic_bool freed;

static void *
free_main(void *arg)
{
	(void)arg;
	workers_free(&wp);
	atomic_store(&freed, true);
	return NULL;
}

static bool
freed_yet(void)
{
	return atomic_load(&freed);
}

/* Parked threads retire at once (not after 30 s); busy ones are waited for. */
START_TEST(test_worker_free_busy_and_parked)
{
	unsigned base = tasks();
	pthread_t t;

	atomic_init(&freed, false);
	/* 5 busy, then 3 that finish and park. */
	burst(0, 5, &gates[1]);
	burst(5, 8, &gates[0]);
	gate_set(&gates[0], true);
	WAIT_UNTIL(nfinished() == 3);
	ck_assert_uint_eq(nfinished(), 3);
	ck_assert_uint_eq(ncreated(), 8);
	ck_assert_uint_eq(workers_count(&wp), 8);
	ck_assert_int_eq(pthread_create(&t, NULL, free_main, NULL), 0);
	WAIT_UNTIL(workers_count(&wp) == 5);
	ck_assert_uint_eq(workers_count(&wp), 5);
	ck_assert(!freed_yet());
	gate_set(&gates[1], true);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert(freed_yet());
	ck_assert_uint_eq(workers_count(&wp), 0);
	ck_assert_uint_eq(nfinished(), 8);
	assert_each_ran_once(8);
	ck_assert_uint_eq(tasks(), base);
}
END_TEST

/* No thread can start: -1 with its errno at once, and the pool recovers. */
START_TEST(test_worker_create_fails)
{
	unsigned base = tasks();

	burst(0, 1, &gates[0]);
	wp.wp_create = fail_create;
	errno = 0;
	ck_assert_int_eq(workers_dispatch(&wp, &clients[1]), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(workers_count(&wp), 1);
	ck_assert_uint_eq(nruns(1), 0);
	wp.wp_create = count_create;
	gate_set(&gates[0], true);
	ck_assert_int_eq(sem_wait(&done), 0);
	/* The thread parks again and serves the next client, no create. */
	wp.wp_create = fail_create;
	WAIT_UNTIL(workers_dispatch(&wp, &clients[1]) == 0);
	ck_assert_int_eq(sem_wait(&done), 0);
	ck_assert_uint_eq(ncreated(), 1);
	free_and_check(2, base);
}
END_TEST

/*
 * park_ms 0: a thread times out the moment it parks, while the dispatcher
 * may be taking it off the idle list; whichever wins, no client is lost
 * or run twice.
 */
START_TEST(test_worker_park_timeout_race)
{
	unsigned base = tasks();

	workers_set_park_ms(&wp, 0);
	dispatch_range(0, NCLIENTS);
	WAIT_UNTIL(nfinished() == NCLIENTS);
	ck_assert_uint_eq(nfinished(), NCLIENTS);
	wait_retired(base);
	free_and_check(NCLIENTS, base);
}
END_TEST

/* max_idle 0: no thread parks; each retires after its client. */
START_TEST(test_worker_no_idle)
{
	unsigned base = tasks();
	size_t i;

	workers_set_max_idle(&wp, 0);
	for (i = 0; i < 200; i++) {
		dispatch_range(i, i + 1);
		ck_assert_int_eq(sem_wait(&done), 0);
	}
	ck_assert_uint_eq(ncreated(), 200);
	wait_retired(base);
	free_and_check(200, base);
}
END_TEST

static Suite *
worker_suite(void)
{
	Suite *s = suite_create("worker");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_checked_fixture(tc_core, setup, teardown);
	tcase_set_timeout(tc_core, 2 * POLL_SEC);
	tcase_add_test(tc_core, test_worker_one_dispatcher);
	tcase_add_test(tc_core, test_worker_two_dispatchers);
	tcase_add_test(tc_core, test_worker_reuse);
	tcase_add_test(tc_core, test_worker_burst_retires);
	tcase_add_test(tc_core, test_worker_max_idle_kept);
	tcase_add_test(tc_core, test_worker_retired_joined);
	tcase_add_test(tc_core, test_worker_free_busy_and_parked);
	suite_add_tcase(s, tc_core);

	tcase_add_checked_fixture(tc_errors, setup, teardown);
	tcase_set_timeout(tc_errors, 2 * POLL_SEC);
	tcase_add_test(tc_errors, test_worker_create_fails);
	tcase_add_test(tc_errors, test_worker_park_timeout_race);
	tcase_add_test(tc_errors, test_worker_no_idle);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(worker_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
