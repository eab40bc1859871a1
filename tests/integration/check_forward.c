/*
 * forward (SPEC 10), in-process: 1 MiB both ways through a forward channel
 * to another server's echo channel, byte-exact, with exact counters and
 * close line; half-closes passed on both ways; PROXY v1 and v2 headers that
 * parse back to the client; the relay working through the shutdown grace
 * and cut at its end; resets passed on as resets both ways; an unreachable
 * upstream (refused, or a connect timing out on a full backlog) closing the
 * client without a byte, counted; the idle timeout when no byte moves.
 * Upstreams other than the echo server are listening sockets of the test.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"
#include "netaddr.h"
#include "proxyproto.h"

#define MIB		(1024 * 1024)

/* A forward channel to 127.0.0.1:port from the command line, and options. */
static void
start_to(struct itest *t, uint16_t port, const char *options)
{
	char *cmdline;

	cmdline = itest_fmt("0:forward=127.0.0.1:%u %s", port, options);
	itest_start(t, cmdline);
	free(cmdline);
}

/* A forward channel to 127.0.0.1:port with a file line's settings. */
static void
start_forward(struct itest *t, uint16_t port, const char *settings)
{
	char line[256];

	snprintf(line, sizeof line, "0 forward to=127.0.0.1:%u %s\n", port,
	    settings);
	itest_start_file(t, line, "");
}

/* "127.0.0.1:53422": where fd is bound (local) or connected to. */
static void
sock_name(int fd, bool local, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (local)
		ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len),
		    0);
	else
		ck_assert_int_eq(getpeername(fd, (struct sockaddr *)&ss, &len),
		    0);
	netaddr_format((struct sockaddr *)&ss, buf, size);
}

static bool
one_upstream_failure(struct itest *t)
{
	return stats_get(itest_channel(t, 0)->ch_stats->cs_upstream_failures) ==
	    1;
}

static struct channel_stats *
stats_of(struct itest *t)
{
	return itest_channel(t, 0)->ch_stats;
}

/* A listening socket on 127.0.0.1, on a port the kernel chose. */
static int
upstream_listen(int backlog, uint16_t *port)
{
	*port = 0;
	return itest_listen(port, backlog);
}

