/*
 * admit: the ACL over cidr_lists (deny wins, no allow means everyone,
 * IPv4-mapped peers matched as IPv4), admit_listed, the max-clients slots
 * (0: no cap; release gives a slot back, also under two racing threads),
 * the per-source counts (::ffff:127.0.0.1 and 127.0.0.1 are one source;
 * released sources leave no memory behind, measured in sanitizer builds),
 * the rate token bucket (burst, refill, cap) and the reason names.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "admit.h"
#include "netaddr.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ADMIT_HEAP_COUNTED
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ADMIT_HEAP_COUNTED
#endif
#endif
#ifdef ADMIT_HEAP_COUNTED
#include <sanitizer/allocator_interface.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ADMIT_LSAN
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ADMIT_LSAN
#endif
#endif
#ifdef ADMIT_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define NCIDR		4
#define NSOURCES	20000	/* far more than the table has buckets */
#define NTAKES		100000	/* per thread */
#define THREAD_MAX	1000

static struct cidr	allow_items[NCIDR], deny_items[NCIDR];
static struct cidr_list	allow, deny;
static struct admit	ad;

static void
setup(void)
{
	memset(allow_items, 0, sizeof allow_items);
	memset(deny_items, 0, sizeof deny_items);
	allow.cl_items = allow_items;
	allow.cl_count = 0;
	deny.cl_items = deny_items;
	deny.cl_count = 0;
	admit_init(&ad);
}

static void
teardown(void)
{
	admit_free(&ad);
}

static void
add_cidr(struct cidr_list *list, const char *s)
{
	char *cause = NULL;

	ck_assert_uint_lt(list->cl_count, NCIDR);
	ck_assert_msg(cidr_parse(s, &list->cl_items[list->cl_count], &cause) ==
	    0, "\"%s\": %s", s, cause ? cause : "(null)");
	list->cl_count++;
}

/* A peer for a literal: AF_INET6 if it has a colon. */
static struct sockaddr_storage
peer(const char *addr)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (strchr(addr, ':') == NULL) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
		ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(40001);
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr),
		    1);
	}
	return ss;
}

static int
acl(const char *addr)
{
	struct sockaddr_storage ss = peer(addr);

	return admit_acl(&allow, &deny, (struct sockaddr *)&ss);
}

static bool
listed(const struct cidr_list *list, const char *addr)
{
	struct sockaddr_storage ss = peer(addr);

	return admit_listed(list, (struct sockaddr *)&ss);
}

static struct admit_key
key(const char *addr)
{
	struct sockaddr_storage ss = peer(addr);
	struct admit_key k;

	admit_key((struct sockaddr *)&ss, &k);
	return k;
}

static int
take_ip(const char *addr, unsigned max)
{
	struct admit_key k = key(addr);

	return admit_take_ip(&ad, &k, max);
}

static void
release_ip(const char *addr)
{
	struct admit_key k = key(addr);

	admit_release_ip(&ad, &k);
}

/* The i-th of NSOURCES distinct sources: loopback IPv4, then IPv6. */
static struct admit_key
source(unsigned i)
{
	char buf[INET6_ADDRSTRLEN];

	if (i % 2 == 0)
		snprintf(buf, sizeof buf, "127.%u.%u.%u", (i >> 16) & 0xff,
		    (i >> 8) & 0xff, i & 0xff);
	else
		snprintf(buf, sizeof buf, "2001:db8::%x", i);
	return key(buf);
}

static double
seconds(const struct timespec *ts)
{
	return (double)ts->tv_sec + (double)ts->tv_nsec / 1e9;
}

/* Tokens taken until the bucket refuses; bounded so a broken bucket ends. */
static int
drain(struct admit_rate *ar, unsigned rate)
{
	int n;

	for (n = 0; n <= (int)rate + 1; n++) {
		if (admit_rate(ar, rate) != REJECT_NONE)
			break;
	}
	return n;
}

