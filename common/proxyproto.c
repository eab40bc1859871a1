/* PROXY protocol v1 and v2 headers (HAProxy's proxy-protocol.txt): parse and format, pure. */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"
#include "proxyproto.h"

#define PROXYPROTO_V1_SIG	"PROXY "
/* The longest literal inet_pton takes: ffff:...:ffff:255.255.255.255. */
#define PROXYPROTO_ADDR_MAX	45

/* v2: version 2 in the high nibble, the command in the low one. */
#define PROXYPROTO_V2_LOCAL	0x20
#define PROXYPROTO_V2_PROXY	0x21
#define PROXYPROTO_V2_TCP4	0x11
#define PROXYPROTO_V2_TCP6	0x21

static const uint8_t proxyproto_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/*
 * Endings that turn any prefix of an address inet_pton takes into one it
 * takes: ".0.0" finishes "10.1", "::" finishes "2001:db8", "0" finishes
 * "fe80::1:", "0.0.0.0" an empty field.
 */
static const char *const proxyproto_endings[] = {
	"", "0", ".0", "0.0", ".0.0", "0.0.0", ".0.0.0", "0.0.0.0", ":", "::",
};

static int
proxyproto_fail(const char **cause, const char *why)
{
	*cause = why;
	return PROXYPROTO_ERROR;
}

/* A v1 word, all of it if whole, else the start of it seen so far. */
static bool
proxyproto_v1_word(const char *word, const char *s, size_t n, bool whole)
{
	size_t wlen = strlen(word);

	if (whole ? n != wlen : n > wlen)
		return false;
	return memcmp(s, word, n) == 0;
}

/* A port: decimal, 0 to 65535, no leading zero but in "0" itself. */
static bool
proxyproto_v1_port(const char *s, size_t n, bool whole, in_port_t *port,
    size_t *need)
{
	unsigned long v = 0;
	size_t i;

	*need = n == 0 ? 1 : 0;
	if (n == 0)
		return !whole;
	if (n > 5 || (s[0] == '0' && n > 1))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = htons((uint16_t)v);
	return true;
}

/*
 * An address of the family: all of it if whole, else a start that some
 * ending can still make one; *need is the shortest such ending.
 */
static bool
proxyproto_v1_addr(int af, const char *s, size_t n, bool whole, void *addr,
    size_t *need)
{
	const char *chars = af == AF_INET ? "0123456789." :
	    "0123456789abcdefABCDEF:.";
	char text[PROXYPROTO_ADDR_MAX + 8];
	struct in6_addr scratch;
	size_t i;
	bool viable = false;

	if (n > PROXYPROTO_ADDR_MAX)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '\0' || strchr(chars, s[i]) == NULL)
			return false;
	}
	memcpy(text, s, n);
	text[n] = '\0';
	if (whole)
		return inet_pton(af, text, addr) == 1;
	*need = SIZE_MAX;
	for (i = 0; i < sizeof proxyproto_endings / sizeof *proxyproto_endings;
	    i++) {
		strcpy(text + n, proxyproto_endings[i]);
		if (inet_pton(af, text, &scratch) != 1)
			continue;
		if (strlen(proxyproto_endings[i]) < *need)
			*need = strlen(proxyproto_endings[i]);
		viable = true;
	}
	return viable;
}

/*
 * Field i of "src dst sport dport" into *h; if it is not whole, *need is
 * the fewest bytes that finish it and the fields after it.
 */
static const char *
proxyproto_v1_field(int i, int af, const char *s, size_t n, bool whole,
    struct proxyproto_header *h, size_t *need)
{
	struct sockaddr_storage *ss = i % 2 == 0 ? &h->pp_src : &h->pp_dst;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	void *addr;
	in_port_t *port;
	int j;

	if (i < 2) {
		addr = af == AF_INET ? (void *)&sin->sin_addr :
		    (void *)&sin6->sin6_addr;
		if (!proxyproto_v1_addr(af, s, n, whole, addr, need))
			return "bad address";
	} else {
		port = af == AF_INET ? &sin->sin_port : &sin6->sin6_port;
		if (!proxyproto_v1_port(s, n, whole, port, need))
			return "bad port";
	}
	/* Then a space and "0.0.0.0" or "::" for an address, "0" for a port. */
	for (j = i + 1; !whole && j < 4; j++)
		*need += 1 + (j >= 2 ? 1 : af == AF_INET ? 7 : 2);
	return NULL;
}

/* Both addresses are of the family, their lengths its sockaddr's. */
static void
proxyproto_families(int af, struct proxyproto_header *h)
{
	socklen_t len = af == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);

	h->pp_src.ss_family = h->pp_dst.ss_family = (sa_family_t)af;
	h->pp_srclen = h->pp_dstlen = len;
}

