/* A strict HTTP/1.x request head reader for the metrics service: pure, bounded, fuzzed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "httpreq.h"

/* Empty lines ignored before the request line (RFC 9112 2.2 asks for one). */
#define HTTPREQ_MAX_EMPTY 4

/* What each step says: the three results, or that its part is complete. */
#define HTTPREQ_OK 2
#define HTTPREQ_END 3	/* the empty line that ends the head */

/* A walk over the head: where it is, and what the fields said so far. */
struct httpreq_scan {
	const char	*hs_buf;
	size_t		 hs_end;	/* len, at most HTTPREQ_MAX_HEAD */
	size_t		 hs_pos;	/* next byte to look at */
	struct httpreq	*hs_req;
	size_t		 hs_path_len;
	bool		 hs_path_long;	/* did not fit in hr_path */
	bool		 hs_asterisk;	/* "*": 400 after the version */
	bool		 hs_close;	/* Connection: close */
	bool		 hs_keep;	/* Connection: keep-alive */
	bool		 hs_has_length;
	uint64_t	 hs_length;	/* Content-Length */
	bool		 hs_chunked;	/* any Transfer-Encoding */
};

static int
httpreq_fail(struct httpreq_scan *hs, int status)
{
	hs->hs_req->hr_status = status;
	return HTTPREQ_ERROR;
}

static bool
httpreq_more(const struct httpreq_scan *hs)
{
	return hs->hs_pos < hs->hs_end;
}

static unsigned char
httpreq_peek(const struct httpreq_scan *hs)
{
	return (unsigned char)hs->hs_buf[hs->hs_pos];
}

