/* The relay of exec and forward: one thread, poll(2), one buffer each way. */
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"

/*
 * read/write through a 64 KiB buffer, not splice(2) through a pipe: on
 * loopback (forward, -O2, 2 busy cores, medians of 15 in two batches)
 * splice does not clearly win. 1 MiB one way: read/write 1.0 ms, splice
 * 1.1-1.4 ms; 100 MiB one way: 103-118 ms, 134-162 ms; 100 MiB each way at
 * once: 146-215 ms, 125-229 ms. It saves 10-20% of the relay's own CPU (100
 * MiB one way: 42 ms, 33-38 ms) but costs two pipes, four descriptors, per
 * client, which the descriptor budget would have to count.
 */
#define RELAY_BUFSIZE	(64 * 1024)
#define RELAY_TICK_MS	100
#define RELAY_MORE	(-1)	/* not an end: go on */
#define RELAY_MS	1000000ULL	/* nanoseconds */

/* One direction: what d_src gave waits in d_buf until d_dst took it all. */
struct relay_dir {
	int		 d_src;
	int		 d_dst;
	bool		 d_src_sock;
	bool		 d_dst_sock;
	bool		 d_to_client;	/* peer to client, or client to peer */
	char		*d_buf;
	size_t		 d_off;		/* first byte not yet delivered */
	size_t		 d_len;		/* end of what was read; 0: empty */
	bool		 d_eof;		/* d_src said EOF: read no more */
	bool		 d_done;	/* and the EOF was passed on */
};

struct relay_state {
	struct relay	*s_r;
	struct relay_dir s_in;		/* client to peer */
	struct relay_dir s_out;		/* peer to client */
	char		*s_buf;		/* both: a handler's stack is small */
	uint64_t	 s_moved;	/* when a byte last moved, ns */
	bool		 s_side_eof;	/* r_side said EOF or failed */
	bool		 s_peer_gone;	/* r_peer_gone said so: drain, then EOF */
	uint64_t	 s_asked;	/* when r_peer_gone was last asked, ns */
};

/* The descriptors of one poll: client, peer in, peer out, side at most. */
struct relay_poll {
	struct pollfd	 p_fd[4];
	nfds_t		 p_n;
};

static const char *relay_end_names[] = {
	[RELAY_DONE] = "done",
	[RELAY_CLIENT_RESET] = "client_reset",
	[RELAY_PEER_RESET] = "peer_reset",
	[RELAY_IDLE] = "idle",
	[RELAY_FORCED] = "forced",
	[RELAY_ERROR] = "error",
};

const char *
relay_end_name(enum relay_end e)
{
	if ((unsigned)e >= sizeof relay_end_names / sizeof relay_end_names[0])
		return "unknown";
	return relay_end_names[e];
}

static uint64_t
relay_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 * RELAY_MS + (uint64_t)ts.tv_nsec;
}

