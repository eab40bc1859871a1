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
#include <sys/stat.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"
#include "netaddr.h"
#include "proxyproto.h"

#define MIB		(1024 * 1024)
#define SLOW_MS		20000	/* a bulk transfer under a sanitizer */

static char tmpdir[64];		/* the test case's files: config, log */
static char logpath[128];	/* the server's log, when captured */
static int saved_stderr = -1;	/* the real stderr, while the log is captured */

static long
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static char *
slurp(const char *path)
{
	size_t len = 0, size = 4096;
	char *buf = malloc(size + 1);
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		while ((n = read(fd, buf + len, size - len)) > 0) {
			if ((len += (size_t)n) == size)
				buf = realloc(buf, (size *= 2) + 1);
		}
		close(fd);
	}
	buf[len] = '\0';
	return buf;
}

/* Sanitizers report on stderr too: show the captured log if one did. */
static void
log_release(void)
{
	char *log;

	if (saved_stderr == -1)
		return;
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	log = slurp(logpath);
	if (strstr(log, "Sanitizer") != NULL ||
	    strstr(log, "runtime error") != NULL)
		fputs(log, stderr);
	free(log);
}

/* The test case's directory, made and removed by the runner, pass or fail. */
static void
tmp_create(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/check_forward.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
tmp_remove(void)
{
	char path[sizeof tmpdir + 300];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(tmpdir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(tmpdir);
}

/* A forward channel to 127.0.0.1:port with a file line's settings. */
static void
start_forward(struct itest *t, uint16_t port, const char *settings,
    const char *options)
{
	char path[sizeof tmpdir + 32], line[256], cmdline[512];
	int fd;

	snprintf(path, sizeof path, "%s/mpserver.conf", tmpdir);
	snprintf(line, sizeof line, "0 forward to=127.0.0.1:%u %s\n", port,
	    settings);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	snprintf(cmdline, sizeof cmdline, "-f %s %s", path, options);
	itest_start(t, cmdline);
}

/* The server's log (debug level) into a file: before itest_start. */
static void
log_capture(void)
{
	int fd;

	snprintf(logpath, sizeof logpath, "%s/log", tmpdir);
	saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	setenv("ITEST_LOG", "1", 1);
}

/*
 * The first whole line of the log with event=EVENT, port=PORT and
 * KEY=VALUE (whole fields), waiting up to ms; NULL if none. Caller frees.
 */
static char *
log_find(const char *event, uint16_t port, const char *key, const char *value,
    int ms)
{
	char ev[64], kv[256], padded[4096], *buf, *line, *end, *found = NULL;
	long start = ms_now();

	snprintf(ev, sizeof ev, " event=%s port=%u ", event, port);
	snprintf(kv, sizeof kv, " %s=%s ", key, value);
	for (;;) {
		buf = slurp(logpath);
		for (line = buf; (end = strchr(line, '\n')) != NULL;
		    line = end + 1) {
			*end = '\0';
			snprintf(padded, sizeof padded, "%s ", line);
			if (strstr(padded, ev) != NULL &&
			    strstr(padded, kv) != NULL) {
				found = strdup(line);
				break;
			}
		}
		free(buf);
		if (found != NULL || ms_now() - start > ms)
			return found;
		poll(NULL, 0, 10);
	}
}

/* KEY's value in a log line, quotes kept; "" if absent. Static. */
static const char *
log_field(const char *line, const char *key)
{
	static char value[256];
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof pat, " %s=", key);
	value[0] = '\0';
	if ((p = strstr(line, pat)) == NULL)
		return value;
	p += strlen(pat);
	if (*p == '"') {
		for (n = 1; p[n] != '\0' && p[n] != '"'; n++)
			if (p[n] == '\\' && p[n + 1] != '\0')
				n++;
		n += p[n] == '"';
	} else
		n = strcspn(p, " ");
	if (n >= sizeof value)
		n = sizeof value - 1;
	memcpy(value, p, n);
	value[n] = '\0';
	return value;
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

/* The close line of the client on fd (still open), on the server's port. */
static char *
close_line_of(int fd, uint16_t port)
{
	char peer[NETADDR_STRLEN], conn[32], *line;

	sock_name(fd, true, peer, sizeof peer);
	line = log_find("accept", port, "peer", peer, ITEST_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no accept line for %s", peer);
	snprintf(conn, sizeof conn, "%s", log_field(line, "conn"));
	free(line);
	line = log_find("close", port, "conn", conn, ITEST_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no close line for conn %s", conn);
	return line;
}

static bool
nobody_active(struct itest *t)
{
	return server_active_clients(&t->t_server) == 0;
}

static bool
one_upstream_failure(struct itest *t)
{
	return stats_get(itest_channel(t, 0)->ch_stats->cs_upstream_failures) ==
	    1;
}

static bool
stopping(struct itest *t)
{
	return atomic_load(&t->t_server.sv_stopping);
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
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sin;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
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
	long start = ms_now(), left;
	char buf[4096];
	ssize_t n;

	while ((left = ms - (ms_now() - start)) > 0) {
		if (poll(&pfd, 1, (int)left) != 1)
			break;
		if ((n = recv(fd, buf, sizeof buf, 0)) == 0)
			return 0;
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return errno;
	}
	return ETIMEDOUT;
}

static void
linger0_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l),
	    0);
	close(fd);
}

static char *
pattern(size_t len)
{
	unsigned x = 54321;
	char *p = malloc(len);
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		p[i] = (char)(x >> 16);
	}
	return p;
}

