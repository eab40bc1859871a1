/*
 * Fuzz the metrics service's HTTP request head reader: httpreq_parse() on
 * the input as a client's byte stream, request after request while heads
 * are DONE (pipelining). A DONE head lies inside the input and the limit,
 * ends with an empty line, and agrees with its own bytes (method, path,
 * keep-alive, body); an ERROR has a status the caller can send; NEED never
 * comes at the limit. Results are final: a prefix of the input gives NEED
 * or exactly the answer the whole input gives, and the head alone gives
 * the same answer as the head with bytes after it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpreq.h"

#include "fuzz.h"

/* Inputs up to this long have every prefix parsed; longer ones a few. */
#define FUZZ_ALL_PREFIXES 512

static unsigned char
fuzz_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* lit occurs in buf[0..len); with fold in any case (lit in lower case). */
static bool
fuzz_contains(const char *buf, size_t len, const char *lit, bool fold)
{
	size_t n = strlen(lit), i, j;

	for (i = 0; i + n <= len; i++) {
		for (j = 0; j < n; j++) {
			unsigned char c = (unsigned char)buf[i + j];

			if ((fold ? fuzz_lower(c) : c) != (unsigned char)lit[j])
				break;
		}
		if (j == n)
			return true;
	}
	return false;
}

static bool
fuzz_starts(const char *buf, size_t len, const char *lit)
{
	return len >= strlen(lit) && memcmp(buf, lit, strlen(lit)) == 0;
}

static bool
fuzz_same(int rc1, const struct httpreq *a, int rc2, const struct httpreq *b)
{
	if (rc1 != rc2 || a->hr_status != b->hr_status)
		return false;
	if (rc1 != HTTPREQ_DONE)
		return true;
	return a->hr_method == b->hr_method &&
	    strcmp(a->hr_path, b->hr_path) == 0 &&
	    a->hr_minor == b->hr_minor &&
	    a->hr_keep_alive == b->hr_keep_alive &&
	    a->hr_has_body == b->hr_has_body &&
	    a->hr_head_len == b->hr_head_len;
}

/* hr_path: a string, "" or a path without its query, in visible ASCII. */
static void
fuzz_check_path(const char *head, size_t len, const struct httpreq *r)
{
	size_t n, i;

	FUZZ_CHECK(memchr(r->hr_path, '\0', sizeof r->hr_path) != NULL);
	/* "" only for a path that did not fit: never "*" or an empty one. */
	if ((n = strlen(r->hr_path)) == 0) {
		FUZZ_CHECK(len > HTTPREQ_PATH_MAX);
		return;
	}
	FUZZ_CHECK(r->hr_path[0] == '/');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r->hr_path[i];

		FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '?' && c != '#');
	}
	/* "http://host?q" alone has a path that is not in the bytes. */
	FUZZ_CHECK(fuzz_contains(head, len, r->hr_path, false) || n == 1);
}

static void
fuzz_check_done(const char *buf, size_t len, const struct httpreq *r)
{
	size_t h = r->hr_head_len, skip = 0;
	const char *line;

	FUZZ_CHECK(h >= 2 && h <= len && h <= HTTPREQ_MAX_HEAD);
	/* The last line is empty: "\n\n", or "\n\r\n" ("\r\n\r\n" too). */
	FUZZ_CHECK(buf[h - 1] == '\n');
	FUZZ_CHECK(buf[h - 2] == '\n' || (h >= 3 && buf[h - 2] == '\r' &&
	    buf[h - 3] == '\n'));
	FUZZ_CHECK(memchr(buf, '\0', h) == NULL);
	FUZZ_CHECK(r->hr_minor == 0 || r->hr_minor == 1);
	FUZZ_CHECK(r->hr_status == 0);
	fuzz_check_path(buf, h, r);
	while (skip < h && (buf[skip] == '\r' || buf[skip] == '\n'))
		skip++;
	line = buf + skip;
	FUZZ_CHECK((r->hr_method == HTTPREQ_GET) ==
	    fuzz_starts(line, h - skip, "GET "));
	FUZZ_CHECK((r->hr_method == HTTPREQ_HEAD) ==
	    fuzz_starts(line, h - skip, "HEAD "));
	FUZZ_CHECK(r->hr_method == HTTPREQ_GET ||
	    r->hr_method == HTTPREQ_HEAD || r->hr_method == HTTPREQ_OTHER);
	if (r->hr_keep_alive && r->hr_minor == 0)
		FUZZ_CHECK(fuzz_contains(buf, h, "keep-alive", true));
	if (!r->hr_keep_alive && r->hr_minor == 1)
		FUZZ_CHECK(fuzz_contains(buf, h, "close", true));
	if (r->hr_has_body)
		FUZZ_CHECK(fuzz_contains(buf, h, "content-length", true) ||
		    fuzz_contains(buf, h, "transfer-encoding", true));
}