/* The forwarded connection, within the test's timeout. */
static int
upstream_accept(int lfd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	struct timeval tv = { .tv_sec = ITEST_TIMEOUT_MS / 1000 };
	int fd;

	ck_assert_msg(poll(&pfd, 1, ITEST_TIMEOUT_MS) == 1,
	    "nothing reached the upstream");
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

/* Exactly `want` arrives on fd, and nothing more for now. */
static void
expect(int fd, const char *want)
{
	char *got = itest_read_until(fd, want, ITEST_TIMEOUT_MS, NULL);

	ck_assert_str_eq(got, want);
	free(got);
}

/*
 * How fd's stream ends, data before it skipped: 0 for EOF, the errno of
 * a failed recv (ECONNRESET), ETIMEDOUT if it does not end within ms.
 */
static int
stream_end(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long start = itest_now_ms(), left;
	char buf[4096];
	ssize_t n;

	while ((left = ms - (itest_now_ms() - start)) > 0) {
		if (poll(&pfd, 1, (int)left) != 1)
			break;
		if ((n = recv(fd, buf, sizeof buf, 0)) == 0)
			return 0;
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return errno;
	}
	return ETIMEDOUT;
}

START_TEST(mib_both_ways_through_echo)
{
	struct itest echo, fwd;
	struct itest_pump p;
	char *data, *got, *line;
	uint16_t port;
	size_t len;
	int fd;

	itest_capture();
	itest_start(&echo, "0:echo");
	start_to(&fwd, itest_port(&echo, 0), "");
	port = itest_port(&fwd, 0);
	data = itest_pattern(MIB);
	fd = itest_connect(port);
	itest_pump_start(&p, fd, data, MIB, true);
	got = itest_read_until(fd, NULL, ITEST_SLOW_MS, &len);
	pthread_join(p.p_thread, NULL);
	ck_assert_msg(p.p_errno == 0, "send: %s", strerror(p.p_errno));
	ck_assert_uint_eq(len, MIB);
	ck_assert(memcmp(got, data, MIB) == 0);
	ck_assert_int_eq(stream_end(fd, 1000), 0);
	line = itest_close_line(fd, port);
	ck_assert_str_eq(itest_log_field(line, "bytes_in"), "1048576");
	ck_assert_str_eq(itest_log_field(line, "bytes_out"), "1048576");
	ck_assert_str_eq(itest_log_field(line, "reason"), "done");
	free(line);
	ck_assert(itest_eventually(itest_nobody_active, &fwd,
	    ITEST_TIMEOUT_MS));
	ck_assert(itest_eventually(itest_nobody_active, &echo,
	    ITEST_TIMEOUT_MS));
	ck_assert_uint_eq(stats_get(stats_of(&fwd)->cs_bytes_in), MIB);
	ck_assert_uint_eq(stats_get(stats_of(&fwd)->cs_bytes_out), MIB);
	ck_assert_uint_eq(stats_get(stats_of(&echo)->cs_bytes_in), MIB);
	ck_assert_uint_eq(stats_get(stats_of(&echo)->cs_bytes_out), MIB);
	ck_assert_uint_eq(stats_get(stats_of(&fwd)->cs_upstream_failures), 0);
	close(fd);
	free(got);
	free(data);
	itest_stop(&fwd);
	itest_stop(&echo);
}
END_TEST

START_TEST(half_close_both_ways)
{
	struct itest t;
	uint16_t up;
	int lfd, c, u;

	lfd = upstream_listen(8, &up);
	start_to(&t, up, "");

	/* The client half-closes first; the upstream still answers. */
	c = itest_connect(itest_port(&t, 0));
	u = upstream_accept(lfd);
	itest_sends(c, "ping");
	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	expect(u, "ping");
	ck_assert_int_eq(stream_end(u, ITEST_TIMEOUT_MS), 0);
	itest_sends(u, "pong");
	expect(c, "pong");
	ck_assert_int_eq(shutdown(u, SHUT_WR), 0);
	ck_assert_int_eq(stream_end(c, ITEST_TIMEOUT_MS), 0);
	close(u);
	close(c);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));

	/* The upstream half-closes first; the client still sends. */
	c = itest_connect(itest_port(&t, 0));
	u = upstream_accept(lfd);
	itest_sends(u, "hello");
	ck_assert_int_eq(shutdown(u, SHUT_WR), 0);
	expect(c, "hello");
	ck_assert_int_eq(stream_end(c, ITEST_TIMEOUT_MS), 0);
	itest_sends(c, "more");
	expect(u, "more");
	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	ck_assert_int_eq(stream_end(u, ITEST_TIMEOUT_MS), 0);
	close(u);
	close(c);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	ck_assert_uint_eq(stats_get(stats_of(&t)->cs_bytes_in), 8);
	ck_assert_uint_eq(stats_get(stats_of(&t)->cs_bytes_out), 9);
	close(lfd);
	itest_stop(&t);
}
END_TEST

