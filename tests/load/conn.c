/* Non-blocking connection slots on one epoll instance, and the event loop. */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadutil.h"
#include "mpload.h"

#define LOAD_EVENTS	256
#define LOAD_EXTRA_ID	UINT32_MAX	/* epoll data of l_extra_fd */
#define LOAD_SCRATCH	(64 * 1024)

const char *const load_error_names[ERR_N] = {
	"refused", "connect", "reset", "timeout", "eof", "mismatch", "other",
};

volatile sig_atomic_t load_stop;
volatile sig_atomic_t load_resume;

int
load_init(struct load *ld, const struct load_opts *o,
    const struct load_ops *ops, struct result *res, size_t nconns)
{
	size_t i;

	memset(ld, 0, sizeof *ld);
	ld->l_opts = o;
	ld->l_ops = ops;
	ld->l_res = res;
	ld->l_extra_fd = -1;
	ld->l_scan_every = 10000;
	ld->l_scratch_len = o->o_size + LOAD_SCRATCH;
	if ((ld->l_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	ld->l_conns = calloc(nconns, sizeof *ld->l_conns);
	ld->l_payload = malloc(o->o_size + 1);
	ld->l_scratch = malloc(ld->l_scratch_len);
	if (ld->l_conns == NULL || ld->l_payload == NULL ||
	    ld->l_scratch == NULL) {
		load_free(ld);
		errno = ENOMEM;
		return -1;
	}
	ld->l_nconns = nconns;
	for (i = 0; i < nconns; i++)
		ld->l_conns[i].c_fd = -1;
	/* Printable, not periodic in 2^n, one line: any service takes it. */
	for (i = 0; i < o->o_size; i++)
		ld->l_payload[i] = (char)('a' + i % 23);
	if (o->o_size > 0)
		ld->l_payload[o->o_size - 1] = '\n';
	return 0;
}

void
load_free(struct load *ld)
{
	size_t i;

	for (i = 0; ld->l_conns != NULL && i < ld->l_nconns; i++) {
		if (ld->l_conns[i].c_fd != -1)
			close(ld->l_conns[i].c_fd);
	}
	if (ld->l_epfd != -1)
		close(ld->l_epfd);
	free(ld->l_conns);
	free(ld->l_payload);
	free(ld->l_scratch);
	ld->l_conns = NULL;
	ld->l_payload = ld->l_scratch = NULL;
	ld->l_epfd = -1;
}

enum load_error
conn_error_kind(int error)
{
	switch (error) {
	case ECONNREFUSED:
		return ERR_REFUSED;
	case ECONNRESET:
	case EPIPE:
		return ERR_RESET;
	case ETIMEDOUT:
		return ERR_TIMEOUT;
	case EADDRNOTAVAIL:
	case EADDRINUSE:
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
		return ERR_CONNECT;
	default:
		return ERR_OTHER;
	}
}

/* Why the socket failed, from SO_ERROR. */
enum load_error
conn_socket_error(struct conn *c)
{
	socklen_t len = sizeof(int);
	int error = 0;

	if (getsockopt(c->c_fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		error = errno;
	return error == 0 ? ERR_EOF : conn_error_kind(error);
}

uint64_t
conn_timeout_us(const struct load *ld)
{
	return (uint64_t)(ld->l_opts->o_timeout * 1e6);
}

/* Start a connect to the port at index port; events come edge-triggered. */
int
conn_open(struct load *ld, struct conn *c, size_t port)
{
	const struct load_opts *o = ld->l_opts;
	struct sockaddr_storage ss = o->o_addr;
	struct epoll_event ev;
	int error;

	c->c_port = port;
	c->c_sent = c->c_recvd = 0;
	c->c_readable = false;
	lu_set_port(&ss, o->o_ports[port]);
	c->c_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->c_fd == -1)
		return -1;
	if (connect(c->c_fd, (struct sockaddr *)&ss, o->o_addrlen) == -1 &&
	    errno != EINPROGRESS)
		goto fail;
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = (uint64_t)c->c_gen << 32 | (uint64_t)(c - ld->l_conns);
	if (epoll_ctl(ld->l_epfd, EPOLL_CTL_ADD, c->c_fd, &ev) == -1)
		goto fail;
	c->c_state = CONN_OPENING;
	return 0;
fail:
	error = errno;
	close(c->c_fd);
	c->c_fd = -1;
	errno = error;
	return -1;
}

void
conn_close(struct load *ld, struct conn *c)
{
	(void)ld;
	if (c->c_fd != -1)
		close(c->c_fd);
	c->c_fd = -1;
	c->c_gen++;
	c->c_state = CONN_IDLE;
	c->c_deadline = 0;
}

void
conn_fail(struct load *ld, struct conn *c, enum load_error kind)
{
	ld->l_res->r_errors[kind]++;
	conn_close(ld, c);
}

/* Send what is left of buf[0..len); -1 with errno on failure. */
int
conn_send(struct load *ld, struct conn *c, const char *buf, size_t len)
{
	ssize_t n;

	(void)ld;
	while (c->c_sent < len) {
		n = send(c->c_fd, buf + c->c_sent, len - c->c_sent,
		    MSG_NOSIGNAL);
		if (n > 0) {
			c->c_sent += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n == 0)
			errno = EPIPE;
		return -1;
	}
	return 0;
}

/* Call the mode's expiry for every slot whose deadline has passed. */
static void
load_scan(struct load *ld, uint64_t now)
{
	struct conn *c;
	size_t i;

	ld->l_next_scan = now + ld->l_scan_every;
	for (i = 0; i < ld->l_nconns; i++) {
		c = &ld->l_conns[i];
		if (c->c_deadline != 0 && c->c_deadline <= now)
			ld->l_ops->lo_expire(ld, c);
	}
}

/* Wait at most timeout_ms for events, dispatch them, run due deadlines. */
int
load_poll(struct load *ld, int timeout_ms)
{
	struct epoll_event evs[LOAD_EVENTS];
	uint64_t now = lu_now_us(), id;
	struct conn *c;
	int i, n, until_scan;

	until_scan = ld->l_next_scan > now ?
	    (int)((ld->l_next_scan - now + 999) / 1000) : 0;
	if (timeout_ms > until_scan)
		timeout_ms = until_scan;
	n = epoll_wait(ld->l_epfd, evs, LOAD_EVENTS, timeout_ms);
	if (n == -1 && errno != EINTR)
		return -1;
	for (i = 0; i < n; i++) {
		id = evs[i].data.u64 & 0xffffffffu;
		if (id == LOAD_EXTRA_ID) {
			ld->l_extra_cb(ld);
			continue;
		}
		c = &ld->l_conns[id];
		/* A slot closed and reopened in this batch is not ours. */
		if (c->c_fd == -1 || c->c_gen != (uint32_t)(evs[i].data.u64 >>
		    32))
			continue;
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
			c->c_readable = true;
		ld->l_ops->lo_event(ld, c, evs[i].events);
	}
	now = lu_now_us();
	if (now >= ld->l_next_scan)
		load_scan(ld, now);
	return n < 0 ? 0 : n;
}

/* Watch another descriptor (level-triggered) in the same loop. */
int
load_watch(struct load *ld, int fd, void (*cb)(struct load *))
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = LOAD_EXTRA_ID;
	ld->l_extra_fd = fd;
	ld->l_extra_cb = cb;
	return epoll_ctl(ld->l_epfd, EPOLL_CTL_ADD, fd, &ev);
}

void
result_add(struct result *r, const char *key, const char *fmt, ...)
{
	size_t jl = strlen(r->r_json), tl = strlen(r->r_text);
	char value[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof value, fmt, ap);
	va_end(ap);
	snprintf(r->r_json + jl, sizeof r->r_json - jl, ",\"%s\":%s", key,
	    value);
	snprintf(r->r_text + tl, sizeof r->r_text - tl, "  %-14s %s\n", key,
	    value);
}

/*
 * The opening phase of echo and hold: connect slots [from, to) with at
 * most o_burst connects in flight, each port in turn. Connect times go to
 * h (if not NULL). Returns how many are open.
 */
struct open_state {
	size_t		 os_next, os_inflight, os_open;
	struct histo	*os_histo;
};

static void
open_event(struct load *ld, struct conn *c, uint32_t events)
{
	struct open_state *os = ld->l_mode;
	enum load_error kind;

	if (c->c_state == CONN_OPEN) {
		/* An open client that the server hangs up on is an error. */
		if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
			kind = conn_socket_error(c);
			conn_fail(ld, c, kind);
		}
		return;
	}
	if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		return;
	os->os_inflight--;
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_fail(ld, c, conn_socket_error(c));
		return;
	}
	c->c_state = CONN_OPEN;
	c->c_deadline = 0;
	os->os_open++;
	if (os->os_histo != NULL)
		histo_add(os->os_histo, lu_now_us() - c->c_start);
}