/* Its close then sends a reset, not a FIN. */
static void
relay_linger0(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

/*
 * An error on one side. Whatever it is, the other side's close is made a
 * reset where it is a socket: a stream cut short must not look like one
 * that ended. ECONNRESET, and EPIPE or ENOTCONN, which a socket says once
 * its reset was reported, are resets; anything else is an error.
 */
static int
relay_fail(struct relay_state *s, bool client, int error)
{
	struct relay_dir *other = client ? &s->s_in : &s->s_out;
	bool sock = client ? s->s_out.d_dst_sock : s->s_in.d_dst_sock;

	if (other->d_dst_sock && other->d_dst != -1)
		relay_linger0(other->d_dst);
	if (sock && (error == ECONNRESET || error == EPIPE ||
	    error == ENOTCONN))
		return client ? RELAY_CLIENT_RESET : RELAY_PEER_RESET;
	s->s_r->r_errno = error;
	return RELAY_ERROR;
}

static bool
relay_again(int error)
{
	return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

/* Pass an EOF on, once everything read before it was delivered. */
static int
relay_dir_finish(struct relay_state *s, struct relay_dir *d)
{
	struct relay *r = s->s_r;

	d->d_done = true;
	if (d->d_dst_sock) {
		if (shutdown(d->d_dst, SHUT_WR) == -1)
			return relay_fail(s, d->d_to_client, errno);
		return RELAY_MORE;
	}
	/* exec: closing its stdin is its EOF, and the caller must know. */
	if (!d->d_to_client && d->d_dst != r->r_peer_in) {
		close(d->d_dst);
		r->r_peer_out = -1;
		d->d_dst = -1;
	}
	return RELAY_MORE;
}

/*
 * The program closed its stdin: EPIPE on the pipe. Decided: as if the
 * peer had shut its input, this direction ends here. What the buffer held
 * is dropped (not delivered, so not counted), the client is no longer read
 * (SHUT_RD) and the program's output still flows to it. Reading on only to
 * discard would let a client that never stops sending keep the relay busy
 * and never idle; what it sends now stays in the kernel, whose buffer
 * bounds it, and the caller's close then resets: what a client of inetd
 * gets from a program that does not read its input.
 */
static int
relay_dir_unread(struct relay_state *s, struct relay_dir *d)
{
	d->d_off = d->d_len = 0;
	d->d_eof = true;
	if (d->d_src_sock && shutdown(d->d_src, SHUT_RD) == -1)
		return relay_fail(s, !d->d_to_client, errno);
	return relay_dir_finish(s, d);
}

/*
 * What the client sent is counted as it is read, as every service counts
 * it (even if a program exits without reading it); what it received, as
 * it is delivered.
 */
static void
relay_counted(struct relay *r, bool to_client, size_t n)
{
	if (to_client)
		r->r_bytes_out += n;
	else
		r->r_bytes_in += n;
	if (r->r_count != NULL)
		r->r_count(r->r_arg, to_client, n);
}

/* Read once, into an empty buffer only. */
static int
relay_dir_read(struct relay_state *s, struct relay_dir *d)
{
	ssize_t n;

	n = read(d->d_src, d->d_buf, RELAY_BUFSIZE);
	if (n > 0) {
		d->d_off = 0;
		d->d_len = (size_t)n;
		s->s_moved = relay_now();
		if (!d->d_to_client)
			relay_counted(s->s_r, false, (size_t)n);
	} else if (n == 0)
		d->d_eof = true;
	else if (!relay_again(errno))
		return relay_fail(s, !d->d_to_client, errno);
	else if (d->d_to_client && s->s_peer_gone)
		d->d_eof = true;	/* gone, and nothing more in the pipe */
	return RELAY_MORE;
}

/* Write what the buffer holds, as much as the sink takes now. */
static int
relay_dir_write(struct relay_state *s, struct relay_dir *d)
{
	struct relay *r = s->s_r;
	const char *p = d->d_buf + d->d_off;
	size_t len = d->d_len - d->d_off;
	ssize_t n;

	/* MSG_NOSIGNAL: a socket's reset is an error here, not a SIGPIPE. */
	if (d->d_dst_sock)
		n = send(d->d_dst, p, len, MSG_NOSIGNAL);
	else
		n = write(d->d_dst, p, len);
	if (n == -1 && errno == EPIPE && !d->d_dst_sock && !d->d_to_client)
		return relay_dir_unread(s, d);
	if (n == -1 && !relay_again(errno))
		return relay_fail(s, d->d_to_client, errno);
	if (n <= 0)
		return RELAY_MORE;
	d->d_off += (size_t)n;
	if (d->d_off == d->d_len)
		d->d_off = d->d_len = 0;
	s->s_moved = relay_now();
	if (d->d_to_client)
		relay_counted(r, true, (size_t)n);
	return RELAY_MORE;
}

static void
relay_poll_want(struct relay_poll *p, int fd, short events)
{
	nfds_t i;

	for (i = 0; i < p->p_n; i++) {
		if (p->p_fd[i].fd == fd) {
			p->p_fd[i].events |= events;
			return;
		}
	}
	p->p_fd[p->p_n].fd = fd;
	p->p_fd[p->p_n].events = events;
	p->p_fd[p->p_n].revents = 0;
	p->p_n++;
}

static short
relay_poll_revents(const struct relay_poll *p, int fd, short mask)
{
	nfds_t i;

	for (i = 0; i < p->p_n; i++) {
		if (p->p_fd[i].fd == fd)
			return p->p_fd[i].revents & mask;
	}
	return 0;
}

/*
 * A direction reads only into an empty buffer and writes only while it
 * holds bytes, so it waits on one descriptor at a time: a full buffer is
 * back-pressure on its source, an empty one leaves its sink alone.
 *
 * A socket we still write to is also polled for nothing, which reports its
 * errors, so a reset is passed on at once even while no direction waits on
 * it (a client that half-closed, then reset while the upstream thinks).
 * Once shut down for writing it is left out: after the other end's FIN its
 * POLLHUP would wake us for nothing, again and again.
 */
static void
relay_dir_want(const struct relay_dir *d, struct relay_poll *p)
{
	if (d->d_done)
		return;
	if (d->d_off < d->d_len)
		relay_poll_want(p, d->d_dst, POLLOUT);
	else if (!d->d_eof)
		relay_poll_want(p, d->d_src, POLLIN);
	if (d->d_dst_sock)
		relay_poll_want(p, d->d_dst, 0);
}

/* One step of a direction after a poll: read, write, pass an EOF on. */
static int
relay_dir_run(struct relay_state *s, struct relay_dir *d,
    const struct relay_poll *p)
{
	int rc = RELAY_MORE;
	bool fresh = false;

	if (d->d_done)
		return RELAY_MORE;
	if (d->d_off == d->d_len && !d->d_eof &&
	    (relay_poll_revents(p, d->d_src, POLLIN | POLLERR | POLLHUP) ||
	    (d->d_to_client && s->s_peer_gone))) {
		if ((rc = relay_dir_read(s, d)) != RELAY_MORE)
			return rc;
		fresh = true;	/* the sink most likely has room: no poll */
	}
	if (d->d_off < d->d_len && (fresh ||
	    relay_poll_revents(p, d->d_dst, POLLOUT | POLLERR | POLLHUP))) {
		if ((rc = relay_dir_write(s, d)) != RELAY_MORE)
			return rc;
	}
	if (!d->d_done && d->d_eof && d->d_off == d->d_len)
		rc = relay_dir_finish(s, d);
	return rc;
}

/* An error on a socket polled for nothing: which, and on which side. */
static int
relay_watch(struct relay_state *s, const struct relay_poll *p)
{
	const struct pollfd *pfd;
	socklen_t len;
	nfds_t i;
	int error;

	for (i = 0; i < p->p_n; i++) {
		pfd = &p->p_fd[i];
		if (pfd->events != 0 || pfd->revents == 0)
			continue;
		error = 0;
		len = sizeof error;
		if (pfd->revents & POLLNVAL)
			error = EBADF;
		else if (getsockopt(pfd->fd, SOL_SOCKET, SO_ERROR, &error,
		    &len) == -1)
			error = errno;
		if (error == 0)
			error = EPIPE;	/* POLLHUP: closed, no error */
		return relay_fail(s, pfd->fd == s->s_r->r_client, error);
	}
	return RELAY_MORE;
}

/* The poll timeout: the next tick, or the idle deadline if sooner. */
static int
relay_timeout(const struct relay_state *s)
{
	const struct relay *r = s->s_r;
	uint64_t deadline, now, left;
	int timeout = -1;

	if (r->r_forced != NULL || r->r_peer_gone != NULL) {
		timeout = r->r_tick_ms != 0 ? (int)r->r_tick_ms : RELAY_TICK_MS;
		if (r->r_tick_ms > INT_MAX)
			timeout = INT_MAX;
	}
	if (r->r_idle_ms != 0) {
		deadline = s->s_moved + r->r_idle_ms * RELAY_MS;
		now = relay_now();
		left = deadline > now ?
		    (deadline - now + RELAY_MS - 1) / RELAY_MS : 0;
		if (timeout == -1 || left < (uint64_t)timeout)
			timeout = left > INT_MAX ? INT_MAX : (int)left;
	}
	return timeout;
}

static bool
relay_idle(const struct relay_state *s)
{
	const struct relay *r = s->s_r;

	return r->r_idle_ms != 0 &&
	    relay_now() - s->s_moved >= r->r_idle_ms * RELAY_MS;
}

static bool
relay_forced(const struct relay_state *s)
{
	return s->s_r->r_forced != NULL && atomic_load(s->s_r->r_forced);
}

/* Both directions ended, or, for exec, the program's output did. */
static bool
relay_finished(const struct relay_state *s)
{
	if (s->s_out.d_done && s->s_r->r_peer_eof_ends)
		return true;
	return s->s_in.d_done && s->s_out.d_done;
}

/*
 * The side input (exec's stderr) has bytes: hand them over. It is not
 * relayed, so it moves no idle clock and never blocks the relay.
 */
static void
relay_side(struct relay_state *s, const struct relay_poll *p)
{
	struct relay *r = s->s_r;
	char buf[1024];
	ssize_t n;

	if (s->s_side_eof || !relay_poll_revents(p, r->r_side,
	    POLLIN | POLLERR | POLLHUP))
		return;
	n = read(r->r_side, buf, sizeof buf);
	if (n > 0 && r->r_side_cb != NULL)
		r->r_side_cb(r->r_side_arg, buf, (size_t)n);
	else if (n == 0 || (n == -1 && !relay_again(errno)))
		s->s_side_eof = true;
}

/* Has the peer gone? Asked at most once a tick: it costs a system call. */
static void
relay_ask_gone(struct relay_state *s)
{
	struct relay *r = s->s_r;
	uint64_t now, tick;

	if (r->r_peer_gone == NULL || s->s_peer_gone)
		return;
	now = relay_now();
	tick = (r->r_tick_ms != 0 ? r->r_tick_ms : RELAY_TICK_MS) * RELAY_MS;
	if (now - s->s_asked < tick)
		return;
	s->s_asked = now;
	s->s_peer_gone = r->r_peer_gone(r->r_peer_gone_arg);
}

/* One poll and what it allows; RELAY_MORE, or how the relay ends. */
static int
relay_step(struct relay_state *s)
{
	struct relay_poll p;
	int rc;

	if (relay_forced(s))
		return RELAY_FORCED;
	if (relay_finished(s))
		return RELAY_DONE;
	p.p_n = 0;
	relay_dir_want(&s->s_in, &p);
	relay_dir_want(&s->s_out, &p);
	if (s->s_r->r_side >= 0 && !s->s_side_eof)
		relay_poll_want(&p, s->s_r->r_side, POLLIN);
	if (poll(p.p_fd, p.p_n, relay_timeout(s)) == -1) {
		if (errno == EINTR)
			return RELAY_MORE;
		s->s_r->r_errno = errno;
		return RELAY_ERROR;
	}
	if (relay_forced(s))
		return RELAY_FORCED;
	relay_side(s, &p);
	relay_ask_gone(s);
	if ((rc = relay_watch(s, &p)) != RELAY_MORE)
		return rc;
	if ((rc = relay_dir_run(s, &s->s_in, &p)) != RELAY_MORE)
		return rc;
	if ((rc = relay_dir_run(s, &s->s_out, &p)) != RELAY_MORE)
		return rc;
	if (relay_idle(s))
		return RELAY_IDLE;
	return RELAY_MORE;
}

/*
 * Non-blocking from now on: the caller closes the descriptors afterwards,
 * so the flag is not restored. Pipes need it: they know no MSG_DONTWAIT.
 */
static int
relay_prepare(int fd, bool *sock)
{
	struct stat st;
	int flags;

	if (fstat(fd, &st) == -1)
		return -1;
	*sock = S_ISSOCK(st.st_mode);
	if ((flags = fcntl(fd, F_GETFL)) == -1)
		return -1;
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) ==
	    -1)
		return -1;
	return 0;
}