/* _i is the PROXY protocol version: 1, then 2. */
START_TEST(proxy_header_names_the_client)
{
	struct proxyproto_header h;
	char settings[32], buf[PROXYPROTO_MAX + 64], want[NETADDR_STRLEN];
	char got[NETADDR_STRLEN];
	const char *cause = NULL;
	size_t len = 0, used = 0;
	int lfd, c, u, rc = PROXYPROTO_NEED;
	struct itest t;
	uint16_t up;
	ssize_t n;

	lfd = upstream_listen(8, &up);
	snprintf(settings, sizeof settings, "proxy-protocol=v%d", _i);
	start_forward(&t, up, settings);
	c = itest_connect(itest_port(&t, 0));
	itest_sends(c, "hello");
	u = upstream_accept(lfd);
	/* The header, then the client's bytes, and nothing in between. */
	while (rc != PROXYPROTO_ERROR && (rc != PROXYPROTO_DONE ||
	    len - used < 5) && len < sizeof buf) {
		n = recv(u, buf + len, sizeof buf - len, 0);
		ck_assert_msg(n > 0, "upstream read: %s", n == 0 ? "EOF" :
		    strerror(errno));
		len += (size_t)n;
		rc = proxyproto_parse(buf, len, &h, &used, &cause);
	}
	ck_assert_msg(rc == PROXYPROTO_DONE, "PROXY header: %s",
	    cause != NULL ? cause : "incomplete");
	ck_assert_int_eq(h.pp_version, _i);
	ck_assert(!h.pp_local);
	sock_name(c, true, want, sizeof want);
	netaddr_format((struct sockaddr *)&h.pp_src, got, sizeof got);
	ck_assert_str_eq(got, want);
	sock_name(c, false, want, sizeof want);
	netaddr_format((struct sockaddr *)&h.pp_dst, got, sizeof got);
	ck_assert_str_eq(got, want);
	ck_assert_uint_eq(len - used, 5);
	ck_assert(memcmp(buf + used, "hello", 5) == 0);

	ck_assert_int_eq(shutdown(c, SHUT_WR), 0);
	ck_assert_int_eq(stream_end(u, ITEST_TIMEOUT_MS), 0);
	close(u);
	ck_assert_int_eq(stream_end(c, ITEST_TIMEOUT_MS), 0);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	/* The header is ours, not the client's. */
	ck_assert_uint_eq(stats_get(stats_of(&t)->cs_bytes_in), 5);
	close(c);
	close(lfd);
	itest_stop(&t);
}
END_TEST

START_TEST(grace_keeps_relaying_then_cuts)
{
	struct itest_stopper s;
	struct itest t;
	uint16_t up;
	int lfd, c, u;
	long ms;

	lfd = upstream_listen(8, &up);
	start_to(&t, up, "--shutdown-grace 2");
	c = itest_connect(itest_port(&t, 0));
	u = upstream_accept(lfd);
	itest_sends(c, "before");
	expect(u, "before");
	itest_stop_in_background(&s, &t);
	/* In the grace bytes still flow, both ways. */
	itest_sends(c, "during");
	expect(u, "during");
	itest_sends(u, "reply");
	expect(c, "reply");
	/* Then the grace is over: both sides are cut. */
	ck_assert(itest_closed(c, 6000));
	ms = itest_now_ms() - s.s_start;
	ck_assert_msg(ms >= 1800 && ms < 4500, "client cut %ld ms after the "
	    "shutdown began (grace 2 s)", ms);
	ck_assert(itest_closed(u, ITEST_TIMEOUT_MS));
	itest_stop_join(&s);
	ck_assert_msg(s.s_ms < 5000, "server_stop took %ld ms", s.s_ms);
	close(c);
	close(u);
	close(lfd);
}
END_TEST

START_TEST(upstream_reset_reaches_client)
{
	struct itest t;
	uint16_t up;
	int lfd, c, u;

	lfd = upstream_listen(8, &up);
	start_to(&t, up, "");
	c = itest_connect(itest_port(&t, 0));
	u = upstream_accept(lfd);
	itest_sends(c, "x");
	expect(u, "x");
	itest_sends(u, "y");
	expect(c, "y");
	itest_reset(u);
	ck_assert_int_eq(stream_end(c, ITEST_TIMEOUT_MS), ECONNRESET);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	close(c);
	close(lfd);
	itest_stop(&t);
}
END_TEST