START_TEST(test_admit_acl_open)
{
	ck_assert_int_eq(acl("127.0.0.1"), REJECT_NONE);
	ck_assert_int_eq(acl("203.0.113.9"), REJECT_NONE);
	ck_assert_int_eq(acl("::1"), REJECT_NONE);
	ck_assert_int_eq(acl("::ffff:10.0.0.1"), REJECT_NONE);
}
END_TEST

START_TEST(test_admit_acl_allow_both_families)
{
	add_cidr(&allow, "10.0.0.0/8");
	add_cidr(&allow, "2001:db8::/32");
	ck_assert_int_eq(acl("10.1.2.3"), REJECT_NONE);
	ck_assert_int_eq(acl("::ffff:10.1.2.3"), REJECT_NONE);
	ck_assert_int_eq(acl("2001:db8::1"), REJECT_NONE);
}
END_TEST

START_TEST(test_admit_acl_mapped)
{
	add_cidr(&allow, "127.0.0.0/8");
	add_cidr(&deny, "127.0.0.9");
	ck_assert_int_eq(acl("::ffff:127.0.0.1"), REJECT_NONE);
	ck_assert_int_eq(acl("::ffff:127.0.0.9"), REJECT_ACL);
	ck_assert_int_eq(acl("::ffff:128.0.0.1"), REJECT_ACL);
}
END_TEST

START_TEST(test_admit_listed)
{
	ck_assert(!listed(&allow, "127.0.0.1"));
	ck_assert(!listed(&allow, "::1"));
	add_cidr(&allow, "127.0.0.0/8");
	add_cidr(&allow, "::1");
	ck_assert(listed(&allow, "127.0.0.1"));
	ck_assert(listed(&allow, "127.255.0.3"));
	ck_assert(listed(&allow, "::ffff:127.0.0.1"));
	ck_assert(listed(&allow, "::1"));
	ck_assert(!listed(&allow, "128.0.0.1"));
	ck_assert(!listed(&allow, "::2"));
	/* The other list is not consulted. */
	ck_assert(!listed(&deny, "127.0.0.1"));
}
END_TEST

START_TEST(test_admit_key_mapped)
{
	struct admit_key a = key("127.0.0.1"), b = key("::ffff:127.0.0.1");
	struct admit_key c = key("::1"), d = key("127.0.0.2");

	ck_assert_mem_eq(&a, &b, sizeof a);
	ck_assert_int_eq(a.ak_family, AF_INET);
	ck_assert_int_eq(c.ak_family, AF_INET6);
	ck_assert(memcmp(&a, &c, sizeof a) != 0);
	ck_assert(memcmp(&a, &d, sizeof a) != 0);
}
END_TEST

START_TEST(test_admit_take_nocap)
{
	unsigned i;

	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(admit_take(&ad, 0), REJECT_NONE);
	ck_assert_uint_eq(admit_active(&ad), 10000);
	for (i = 10000; i > 0; i--)
		ck_assert_uint_eq(admit_release(&ad), i - 1);
	ck_assert_uint_eq(admit_active(&ad), 0);
}
END_TEST

START_TEST(test_admit_take_release)
{
	ck_assert_int_eq(admit_take(&ad, 3), REJECT_NONE);
	ck_assert_int_eq(admit_take(&ad, 3), REJECT_NONE);
	ck_assert_int_eq(admit_take(&ad, 3), REJECT_NONE);
	ck_assert_uint_eq(admit_active(&ad), 3);
	ck_assert_uint_eq(admit_release(&ad), 2);
	ck_assert_uint_eq(admit_active(&ad), 2);
	ck_assert_int_eq(admit_take(&ad, 3), REJECT_NONE);
	ck_assert_uint_eq(admit_active(&ad), 3);
}
END_TEST

START_TEST(test_admit_take_ip_one_source)
{
	ck_assert_int_eq(take_ip("127.0.0.1", 2), REJECT_NONE);
	ck_assert_int_eq(take_ip("::ffff:127.0.0.1", 2), REJECT_NONE);
	ck_assert_int_eq(take_ip("127.0.0.1", 2), REJECT_PER_IP);
	ck_assert_int_eq(take_ip("::ffff:127.0.0.1", 2), REJECT_PER_IP);
	/* A release in either spelling gives the one source a slot back. */
	release_ip("::ffff:127.0.0.1");
	ck_assert_int_eq(take_ip("127.0.0.1", 2), REJECT_NONE);
	ck_assert_int_eq(take_ip("::ffff:127.0.0.1", 2), REJECT_PER_IP);
	/* The per-source counts are not the admitted count. */
	ck_assert_uint_eq(admit_active(&ad), 0);
}
END_TEST