/*
 * "src dst sport dport" after "PROXY TCP4 ": what is wrong, or NULL. If
 * not whole, *need is the fewest bytes that could finish them.
 */
static const char *
proxyproto_v1_fields(int af, const char *s, size_t n, bool whole,
    struct proxyproto_header *h, size_t *need)
{
	const char *sp, *why;
	size_t flen;
	int i;

	for (i = 0; i < 4; i++) {
		sp = memchr(s, ' ', n);
		flen = sp != NULL ? (size_t)(sp - s) : n;
		if (sp == NULL && !whole)
			return proxyproto_v1_field(i, af, s, flen, false, h,
			    need);
		if ((why = proxyproto_v1_field(i, af, s, flen, true, h,
		    need)) != NULL)
			return why;
		if (sp == NULL && i < 3)
			return "missing fields";
		if (sp != NULL && i == 3)
			return "extra fields";
		if (sp != NULL) {
			s = sp + 1;
			n -= flen + 1;
		}
	}
	proxyproto_families(af, h);
	return NULL;
}

/*
 * The text of a v1 line before its CRLF: all of it if whole, else the
 * bytes seen so far, which must still be able to become a line; then *need
 * is the fewest bytes that could finish it (0 while it is too short to
 * matter). What is wrong, or NULL.
 */
static const char *
proxyproto_v1_text(const char *s, size_t n, bool whole,
    struct proxyproto_header *h, size_t *need)
{
	const size_t siglen = sizeof PROXYPROTO_V1_SIG - 1;
	const char *sp;
	size_t wlen;
	bool wwhole;

	if (memcmp(s, PROXYPROTO_V1_SIG, n < siglen ? n : siglen) != 0)
		return "bad signature";
	if (n < siglen)
		return whole ? "bad signature" : NULL;
	s += siglen;
	n -= siglen;
	sp = memchr(s, ' ', n);
	wlen = sp != NULL ? (size_t)(sp - s) : n;
	wwhole = sp != NULL || whole;

	/* "UNKNOWN" and anything after it up to the CRLF. */
	if (proxyproto_v1_word("UNKNOWN", s, wlen, wwhole)) {
		h->pp_local = true;
		return NULL;
	}
	if (!wwhole && (proxyproto_v1_word("TCP4", s, wlen, false) ||
	    proxyproto_v1_word("TCP6", s, wlen, false)))
		return NULL;
	if (!proxyproto_v1_word("TCP4", s, wlen, true) &&
	    !proxyproto_v1_word("TCP6", s, wlen, true))
		return "unknown protocol";
	if (sp == NULL)
		return "missing fields";
	return proxyproto_v1_fields(s[3] == '4' ? AF_INET : AF_INET6,
	    sp + 1, n - wlen - 1, whole, h, need);
}

/*
 * A v1 line: checked up to its CR (or as far as it goes) before the
 * ending, so the first thing wrong is the one reported.
 */
static int
proxyproto_v1(const char *s, size_t len, struct proxyproto_header *h,
    size_t *used, const char **cause)
{
	struct proxyproto_header new;
	size_t n = len < PROXYPROTO_V1_MAX ? len : PROXYPROTO_V1_MAX, i;
	size_t need = 0;
	const char *why;
	bool whole;

	for (i = 0; i < n && s[i] != '\r' && s[i] != '\n'; i++)
		/* nothing */;
	whole = i < n && s[i] == '\r';
	memset(&new, 0, sizeof new);
	new.pp_version = 1;
	if ((why = proxyproto_v1_text(s, i, whole, &new, &need)) != NULL)
		return proxyproto_fail(cause, why);
	if (i < n && s[i] == '\n')
		return proxyproto_fail(cause, "LF without CR");
	/* Too long as soon as the shortest way to finish it is. */
	if (i + (whole ? 0 : need) + 2 > PROXYPROTO_V1_MAX)
		return proxyproto_fail(cause, "v1 line too long");
	if (i + (whole ? 1 : 0) == n)
		return PROXYPROTO_NEED;
	if (s[i + 1] != '\n')
		return proxyproto_fail(cause, "CR without LF");
	*h = new;
	*used = i + 2;
	return PROXYPROTO_DONE;
}

