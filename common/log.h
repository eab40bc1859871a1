/* Structured logs on stderr: logfmt or JSON, one write(2) per line. */
#ifndef MPSERVER_LOG_H
#define MPSERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

#define LOG_DATA_MAX 80		/* client bytes shown in a line */
#define LOG_LINE_MAX 2048

/* A line being built; log_end writes it whole. */
struct logline {
	char	ll_buf[LOG_LINE_MAX];
	size_t	ll_len;
};

void	log_init(int level, int format, int fd);
bool	log_enabled(int level);

/* Call log_begin only when log_enabled(level). */
void	log_begin(struct logline *l, int level, const char *event);
void	log_str(struct logline *l, const char *key, const char *value);
void	log_uint(struct logline *l, const char *key, unsigned long long value);
/* Client bytes: escaped, a trailing newline dropped, cut to LOG_DATA_MAX. */
void	log_data(struct logline *l, const char *key, const void *data,
	    size_t len);
void	log_end(struct logline *l);

/* An event with a free-text msg= field. */
void	log_msg(int level, const char *event, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* ISO 8601 UTC with milliseconds: 2026-11-22T14:03:01.123Z */
void	log_timestamp(char *buf, size_t size);

#endif
