/*
 * relay: forward (a loopback TCP client and upstream) and exec (/bin/cat, or
 * the test playing the program, on two pipes). 1 MiB each way at once,
 * byte-exact with exact counters; half-closes passed on both ways; the
 * program's EOF ending exec; resets passed on both ways, also to a side no
 * direction waits on; a program that closed its stdin; idle and its
 * deadline moved by a byte; the forced cut; back-pressure from a client
 * that never reads, without spinning; names of the ends.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "relay.h"

#define KIB		1024
#define MIB		(1024 * 1024)
#define SMALLBUF	(16 * KIB)	/* socket buffers, back-pressure */

extern char **environ;

/* A relay running in its own thread, as in a client's handler. */
struct run {
	struct relay		 r;
	enum relay_end		 end;
	pthread_t		 thread;
	atomic_bool		 forced;
	atomic_ullong		 counted[2];	/* r_count: peer, client */
	uint64_t		 started;	/* ms */
	uint64_t		 ended;
};

/* A thread writing a pattern to fd, or reading and checking it. */
struct xfer {
	int			 x_fd;
	size_t			 x_len;		/* writer: how much */
	unsigned		 x_seed;
	bool			 x_shut;	/* writer: SHUT_WR or close */
	bool			 x_pipe;
	atomic_size_t		 x_done;	/* bytes written, or read */
	int			 x_errno;
	bool			 x_eof;		/* reader: saw EOF */
	bool			 x_bad;		/* reader: a byte differed */
	pthread_t		 x_thread;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static unsigned char
pattern(size_t off, unsigned seed)
{
	return (unsigned char)(off % 251 + seed);
}

static void
set_bufs(int fd, int size)
{
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
	    sizeof size), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size,
	    sizeof size), 0);
}

/* A test's read fails after 5 s rather than hang till Check's timeout. */
static void
set_rcvtimeo(int fd)
{
	struct timeval tv = { 5, 0 };

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof tv), 0);
}

/* A connected loopback pair: *outer connected, *inner accepted. */
static void
tcp_pair(int *outer, int *inner, int bufsize)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int lfd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	if (bufsize != 0)
		set_bufs(lfd, bufsize);	/* inherited by the accepted socket */
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	*outer = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(*outer, 0);
	if (bufsize != 0)
		set_bufs(*outer, bufsize);
	ck_assert_int_eq(connect(*outer, (struct sockaddr *)&sin, sizeof sin),
	    0);
	*inner = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(*inner, 0);
	set_rcvtimeo(*outer);
	set_rcvtimeo(*inner);
	close(lfd);
}

static void
count(void *arg, bool to_client, size_t n)
{
	struct run *run = arg;

	atomic_fetch_add(&run->counted[to_client], n);
}

static void *
run_main(void *arg)
{
	struct run *run = arg;

	run->end = relay_run(&run->r);
	run->ended = now_ms();
	return NULL;
}

static void
run_init(struct run *run)
{
	memset(run, 0, sizeof *run);
	atomic_init(&run->forced, false);
	atomic_init(&run->counted[0], 0);
	atomic_init(&run->counted[1], 0);
	run->r.r_side = -1;
	run->r.r_forced = &run->forced;
	run->r.r_count = count;
	run->r.r_arg = run;
}

static void
run_start(struct run *run)
{
	run->started = now_ms();
	ck_assert_int_eq(pthread_create(&run->thread, NULL, run_main, run), 0);
}

static enum relay_end
run_join(struct run *run)
{
	ck_assert_int_eq(pthread_join(run->thread, NULL), 0);
	return run->end;
}

/* What the caller does after the relay: close its descriptors. */
static void
run_close(struct run *run)
{
	close(run->r.r_client);
	if (run->r.r_peer_in != -1)
		close(run->r.r_peer_in);
	if (run->r.r_peer_out != -1 && run->r.r_peer_out != run->r.r_peer_in)
		close(run->r.r_peer_out);
}

/* forward: the test's client and upstream ends around a relay. */
static void
forward_init(struct run *run, int *client, int *upstream, int bufsize)
{
	run_init(run);
	tcp_pair(client, &run->r.r_client, bufsize);
	tcp_pair(&run->r.r_peer_out, upstream, bufsize);
	run->r.r_peer_in = run->r.r_peer_out;
}

