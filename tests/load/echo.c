/*
 * echo and bulk: C persistent connections, each a closed loop of S-byte
 * round trips. bulk sends pseudo-random bytes, so that a byte lost, doubled
 * or moved by a relay fails the exact check, and reports MB/s.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdio.h>

#include "loadutil.h"
#include "mpload.h"

#define ECHO_BUSY	CONN_MODE	/* a round trip in flight */

struct echo {
	uint64_t	ec_end;
	uint64_t	ec_started;
	size_t		ec_busy;
	bool		ec_stopping;
};

static bool
echo_stopping(struct load *ld, struct echo *ec)
{
	if (!ec->ec_stopping && (load_stop || ec->ec_started >=
	    ld->l_opts->o_count || lu_now_us() >= ec->ec_end))
		ec->ec_stopping = true;
	return ec->ec_stopping;
}

static void
echo_failed(struct load *ld, struct conn *c, enum load_error kind)
{
	struct echo *ec = ld->l_mode;

	if (c->c_state == ECHO_BUSY)
		ec->ec_busy--;
	if (kind != ERR_N)
		conn_fail(ld, c, kind);
}

/* Send the next request on c, unless the run is over. */
static void
echo_start(struct load *ld, struct conn *c)
{
	struct echo *ec = ld->l_mode;

	if (echo_stopping(ld, ec))
		return;
	ec->ec_started++;
	ec->ec_busy++;
	c->c_state = ECHO_BUSY;
	c->c_sent = c->c_recvd = 0;
	c->c_start = lu_now_us();
	c->c_deadline = c->c_start + conn_timeout_us(ld);
	if (conn_send(ld, c, ld->l_payload, ld->l_opts->o_size) == -1)
		echo_failed(ld, c, conn_error_kind(errno));
}

static void
echo_event(struct load *ld, struct conn *c, uint32_t events)
{
	struct echo *ec = ld->l_mode;
	int rc;

	if (c->c_state != ECHO_BUSY) {
		/* Nothing asked: anything but silence is wrong. */
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			echo_failed(ld, c, (events & EPOLLIN) && !(events &
			    (EPOLLRDHUP | EPOLLHUP)) ? ERR_MISMATCH :
			    conn_socket_error(c));
		return;
	}
	if ((events & EPOLLOUT) && conn_send(ld, c, ld->l_payload,
	    ld->l_opts->o_size) == -1) {
		echo_failed(ld, c, conn_error_kind(errno));
		return;
	}
	if (!c->c_readable)
		return;
	rc = conn_read_reply(ld, c, EXPECT_ECHO);
	if (rc == -1) {
		ec->ec_busy--;
		return;
	}
	if (rc == 0)
		return;
	histo_add(&ld->l_res->r_lat, lu_now_us() - c->c_start);
	ld->l_res->r_count++;
	ec->ec_busy--;
	c->c_state = CONN_OPEN;
	c->c_deadline = 0;
	echo_start(ld, c);
}

static void
echo_expire(struct load *ld, struct conn *c)
{
	echo_failed(ld, c, ERR_TIMEOUT);
}

static const struct load_ops echo_ops = { echo_event, echo_expire };

/* Bytes of a xorshift sequence, with no period a relay could hide in. */
static void
echo_random_fill(char *buf, size_t len)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (char)(x >> 32);
	}
}

static int
echo_loop(const struct load_opts *o, struct result *res, bool bulk)
{
	struct echo ec = { 0 };
	struct load ld;
	uint64_t t0, t1, hard_end;
	size_t i, open;

	if (load_init(&ld, o, &echo_ops, res, o->o_conns) == -1)
		return -1;
	ld.l_mode = &ec;
	if (bulk)
		echo_random_fill(ld.l_payload, o->o_size);
	open = load_open_all(&ld, 0, ld.l_nconns, NULL);
	t0 = lu_now_us();
	ec.ec_end = t0 + (uint64_t)(o->o_duration * 1e6);
	hard_end = ec.ec_end + conn_timeout_us(&ld) + 1000000;
	for (i = 0; i < ld.l_nconns; i++) {
		if (ld.l_conns[i].c_state == CONN_OPEN)
			echo_start(&ld, &ld.l_conns[i]);
	}
	while (!(echo_stopping(&ld, &ec) && ec.ec_busy == 0) &&
	    lu_now_us() < hard_end) {
		if (load_poll(&ld, 10) == -1)
			break;
	}
	t1 = lu_now_us();
	res->r_elapsed = (double)(t1 - t0) / 1e6;
	result_add(res, "connections", "%zu", open);
	if (bulk) {
		/* Bytes that came back whole: each crossed the path twice. */
		result_add(res, "bytes", "%llu", (unsigned long long)
		    (res->r_count * o->o_size));
		result_add(res, "mb_s", "%.1f", res->r_elapsed > 0 ?
		    (double)(res->r_count * o->o_size) / res->r_elapsed / 1e6 :
		    0);
	}
	load_free(&ld);
	return 0;
}

int
echo_run(const struct load_opts *o, struct result *res)
{
	return echo_loop(o, res, false);
}

int
bulk_run(const struct load_opts *o, struct result *res)
{
	return echo_loop(o, res, true);
}
