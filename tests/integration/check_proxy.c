/*
 * The real client behind a proxy (proxy-from=127.0.0.1/32; the test's
 * clients from 127.0.0.1 are the proxy, those from 127.0.0.2 another
 * source): v1 and v2 headers make the header's address the client for
 * WHOAMI, the ACL and max-per-ip; a v2 LOCAL header keeps the proxy's;
 * TLVs are skipped; the payload after the header in the same write is the
 * service's. Every malformed, truncated, late or missing header is closed
 * without a byte and counted as a proxy rejection, never as accepted. A
 * header from another source is data. proxyproto_format's headers read
 * back exactly.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"
#include "netaddr.h"
#include "proxyproto.h"

#define PROXY_FROM	"proxy-from=127.0.0.1/32"

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static bool
one_active(struct itest *t)
{
	return server_active_clients(&t->t_server) == 1;
}

/* A server with "0:echo" and a cmd channel behind the proxy: its port. */
static uint16_t
start_cmd(struct itest *t, const char *keys)
{
	uint16_t c = itest_free_ports(1);
	char *conf;

	conf = itest_fmt("%u cmd " PROXY_FROM "%s\n", c, keys);
	itest_start_conf(t, "0:echo", conf);
	free(conf);
	return c;
}

/* A v2 PROXY TCP4 header from src:sport to 127.0.0.1:dport, then TLVs. */
static size_t
v2_tcp4(uint8_t *buf, const char *src, uint16_t sport, uint16_t dport,
    const uint8_t *tlvs, size_t tlvlen)
{
	uint16_t alen = (uint16_t)(12 + tlvlen);
	struct in_addr s, d;

	ck_assert_int_eq(inet_pton(AF_INET, src, &s), 1);
	d.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(buf, v2_sig, sizeof v2_sig);
	buf[12] = 0x21;		/* version 2, PROXY */
	buf[13] = 0x11;		/* TCP over IPv4 */
	buf[14] = (uint8_t)(alen >> 8);
	buf[15] = (uint8_t)alen;
	memcpy(buf + 16, &s, 4);
	memcpy(buf + 20, &d, 4);
	buf[24] = (uint8_t)(sport >> 8);
	buf[25] = (uint8_t)sport;
	buf[26] = (uint8_t)(dport >> 8);
	buf[27] = (uint8_t)dport;
	if (tlvlen > 0)
		memcpy(buf + 28, tlvs, tlvlen);
	return 28 + tlvlen;
}

/* A v2 LOCAL header (a health check): no address. */
static size_t
v2_local(uint8_t *buf)
{
	memcpy(buf, v2_sig, sizeof v2_sig);
	buf[12] = 0x20;
	buf[13] = 0x00;
	buf[14] = buf[15] = 0;
	return 16;
}

/* Connect as the proxy, send a header (and what follows it), read the banner. */
static int
proxied_cmd(uint16_t port, const void *header, size_t len)
{
	int fd = itest_connect(port);
	char *r;

	itest_send(fd, header, len);
	r = itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_msg(strncmp(r, "220 ", 4) == 0, "banner after a header: \"%s\"",
	    r);
	free(r);
	return fd;
}

/* WHOAMI's client= and server= words must be these. */
static void
whoami_is(int fd, const char *client, uint16_t port)
{
	char *r, *want;

	want = itest_fmt("200 client=%s server=127.0.0.1:%u service=cmd conn=",
	    client, port);
	r = itest_cmd(fd, "WHOAMI");
	ck_assert_msg(strncmp(r, want, strlen(want)) == 0, "WHOAMI: \"%s\", "
	    "want \"%s...\"", r, want);
	free(r);
	free(want);
}

/* The text of a v1 TCP4 header from src:sport to 127.0.0.1:dport. */
static char *
v1_tcp4(const char *src, uint16_t sport, uint16_t dport)
{
	return itest_fmt("PROXY TCP4 %s 127.0.0.1 %u %u\r\n", src, sport,
	    dport);
}