static void
open_expire(struct load *ld, struct conn *c)
{
	struct open_state *os = ld->l_mode;

	if (c->c_state == CONN_OPENING) {
		os->os_inflight--;
		conn_fail(ld, c, ERR_TIMEOUT);
	}
}

static const struct load_ops open_ops = { open_event, open_expire };

size_t
load_open_all(struct load *ld, size_t from, size_t to, struct histo *h)
{
	struct open_state os = { from, 0, 0, h };
	const struct load_ops *saved_ops = ld->l_ops;
	void *saved_mode = ld->l_mode;
	unsigned burst = ld->l_opts->o_burst;
	struct conn *c;
	size_t i;

	ld->l_ops = &open_ops;
	ld->l_mode = &os;
	while ((os.os_next < to || os.os_inflight > 0) && !load_stop) {
		while (os.os_next < to && os.os_inflight < burst) {
			c = &ld->l_conns[os.os_next];
			c->c_start = lu_now_us();
			if (conn_open(ld, c, os.os_next % ld->l_opts->o_nports)
			    == -1) {
				ld->l_res->r_errors[conn_error_kind(errno)]++;
			} else {
				c->c_deadline = c->c_start +
				    conn_timeout_us(ld);
				os.os_inflight++;
			}
			os.os_next++;
		}
		if (load_poll(ld, 10) == -1)
			break;
	}
	ld->l_ops = saved_ops;
	ld->l_mode = saved_mode;
	os.os_open = 0;
	for (i = from; i < to; i++)
		os.os_open += ld->l_conns[i].c_state == CONN_OPEN;
	return os.os_open;
}

