/* inetd's internal services: echo, discard, chargen, daytime, time (RFCs 862-868). */
#include <sys/socket.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "server.h"
#include "service.h"

#define INETD_BUF	16384	/* for clients that send in bulk */
#define CHARGEN_RING	95	/* printable ASCII from space to tilde */
#define CHARGEN_WIDTH	72
#define CHARGEN_LINE	(CHARGEN_WIDTH + 2)
#define CHARGEN_SNDBUF	(64 * 1024)
#define EPOCH_1900	2208988800LL	/* 1900-01-01 to 1970-01-01 in seconds */

/*
 * Reads start in a small buffer on the stack, so an idle client's thread
 * keeps few pages; a client that fills it gets a larger one on the heap.
 */
struct inetd_buf {
	char	 ib_small[512];
	char	*ib_data;
	size_t	 ib_size;
	char	*ib_big;
};

static void
inetd_buf_init(struct inetd_buf *b)
{
	b->ib_data = b->ib_small;
	b->ib_size = sizeof b->ib_small;
	b->ib_big = NULL;
}

static void
inetd_buf_grow(struct inetd_buf *b, ssize_t filled)
{
	if (b->ib_big == NULL && (size_t)filled == b->ib_size &&
	    (b->ib_big = malloc(INETD_BUF)) != NULL) {
		b->ib_data = b->ib_big;
		b->ib_size = INETD_BUF;
	}
}

/* RFC 862: every byte back, until the client closes. */
void
service_echo(struct client *cl)
{
	struct inetd_buf b;
	ssize_t n;

	inetd_buf_init(&b);
	while ((n = client_read(cl, b.ib_data, b.ib_size)) > 0) {
		if (client_write(cl, b.ib_data, (size_t)n) == -1)
			break;
		inetd_buf_grow(&b, n);
	}
	free(b.ib_big);
}

/* RFC 863: read and drop. */
void
service_discard(struct client *cl)
{
	struct inetd_buf b;
	ssize_t n;

	inetd_buf_init(&b);
	while ((n = client_read(cl, b.ib_data, b.ib_size)) > 0)
		inetd_buf_grow(&b, n);
	free(b.ib_big);
}

void
service_chargen_line(unsigned long i, char line[CHARGEN_LINE])
{
	int k;

	for (k = 0; k < CHARGEN_WIDTH; k++)
		line[k] = (char)(' ' + (i + (unsigned long)k) % CHARGEN_RING);
	line[CHARGEN_WIDTH] = '\r';
	line[CHARGEN_WIDTH + 1] = '\n';
}

static char chargen_ring[CHARGEN_RING * CHARGEN_LINE];
static pthread_once_t chargen_once = PTHREAD_ONCE_INIT;

static void
chargen_ring_init(void)
{
	unsigned long i;

	for (i = 0; i < CHARGEN_RING; i++)
		service_chargen_line(i, chargen_ring + i * CHARGEN_LINE);
}

/* RFC 864: the 95 lines of the ring, over and over, until the client closes. */
void
service_chargen(struct client *cl)
{
	/* A client that stops reading holds this much, not tcp_wmem's maximum. */
	int sndbuf = CHARGEN_SNDBUF;

	setsockopt(cl->cl_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	pthread_once(&chargen_once, chargen_ring_init);
	while (!client_stopping(cl)) {
		if (client_write(cl, chargen_ring, sizeof chargen_ring) == -1)
			break;
	}
	if (cl->cl_reason == CLOSE_RESET)
		cl->cl_reason = CLOSE_CLIENT;	/* RFC 864 ends this way */
	client_set_reason(cl, CLOSE_SHUTDOWN);
}

/* RFC 867, in ctime's layout and UTC: "Sun Nov 22 14:03:01 2026\r\n". */
void
service_daytime(struct client *cl)
{
	char buf[64];
	struct tm tm;
	time_t now = time(NULL);
	size_t n;

	gmtime_r(&now, &tm);
	n = strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y\r\n", &tm);
	client_write(cl, buf, n);
}

unsigned long
service_time_value(long long unix_seconds)
{
	/* RFC 868 counts mod 2^32: 2036-02-07T06:28:16Z is 0 again. */
	return (unsigned long)((uint64_t)(unix_seconds + EPOCH_1900) &
	    0xffffffffu);
}

/* RFC 868: 32-bit big-endian seconds since 1900. */
void
service_time(struct client *cl)
{
	unsigned long v = service_time_value((long long)time(NULL));
	unsigned char buf[4] = {
		(unsigned char)(v >> 24), (unsigned char)(v >> 16),
		(unsigned char)(v >> 8), (unsigned char)v,
	};

	client_write(cl, buf, sizeof buf);
}
