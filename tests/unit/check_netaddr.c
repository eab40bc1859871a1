/*
 * netaddr and cidr: formatting IPv4 and IPv6 peers, IPv4-mapped addresses
 * made canonical, resolving, CIDR parsing at its edges (/0, /32, /128, host
 * bits, bad prefixes, garbage, bare hosts) and matching across families.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "netaddr.h"

/* A sockaddr for a literal: AF_INET if it has a dot and no colon. */
static struct sockaddr_storage
sa_make(const char *addr, uint16_t port, socklen_t *lenp)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;

	memset(&ss, 0, sizeof ss);
	if (strchr(addr, ':') == NULL) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
		len = sizeof *sin;
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
		len = sizeof *sin6;
	}
	if (lenp != NULL)
		*lenp = len;
	return ss;
}

static void
expect_format(const char *addr, uint16_t port, const char *want)
{
	struct sockaddr_storage ss = sa_make(addr, port, NULL);
	char buf[NETADDR_STRLEN];

	ck_assert_ptr_eq(netaddr_format((struct sockaddr *)&ss, buf, sizeof buf),
	    buf);
	ck_assert_str_eq(buf, want);
}

static struct cidr
cidr_ok(const char *s)
{
	struct cidr c;
	char *cause = NULL;

	ck_assert_msg(cidr_parse(s, &c, &cause) == 0, "\"%s\" rejected: %s", s,
	    cause ? cause : "(null)");
	free(cause);
	return c;
}

static bool
matches(const char *cidr, const char *addr)
{
	struct cidr c = cidr_ok(cidr);
	struct sockaddr_storage ss = sa_make(addr, 1234, NULL);

	return cidr_match(&c, (struct sockaddr *)&ss);
}

START_TEST(test_netaddr_format_ipv4)
{
	expect_format("127.0.0.1", 7001, "127.0.0.1:7001");
	expect_format("255.255.255.255", 65535, "255.255.255.255:65535");
	expect_format("0.0.0.0", 0, "0.0.0.0:0");
}
END_TEST

START_TEST(test_netaddr_format_ipv6)
{
	expect_format("::1", 7001, "[::1]:7001");
	expect_format("2001:db8::17", 65535, "[2001:db8::17]:65535");
	expect_format("::", 0, "[::]:0");
}
END_TEST

START_TEST(test_netaddr_format_host)
{
	struct sockaddr_storage v4 = sa_make("192.0.2.7", 80, NULL);
	struct sockaddr_storage v6 = sa_make("::1", 80, NULL);
	char buf[NETADDR_STRLEN];

	ck_assert_str_eq(netaddr_format_host((struct sockaddr *)&v4, buf,
	    sizeof buf), "192.0.2.7");
	ck_assert_str_eq(netaddr_format_host((struct sockaddr *)&v6, buf,
	    sizeof buf), "::1");
}
END_TEST

START_TEST(test_netaddr_port)
{
	struct sockaddr_storage v4 = sa_make("127.0.0.1", 0, NULL);
	struct sockaddr_storage v6 = sa_make("::1", 0, NULL);

	netaddr_set_port(&v4, 7001);
	netaddr_set_port(&v6, 65535);
	ck_assert_uint_eq(netaddr_port((struct sockaddr *)&v4), 7001);
	ck_assert_uint_eq(netaddr_port((struct sockaddr *)&v6), 65535);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&v4)->sin_port), 7001);
}
END_TEST

START_TEST(test_netaddr_canonical_mapped)
{
	socklen_t len;
	struct sockaddr_storage ss = sa_make("::ffff:127.0.0.1", 7001, &len);
	char buf[NETADDR_STRLEN];

	netaddr_canonical(&ss, &len);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(netaddr_port((struct sockaddr *)&ss), 7001);
	netaddr_format((struct sockaddr *)&ss, buf, sizeof buf);
	ck_assert_str_eq(buf, "127.0.0.1:7001");
}
END_TEST

