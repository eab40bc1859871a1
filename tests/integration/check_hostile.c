/*
 * Hostile clients cost only themselves: binary junk and NUL bytes to every
 * service, 10 MB without a newline to cmd and ack, resets in the middle of
 * chargen and echo replies, a port scan and thousands of connect-and-close,
 * slowloris on metrics, cmd and ack (a byte every 0.5 s is closed by the
 * idle timeout of its first byte), an ack client that trickles after its
 * ACK (closed within the linger, every byte it sent before counted), and
 * a cmd client that pipelines PORTS at 1,000 channels without reading
 * (one reply held at a time, closed once its write is stuck). Afterwards
 * PING still answers, the counters are right, and no descriptor or thread
 * has leaked.
 */
#include <sys/socket.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"

#define NSERVICES 8	/* channels 0..7 below, one per service */
#define TEN_MB (10 * 1024 * 1024)
#define SLOW_MS		500	/* slowloris: a byte every half second */
#define IDLE_MS		2000	/* -t 2 */
#define LINGER_MAX_MS	2500	/* the server's linger is 1 s; margin */
#define NCHANNELS	1000	/* ack channels beside the pipelining cmd one */
#define MEMORY_GROWTH_MAX_KB (20 * 1024)

static struct itest t;
static int fds_before, threads_before;
static long mem_max_kb;

static void
setup(void)
{
	fds_before = itest_count_fds();
	threads_before = itest_count_threads();
	itest_start(&t, "0:ack 0:echo 0:discard 0:chargen 0:daytime 0:time "
	    "0:cmd 0:metrics -t 2");
}

/* The server is whole: PING answers and, once all leave, nothing is held. */
static void
teardown(void)
{
	int fd = itest_connect(itest_port(&t, 6));
	char *r;

	free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	r = itest_cmd(fd, "PING");
	ck_assert_str_eq(r, "200 PONG");
	free(r);
	close(fd);
	ck_assert(itest_eventually(itest_nobody_active, &t, 10000));
	itest_stop(&t);
	ck_assert_int_eq(itest_count_fds(), fds_before);
	ck_assert_int_eq(itest_count_threads(), threads_before);
}

START_TEST(junk_and_nul_bytes_to_every_service)
{
	unsigned char junk[3000];
	size_t i, c;
	int fd;

	for (i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	junk[0] = 0;
	junk[100] = '\n';
	for (c = 0; c < NSERVICES; c++) {
		fd = itest_connect(itest_port(&t, c));
		send(fd, junk, sizeof junk, MSG_NOSIGNAL);
		shutdown(fd, SHUT_WR);
		/* chargen never stops by itself; the rest end or reply. */
		if (c == 3)
			itest_reset(fd);
		else {
			free(itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL));
			close(fd);
		}
	}
}
END_TEST

static void
flood(int fd, size_t total)
{
	char chunk[65536];
	size_t sent = 0;
	ssize_t n;

	memset(chunk, 'z', sizeof chunk);
	while (sent < total) {
		n = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
		if (n <= 0)
			break;	/* the server gave up on us: that is allowed */
		sent += (size_t)n;
	}
}

START_TEST(ten_mb_without_newline_to_cmd)
{
	int fd = itest_connect(itest_port(&t, 6));
	char *r;

	free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	flood(fd, TEN_MB);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_ptr_nonnull(strstr(r, "421 line too long, closing\r\n"));
	free(r);
	close(fd);
}
END_TEST

START_TEST(ten_mb_without_newline_to_ack)
{
	int fd = itest_connect(itest_port(&t, 0));
	char *r;

	flood(fd, TEN_MB);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	/* --max-line bytes are a message; the rest is not our problem. */
	ck_assert(strcmp(r, "ACK\n") == 0 || strcmp(r, "") == 0);
	free(r);
	close(fd);
}
END_TEST

START_TEST(reset_in_the_middle_of_replies)
{
	char big[200000];
	int fd, i;

	memset(big, 'r', sizeof big);
	for (i = 0; i < 20; i++) {
		fd = itest_connect(itest_port(&t, 3));	/* chargen */
		free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
		itest_reset(fd);
		fd = itest_connect(itest_port(&t, 1));	/* echo */
		send(fd, big, sizeof big, MSG_NOSIGNAL | MSG_DONTWAIT);
		itest_reset(fd);
	}
}
END_TEST

START_TEST(port_scan_and_connect_close_storm)
{
	int fd, i;
	size_t c;

	for (i = 0; i < 2000; i++) {
		c = (size_t)i % NSERVICES;
		fd = itest_connect(itest_port(&t, c));
		close(fd);
	}
}
END_TEST

