/*
 * Fuzz CIDR parsing and matching (--allow, --deny): cidr_parse() on the
 * input as a string. A CIDR it accepts must be well formed (a prefix within
 * 0-32 or 0-128, host bits clear, IPv4-mapped prefixes turned into IPv4),
 * must match its own network address and its last address, in IPv4-mapped
 * form too for IPv4, must stop matching when a prefix bit flips, must parse
 * back to itself from its own text, and must answer the same for an IPv4
 * address as for its IPv4-mapped form (SPEC 7: a mapped client is an IPv4
 * client for the ACL).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

#include "fuzz.h"

/* A few clients every parsed CIDR is asked about. */
static const char *const fuzz_peers[] = {
	"127.0.0.1", "10.0.0.1", "192.0.2.7", "0.0.0.0", "255.255.255.255",
	"::1", "::", "2001:db8::1", "fe80::1", "::ffff:10.0.0.1",
	"::ffff:0:0", "::10.0.0.1",
};

static int
fuzz_width(int family)
{
	return family == AF_INET ? 32 : 128;
}

static bool
fuzz_bit(const uint8_t *addr, int i)
{
	return addr[i / 8] & (0x80 >> (i % 8));
}

static void
fuzz_flip(uint8_t *addr, int i)
{
	addr[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
}

/* A client at addr: IPv4 (4 bytes) or IPv6 (16 bytes). */
static void
fuzz_peer(int family, const uint8_t *addr, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(7001);
		memcpy(&sin->sin_addr, addr, 4);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(7001);
		memcpy(&sin6->sin6_addr, addr, 16);
	}
}

/* The IPv4 client at addr as a dual-stack socket sees it: ::ffff:a.b.c.d. */
static void
fuzz_peer_mapped(const uint8_t *addr, struct sockaddr_storage *ss)
{
	uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff };

	memcpy(mapped + 12, addr, 4);
	fuzz_peer(AF_INET6, mapped, ss);
}

static bool
fuzz_match(const struct cidr *c, int family, const uint8_t *addr)
{
	struct sockaddr_storage ss;

	fuzz_peer(family, addr, &ss);
	return cidr_match(c, (struct sockaddr *)&ss);
}

static bool
fuzz_match_mapped(const struct cidr *c, const uint8_t *addr)
{
	struct sockaddr_storage ss;

	fuzz_peer_mapped(addr, &ss);
	return cidr_match(c, (struct sockaddr *)&ss);
}

static void
fuzz_check_shape(const struct cidr *c)
{
	int i;

	FUZZ_CHECK(c->c_family == AF_INET || c->c_family == AF_INET6);
	FUZZ_CHECK(c->c_bits >= 0 && c->c_bits <= fuzz_width(c->c_family));
	for (i = c->c_bits; i < 128; i++)
		FUZZ_CHECK(!fuzz_bit(c->c_addr, i));
	if (c->c_family == AF_INET6 && c->c_bits >= 96)
		FUZZ_CHECK(!IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)
		    c->c_addr));
}

/* The prefix's first and last addresses match; one bit off it does not. */
static void
fuzz_check_own(const struct cidr *c)
{
	uint8_t addr[16];
	int i, width = fuzz_width(c->c_family);
	bool mapped;

	memcpy(addr, c->c_addr, sizeof addr);
	FUZZ_CHECK(fuzz_match(c, c->c_family, addr));
	if (c->c_family == AF_INET)
		FUZZ_CHECK(fuzz_match_mapped(c, addr));
	for (i = c->c_bits; i < width; i++)
		fuzz_flip(addr, i);
	/* An IPv6 prefix's last address may be IPv4-mapped: an IPv4 client. */
	mapped = c->c_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)addr);
	FUZZ_CHECK(fuzz_match(c, c->c_family, addr) == !mapped);
	if (c->c_family == AF_INET)
		FUZZ_CHECK(fuzz_match_mapped(c, addr));
	if (c->c_bits == 0)
		return;
	memcpy(addr, c->c_addr, sizeof addr);
	fuzz_flip(addr, c->c_bits - 1);
	FUZZ_CHECK(!fuzz_match(c, c->c_family, addr));
	if (c->c_family == AF_INET)
		FUZZ_CHECK(!fuzz_match_mapped(c, addr));
}

/* "network/bits" parses back to the same CIDR. */
static void
fuzz_check_text(const struct cidr *c)
{
	char host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 8], *cause;
	struct cidr again;

	FUZZ_CHECK(inet_ntop(c->c_family, c->c_addr, host, sizeof host) !=
	    NULL);
	snprintf(text, sizeof text, "%s/%d", host, c->c_bits);
	FUZZ_CHECK(cidr_parse(text, &again, &cause) == 0);
	FUZZ_CHECK(cause == NULL);
	FUZZ_CHECK(again.c_family == c->c_family);
	FUZZ_CHECK(again.c_bits == c->c_bits);
	FUZZ_CHECK(memcmp(again.c_addr, c->c_addr, sizeof c->c_addr) == 0);
}

/* Fixed clients: an IPv4 one and its mapped form get the same answer. */
static void
fuzz_check_peers(const struct cidr *c)
{
	uint8_t addr[16];
	size_t i;

	for (i = 0; i < sizeof fuzz_peers / sizeof fuzz_peers[0]; i++) {
		if (inet_pton(AF_INET, fuzz_peers[i], addr) == 1) {
			FUZZ_CHECK(fuzz_match(c, AF_INET, addr) ==
			    fuzz_match_mapped(c, addr));
			continue;
		}
		FUZZ_CHECK(inet_pton(AF_INET6, fuzz_peers[i], addr) == 1);
		(void)fuzz_match(c, AF_INET6, addr);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cidr c;
	char *s, *cause;
	int rc;

	s = fuzz_cstring(data, size);
	rc = cidr_parse(s, &c, &cause);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK((rc == -1) == (cause != NULL));
	if (rc == 0) {
		fuzz_check_shape(&c);
		fuzz_check_own(&c);
		fuzz_check_text(&c);
		fuzz_check_peers(&c);
	}
	free(cause);
	free(s);
	return 0;
}