/* The shortest address block a v2 PROXY command may send for the family. */
static int
proxyproto_v2_family(uint8_t fam, size_t *min, const char **cause)
{
	switch (fam) {
	case 0x00:
		*min = 0;
		return 0;
	case PROXYPROTO_V2_TCP4:
		*min = 12;
		return 0;
	case PROXYPROTO_V2_TCP6:
		*min = 36;
		return 0;
	case 0x31:
		*min = 216;
		return 0;
	case 0x12:
	case 0x22:
	case 0x32:
		*cause = "not TCP";
		return -1;
	default:
		*cause = "unknown family";
		return -1;
	}
}

/* The addresses of a v2 TCP4 or TCP6 block. */
static void
proxyproto_v2_addrs(const uint8_t *p, uint8_t fam, struct proxyproto_header *h)
{
	struct sockaddr_in *src = (struct sockaddr_in *)&h->pp_src;
	struct sockaddr_in *dst = (struct sockaddr_in *)&h->pp_dst;
	struct sockaddr_in6 *src6 = (struct sockaddr_in6 *)&h->pp_src;
	struct sockaddr_in6 *dst6 = (struct sockaddr_in6 *)&h->pp_dst;

	if (fam == PROXYPROTO_V2_TCP4) {
		memcpy(&src->sin_addr, p, 4);
		memcpy(&dst->sin_addr, p + 4, 4);
		memcpy(&src->sin_port, p + 8, 2);
		memcpy(&dst->sin_port, p + 10, 2);
		proxyproto_families(AF_INET, h);
	} else {
		memcpy(&src6->sin6_addr, p, 16);
		memcpy(&dst6->sin6_addr, p + 16, 16);
		memcpy(&src6->sin6_port, p + 32, 2);
		memcpy(&dst6->sin6_port, p + 34, 2);
		proxyproto_families(AF_INET6, h);
	}
}

/*
 * A v2 header, each byte judged as soon as it is there. LOCAL ignores the
 * family, as the spec says; UNSPEC and UNIX keep the connection's own
 * addresses; TLVs after the address block are skipped unread.
 */
static int
proxyproto_v2(const uint8_t *p, size_t len, struct proxyproto_header *h,
    size_t *used, const char **cause)
{
	size_t n = len < sizeof proxyproto_sig ? len : sizeof proxyproto_sig;
	size_t min = 0, total;

	if (memcmp(p, proxyproto_sig, n) != 0)
		return proxyproto_fail(cause, "bad signature");
	if (len < 13)
		return PROXYPROTO_NEED;
	if ((p[12] & 0xf0) != 0x20)
		return proxyproto_fail(cause, "bad version");
	if (p[12] != PROXYPROTO_V2_LOCAL && p[12] != PROXYPROTO_V2_PROXY)
		return proxyproto_fail(cause, "unknown command");
	if (len < 14)
		return PROXYPROTO_NEED;
	if (p[12] == PROXYPROTO_V2_PROXY &&
	    proxyproto_v2_family(p[13], &min, cause) != 0)
		return PROXYPROTO_ERROR;
	/* The length's high byte alone may tell it is too long. */
	if (len < PROXYPROTO_V2_HEAD) {
		if (len == 15 && PROXYPROTO_V2_HEAD + ((size_t)p[14] << 8) >
		    PROXYPROTO_MAX)
			return proxyproto_fail(cause, "v2 header too long");
		return PROXYPROTO_NEED;
	}
	total = PROXYPROTO_V2_HEAD + ((size_t)p[14] << 8 | p[15]);
	if (total < PROXYPROTO_V2_HEAD + min)
		return proxyproto_fail(cause, "address block too short");
	if (total > PROXYPROTO_MAX)
		return proxyproto_fail(cause, "v2 header too long");
	if (len < total)
		return PROXYPROTO_NEED;

	memset(h, 0, sizeof *h);
	h->pp_version = 2;
	if (p[12] == PROXYPROTO_V2_PROXY && (p[13] == PROXYPROTO_V2_TCP4 ||
	    p[13] == PROXYPROTO_V2_TCP6))
		proxyproto_v2_addrs(p + PROXYPROTO_V2_HEAD, p[13], h);
	else
		h->pp_local = true;
	*used = total;
	return PROXYPROTO_DONE;
}

int
proxyproto_parse(const void *buf, size_t len, struct proxyproto_header *h,
    size_t *used, const char **cause)
{
	const uint8_t *p = buf;

	*used = 0;
	*cause = NULL;
	if (len == 0)
		return PROXYPROTO_NEED;
	if (p[0] == PROXYPROTO_V1_SIG[0])
		return proxyproto_v1(buf, len, h, used, cause);
	if (p[0] == proxyproto_sig[0])
		return proxyproto_v2(p, len, h, used, cause);
	return proxyproto_fail(cause, "bad signature");
}

