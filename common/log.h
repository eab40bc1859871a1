/* Structured logs on stderr, logfmt or JSON, direct or through a thread. */
#ifndef MPSERVER_LOG_H
#define MPSERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

#define LOG_DATA_MAX 80		/* client bytes shown in a line */
/*
 * Room for a 200-byte data field (exec's stderr, SPEC 10) at six bytes a
 * byte (\u0001 or \ufffd in JSON), with the line's other fields.
 */
#define LOG_LINE_MAX 2048
#define LOG_QUEUE_DEFAULT (1024 * 1024)	/* log_async_start(0) */

/*
 * A line being built; log_end writes it whole. A line that reaches
 * LOG_LINE_MAX is cut between two characters or escapes, and keeps its
 * closing quote and brace; the fields after the cut are left out.
 */
struct logline {
	char	ll_buf[LOG_LINE_MAX];
	size_t	ll_len;
	bool	ll_full;	/* a field did not fit: add nothing more */
	bool	ll_quoted;	/* room is kept to close a quoted value */
};

/*
 * Level, format and descriptor. Call before any thread logs; lines are then
 * written synchronously, one write(2) each, until log_async_start.
 */
void	log_init(int level, int format, int fd);
bool	log_enabled(int level);

/*
 * From now on lines go through a writer thread and a queue of at most
 * max_bytes (0: a default of 1 MiB); a line that does not fit is dropped and
 * counted. 0, or -1 with errno (EBUSY if already started).
 */
int	log_async_start(size_t max_bytes);
/*
 * Write what is queued within timeout_ms (a stalled reader loses the rest,
 * counted), stop and join the writer thread, and go back to synchronous
 * writes. Safe to call when not started.
 */
void	log_async_stop(int timeout_ms);
/*
 * Lines dropped so far because the queue was full or the writer was stalled
 * (for mpserver_log_lines_dropped_total).
 */
unsigned long long log_dropped(void);

/* Call log_begin only when log_enabled(level). */
void	log_begin(struct logline *l, int level, const char *event);
void	log_str(struct logline *l, const char *key, const char *value);
void	log_uint(struct logline *l, const char *key,
	    unsigned long long value);
void	log_int(struct logline *l, const char *key, long long value);
/*
 * Client bytes: escaped, a trailing newline dropped, cut to max bytes (in
 * JSON on a character boundary). Text escapes bytes >= 0x80 as \xHH; JSON
 * keeps valid UTF-8 and writes each byte of an invalid sequence as \ufffd.
 */
void	log_data_max(struct logline *l, const char *key, const void *data,
	    size_t len, size_t max);
/* log_data_max with LOG_DATA_MAX. */
void	log_data(struct logline *l, const char *key, const void *data,
	    size_t len);
/* Writes the line; in async mode queues it (or drops it) and never blocks. */
void	log_end(struct logline *l);

/* An event with a free-text msg= field. */
void	log_msg(int level, const char *event, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* ISO 8601 UTC with milliseconds: 2026-11-22T14:03:01.123Z */
void	log_timestamp(char *buf, size_t size);

#endif