/* A v1 header from src:4242 is served, and WHOAMI names src:4242. */
static void
v1_served(uint16_t port, const char *src)
{
	char *h = v1_tcp4(src, 4242, port), *who = itest_fmt("%s:4242", src);
	int fd = proxied_cmd(port, h, strlen(h));

	whoami_is(fd, who, port);
	close(fd);
	free(who);
	free(h);
}

/* A v1 header from src is closed without a byte. */
static void
v1_refused(uint16_t port, const char *src)
{
	char *h = v1_tcp4(src, 4242, port);
	int fd = itest_connect(port);

	itest_sends(fd, h);
	ck_assert_msg(itest_closed_silently(fd, ITEST_TIMEOUT_MS),
	    "a header from %s was not refused", src);
	close(fd);
	free(h);
}

/* --- Headers from the proxy ---------------------------------------------- */

START_TEST(v1_header_is_the_client)
{
	struct itest t;
	uint16_t c = start_cmd(&t, "");
	char *h, *r;
	int fd;

	v1_served(c, "127.0.0.9");
	h = itest_fmt("PROXY TCP6 ::1 ::1 4243 %u\r\n", c);
	fd = proxied_cmd(c, h, strlen(h));
	whoami_is(fd, "[::1]:4243", c);
	close(fd);
	free(h);
	/* A header that trickles in is read whole. */
	fd = itest_connect(c);
	itest_sends(fd, "PROXY TCP4 127.0.0.");
	ck_assert(itest_silent(fd, 200));
	h = itest_fmt("7 127.0.0.1 4244 %u\r\n", c);
	itest_sends(fd, h);
	free(h);
	r = itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_uint_eq(strncmp(r, "220 ", 4), 0);
	free(r);
	whoami_is(fd, "127.0.0.7:4244", c);
	close(fd);
	/* The command after the header, in the same write. */
	h = itest_fmt("PROXY TCP4 127.0.0.8 127.0.0.1 4245 %u\r\nWHOAMI\r\n",
	    c);
	fd = itest_connect(c);
	itest_sends(fd, h);
	free(h);
	r = itest_read_until(fd, " conn=", ITEST_TIMEOUT_MS, NULL);
	ck_assert_msg(strstr(r, "\r\n200 client=127.0.0.8:4245 server=") !=
	    NULL, "%s", r);
	free(r);
	close(fd);
	ck_assert_uint_eq(itest_accepted(&t, c), 4);
	ck_assert_uint_eq(itest_rejected(&t, c, REJECT_PROXY), 0);
	itest_stop(&t);
}
END_TEST

START_TEST(v2_header_is_the_client)
{
	/* ALPN "h2", then a NOOP of three bytes: both skipped. */
	static const uint8_t tlvs[] = { 0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00,
	    0x03, 0, 0, 0 };
	struct itest t;
	uint16_t c = start_cmd(&t, "");
	struct sockaddr_in self;
	socklen_t len = sizeof self;
	uint8_t h[64];
	char *who;
	size_t n;
	int fd;

	n = v2_tcp4(h, "127.0.0.9", 4242, c, NULL, 0);
	fd = proxied_cmd(c, h, n);
	whoami_is(fd, "127.0.0.9:4242", c);
	close(fd);
	n = v2_tcp4(h, "127.0.0.10", 4243, c, tlvs, sizeof tlvs);
	fd = proxied_cmd(c, h, n);
	whoami_is(fd, "127.0.0.10:4243", c);
	close(fd);
	/* LOCAL: the proxy's own address, and served. */
	n = v2_local(h);
	fd = proxied_cmd(c, h, n);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&self, &len), 0);
	who = itest_fmt("127.0.0.1:%u", ntohs(self.sin_port));
	whoami_is(fd, who, c);
	free(who);
	close(fd);
	ck_assert_uint_eq(itest_accepted(&t, c), 3);
	itest_stop(&t);
}
END_TEST

