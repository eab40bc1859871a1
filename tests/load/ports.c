/*
 * ports: start-up cost. Probe every port of the list (connect, one line, any
 * reply) until each answers; a refused connect is retried, the whole run has
 * --timeout. With a command after "--" we start the server ourselves, so the
 * clock starts at fork, and we also note its ready line, its memory then and
 * once all ports answered, and how long SIGTERM takes to end it. "-p 0" with a
 * command probes the ports of its "listening" lines, from its ready line on
 * (servers on port 0; memory at ready that no probe has touched).
 */
#include <sys/epoll.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loadutil.h"
#include "mpload.h"

#define PORTS_SENDING	CONN_MODE
#define PORTS_READING	(CONN_MODE + 1)
#define PORTS_RETRY_US	1000	/* a refused port is tried again after this */
#define PORTS_STOP_S	30	/* SIGTERM, then SIGKILL after this long */

struct ports {
	uint64_t	pt_t0;
	uint64_t	pt_deadline;
	size_t		pt_next;	/* next port index to probe */
	size_t		pt_left;	/* ports not yet answered nor failed */
	uint64_t	pt_retries;
	pid_t		pt_child;
	int		pt_status;	/* the child's wait status, once reaped */
	bool		pt_reaped;
	uint64_t	pt_ready_us;	/* its ready line, after pt_t0 */
	unsigned long	pt_pss_ready;	/* its PSS then, KiB */
	char		pt_line[256];
	size_t		pt_linelen;
	struct load_opts *pt_announced;	/* -p 0: the ports it listed */
};

/* Take the next port for slot c, or leave it idle. */
static void
ports_probe(struct load *ld, struct conn *c, size_t port)
{
	struct ports *pt = ld->l_mode;

	c->c_start = lu_now_us();
	if (conn_open(ld, c, port) == -1) {
		if (errno != ECONNREFUSED) {
			ld->l_res->r_errors[conn_error_kind(errno)]++;
			pt->pt_left--;
			return;
		}
		pt->pt_retries++;
		c->c_port = port;
		c->c_deadline = c->c_start + PORTS_RETRY_US;
		return;
	}
	c->c_deadline = pt->pt_deadline;
}

static void
ports_next(struct load *ld, struct conn *c)
{
	struct ports *pt = ld->l_mode;

	if (pt->pt_next < ld->l_opts->o_nports)
		ports_probe(ld, c, pt->pt_next++);
}

static void
ports_answered(struct load *ld, struct conn *c)
{
	struct ports *pt = ld->l_mode;

	histo_add(&ld->l_res->r_lat, lu_now_us() - pt->pt_t0);
	ld->l_res->r_count++;
	pt->pt_left--;
	conn_close(ld, c);
	ports_next(ld, c);
}

static void
ports_failed(struct load *ld, struct conn *c, enum load_error kind)
{
	struct ports *pt = ld->l_mode;
	size_t port = c->c_port;

	if (kind == ERR_REFUSED) {
		/* Not listening yet: the same port again, shortly. */
		conn_close(ld, c);
		pt->pt_retries++;
		c->c_port = port;
		c->c_deadline = lu_now_us() + PORTS_RETRY_US;
		return;
	}
	if (kind != ERR_N)
		conn_fail(ld, c, kind);
	pt->pt_left--;
	ports_next(ld, c);
}