START_TEST(test_admit_take_ip_independent)
{
	ck_assert_int_eq(take_ip("127.0.0.1", 1), REJECT_NONE);
	ck_assert_int_eq(take_ip("127.0.0.2", 1), REJECT_NONE);
	ck_assert_int_eq(take_ip("::1", 1), REJECT_NONE);
	ck_assert_int_eq(take_ip("2001:db8::1", 1), REJECT_NONE);
	ck_assert_int_eq(take_ip("127.0.0.1", 1), REJECT_PER_IP);
	ck_assert_int_eq(take_ip("::1", 1), REJECT_PER_IP);
	release_ip("127.0.0.1");
	ck_assert_int_eq(take_ip("127.0.0.1", 1), REJECT_NONE);
	ck_assert_int_eq(take_ip("127.0.0.2", 1), REJECT_PER_IP);
	ck_assert_int_eq(take_ip("::1", 1), REJECT_PER_IP);
	/* Each source counts against its own max, whatever the others. */
	ck_assert_int_eq(take_ip("127.0.0.3", 5), REJECT_NONE);
	ck_assert_int_eq(take_ip("127.0.0.2", 2), REJECT_NONE);
}
END_TEST

/*
 * Many sources taken then released: each can be taken again from scratch,
 * and in a sanitizer build the heap is back where it started (the table
 * itself stays) with nothing leaked.
 */