START_TEST(acl_on_header_address)
{
	struct itest t;
	uint16_t c;

	/* The proxy itself is in neither list: it is trusted at accept. */
	c = start_cmd(&t, " allow=127.0.0.8/29 deny=127.0.0.10/32");
	v1_served(c, "127.0.0.9");
	/* Denied, and not in allow: refused without a byte, reason acl. */
	v1_refused(c, "127.0.0.10");
	v1_refused(c, "127.0.0.20");
	ck_assert_uint_eq(itest_rejected(&t, c, REJECT_ACL), 2);
	ck_assert_uint_eq(itest_rejected(&t, c, REJECT_PROXY), 0);
	ck_assert_uint_eq(itest_accepted(&t, c), 1);
	itest_stop(&t);
}
END_TEST

START_TEST(max_per_ip_on_header_address)
{
	struct itest t;
	uint16_t c = start_cmd(&t, " max-per-ip=1");
	char *h9, *h10, *r;
	int a, b, d;

	h9 = v1_tcp4("127.0.0.9", 4242, c);
	h10 = v1_tcp4("127.0.0.10", 4243, c);
	/* Both from the proxy's address, each its own client. */
	a = proxied_cmd(c, h9, strlen(h9));
	b = proxied_cmd(c, h10, strlen(h10));
	d = itest_connect(c);
	itest_sends(d, h9);
	r = itest_read_until(d, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "421 too many connections\r\n");
	free(r);
	close(d);
	ck_assert_uint_eq(itest_rejected(&t, c, REJECT_PER_IP), 1);
	/* Its slot is the header's address's: free again once a leaves. */
	close(a);
	ck_assert(itest_eventually(one_active, &t, ITEST_TIMEOUT_MS));
	a = proxied_cmd(c, h9, strlen(h9));
	whoami_is(a, "127.0.0.9:4242", c);
	ck_assert_uint_eq(itest_rejected(&t, c, REJECT_PER_IP), 1);
	close(a);
	close(b);
	free(h9);
	free(h10);
	itest_stop(&t);
}
END_TEST

START_TEST(payload_after_header)
{
	uint16_t ack = itest_free_ports(2), echo = ack + 1;
	struct itest t;
	uint8_t buf[128];
	char *conf, *h, *r;
	size_t n, len;
	int fd;

	conf = itest_fmt("%u ack " PROXY_FROM "\n%u echo " PROXY_FROM "\n", ack,
	    echo);
	itest_start_conf(&t, "0:cmd", conf);
	h = itest_fmt("PROXY TCP4 127.0.0.9 127.0.0.1 4242 %u\r\nhello\n", ack);
	fd = itest_connect(ack);
	itest_sends(fd, h);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "ACK\n");
	free(r);
	close(fd);
	free(h);
	/* echo: the bytes after the header come back, the header does not. */
	h = itest_fmt("PROXY TCP4 127.0.0.9 127.0.0.1 4243 %u\r\nbytes\n",
	    echo);
	fd = itest_connect(echo);
	itest_sends(fd, h);
	shutdown(fd, SHUT_WR);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, &len);
	ck_assert_str_eq(r, "bytes\n");
	free(r);
	close(fd);
	free(h);
	n = v2_tcp4(buf, "127.0.0.9", 4244, echo, NULL, 0);
	memcpy(buf + n, "v2 bytes\n", 9);
	fd = itest_connect(echo);
	itest_send(fd, buf, n + 9);
	shutdown(fd, SHUT_WR);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, &len);
	ck_assert_uint_eq(len, 9);
	ck_assert_str_eq(r, "v2 bytes\n");
	free(r);
	close(fd);
	ck_assert_uint_eq(itest_accepted(&t, echo), 2);
	free(conf);
	itest_stop(&t);
}
END_TEST

/* --- Other sources --------------------------------------------------------- */