/* A thread sending a buffer, then shutting the write side. */
struct pump {
	pthread_t	 p_thread;
	int		 p_fd;
	const char	*p_buf;
	size_t		 p_len;
	int		 p_errno;	/* 0: all sent and shut */
};

static void *
pump_main(void *arg)
{
	struct pump *p = arg;
	size_t off = 0;
	ssize_t n;

	while (off < p->p_len) {
		n = send(p->p_fd, p->p_buf + off, p->p_len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			p->p_errno = n == 0 ? EIO : errno;
			return NULL;
		}
		off += (size_t)n;
	}
	if (shutdown(p->p_fd, SHUT_WR) == -1)
		p->p_errno = errno;
	return NULL;
}

/* server_stop blocks for the grace: run it beside the test's clients. */
struct stopper {
	struct itest	*s_test;
	pthread_t	 s_thread;
	long		 s_start;
	long		 s_ms;		/* how long server_stop took */
};

static void *
stopper_main(void *arg)
{
	struct stopper *s = arg;

	server_stop(&s->s_test->t_server);
	s->s_ms = ms_now() - s->s_start;
	return NULL;
}

static void
stop_in_background(struct stopper *s, struct itest *t)
{
	s->s_test = t;
	s->s_start = ms_now();
	ck_assert_int_eq(pthread_create(&s->s_thread, NULL, stopper_main, s),
	    0);
	ck_assert(itest_eventually(stopping, t, ITEST_TIMEOUT_MS));
}

static void
stop_join(struct stopper *s)
{
	int i;

	pthread_join(s->s_thread, NULL);
	options_free(&s->s_test->t_opts);
	for (i = 0; i < s->s_test->t_argc; i++)
		free(s->s_test->t_argv[i]);
}