static void
forward_close(struct run *run, int client, int upstream)
{
	run_close(run);
	close(client);
	close(upstream);
}

static void *
xfer_write(void *arg)
{
	struct xfer *x = arg;
	unsigned char buf[16 * KIB];
	size_t off = 0, i, n;
	ssize_t w;

	while (off < x->x_len) {
		n = x->x_len - off < sizeof buf ? x->x_len - off : sizeof buf;
		for (i = 0; i < n; i++)
			buf[i] = pattern(off + i, x->x_seed);
		if (x->x_pipe)
			w = write(x->x_fd, buf, n);
		else
			w = send(x->x_fd, buf, n, MSG_NOSIGNAL);
		if (w == -1) {
			x->x_errno = errno;
			return NULL;
		}
		off += (size_t)w;
		atomic_store(&x->x_done, off);
	}
	if (x->x_shut && x->x_pipe)
		close(x->x_fd);
	else if (x->x_shut)
		shutdown(x->x_fd, SHUT_WR);
	return NULL;
}

static void *
xfer_read(void *arg)
{
	struct xfer *x = arg;
	unsigned char buf[16 * KIB];
	size_t off = 0, i;
	ssize_t n;

	while ((n = read(x->x_fd, buf, sizeof buf)) > 0) {
		for (i = 0; i < (size_t)n; i++) {
			if (buf[i] != pattern(off + i, x->x_seed))
				x->x_bad = true;
		}
		off += (size_t)n;
		atomic_store(&x->x_done, off);
	}
	if (n == 0)
		x->x_eof = true;
	else
		x->x_errno = errno;
	return NULL;
}

enum xfer_mode {
	XFER_READ,
	XFER_SEND,	/* to a socket, then SHUT_WR */
	XFER_WRITE,	/* to a pipe, then close it */
};

static void
xfer_start(struct xfer *x, enum xfer_mode mode, int fd, size_t len,
    unsigned seed)
{
	memset(x, 0, sizeof *x);
	atomic_init(&x->x_done, 0);
	x->x_fd = fd;
	x->x_len = len;
	x->x_seed = seed;
	x->x_shut = true;
	x->x_pipe = mode == XFER_WRITE;
	ck_assert_int_eq(pthread_create(&x->x_thread, NULL,
	    mode == XFER_READ ? xfer_read : xfer_write, x), 0);
}

static void
xfer_join(struct xfer *x)
{
	ck_assert_int_eq(pthread_join(x->x_thread, NULL), 0);
}

/* A reader got exactly len bytes of its pattern, then EOF. */
static void
xfer_check(struct xfer *x, size_t len)
{
	ck_assert_int_eq(x->x_errno, 0);
	ck_assert_uint_eq(atomic_load(&x->x_done), len);
	ck_assert(x->x_eof);
	ck_assert(!x->x_bad);
}

static void
send_str(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL),
	    (ssize_t)strlen(s));
}

/* Read until EOF and compare. */
static void
expect_all(int fd, const char *want)
{
	char buf[256];
	size_t off = 0;
	ssize_t n;

	while ((n = read(fd, buf + off, sizeof buf - 1 - off)) > 0)
		off += (size_t)n;
	ck_assert_int_eq(n, 0);
	buf[off] = '\0';
	ck_assert_str_eq(buf, want);
}

/* Read exactly strlen(want) bytes. */
static void
expect_bytes(int fd, const char *want)
{
	char buf[256];
	size_t off = 0, len = strlen(want);
	ssize_t n;

	while (off < len && (n = read(fd, buf + off, len - off)) > 0)
		off += (size_t)n;
	ck_assert_uint_eq(off, len);
	ck_assert_mem_eq(buf, want, len);
}

/* Close with a reset rather than a FIN. */
static void
close_reset(int fd)
{
	struct linger l = { 1, 0 };

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l),
	    0);
	close(fd);
}

static void
expect_reset(int fd)
{
	char c;

	ck_assert_int_eq(read(fd, &c, 1), -1);
	ck_assert_int_eq(errno, ECONNRESET);
}

/*
 * After an EOF a read says 0 even once reset: ask the socket's error. A
 * plain close sends nothing more here (the FIN went before): POLLERR is the
 * reset, which Linux reports as EPIPE in CLOSE_WAIT, else ECONNRESET.
 */
