/* churn: C slots, each connect, send one line, read the whole reply, close. */
#include <sys/epoll.h>

#include <errno.h>
#include <stdio.h>

#include "loadutil.h"
#include "mpload.h"

#define CHURN_SENDING	CONN_MODE
#define CHURN_READING	(CONN_MODE + 1)
#define CHURN_RETRY_US	1000	/* a slot whose connect failed waits this */

struct churn {
	uint64_t	ch_end;		/* no new connection from then on */
	uint64_t	ch_started;
	size_t		ch_busy;	/* slots with a connection */
	bool		ch_stopping;
};

static bool
churn_stopping(struct load *ld, struct churn *ch)
{
	if (!ch->ch_stopping && (load_stop || ch->ch_started >=
	    ld->l_opts->o_count || lu_now_us() >= ch->ch_end))
		ch->ch_stopping = true;
	return ch->ch_stopping;
}

/* Begin the next connection in slot c, unless the run is over. */
static void
churn_start(struct load *ld, struct conn *c)
{
	struct churn *ch = ld->l_mode;
	size_t port;

	if (churn_stopping(ld, ch))
		return;
	ch->ch_started++;
	port = ld->l_next_port++ % ld->l_opts->o_nports;
	c->c_start = lu_now_us();
	if (conn_open(ld, c, port) == -1) {
		ld->l_res->r_errors[conn_error_kind(errno)]++;
		c->c_deadline = c->c_start + CHURN_RETRY_US;
		return;
	}
	c->c_deadline = c->c_start + conn_timeout_us(ld);
	ch->ch_busy++;
}

static void
churn_failed(struct load *ld, struct conn *c, enum load_error kind)
{
	struct churn *ch = ld->l_mode;

	if (kind != ERR_N)
		conn_fail(ld, c, kind);
	ch->ch_busy--;
	/* Nobody listening, or out of ports: do not spin on it. */
	if (kind == ERR_REFUSED || kind == ERR_CONNECT) {
		c->c_deadline = lu_now_us() + CHURN_RETRY_US;
		return;
	}
	churn_start(ld, c);
}

static void
churn_done(struct load *ld, struct conn *c)
{
	struct churn *ch = ld->l_mode;

	histo_add(&ld->l_res->r_lat, lu_now_us() - c->c_start);
	ld->l_res->r_count++;
	conn_close(ld, c);
	ch->ch_busy--;
	churn_start(ld, c);
}

static void
churn_event(struct load *ld, struct conn *c, uint32_t events)
{
	const struct load_opts *o = ld->l_opts;
	int rc;

	if (c->c_state == CONN_OPENING) {
		if (events & EPOLLERR) {
			churn_failed(ld, c, conn_socket_error(c));
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		c->c_state = CHURN_SENDING;
	}
	if (c->c_state == CHURN_SENDING) {
		if (conn_send(ld, c, ld->l_payload, o->o_size) == -1) {
			churn_failed(ld, c, conn_error_kind(errno));
			return;
		}
		if (c->c_sent < o->o_size)
			return;
		c->c_state = CHURN_READING;
	}
	if (!c->c_readable)
		return;
	if ((rc = conn_read_reply(ld, c, o->o_expect)) == 1)
		churn_done(ld, c);
	else if (rc == -1)
		churn_failed(ld, c, ERR_N);
}

static void
churn_expire(struct load *ld, struct conn *c)
{
	if (c->c_state == CONN_IDLE) {
		c->c_deadline = 0;
		churn_start(ld, c);	/* the retry of a failed connect */
	} else
		churn_failed(ld, c, ERR_TIMEOUT);
}

static const struct load_ops churn_ops = { churn_event, churn_expire };

int
churn_run(const struct load_opts *o, struct result *res)
{
	struct churn ch = { 0 };
	struct load ld;
	uint64_t t0, hard_end;
	size_t i;

	if (load_init(&ld, o, &churn_ops, res, o->o_conns) == -1)
		return -1;
	ld.l_mode = &ch;
	t0 = lu_now_us();
	ch.ch_end = t0 + (uint64_t)(o->o_duration * 1e6);
	/* In-flight connections get their timeout, then we stop anyway. */
	hard_end = ch.ch_end + conn_timeout_us(&ld) + 1000000;
	for (i = 0; i < ld.l_nconns; i++)
		churn_start(&ld, &ld.l_conns[i]);
	while (!(churn_stopping(&ld, &ch) && ch.ch_busy == 0) &&
	    lu_now_us() < hard_end) {
		if (load_poll(&ld, 10) == -1)
			break;
	}
	res->r_elapsed = (double)(lu_now_us() - t0) / 1e6;
	load_free(&ld);
	return 0;
}
