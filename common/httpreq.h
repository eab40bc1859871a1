/* A strict HTTP/1.x request head reader for the metrics service: pure, bounded, fuzzed. */
#ifndef MPSERVER_HTTPREQ_H
#define MPSERVER_HTTPREQ_H

#include <stdbool.h>
#include <stddef.h>

#define HTTPREQ_MAX_HEAD 8192	/* request line and headers, SPEC 3 */
#define HTTPREQ_PATH_MAX 256

enum httpreq_result {
	HTTPREQ_ERROR = -1,	/* r->hr_status says which error reply */
	HTTPREQ_NEED = 0,	/* no complete head yet: read more */
	HTTPREQ_DONE = 1,	/* a whole head of r->hr_head_len bytes */
};

enum httpreq_method { HTTPREQ_GET, HTTPREQ_HEAD, HTTPREQ_OTHER };

struct httpreq {
	enum httpreq_method	 hr_method;
	char			 hr_path[HTTPREQ_PATH_MAX];	/* without the query; "" if the target was longer than fits (answer 404) */
	int			 hr_minor;	/* HTTP/1.hr_minor: 0 or 1 */
	bool			 hr_keep_alive;	/* 1.1 unless "Connection: close"; 1.0 only with "Connection: keep-alive" */
	bool			 hr_has_body;	/* Content-Length > 0 or Transfer-Encoding: the caller answers and closes */
	size_t			 hr_head_len;	/* bytes of the head, blank line included */
	int			 hr_status;	/* with ERROR: 400, 431 (head over HTTPREQ_MAX_HEAD), 505 (not HTTP/1.x); 501 is never returned */
};

/*
 * Parse the head at the start of buf[0..len) (bytes after it are the next
 * request and are left alone). Never reads past len, nor past
 * HTTPREQ_MAX_HEAD. The head length counts the empty lines ignored before
 * the request line, so the caller drops hr_head_len bytes either way. A
 * result other than NEED is final: more bytes never change it. With NEED
 * and ERROR only hr_status is meaningful (0 with NEED); hr_path is always
 * a string.
 */
int	httpreq_parse(const char *buf, size_t len, struct httpreq *r);

#endif
