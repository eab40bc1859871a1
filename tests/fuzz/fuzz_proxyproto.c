/*
 * Fuzz PROXY protocol parsing (SPEC 11): proxyproto_parse() on the input
 * as bytes. Every answer must be one of three, with a cause exactly when
 * it is an error; a whole header must be of a size its version allows,
 * within the input; an address must be IPv4 or IPv6 with the matching
 * length. Answers must agree across prefixes, each parsed from a copy of
 * exactly its length so that reading past it is caught: the prefixes of a
 * header ask for more, a prefix of an error is an error or asks for more.
 * A header formatted again from what was parsed parses back to the same
 * addresses (IPv4-mapped ones taken as IPv4), and a buffer a byte too
 * small for it is refused untouched.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"
#include "proxyproto.h"

#include "fuzz.h"

/* The shortest header of each version: "PROXY UNKNOWN\r\n", 16 bytes. */
#define FUZZ_V1_MIN	15

/* Parse the first len bytes from a copy of exactly that size. */
static int
fuzz_parse(const uint8_t *data, size_t len, struct proxyproto_header *h,
    size_t *used)
{
	const char *cause;
	uint8_t *copy;
	int rc;

	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	if (len > 0)
		memcpy(copy, data, len);
	rc = proxyproto_parse(copy, len, h, used, &cause);
	FUZZ_CHECK(rc == PROXYPROTO_ERROR || rc == PROXYPROTO_NEED ||
	    rc == PROXYPROTO_DONE);
	FUZZ_CHECK((rc == PROXYPROTO_ERROR) == (cause != NULL));
	FUZZ_CHECK(rc == PROXYPROTO_DONE || *used == 0);
	if (rc == PROXYPROTO_DONE)
		FUZZ_CHECK(*used > 0 && *used <= len);
	free(copy);
	return rc;
}

static void
fuzz_check_shape(const uint8_t *data, size_t used,
    const struct proxyproto_header *h)
{
	socklen_t want;

	FUZZ_CHECK(h->pp_version == (data[0] == 'P' ? 1 : 2));
	if (h->pp_version == 1)
		FUZZ_CHECK(used >= FUZZ_V1_MIN && used <= PROXYPROTO_V1_MAX);
	else
		FUZZ_CHECK(used >= PROXYPROTO_V2_HEAD &&
		    used <= PROXYPROTO_MAX);
	if (h->pp_local) {
		FUZZ_CHECK(h->pp_srclen == 0 && h->pp_dstlen == 0);
		return;
	}
	FUZZ_CHECK(h->pp_src.ss_family == AF_INET ||
	    h->pp_src.ss_family == AF_INET6);
	FUZZ_CHECK(h->pp_dst.ss_family == h->pp_src.ss_family);
	want = h->pp_src.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	FUZZ_CHECK(h->pp_srclen == want && h->pp_dstlen == want);
}

/* The same client: family, address and port, IPv4-mapped taken as IPv4. */
static bool
fuzz_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct sockaddr_storage x = *a, y = *b;
	const struct sockaddr_in *xi = (struct sockaddr_in *)&x;
	const struct sockaddr_in *yi = (struct sockaddr_in *)&y;
	const struct sockaddr_in6 *x6 = (struct sockaddr_in6 *)&x;
	const struct sockaddr_in6 *y6 = (struct sockaddr_in6 *)&y;

	netaddr_canonical(&x, NULL);
	netaddr_canonical(&y, NULL);
	if (x.ss_family != y.ss_family)
		return false;
	if (x.ss_family == AF_INET)
		return xi->sin_port == yi->sin_port &&
		    memcmp(&xi->sin_addr, &yi->sin_addr, 4) == 0;
	return x6->sin6_port == y6->sin6_port &&
	    memcmp(&x6->sin6_addr, &y6->sin6_addr, 16) == 0;
}

