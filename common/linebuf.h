/* Reading lines with a length limit: "\n" or "\r\n", never more than max bytes. */
#ifndef MPSERVER_LINEBUF_H
#define MPSERVER_LINEBUF_H

#include <stddef.h>

enum linebuf_result {
	LINEBUF_NEED,		/* no complete line yet: read more */
	LINEBUF_LINE,		/* a line, without its terminator */
	LINEBUF_TOO_LONG,	/* over the limit, with or without a newline */
};

struct linebuf {
	char	*lb_buf;
	size_t	 lb_size;	/* lb_max + 2: room for the "\r\n" */
	size_t	 lb_len;	/* bytes held */
	size_t	 lb_skip;	/* bytes at the front already handed out */
	size_t	 lb_max;	/* longest line, terminator not counted */
};

int	linebuf_init(struct linebuf *lb, size_t max);
void	linebuf_free(struct linebuf *lb);
/* Where to read into next, and how much fits (never 0 while NEED). */
char	*linebuf_space(struct linebuf *lb, size_t *avail);
void	linebuf_commit(struct linebuf *lb, size_t n);
/* The next line; *line stays valid until linebuf_space. */
int	linebuf_next(struct linebuf *lb, const char **line, size_t *len);
/* Bytes held that are not yet part of a returned line. */
size_t	linebuf_pending(const struct linebuf *lb);

#endif
