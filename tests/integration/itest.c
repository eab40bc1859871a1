/* In-process integration tests: start a server on port 0, talk over loopback. */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>

#include "channel.h"
#include "itest.h"
#include "log.h"
#include "netaddr.h"
#include "service.h"

static char	itest_tmpdir[64];	/* itest_tmp_create's directory */
static char	itest_logpath[128];	/* itest_capture's file, or "" */
static int	itest_saved_stderr = -1;	/* the real stderr meanwhile */

void
itest_write_file(const char *path, const char *text)
{
	FILE *f;

	ck_assert_msg((f = fopen(path, "we")) != NULL, "%s: %s", path,
	    strerror(errno));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* Parse cmdline as argv and start; the log goes to t_logfd if set. */
static void
itest_boot(struct itest *t, const char *cmdline)
{
	char *copy, *word, *save = NULL, *cause = NULL;
	int rc, level = t->t_logfd != -1 ? LOG_WARN : LOG_ERROR;

	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	log_init(getenv("ITEST_LOG") != NULL ? LOG_DEBUG : level,
	    LOG_FORMAT_TEXT, t->t_logfd != -1 ? t->t_logfd : 2);
	t->t_argv[t->t_argc++] = strdup("mpserver");
	copy = strdup(cmdline);
	for (word = strtok_r(copy, " ", &save); word != NULL && t->t_argc < 63;
	    word = strtok_r(NULL, " ", &save))
		t->t_argv[t->t_argc++] = strdup(word);
	free(copy);
	rc = options_parse(t->t_argc, t->t_argv, service_specs(), SERVICE_DEFAULT,
	    &t->t_opts, &cause);
	ck_assert_msg(rc == OPTIONS_RUN, "options: %s", cause ? cause : "?");
	ck_assert_msg(server_open(&t->t_server, &t->t_opts, NULL, 0, &cause) == 0,
	    "open: %s", cause ? cause : "?");
	ck_assert_msg(server_start(&t->t_server, &cause) == 0, "start: %s",
	    cause ? cause : "?");
}

void
itest_start(struct itest *t, const char *cmdline)
{
	memset(t, 0, sizeof *t);
	t->t_logfd = -1;
	itest_boot(t, cmdline);
}

void
itest_start_conf(struct itest *t, const char *cmdline, const char *conf)
{
	char logname[] = "/tmp/itest-log-XXXXXX", *line = NULL;
	int fd;

	memset(t, 0, sizeof *t);
	t->t_logfd = -1;
	if (conf != NULL) {
		snprintf(t->t_conf, sizeof t->t_conf, "/tmp/itest-conf-XXXXXX");
		ck_assert_int_ge(fd = mkstemp(t->t_conf), 0);
		close(fd);
		itest_write_file(t->t_conf, conf);
		ck_assert_int_ge(asprintf(&line, "%s -f %s", cmdline,
		    t->t_conf), 0);
	}
	/* A file, not a pipe: a full pipe would block the server's threads. */
	ck_assert_int_ge(t->t_logfd = mkostemp(logname, O_RDWR | O_APPEND |
	    O_CLOEXEC), 0);
	unlink(logname);	/* nothing left behind, even by a failed test */
	itest_boot(t, line != NULL ? line : cmdline);
	free(line);
}

/* What itest_stop frees once server_stop has returned. */
static void
itest_free(struct itest *t)
{
	char *text;
	int i;

	options_free(&t->t_opts);
	for (i = 0; i < t->t_argc; i++)
		free(t->t_argv[i]);
	t->t_argc = 0;
	if (t->t_logfd != -1) {
		/* Every thread is gone: nobody logs to it any more. */
		log_init(LOG_ERROR, LOG_FORMAT_TEXT, 2);
		if (getenv("ITEST_LOG") != NULL) {
			text = itest_log(t);
			fputs(text, stderr);
			free(text);
		}
		close(t->t_logfd);
		t->t_logfd = -1;
	}
	if (t->t_conf[0] != '\0')
		unlink(t->t_conf);
	t->t_conf[0] = '\0';
}

void
itest_stop(struct itest *t)
{
	server_stop(&t->t_server);
	itest_free(t);
}

static void *
itest_stopper_main(void *arg)
{
	struct itest_stopper *s = arg;

	server_stop(&s->s_test->t_server);
	s->s_ms = itest_now_ms() - s->s_start;
	return NULL;
}

static bool
itest_stopping(struct itest *t)
{
	return atomic_load(&t->t_server.sv_stopping);
}

void
itest_stop_in_background(struct itest_stopper *s, struct itest *t)
{
	s->s_test = t;
	s->s_start = itest_now_ms();
	ck_assert_int_eq(pthread_create(&s->s_thread, NULL, itest_stopper_main,
	    s), 0);
	ck_assert(itest_eventually(itest_stopping, t, ITEST_TIMEOUT_MS));
}

void
itest_stop_join(struct itest_stopper *s)
{
	ck_assert_int_eq(pthread_join(s->s_thread, NULL), 0);
	itest_free(s->s_test);
}

/* One reload, on a thread of its own so that a stuck one fails the test. */
struct itest_reload_job {
	struct itest		*rj_t;
	struct server_reload	*rj_sr;
	char			*rj_cause;
	int			 rj_rc;
};

static void *
itest_reload_main(void *arg)
{
	struct itest_reload_job *rj = arg;
	struct conf_list list;

	memset(&list, 0, sizeof list);
	/* As main_reload does on SIGHUP. */
	rj->rj_rc = options_reload(&rj->rj_t->t_opts, service_specs(), &list,
	    &rj->rj_cause);
	if (rj->rj_rc == 0)
		rj->rj_rc = server_reload(&rj->rj_t->t_server, &list, rj->rj_sr,
		    &rj->rj_cause);
	conf_list_free(&list);
	return NULL;
}

int
itest_reload(struct itest *t, const char *conf, struct server_reload *sr,
    char **cause)
{
	static struct itest_reload_job rj;	/* outlives a stuck reload */
	struct timespec deadline;
	pthread_t thread;
	int error;

	ck_assert_msg(t->t_conf[0] != '\0', "itest_reload needs itest_start_conf");
	itest_write_file(t->t_conf, conf);
	memset(sr, 0, sizeof *sr);
	memset(&rj, 0, sizeof rj);
	rj.rj_t = t;
	rj.rj_sr = sr;
	ck_assert_int_eq(pthread_create(&thread, NULL, itest_reload_main, &rj),
	    0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += ITEST_RELOAD_S;
	error = pthread_timedjoin_np(thread, NULL, &deadline);
	ck_assert_msg(error == 0, "server_reload has not returned in %d s: "
	    "stuck (a deadlock?)", ITEST_RELOAD_S);
	*cause = rj.rj_cause;
	return rj.rj_rc;
}

char *
itest_log(struct itest *t)
{
	size_t len = 0, size = 4096;
	char *text = malloc(size + 1);
	ssize_t n;

	ck_assert_msg(t->t_logfd != -1, "itest_log needs itest_start_conf");
	while ((n = pread(t->t_logfd, text + len, size - len, (off_t)len)) > 0) {
		len += (size_t)n;
		if (len == size)
			text = realloc(text, (size *= 2) + 1);
	}
	text[len] = '\0';
	return text;
}

socklen_t
itest_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return sizeof *sin;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
		return 0;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	return sizeof *sin6;
}

struct channel *
itest_channel(struct itest *t, size_t channel)
{
	ck_assert_uint_lt(channel, t->t_server.sv_nchannels);
	return t->t_server.sv_channels[channel];
}

uint16_t
itest_port(struct itest *t, size_t channel)
{
	return itest_channel(t, channel)->ch_port;
}

struct channel *
itest_channel_on(struct itest *t, uint16_t port)
{
	struct channel *const *chs, *ch = NULL;
	size_t i, n;

	chs = server_channels(&t->t_server, &n);
	for (i = 0; i < n && ch == NULL; i++) {
		if (chs[i]->ch_port == port)
			ch = chs[i];
	}
	server_channels_done(&t->t_server);
	return ch;
}

struct channel *
itest_on(struct itest *t, uint16_t port)
{
	struct channel *ch = itest_channel_on(t, port);

	ck_assert_msg(ch != NULL, "no channel on port %u", port);
	return ch;
}

unsigned long long
itest_accepted(struct itest *t, uint16_t port)
{
	return stats_get(itest_on(t, port)->ch_stats->cs_accepted);
}

unsigned long long
itest_rejected(struct itest *t, uint16_t port, int reason)
{
	return stats_get(itest_on(t, port)->ch_stats->cs_rejected[reason]);
}

bool
itest_nobody_active(struct itest *t)
{
	return server_active_clients(&t->t_server) == 0;
}

/* Bind (and listen on) 127.0.0.1:port as a server would; true if it could. */
static bool
itest_try_bind(uint16_t port, bool reuse)
{
	struct sockaddr_storage ss;
	socklen_t len = itest_sockaddr("127.0.0.1", port, &ss);
	int fd, one = 1;
	bool ok;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return false;
	if (reuse)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	ok = bind(fd, (struct sockaddr *)&ss, len) == 0 && listen(fd, 1) == 0;
	close(fd);
	return ok;
}

bool
itest_port_free(uint16_t port)
{
	return itest_try_bind(port, true);
}

int
itest_listen(uint16_t *port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = itest_sockaddr("127.0.0.1", *port, &ss);
	int fd;

	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    0);
	ck_assert_msg(bind(fd, (struct sockaddr *)&ss, len) == 0,
	    "bind 127.0.0.1 port %u: %s", *port, strerror(errno));
	ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/*
 * Below the kernel's ephemeral range, so that no client's own port (or its
 * TIME_WAIT) takes one of them while the server does not hold it.
 */
uint16_t
itest_free_ports(int n)
{
	static unsigned calls;
	unsigned low = 32768, high = 60999, span, tries, base;
	FILE *f;
	int i;

	if ((f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re")) != NULL) {
		if (fscanf(f, "%u %u", &low, &high) != 2)
			low = 32768;
		fclose(f);
	}
	if (low < 12000)
		low = 32768;
	span = low - 10000 - (unsigned)n;
	for (tries = 0; tries < 500; tries++) {
		base = 10000 + ((unsigned)getpid() * 7919u + calls++ * 104729u) %
		    span;
		for (i = 0; i < n; i++) {
			if (!itest_try_bind((uint16_t)(base + (unsigned)i), false))
				break;
		}
		if (i == n)
			return (uint16_t)base;
	}
	ck_abort_msg("no %d free ports in a row below %u", n, low);
	return 0;
}

/* A client socket, from src if given, connected to addr:port; -1 and errno. */
static int
itest_dial(const char *src, const char *addr, uint16_t port)
{
	struct timeval tv = { .tv_sec = ITEST_TIMEOUT_MS / 1000 };
	struct sockaddr_storage ss, from;
	socklen_t len, fromlen = 0;
	int fd, error;

	if ((len = itest_sockaddr(addr, port, &ss)) == 0 || (src != NULL &&
	    (fromlen = itest_sockaddr(src, 0, &from)) == 0)) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if ((src != NULL && bind(fd, (struct sockaddr *)&from, fromlen) == -1) ||
	    connect(fd, (struct sockaddr *)&ss, len) == -1) {
		error = errno;
		close(fd);
		errno = error;
		return -1;
	}
	return fd;
}

int
itest_connect_to(const char *addr, uint16_t port)
{
	int fd;

	fd = itest_dial(NULL, addr, port);
	ck_assert_msg(fd != -1, "connect %s port %u: %s", addr, port,
	    strerror(errno));
	return fd;
}

int
itest_connect(uint16_t port)
{
	return itest_connect_to("127.0.0.1", port);
}

int
itest_connect_from(const char *src, uint16_t port)
{
	int fd;

	fd = itest_dial(src, "127.0.0.1", port);
	ck_assert_msg(fd != -1, "connect from %s to port %u: %s", src, port,
	    strerror(errno));
	return fd;
}

int
itest_try_connect(const char *src, uint16_t port)
{
	return itest_dial(src, "127.0.0.1", port);
}

void
itest_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

void
itest_sends(int fd, const char *s)
{
	itest_send(fd, s, strlen(s));
}

long
itest_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
itest_read_until(int fd, const char *until, int timeout_ms, size_t *lenp)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0, size = 4096;
	char *buf = malloc(size + 1);
	long start = itest_now_ms(), left;
	ssize_t n;

	buf[0] = '\0';
	while ((left = timeout_ms - (itest_now_ms() - start)) > 0) {
		if (until != NULL && memmem(buf, len, until, strlen(until)))
			break;
		if (poll(&pfd, 1, (int)left) != 1)
			break;
		if (len == size)
			buf = realloc(buf, (size *= 2) + 1);
		if ((n = recv(fd, buf + len, size - len, 0)) <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

bool
itest_closed(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long start = itest_now_ms(), left;
	char buf[4096];
	ssize_t n;

	while ((left = timeout_ms - (itest_now_ms() - start)) > 0) {
		if (poll(&pfd, 1, (int)left) != 1)
			return false;
		if ((n = recv(fd, buf, sizeof buf, 0)) <= 0)
			return n == 0 || errno == ECONNRESET;
	}
	return false;
}

bool
itest_closed_silently(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	char c;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return false;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n == -1 && errno == ECONNRESET);
}

bool
itest_silent(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) == 0;
}

bool
itest_eventually(bool (*cond)(struct itest *), struct itest *t, int timeout_ms)
{
	long start = itest_now_ms();

	for (;;) {
		if (cond(t))
			return true;
		if (itest_now_ms() - start > timeout_ms)
			return false;
		poll(NULL, 0, 5);
	}
}

static int
itest_count_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

int
itest_count_fds(void)
{
	return itest_count_dir("/proc/self/fd") - 1;	/* opendir's own */
}

int
itest_count_threads(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/task");
	char path[300], comm[32];
	int n = 0;
	FILE *f;

	/* Only the server's own (named) threads: sanitizers and Check add theirs. */
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof comm, f) != NULL &&
		    strncmp(comm, "mp-", 3) == 0)
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

char *
itest_cmd(int fd, const char *line)
{
	char *reply, *eol;

	itest_sends(fd, line);
	itest_sends(fd, "\r\n");
	reply = itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL);
	if ((eol = strstr(reply, "\r\n")) != NULL)
		*eol = '\0';
	return reply;
}