static void
ports_event(struct load *ld, struct conn *c, uint32_t events)
{
	const struct load_opts *o = ld->l_opts;
	int rc;

	if (c->c_state == CONN_OPENING) {
		if (events & EPOLLERR) {
			ports_failed(ld, c, conn_socket_error(c));
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		if (o->o_expect == EXPECT_CONNECT) {
			ports_answered(ld, c);
			return;
		}
		c->c_state = PORTS_SENDING;
	}
	if (c->c_state == PORTS_SENDING) {
		if (conn_send(ld, c, ld->l_payload, o->o_size) == -1) {
			ports_failed(ld, c, conn_error_kind(errno));
			return;
		}
		if (c->c_sent < o->o_size)
			return;
		c->c_state = PORTS_READING;
	}
	if (!c->c_readable)
		return;
	if ((rc = conn_read_reply(ld, c, EXPECT_ANY)) == 1)
		ports_answered(ld, c);
	else if (rc == -1)
		ports_failed(ld, c, ERR_N);
}

static void
ports_expire(struct load *ld, struct conn *c)
{
	struct ports *pt = ld->l_mode;

	if (c->c_state != CONN_IDLE) {
		ports_failed(ld, c, ERR_TIMEOUT);
		return;
	}
	c->c_deadline = 0;
	if (lu_now_us() >= pt->pt_deadline) {
		ld->l_res->r_errors[ERR_TIMEOUT]++;
		pt->pt_left--;
		ports_next(ld, c);
		return;
	}
	ports_probe(ld, c, c->c_port);
}

static const struct load_ops ports_ops = { ports_event, ports_expire };

/* Proportional set size of pid in KiB, from smaps_rollup; 0 if unknown. */
static unsigned long
ports_pss_kib(pid_t pid)
{
	unsigned long kib = 0;
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "Pss: %lu kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* "listening 127.0.0.1:7001 echo": add 7001 to the ports to probe. */
static void
ports_add_listening(struct ports *pt, const char *line)
{
	struct load_opts *o = pt->pt_announced;
	const char *colon, *end;
	unsigned long port = 0;

	if ((end = strchr(line, ' ')) == NULL)
		end = line + strlen(line);
	for (colon = end; colon > line && colon[-1] != ':'; colon--)
		continue;
	for (; colon < end && *colon >= '0' && *colon <= '9'; colon++)
		port = port * 10 + (unsigned long)(*colon - '0');
	if (colon == end && port > 0 && port <= 65535 &&
	    o->o_nports < LU_MAX_PORTS)
		o->o_ports[o->o_nports++] = (uint16_t)port;
}

/* The ready line of a server on port 0: every slot starts probing. */
static void
ports_start_announced(struct load *ld, struct ports *pt)
{
	size_t i;

	pt->pt_left = pt->pt_announced->o_nports;
	for (i = 0; i < ld->l_nconns; i++)
		ports_next(ld, &ld->l_conns[i]);
}

/* One line of the server's stdout. */
static void
ports_child_line(struct load *ld, struct ports *pt)
{
	if (pt->pt_ready_us != 0)
		return;
	if (pt->pt_announced != NULL && strncmp(pt->pt_line, "listening ",
	    10) == 0)
		ports_add_listening(pt, pt->pt_line + 10);
	if (strncmp(pt->pt_line, "ready ", 6) != 0)
		return;
	pt->pt_ready_us = lu_now_us() - pt->pt_t0;
	/* Before our probes (-p 0): the memory of channels nobody used. */
	pt->pt_pss_ready = ports_pss_kib(pt->pt_child);
	if (pt->pt_announced != NULL)
		ports_start_announced(ld, pt);
}

/* The server's stdout: note when its ready line comes. */
static void
ports_child_out(struct load *ld)
{
	struct ports *pt = ld->l_mode;
	char buf[4096];
	ssize_t n, i;

	if ((n = read(ld->l_extra_fd, buf, sizeof buf)) <= 0) {
		if (n == -1 && errno == EAGAIN)
			return;
		epoll_ctl(ld->l_epfd, EPOLL_CTL_DEL, ld->l_extra_fd, NULL);
		close(ld->l_extra_fd);
		ld->l_extra_fd = -1;
		return;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (pt->pt_linelen < sizeof pt->pt_line - 1)
				pt->pt_line[pt->pt_linelen++] = buf[i];
			continue;
		}
		pt->pt_line[pt->pt_linelen] = '\0';
		pt->pt_linelen = 0;
		ports_child_line(ld, pt);
	}
}

static int
ports_spawn(struct load *ld, struct ports *pt, char **argv)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	pt->pt_t0 = lu_now_us();
	if ((pt->pt_child = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pt->pt_child == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "mpload: cannot run %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	return load_watch(ld, fds[0], ports_child_out);
}

static bool
ports_reap(struct ports *pt, int flags)
{
	if (!pt->pt_reaped && pt->pt_child > 0 &&
	    waitpid(pt->pt_child, &pt->pt_status, flags) == pt->pt_child)
		pt->pt_reaped = true;
	return pt->pt_reaped;
}

/* SIGTERM, wait (bounded), SIGKILL if it will not go; milliseconds taken. */
static double
ports_stop_child(struct ports *pt)
{
	struct timespec tick = { 0, 1000000 };
	uint64_t t = lu_now_us(), end = t + PORTS_STOP_S * 1000000ull;

	if (!pt->pt_reaped)
		kill(pt->pt_child, SIGTERM);
	while (!ports_reap(pt, WNOHANG) && lu_now_us() < end)
		nanosleep(&tick, NULL);
	if (!pt->pt_reaped) {
		kill(pt->pt_child, SIGKILL);
		ports_reap(pt, 0);
	}
	return (double)(lu_now_us() - t) / 1e3;
}

static int
ports_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static void
ports_report(struct load *ld, struct ports *pt, char **exec_argv)
{
	struct result *res = ld->l_res;
	unsigned long pss;
	double stop_ms;

	res->r_elapsed = (double)res->r_lat.h_max / 1e6;
	result_add(res, "all_ms", "%.1f", (double)res->r_lat.h_max / 1e3);
	result_add(res, "retries", "%llu", (unsigned long long)
	    pt->pt_retries);
	if (exec_argv == NULL)
		return;
	pss = pt->pt_reaped ? 0 : ports_pss_kib(pt->pt_child);
	stop_ms = ports_stop_child(pt);
	result_add(res, "ready_ms", "%.1f", (double)pt->pt_ready_us / 1e3);
	result_add(res, "pss_ready_kib", "%lu", pt->pt_pss_ready);
	result_add(res, "pss_kib", "%lu", pss);
	result_add(res, "stop_ms", "%.1f", stop_ms);
	result_add(res, "exit", "%d", ports_exit_code(pt->pt_status));
}

/* The server we started may answer on every port before its ready line. */
static bool
ports_want_ready(struct load *ld, struct ports *pt)
{
	return pt->pt_child > 0 && pt->pt_ready_us == 0 &&
	    ld->l_extra_fd != -1;
}

int
ports_run(const struct load_opts *o, struct result *res)
{
	struct load_opts announced;
	struct ports pt = { 0 };
	struct load ld;
	size_t i;

	if (o->o_announced) {
		/* Filled from its listening lines; probes wait for ready. */
		announced = *o;
		announced.o_nports = 0;
		if ((announced.o_ports = calloc(LU_MAX_PORTS,
		    sizeof *announced.o_ports)) == NULL)
			return -1;
		pt.pt_announced = &announced;
		o = &announced;
	}
	if (load_init(&ld, o, &ports_ops, res, o->o_conns) == -1) {
		if (pt.pt_announced != NULL)
			free(announced.o_ports);
		return -1;
	}
	ld.l_mode = &pt;
	ld.l_scan_every = 1000;
	pt.pt_left = o->o_nports;
	pt.pt_t0 = lu_now_us();
	if (o->o_exec != NULL && ports_spawn(&ld, &pt, o->o_exec) == -1) {
		fprintf(stderr, "mpload: cannot start %s: %s\n", o->o_exec[0],
		    strerror(errno));
		goto fail;
	}
	pt.pt_deadline = pt.pt_t0 + conn_timeout_us(&ld);
	for (i = 0; i < ld.l_nconns; i++)
		ports_next(&ld, &ld.l_conns[i]);
	while ((pt.pt_left > 0 || ports_want_ready(&ld, &pt)) && !load_stop &&
	    lu_now_us() < pt.pt_deadline + 1000000) {
		if (load_poll(&ld, 1) == -1 || ports_reap(&pt, WNOHANG))
			break;
	}
	/* What never answered: the server died, or the run was stopped. */
	for (i = 0; i < ld.l_nconns; i++)
		conn_close(&ld, &ld.l_conns[i]);
	res->r_errors[ERR_TIMEOUT] += pt.pt_left;
	ports_report(&ld, &pt, o->o_exec);
	if (pt.pt_announced != NULL)
		result_add(res, "channels", "%zu", o->o_nports);
	if (ld.l_extra_fd != -1)
		close(ld.l_extra_fd);
	load_free(&ld);
	if (pt.pt_announced != NULL)
		free(announced.o_ports);
	return 0;
fail:
	load_free(&ld);
	if (pt.pt_announced != NULL)
		free(announced.o_ports);
	return -1;
}