/* Do the n bytes just read continue the expected reply? */
static bool
conn_reply_ok(struct load *ld, struct conn *c, enum load_expect e, size_t n)
{
	static const char ack[] = "ACK\n";

	if (e == EXPECT_ACK)
		return c->c_recvd + n <= 4 &&
		    memcmp(ld->l_scratch, ack + c->c_recvd, n) == 0;
	if (e == EXPECT_ECHO)
		return memcmp(ld->l_scratch, ld->l_payload + c->c_recvd, n) ==
		    0;
	return true;
}

/*
 * Read toward the expected reply: 1 when it is complete, 0 when more is to
 * come, -1 when it failed (counted, and the slot closed).
 */
int
conn_read_reply(struct load *ld, struct conn *c, enum load_expect e)
{
	size_t want = ld->l_scratch_len;
	ssize_t n;

	for (;;) {
		/* Echo replies are read exactly: extra bytes fail the next. */
		if (e == EXPECT_ECHO)
			want = ld->l_opts->o_size - c->c_recvd;
		n = recv(c->c_fd, ld->l_scratch, want, 0);
		if (n > 0) {
			if (!conn_reply_ok(ld, c, e, (size_t)n)) {
				conn_fail(ld, c, ERR_MISMATCH);
				return -1;
			}
			c->c_recvd += (size_t)n;
			if (e == EXPECT_ANY || (e == EXPECT_ECHO &&
			    c->c_recvd == ld->l_opts->o_size))
				return 1;
			continue;
		}
		if (n == 0) {
			if (e == EXPECT_ACK && c->c_recvd == 4)
				return 1;
			conn_fail(ld, c, ERR_EOF);
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			c->c_readable = false;
			return 0;
		}
		conn_fail(ld, c, conn_error_kind(errno));
		return -1;
	}
}