START_TEST(test_netaddr_canonical_unchanged)
{
	socklen_t len;
	struct sockaddr_storage ss = sa_make("::1", 7001, &len);
	struct sockaddr_storage v4 = sa_make("10.0.0.1", 7001, NULL);
	char buf[NETADDR_STRLEN];

	netaddr_canonical(&ss, &len);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(netaddr_format((struct sockaddr *)&ss, buf,
	    sizeof buf), "[::1]:7001");
	len = sizeof(struct sockaddr_in);
	netaddr_canonical(&v4, &len);
	ck_assert_str_eq(netaddr_format((struct sockaddr *)&v4, buf,
	    sizeof buf), "10.0.0.1:7001");
}
END_TEST

START_TEST(test_netaddr_resolve_literals)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char *cause = NULL, buf[NETADDR_STRLEN];

	ck_assert_int_eq(netaddr_resolve("127.0.0.1", &ss, &len, &cause), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_str_eq(netaddr_format_host((struct sockaddr *)&ss, buf,
	    sizeof buf), "127.0.0.1");
	ck_assert_int_eq(netaddr_resolve("::1", &ss, &len, &cause), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_str_eq(netaddr_format((struct sockaddr *)&ss, buf,
	    sizeof buf), "[::1]:0");
}
END_TEST

START_TEST(test_cidr_zero)
{
	struct cidr c = cidr_ok("0.0.0.0/0");

	ck_assert_int_eq(c.c_family, AF_INET);
	ck_assert_int_eq(c.c_bits, 0);
	c = cidr_ok("::/0");
	ck_assert_int_eq(c.c_family, AF_INET6);
	ck_assert_int_eq(c.c_bits, 0);
}
END_TEST

START_TEST(test_cidr_full_length)
{
	struct cidr c = cidr_ok("1.2.3.4/32");

	ck_assert_int_eq(c.c_family, AF_INET);
	ck_assert_int_eq(c.c_bits, 32);
	ck_assert(matches("1.2.3.4/32", "1.2.3.4"));
	ck_assert(!matches("1.2.3.4/32", "1.2.3.5"));
	c = cidr_ok("::1/128");
	ck_assert_int_eq(c.c_family, AF_INET6);
	ck_assert_int_eq(c.c_bits, 128);
	ck_assert(matches("::1/128", "::1"));
	ck_assert(!matches("::1/128", "::2"));
}
END_TEST

START_TEST(test_cidr_host_bits)
{
	struct cidr c = cidr_ok("10.1.2.3/8");
	static const uint8_t net[4] = { 10, 0, 0, 0 };

	ck_assert_int_eq(c.c_bits, 8);
	ck_assert_mem_eq(c.c_addr, net, sizeof net);
	ck_assert(matches("10.1.2.3/8", "10.9.9.9"));
	ck_assert(!matches("10.1.2.3/8", "11.1.2.3"));
	ck_assert(matches("192.168.1.200/25", "192.168.1.130"));
	ck_assert(!matches("192.168.1.200/25", "192.168.1.127"));
	ck_assert(matches("2001:db8:ffff::1/32", "2001:db8::99"));
	ck_assert(!matches("2001:db8:ffff::1/32", "2001:db9::1"));
}
END_TEST

START_TEST(test_cidr_bare_host)
{
	struct cidr c = cidr_ok("192.0.2.7");

	ck_assert_int_eq(c.c_family, AF_INET);
	ck_assert_int_eq(c.c_bits, 32);
	ck_assert(matches("192.0.2.7", "192.0.2.7"));
	ck_assert(!matches("192.0.2.7", "192.0.2.6"));
	c = cidr_ok("2001:db8::7");
	ck_assert_int_eq(c.c_family, AF_INET6);
	ck_assert_int_eq(c.c_bits, 128);
	ck_assert(matches("2001:db8::7", "2001:db8::7"));
	ck_assert(!matches("2001:db8::7", "2001:db8::8"));
}
END_TEST

START_TEST(test_cidr_match_mapped)
{
	ck_assert(matches("10.0.0.0/8", "::ffff:10.0.0.1"));
	ck_assert(!matches("10.0.0.0/8", "::ffff:11.0.0.1"));
	ck_assert(matches("127.0.0.1", "::ffff:127.0.0.1"));
}
END_TEST

START_TEST(test_cidr_match_any_ipv4)
{
	ck_assert(matches("0.0.0.0/0", "1.2.3.4"));
	ck_assert(matches("0.0.0.0/0", "255.255.255.255"));
	ck_assert(matches("0.0.0.0/0", "0.0.0.0"));
	ck_assert(matches("0.0.0.0/0", "::ffff:1.2.3.4"));
	ck_assert(!matches("0.0.0.0/0", "::1"));
	ck_assert(!matches("0.0.0.0/0", "2001:db8::1"));
}
END_TEST

START_TEST(test_cidr_match_any_ipv6)
{
	ck_assert(matches("::/0", "::1"));
	ck_assert(matches("::/0", "2001:db8::1"));
	ck_assert(matches("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	ck_assert(!matches("::/0", "1.2.3.4"));
	/* SPEC 7: an IPv4-mapped client is an IPv4 client for the ACL. */
	ck_assert(!matches("::/0", "::ffff:1.2.3.4"));
}
END_TEST

static const char *const cidr_bad[] = {
	"1.2.3.4/33",
	"::1/129",
	"1.2.3.4/",
	"::/",
	"garbage",
	"",
	"/8",
	"1.2.3/8",
	"1.2.3.4.5",
	"256.0.0.0/8",
	"10.0.0.0/8x",
	"10.0.0.0/-1",
	"10.0.0.0/+8",
	"10.0.0.0/ 8",
	"10.0.0.0/8/8",
	"10.0.0.0 /8",
	"::1::2",
	"10.0.0.0/99999999999999999999",
	/* 46 characters: a valid address followed by one more digit. */
	"0000:0000:0000:0000:0000:0000:255.255.255.2555",
	"0000:0000:0000:0000:0000:0000:255.255.255.2555/8",
};

START_TEST(test_cidr_rejected)
{
	const char *s = cidr_bad[_i];
	struct cidr c;
	char *cause = NULL;

	ck_assert_msg(cidr_parse(s, &c, &cause) == -1,
	    "\"%s\" accepted as family %d /%d", s, c.c_family, c.c_bits);
	ck_assert_msg(cause != NULL, "\"%s\": no cause", s);
	ck_assert_msg(strstr(cause, s) != NULL, "cause \"%s\" does not quote "
	    "\"%s\"", cause, s);
	free(cause);
}
END_TEST

START_TEST(test_netaddr_resolve_bad)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char *cause = NULL;

	ck_assert_int_eq(netaddr_resolve("no-such-host.invalid", &ss, &len,
	    &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, "no-such-host.invalid"));
	free(cause);
}
END_TEST

static Suite *
netaddr_suite(void)
{
	Suite *s = suite_create("netaddr");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_test(tc_core, test_netaddr_format_ipv4);
	tcase_add_test(tc_core, test_netaddr_format_ipv6);
	tcase_add_test(tc_core, test_netaddr_format_host);
	tcase_add_test(tc_core, test_netaddr_port);
	tcase_add_test(tc_core, test_netaddr_canonical_mapped);
	tcase_add_test(tc_core, test_netaddr_canonical_unchanged);
	tcase_add_test(tc_core, test_netaddr_resolve_literals);
	tcase_add_test(tc_core, test_cidr_zero);
	tcase_add_test(tc_core, test_cidr_full_length);
	tcase_add_test(tc_core, test_cidr_host_bits);
	tcase_add_test(tc_core, test_cidr_bare_host);
	tcase_add_test(tc_core, test_cidr_match_mapped);
	tcase_add_test(tc_core, test_cidr_match_any_ipv4);
	tcase_add_test(tc_core, test_cidr_match_any_ipv6);
	suite_add_tcase(s, tc_core);

	tcase_add_loop_test(tc_errors, test_cidr_rejected, 0,
	    (int)(sizeof cidr_bad / sizeof cidr_bad[0]));
	tcase_add_test(tc_errors, test_netaddr_resolve_bad);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(netaddr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