static bool
httpreq_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
httpreq_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 5.6.2: the bytes of a method or a field name. */
static bool
httpreq_tchar(unsigned char c)
{
	return httpreq_alpha(c) || httpreq_digit(c) ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Visible ASCII: the bytes of a request-target. */
static bool
httpreq_vchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* A field value: visible bytes, blanks and obs-text, no controls. */
static bool
httpreq_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool
httpreq_blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool
httpreq_eol_char(unsigned char c)
{
	return c == '\r' || c == '\n';
}

static unsigned char
httpreq_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* s[0..n) is lit, ASCII letters in any case (never the locale's). */
static bool
httpreq_iequal(const char *s, size_t n, const char *lit)
{
	size_t i;

	if (n != strlen(lit))
		return false;
	for (i = 0; i < n; i++) {
		if (httpreq_lower((unsigned char)s[i]) != (unsigned char)lit[i])
			return false;
	}
	return true;
}

/* The line ends here: "\r\n", or a bare "\n" (RFC 9112 2.2). */
static int
httpreq_eol(struct httpreq_scan *hs)
{
	size_t p = hs->hs_pos;

	if (p >= hs->hs_end)
		return HTTPREQ_NEED;
	if (hs->hs_buf[p] == '\n') {
		hs->hs_pos = p + 1;
		return HTTPREQ_OK;
	}
	if (hs->hs_buf[p] != '\r')
		return httpreq_fail(hs, 400);
	if (p + 1 >= hs->hs_end)
		return HTTPREQ_NEED;
	if (hs->hs_buf[p + 1] != '\n')
		return httpreq_fail(hs, 400);
	hs->hs_pos = p + 2;
	return HTTPREQ_OK;
}

/* The literal lit comes next, byte by byte, lower case matching any case. */
static int
httpreq_expect(struct httpreq_scan *hs, const char *lit, bool fold)
{
	unsigned char c;

	for (; *lit != '\0'; lit++, hs->hs_pos++) {
		if (!httpreq_more(hs))
			return HTTPREQ_NEED;
		c = httpreq_peek(hs);
		if ((fold ? httpreq_lower(c) : c) != (unsigned char)*lit)
			return httpreq_fail(hs, 400);
	}
	return HTTPREQ_OK;
}

/* RFC 9112 2.2: a few empty lines before the request line are ignored. */
static int
httpreq_skip_empty(struct httpreq_scan *hs)
{
	int i, rc;

	for (i = 0; i <= HTTPREQ_MAX_EMPTY; i++) {
		if (!httpreq_more(hs))
			return HTTPREQ_NEED;
		if (!httpreq_eol_char(httpreq_peek(hs)))
			return HTTPREQ_OK;
		if (i == HTTPREQ_MAX_EMPTY)
			break;
		if ((rc = httpreq_eol(hs)) != HTTPREQ_OK)
			return rc;
	}
	return httpreq_fail(hs, 400);
}

/* A token, then one space; GET and HEAD are case-sensitive (RFC 9110 9.1). */
static int
httpreq_method(struct httpreq_scan *hs)
{
	size_t start = hs->hs_pos, n;
	const char *m = hs->hs_buf + start;

	while (httpreq_more(hs) && httpreq_tchar(httpreq_peek(hs)))
		hs->hs_pos++;
	if (!httpreq_more(hs))
		return HTTPREQ_NEED;
	if (httpreq_peek(hs) != ' ' || hs->hs_pos == start)
		return httpreq_fail(hs, 400);
	n = hs->hs_pos++ - start;
	if (n == 3 && memcmp(m, "GET", 3) == 0)
		hs->hs_req->hr_method = HTTPREQ_GET;
	else if (n == 4 && memcmp(m, "HEAD", 4) == 0)
		hs->hs_req->hr_method = HTTPREQ_HEAD;
	else
		hs->hs_req->hr_method = HTTPREQ_OTHER;
	return HTTPREQ_OK;
}

static void
httpreq_path_add(struct httpreq_scan *hs, char c)
{
	if (hs->hs_path_len + 1 >= HTTPREQ_PATH_MAX) {
		hs->hs_path_long = true;
		return;
	}
	hs->hs_req->hr_path[hs->hs_path_len++] = c;
}

/*
 * Absolute-form (RFC 9112 3.2.2): "http://" or "https://" in any case, a
 * host that is not empty, then the path; "http://host?q" has the path "/".
 */
static int
httpreq_authority(struct httpreq_scan *hs)
{
	size_t start;
	unsigned char c;
	int rc;

	if ((rc = httpreq_expect(hs, "http", true)) != HTTPREQ_OK)
		return rc;
	if (!httpreq_more(hs))
		return HTTPREQ_NEED;
	if (httpreq_lower(httpreq_peek(hs)) == 's')
		hs->hs_pos++;
	if ((rc = httpreq_expect(hs, "://", false)) != HTTPREQ_OK)
		return rc;
	start = hs->hs_pos;
	for (; httpreq_more(hs); hs->hs_pos++) {
		c = httpreq_peek(hs);
		if (c == '/' || c == '?' || c == '#' || !httpreq_vchar(c))
			break;
	}
	if (!httpreq_more(hs))
		return HTTPREQ_NEED;
	if (hs->hs_pos == start)
		return httpreq_fail(hs, 400);
	if (httpreq_peek(hs) != '/')
		httpreq_path_add(hs, '/');
	return HTTPREQ_OK;
}

/* The path up to '?' or '#' goes to hr_path; the rest is skipped. */
static int
httpreq_path(struct httpreq_scan *hs)
{
	bool in_path = true;
	unsigned char c;

	for (; httpreq_more(hs); hs->hs_pos++) {
		c = httpreq_peek(hs);
		if (!httpreq_vchar(c))
			return HTTPREQ_OK;
		if (c == '?' || c == '#')
			in_path = false;
		if (in_path)
			httpreq_path_add(hs, (char)c);
	}
	return HTTPREQ_NEED;
}

/* "*" (asterisk-form) is 400, but after the version: PRI * HTTP/2.0 is 505. */
static int
httpreq_form(struct httpreq_scan *hs)
{
	unsigned char c;

	if (!httpreq_more(hs))
		return HTTPREQ_NEED;
	c = httpreq_peek(hs);
	if (c == '/')
		return HTTPREQ_OK;
	if (c == 'h' || c == 'H')
		return httpreq_authority(hs);
	if (c != '*')
		return httpreq_fail(hs, 400);
	hs->hs_pos++;
	hs->hs_asterisk = true;
	if (!httpreq_more(hs))
		return HTTPREQ_NEED;
	return httpreq_peek(hs) == ' ' ? HTTPREQ_OK : httpreq_fail(hs, 400);
}

/* The target, then one space; a line ending instead is HTTP/0.9. */
static int
httpreq_target(struct httpreq_scan *hs)
{
	int rc;

	if ((rc = httpreq_form(hs)) != HTTPREQ_OK)
		return rc;
	if ((rc = httpreq_path(hs)) != HTTPREQ_OK)
		return rc;
	if (hs->hs_path_long)
		hs->hs_req->hr_path[0] = '\0';
	if (httpreq_peek(hs) == ' ') {
		hs->hs_pos++;
		return HTTPREQ_OK;
	}
	if (!httpreq_eol_char(httpreq_peek(hs)))
		return httpreq_fail(hs, 400);
	if ((rc = httpreq_eol(hs)) != HTTPREQ_OK)
		return rc;
	return httpreq_fail(hs, 505);
}

/* One byte of the version: ok, or the status it earns. */
static int
httpreq_version_char(struct httpreq_scan *hs, bool ok, bool version_ok)
{
	if (!ok)
		return httpreq_fail(hs, 400);
	if (!version_ok)
		return httpreq_fail(hs, 505);
	hs->hs_pos++;
	return HTTPREQ_OK;
}

/*
 * "HTTP/1.0" or "HTTP/1.1". Another version (2.0, the HTTP/2 preface,
 * 0.9, 1.2) is 505 as soon as its digit is seen; anything else is 400.
 */
static int
httpreq_version(struct httpreq_scan *hs)
{
	unsigned char c;
	int rc;

	if ((rc = httpreq_expect(hs, "HTTP/", false)) != HTTPREQ_OK)
		return rc;
	if (!httpreq_more(hs))
		return HTTPREQ_NEED;
	c = httpreq_peek(hs);
	if ((rc = httpreq_version_char(hs, httpreq_digit(c), c == '1')) !=
	    HTTPREQ_OK)
		return rc;
	if ((rc = httpreq_expect(hs, ".", false)) != HTTPREQ_OK)
		return rc;
	if (!httpreq_more(hs))
		return HTTPREQ_NEED;
	c = httpreq_peek(hs);
	if ((rc = httpreq_version_char(hs, httpreq_digit(c), c <= '1')) ==
	    HTTPREQ_OK)
		hs->hs_req->hr_minor = c - '0';
	return rc;
}

static int
httpreq_request_line(struct httpreq_scan *hs)
{
	int rc;

	if ((rc = httpreq_method(hs)) != HTTPREQ_OK)
		return rc;
	if ((rc = httpreq_target(hs)) != HTTPREQ_OK)
		return rc;
	if ((rc = httpreq_version(hs)) != HTTPREQ_OK)
		return rc;
	if (hs->hs_asterisk)
		return httpreq_fail(hs, 400);
	return httpreq_eol(hs);
}

/* Connection: a list of tokens; only close and keep-alive matter here. */
static void
httpreq_connection(struct httpreq_scan *hs, const char *v, size_t n)
{
	size_t i = 0, start, end;

	while (i < n) {
		while (i < n && (httpreq_blank((unsigned char)v[i]) ||
		    v[i] == ','))
			i++;
		start = i;
		while (i < n && v[i] != ',')
			i++;
		end = i;
		while (end > start && httpreq_blank((unsigned char)v[end - 1]))
			end--;
		if (httpreq_iequal(v + start, end - start, "close"))
			hs->hs_close = true;
		else if (httpreq_iequal(v + start, end - start, "keep-alive"))
			hs->hs_keep = true;
	}
}

/* Content-Length: digits only, one value however often it is given. */
static int
httpreq_length(struct httpreq_scan *hs, const char *v, size_t n)
{
	uint64_t value = 0, d;
	size_t i;

	if (n == 0 || hs->hs_chunked)
		return httpreq_fail(hs, 400);
	for (i = 0; i < n; i++) {
		if (!httpreq_digit((unsigned char)v[i]))
			return httpreq_fail(hs, 400);
		d = (uint64_t)(v[i] - '0');
		if (value > (UINT64_MAX - d) / 10)
			return httpreq_fail(hs, 400);
		value = value * 10 + d;
	}
	if (hs->hs_has_length && hs->hs_length != value)
		return httpreq_fail(hs, 400);
	hs->hs_has_length = true;
	hs->hs_length = value;
	return HTTPREQ_OK;
}

/* A field line is whole: act on the value, blanks around it trimmed. */
static int
httpreq_field(struct httpreq_scan *hs, const char *name, size_t nlen,
    const char *v, size_t vlen)
{
	while (vlen > 0 && httpreq_blank((unsigned char)v[0])) {
		v++;
		vlen--;
	}
	while (vlen > 0 && httpreq_blank((unsigned char)v[vlen - 1]))
		vlen--;
	if (httpreq_iequal(name, nlen, "connection"))
		httpreq_connection(hs, v, vlen);
	else if (httpreq_iequal(name, nlen, "content-length"))
		return httpreq_length(hs, v, vlen);
	else if (httpreq_iequal(name, nlen, "transfer-encoding")) {
		/* Both framings at once is how requests are smuggled. */
		if (hs->hs_has_length)
			return httpreq_fail(hs, 400);
		hs->hs_chunked = true;
	}
	return HTTPREQ_OK;
}

/* A field name and its colon; a blank first is obs-fold or junk: 400. */
static int
httpreq_field_name(struct httpreq_scan *hs)
{
	size_t start = hs->hs_pos;

	while (httpreq_more(hs) && httpreq_tchar(httpreq_peek(hs)))
		hs->hs_pos++;
	if (!httpreq_more(hs))
		return HTTPREQ_NEED;
	if (httpreq_peek(hs) != ':' || hs->hs_pos == start)
		return httpreq_fail(hs, 400);
	hs->hs_pos++;
	return HTTPREQ_OK;
}

/* One line after the request line: a field, or the empty line (END). */
static int
httpreq_header(struct httpreq_scan *hs)
{
	const char *name = hs->hs_buf + hs->hs_pos, *value;
	size_t nlen, vlen;
	int rc;

	if (!httpreq_more(hs))
		return HTTPREQ_NEED;
	if (httpreq_eol_char(httpreq_peek(hs)))
		return (rc = httpreq_eol(hs)) == HTTPREQ_OK ? HTTPREQ_END : rc;
	if ((rc = httpreq_field_name(hs)) != HTTPREQ_OK)
		return rc;
	nlen = (size_t)(hs->hs_buf + hs->hs_pos - 1 - name);
	value = hs->hs_buf + hs->hs_pos;
	while (httpreq_more(hs) && httpreq_field_char(httpreq_peek(hs)))
		hs->hs_pos++;
	if (!httpreq_more(hs))
		return HTTPREQ_NEED;
	vlen = (size_t)(hs->hs_buf + hs->hs_pos - value);
	if ((rc = httpreq_eol(hs)) != HTTPREQ_OK)
		return rc;
	return httpreq_field(hs, name, nlen, value, vlen);
}

/* The head is whole: what the fields said about the connection. */
static void
httpreq_finish(struct httpreq_scan *hs)
{
	struct httpreq *r = hs->hs_req;

	r->hr_head_len = hs->hs_pos;
	if (r->hr_minor == 1)
		r->hr_keep_alive = !hs->hs_close;
	else
		r->hr_keep_alive = hs->hs_keep && !hs->hs_close;
	r->hr_has_body = hs->hs_chunked ||
	    (hs->hs_has_length && hs->hs_length > 0);
}

static int
httpreq_scan(struct httpreq_scan *hs)
{
	int rc;

	if ((rc = httpreq_skip_empty(hs)) != HTTPREQ_OK)
		return rc;
	if ((rc = httpreq_request_line(hs)) != HTTPREQ_OK)
		return rc;
	while ((rc = httpreq_header(hs)) == HTTPREQ_OK)
		;
	if (rc != HTTPREQ_END)
		return rc;
	httpreq_finish(hs);
	return HTTPREQ_DONE;
}

int
httpreq_parse(const char *buf, size_t len, struct httpreq *r)
{
	struct httpreq_scan hs;
	int rc;

	memset(r, 0, sizeof *r);
	memset(&hs, 0, sizeof hs);
	hs.hs_buf = buf;
	hs.hs_end = len < HTTPREQ_MAX_HEAD ? len : HTTPREQ_MAX_HEAD;
	hs.hs_req = r;
	rc = httpreq_scan(&hs);
	/* Still no end of the head in as much of it as we ever read. */
	if (rc == HTTPREQ_NEED && len >= HTTPREQ_MAX_HEAD) {
		r->hr_status = 431;
		return HTTPREQ_ERROR;
	}
	return rc;
}