/* Formatted again, in the same version, it parses back to the same. */
static void
fuzz_check_format(const struct proxyproto_header *h)
{
	uint8_t buf[PROXYPROTO_MAX], small[PROXYPROTO_MAX];
	struct proxyproto_header again;
	const struct sockaddr *src = NULL, *dst = NULL;
	size_t used;
	ssize_t n;

	if (!h->pp_local) {
		src = (const struct sockaddr *)&h->pp_src;
		dst = (const struct sockaddr *)&h->pp_dst;
	}
	n = proxyproto_format(h->pp_version, src, dst, buf, sizeof buf);
	FUZZ_CHECK(n >= PROXYPROTO_V2_HEAD - 1);
	FUZZ_CHECK(h->pp_version == 2 || n <= PROXYPROTO_V1_MAX);
	FUZZ_CHECK(fuzz_parse(buf, (size_t)n, &again, &used) ==
	    PROXYPROTO_DONE);
	FUZZ_CHECK(used == (size_t)n);
	FUZZ_CHECK(again.pp_version == h->pp_version);
	FUZZ_CHECK(again.pp_local == h->pp_local);
	if (!h->pp_local) {
		FUZZ_CHECK(fuzz_same(&again.pp_src, &h->pp_src));
		FUZZ_CHECK(fuzz_same(&again.pp_dst, &h->pp_dst));
	}

	memset(small, 0x5a, sizeof small);
	FUZZ_CHECK(proxyproto_format(h->pp_version, src, dst, small,
	    (size_t)n - 1) == -1);
	FUZZ_CHECK(small[0] == 0x5a && small[n - 1] == 0x5a);
}

/* A prefix of a header asks for more; of an error, is one or asks. */
static void
fuzz_check_prefix(const uint8_t *data, size_t len, int rc, size_t used)
{
	struct proxyproto_header h;
	size_t u;
	int prc;

	if (len == 0)
		return;
	if (rc == PROXYPROTO_DONE) {
		FUZZ_CHECK(fuzz_parse(data, used - 1, &h, &u) ==
		    PROXYPROTO_NEED);
		FUZZ_CHECK(fuzz_parse(data, used / 2, &h, &u) ==
		    PROXYPROTO_NEED);
		return;
	}
	prc = fuzz_parse(data, len - 1, &h, &u);
	FUZZ_CHECK(prc == PROXYPROTO_NEED || (prc == PROXYPROTO_ERROR &&
	    rc == PROXYPROTO_ERROR));
	prc = fuzz_parse(data, len / 2, &h, &u);
	FUZZ_CHECK(prc == PROXYPROTO_NEED || (prc == PROXYPROTO_ERROR &&
	    rc == PROXYPROTO_ERROR));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxyproto_header h, first;
	size_t used, again;
	int rc;

	rc = fuzz_parse(data, size, &h, &used);
	/* No header is longer than these: past them, an answer is due. */
	if (rc == PROXYPROTO_NEED) {
		FUZZ_CHECK(size < PROXYPROTO_MAX);
		FUZZ_CHECK(size == 0 || data[0] != 'P' ||
		    size < PROXYPROTO_V1_MAX);
	}
	fuzz_check_prefix(data, size, rc, used);
	if (rc != PROXYPROTO_DONE)
		return 0;
	fuzz_check_shape(data, used, &h);
	/* The header alone is the same header. */
	first = h;
	FUZZ_CHECK(fuzz_parse(data, used, &h, &again) == PROXYPROTO_DONE);
	FUZZ_CHECK(again == used);
	FUZZ_CHECK(h.pp_version == first.pp_version);
	FUZZ_CHECK(h.pp_local == first.pp_local);
	FUZZ_CHECK(h.pp_srclen == first.pp_srclen);
	FUZZ_CHECK(h.pp_dstlen == first.pp_dstlen);
	FUZZ_CHECK(memcmp(&h.pp_src, &first.pp_src, sizeof h.pp_src) == 0);
	FUZZ_CHECK(memcmp(&h.pp_dst, &first.pp_dst, sizeof h.pp_dst) == 0);
	fuzz_check_format(&h);
	return 0;
}
