/*
 * proxyproto: v1 lines (TCP4, TCP6, UNKNOWN, the longest ones) and v2
 * headers (PROXY, LOCAL, UNSPEC, UNIX, TLVs) parsed field by field, each
 * proper prefix of them a NEED, the payload after them never consumed;
 * malformed headers refused at the very byte that makes them so, with
 * their cause; format() for IPv4, IPv6, mapped and mixed families, round
 * trips through parse() in both versions, and buffers too small.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "proxyproto.h"

#define V2_SIG "\r\n\r\n\0\r\nQUIT\n"

/* A string literal with its length, NULs included, terminator not. */
#define S(s) (s), (sizeof(s) - 1)

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* A v2 header's first 16 bytes into buf; returns 16. */
static size_t
v2_head(uint8_t *buf, uint8_t vercmd, uint8_t fam, uint16_t alen)
{
	memcpy(buf, v2_sig, sizeof v2_sig);
	buf[12] = vercmd;
	buf[13] = fam;
	buf[14] = (uint8_t)(alen >> 8);
	buf[15] = (uint8_t)alen;
	return 16;
}

/* A v2 TCP4 header: 127.0.0.1:56324 to 127.0.0.2:7001, 28 bytes. */
static size_t
v2_tcp4(uint8_t *buf, uint8_t vercmd, uint16_t alen)
{
	static const uint8_t block[12] = {
		127, 0, 0, 1, 127, 0, 0, 2, 0xdc, 0x04, 0x1b, 0x59
	};

	v2_head(buf, vercmd, 0x11, alen);
	memcpy(buf + 16, block, sizeof block);
	return 16 + sizeof block;
}

/* A v2 TCP6 header: [::1]:65535 to [::ffff:127.0.0.1]:0, 52 bytes. */
static size_t
v2_tcp6(uint8_t *buf, uint16_t alen)
{
	uint8_t *p = buf + 16;

	v2_head(buf, 0x21, 0x21, alen);
	memset(p, 0, 36);
	p[15] = 1;
	p[16 + 10] = p[16 + 11] = 0xff;
	p[16 + 12] = 127;
	p[16 + 15] = 1;
	p[32] = p[33] = 0xff;
	return 52;
}

static int
parse(const void *buf, size_t len, struct proxyproto_header *h,
    size_t *used, const char **cause)
{
	return proxyproto_parse(buf, len, h, used, cause);
}

/* Every proper prefix of buf[0..hlen) asks for more, and leaves *h alone. */
static void
expect_prefixes(const void *buf, size_t hlen)
{
	struct proxyproto_header h, canary;
	const char *cause;
	size_t i, used;

	memset(&canary, 0xa5, sizeof canary);
	for (i = 0; i < hlen; i++) {
		h = canary;
		used = 12345;
		cause = "unset";
		ck_assert_msg(parse(buf, i, &h, &used, &cause) ==
		    PROXYPROTO_NEED, "prefix of %zu bytes: not NEED (%s)", i,
		    cause != NULL ? cause : "no cause");
		ck_assert_uint_eq(used, 0);
		ck_assert_ptr_null(cause);
		ck_assert_mem_eq(&h, &canary, sizeof h);
	}
}

/* buf is a whole header of hlen bytes, then payload up to len. */
static struct proxyproto_header
expect_done(const void *buf, size_t len, size_t hlen)
{
	struct proxyproto_header h;
	const char *cause = "unset";
	size_t used = 0;

	expect_prefixes(buf, hlen);
	memset(&h, 0xa5, sizeof h);
	ck_assert_msg(parse(buf, len, &h, &used, &cause) == PROXYPROTO_DONE,
	    "not DONE: %s", cause != NULL ? cause : "no cause");
	ck_assert_ptr_null(cause);
	ck_assert_uint_eq(used, hlen);
	/* Exactly the header suffices too. */
	ck_assert_int_eq(parse(buf, hlen, &h, &used, &cause), PROXYPROTO_DONE);
	ck_assert_uint_eq(used, hlen);
	return h;
}

#define EXPECT_DONE(s) expect_done(S(s), sizeof(s) - 1)

/*
 * Bytes 0..pos-1 of buf are a valid prefix; byte pos makes it an error
 * with the cause, and so does every longer buffer up to len.
 */