START_TEST(client_reset_reaches_upstream)
{
	struct itest t;
	char *line;
	uint16_t up, port;
	int lfd, c, u;

	itest_capture();
	lfd = upstream_listen(8, &up);
	start_to(&t, up, "");
	port = itest_port(&t, 0);
	c = itest_connect(port);
	u = upstream_accept(lfd);
	itest_sends(c, "x");
	expect(u, "x");
	itest_reset(c);
	ck_assert_int_eq(stream_end(u, ITEST_TIMEOUT_MS), ECONNRESET);
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	line = itest_capture_find("close", port, "reason", "reset",
	    ITEST_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no close line with reason=reset");
	free(line);
	close(u);
	close(lfd);
	itest_stop(&t);
}
END_TEST

START_TEST(upstream_refused)
{
	struct itest t;
	char *got, *line;
	uint16_t up, port;
	size_t len;
	int c;

	itest_capture();
	close(upstream_listen(1, &up));	/* a port nobody listens on */
	start_to(&t, up, "");
	port = itest_port(&t, 0);
	c = itest_connect(port);
	got = itest_read_until(c, NULL, ITEST_TIMEOUT_MS, &len);
	ck_assert_msg(len == 0, "client got \"%s\"", got);
	free(got);
	ck_assert_int_eq(stream_end(c, 100), 0);
	ck_assert(itest_eventually(one_upstream_failure, &t, ITEST_TIMEOUT_MS));
	line = itest_close_line(c, port);
	ck_assert_str_eq(itest_log_field(line, "reason"), "upstream");
	ck_assert_str_eq(itest_log_field(line, "bytes_out"), "0");
	free(line);
	ck_assert_uint_eq(stats_get(stats_of(&t)->cs_accepted), 1);
	close(c);
	itest_stop(&t);
}
END_TEST

START_TEST(connect_timeout_on_full_backlog)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct itest t;
	int lfd, fill[3], c, i;
	char *got;
	uint16_t up;
	size_t len;
	long start, ms;

	/* A listener that never accepts, its queue full: SYNs go unanswered. */
	lfd = upstream_listen(0, &up);
	sin.sin_port = htons(up);
	for (i = 0; i < 3; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fill[i], 0);
		connect(fill[i], (struct sockaddr *)&sin, sizeof sin);
	}
	start_forward(&t, up, "connect-timeout=1");
	start = itest_now_ms();
	c = itest_connect(itest_port(&t, 0));
	got = itest_read_until(c, NULL, 6000, &len);
	ms = itest_now_ms() - start;
	ck_assert_msg(len == 0, "client got \"%s\"", got);
	free(got);
	ck_assert_msg(ms >= 900 && ms < 4000, "closed %ld ms after connect "
	    "(connect-timeout=1)", ms);
	ck_assert(itest_eventually(one_upstream_failure, &t, ITEST_TIMEOUT_MS));
	close(c);
	for (i = 0; i < 3; i++)
		close(fill[i]);
	close(lfd);
	itest_stop(&t);
}
END_TEST

START_TEST(idle_when_no_byte_moves)
{
	struct itest t;
	uint16_t up, port;
	int lfd, c, u;
	long start, ms;
	char *line;

	itest_capture();
	lfd = upstream_listen(8, &up);
	start_forward(&t, up, "idle-timeout=1");
	port = itest_port(&t, 0);
	start = itest_now_ms();
	c = itest_connect(port);
	u = upstream_accept(lfd);
	/* A byte half-way moves the deadline: either way counts. */
	poll(NULL, 0, 500);
	itest_sends(u, "x");
	expect(c, "x");
	ck_assert(itest_closed(c, 5000));
	ms = itest_now_ms() - start;
	ck_assert_msg(ms >= 1400 && ms < 3500, "closed %ld ms after connect "
	    "(a byte at 500 ms, idle-timeout=1)", ms);
	ck_assert(itest_closed(u, ITEST_TIMEOUT_MS));
	line = itest_capture_find("close", port, "reason", "idle_timeout",
	    ITEST_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no close line with reason=idle_timeout");
	ck_assert_str_eq(itest_log_field(line, "bytes_out"), "1");
	free(line);
	close(c);
	close(u);
	close(lfd);
	itest_stop(&t);
}
END_TEST

static Suite *
forward_suite(void)
{
	Suite *s = suite_create("forward");
	TCase *tc = itest_tcase_tmp("Core", NULL, 60);

	tcase_add_test(tc, mib_both_ways_through_echo);
	tcase_add_test(tc, half_close_both_ways);
	tcase_add_loop_test(tc, proxy_header_names_the_client, 1, 3);
	tcase_add_test(tc, grace_keeps_relaying_then_cuts);
	suite_add_tcase(s, tc);

	tc = itest_tcase_tmp("Errors", NULL, 60);
	tcase_add_test(tc, upstream_reset_reaches_client);
	tcase_add_test(tc, client_reset_reaches_upstream);
	tcase_add_test(tc, upstream_refused);
	tcase_add_test(tc, connect_timeout_on_full_backlog);
	tcase_add_test(tc, idle_when_no_byte_moves);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return itest_main(forward_suite());
}
