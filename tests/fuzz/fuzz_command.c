/*
 * Fuzz the cmd protocol's input path. The first byte is not sent: it picks
 * the read size (1-128 bytes). The rest goes through a linebuf of
 * FUZZ_MAX_LINE as a client's reads would, and every line it hands out goes
 * to command_parse(). The linebuf is checked against its contract, kept on
 * the plain byte stream: a line is the bytes before "\n" less one "\r"; a
 * line over the limit is TOO_LONG as soon as that is certain (SPEC 7), after
 * which the server would close, and so does the stream here. Each command
 * is checked against the parser's promises; then the whole input, NULs and
 * newlines included, is parsed once more as a single line.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "command_parse.h"
#include "linebuf.h"

#include "fuzz.h"

#define FUZZ_MAX_LINE 64

/* The client's byte stream and how far the linebuf has got through it. */
struct fuzz_stream {
	const char	*fs_data;
	size_t		 fs_size;
	size_t		 fs_fed;	/* bytes committed to the linebuf */
	size_t		 fs_next;	/* where the next line starts */
};

static bool
fuzz_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool
fuzz_all_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!fuzz_blank(s[i]))
			return false;
	}
	return true;
}

static bool
fuzz_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* A known verb's name is the line's first word, in any case. */
static void
fuzz_check_name(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);

	while (len > 0 && fuzz_blank(*line)) {
		line++;
		len--;
	}
	FUZZ_CHECK(len >= n && strncasecmp(line, name, n) == 0);
	FUZZ_CHECK(len == n || fuzz_blank(line[n]));
}

static void
fuzz_check_command(const char *line, size_t len, const struct command *c)
{
	int verb = (int)c->c_verb;
	bool known = verb != CMD_EMPTY && verb != CMD_UNKNOWN;

	FUZZ_CHECK(verb >= CMD_EMPTY && verb <= CMD_BAD);
	FUZZ_CHECK((verb == CMD_BAD) == (c->c_error != NULL));
	FUZZ_CHECK((verb == CMD_EMPTY) == fuzz_all_blank(line, len));
	FUZZ_CHECK(known == (c->c_name != NULL));
	if (c->c_name != NULL)
		fuzz_check_name(line, len, c->c_name);
	if (verb == CMD_SLEEP)
		FUZZ_CHECK(c->c_ms >= 0 && c->c_ms <= COMMAND_SLEEP_MAX);
	else
		FUZZ_CHECK(c->c_ms == 0);
	if (c->c_arg == NULL) {
		FUZZ_CHECK(c->c_arglen == 0);
		return;
	}
	/* Only ECHO keeps an argument, and it lies inside the line. */
	FUZZ_CHECK(c->c_name != NULL && strcmp(c->c_name, "ECHO") == 0);
	FUZZ_CHECK(c->c_arg >= line && c->c_arg <= line + len);
	FUZZ_CHECK(c->c_arglen <= (size_t)(line + len - c->c_arg));
	FUZZ_CHECK((verb == CMD_ECHO) == fuzz_printable(c->c_arg,
	    c->c_arglen));
}

static void
fuzz_command(const char *line, size_t len)
{
	struct command c;

	command_parse(line, len, &c);
	fuzz_check_command(line, len, &c);
}

/*
 * What linebuf_next() must say of the bytes fed so far: a line (its length
 * and the bytes it uses up, "\n" included), TOO_LONG, or NEED. Without a
 * newline a line is known too long once it holds FUZZ_MAX_LINE + 2 bytes,
 * or FUZZ_MAX_LINE + 1 not ending in the "\r" a "\r\n" would strip.
 */
static int
fuzz_expect(const struct fuzz_stream *fs, size_t *len, size_t *used)
{
	const char *start = fs->fs_data + fs->fs_next, *nl;
	size_t pending = fs->fs_fed - fs->fs_next;

	if ((nl = memchr(start, '\n', pending)) != NULL) {
		*len = (size_t)(nl - start);
		*used = *len + 1;
		if (*len > 0 && start[*len - 1] == '\r')
			(*len)--;
		return *len > FUZZ_MAX_LINE ? LINEBUF_TOO_LONG : LINEBUF_LINE;
	}
	if (pending > FUZZ_MAX_LINE + 1 || (pending == FUZZ_MAX_LINE + 1 &&
	    start[pending - 1] != '\r'))
		return LINEBUF_TOO_LONG;
	return LINEBUF_NEED;
}

/* One read: as much of the stream as the chunk size and the space allow. */
static void
fuzz_feed(struct linebuf *lb, struct fuzz_stream *fs, size_t chunk)
{
	size_t avail, n;
	char *space;

	space = linebuf_space(lb, &avail);
	FUZZ_CHECK(avail > 0);
	n = fs->fs_size - fs->fs_fed;
	if (n > chunk)
		n = chunk;
	if (n > avail)
		n = avail;
	memcpy(space, fs->fs_data + fs->fs_fed, n);
	linebuf_commit(lb, n);
	fs->fs_fed += n;
}

/* Take and parse every line fed so far; returns NEED or TOO_LONG. */
static int
fuzz_drain(struct linebuf *lb, struct fuzz_stream *fs)
{
	const char *line;
	size_t len, want = 0, used = 0;
	int rc, expect;

	for (;;) {
		expect = fuzz_expect(fs, &want, &used);
		rc = linebuf_next(lb, &line, &len);
		FUZZ_CHECK(rc == expect);
		if (rc != LINEBUF_LINE)
			return rc;
		FUZZ_CHECK(len == want);
		FUZZ_CHECK(memcmp(line, fs->fs_data + fs->fs_next, len) == 0);
		fs->fs_next += used;
		FUZZ_CHECK(linebuf_pending(lb) == fs->fs_fed - fs->fs_next);
		fuzz_command(line, len);
	}
}

static void
fuzz_stream(const char *data, size_t size, size_t chunk)
{
	struct fuzz_stream fs = { data, size, 0, 0 };
	struct linebuf lb;

	if (linebuf_init(&lb, FUZZ_MAX_LINE) == -1)
		abort();
	while (fs.fs_fed < fs.fs_size) {
		fuzz_feed(&lb, &fs, chunk);
		if (fuzz_drain(&lb, &fs) == LINEBUF_TOO_LONG)
			break;
	}
	linebuf_free(&lb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fuzz_stream((const char *)data + 1, size - 1, (data[0] & 0x7f) + 1u);
	fuzz_command((const char *)data, size);
	return 0;
}
