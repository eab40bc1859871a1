/*
 * ref-threads: the plain design to compare mpserver with. One thread per
 * port blocks in accept(); each client gets a new thread (pthread_create,
 * detached, the same 64 KiB stack as mpserver's handlers) doing blocking
 * reads and writes: echo, or with -a one line, "ACK\n", close.
 */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "refsrv.h"

struct tclient {
	int	tc_fd;
	bool	tc_ack;
};

static struct ref_opts opts;
static pthread_attr_t thread_attr;

static int
tclient_write(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
tclient_echo(int fd)
{
	char buf[REF_BUF];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof buf, 0)) > 0 || (n == -1 &&
	    errno == EINTR)) {
		if (n > 0 && tclient_write(fd, buf, (size_t)n) == -1)
			return;
	}
}

static void
tclient_ack(int fd)
{
	char buf[REF_MAX_LINE];
	size_t seen = 0;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof buf, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (ref_ack_done(buf, (size_t)n, &seen))
			break;
	}
	if (seen > 0)
		tclient_write(fd, "ACK\n", 4);
}

static void *
tclient_main(void *arg)
{
	struct tclient *tc = arg;

	if (tc->tc_ack)
		tclient_ack(tc->tc_fd);
	else
		tclient_echo(tc->tc_fd);
	close(tc->tc_fd);
	free(tc);
	return NULL;
}

static void
acceptor_pause(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static void *
acceptor_main(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	struct tclient *tc;
	pthread_t t;

	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				acceptor_pause();	/* do not spin */
			continue;
		}
		if ((tc = malloc(sizeof *tc)) == NULL) {
			close(fd);
			continue;
		}
		tc->tc_fd = fd;
		tc->tc_ack = opts.ro_ack;
		if (pthread_create(&t, &thread_attr, tclient_main, tc) != 0) {
			close(fd);
			free(tc);
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	sigset_t set;
	pthread_t t;
	size_t i;
	int *fds;

	ref_parse(argc, argv, "ref-threads", &opts);
	ref_block_signals(&set);
	fds = ref_listen_all(&opts, 0);
	pthread_attr_init(&thread_attr);
	pthread_attr_setstacksize(&thread_attr, opts.ro_stack);
	pthread_attr_setdetachstate(&thread_attr, PTHREAD_CREATE_DETACHED);
	for (i = 0; i < opts.ro_nports; i++) {
		if (pthread_create(&t, &thread_attr, acceptor_main,
		    (void *)(intptr_t)fds[i]) != 0)
			return 1;
	}
	ref_announce(&opts);
	ref_wait_and_exit(&set);
}