static void
expect_error_at(const void *buf, size_t len, size_t pos, const char *want)
{
	struct proxyproto_header h, canary;
	const char *cause;
	size_t i, used;

	ck_assert_uint_lt(pos, len);
	expect_prefixes(buf, pos + 1);
	memset(&canary, 0xa5, sizeof canary);
	for (i = pos + 1; i <= len; i++) {
		h = canary;
		cause = NULL;
		used = 12345;
		ck_assert_msg(parse(buf, i, &h, &used, &cause) ==
		    PROXYPROTO_ERROR, "%zu bytes: not an error", i);
		ck_assert_ptr_nonnull(cause);
		ck_assert_str_eq(cause, want);
		ck_assert_uint_eq(used, 0);
		ck_assert_mem_eq(&h, &canary, sizeof h);
	}
}

/* s with a "|" just before the byte that makes it an error. */
static void
expect_error_mark(const char *marked, const char *want)
{
	char s[256];
	const char *bar = strchr(marked, '|');
	size_t pos;

	ck_assert_ptr_nonnull(bar);
	ck_assert_uint_lt(strlen(marked), sizeof s);
	pos = (size_t)(bar - marked);
	memcpy(s, marked, pos);
	strcpy(s + pos, bar + 1);
	expect_error_at(s, strlen(s), pos, want);
}

static void
expect_sin(const struct sockaddr_storage *ss, socklen_t len,
    const char *addr, uint16_t port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	struct in_addr want;

	ck_assert_int_eq(ss->ss_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_int_eq(inet_pton(AF_INET, addr, &want), 1);
	ck_assert_mem_eq(&sin->sin_addr, &want, sizeof want);
	ck_assert_uint_eq(sin->sin_port, htons(port));
}

static void
expect_sin6(const struct sockaddr_storage *ss, socklen_t len,
    const char *addr, uint16_t port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct in6_addr want;

	ck_assert_int_eq(ss->ss_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &want), 1);
	ck_assert_mem_eq(&sin6->sin6_addr, &want, sizeof want);
	ck_assert_uint_eq(sin6->sin6_port, htons(port));
	ck_assert_uint_eq(sin6->sin6_scope_id, 0);
	ck_assert_uint_eq(sin6->sin6_flowinfo, 0);
}

/* ss is addr:port, an AF_INET one if addr has no colon. */
static void
expect_addr(const struct sockaddr_storage *ss, socklen_t len,
    const char *addr, uint16_t port)
{
	if (strchr(addr, ':') == NULL)
		expect_sin(ss, len, addr, port);
	else
		expect_sin6(ss, len, addr, port);
}

/* A header of this version for a client src:sport of server dst:dport. */
static void
expect_proxied(const struct proxyproto_header *h, int version,
    const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	ck_assert_int_eq(h->pp_version, version);
	ck_assert(!h->pp_local);
	expect_addr(&h->pp_src, h->pp_srclen, src, sport);
	expect_addr(&h->pp_dst, h->pp_dstlen, dst, dport);
}

static void
expect_local(const struct proxyproto_header *h, int version)
{
	ck_assert_int_eq(h->pp_version, version);
	ck_assert(h->pp_local);
	ck_assert_uint_eq(h->pp_srclen, 0);
	ck_assert_uint_eq(h->pp_dstlen, 0);
}

/* A sockaddr for a literal: AF_INET if it has no colon. */
static struct sockaddr_storage
sa_make(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (strchr(addr, ':') == NULL) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr),
		    1);
	}
	return ss;
}

/* format() of src and dst: returns the length, the bytes in buf. */
static size_t
format(int version, const char *src, const char *dst, uint8_t *buf,
    size_t size)
{
	struct sockaddr_storage s = sa_make(src, 56324);
	struct sockaddr_storage d = sa_make(dst, 7001);
	ssize_t n;

	n = proxyproto_format(version, (struct sockaddr *)&s,
	    (struct sockaddr *)&d, buf, size);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_le((size_t)n, size);
	return (size_t)n;
}

static void
expect_format_v1(const char *src, const char *dst, const char *want)
{
	uint8_t buf[PROXYPROTO_V1_MAX];
	size_t n = format(1, src, dst, buf, sizeof buf);

	ck_assert_uint_eq(n, strlen(want));
	ck_assert_mem_eq(buf, want, n);
}

/*
 * format() then parse(): the same addresses come back, as wsrc and wdst
 * say (an AF_INET one if it has no colon).
 */