char *
itest_scrape(uint16_t port)
{
	int fd = itest_connect(port);
	char *r;

	itest_sends(fd, "GET /metrics HTTP/1.0\r\n\r\n");
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	close(fd);
	return r;
}

void
itest_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l),
	    0);
	close(fd);
}

long
itest_trickle_until_reset(int fd, long t0, long limit_ms, size_t *sent)
{
	struct pollfd pfd = { .fd = fd, .events = 0 };

	while (itest_now_ms() - t0 < limit_ms) {
		if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
			return itest_now_ms() - t0;
		if (sent != NULL)
			(*sent)++;
		/* events 0: only POLLERR/POLLHUP, that is a reset, wake us. */
		if (poll(&pfd, 1, ITEST_TRICKLE_MS) == 1)
			return itest_now_ms() - t0;
	}
	return -1;
}

char *
itest_pattern(size_t len)
{
	unsigned x = 12345;
	char *p = malloc(len);
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		p[i] = (char)(x >> 16);
	}
	return p;
}

static void *
itest_pump_main(void *arg)
{
	struct itest_pump *p = arg;
	size_t off = 0;
	ssize_t n;

	while (off < p->p_len) {
		n = send(p->p_fd, p->p_buf + off, p->p_len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			p->p_errno = n == 0 ? EIO : errno;
			return NULL;
		}
		off += (size_t)n;
	}
	if (p->p_shut && shutdown(p->p_fd, SHUT_WR) == -1)
		p->p_errno = errno;
	return NULL;
}