static void
expect_reset_after_eof(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = 0 };
	socklen_t len;
	int error = 0;

	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	ck_assert(pfd.revents & POLLERR);
	len = sizeof error;
	ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len),
	    0);
	ck_assert_msg(error == ECONNRESET || error == EPIPE, "error %d", error);
}

static void
pipe_cloexec(int fds[2])
{
	ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
}

/* exec, the test playing the program: its stdin in[], its stdout out[]. */
static void
exec_init(struct run *run, int *client, int in[2], int out[2])
{
	run_init(run);
	tcp_pair(client, &run->r.r_client, 0);
	pipe_cloexec(in);
	pipe_cloexec(out);
	run->r.r_peer_out = in[1];
	run->r.r_peer_in = out[0];
}

/*
 * first sends a and half-closes; second gets a and its EOF, answers b and
 * half-closes; first gets b and its EOF; the relay is done.
 */
static void
half_closes_pass(struct run *run, int first, const char *a, int second,
    const char *b)
{
	send_str(first, a);
	ck_assert_int_eq(shutdown(first, SHUT_WR), 0);
	expect_all(second, a);
	send_str(second, b);
	ck_assert_int_eq(shutdown(second, SHUT_WR), 0);
	expect_all(first, b);
	ck_assert_int_eq(run_join(run), RELAY_DONE);
}

/* from sends "abc" to to, then resets: the relay ends as want, to sees it. */
static void
reset_passes(struct run *run, int from, int to, enum relay_end want)
{
	send_str(from, "abc");
	expect_bytes(to, "abc");
	close_reset(from);
	ck_assert_int_eq(run_join(run), want);
	run_close(run);
	expect_reset(to);
	close(to);
}