/*
 * Send msg a byte every SLOW_MS, the first at t0, until the server closes
 * (EOF, reset, or a send refused); what it sent back goes to *got (caller
 * frees). The time from t0, or -1 if it is still open after limit_ms.
 */
static long
slowloris(int fd, const char *msg, long t0, long limit_ms, char **got)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t sent = 0, len = 0;
	long now, next = 0;
	ssize_t n;

	*got = calloc(1, 65536);
	while ((now = itest_now_ms() - t0) < limit_ms) {
		if (now >= next) {
			if (msg[sent] != '\0' && send(fd, msg + sent, 1,
			    MSG_NOSIGNAL) != 1)
				return itest_now_ms() - t0;
			if (msg[sent] != '\0')
				sent++;
			next += SLOW_MS;
			continue;
		}
		if (poll(&pfd, 1, (int)(next - now)) != 1)
			continue;
		n = recv(fd, *got + len, 65535 - len, 0);
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			return itest_now_ms() - t0;
		if (n > 0)
			len += (size_t)n;
	}
	return -1;
}

/* A slow client of channel c: closed by the idle rule, told what it expects. */
static void
slow_client(size_t c, const char *msg, const char *want)
{
	long t0, ms;
	char *got;
	int fd;

	fd = itest_connect(itest_port(&t, c));
	/* cmd speaks first; the slow part starts after its banner. */
	if (c == 6)
		free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	t0 = itest_now_ms();
	ms = slowloris(fd, msg, t0, 8000, &got);
	ck_assert_msg(ms >= 0, "channel %zu: a slowloris is still served after "
	    "8 s", c);
	ck_assert_msg(ms >= IDLE_MS * 3 / 4 && ms < 2 * IDLE_MS, "channel %zu: "
	    "closed %ld ms after its first byte, want about %d", c, ms,
	    IDLE_MS);
	ck_assert_msg(strcmp(got, want) == 0, "channel %zu: got \"%s\"", c,
	    got);
	free(got);
	close(fd);
}

START_TEST(slowloris_on_metrics_cmd_and_ack)
{
	slow_client(7, "GET /metrics HTTP/1.1\r\nHost: slow\r\n\r\n", "");
	slow_client(6, "PING PING PING\r\n", "421 idle timeout, closing\r\n");
	slow_client(0, "hello, slowly\n", "");
}
END_TEST

/*
 * An ack message with 10,000 bytes behind it: the server reads at most
 * --max-line bytes for the message, so bytes are still unread after its
 * ACK and it lingers. A client that goes on trickling is closed within
 * the linger all the same, and every byte the server read counts.
 */
START_TEST(ack_trickle_after_reply_is_bounded_and_counted)
{
	struct channel_stats *cs = itest_channel(&t, 0)->ch_stats;
	char msg[6 + 10000];
	size_t sent = 0;
	unsigned long long in;
	long t0, ms;
	char *r;
	int fd;

	memcpy(msg, "hello\n", 6);
	memset(msg + 6, 'x', sizeof msg - 6);
	fd = itest_connect(itest_port(&t, 0));
	itest_send(fd, msg, sizeof msg);
	/* ACK, then the server's FIN while it reads on. */
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	t0 = itest_now_ms();
	ck_assert_str_eq(r, "ACK\n");
	free(r);
	ms = itest_trickle_until_reset(fd, t0, 10000, &sent);
	ck_assert_msg(ms >= 0, "a client trickling after its ACK is never "
	    "closed");
	ck_assert_msg(ms < LINGER_MAX_MS, "closed %ld ms after its ACK", ms);
	close(fd);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	/* All it sent, but the byte that found the socket closed. */
	in = stats_get(cs->cs_bytes_in);
	sent += sizeof msg;
	ck_assert_msg(in + 1 >= sent && in <= sent, "bytes_in %llu, the client "
	    "sent %zu (the last one may have come after the close)", in, sent);
	ck_assert_uint_eq(stats_get(cs->cs_bytes_out), 4);
}
END_TEST

/*
 * Under a sanitizer RSS counts its quarantine of freed blocks too, so
 * there the allocator's live bytes say what the server holds.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MEMORY_FROM_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MEMORY_FROM_SANITIZER 1
#endif
#endif

#ifdef MEMORY_FROM_SANITIZER
size_t	__sanitizer_get_current_allocated_bytes(void);

static long
memory_kb(void)
{
	return (long)(__sanitizer_get_current_allocated_bytes() / 1024);
}
#else
/* VmRSS of this process, which is the server's too. */
static long
memory_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f;

	ck_assert_ptr_nonnull(f = fopen("/proc/self/status", "r"));
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}
#endif

