/* Structured logs on stderr: logfmt or JSON, one write(2) per line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Set once before any thread starts, read-only afterwards. */
static int log_level = LOG_INFO;
static int log_format = LOG_FORMAT_TEXT;
static int log_fd = 2;

static const char *const log_level_names[] = { "error", "warn", "info",
    "debug" };

void
log_init(int level, int format, int fd)
{
	log_level = level;
	log_format = format;
	log_fd = fd;
}

bool
log_enabled(int level)
{
	return level <= log_level;
}

void
log_timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

static void
log_putc(struct logline *l, char c)
{
	/* Keep room for the closing brace and newline. */
	if (l->ll_len < sizeof l->ll_buf - 2)
		l->ll_buf[l->ll_len++] = c;
}

static void
log_puts(struct logline *l, const char *s)
{
	while (*s != '\0')
		log_putc(l, *s++);
}

/* One byte inside a quoted value, in the escapes of the active format. */
static void
log_escape(struct logline *l, unsigned char c)
{
	char hex[8];

	switch (c) {
	case '"':
		log_puts(l, "\\\"");
		return;
	case '\\':
		log_puts(l, "\\\\");
		return;
	case '\n':
		log_puts(l, "\\n");
		return;
	case '\r':
		log_puts(l, "\\r");
		return;
	case '\t':
		log_puts(l, "\\t");
		return;
	}
	if (c >= 0x20 && c < 0x7f) {
		log_putc(l, (char)c);
		return;
	}
	snprintf(hex, sizeof hex, log_format == LOG_FORMAT_JSON ? "\\u%04x" :
	    "\\x%02x", c);
	log_puts(l, hex);
}

static void
log_key(struct logline *l, const char *key)
{
	if (log_format == LOG_FORMAT_JSON) {
		log_puts(l, ",\"");
		log_puts(l, key);
		log_puts(l, "\":");
	} else {
		log_putc(l, ' ');
		log_puts(l, key);
		log_putc(l, '=');
	}
}

/* logfmt leaves simple values bare; anything else is quoted. */
static bool
log_bare(const char *s, size_t len)
{
	size_t i;

	if (log_format == LOG_FORMAT_JSON || len == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\')
			return false;
	}
	return true;
}

static void
log_value(struct logline *l, const char *s, size_t len)
{
	size_t i;

	if (log_bare(s, len)) {
		for (i = 0; i < len; i++)
			log_putc(l, s[i]);
		return;
	}
	log_putc(l, '"');
	for (i = 0; i < len; i++)
		log_escape(l, (unsigned char)s[i]);
	log_putc(l, '"');
}

void
log_begin(struct logline *l, int level, const char *event)
{
	char ts[40];

	l->ll_len = 0;
	log_timestamp(ts, sizeof ts);
	if (log_format == LOG_FORMAT_JSON) {
		log_puts(l, "{\"ts\":\"");
		log_puts(l, ts);
		log_putc(l, '"');
	} else {
		log_puts(l, "ts=");
		log_puts(l, ts);
	}
	log_str(l, "level", log_level_names[level]);
	log_str(l, "event", event);
}

void
log_str(struct logline *l, const char *key, const char *value)
{
	log_key(l, key);
	log_value(l, value, strlen(value));
}

void
log_uint(struct logline *l, const char *key, unsigned long long value)
{
	char num[24];

	log_key(l, key);
	snprintf(num, sizeof num, "%llu", value);
	log_puts(l, num);
}

void
log_data(struct logline *l, const char *key, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len > LOG_DATA_MAX)
		len = LOG_DATA_MAX;
	log_key(l, key);
	log_putc(l, '"');
	for (i = 0; i < len; i++)
		log_escape(l, p[i]);
	log_putc(l, '"');
}

void
log_end(struct logline *l)
{
	ssize_t n;
	size_t off = 0;
	int saved = errno;

	if (log_format == LOG_FORMAT_JSON)
		l->ll_buf[l->ll_len++] = '}';
	l->ll_buf[l->ll_len++] = '\n';
	/* One write per line keeps threads' lines whole (stderr is unbuffered). */
	while (off < l->ll_len) {
		n = write(log_fd, l->ll_buf + off, l->ll_len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	errno = saved;
}

void
log_msg(int level, const char *event, const char *fmt, ...)
{
	struct logline l;
	char msg[512];
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_begin(&l, level, event);
	log_str(&l, "msg", msg);
	log_end(&l);
}
