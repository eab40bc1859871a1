/* What the two reference servers share: options, listeners, the ack rule. */
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadutil.h"
#include "refsrv.h"

static void
ref_usage_exit(const char *name, const char *cause)
{
	if (cause != NULL)
		fprintf(stderr, "%s: %s\n", name, cause);
	fprintf(cause != NULL ? stderr : stdout,
	    "usage: %s [-a] [-b ADDR] [-t THREADS] [-s STACK] [--backlog N] "
	    "PORTS\n"
	    "  PORTS    7001,7002 or 7001-7004; 0 asks the kernel for one\n"
	    "  -a       ack: read one line, reply \"ACK\\n\", close "
	    "(default: echo)\n"
	    "  -b ADDR  loopback address to bind (default 127.0.0.1)\n"
	    "  -t N     ref-epoll: event loop threads (default: CPUs)\n"
	    "  -s N     ref-threads: stack bytes per thread (default 65536)\n",
	    name);
	exit(cause != NULL ? 2 : 0);
}

void
ref_parse(int argc, char **argv, const char *name, struct ref_opts *o)
{
	static const struct option longopts[] = {
		{ "ack", no_argument, NULL, 'a' },
		{ "backlog", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *host = "127.0.0.1";
	char *cause = NULL;
	unsigned long v;
	long ncpu;
	int ch;

	memset(o, 0, sizeof *o);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	o->ro_threads = ncpu > 0 ? (unsigned)ncpu : 1;
	o->ro_stack = 64 * 1024;
	o->ro_backlog = 1024;
	while ((ch = getopt_long(argc, argv, "ab:t:s:h", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'a':
			o->ro_ack = true;
			break;
		case 'b':
			host = optarg;
			break;
		case 't':
			if (lu_parse_ulong(optarg, 1, 256, &v, &cause) == -1)
				ref_usage_exit(name, cause);
			o->ro_threads = (unsigned)v;
			break;
		case 's':
			if (lu_parse_ulong(optarg, 16384, 1ul << 30, &v,
			    &cause) == -1)
				ref_usage_exit(name, cause);
			o->ro_stack = v;
			break;
		case 'B':
			if (lu_parse_ulong(optarg, 1, 65535, &v, &cause) == -1)
				ref_usage_exit(name, cause);
			o->ro_backlog = (int)v;
			break;
		case 'h':
			ref_usage_exit(name, NULL);
			break;
		default:
			ref_usage_exit(name, "bad option");
		}
	}
	if (optind != argc - 1)
		ref_usage_exit(name, "one port list expected");
	if (lu_parse_ports(argv[optind], &o->ro_ports, &o->ro_nports,
	    &cause) == -1 || lu_resolve_loopback(host, &o->ro_addr,
	    &o->ro_addrlen, &cause) == -1)
		ref_usage_exit(name, cause);
}

static int
ref_listen(struct ref_opts *o, size_t i, int flags)
{
	struct sockaddr_storage ss = o->ro_addr;
	socklen_t len = o->ro_addrlen;
	char name[80];
	int fd, one = 1;

	lu_set_port(&ss, o->ro_ports[i]);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | flags,
	    0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, o->ro_backlog) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		lu_format_addr(&ss, name, sizeof name);
		fprintf(stderr, "cannot listen on %s: %s\n", name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	o->ro_ports[i] = lu_get_port(&ss);
	return fd;
}

int *
ref_listen_all(struct ref_opts *o, int flags)
{
	size_t i;
	int *fds;

	/* Listeners, clients, and room for the rest. */
	lu_raise_nofile(1u << 16);
	if ((fds = calloc(o->ro_nports, sizeof *fds)) == NULL)
		exit(1);
	for (i = 0; i < o->ro_nports; i++) {
		if ((fds[i] = ref_listen(o, i, flags)) == -1)
			exit(1);
	}
	return fds;
}

void
ref_announce(const struct ref_opts *o)
{
	struct sockaddr_storage ss = o->ro_addr;
	char name[80];
	size_t i;

	for (i = 0; i < o->ro_nports; i++) {
		lu_set_port(&ss, o->ro_ports[i]);
		lu_format_addr(&ss, name, sizeof name);
		printf("listening %s %s\n", name, o->ro_ack ? "ack" : "echo");
	}
	printf("ready %zu channels\n", o->ro_nports);
	fflush(stdout);
}

void
ref_block_signals(sigset_t *set)
{
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, set, NULL);
}

bool
ref_ack_done(const char *buf, size_t n, size_t *seen)
{
	bool nl = memchr(buf, '\n', n) != NULL;

	*seen += n;
	return nl || *seen >= REF_MAX_LINE;
}

void
ref_wait_and_exit(const sigset_t *set)
{
	int sig;

	while (sigwait(set, &sig) != 0)
		continue;
	exit(0);
}