/* /bin/cat on two pipes: *to_prog its stdin, *from_prog its stdout. */
static pid_t
spawn_cat(int *to_prog, int *from_prog)
{
	posix_spawn_file_actions_t fa;
	char arg0[] = "cat";
	char *argv[] = { arg0, NULL };
	int in[2], out[2];
	pid_t pid;

	pipe_cloexec(in);
	pipe_cloexec(out);
	ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
	ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, in[0], 0), 0);
	ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, out[1], 1), 0);
	ck_assert_int_eq(posix_spawn(&pid, "/bin/cat", &fa, NULL, argv,
	    environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	*to_prog = in[1];
	*from_prog = out[0];
	return pid;
}

static uint64_t
cpu_ns(pthread_t t)
{
	struct timespec ts;
	clockid_t cid;

	ck_assert_int_eq(pthread_getcpuclockid(t, &cid), 0);
	ck_assert_int_eq(clock_gettime(cid, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* Wait until a writer has not moved for 200 ms: it is blocked. */
static size_t
wait_stalled(struct xfer *x)
{
	size_t before, after;
	int i;

	after = atomic_load(&x->x_done);
	for (i = 0; i < 50; i++) {
		before = after;
		sleep_ms(200);
		after = atomic_load(&x->x_done);
		if (after == before && after > 0)
			break;
	}
	ck_assert_uint_eq(after, before);
	return after;
}

START_TEST(test_relay_forward_both_ways)
{
	struct run run;
	struct xfer cw, cr, uw, ur;
	int client, upstream;

	forward_init(&run, &client, &upstream, 0);
	run_start(&run);
	xfer_start(&cw, XFER_SEND, client, MIB, 1);
	xfer_start(&uw, XFER_SEND, upstream, MIB, 2);
	xfer_start(&cr, XFER_READ, client, 0, 2);
	xfer_start(&ur, XFER_READ, upstream, 0, 1);
	xfer_join(&cw);
	xfer_join(&uw);
	xfer_join(&cr);
	xfer_join(&ur);
	ck_assert_int_eq(cw.x_errno, 0);
	ck_assert_int_eq(uw.x_errno, 0);
	xfer_check(&cr, MIB);
	xfer_check(&ur, MIB);
	ck_assert_int_eq(run_join(&run), RELAY_DONE);
	ck_assert_uint_eq(run.r.r_bytes_in, MIB);
	ck_assert_uint_eq(run.r.r_bytes_out, MIB);
	ck_assert_uint_eq(atomic_load(&run.counted[0]), MIB);
	ck_assert_uint_eq(atomic_load(&run.counted[1]), MIB);
	ck_assert_int_eq(run.r.r_peer_out, run.r.r_peer_in);
	forward_close(&run, client, upstream);
}
END_TEST

/* cat echoes: 1 MiB each way at once; the client's EOF closes its stdin. */
START_TEST(test_relay_exec_cat)
{
	struct run run;
	struct xfer cw, cr;
	int client, status;
	pid_t pid;

	run_init(&run);
	tcp_pair(&client, &run.r.r_client, 0);
	pid = spawn_cat(&run.r.r_peer_out, &run.r.r_peer_in);
	run.r.r_peer_eof_ends = true;
	run_start(&run);
	xfer_start(&cw, XFER_SEND, client, MIB, 3);
	xfer_start(&cr, XFER_READ, client, 0, 3);
	xfer_join(&cw);
	xfer_join(&cr);
	ck_assert_int_eq(cw.x_errno, 0);
	xfer_check(&cr, MIB);
	ck_assert_int_eq(run_join(&run), RELAY_DONE);
	ck_assert_uint_eq(run.r.r_bytes_in, MIB);
	ck_assert_uint_eq(run.r.r_bytes_out, MIB);
	ck_assert_uint_eq(atomic_load(&run.counted[0]), MIB);
	ck_assert_uint_eq(atomic_load(&run.counted[1]), MIB);
	ck_assert_int_eq(run.r.r_peer_out, -1);	/* closed by the relay */
	run_close(&run);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(client);
}
END_TEST

START_TEST(test_relay_client_half_close)
{
	struct run run;
	int client, upstream;

	forward_init(&run, &client, &upstream, 0);
	run_start(&run);
	half_closes_pass(&run, client, "request", upstream, "the reply");
	ck_assert_uint_eq(run.r.r_bytes_in, 7);
	ck_assert_uint_eq(run.r.r_bytes_out, 9);
	forward_close(&run, client, upstream);
}
END_TEST

START_TEST(test_relay_peer_half_close)
{
	struct run run;
	int client, upstream;

	forward_init(&run, &client, &upstream, 0);
	run_start(&run);
	half_closes_pass(&run, upstream, "banner", client, "still talking");
	ck_assert_uint_eq(run.r.r_bytes_in, 13);
	ck_assert_uint_eq(run.r.r_bytes_out, 6);
	forward_close(&run, client, upstream);
}
END_TEST

/* The test plays the program: 1 MiB out, EOF, its stdin never read. */
START_TEST(test_relay_exec_eof_ends)
{
	struct run run;
	struct xfer pw, cr;
	int client, in[2], out[2];

	exec_init(&run, &client, in, out);
	run.r.r_peer_eof_ends = true;
	run.r.r_idle_ms = 5000;		/* fails as idle rather than hangs */
	run_start(&run);
	send_str(client, "never closed");
	xfer_start(&cr, XFER_READ, client, 0, 4);
	xfer_start(&pw, XFER_WRITE, out[1], MIB, 4);
	xfer_join(&pw);
	ck_assert_int_eq(run_join(&run), RELAY_DONE);
	ck_assert_uint_eq(run.r.r_bytes_out, MIB);
	ck_assert_uint_le(run.r.r_bytes_in, 12);
	xfer_join(&cr);
	xfer_check(&cr, MIB);
	run_close(&run);
	close(in[0]);
	close(client);
}
END_TEST

START_TEST(test_relay_client_reset)
{
	struct run run;
	int client, upstream;

	forward_init(&run, &client, &upstream, 0);
	run_start(&run);
	reset_passes(&run, client, upstream, RELAY_CLIENT_RESET);
	ck_assert_uint_eq(run.r.r_bytes_in, 3);
}
END_TEST

/* Half-closed, the client is read no more: its reset still passes at once. */
START_TEST(test_relay_client_reset_half_closed)
{
	struct run run;
	int client, upstream;

	forward_init(&run, &client, &upstream, 0);
	run.r.r_idle_ms = 5000;
	run_start(&run);
	send_str(client, "q");
	ck_assert_int_eq(shutdown(client, SHUT_WR), 0);
	expect_all(upstream, "q");
	close_reset(client);
	ck_assert_int_eq(run_join(&run), RELAY_CLIENT_RESET);
	ck_assert_uint_lt(run.ended - run.started, 3000);
	run_close(&run);
	expect_reset_after_eof(upstream);
	close(upstream);
}
END_TEST

START_TEST(test_relay_peer_reset)
{
	struct run run;
	int client, upstream;

	forward_init(&run, &client, &upstream, 0);
	run_start(&run);
	reset_passes(&run, upstream, client, RELAY_PEER_RESET);
	ck_assert_uint_eq(run.r.r_bytes_out, 3);
}
END_TEST

/* The relay waits on the client (full buffer): the peer's reset passes. */
START_TEST(test_relay_peer_reset_blocked)
{
	struct run run;
	int client, upstream, flags;
	char buf[4096];
	size_t sent;
	ssize_t n;

	forward_init(&run, &client, &upstream, SMALLBUF);
	run.r.r_idle_ms = 5000;
	run_start(&run);
	flags = fcntl(upstream, F_GETFL);
	ck_assert_int_eq(fcntl(upstream, F_SETFL, flags | O_NONBLOCK), 0);
	memset(buf, 'x', sizeof buf);
	/* Fill it all: until a round of sends 100 ms after the last is 0. */
	do {
		sent = 0;
		while ((n = send(upstream, buf, sizeof buf, MSG_NOSIGNAL)) > 0)
			sent += (size_t)n;
		ck_assert_int_eq(errno, EAGAIN);
		sleep_ms(100);
	} while (sent > 0);
	ck_assert_uint_gt(atomic_load(&run.counted[1]), 0);
	close_reset(upstream);
	ck_assert_int_eq(run_join(&run), RELAY_PEER_RESET);
	ck_assert_uint_lt(run.ended - run.started, 3000);
	run_close(&run);
	while (read(client, buf, sizeof buf) > 0)
		;
	ck_assert_int_eq(errno, ECONNRESET);
	close(client);
}
END_TEST

/* The program closed its stdin: what the client sends is not waited on. */
START_TEST(test_relay_exec_stdin_closed)
{
	struct run run;
	int client, in[2], out[2];

	exec_init(&run, &client, in, out);
	close(in[0]);
	run.r.r_idle_ms = 5000;		/* not r_peer_eof_ends: both must end */
	run_start(&run);
	send_str(client, "data nobody reads");
	sleep_ms(50);
	ck_assert_int_eq(write(out[1], "bye", 3), 3);
	close(out[1]);
	expect_all(client, "bye");
	ck_assert_int_eq(run_join(&run), RELAY_DONE);
	/* What the client sent counts as read, though nobody took it. */
	ck_assert_uint_eq(run.r.r_bytes_in, strlen("data nobody reads"));
	ck_assert_uint_eq(run.r.r_bytes_out, 3);
	ck_assert_int_eq(run.r.r_peer_out, -1);
	run_close(&run);
	close(client);
}
END_TEST

START_TEST(test_relay_idle)
{
	struct run run;
	int client, upstream;
	uint64_t t0 = now_ms();

	forward_init(&run, &client, &upstream, 0);
	run.r.r_idle_ms = 200;
	run_start(&run);
	ck_assert_int_eq(run_join(&run), RELAY_IDLE);
	ck_assert_uint_ge(run.ended - t0, 200);
	ck_assert_uint_lt(run.ended - t0, 2000);
	forward_close(&run, client, upstream);
}
END_TEST

/* A byte at 150 ms: idle no sooner than 150 + 300 ms. */
START_TEST(test_relay_idle_moved)
{
	struct run run;
	int client, upstream;
	uint64_t t0 = now_ms();

	forward_init(&run, &client, &upstream, 0);
	run.r.r_idle_ms = 300;
	run.r.r_tick_ms = 20;
	run_start(&run);
	sleep_ms(150);
	send_str(client, "!");
	expect_bytes(upstream, "!");
	ck_assert_int_eq(run_join(&run), RELAY_IDLE);
	ck_assert_uint_ge(run.ended - t0, 450);
	ck_assert_uint_lt(run.ended - t0, 3000);
	ck_assert_uint_eq(run.r.r_bytes_in, 1);
	forward_close(&run, client, upstream);
}
END_TEST

START_TEST(test_relay_forced)
{
	struct run run;
	int client, upstream;
	uint64_t t1;

	forward_init(&run, &client, &upstream, 0);
	run_start(&run);	/* r_tick_ms 0: every 100 ms */
	sleep_ms(150);
	t1 = now_ms();
	atomic_store(&run.forced, true);
	ck_assert_int_eq(run_join(&run), RELAY_FORCED);
	ck_assert_uint_lt(run.ended - t1, 1000);
	forward_close(&run, client, upstream);
}
END_TEST

/*
 * The client never reads, the upstream would send 10 MiB: the relay stops
 * reading the upstream once its buffer is full, so the upstream blocks, and
 * the relay's thread sleeps meanwhile.
 */
START_TEST(test_relay_backpressure)
{
	struct run run;
	struct xfer uw;
	int client, upstream;
	uint64_t cpu0, cpu1;
	unsigned long long out0;
	size_t sent;

	forward_init(&run, &client, &upstream, SMALLBUF);
	run_start(&run);
	xfer_start(&uw, XFER_SEND, upstream, 10 * MIB, 5);
	sent = wait_stalled(&uw);
	out0 = atomic_load(&run.counted[1]);
	cpu0 = cpu_ns(run.thread);
	sleep_ms(300);
	cpu1 = cpu_ns(run.thread);
	ck_assert_msg(cpu1 - cpu0 < 30 * 1000000ULL,
	    "relay used %llu us of CPU in 300 ms",
	    (unsigned long long)(cpu1 - cpu0) / 1000);
	ck_assert_uint_eq(atomic_load(&run.counted[1]), out0);
	ck_assert_uint_eq(atomic_load(&uw.x_done), sent);
	/* Kernel buffers and the relay's one buffer: far from 10 MiB. */
	ck_assert_uint_lt(sent, 2 * MIB);
	ck_assert_uint_le(out0, sent);
	atomic_store(&run.forced, true);
	ck_assert_int_eq(run_join(&run), RELAY_FORCED);
	ck_assert_uint_eq(run.r.r_bytes_out, out0);
	run_close(&run);	/* unread bytes: a reset, the send fails */
	xfer_join(&uw);
	ck_assert_int_ne(uw.x_errno, 0);
	close(client);
	close(upstream);
}
END_TEST

START_TEST(test_relay_bad_descriptor)
{
	struct run run;
	int fds[2];

	pipe_cloexec(fds);
	run_init(&run);
	run.r.r_client = -1;
	run.r.r_peer_in = fds[0];
	run.r.r_peer_out = fds[1];
	ck_assert_int_eq(relay_run(&run.r), RELAY_ERROR);
	ck_assert_int_eq(run.r.r_errno, EBADF);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(test_relay_end_names)
{
	ck_assert_str_eq(relay_end_name(RELAY_DONE), "done");
	ck_assert_str_eq(relay_end_name(RELAY_CLIENT_RESET), "client_reset");
	ck_assert_str_eq(relay_end_name(RELAY_PEER_RESET), "peer_reset");
	ck_assert_str_eq(relay_end_name(RELAY_IDLE), "idle");
	ck_assert_str_eq(relay_end_name(RELAY_FORCED), "forced");
	ck_assert_str_eq(relay_end_name(RELAY_ERROR), "error");
	ck_assert_str_eq(relay_end_name((enum relay_end)42), "unknown");
}
END_TEST

static Suite *
relay_suite(void)
{
	Suite *s = suite_create("relay");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_set_timeout(tc_core, 20);
	tcase_add_test(tc_core, test_relay_forward_both_ways);
	tcase_add_test(tc_core, test_relay_exec_cat);
	tcase_add_test(tc_core, test_relay_client_half_close);
	tcase_add_test(tc_core, test_relay_peer_half_close);
	tcase_add_test(tc_core, test_relay_exec_eof_ends);
	tcase_add_test(tc_core, test_relay_idle);
	tcase_add_test(tc_core, test_relay_idle_moved);
	tcase_add_test(tc_core, test_relay_forced);
	tcase_add_test(tc_core, test_relay_backpressure);
	tcase_add_test(tc_core, test_relay_end_names);
	suite_add_tcase(s, tc_core);

	tcase_set_timeout(tc_errors, 20);
	tcase_add_test(tc_errors, test_relay_client_reset);
	tcase_add_test(tc_errors, test_relay_client_reset_half_closed);
	tcase_add_test(tc_errors, test_relay_peer_reset);
	tcase_add_test(tc_errors, test_relay_peer_reset_blocked);
	tcase_add_test(tc_errors, test_relay_exec_stdin_closed);
	tcase_add_test(tc_errors, test_relay_bad_descriptor);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	/* As mpserver (SPEC 4): a pipe without reader is EPIPE, no signal. */
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(relay_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