/* One answer on its own: within what the API promises. */
static void
fuzz_check_one(const char *buf, size_t len, int rc, const struct httpreq *r)
{
	FUZZ_CHECK(rc == HTTPREQ_NEED || rc == HTTPREQ_ERROR ||
	    rc == HTTPREQ_DONE);
	FUZZ_CHECK(memchr(r->hr_path, '\0', sizeof r->hr_path) != NULL);
	switch (rc) {
	case HTTPREQ_NEED:
		FUZZ_CHECK(len < HTTPREQ_MAX_HEAD);
		FUZZ_CHECK(r->hr_status == 0);
		break;
	case HTTPREQ_ERROR:
		FUZZ_CHECK(r->hr_status == 400 || r->hr_status == 431 ||
		    r->hr_status == 505 || r->hr_status == 501);
		if (r->hr_status == 431)
			FUZZ_CHECK(len >= HTTPREQ_MAX_HEAD);
		break;
	case HTTPREQ_DONE:
		fuzz_check_done(buf, len, r);
		break;
	}
}

/* The first k bytes: NEED, or what all len bytes gave. */
static void
fuzz_check_prefix(const char *buf, size_t k, int rc, const struct httpreq *r)
{
	struct httpreq p;
	int prc;

	prc = httpreq_parse(buf, k, &p);
	fuzz_check_one(buf, k, prc, &p);
	FUZZ_CHECK(prc == HTTPREQ_NEED || fuzz_same(prc, &p, rc, r));
	if (rc == HTTPREQ_DONE && k < r->hr_head_len)
		FUZZ_CHECK(prc == HTTPREQ_NEED);
}

static void
fuzz_check_prefixes(const char *buf, size_t len, int rc,
    const struct httpreq *r)
{
	size_t splits[] = { 0, 1, len / 3, len / 2, len - 1,
	    HTTPREQ_MAX_HEAD - 1, HTTPREQ_MAX_HEAD };
	size_t k, i;

	if (len <= FUZZ_ALL_PREFIXES) {
		for (k = 0; k <= len; k++)
			fuzz_check_prefix(buf, k, rc, r);
		return;
	}
	for (i = 0; i < sizeof splits / sizeof splits[0]; i++) {
		if (splits[i] <= len)
			fuzz_check_prefix(buf, splits[i], rc, r);
	}
	if (rc == HTTPREQ_DONE) {
		fuzz_check_prefix(buf, r->hr_head_len - 1, rc, r);
		fuzz_check_prefix(buf, r->hr_head_len, rc, r);
	}
}

/* One request at the start of buf; returns its head length, or 0. */
static size_t
fuzz_request(const char *buf, size_t len)
{
	struct httpreq r;
	int rc;

	rc = httpreq_parse(buf, len, &r);
	fuzz_check_one(buf, len, rc, &r);
	fuzz_check_prefixes(buf, len, rc, &r);
	return rc == HTTPREQ_DONE ? r.hr_head_len : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t off = 0, n;

	while (off < size && (n = fuzz_request(buf + off, size - off)) > 0)
		off += n;
	return 0;
}
