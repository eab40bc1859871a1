/*
 * ref-epoll: the event-driven design to compare mpserver with. -t event
 * loops (default one per CPU), each with its own epoll instance; every
 * listener is in each with EPOLLEXCLUSIVE, so one loop wakes per client, and
 * the client stays on that loop, edge-triggered, non-blocking. Echo, or
 * with -a one line, "ACK\n", close.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "refsrv.h"

#define EV_BATCH	256
#define ACCEPT_BATCH	64

enum { KIND_LISTENER, KIND_CLIENT };

struct econn {
	int	 ec_kind;
	int	 ec_fd;
	size_t	 ec_seen;	/* ack: bytes of the message so far */
	char	*ec_out;	/* echo: what the socket would not take yet */
	size_t	 ec_outlen;
};

struct eloop {
	pthread_t	 el_thread;
	int		 el_epfd;
};

static struct ref_opts opts;

static void
econn_close(struct econn *ec)
{
	close(ec->ec_fd);
	free(ec->ec_out);
	free(ec);
}

static int
econn_watch(int epfd, struct econn *ec, int op, bool out)
{
	struct epoll_event ev;

	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (out ? EPOLLOUT : 0);
	ev.data.ptr = ec;
	return epoll_ctl(epfd, op, ec->ec_fd, &ev);
}

/* Write what we can; keep the rest and ask for EPOLLOUT. -1 on error. */
static int
econn_write(int epfd, struct econn *ec, const char *buf, size_t len)
{
	ssize_t n = send(ec->ec_fd, buf, len, MSG_NOSIGNAL);
	char *rest;

	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	if (n == -1)
		n = 0;
	if ((size_t)n == len)
		return 0;
	if ((rest = malloc(len - (size_t)n)) == NULL)
		return -1;
	memcpy(rest, buf + n, len - (size_t)n);
	ec->ec_out = rest;
	ec->ec_outlen = len - (size_t)n;
	return econn_watch(epfd, ec, EPOLL_CTL_MOD, true);
}

/* Flush held output; 1 if some is still held, -1 on error. */
static int
econn_flush(int epfd, struct econn *ec)
{
	char *out = ec->ec_out;
	size_t len = ec->ec_outlen;
	int rc;

	if (out == NULL)
		return 0;
	ec->ec_out = NULL;
	ec->ec_outlen = 0;
	rc = econn_write(epfd, ec, out, len);
	free(out);
	if (rc == -1)
		return -1;
	if (ec->ec_out != NULL)
		return 1;
	return econn_watch(epfd, ec, EPOLL_CTL_MOD, false);
}

static void
econn_echo(int epfd, struct econn *ec)
{
	char buf[REF_BUF];
	ssize_t n;
	int rc;

	if ((rc = econn_flush(epfd, ec)) != 0) {
		if (rc == -1)
			econn_close(ec);
		return;
	}
	for (;;) {
		n = recv(ec->ec_fd, buf, sizeof buf, 0);
		if (n > 0) {
			if (econn_write(epfd, ec, buf, (size_t)n) == -1)
				break;
			if (ec->ec_out != NULL)
				return;		/* EPOLLOUT brings us back */
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;
	}
	econn_close(ec);
}

static void
econn_ack(struct econn *ec)
{
	char buf[REF_MAX_LINE];
	ssize_t n;

	for (;;) {
		n = recv(ec->ec_fd, buf, sizeof buf, 0);
		if (n > 0) {
			if (!ref_ack_done(buf, (size_t)n, &ec->ec_seen))
				continue;
			break;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;
	}
	/* A fresh socket's send buffer takes four bytes without waiting. */
	if (ec->ec_seen > 0)
		send(ec->ec_fd, "ACK\n", 4, MSG_NOSIGNAL);
	econn_close(ec);
}

static void
eloop_accept(struct eloop *el, struct econn *lis)
{
	struct econn *ec;
	int fd, i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		fd = accept4(lis->ec_fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (fd == -1)
			return;
		if ((ec = calloc(1, sizeof *ec)) == NULL) {
			close(fd);
			continue;
		}
		ec->ec_kind = KIND_CLIENT;
		ec->ec_fd = fd;
		if (econn_watch(el->el_epfd, ec, EPOLL_CTL_ADD, false) == -1)
			econn_close(ec);
	}
}

static void *
eloop_main(void *arg)
{
	struct epoll_event evs[EV_BATCH];
	struct eloop *el = arg;
	struct econn *ec;
	int i, n;

	for (;;) {
		n = epoll_wait(el->el_epfd, evs, EV_BATCH, -1);
		for (i = 0; i < n; i++) {
			ec = evs[i].data.ptr;
			if (ec->ec_kind == KIND_LISTENER)
				eloop_accept(el, ec);
			else if (opts.ro_ack)
				econn_ack(ec);
			else
				econn_echo(el->el_epfd, ec);
		}
	}
	return NULL;
}

static int
eloop_start(struct eloop *el, struct econn *lis, size_t nlis)
{
	struct epoll_event ev;
	size_t i;

	if ((el->el_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i < nlis; i++) {
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.ptr = &lis[i];
		if (epoll_ctl(el->el_epfd, EPOLL_CTL_ADD, lis[i].ec_fd, &ev) ==
		    -1)
			return -1;
	}
	return pthread_create(&el->el_thread, NULL, eloop_main, el) == 0 ?
	    0 : -1;
}

int
main(int argc, char **argv)
{
	struct econn *lis;
	struct eloop *loops;
	sigset_t set;
	size_t i;
	int *fds;

	ref_parse(argc, argv, "ref-epoll", &opts);
	ref_block_signals(&set);
	fds = ref_listen_all(&opts, SOCK_NONBLOCK);
	lis = calloc(opts.ro_nports, sizeof *lis);
	loops = calloc(opts.ro_threads, sizeof *loops);
	if (lis == NULL || loops == NULL)
		return 1;
	for (i = 0; i < opts.ro_nports; i++) {
		lis[i].ec_kind = KIND_LISTENER;
		lis[i].ec_fd = fds[i];
	}
	for (i = 0; i < opts.ro_threads; i++) {
		if (eloop_start(&loops[i], lis, opts.ro_nports) == -1)
			return 1;
	}
	ref_announce(&opts);
	ref_wait_and_exit(&set);
}