START_TEST(other_source_header_is_data)
{
	uint16_t c = itest_free_ports(2), e = c + 1;
	struct sockaddr_in self;
	socklen_t slen = sizeof self;
	struct itest t;
	char *conf, *h, *r, *who;
	int fd;

	conf = itest_fmt("%u cmd " PROXY_FROM "\n%u echo " PROXY_FROM "\n", c,
	    e);
	itest_start_conf(&t, "0:echo", conf);
	h = v1_tcp4("127.0.0.9", 4242, e);
	fd = itest_connect_from("127.0.0.2", e);
	itest_sends(fd, h);
	r = itest_read_until(fd, h, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, h);
	free(r);
	close(fd);
	free(h);
	/* On cmd it is a line like any other, and WHOAMI tells the truth. */
	fd = itest_connect_from("127.0.0.2", c);
	free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	r = itest_cmd(fd, "PROXY TCP4 127.0.0.9 127.0.0.1 4242 7000");
	ck_assert_str_eq(r, "500 unknown command");
	free(r);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&self, &slen), 0);
	who = itest_fmt("127.0.0.2:%u", ntohs(self.sin_port));
	whoami_is(fd, who, c);
	free(who);
	close(fd);
	/* A channel without proxy-from: untouched, from either source. */
	fd = itest_connect_from("127.0.0.2", itest_port(&t, 0));
	itest_sends(fd, "PROXY TCP4 127.0.0.9 127.0.0.1 1 2\r\n");
	r = itest_read_until(fd, "2\r\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "PROXY TCP4 127.0.0.9 127.0.0.1 1 2\r\n");
	free(r);
	close(fd);
	fd = itest_connect(itest_port(&t, 0));
	itest_sends(fd, "plain\n");
	r = itest_read_until(fd, "\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "plain\n");
	free(r);
	close(fd);
	ck_assert_uint_eq(itest_rejected(&t, c, REJECT_PROXY), 0);
	ck_assert_uint_eq(itest_rejected(&t, e, REJECT_PROXY), 0);
	free(conf);
	itest_stop(&t);
}
END_TEST

/* --- proxyproto_format, read back ------------------------------------------ */

START_TEST(format_round_trip)
{
	static const struct {
		const char	*src;
		const char	*dst;
		const char	*shown;
	} cases[] = {
		{ "127.0.0.9", "127.0.0.1", "127.0.0.9:4242" },
		{ "::1", "::1", "[::1]:4242" },
		{ "127.0.0.9", "::1", "127.0.0.9:4242" },	/* mapped, back */
		{ "::1", "127.0.0.1", "[::1]:4242" },
		{ "::ffff:127.0.0.5", "127.0.0.1", "127.0.0.5:4242" },
	};
	struct itest t;
	uint16_t c = start_cmd(&t, "");
	struct sockaddr_storage src, dst;
	uint8_t buf[PROXYPROTO_MAX];
	ssize_t n;
	size_t i;
	int v, fd;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (v = 1; v <= 2; v++) {
			ck_assert_uint_ne(itest_sockaddr(cases[i].src, 4242,
			    &src), 0);
			ck_assert_uint_ne(itest_sockaddr(cases[i].dst, c, &dst),
			    0);
			n = proxyproto_format(v, (struct sockaddr *)&src,
			    (struct sockaddr *)&dst, buf, sizeof buf);
			ck_assert_int_gt(n, 0);
			fd = proxied_cmd(c, buf, (size_t)n);
			whoami_is(fd, cases[i].shown, c);
			close(fd);
		}
	}
	ck_assert_uint_eq(itest_accepted(&t, c), 10);
	itest_stop(&t);
}
END_TEST

/* --- Malformed headers -------------------------------------------------------- */