START_TEST(mib_both_ways_through_echo)
{
	struct itest echo, fwd;
	struct pump p;
	char cmdline[64], *data, *got, *line;
	uint16_t port;
	size_t len;
	int fd;

	log_capture();
	itest_start(&echo, "0:echo");
	snprintf(cmdline, sizeof cmdline, "0:forward=127.0.0.1:%u",
	    itest_port(&echo, 0));
	itest_start(&fwd, cmdline);
	port = itest_port(&fwd, 0);
	data = pattern(MIB);
	fd = itest_connect(port);
	memset(&p, 0, sizeof p);
	p.p_fd = fd;
	p.p_buf = data;
	p.p_len = MIB;
	ck_assert_int_eq(pthread_create(&p.p_thread, NULL, pump_main, &p), 0);
	got = itest_read_until(fd, NULL, SLOW_MS, &len);
	pthread_join(p.p_thread, NULL);
	ck_assert_msg(p.p_errno == 0, "send: %s", strerror(p.p_errno));
	ck_assert_uint_eq(len, MIB);
	ck_assert(memcmp(got, data, MIB) == 0);
	ck_assert_int_eq(stream_end(fd, 1000), 0);
	line = close_line_of(fd, port);
	ck_assert_str_eq(log_field(line, "bytes_in"), "1048576");
	ck_assert_str_eq(log_field(line, "bytes_out"), "1048576");
	ck_assert_str_eq(log_field(line, "reason"), "done");
	free(line);
	ck_assert(itest_eventually(nobody_active, &fwd, ITEST_TIMEOUT_MS));
	ck_assert(itest_eventually(nobody_active, &echo, ITEST_TIMEOUT_MS));
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
	char cmdline[64];
	uint16_t up;
	int lfd, c, u;

	lfd = upstream_listen(8, &up);
	snprintf(cmdline, sizeof cmdline, "0:forward=127.0.0.1:%u", up);
	itest_start(&t, cmdline);

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
	ck_assert(itest_eventually(nobody_active, &t, ITEST_TIMEOUT_MS));

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
	ck_assert(itest_eventually(nobody_active, &t, ITEST_TIMEOUT_MS));
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
	start_forward(&t, up, settings, "");
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
	ck_assert(itest_eventually(nobody_active, &t, ITEST_TIMEOUT_MS));
	/* The header is ours, not the client's. */
	ck_assert_uint_eq(stats_get(stats_of(&t)->cs_bytes_in), 5);
	close(c);
	close(lfd);
	itest_stop(&t);
}
END_TEST

START_TEST(grace_keeps_relaying_then_cuts)
{
	struct stopper s;
	struct itest t;
	char cmdline[64];
	uint16_t up;
	int lfd, c, u;
	long ms;

	lfd = upstream_listen(8, &up);
	snprintf(cmdline, sizeof cmdline,
	    "0:forward=127.0.0.1:%u --shutdown-grace 2", up);
	itest_start(&t, cmdline);
	c = itest_connect(itest_port(&t, 0));
	u = upstream_accept(lfd);
	itest_sends(c, "before");
	expect(u, "before");
	stop_in_background(&s, &t);
	/* In the grace bytes still flow, both ways. */
	itest_sends(c, "during");
	expect(u, "during");
	itest_sends(u, "reply");
	expect(c, "reply");
	/* Then the grace is over: both sides are cut. */
	ck_assert(itest_closed(c, 6000));
	ms = ms_now() - s.s_start;
	ck_assert_msg(ms >= 1800 && ms < 4500, "client cut %ld ms after the "
	    "shutdown began (grace 2 s)", ms);
	ck_assert(itest_closed(u, ITEST_TIMEOUT_MS));
	stop_join(&s);
	ck_assert_msg(s.s_ms < 5000, "server_stop took %ld ms", s.s_ms);
	close(c);
	close(u);
	close(lfd);
}
END_TEST

START_TEST(upstream_reset_reaches_client)
{
	struct itest t;
	char cmdline[64];
	uint16_t up;
	int lfd, c, u;

	lfd = upstream_listen(8, &up);
	snprintf(cmdline, sizeof cmdline, "0:forward=127.0.0.1:%u", up);
	itest_start(&t, cmdline);
	c = itest_connect(itest_port(&t, 0));
	u = upstream_accept(lfd);
	itest_sends(c, "x");
	expect(u, "x");
	itest_sends(u, "y");
	expect(c, "y");
	linger0_close(u);
	ck_assert_int_eq(stream_end(c, ITEST_TIMEOUT_MS), ECONNRESET);
	ck_assert(itest_eventually(nobody_active, &t, ITEST_TIMEOUT_MS));
	close(c);
	close(lfd);
	itest_stop(&t);
}
END_TEST