/* The condition polled while the stuck client lives: track the peak. */
static bool
gone_watching_memory(struct itest *it)
{
	long kb = memory_kb();

	if (kb > mem_max_kb)
		mem_max_kb = kb;
	return server_active_clients(&it->t_server) == 0;
}

/* Bytes of one whole PORTS reply. */
static size_t
ports_reply_len(uint16_t port)
{
	char want[64], *r;
	size_t len;
	int fd;

	snprintf(want, sizeof want, "211 %d channels\r\n", NCHANNELS + 1);
	fd = itest_connect(port);
	free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	itest_sends(fd, "PORTS\r\n");
	r = itest_read_until(fd, want, ITEST_TIMEOUT_MS, &len);
	ck_assert_ptr_nonnull(strstr(r, want));
	free(r);
	itest_sends(fd, "QUIT\r\n");
	free(itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL));
	close(fd);
	return len;
}

START_TEST(pipelined_ports_replies_are_bounded)
{
	struct itest big;
	char *cmdline, lines[4096 + 1];
	size_t i, nlines, reply;
	unsigned long long out;
	long t0, mem0, ms;
	int fd, rcv = 4096;
	struct pollfd pfd = { .events = 0 };
	uint16_t port;

	cmdline = malloc(NCHANNELS * 2 + 32);
	for (i = 0; i < NCHANNELS; i++)
		memcpy(cmdline + 2 * i, "0,", 2);
	strcpy(cmdline + 2 * NCHANNELS, "0:cmd -t 2");
	itest_start(&big, cmdline);
	free(cmdline);
	port = itest_port(&big, NCHANNELS);
	reply = ports_reply_len(port);
	ck_assert(itest_eventually(itest_nobody_active, &big,
	    ITEST_TIMEOUT_MS));
	for (nlines = 0; (nlines + 1) * 7 <= 4096; nlines++)
		memcpy(lines + nlines * 7, "PORTS\r\n", 7);
	pfd.fd = fd = itest_connect(port);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
	free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	mem_max_kb = mem0 = memory_kb();
	/* 4 KiB of requests, some 20 MB of replies, never read. */
	itest_send(fd, lines, nlines * 7);
	t0 = itest_now_ms();
	ck_assert_msg(itest_eventually(gone_watching_memory, &big, 15000),
	    "a client that never reads is still served after 15 s");
	ms = itest_now_ms() - t0;
	ck_assert_msg(mem_max_kb - mem0 < MEMORY_GROWTH_MAX_KB, "memory grew by "
	    "%ld kB while %zu PORTS replies of %zu bytes were pending",
	    mem_max_kb - mem0, nlines, reply);
	/* The write got stuck, and the idle timeout closed it. */
	out = stats_get(itest_channel(&big, NCHANNELS)->ch_stats->cs_bytes_out);
	ck_assert_msg(out < nlines * reply, "all %llu bytes were written: the "
	    "write never got stuck", out);
	ck_assert_msg(ms >= IDLE_MS * 3 / 4 && ms < 3 * IDLE_MS, "closed %ld "
	    "ms after its requests, want about %d", ms, IDLE_MS);
	/* Its socket is closed: a byte to it is answered with a reset. */
	ck_assert_int_eq(send(fd, "x", 1, MSG_NOSIGNAL), 1);
	ck_assert_msg(poll(&pfd, 1, ITEST_TIMEOUT_MS) == 1 &&
	    (pfd.revents & POLLERR), "no reset from the closed socket");
	close(fd);
	itest_stop(&big);
}
END_TEST

static Suite *
hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("Errors"), *tm;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, junk_and_nul_bytes_to_every_service);
	tcase_add_test(tc, ten_mb_without_newline_to_cmd);
	tcase_add_test(tc, ten_mb_without_newline_to_ack);
	tcase_add_test(tc, reset_in_the_middle_of_replies);
	tcase_add_test(tc, port_scan_and_connect_close_storm);
	tcase_add_test(tc, slowloris_on_metrics_cmd_and_ack);
	tcase_add_test(tc, ack_trickle_after_reply_is_bounded_and_counted);
	suite_add_tcase(s, tc);
	/* A server of its own, 1,001 channels: no fixture. */
	tm = tcase_create("Memory");
	tcase_set_timeout(tm, 60);
	tcase_add_test(tm, pipelined_ports_replies_are_bounded);
	suite_add_tcase(s, tm);
	return s;
}

int
main(void)
{
	return itest_main(hostile_suite());
}