static void
expect_round_trip(int version, const char *src, const char *dst,
    const char *wsrc, const char *wdst)
{
	uint8_t buf[PROXYPROTO_MAX];
	struct proxyproto_header h;
	size_t n = format(version, src, dst, buf, sizeof buf);

	memcpy(buf + n, "PING\r\n", 6);
	h = expect_done(buf, n + 6, n);
	expect_proxied(&h, version, wsrc, 56324, wdst, 7001);
}

START_TEST(test_proxyproto_empty)
{
	expect_prefixes("", 1);
}
END_TEST

START_TEST(test_proxyproto_v1_tcp4)
{
	struct proxyproto_header h;

	h = EXPECT_DONE("PROXY TCP4 127.0.0.1 127.0.0.2 56324 443\r\n");
	expect_proxied(&h, 1, "127.0.0.1", 56324, "127.0.0.2", 443);
}
END_TEST

START_TEST(test_proxyproto_v1_tcp4_extremes)
{
	struct proxyproto_header h;

	h = EXPECT_DONE("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n");
	expect_proxied(&h, 1, "0.0.0.0", 0, "255.255.255.255", 65535);
}
END_TEST

START_TEST(test_proxyproto_v1_tcp6)
{
	struct proxyproto_header h;

	h = EXPECT_DONE("PROXY TCP6 ::1 ::ffff:127.0.0.1 65535 0\r\n");
	/* As sent: the mapped address stays IPv6. */
	expect_proxied(&h, 1, "::1", 65535, "::ffff:127.0.0.1", 0);
}
END_TEST

/* 104 bytes, the longest TCP6 line the spec lists; upper case hex. */
START_TEST(test_proxyproto_v1_tcp6_longest)
{
	static const char line[] = "PROXY TCP6 "
	    "0000:0000:0000:0000:0000:0000:0000:0001 "
	    "0000:0000:0000:0000:0000:FFFF:7F00:0001 65535 65535\r\n";
	struct proxyproto_header h;

	ck_assert_uint_eq(sizeof line - 1, 104);
	h = EXPECT_DONE(line);
	expect_proxied(&h, 1, "::1", 65535, "::ffff:127.0.0.1", 65535);
}
END_TEST

/* The payload after the line is not consumed, even if it looks like one. */
START_TEST(test_proxyproto_v1_payload)
{
	static const char s[] = "PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r\n"
	    "PROXY TCP4 127.0.0.3 127.0.0.3 3 4\r\n";
	struct proxyproto_header h;

	h = expect_done(S(s), 36);
	expect_proxied(&h, 1, "127.0.0.1", 1, "127.0.0.1", 2);
}
END_TEST

START_TEST(test_proxyproto_v1_unknown)
{
	struct proxyproto_header h;

	h = EXPECT_DONE("PROXY UNKNOWN\r\n");
	expect_local(&h, 1);
	h = EXPECT_DONE("PROXY UNKNOWN 127.0.0.1 127.0.0.1 1 2\r\n");
	expect_local(&h, 1);
	/* Anything up to the CRLF is ignored, even what is not an address. */
	h = EXPECT_DONE("PROXY UNKNOWN whatever \t\0\x7f junk\r\n");
	expect_local(&h, 1);
	h = expect_done(S("PROXY UNKNOWN\r\nGET / HTTP/1.0\r\n"), 15);
	expect_local(&h, 1);
}
END_TEST

/* The spec's worst case: exactly 107 bytes, CRLF included. */
START_TEST(test_proxyproto_v1_unknown_longest)
{
	static const char line[] = "PROXY UNKNOWN "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	struct proxyproto_header h;

	ck_assert_uint_eq(sizeof line - 1, PROXYPROTO_V1_MAX);
	h = EXPECT_DONE(line);
	expect_local(&h, 1);
}
END_TEST

START_TEST(test_proxyproto_v2_tcp4)
{
	uint8_t buf[64];
	struct proxyproto_header h;
	size_t n = v2_tcp4(buf, 0x21, 12);

	memcpy(buf + n, "PING\r\n", 6);
	h = expect_done(buf, n + 6, 28);
	expect_proxied(&h, 2, "127.0.0.1", 56324, "127.0.0.2", 7001);
}
END_TEST

START_TEST(test_proxyproto_v2_tcp6)
{
	uint8_t buf[64];
	struct proxyproto_header h;
	size_t n = v2_tcp6(buf, 36);

	h = expect_done(buf, n, 52);
	expect_proxied(&h, 2, "::1", 65535, "::ffff:127.0.0.1", 0);
}
END_TEST

