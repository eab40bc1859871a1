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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>

#include "channel.h"
#include "itest.h"
#include "log.h"
#include "service.h"

void
itest_start(struct itest *t, const char *cmdline)
{
	char *copy, *word, *save = NULL, *cause = NULL;
	int rc;

	memset(t, 0, sizeof *t);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	log_init(getenv("ITEST_LOG") != NULL ? LOG_DEBUG : LOG_ERROR,
	    LOG_FORMAT_TEXT, 2);
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
itest_stop(struct itest *t)
{
	int i;

	server_stop(&t->t_server);
	options_free(&t->t_opts);
	for (i = 0; i < t->t_argc; i++)
		free(t->t_argv[i]);
	t->t_argc = 0;
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

int
itest_connect_to(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct timeval tv = { .tv_sec = ITEST_TIMEOUT_MS / 1000 };
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof *sin;
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof *sin6;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	ck_assert_msg(connect(fd, (struct sockaddr *)&ss, len) == 0,
	    "connect %s port %u: %s", addr, port, strerror(errno));
	return fd;
}

int
itest_connect(uint16_t port)
{
	return itest_connect_to("127.0.0.1", port);
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

static long
itest_ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000;
}

char *
itest_read_until(int fd, const char *until, int timeout_ms, size_t *lenp)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0, size = 4096;
	char *buf = malloc(size + 1);
	struct timespec start;
	long left;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &start);
	buf[0] = '\0';
	while ((left = timeout_ms - itest_ms_since(&start)) > 0) {
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
	struct timespec start;
	char buf[4096];
	long left;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((left = timeout_ms - itest_ms_since(&start)) > 0) {
		if (poll(&pfd, 1, (int)left) != 1)
			return false;
		if ((n = recv(fd, buf, sizeof buf, 0)) <= 0)
			return n == 0 || errno == ECONNRESET;
	}
	return false;
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
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (cond(t))
			return true;
		if (itest_ms_since(&start) > timeout_ms)
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
