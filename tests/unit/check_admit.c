/*
 * admit: the ACL (deny wins, no allow means everyone, IPv4-mapped peers
 * matched as IPv4) and the slot counts of --max-clients and --max-per-ip
 * (::ffff:127.0.0.1 and 127.0.0.1 are one source; releases give slots back).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "admit.h"
#include "netaddr.h"
#include "options.h"

#define NCIDR 4

static struct options	opts;
static struct cidr	allow[NCIDR], deny[NCIDR];
static struct admit	ad;

static void
setup(void)
{
	options_defaults(&opts);
	memset(allow, 0, sizeof allow);
	memset(deny, 0, sizeof deny);
	opts.o_allow = allow;
	opts.o_deny = deny;
	admit_init(&ad, &opts);
}

static void
teardown(void)
{
	admit_free(&ad);
}

static void
add_cidr(struct cidr *list, size_t *n, const char *s)
{
	char *cause = NULL;

	ck_assert_uint_lt(*n, NCIDR);
	ck_assert_msg(cidr_parse(s, &list[*n], &cause) == 0, "\"%s\": %s", s,
	    cause ? cause : "(null)");
	(*n)++;
}

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
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
	}
	return ss;
}

static int
acl(const char *addr)
{
	struct sockaddr_storage ss = peer(addr);

	return admit_acl(&opts, (struct sockaddr *)&ss);
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
take(const char *addr)
{
	struct admit_key k = key(addr);

	return admit_take(&ad, &k);
}

static void
release(const char *addr)
{
	struct admit_key k = key(addr);

	admit_release(&ad, &k);
}

START_TEST(test_admit_acl_open)
{
	ck_assert_int_eq(acl("127.0.0.1"), REJECT_NONE);
	ck_assert_int_eq(acl("203.0.113.9"), REJECT_NONE);
	ck_assert_int_eq(acl("::1"), REJECT_NONE);
	ck_assert_int_eq(acl("::ffff:10.0.0.1"), REJECT_NONE);
}
END_TEST

START_TEST(test_admit_acl_allow)
{
	add_cidr(allow, &opts.o_nallow, "10.0.0.0/8");
	add_cidr(allow, &opts.o_nallow, "2001:db8::/32");
	ck_assert_int_eq(acl("10.1.2.3"), REJECT_NONE);
	ck_assert_int_eq(acl("2001:db8::1"), REJECT_NONE);
	ck_assert_int_eq(acl("192.168.1.1"), REJECT_ACL);
	ck_assert_int_eq(acl("2001:db9::1"), REJECT_ACL);
	ck_assert_int_eq(acl("::1"), REJECT_ACL);
}
END_TEST

START_TEST(test_admit_acl_mapped)
{
	add_cidr(allow, &opts.o_nallow, "10.0.0.0/8");
	ck_assert_int_eq(acl("::ffff:10.0.0.1"), REJECT_NONE);
	ck_assert_int_eq(acl("::ffff:11.0.0.1"), REJECT_ACL);
}
END_TEST

START_TEST(test_admit_acl_deny_only)
{
	add_cidr(deny, &opts.o_ndeny, "10.0.0.0/8");
	ck_assert_int_eq(acl("10.1.1.1"), REJECT_ACL);
	ck_assert_int_eq(acl("::ffff:10.1.1.1"), REJECT_ACL);
	ck_assert_int_eq(acl("1.2.3.4"), REJECT_NONE);
	ck_assert_int_eq(acl("::1"), REJECT_NONE);
}
END_TEST

START_TEST(test_admit_acl_deny_wins)
{
	add_cidr(allow, &opts.o_nallow, "10.0.0.0/8");
	add_cidr(deny, &opts.o_ndeny, "10.0.0.5");
	ck_assert_int_eq(acl("10.0.0.5"), REJECT_ACL);
	ck_assert_int_eq(acl("::ffff:10.0.0.5"), REJECT_ACL);
	ck_assert_int_eq(acl("10.0.0.6"), REJECT_NONE);
	/* Denied even when the allow entry is the very same address. */
	add_cidr(allow, &opts.o_nallow, "10.0.0.5/32");
	ck_assert_int_eq(acl("10.0.0.5"), REJECT_ACL);
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

START_TEST(test_admit_unlimited_per_ip)
{
	int i;

	opts.o_max_clients = 100;
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(take("127.0.0.1"), REJECT_NONE);
	ck_assert_int_eq(take("127.0.0.1"), REJECT_BUSY);
	ck_assert_uint_eq(ad.ad_active, 100);
}
END_TEST

