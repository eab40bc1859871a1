/*
 * hold: open N connections spread over the ports, verify each with one echo
 * round trip, keep them. "held K" on stdout marks each stage (--pause-at),
 * where we wait for SIGUSR1 so that a script can measure the server.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <stdio.h>

#include "loadutil.h"
#include "mpload.h"

#define HOLD_VERIFY	CONN_MODE	/* the verifying round trip is out */

struct hold {
	struct histo	ho_verify;	/* round trip times */
	size_t		ho_busy;
};

static void
hold_event(struct load *ld, struct conn *c, uint32_t events)
{
	struct hold *ho = ld->l_mode;
	int rc;

	if (c->c_state != HOLD_VERIFY) {
		/* A held client must hear nothing, and stay open. */
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			conn_fail(ld, c, (events & EPOLLIN) && !(events &
			    (EPOLLRDHUP | EPOLLHUP)) ? ERR_MISMATCH :
			    conn_socket_error(c));
		return;
	}
	if ((events & EPOLLOUT) && conn_send(ld, c, ld->l_payload,
	    ld->l_opts->o_size) == -1) {
		ho->ho_busy--;
		conn_fail(ld, c, conn_error_kind(errno));
		return;
	}
	if (!c->c_readable)
		return;
	if ((rc = conn_read_reply(ld, c, EXPECT_ECHO)) == 0)
		return;
	ho->ho_busy--;
	if (rc == 1) {
		histo_add(&ho->ho_verify, lu_now_us() - c->c_start);
		c->c_state = CONN_OPEN;
		c->c_deadline = 0;
	}
}

static void
hold_expire(struct load *ld, struct conn *c)
{
	struct hold *ho = ld->l_mode;

	if (c->c_state == HOLD_VERIFY)
		ho->ho_busy--;
	conn_fail(ld, c, ERR_TIMEOUT);
}

static const struct load_ops hold_ops = { hold_event, hold_expire };

/* One echo round trip on every open slot of [from, to), all at once. */
static void
hold_verify(struct load *ld, size_t from, size_t to)
{
	struct hold *ho = ld->l_mode;
	struct conn *c;
	size_t i;

	for (i = from; i < to; i++) {
		c = &ld->l_conns[i];
		if (c->c_state != CONN_OPEN)
			continue;
		c->c_state = HOLD_VERIFY;
		c->c_sent = c->c_recvd = 0;
		c->c_start = lu_now_us();
		c->c_deadline = c->c_start + conn_timeout_us(ld);
		ho->ho_busy++;
		if (conn_send(ld, c, ld->l_payload, ld->l_opts->o_size) ==
		    -1) {
			ho->ho_busy--;
			conn_fail(ld, c, conn_error_kind(errno));
		}
	}
	while (ho->ho_busy > 0 && !load_stop) {
		if (load_poll(ld, 10) == -1)
			break;
	}
}

static size_t
hold_count(struct load *ld, size_t to)
{
	size_t i, n = 0;

	for (i = 0; i < to; i++)
		n += ld->l_conns[i].c_state == CONN_OPEN;
	return n;
}

/* Keep what is held for up to seconds, or until SIGUSR1 or a stop. */
static void
hold_wait(struct load *ld, size_t held, double seconds)
{
	uint64_t end = lu_now_us() + (uint64_t)(seconds * 1e6);

	/* Armed before the line is out: the reader's SIGUSR1 is not lost. */
	load_resume = 0;
	printf("held %zu\n", held);
	fflush(stdout);
	while (!load_resume && !load_stop && lu_now_us() < end) {
		if (load_poll(ld, 50) == -1)
			break;
	}
}

int
hold_run(const struct load_opts *o, struct result *res)
{
	struct hold ho = { 0 };
	struct load ld;
	uint64_t t, open_us = 0, verify_us = 0;
	size_t from = 0, to, stage, held = 0;

	if (load_init(&ld, o, &hold_ops, res, o->o_conns) == -1)
		return -1;
	ld.l_mode = &ho;
	for (stage = 0; stage <= o->o_npause && !load_stop; stage++) {
		to = stage < o->o_npause ? o->o_pause[stage] : o->o_conns;
		if (to <= from)
			continue;
		t = lu_now_us();
		load_open_all(&ld, from, to, &res->r_lat);
		open_us += lu_now_us() - t;
		t = lu_now_us();
		hold_verify(&ld, from, to);
		verify_us += lu_now_us() - t;
		held = hold_count(&ld, to);
		hold_wait(&ld, held, o->o_hold);
		from = to;
	}
	/* What is still open after the hold is what was held. */
	held = hold_count(&ld, ld.l_nconns);
	res->r_count = held;
	res->r_elapsed = (double)(open_us + verify_us) / 1e6;
	result_add(res, "held", "%zu", held);
	result_add(res, "open_ms", "%.1f", (double)open_us / 1e3);
	result_add(res, "verify_ms", "%.1f", (double)verify_us / 1e3);
	result_add(res, "verify_p50_us", "%llu", (unsigned long long)
	    histo_quantile(&ho.ho_verify, 0.50));
	result_add(res, "verify_p99_us", "%llu", (unsigned long long)
	    histo_quantile(&ho.ho_verify, 0.99));
	load_free(&ld);
	return 0;
}