/* TLVs after the address block: skipped, the payload not touched. */
START_TEST(test_proxyproto_v2_tlvs)
{
	static const uint8_t tlvs[] = {
		0x01, 0x00, 0x02, 'h', '2',		/* ALPN */
		0x04, 0x00, 0x00,			/* NOOP, empty */
		0x20, 0x00, 0x05, 0x07, 0, 0, 0, 0,	/* SSL */
	};
	uint8_t buf[128];
	struct proxyproto_header h;
	size_t n = v2_tcp4(buf, 0x21, 12 + sizeof tlvs);

	memcpy(buf + n, tlvs, sizeof tlvs);
	n += sizeof tlvs;
	memcpy(buf + n, V2_SIG, 12);	/* a payload that looks like more */
	h = expect_done(buf, n + 12, 28 + sizeof tlvs);
	expect_proxied(&h, 2, "127.0.0.1", 56324, "127.0.0.2", 7001);

	/* Bytes that are not TLVs at all are skipped just the same. */
	n = v2_tcp6(buf, 36 + 3);
	memset(buf + n, 0xff, 3);
	h = expect_done(buf, n + 3, n + 3);
	expect_sin6(&h.pp_src, h.pp_srclen, "::1", 65535);
}
END_TEST

/* The longest header accepted: exactly PROXYPROTO_MAX bytes. */
START_TEST(test_proxyproto_v2_longest)
{
	static uint8_t buf[PROXYPROTO_MAX + 16];
	struct proxyproto_header h;

	memset(buf, 0x42, sizeof buf);
	v2_tcp4(buf, 0x21, PROXYPROTO_MAX - 16);
	h = expect_done(buf, sizeof buf, PROXYPROTO_MAX);
	expect_sin(&h.pp_src, h.pp_srclen, "127.0.0.1", 56324);
}
END_TEST

START_TEST(test_proxyproto_v2_local)
{
	uint8_t buf[64];
	struct proxyproto_header h;
	size_t n;

	n = v2_head(buf, 0x20, 0x00, 0);
	h = expect_done(buf, n, 16);
	expect_local(&h, 2);

	/* A health check may send addresses: still its own. */
	n = v2_tcp4(buf, 0x20, 12);
	h = expect_done(buf, n, 28);
	expect_local(&h, 2);

	/* The family is ignored, so is the length it would need. */
	n = v2_head(buf, 0x20, 0x21, 3);
	h = expect_done(buf, n + 3, 19);
	expect_local(&h, 2);
	n = v2_head(buf, 0x20, 0x12, 0);
	h = expect_done(buf, n, 16);
	expect_local(&h, 2);
}
END_TEST

START_TEST(test_proxyproto_v2_unspec)
{
	uint8_t buf[64];
	struct proxyproto_header h;

	v2_head(buf, 0x21, 0x00, 0);
	h = expect_done(buf, 16, 16);
	expect_local(&h, 2);

	/* Whatever it declares is consumed. */
	v2_head(buf, 0x21, 0x00, 12);
	memset(buf + 16, 0x7f, 12);
	h = expect_done(buf, 28, 28);
	expect_local(&h, 2);
}
END_TEST

START_TEST(test_proxyproto_v2_unix)
{
	uint8_t buf[300];
	struct proxyproto_header h;

	memset(buf, 0, sizeof buf);
	v2_head(buf, 0x21, 0x31, 216);
	memcpy(buf + 16, "/run/lb.sock", 12);
	memcpy(buf + 16 + 108, "/run/mpserver.sock", 18);
	h = expect_done(buf, sizeof buf, 232);
	expect_local(&h, 2);
}
END_TEST

START_TEST(test_proxyproto_format_v1)
{
	expect_format_v1("127.0.0.1", "127.0.0.2",
	    "PROXY TCP4 127.0.0.1 127.0.0.2 56324 7001\r\n");
	expect_format_v1("::1", "::1", "PROXY TCP6 ::1 ::1 56324 7001\r\n");
	/* Mapped addresses are IPv4 ones. */
	expect_format_v1("::ffff:127.0.0.1", "::ffff:127.0.0.2",
	    "PROXY TCP4 127.0.0.1 127.0.0.2 56324 7001\r\n");
	expect_format_v1("::ffff:127.0.0.1", "127.0.0.2",
	    "PROXY TCP4 127.0.0.1 127.0.0.2 56324 7001\r\n");
	/* Mixed families: the IPv4 one is written mapped. */
	expect_format_v1("127.0.0.1", "::1",
	    "PROXY TCP6 ::ffff:127.0.0.1 ::1 56324 7001\r\n");
	expect_format_v1("::1", "::ffff:127.0.0.2",
	    "PROXY TCP6 ::1 ::ffff:127.0.0.2 56324 7001\r\n");
}
END_TEST

