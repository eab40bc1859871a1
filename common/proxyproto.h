/* PROXY protocol v1 and v2 headers (HAProxy's proxy-protocol.txt): parse and format, pure. */
#ifndef MPSERVER_PROXYPROTO_H
#define MPSERVER_PROXYPROTO_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#define PROXYPROTO_V1_MAX	107	/* the longest v1 line, CRLF included */
#define PROXYPROTO_V2_HEAD	16	/* signature, version/command, family, length */
#define PROXYPROTO_MAX		4096	/* the longest header accepted (v2 with TLVs) */

enum proxyproto_result {
	PROXYPROTO_ERROR = -1,	/* not a valid header: *cause says why */
	PROXYPROTO_NEED = 0,	/* a valid prefix: read more bytes */
	PROXYPROTO_DONE = 1,	/* a whole header of *used bytes */
};

struct proxyproto_header {
	int			 pp_version;	/* 1 or 2 */
	/* v2 LOCAL, v1 UNKNOWN, v2 UNSPEC/UNIX: keep the connection's own. */
	bool			 pp_local;
	struct sockaddr_storage	 pp_src;	/* the client, if !pp_local */
	socklen_t		 pp_srclen;
	struct sockaddr_storage	 pp_dst;	/* where it connected */
	socklen_t		 pp_dstlen;
};

/*
 * Parse the first len bytes of buf; never reads past them. NEED for any
 * valid proper prefix (including an empty buffer); DONE with *used = header
 * length; ERROR with *cause (a static string such as "bad signature", "v1
 * line too long", "bad port", "bad address", "unknown command"...).
 * *h is written only on DONE; *used is 0 and *cause NULL unless set above.
 * Addresses are given as sent: an IPv4-mapped one stays AF_INET6.
 */
int	proxyproto_parse(const void *buf, size_t len,
	    struct proxyproto_header *h, size_t *used, const char **cause);

/*
 * Format a header (version 1 or 2) telling that src connected to dst.
 * IPv4-mapped IPv6 addresses are written as IPv4; if the two families still
 * differ, the IPv4 one is written as IPv4-mapped IPv6. src == NULL (or dst
 * == NULL, or a family other than AF_INET/AF_INET6) writes v1
 * "PROXY UNKNOWN\r\n" / v2 LOCAL. Returns the length (no NUL is added), or
 * -1 if size is too small or the version is neither 1 nor 2.
 */
ssize_t	proxyproto_format(int version, const struct sockaddr *src,
	    const struct sockaddr *dst, void *buf, size_t size);

#endif
