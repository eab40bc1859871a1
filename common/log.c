/* Structured logs on stderr, logfmt or JSON, direct or through a thread. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Room kept at the end of every line for the closing "}\n". */
#define LOG_RESERVE 2

_Static_assert(LOG_LINE_MAX >= 6 * 200 + 512,
    "a 200-byte data field escaped six bytes a byte must fit in a line");

/* Set once before any thread starts, read-only afterwards. */
static int log_level = LOG_INFO;
static int log_format = LOG_FORMAT_TEXT;
static int log_fd = 2;

static const char *const log_level_names[] = { "error", "warn", "info",
    "debug" };

/*
 * Async mode: a ring of whole lines, filled by log_end and emptied by the
 * writer thread. The writer writes from the ring without the lock: producers
 * only touch the free part, and the writer moves lq_head only once written.
 */
struct log_queue {
	pthread_mutex_t	 lq_lock;	/* guards every field below */
	pthread_cond_t	 lq_wake;	/* a line came, or stop */
	pthread_cond_t	 lq_done;	/* the writer is done */
	pthread_t	 lq_thread;
	char		*lq_ring;
	size_t		 lq_size;
	size_t		 lq_head;	/* first byte not yet written */
	size_t		 lq_len;	/* bytes queued */
	int		 lq_fd;	/* fixed while the writer runs */
	bool		 lq_running;	/* lines go to the queue */
	bool		 lq_stopping;
	bool		 lq_exited;
	unsigned long long lq_dropped;	/* every line dropped */
	unsigned long long lq_unreported; /* dropped since the last notice */
};

static struct log_queue log_queue = { .lq_lock = PTHREAD_MUTEX_INITIALIZER };

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

/* Whether n more bytes fit, with room to close the value and the line. */
static bool
log_room(const struct logline *l, size_t n)
{
	size_t used = l->ll_len + n + (l->ll_quoted ? 1 : 0);

	return !l->ll_full && used <= sizeof l->ll_buf - LOG_RESERVE;
}

/* Appends n bytes whole, or none and nothing more to this line. */
static void
log_put(struct logline *l, const void *s, size_t n)
{
	if (!log_room(l, n)) {
		l->ll_full = true;
		return;
	}
	memcpy(l->ll_buf + l->ll_len, s, n);
	l->ll_len += n;
}

static void
log_puts(struct logline *l, const char *s)
{
	log_put(l, s, strlen(s));
}

/* Starts a field if it fits with value bytes of its value. */
static bool
log_key(struct logline *l, const char *key, size_t value)
{
	bool json = log_format == LOG_FORMAT_JSON;
	size_t klen = strlen(key);

	if (!log_room(l, klen + (json ? 4 : 2) + value)) {
		l->ll_full = true;
		return false;
	}
	log_puts(l, json ? ",\"" : " ");
	log_put(l, key, klen);
	log_puts(l, json ? "\":" : "=");
	return true;
}

/* A quoted value's key and opening quote; room stays for the closing one. */
static bool
log_open(struct logline *l, const char *key)
{
	if (!log_key(l, key, 2))
		return false;
	log_puts(l, "\"");
	l->ll_quoted = true;
	return true;
}

static void
log_shut(struct logline *l)
{
	l->ll_quoted = false;
	l->ll_buf[l->ll_len++] = '"';
}

/*
 * Length of the valid UTF-8 sequence at p, or 0. The second byte's range
 * shuts out overlong forms, surrogates (ED A0-BF) and values past U+10FFFF.
 */