static int
relay_init(struct relay_state *s, struct relay *r)
{
	bool client_sock, in_sock, out_sock, side_sock;

	memset(s, 0, sizeof *s);
	s->s_r = r;
	r->r_bytes_in = r->r_bytes_out = 0;
	r->r_errno = 0;
	if (relay_prepare(r->r_client, &client_sock) == -1 ||
	    relay_prepare(r->r_peer_in, &in_sock) == -1 ||
	    /* forward's one upstream socket is prepared once */
	    (r->r_peer_out == r->r_peer_in ? (out_sock = in_sock, 0) :
	    relay_prepare(r->r_peer_out, &out_sock)) == -1 ||
	    (r->r_side >= 0 && relay_prepare(r->r_side, &side_sock) == -1) ||
	    (s->s_buf = malloc(2 * RELAY_BUFSIZE)) == NULL) {
		r->r_errno = errno;
		return -1;
	}
	s->s_in.d_src = r->r_client;
	s->s_in.d_src_sock = client_sock;
	s->s_in.d_dst = r->r_peer_out;
	s->s_in.d_dst_sock = out_sock;
	s->s_in.d_buf = s->s_buf;
	s->s_out.d_src = r->r_peer_in;
	s->s_out.d_src_sock = in_sock;
	s->s_out.d_dst = r->r_client;
	s->s_out.d_dst_sock = client_sock;
	s->s_out.d_to_client = true;
	s->s_out.d_buf = s->s_buf + RELAY_BUFSIZE;
	s->s_moved = relay_now();
	return 0;
}

/*
 * Writing to a pipe whose reader is gone raises SIGPIPE: the process must
 * ignore it, as mpserver does (SPEC 4); the relay then sees EPIPE.
 */
enum relay_end
relay_run(struct relay *r)
{
	struct relay_state s;
	int rc;

	if (relay_init(&s, r) == -1)
		return RELAY_ERROR;
	while ((rc = relay_step(&s)) == RELAY_MORE)
		;
	free(s.s_buf);
	return rc;
}