/* The IPv4 address ss as an IPv4-mapped IPv6 one, port kept. */
static void
proxyproto_map(struct sockaddr_storage *ss)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memcpy(&sin, ss, sizeof sin);
	memset(ss, 0, sizeof *ss);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = sin.sin_port;
	sin6->sin6_addr.s6_addr[10] = 0xff;
	sin6->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sin6->sin6_addr.s6_addr[12], &sin.sin_addr, 4);
}

static bool
proxyproto_copy(const struct sockaddr *sa, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET)
		memcpy(ss, sa, sizeof(struct sockaddr_in));
	else if (sa->sa_family == AF_INET6)
		memcpy(ss, sa, sizeof(struct sockaddr_in6));
	else
		return false;
	netaddr_canonical(ss, NULL);
	return true;
}

/* src and dst in one family, IPv4 if both can be; false if untellable. */
static bool
proxyproto_pair(const struct sockaddr *src, const struct sockaddr *dst,
    struct sockaddr_storage *s, struct sockaddr_storage *d)
{
	if (!proxyproto_copy(src, s) || !proxyproto_copy(dst, d))
		return false;
	if (s->ss_family == AF_INET && d->ss_family == AF_INET6)
		proxyproto_map(s);
	else if (s->ss_family == AF_INET6 && d->ss_family == AF_INET)
		proxyproto_map(d);
	return true;
}

static const void *
proxyproto_addr(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return &((const struct sockaddr_in *)ss)->sin_addr;
	return &((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static const void *
proxyproto_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return &((const struct sockaddr_in *)ss)->sin_port;
	return &((const struct sockaddr_in6 *)ss)->sin6_port;
}

static int
proxyproto_format_v1(const struct sockaddr_storage *s,
    const struct sockaddr_storage *d, char *out, size_t size)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	in_port_t sport, dport;
	int af, n;

	if (s == NULL)
		return snprintf(out, size, "PROXY UNKNOWN\r\n");
	af = s->ss_family;
	if (inet_ntop(af, proxyproto_addr(s), src, sizeof src) == NULL ||
	    inet_ntop(af, proxyproto_addr(d), dst, sizeof dst) == NULL)
		return -1;
	memcpy(&sport, proxyproto_port(s), sizeof sport);
	memcpy(&dport, proxyproto_port(d), sizeof dport);
	n = snprintf(out, size, "PROXY %s %s %s %u %u\r\n",
	    af == AF_INET ? "TCP4" : "TCP6", src, dst, ntohs(sport),
	    ntohs(dport));
	return n < 0 || (size_t)n >= size ? -1 : n;
}

static int
proxyproto_format_v2(const struct sockaddr_storage *s,
    const struct sockaddr_storage *d, uint8_t *out)
{
	size_t alen;

	memcpy(out, proxyproto_sig, sizeof proxyproto_sig);
	if (s == NULL) {
		out[12] = PROXYPROTO_V2_LOCAL;
		out[13] = out[14] = out[15] = 0;
		return PROXYPROTO_V2_HEAD;
	}
	alen = s->ss_family == AF_INET ? 4 : 16;
	out[12] = PROXYPROTO_V2_PROXY;
	out[13] = alen == 4 ? PROXYPROTO_V2_TCP4 : PROXYPROTO_V2_TCP6;
	out[14] = 0;
	out[15] = (uint8_t)(alen * 2 + 4);
	out += PROXYPROTO_V2_HEAD;
	memcpy(out, proxyproto_addr(s), alen);
	memcpy(out + alen, proxyproto_addr(d), alen);
	memcpy(out + alen * 2, proxyproto_port(s), 2);
	memcpy(out + alen * 2 + 2, proxyproto_port(d), 2);
	return PROXYPROTO_V2_HEAD + (int)alen * 2 + 4;
}

ssize_t
proxyproto_format(int version, const struct sockaddr *src,
    const struct sockaddr *dst, void *buf, size_t size)
{
	struct sockaddr_storage s, d;
	/* Room for a v1 line and snprintf's NUL; a v2 header is at most 52. */
	uint8_t out[PROXYPROTO_V1_MAX + 1];
	bool told;
	int n;

	if (version != 1 && version != 2)
		return -1;
	told = proxyproto_pair(src, dst, &s, &d);
	if (version == 1)
		n = proxyproto_format_v1(told ? &s : NULL, &d, (char *)out,
		    sizeof out);
	else
		n = proxyproto_format_v2(told ? &s : NULL, &d, out);
	if (n < 0 || (size_t)n > size)
		return -1;
	memcpy(buf, out, (size_t)n);
	return n;
}