START_TEST(test_admit_take_ip_many_sources)
{
	struct admit_key k;
	unsigned i, bad = 0;
#ifdef ADMIT_HEAP_COUNTED
	size_t before, held, after;
#endif

	ck_assert_int_eq(take_ip("127.0.0.1", 1), REJECT_NONE);
	release_ip("127.0.0.1");
#ifdef ADMIT_HEAP_COUNTED
	before = __sanitizer_get_current_allocated_bytes();
#endif
	/* No ck_assert while measuring: Check may allocate when it records. */
	for (i = 0; i < NSOURCES; i++) {
		k = source(i);
		bad += admit_take_ip(&ad, &k, 1) != REJECT_NONE;
	}
#ifdef ADMIT_HEAP_COUNTED
	held = __sanitizer_get_current_allocated_bytes();
#endif
	for (i = 0; i < NSOURCES; i++) {
		k = source(i);
		admit_release_ip(&ad, &k);
	}
#ifdef ADMIT_HEAP_COUNTED
	after = __sanitizer_get_current_allocated_bytes();
#endif
	ck_assert_uint_eq(bad, 0);
#ifdef ADMIT_HEAP_COUNTED
	ck_assert_uint_ge(held, before + NSOURCES * sizeof k);
	ck_assert_uint_eq(after, before);
#endif
#ifdef ADMIT_LSAN
	ck_assert_int_eq(__lsan_do_recoverable_leak_check(), 0);
#endif
	/* Released to 0, each source starts over under max 1. */
	for (i = 0; i < NSOURCES; i++) {
		k = source(i);
		bad += admit_take_ip(&ad, &k, 1) != REJECT_NONE;
		bad += admit_take_ip(&ad, &k, 1) != REJECT_PER_IP;
		admit_release_ip(&ad, &k);
	}
	ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(test_admit_rate_off)
{
	struct admit_rate ar;
	int i;

	memset(&ar, 0, sizeof ar);
	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(admit_rate(&ar, 0), REJECT_NONE);
}
END_TEST

/*
 * A new bucket is full: exactly rate at once. Small rates only, so that
 * the burst is over long before it could have earned another token.
 */
START_TEST(test_admit_rate_burst)
{
	static const unsigned rates[] = { 1, 2, 5 };
	struct admit_rate ar;
	size_t i;

	for (i = 0; i < sizeof rates / sizeof rates[0]; i++) {
		memset(&ar, 0, sizeof ar);
		ck_assert_int_eq(drain(&ar, rates[i]), (int)rates[i]);
		ck_assert_int_eq(admit_rate(&ar, rates[i]), REJECT_RATE);
	}
}
END_TEST

/*
 * Emptied, then ~250 ms later a rate 5 bucket has earned about one token:
 * it admits what it earned by its own clock readings, keeping less than one.
 */
START_TEST(test_admit_rate_refill)
{
	struct admit_rate ar;
	struct timespec refused, now, pause = { 0, 10 * 1000 * 1000 };
	double empty, earned;
	int n;

	memset(&ar, 0, sizeof ar);
	ck_assert_int_eq(drain(&ar, 5), 5);
	empty = ar.ar_tokens;
	refused = ar.ar_last;
	ck_assert(empty >= 0.0 && empty < 1.0);
	do {
		nanosleep(&pause, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (seconds(&now) - seconds(&refused) < 0.25);
	n = drain(&ar, 5);
	earned = empty + 5 * (seconds(&ar.ar_last) - seconds(&refused));
	ck_assert_int_ge(n, 1);
	ck_assert_msg(n <= earned + 1e-6 && earned - n < 1.0 + 1e-6,
	    "admitted %d of %.3f tokens", n, earned);
	ck_assert(ar.ar_tokens >= 0.0 && ar.ar_tokens < 1.0);
}
END_TEST

/* However long the idle, the bucket holds rate tokens at most. */
START_TEST(test_admit_rate_cap)
{
	struct admit_rate ar;

	memset(&ar, 0, sizeof ar);
	ck_assert_int_eq(drain(&ar, 5), 5);
	/* An hour of idle, without the hour: the bucket reads only ar_last. */
	ar.ar_last.tv_sec -= 3600;
	ck_assert_int_eq(admit_rate(&ar, 5), REJECT_NONE);
	ck_assert(ar.ar_tokens <= 4.0 + 1e-9);
	ck_assert_int_eq(drain(&ar, 5), 4);
	ck_assert_int_eq(admit_rate(&ar, 5), REJECT_RATE);
}
END_TEST

START_TEST(test_admit_reason_names)
{
	static const char *const want[REJECT_NREASONS] = {
		[REJECT_BUSY] = "busy",
		[REJECT_PER_IP] = "per_ip",
		[REJECT_ACL] = "acl",
		[REJECT_RESOURCES] = "resources",
		[REJECT_RATE] = "rate",
		[REJECT_PROXY] = "proxy",
	};
	int i;

	ck_assert_int_eq(REJECT_NREASONS, 6);
	for (i = 0; i < REJECT_NREASONS; i++) {
		ck_assert_ptr_nonnull(reject_reason_names[i]);
		ck_assert_str_eq(reject_reason_names[i], want[i]);
	}
}
END_TEST

START_TEST(test_admit_acl_allow_only)
{
	add_cidr(&allow, "10.0.0.0/8");
	add_cidr(&allow, "2001:db8::/32");
	ck_assert_int_eq(acl("192.168.1.1"), REJECT_ACL);
	ck_assert_int_eq(acl("::ffff:11.0.0.1"), REJECT_ACL);
	ck_assert_int_eq(acl("2001:db9::1"), REJECT_ACL);
	ck_assert_int_eq(acl("::1"), REJECT_ACL);
	ck_assert_int_eq(acl("127.0.0.1"), REJECT_ACL);
}
END_TEST

START_TEST(test_admit_acl_allow_ipv6_only)
{
	/* A mapped peer is IPv4: an IPv6-only allow list does not let it in. */
	add_cidr(&allow, "::1");
	ck_assert_int_eq(acl("::1"), REJECT_NONE);
	ck_assert_int_eq(acl("::ffff:127.0.0.1"), REJECT_ACL);
	ck_assert_int_eq(acl("127.0.0.1"), REJECT_ACL);
}
END_TEST

START_TEST(test_admit_acl_deny_only)
{
	add_cidr(&deny, "10.0.0.0/8");
	add_cidr(&deny, "2001:db8::/32");
	ck_assert_int_eq(acl("10.1.1.1"), REJECT_ACL);
	ck_assert_int_eq(acl("::ffff:10.1.1.1"), REJECT_ACL);
	ck_assert_int_eq(acl("2001:db8::5"), REJECT_ACL);
	ck_assert_int_eq(acl("1.2.3.4"), REJECT_NONE);
	ck_assert_int_eq(acl("::1"), REJECT_NONE);
	ck_assert_int_eq(acl("2001:db9::5"), REJECT_NONE);
}
END_TEST

START_TEST(test_admit_acl_deny_wins)
{
	add_cidr(&allow, "10.0.0.0/8");
	add_cidr(&allow, "2001:db8::/32");
	add_cidr(&deny, "10.0.0.5");
	add_cidr(&deny, "2001:db8::5");
	ck_assert_int_eq(acl("10.0.0.5"), REJECT_ACL);
	ck_assert_int_eq(acl("::ffff:10.0.0.5"), REJECT_ACL);
	ck_assert_int_eq(acl("2001:db8::5"), REJECT_ACL);
	ck_assert_int_eq(acl("10.0.0.6"), REJECT_NONE);
	ck_assert_int_eq(acl("2001:db8::6"), REJECT_NONE);
	/* Denied even when allow names the very same address. */
	add_cidr(&allow, "10.0.0.5/32");
	ck_assert_int_eq(acl("10.0.0.5"), REJECT_ACL);
}
END_TEST

START_TEST(test_admit_take_busy)
{
	int i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(admit_take(&ad, 3), REJECT_NONE);
	/* Refusals hold no slot. */
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(admit_take(&ad, 3), REJECT_BUSY);
	ck_assert_uint_eq(admit_active(&ad), 3);
	ck_assert_uint_eq(admit_release(&ad), 2);
	ck_assert_int_eq(admit_take(&ad, 3), REJECT_NONE);
	ck_assert_int_eq(admit_take(&ad, 3), REJECT_BUSY);
	ck_assert_uint_eq(admit_active(&ad), 3);
}
END_TEST

START_TEST(test_admit_take_ip_per_ip)
{
	int i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(take_ip("::1", 3), REJECT_NONE);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(take_ip("::1", 3), REJECT_PER_IP);
	release_ip("::1");
	ck_assert_int_eq(take_ip("::1", 3), REJECT_NONE);
	ck_assert_int_eq(take_ip("::1", 3), REJECT_PER_IP);
}
END_TEST

/* max 0 refuses every source and keeps no entry for it. */
START_TEST(test_admit_take_ip_zero)
{
	struct admit_key k;
	unsigned i, bad = 0;
#ifdef ADMIT_HEAP_COUNTED
	size_t before, after;
#endif

	ck_assert_int_eq(take_ip("127.0.0.1", 0), REJECT_PER_IP);
	ck_assert_int_eq(take_ip("::1", 0), REJECT_PER_IP);
#ifdef ADMIT_HEAP_COUNTED
	before = __sanitizer_get_current_allocated_bytes();
#endif
	for (i = 0; i < NSOURCES; i++) {
		k = source(i);
		bad += admit_take_ip(&ad, &k, 0) != REJECT_PER_IP;
	}
#ifdef ADMIT_HEAP_COUNTED
	after = __sanitizer_get_current_allocated_bytes();
#endif
	ck_assert_uint_eq(bad, 0);
#ifdef ADMIT_HEAP_COUNTED
	ck_assert_uint_eq(after, before);
#endif
#ifdef ADMIT_LSAN
	ck_assert_int_eq(__lsan_do_recoverable_leak_check(), 0);
#endif
	/* Nothing counted: under max 1 the same sources are admitted. */
	ck_assert_int_eq(take_ip("127.0.0.1", 1), REJECT_NONE);
	ck_assert_int_eq(take_ip("::1", 1), REJECT_NONE);
	ck_assert_int_eq(take_ip("::1", 1), REJECT_PER_IP);
}
END_TEST

/* Slots the threads hold by their own count, and its highest value. */
static atomic_uint	thread_held;
static atomic_uint	thread_peak;

static void
thread_note_held(unsigned n)
{
	unsigned peak = atomic_load(&thread_peak);

	while (n > peak &&
	    !atomic_compare_exchange_weak(&thread_peak, &peak, n))
		;
}

static void
thread_release(unsigned *mine)
{
	(*mine)--;
	atomic_fetch_sub(&thread_held, 1);
	admit_release(&ad);
}

/*
 * NTAKES slots taken and given back; a refusal gives one back, so once
 * full both threads keep racing for the last slots under the cap.
 */
static void *
thread_main(void *arg)
{
	unsigned taken = 0, mine = 0, busy = 0;

	while (taken < NTAKES) {
		if (admit_take(&ad, THREAD_MAX) == REJECT_NONE) {
			taken++;
			mine++;
			thread_note_held(atomic_fetch_add(&thread_held, 1) + 1);
		} else {
			busy++;
			if (mine > 0)
				thread_release(&mine);
		}
	}
	while (mine > 0)
		thread_release(&mine);
	*(unsigned *)arg = busy;
	return NULL;
}

START_TEST(test_admit_take_threads)
{
	pthread_t t[2];
	unsigned busy[2] = { 0, 0 };
	int i;

	atomic_store(&thread_held, 0);
	atomic_store(&thread_peak, 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main,
		    &busy[i]), 0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_uint_le(atomic_load(&thread_peak), THREAD_MAX);
	/*
	 * Neither can take NTAKES without filling the cap, and at a refusal
	 * the threads had counted all the max slots but at most the other
	 * thread's one in flight (taken, being released, or a refused take).
	 */
	ck_assert_uint_gt(busy[0], 0);
	ck_assert_uint_gt(busy[1], 0);
	ck_assert_uint_ge(atomic_load(&thread_peak), THREAD_MAX - 1);
	ck_assert_uint_eq(atomic_load(&thread_held), 0);
	ck_assert_uint_eq(admit_active(&ad), 0);
}
END_TEST

static Suite *
admit_suite(void)
{
	Suite *s = suite_create("admit");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_checked_fixture(tc_core, setup, teardown);
	tcase_add_test(tc_core, test_admit_acl_open);
	tcase_add_test(tc_core, test_admit_acl_allow_both_families);
	tcase_add_test(tc_core, test_admit_acl_mapped);
	tcase_add_test(tc_core, test_admit_listed);
	tcase_add_test(tc_core, test_admit_key_mapped);
	tcase_add_test(tc_core, test_admit_take_nocap);
	tcase_add_test(tc_core, test_admit_take_release);
	tcase_add_test(tc_core, test_admit_take_ip_one_source);
	tcase_add_test(tc_core, test_admit_take_ip_independent);
	tcase_add_test(tc_core, test_admit_take_ip_many_sources);
	tcase_add_test(tc_core, test_admit_rate_off);
	tcase_add_test(tc_core, test_admit_rate_burst);
	tcase_add_test(tc_core, test_admit_rate_refill);
	tcase_add_test(tc_core, test_admit_rate_cap);
	tcase_add_test(tc_core, test_admit_reason_names);
	tcase_add_test(tc_core, test_admit_take_threads);
	tcase_set_timeout(tc_core, 20);
	suite_add_tcase(s, tc_core);

	tcase_add_checked_fixture(tc_errors, setup, teardown);
	tcase_add_test(tc_errors, test_admit_acl_allow_only);
	tcase_add_test(tc_errors, test_admit_acl_allow_ipv6_only);
	tcase_add_test(tc_errors, test_admit_acl_deny_only);
	tcase_add_test(tc_errors, test_admit_acl_deny_wins);
	tcase_add_test(tc_errors, test_admit_take_busy);
	tcase_add_test(tc_errors, test_admit_take_ip_per_ip);
	tcase_add_test(tc_errors, test_admit_take_ip_zero);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(admit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