void
itest_pump_start(struct itest_pump *p, int fd, const char *buf, size_t len,
    bool shut)
{
	memset(p, 0, sizeof *p);
	p->p_fd = fd;
	p->p_buf = buf;
	p->p_len = len;
	p->p_shut = shut;
	ck_assert_int_eq(pthread_create(&p->p_thread, NULL, itest_pump_main, p),
	    0);
}

char *
itest_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	ck_assert_int_ge(vasprintf(&s, fmt, ap), 0);
	va_end(ap);
	return s;
}

char *
itest_slurp(const char *path)
{
	size_t len = 0, size = 4096;
	char *buf = malloc(size + 1);
	ssize_t n;
	int fd;

	ck_assert_ptr_nonnull(buf);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		while ((n = read(fd, buf + len, size - len)) > 0) {
			if ((len += (size_t)n) == size)
				buf = realloc(buf, (size *= 2) + 1);
		}
		close(fd);
	}
	buf[len] = '\0';
	return buf;
}

void
itest_tmp_create(void)
{
	snprintf(itest_tmpdir, sizeof itest_tmpdir, "/tmp/%.40s.XXXXXX",
	    program_invocation_short_name);
	ck_assert_ptr_nonnull(mkdtemp(itest_tmpdir));
}

void
itest_tmp_remove(void)
{
	char path[sizeof itest_tmpdir + 300];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(itest_tmpdir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", itest_tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(itest_tmpdir);
}

const char *
itest_tmp_file(const char *name, const char *text, mode_t mode)
{
	static char path[sizeof itest_tmpdir + 64];
	int fd;

	ck_assert_msg(itest_tmpdir[0] != '\0', "no itest_tmp_create");
	snprintf(path, sizeof path, "%s/%s", itest_tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

void
itest_start_file(struct itest *t, const char *lines, const char *cmdline)
{
	char *line;

	line = itest_fmt("-f %s %s", itest_tmp_file("mpserver.conf", lines,
	    0644), cmdline);
	itest_start(t, line);
	free(line);
}

void
itest_capture(void)
{
	int fd;

	snprintf(itest_logpath, sizeof itest_logpath, "%s/log", itest_tmpdir);
	itest_saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	fd = open(itest_logpath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND |
	    O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	setenv("ITEST_LOG", "1", 1);
}

/* Sanitizers report on stderr too: show the captured log if one did. */
void
itest_capture_release(void)
{
	char *log;

	if (itest_saved_stderr == -1)
		return;
	dup2(itest_saved_stderr, STDERR_FILENO);
	close(itest_saved_stderr);
	itest_saved_stderr = -1;
	log = itest_slurp(itest_logpath);
	if (strstr(log, "Sanitizer") != NULL ||
	    strstr(log, "runtime error") != NULL)
		fputs(log, stderr);
	free(log);
}

TCase *
itest_tcase_tmp(const char *name, void (*setup)(void), int timeout_s)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, itest_tmp_create, itest_tmp_remove);
	tcase_add_checked_fixture(tc, setup, itest_capture_release);
	tcase_set_timeout(tc, timeout_s);
	return tc;
}

char *
itest_capture_find(const char *event, uint16_t port, const char *key,
    const char *value, int ms)
{
	char ev[80], kv[256], padded[4096], *buf, *line, *end, *found = NULL;
	long start = itest_now_ms();

	ck_assert_msg(itest_logpath[0] != '\0', "no itest_capture");
	if (port != 0)
		snprintf(ev, sizeof ev, " event=%s port=%u ", event, port);
	else
		snprintf(ev, sizeof ev, " event=%s ", event);
	snprintf(kv, sizeof kv, " %s=%s ", key, value);
	for (;;) {
		buf = itest_slurp(itest_logpath);
		for (line = buf; (end = strchr(line, '\n')) != NULL;
		    line = end + 1) {
			*end = '\0';
			snprintf(padded, sizeof padded, "%s ", line);
			if (strstr(padded, ev) != NULL &&
			    strstr(padded, kv) != NULL) {
				found = strdup(line);
				break;
			}
		}
		free(buf);
		if (found != NULL || itest_now_ms() - start > ms)
			return found;
		poll(NULL, 0, 10);
	}
}

const char *
itest_log_field(const char *line, const char *key)
{
	static char value[256];
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof pat, " %s=", key);
	value[0] = '\0';
	if ((p = strstr(line, pat)) == NULL)
		return value;
	p += strlen(pat);
	if (*p == '"') {
		for (n = 1; p[n] != '\0' && p[n] != '"'; n++)
			if (p[n] == '\\' && p[n + 1] != '\0')
				n++;
		n += p[n] == '"';
	} else
		n = strcspn(p, " ");
	if (n >= sizeof value)
		n = sizeof value - 1;
	memcpy(value, p, n);
	value[n] = '\0';
	return value;
}

char *
itest_conn_of(int fd, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char peer[NETADDR_STRLEN], *line, *conn;

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	netaddr_format((struct sockaddr *)&ss, peer, sizeof peer);
	line = itest_capture_find("accept", port, "peer", peer,
	    ITEST_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no accept line for %s", peer);
	conn = strdup(itest_log_field(line, "conn"));
	free(line);
	return conn;
}

char *
itest_close_line(int fd, uint16_t port)
{
	char *conn = itest_conn_of(fd, port), *line;

	line = itest_capture_find("close", port, "conn", conn,
	    ITEST_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no close line for conn %s", conn);
	free(conn);
	return line;
}

int
itest_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