START_TEST(client_reset_reaches_upstream)
{
	struct itest t;
	char cmdline[64], *line;
	uint16_t up, port;
	int lfd, c, u;

	log_capture();
	lfd = upstream_listen(8, &up);
	snprintf(cmdline, sizeof cmdline, "0:forward=127.0.0.1:%u", up);
	itest_start(&t, cmdline);
	port = itest_port(&t, 0);
	c = itest_connect(port);
	u = upstream_accept(lfd);
	itest_sends(c, "x");
	expect(u, "x");
	linger0_close(c);
	ck_assert_int_eq(stream_end(u, ITEST_TIMEOUT_MS), ECONNRESET);
	ck_assert(itest_eventually(nobody_active, &t, ITEST_TIMEOUT_MS));
	line = log_find("close", port, "reason", "reset", ITEST_TIMEOUT_MS);
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
	char cmdline[64], *got, *line;
	uint16_t up, port;
	size_t len;
	int c;

	log_capture();
	close(upstream_listen(1, &up));	/* a port nobody listens on */
	snprintf(cmdline, sizeof cmdline, "0:forward=127.0.0.1:%u", up);
	itest_start(&t, cmdline);
	port = itest_port(&t, 0);
	c = itest_connect(port);
	got = itest_read_until(c, NULL, ITEST_TIMEOUT_MS, &len);
	ck_assert_msg(len == 0, "client got \"%s\"", got);
	free(got);
	ck_assert_int_eq(stream_end(c, 100), 0);
	ck_assert(itest_eventually(one_upstream_failure, &t, ITEST_TIMEOUT_MS));
	line = close_line_of(c, port);
	ck_assert_str_eq(log_field(line, "reason"), "upstream");
	ck_assert_str_eq(log_field(line, "bytes_out"), "0");
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
	start_forward(&t, up, "connect-timeout=1", "");
	start = ms_now();
	c = itest_connect(itest_port(&t, 0));
	got = itest_read_until(c, NULL, 6000, &len);
	ms = ms_now() - start;
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

	log_capture();
	lfd = upstream_listen(8, &up);
	start_forward(&t, up, "idle-timeout=1", "");
	port = itest_port(&t, 0);
	start = ms_now();
	c = itest_connect(port);
	u = upstream_accept(lfd);
	/* A byte half-way moves the deadline: either way counts. */
	poll(NULL, 0, 500);
	itest_sends(u, "x");
	expect(c, "x");
	ck_assert(itest_closed(c, 5000));
	ms = ms_now() - start;
	ck_assert_msg(ms >= 1400 && ms < 3500, "closed %ld ms after connect "
	    "(a byte at 500 ms, idle-timeout=1)", ms);
	ck_assert(itest_closed(u, ITEST_TIMEOUT_MS));
	line = log_find("close", port, "reason", "idle_timeout",
	    ITEST_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no close line with reason=idle_timeout");
	ck_assert_str_eq(log_field(line, "bytes_out"), "1");
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
	TCase *tc = tcase_create("Core");

	tcase_add_unchecked_fixture(tc, tmp_create, tmp_remove);
	tcase_add_checked_fixture(tc, NULL, log_release);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, mib_both_ways_through_echo);
	tcase_add_test(tc, half_close_both_ways);
	tcase_add_loop_test(tc, proxy_header_names_the_client, 1, 3);
	tcase_add_test(tc, grace_keeps_relaying_then_cuts);
	suite_add_tcase(s, tc);

	tc = tcase_create("Errors");
	tcase_add_unchecked_fixture(tc, tmp_create, tmp_remove);
	tcase_add_checked_fixture(tc, NULL, log_release);
	tcase_set_timeout(tc, 60);
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