START_TEST(test_admit_max_clients)
{
	opts.o_max_clients = 2;
	ck_assert_int_eq(take("10.0.0.1"), REJECT_NONE);
	ck_assert_int_eq(take("10.0.0.2"), REJECT_NONE);
	ck_assert_int_eq(take("10.0.0.3"), REJECT_BUSY);
	ck_assert_uint_eq(ad.ad_active, 2);
	release("10.0.0.1");
	ck_assert_uint_eq(ad.ad_active, 1);
	ck_assert_int_eq(take("10.0.0.3"), REJECT_NONE);
	ck_assert_int_eq(take("10.0.0.4"), REJECT_BUSY);
	release("10.0.0.2");
	release("10.0.0.3");
	ck_assert_uint_eq(ad.ad_active, 0);
}
END_TEST

START_TEST(test_admit_per_ip)
{
	opts.o_max_clients = 10;
	opts.o_max_per_ip = 2;
	ck_assert_int_eq(take("127.0.0.1"), REJECT_NONE);
	ck_assert_int_eq(take("::ffff:127.0.0.1"), REJECT_NONE);
	ck_assert_int_eq(take("127.0.0.1"), REJECT_PER_IP);
	ck_assert_int_eq(take("::ffff:127.0.0.1"), REJECT_PER_IP);
	ck_assert_uint_eq(ad.ad_active, 2);
	/* Other sources have their own count. */
	ck_assert_int_eq(take("127.0.0.2"), REJECT_NONE);
	ck_assert_int_eq(take("::1"), REJECT_NONE);
	ck_assert_int_eq(take("::1"), REJECT_NONE);
	ck_assert_int_eq(take("::1"), REJECT_PER_IP);
	ck_assert_uint_eq(ad.ad_active, 5);
}
END_TEST

START_TEST(test_admit_per_ip_release)
{
	int round;

	opts.o_max_per_ip = 1;
	for (round = 0; round < 3; round++) {
		ck_assert_int_eq(take("::ffff:127.0.0.1"), REJECT_NONE);
		ck_assert_int_eq(take("127.0.0.1"), REJECT_PER_IP);
		release("127.0.0.1");
		ck_assert_uint_eq(ad.ad_active, 0);
		ck_assert_int_eq(take("127.0.0.1"), REJECT_NONE);
		ck_assert_int_eq(take("::ffff:127.0.0.1"), REJECT_PER_IP);
		release("::ffff:127.0.0.1");
		ck_assert_uint_eq(ad.ad_active, 0);
	}
}
END_TEST

/* SPEC 7: --max-clients is checked before --max-per-ip. */
START_TEST(test_admit_busy_before_per_ip)
{
	opts.o_max_clients = 1;
	opts.o_max_per_ip = 1;
	ck_assert_int_eq(take("127.0.0.1"), REJECT_NONE);
	ck_assert_int_eq(take("127.0.0.1"), REJECT_BUSY);
	release("127.0.0.1");
	ck_assert_int_eq(take("127.0.0.1"), REJECT_NONE);
}
END_TEST

/* A refused client holds no slot: refusals do not use up the limits. */
START_TEST(test_admit_refusal_costs_nothing)
{
	int i;

	opts.o_max_clients = 3;
	opts.o_max_per_ip = 1;
	ck_assert_int_eq(take("10.0.0.1"), REJECT_NONE);
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(take("10.0.0.1"), REJECT_PER_IP);
	ck_assert_uint_eq(ad.ad_active, 1);
	ck_assert_int_eq(take("10.0.0.2"), REJECT_NONE);
	ck_assert_int_eq(take("10.0.0.3"), REJECT_NONE);
	ck_assert_int_eq(take("10.0.0.4"), REJECT_BUSY);
	release("10.0.0.1");
	ck_assert_int_eq(take("10.0.0.4"), REJECT_NONE);
	ck_assert_int_eq(take("10.0.0.1"), REJECT_BUSY);
	release("10.0.0.2");
	ck_assert_int_eq(take("10.0.0.1"), REJECT_NONE);
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
	tcase_add_test(tc_core, test_admit_acl_allow);
	tcase_add_test(tc_core, test_admit_acl_mapped);
	tcase_add_test(tc_core, test_admit_key_mapped);
	tcase_add_test(tc_core, test_admit_unlimited_per_ip);
	tcase_add_test(tc_core, test_admit_per_ip_release);
	suite_add_tcase(s, tc_core);

	tcase_add_checked_fixture(tc_errors, setup, teardown);
	tcase_add_test(tc_errors, test_admit_acl_deny_only);
	tcase_add_test(tc_errors, test_admit_acl_deny_wins);
	tcase_add_test(tc_errors, test_admit_max_clients);
	tcase_add_test(tc_errors, test_admit_per_ip);
	tcase_add_test(tc_errors, test_admit_busy_before_per_ip);
	tcase_add_test(tc_errors, test_admit_refusal_costs_nothing);
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