START_TEST(test_proxyproto_format_v2)
{
	uint8_t buf[64], want[64];
	size_t n;

	n = format(2, "127.0.0.1", "127.0.0.2", buf, sizeof buf);
	ck_assert_uint_eq(n, 28);
	v2_tcp4(want, 0x21, 12);
	ck_assert_mem_eq(buf, want, 28);

	n = format(2, "::1", "::ffff:127.0.0.1", buf, sizeof buf);
	ck_assert_uint_eq(n, 52);
	ck_assert_mem_eq(buf, V2_SIG "\x21\x21\x00\x24", 16);
	ck_assert_uint_eq(buf[16 + 15], 1);
	ck_assert_uint_eq(buf[32 + 11], 0xff);
	ck_assert_uint_eq(buf[32 + 12], 127);
	ck_assert_mem_eq(buf + 48, "\xdc\x04\x1b\x59", 4);
}
END_TEST

/* No client to tell of: v1 UNKNOWN, v2 LOCAL. */
START_TEST(test_proxyproto_format_local)
{
	struct sockaddr_storage d = sa_make("127.0.0.1", 7001);
	struct sockaddr_un un;
	uint8_t buf[64];
	struct proxyproto_header h;

	ck_assert_int_eq(proxyproto_format(1, NULL, NULL, buf, sizeof buf), 15);
	ck_assert_mem_eq(buf, "PROXY UNKNOWN\r\n", 15);
	ck_assert_int_eq(proxyproto_format(2, NULL, (struct sockaddr *)&d, buf,
	    sizeof buf), 16);
	ck_assert_mem_eq(buf, V2_SIG "\x20\x00\x00\x00", 16);
	h = expect_done(buf, 16, 16);
	expect_local(&h, 2);

	memset(&un, 0, sizeof un);
	un.sun_family = AF_UNIX;
	ck_assert_int_eq(proxyproto_format(1, (struct sockaddr *)&un,
	    (struct sockaddr *)&d, buf, sizeof buf), 15);
	ck_assert_mem_eq(buf, "PROXY UNKNOWN\r\n", 15);
}
END_TEST

START_TEST(test_proxyproto_round_trip)
{
	int v;

	for (v = 1; v <= 2; v++) {
		expect_round_trip(v, "127.0.0.1", "127.0.0.2", "127.0.0.1",
		    "127.0.0.2");
		expect_round_trip(v, "::1", "::1", "::1", "::1");
		expect_round_trip(v, "127.0.0.1", "::1", "::ffff:127.0.0.1",
		    "::1");
		expect_round_trip(v, "::1", "127.0.0.3", "::1",
		    "::ffff:127.0.0.3");
		expect_round_trip(v, "::ffff:127.0.0.1", "::ffff:127.0.0.2",
		    "127.0.0.1", "127.0.0.2");
		expect_round_trip(v, "::ffff:127.0.0.1", "::1",
		    "::ffff:127.0.0.1", "::1");
	}
}
END_TEST

/* Exactly enough room works; a byte less fails and writes nothing. */
START_TEST(test_proxyproto_format_small)
{
	struct sockaddr_storage s = sa_make("::1", 1), d = sa_make("::1", 2);
	uint8_t buf[128], canary[128];
	ssize_t n;
	int v;

	for (v = 1; v <= 2; v++) {
		memset(buf, 0x5a, sizeof buf);
		memcpy(canary, buf, sizeof buf);
		n = proxyproto_format(v, (struct sockaddr *)&s,
		    (struct sockaddr *)&d, buf, sizeof buf);
		ck_assert_int_gt(n, 0);
		memset(buf, 0x5a, sizeof buf);
		ck_assert_int_eq(proxyproto_format(v, (struct sockaddr *)&s,
		    (struct sockaddr *)&d, buf, (size_t)n - 1), -1);
		ck_assert_mem_eq(buf, canary, sizeof buf);
		ck_assert_int_eq(proxyproto_format(v, (struct sockaddr *)&s,
		    (struct sockaddr *)&d, buf, 0), -1);
		ck_assert_int_eq(proxyproto_format(v, NULL, NULL, buf, 14), -1);
		ck_assert_mem_eq(buf, canary, sizeof buf);
		ck_assert_int_eq(proxyproto_format(v, (struct sockaddr *)&s,
		    (struct sockaddr *)&d, buf, (size_t)n), n);
		ck_assert_uint_eq(buf[n], 0x5a);
	}
	ck_assert_int_eq(proxyproto_format(3, NULL, NULL, buf, sizeof buf), -1);
	ck_assert_int_eq(proxyproto_format(0, (struct sockaddr *)&s,
	    (struct sockaddr *)&d, buf, sizeof buf), -1);
}
END_TEST

