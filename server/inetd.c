/* inetd's internal services: echo, discard, chargen, daytime, time (RFCs 862-868). */
#include <sys/socket.h>

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "server.h"
#include "service.h"

#define INETD_BUF	8192
#define CHARGEN_RING	95	/* printable ASCII from space to tilde */
#define CHARGEN_WIDTH	72
#define CHARGEN_LINE	(CHARGEN_WIDTH + 2)
#define CHARGEN_SNDBUF	(64 * 1024)
#define EPOCH_1900	2208988800LL	/* 1900-01-01 to 1970-01-01 in seconds */

/* RFC 862: every byte back, until the client closes. */
void
service_echo(struct client *cl)
{
	char buf[INETD_BUF];
	ssize_t n;

	while ((n = client_read(cl, buf, sizeof buf)) > 0) {
		if (client_write(cl, buf, (size_t)n) == -1)
			return;
	}
}

/* RFC 863: read and drop. */
void
service_discard(struct client *cl)
{
	char buf[INETD_BUF];

	while (client_read(cl, buf, sizeof buf) > 0)
		continue;
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
	if (cl->cl_reason != NULL && strcmp(cl->cl_reason, CLOSE_RESET) == 0)
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