static size_t
log_utf8_len(const unsigned char *p, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (len < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

/* Bytes of the character at p: a valid UTF-8 sequence in JSON, else one. */
static size_t
log_char_len(const unsigned char *p, size_t len)
{
	size_t n;

	if (log_format != LOG_FORMAT_JSON || p[0] < 0x80)
		return 1;
	n = log_utf8_len(p, len);
	return n == 0 ? 1 : n;
}

/* The two-character escape of c in both formats, or NULL. */
static const char *
log_escape_short(unsigned char c)
{
	switch (c) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	}
	return NULL;
}

/*
 * One character of n bytes inside a quoted value, in the escapes of the
 * active format. JSON writes each byte of an invalid UTF-8 sequence as the
 * escape \ufffd, never as its three raw bytes, so that a replaced byte can
 * be told from a U+FFFD the client really sent.
 */
static void
log_escape(struct logline *l, const unsigned char *p, size_t n)
{
	bool json = log_format == LOG_FORMAT_JSON;
	const char *esc;
	char hex[8];

	if (n > 1) {
		log_put(l, p, n);	/* valid UTF-8, JSON only */
		return;
	}
	if ((esc = log_escape_short(*p)) != NULL) {
		log_puts(l, esc);
		return;
	}
	if (*p >= 0x20 && *p < 0x7f) {
		log_put(l, p, 1);
		return;
	}
	if (json && *p >= 0x80) {
		log_puts(l, "\\ufffd");
		return;
	}
	snprintf(hex, sizeof hex, json ? "\\u%04x" : "\\x%02x", *p);
	log_puts(l, hex);
}

/* Escaped characters of p, leaving out any that would end past max bytes. */
static void
log_chars(struct logline *l, const unsigned char *p, size_t len, size_t max)
{
	size_t i = 0, n;

	while (i < len && !l->ll_full) {
		n = log_char_len(p + i, len - i);
		if (i + n > max)
			break;
		log_escape(l, p + i, n);
		i += n;
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

void
log_begin(struct logline *l, int level, const char *event)
{
	char ts[40];

	l->ll_len = 0;
	l->ll_full = false;
	l->ll_quoted = false;
	log_timestamp(ts, sizeof ts);
	if (log_format == LOG_FORMAT_JSON) {
		log_puts(l, "{\"ts\":\"");
		log_puts(l, ts);
		log_puts(l, "\"");
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
	const unsigned char *p = (const unsigned char *)value;
	size_t len = strlen(value);

	/* A bare value has no character that needs an escape. */
	if (log_bare(value, len)) {
		if (log_key(l, key, 1))
			log_chars(l, p, len, SIZE_MAX);
		return;
	}
	if (!log_open(l, key))
		return;
	log_chars(l, p, len, SIZE_MAX);
	log_shut(l);
}

static void
log_number(struct logline *l, const char *key, const char *num)
{
	if (log_key(l, key, strlen(num)))
		log_puts(l, num);
}

void
log_uint(struct logline *l, const char *key, unsigned long long value)
{
	char num[24];

	snprintf(num, sizeof num, "%llu", value);
	log_number(l, key, num);
}

void
log_int(struct logline *l, const char *key, long long value)
{
	char num[24];

	snprintf(num, sizeof num, "%lld", value);
	log_number(l, key, num);
}

void
log_data_max(struct logline *l, const char *key, const void *data,
    size_t len, size_t max)
{
	const unsigned char *p = data;

	if (len > 0 && p[len - 1] == '\n')
		len--;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (!log_open(l, key))
		return;
	log_chars(l, p, len, max);
	log_shut(l);
}

void
log_data(struct logline *l, const char *key, const void *data, size_t len)
{
	log_data_max(l, key, data, len, LOG_DATA_MAX);
}

/* Ends the line in the room kept for it. */
static void
log_finish(struct logline *l)
{
	if (log_format == LOG_FORMAT_JSON)
		l->ll_buf[l->ll_len++] = '}';
	l->ll_buf[l->ll_len++] = '\n';
}

/* Synchronous mode: one write per line keeps threads' lines whole. */
static void
log_write(int fd, const char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
}

/* Lines in the queue: each ends in the only newline it holds. Locked. */
static unsigned long long
log_queue_lines(const struct log_queue *lq)
{
	unsigned long long lines = 0;
	size_t i;

	for (i = 0; i < lq->lq_len; i++) {
		if (lq->lq_ring[(lq->lq_head + i) % lq->lq_size] == '\n')
			lines++;
	}
	return lines;
}

/* Copies a line in, or counts it dropped; never waits for room. Locked. */
static void
log_queue_put(struct log_queue *lq, const char *buf, size_t len)
{
	size_t tail, first;

	pthread_cond_signal(&lq->lq_wake);
	if (len > lq->lq_size - lq->lq_len) {
		lq->lq_dropped++;
		lq->lq_unreported++;
		return;
	}
	tail = (lq->lq_head + lq->lq_len) % lq->lq_size;
	first = lq->lq_size - tail;
	if (first > len)
		first = len;
	memcpy(lq->lq_ring + tail, buf, first);
	memcpy(lq->lq_ring, buf + first, len - first);
	lq->lq_len += len;
}

/* Drops what is queued, counted. Locked. */
static void
log_queue_discard(struct log_queue *lq)
{
	unsigned long long lines = log_queue_lines(lq);

	lq->lq_dropped += lines;
	lq->lq_unreported += lines;
	lq->lq_head = lq->lq_len = 0;
}

/*
 * One write from the writer thread, the only place it may be cancelled: it
 * holds no lock there. A non-blocking descriptor is waited for with poll.
 */
static ssize_t
log_writer_write(int fd, const char *buf, size_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	for (;;) {
		n = write(fd, buf, len);
		if (n != -1 || (errno != EINTR && errno != EAGAIN))
			break;
		if (errno == EAGAIN)
			poll(&pfd, 1, -1);
	}
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	return n;
}

/* The writer's own line after drops, at warn level like any other. */
static void
log_writer_notice(int fd, unsigned long long lines)
{
	struct logline l;
	size_t off = 0;
	ssize_t n;

	if (!log_enabled(LOG_WARN))
		return;
	log_begin(&l, LOG_WARN, "log_dropped");
	log_uint(&l, "lines", lines);
	log_finish(&l);
	while (off < l.ll_len) {
		n = log_writer_write(fd, l.ll_buf + off, l.ll_len - off);
		if (n <= 0)
			return;	/* counted already; the notice is lost */
		off += (size_t)n;
	}
}

/* Reports the lines dropped since the last notice. Locked. */
static void
log_writer_report(struct log_queue *lq)
{
	unsigned long long lines = lq->lq_unreported;
	int fd = lq->lq_fd;

	lq->lq_unreported = 0;
	pthread_mutex_unlock(&lq->lq_lock);
	log_writer_notice(fd, lines);
	pthread_mutex_lock(&lq->lq_lock);
}

/*
 * Writes queued bytes, up to the end of the ring; returns whether the last
 * byte written ended a line. A descriptor that fails loses what is queued.
 * Locked.
 */
static bool
log_writer_flush(struct log_queue *lq)
{
	const char *p = lq->lq_ring + lq->lq_head;
	size_t len = lq->lq_len;
	int fd = lq->lq_fd;
	bool boundary;
	ssize_t n;

	if (len > lq->lq_size - lq->lq_head)
		len = lq->lq_size - lq->lq_head;
	pthread_mutex_unlock(&lq->lq_lock);
	n = log_writer_write(fd, p, len);
	pthread_mutex_lock(&lq->lq_lock);
	if (n <= 0) {
		log_queue_discard(lq);
		return true;
	}
	boundary = p[n - 1] == '\n';
	lq->lq_head = (lq->lq_head + (size_t)n) % lq->lq_size;
	lq->lq_len -= (size_t)n;
	return boundary;
}

/*
 * The writer thread owns the descriptor, so lines never mix. After drops its
 * own notice goes first, but never into the middle of a half-written line.
 * Cancellation is off but for write(2) and poll(2) (log_async_stop).
 */
static void *
log_writer_main(void *arg)
{
	struct log_queue *lq = arg;
	bool boundary = true;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_setname_np(pthread_self(), "mp-log");
	pthread_mutex_lock(&lq->lq_lock);
	for (;;) {
		if (boundary && lq->lq_unreported > 0)
			log_writer_report(lq);
		else if (lq->lq_len > 0)
			boundary = log_writer_flush(lq);
		else if (lq->lq_stopping)
			break;
		else
			pthread_cond_wait(&lq->lq_wake, &lq->lq_lock);
	}
	lq->lq_exited = true;
	pthread_cond_signal(&lq->lq_done);
	pthread_mutex_unlock(&lq->lq_lock);
	return NULL;
}

/* The ring and the conditions; lq_done waits on the monotonic clock. */
static int
log_queue_init(struct log_queue *lq, size_t size)
{
	pthread_condattr_t ca;

	if ((lq->lq_ring = malloc(size)) == NULL)
		return ENOMEM;
	lq->lq_size = size;
	lq->lq_head = lq->lq_len = 0;
	lq->lq_fd = log_fd;
	lq->lq_stopping = lq->lq_exited = false;
	pthread_cond_init(&lq->lq_wake, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lq->lq_done, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

static void
log_queue_free(struct log_queue *lq)
{
	pthread_cond_destroy(&lq->lq_wake);
	pthread_cond_destroy(&lq->lq_done);
	free(lq->lq_ring);
	lq->lq_ring = NULL;
	lq->lq_size = lq->lq_head = lq->lq_len = 0;
}

/* Starts the writer with every signal blocked: they are the main loop's. */
static int
log_writer_start(struct log_queue *lq)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&lq->lq_thread, NULL, log_writer_main, lq);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int
log_async_start(size_t max_bytes)
{
	struct log_queue *lq = &log_queue;
	int rc;

	pthread_mutex_lock(&lq->lq_lock);
	if (lq->lq_running)
		rc = EBUSY;
	else
		rc = log_queue_init(lq, max_bytes == 0 ? LOG_QUEUE_DEFAULT :
		    max_bytes);
	if (rc == 0 && (rc = log_writer_start(lq)) != 0)
		log_queue_free(lq);
	if (rc == 0)
		lq->lq_running = true;
	pthread_mutex_unlock(&lq->lq_lock);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return 0;
}

static void
log_deadline(struct timespec *ts, int ms)
{
	if (ms < 0)
		ms = 0;
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Lets the writer drain the queue until the deadline; whether it did. */
static bool
log_writer_drain(struct log_queue *lq, int timeout_ms)
{
	struct timespec deadline;

	log_deadline(&deadline, timeout_ms);
	lq->lq_stopping = true;
	pthread_cond_signal(&lq->lq_wake);
	while (!lq->lq_exited) {
		if (pthread_cond_timedwait(&lq->lq_done, &lq->lq_lock,
		    &deadline) == ETIMEDOUT)
			break;
	}
	return lq->lq_exited;
}

/*
 * Stop in order: let the writer drain the queue; if it is still blocked in
 * write(2) at the deadline, cancel it there; join it; count what is left as
 * dropped and free the queue. Lines logged meanwhile are queued, then
 * counted; after this they are written synchronously again.
 */
void
log_async_stop(int timeout_ms)
{
	struct log_queue *lq = &log_queue;
	bool exited;

	pthread_mutex_lock(&lq->lq_lock);
	if (!lq->lq_running || lq->lq_stopping) {
		pthread_mutex_unlock(&lq->lq_lock);
		return;
	}
	exited = log_writer_drain(lq, timeout_ms);
	pthread_mutex_unlock(&lq->lq_lock);
	if (!exited)
		pthread_cancel(lq->lq_thread);
	pthread_join(lq->lq_thread, NULL);

	pthread_mutex_lock(&lq->lq_lock);
	lq->lq_dropped += log_queue_lines(lq);
	lq->lq_unreported = 0;
	log_queue_free(lq);
	lq->lq_running = lq->lq_stopping = false;
	pthread_mutex_unlock(&lq->lq_lock);
}

unsigned long long
log_dropped(void)
{
	unsigned long long n;

	pthread_mutex_lock(&log_queue.lq_lock);
	n = log_queue.lq_dropped;
	pthread_mutex_unlock(&log_queue.lq_lock);
	return n;
}

void
log_end(struct logline *l)
{
	struct log_queue *lq = &log_queue;
	int saved = errno;
	bool queued;

	log_finish(l);
	pthread_mutex_lock(&lq->lq_lock);
	if ((queued = lq->lq_running))
		log_queue_put(lq, l->ll_buf, l->ll_len);
	pthread_mutex_unlock(&lq->lq_lock);
	if (!queued)
		log_write(log_fd, l->ll_buf, l->ll_len);
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