/* v1 lines, and bytes of neither version, refused at the byte after "|". */
static const struct {
	const char	*marked;
	const char	*want;
} marked_bad[] = {
	/* Neither version's first byte: refused at once. */
	{ "|GET / HTTP/1.1\r\n", "bad signature" },
	{ "|\x16\x03\x01\x02", "bad signature" },
	{ "|proxy TCP4 127.0.0.1 127.0.0.1 1 2\r\n", "bad signature" },
	/* Not "PROXY ". */
	{ "PROX|X TCP4", "bad signature" },
	{ "PROXY|\tTCP4 127.0.0.1 127.0.0.1 1 2\r\n", "bad signature" },
	{ "PRO|\r\n", "bad signature" },
	{ "PROXY|\r\n", "bad signature" },
	/* The protocol: TCP4, TCP6 or UNKNOWN, exactly. */
	{ "PROXY TCP|5 127.0.0.1 127.0.0.1 1 2\r\n", "unknown protocol" },
	{ "PROXY |tcp4 127.0.0.1 127.0.0.1 1 2\r\n", "unknown protocol" },
	{ "PROXY | TCP4 127.0.0.1 127.0.0.1 1 2\r\n", "unknown protocol" },
	{ "PROXY U|DP4 127.0.0.1 127.0.0.1 1 2\r\n", "unknown protocol" },
	{ "PROXY TCP4|4 127.0.0.1 127.0.0.1 1 2\r\n", "unknown protocol" },
	{ "PROXY UNKNOWN|X\r\n", "unknown protocol" },
	{ "PROXY UNKNOW|\r\n", "unknown protocol" },
	{ "PROXY |\r\n", "unknown protocol" },
	/* Fields cut short. */
	{ "PROXY TCP4|\r\n", "missing fields" },
	{ "PROXY TCP4 127.0.0.1|\r\n", "missing fields" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1|\r\n", "missing fields" },
	{ "PROXY TCP6 ::1 ::1 1|\r\n", "missing fields" },
	/* An empty field is not a missing one: it is a bad one. */
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 1 |\r\n", "bad port" },
	{ "PROXY TCP4 127.0.0.1 | 127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP4 | 127.0.0.1 127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 |\r\n", "bad address" },
	/* Fields after the ports. */
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 1 2| 3\r\n", "extra fields" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 1 2| \r\n", "extra fields" },
	{ "PROXY TCP6 ::1 ::1 1 2| x\r\n", "extra fields" },
	/* Ports: decimal up to 65535, no sign, no leading zero. */
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 6553|6 80\r\n", "bad port" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 80 6553|6\r\n", "bad port" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 9999|9 80\r\n", "bad port" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 12345|6 80\r\n", "bad port" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 |-1 80\r\n", "bad port" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 |+1 80\r\n", "bad port" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 0|1 80\r\n", "bad port" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 80 0|0\r\n", "bad port" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 0|x50 80\r\n", "bad port" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 80|a 80\r\n", "bad port" },
	/* Addresses: literals of the family declared. */
	{ "PROXY TCP4 127.0.0.25|6 127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP4 127.0.0.0|1 127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP4 127.0.0| 127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP4 127.0.0.1|.1 127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP4 127.|.0.1 127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP4 |localhost 127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP4 |-127.0.0.1 127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP4 |::1 127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP4 127.0.0.1 |::ffff:127.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 127|.0.0.1 ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 ::1 127|.0.0.1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 ::|:1 ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 1::2:|:3 ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 1234|5::1 ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 ::1|%lo ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 |[::1] ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 :|1 ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 ::1:| ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 0:0:0:0:0:0:0:0|:1 ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 1:2:3:4:5:6:7| ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 ::ffff:127.0.0.25|6 ::1 1 2\r\n", "bad address" },
	{ "PROXY TCP6 ::ffff:127.0.0.1|:1 ::1 1 2\r\n", "bad address" },
	/* The line ends in CRLF, and only there. */
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 1 2|\n", "LF without CR" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r|\r\n", "CR without LF" },
	{ "PROXY TCP4 127.0.0.1 127.0.0.1 1 2\r|X", "CR without LF" },
	{ "PROXY UNKNOWN|\n", "LF without CR" },
	{ "PROXY UNKNOWN foo\r|bar\r\n", "CR without LF" },
	{ "PROXY UNKNOWN foo|\nbar\r\n", "LF without CR" },
	{ "PROXY|\n", "LF without CR" },
};