/* Send bytes as the proxy (half-closing after if eof); refused without a byte. */
static void
refused_for(struct itest *t, uint16_t port, const void *buf, size_t len,
    bool eof, const char *what)
{
	unsigned long long before = itest_rejected(t, port, REJECT_PROXY);
	int fd = itest_connect(port);

	if (len > 0)
		itest_send(fd, buf, len);
	if (eof)
		shutdown(fd, SHUT_WR);
	ck_assert_msg(itest_closed_silently(fd, ITEST_TIMEOUT_MS),
	    "%s: not closed, or not without a byte", what);
	close(fd);
	ck_assert_msg(itest_rejected(t, port, REJECT_PROXY) == before + 1,
	    "%s: rejected proxy %llu, want %llu", what, itest_rejected(t, port,
	    REJECT_PROXY), before + 1);
}

START_TEST(malformed_headers_refused)
{
	static const uint8_t bad_sig[] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	    0x0a, 0x51, 0x55, 0x49, 0x55, 0x0a, 0x21, 0x11, 0, 12 };
	uint16_t c = itest_free_ports(2), e = c + 1;
	struct proxyproto_header h;
	const char *why = NULL;
	uint8_t v2[64];
	char longline[160];
	size_t used;
	struct itest t;
	char *conf;
	long start, ms;
	size_t n;
	int fd;

	conf = itest_fmt("%u cmd " PROXY_FROM "\n%u echo " PROXY_FROM "\n", c,
	    e);
	itest_start_conf(&t, "0:echo -t 1", conf);
	refused_for(&t, c, bad_sig, sizeof bad_sig, false, "bad v2 signature");
	/* UNKNOWN takes anything up to its CRLF: only the length is wrong. */
	memset(longline, 'x', sizeof longline);
	memcpy(longline, "PROXY UNKNOWN ", 14);
	ck_assert_int_eq(proxyproto_parse(longline, sizeof longline, &h, &used,
	    &why), PROXYPROTO_ERROR);
	ck_assert_msg(strstr(why, "long") != NULL, "%s", why);
	refused_for(&t, c, longline, sizeof longline, false,
	    "v1 over 107 bytes");
	refused_for(&t, c, "PROXY TCP4 127.0.0.9 127.0", 26, true,
	    "v1 truncated, then closed");
	n = v2_tcp4(v2, "127.0.0.9", 4242, c, NULL, 0);
	refused_for(&t, c, v2, n - 4, true, "v2 truncated, then closed");
	v2[12] = 0x31;		/* version 3 */
	refused_for(&t, c, v2, n, false, "v2 with a bad version");
	refused_for(&t, c, "GET / HTTP/1.0\r\n\r\n", 18, false, "garbage");
	refused_for(&t, e, "hello\n", 6, false, "garbage on echo");
	/* Silence past the idle timeout. */
	start = itest_now_ms();
	fd = itest_connect(c);
	ck_assert(itest_closed_silently(fd, 3000));
	ms = itest_now_ms() - start;
	ck_assert_msg(ms >= 800 && ms < 3000, "closed after %ld ms", ms);
	close(fd);
	ck_assert_uint_eq(itest_rejected(&t, c, REJECT_PROXY), 7);
	ck_assert_uint_eq(itest_rejected(&t, e, REJECT_PROXY), 1);
	ck_assert_uint_eq(itest_accepted(&t, c), 0);
	ck_assert_uint_eq(itest_accepted(&t, e), 0);
	ck_assert_uint_eq(stats_get(itest_on(&t, c)->ch_stats->cs_active), 0);
	free(conf);
	itest_stop(&t);
}
END_TEST

static Suite *
proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("Core");
	TCase *te = tcase_create("Errors");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, v1_header_is_the_client);
	tcase_add_test(tc, v2_header_is_the_client);
	tcase_add_test(tc, acl_on_header_address);
	tcase_add_test(tc, max_per_ip_on_header_address);
	tcase_add_test(tc, payload_after_header);
	tcase_add_test(tc, other_source_header_is_data);
	tcase_add_test(tc, format_round_trip);
	suite_add_tcase(s, tc);
	tcase_set_timeout(te, 60);
	tcase_add_test(te, malformed_headers_refused);
	suite_add_tcase(s, te);
	return s;
}

int
main(void)
{
	return itest_main(proxy_suite());
}
