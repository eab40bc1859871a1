/* Reading lines with a length limit: "\n" or "\r\n", never more than max bytes. */
#include <stdlib.h>
#include <string.h>

#include "linebuf.h"

int
linebuf_init(struct linebuf *lb, size_t max)
{
	memset(lb, 0, sizeof *lb);
	lb->lb_max = max;
	lb->lb_size = max + 2;
	if ((lb->lb_buf = malloc(lb->lb_size)) == NULL)
		return -1;
	return 0;
}

void
linebuf_free(struct linebuf *lb)
{
	free(lb->lb_buf);
	memset(lb, 0, sizeof *lb);
}

char *
linebuf_space(struct linebuf *lb, size_t *avail)
{
	if (lb->lb_skip > 0) {
		memmove(lb->lb_buf, lb->lb_buf + lb->lb_skip,
		    lb->lb_len - lb->lb_skip);
		lb->lb_len -= lb->lb_skip;
		lb->lb_skip = 0;
	}
	*avail = lb->lb_size - lb->lb_len;
	return lb->lb_buf + lb->lb_len;
}

void
linebuf_commit(struct linebuf *lb, size_t n)
{
	lb->lb_len += n;
}

size_t
linebuf_pending(const struct linebuf *lb)
{
	return lb->lb_len - lb->lb_skip;
}

int
linebuf_next(struct linebuf *lb, const char **line, size_t *len)
{
	char *start = lb->lb_buf + lb->lb_skip, *nl;
	size_t pending = linebuf_pending(lb), n;

	if ((nl = memchr(start, '\n', pending)) != NULL) {
		n = (size_t)(nl - start);
		lb->lb_skip += n + 1;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > lb->lb_max)
			return LINEBUF_TOO_LONG;
		*line = start;
		*len = n;
		return LINEBUF_LINE;
	}
	/* Over the limit already, unless the one byte past it is the '\r'. */
	if (pending > lb->lb_max + 1 || (pending == lb->lb_max + 1 &&
	    start[pending - 1] != '\r'))
		return LINEBUF_TOO_LONG;
	return LINEBUF_NEED;
}