START_TEST(test_proxyproto_marked_bad)
{
	expect_error_mark(marked_bad[_i].marked, marked_bad[_i].want);
}
END_TEST

/* A NUL byte is refused where it stands. */
START_TEST(test_proxyproto_nul_bytes)
{
	expect_error_at(S("\0PROXY"), 0, "bad signature");
	expect_error_at(S("PROXY TCP4 127.0.0.1 127.0.0.1 8\0 80\r\n"), 32,
	    "bad port");
	expect_error_at(S("PROXY TCP4 127.0\0.0.1 127.0.0.1 1 2\r\n"), 16,
	    "bad address");
}
END_TEST

/*
 * 107 bytes at most, CRLF included: text in its 106th byte cannot be
 * followed by a CRLF in time, so the line is refused right there.
 */
START_TEST(test_proxyproto_v1_too_long)
{
	char line[256];

	memset(line, 'x', sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	expect_error_at(line, sizeof line, PROXYPROTO_V1_MAX - 2,
	    "v1 line too long");

	/* 108 bytes with its CRLF. */
	memcpy(line + PROXYPROTO_V1_MAX - 1, "\r\n", 2);
	expect_error_at(line, PROXYPROTO_V1_MAX + 1, PROXYPROTO_V1_MAX - 2,
	    "v1 line too long");

	/* 107 bytes: the CR in the 106th. */
	memcpy(line + PROXYPROTO_V1_MAX - 2, "\r\n", 2);
	expect_done(line, sizeof line, PROXYPROTO_V1_MAX);
}
END_TEST

/* As soon as even the shortest ending would not fit in 107 bytes. */
START_TEST(test_proxyproto_v1_too_long_early)
{
	static const char line[] = "PROXY TCP6 "
	    "0000:0000:0000:0000:0000:ffff:127.100.100.100 "
	    "0000:0000:0000:0000:0000:ffff:127.100.100.100 1 2\r\n";

	/* After 44 bytes of the second address " 0 0\r\n" would still fit. */
	expect_error_at(line, sizeof line - 1, 11 + 46 + 44,
	    "v1 line too long");
}
END_TEST

START_TEST(test_proxyproto_v2_bad_signature)
{
	uint8_t buf[64], bad[64];
	size_t n = v2_tcp4(buf, 0x21, 12), i;

	for (i = 0; i < 12; i++) {
		memcpy(bad, buf, n);
		bad[i] ^= 0x20;
		expect_error_at(bad, n, i, "bad signature");
	}
	/* A v1 line after a v2 start. */
	expect_error_mark("\r\n|PROXY TCP4", "bad signature");
}
END_TEST

/* A v2 TCP4 header refused at its version and command byte. */
static const struct {
	uint8_t		 vercmd;
	const char	*want;
} v2_bad_vercmd[] = {
	{ 0x11, "bad version" },
	{ 0x31, "bad version" },
	{ 0x01, "bad version" },
	{ 0x22, "unknown command" },
	{ 0x2f, "unknown command" },
};

START_TEST(test_proxyproto_v2_bad_vercmd)
{
	uint8_t buf[64];
	size_t n = v2_tcp4(buf, v2_bad_vercmd[_i].vercmd, 12);

	expect_error_at(buf, n, 12, v2_bad_vercmd[_i].want);
}
END_TEST

START_TEST(test_proxyproto_v2_not_tcp)
{
	static const uint8_t udp[] = { 0x12, 0x22, 0x32 };
	static const uint8_t odd[] = { 0x01, 0x02, 0x10, 0x13, 0x20, 0x30,
	    0x41, 0xff };
	uint8_t buf[300];
	size_t i;

	memset(buf, 0, sizeof buf);
	for (i = 0; i < sizeof udp; i++) {
		v2_head(buf, 0x21, udp[i], 216);
		expect_error_at(buf, 232, 13, "not TCP");
	}
	for (i = 0; i < sizeof odd; i++) {
		v2_head(buf, 0x21, odd[i], 216);
		expect_error_at(buf, 232, 13, "unknown family");
	}
}
END_TEST

/* A length shorter than the family's address block. */
START_TEST(test_proxyproto_v2_short_block)
{
	uint8_t buf[300];
	size_t n;

	memset(buf, 0, sizeof buf);
	n = v2_tcp4(buf, 0x21, 11);
	expect_error_at(buf, n, 15, "address block too short");
	n = v2_tcp4(buf, 0x21, 0);
	expect_error_at(buf, n, 15, "address block too short");
	n = v2_tcp6(buf, 35);
	expect_error_at(buf, n, 15, "address block too short");
	n = v2_tcp6(buf, 12);
	expect_error_at(buf, n, 15, "address block too short");
	v2_head(buf, 0x21, 0x31, 215);
	expect_error_at(buf, 231, 15, "address block too short");
}
END_TEST

START_TEST(test_proxyproto_v2_too_long)
{
	static uint8_t buf[PROXYPROTO_MAX + 64];

	memset(buf, 0, sizeof buf);
	v2_tcp4(buf, 0x21, PROXYPROTO_MAX - 16 + 1);
	expect_error_at(buf, sizeof buf, 15, "v2 header too long");
	v2_tcp4(buf, 0x21, 0xffff);
	expect_error_at(buf, sizeof buf, 14, "v2 header too long");
	v2_head(buf, 0x20, 0x00, 0xffff);
	expect_error_at(buf, sizeof buf, 14, "v2 header too long");
}
END_TEST

static Suite *
proxyproto_suite(void)
{
	Suite *s = suite_create("proxyproto");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_test(tc_core, test_proxyproto_empty);
	tcase_add_test(tc_core, test_proxyproto_v1_tcp4);
	tcase_add_test(tc_core, test_proxyproto_v1_tcp4_extremes);
	tcase_add_test(tc_core, test_proxyproto_v1_tcp6);
	tcase_add_test(tc_core, test_proxyproto_v1_tcp6_longest);
	tcase_add_test(tc_core, test_proxyproto_v1_payload);
	tcase_add_test(tc_core, test_proxyproto_v1_unknown);
	tcase_add_test(tc_core, test_proxyproto_v1_unknown_longest);
	tcase_add_test(tc_core, test_proxyproto_v2_tcp4);
	tcase_add_test(tc_core, test_proxyproto_v2_tcp6);
	tcase_add_test(tc_core, test_proxyproto_v2_tlvs);
	tcase_add_test(tc_core, test_proxyproto_v2_longest);
	tcase_add_test(tc_core, test_proxyproto_v2_local);
	tcase_add_test(tc_core, test_proxyproto_v2_unspec);
	tcase_add_test(tc_core, test_proxyproto_v2_unix);
	tcase_add_test(tc_core, test_proxyproto_format_v1);
	tcase_add_test(tc_core, test_proxyproto_format_v2);
	tcase_add_test(tc_core, test_proxyproto_format_local);
	tcase_add_test(tc_core, test_proxyproto_round_trip);
	suite_add_tcase(s, tc_core);

	tcase_add_test(tc_errors, test_proxyproto_format_small);
	tcase_add_loop_test(tc_errors, test_proxyproto_marked_bad, 0,
	    (int)(sizeof marked_bad / sizeof marked_bad[0]));
	tcase_add_test(tc_errors, test_proxyproto_nul_bytes);
	tcase_add_test(tc_errors, test_proxyproto_v1_too_long);
	tcase_add_test(tc_errors, test_proxyproto_v1_too_long_early);
	tcase_add_test(tc_errors, test_proxyproto_v2_bad_signature);
	tcase_add_loop_test(tc_errors, test_proxyproto_v2_bad_vercmd, 0,
	    (int)(sizeof v2_bad_vercmd / sizeof v2_bad_vercmd[0]));
	tcase_add_test(tc_errors, test_proxyproto_v2_not_tcp);
	tcase_add_test(tc_errors, test_proxyproto_v2_short_block);
	tcase_add_test(tc_errors, test_proxyproto_v2_too_long);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proxyproto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
