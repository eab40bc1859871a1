/*
 * exec (SPEC 10), in-process: /bin/cat relays 256 KiB both ways byte-exact
 * with exact counters and ends on the client's EOF; the environment is
 * exactly the UCSPI one plus env=; stderr is logged, never sent; a
 * grandchild, detached or holding stdout, leaves nothing behind; a client's
 * reset kills its program's group and no other client's; shutdown lets a
 * relay finish within the grace; a program that shrugs off SIGTERM is
 * killed after the idle timeout and after the grace; out of descriptors is
 * a refusal with reason resources. The test process plays mpserver: it is
 * the child subreaper of the programs' orphans, as main() makes itself.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"
#include "netaddr.h"

#define CAT_BYTES	(256 * 1024)
#define GONE_MS		3000	/* SIGTERM, SIGKILL a second later, reaped */

/* Orphans of the programs come to us, to be reaped, as in main(). */
static void
setup(void)
{
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
}

/*
 * An executable /bin/sh script: its path, static till the next file. The
 * file's fields know no shell quoting.
 */
static const char *
tmp_script(const char *name, const char *body)
{
	char text[1024];

	snprintf(text, sizeof text, "#!/bin/sh\n%s\n", body);
	return itest_tmp_file(name, text, 0755);
}

/* A server of one exec channel running such a script, and options. */
static void
start_script(struct itest *t, const char *name, const char *body,
    const char *options)
{
	char *cmdline;

	cmdline = itest_fmt("0:exec=%s %s", tmp_script(name, body), options);
	itest_start(t, cmdline);
	free(cmdline);
}

/* Processes whose parent is this one, zombies included, from /proc. */
static int
count_children(void)
{
	char path[300], buf[512], *p;
	struct dirent *de;
	int n = 0, ppid, fd;
	ssize_t len;
	DIR *d;

	ck_assert_ptr_nonnull(d = opendir("/proc"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		len = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* "pid (comm) state ppid ...": comm may hold anything. */
		if ((p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %*c %d", &ppid) == 1 && ppid == getpid())
			n++;
	}
	closedir(d);
	return n;
}

static bool
no_children_within(int ms)
{
	long start = itest_now_ms();

	while (count_children() != 0) {
		if (itest_now_ms() - start > ms)
			return false;
		poll(NULL, 0, 10);
	}
	return true;
}

static bool
group_gone(pid_t pgid)
{
	return kill(-pgid, 0) == -1 && errno == ESRCH;
}

/* Within ms, no process of the group is left, zombie or not. */
static bool
group_gone_within(pid_t pgid, int ms)
{
	long start = itest_now_ms();

	while (!group_gone(pgid)) {
		if (itest_now_ms() - start > ms)
			return false;
		poll(NULL, 0, 10);
	}
	return true;
}

/* Assert the group is gone within GONE_MS; if not, kill it, not to leak it. */
static void
assert_group_gone(pid_t pgid, const char *what)
{
	bool gone = group_gone_within(pgid, GONE_MS);

	if (!gone)
		kill(-pgid, SIGKILL);
	ck_assert_msg(gone, "%s: process group %d still alive %d ms later",
	    what, (int)pgid, GONE_MS);
}

/* The program's first line: its pid (its process group), then maybe more. */
static pid_t
read_pid(int fd, pid_t *second)
{
	char *line = itest_read_until(fd, "\n", ITEST_TIMEOUT_MS, NULL);
	int pid = 0, other = 0;

	ck_assert_msg(sscanf(line, "%d %d", &pid, &other) >= 1,
	    "no pid from the program: \"%s\"", line);
	free(line);
	ck_assert_int_gt(pid, 1);
	if (second != NULL)
		*second = other;
	return pid;
}

/* The close line of the client on fd says reason=REASON and KEY=VALUE. */
static void
closed_with(int fd, const char *reason, const char *key, const char *value)
{
	char *line = itest_close_line(fd, 0);

	ck_assert_str_eq(itest_log_field(line, "reason"), reason);
	ck_assert_str_eq(itest_log_field(line, key), value);
	free(line);
}

static bool
one_rejected_for_resources(struct itest *t)
{
	return stats_get(itest_channel(t, 0)->ch_stats->
	    cs_rejected[REJECT_RESOURCES]) == 1;
}

/* Exactly want bytes from fd, or fewer if it ends or ms pass. Caller frees. */
static char *
read_exact(int fd, size_t want, int ms, size_t *len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char *buf = malloc(want);
	long start = itest_now_ms(), left;
	ssize_t n;

	*len = 0;
	while (*len < want && (left = ms - (itest_now_ms() - start)) > 0 &&
	    poll(&pfd, 1, (int)left) == 1) {
		if ((n = recv(fd, buf + *len, want - *len, 0)) <= 0)
			break;
		*len += (size_t)n;
	}
	return buf;
}

/* The lowest soft limit that leaves exactly `spare` descriptor numbers free. */
static rlim_t
nofile_leaving(int spare)
{
	int fd;

	for (fd = 0;; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF && --spare == 0)
			return (rlim_t)fd + 1;
	}
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

START_TEST(cat_relays_both_ways)
{
	struct channel_stats *cs;
	struct itest t;
	struct itest_pump p;
	char *data, *got;
	size_t len;
	int fd;

	itest_start(&t, "0:exec=/bin/cat");
	cs = itest_channel(&t, 0)->ch_stats;
	data = itest_pattern(CAT_BYTES);
	fd = itest_connect(itest_port(&t, 0));
	itest_pump_start(&p, fd, data, CAT_BYTES, true);
	got = itest_read_until(fd, NULL, ITEST_SLOW_MS, &len);
	pthread_join(p.p_thread, NULL);
	ck_assert_msg(p.p_errno == 0, "send: %s", strerror(p.p_errno));
	ck_assert_uint_eq(len, CAT_BYTES);
	ck_assert(memcmp(got, data, CAT_BYTES) == 0);
	/* Our EOF closed cat's stdin, cat exited, and we saw the EOF. */
	ck_assert(itest_closed(fd, ITEST_TIMEOUT_MS));
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	ck_assert_uint_eq(stats_get(cs->cs_bytes_in), CAT_BYTES);
	ck_assert_uint_eq(stats_get(cs->cs_bytes_out), CAT_BYTES);
	ck_assert_uint_eq(stats_get(cs->cs_accepted), 1);
	ck_assert(no_children_within(GONE_MS));
	close(fd);
	free(got);
	free(data);
	itest_stop(&t);
}
END_TEST

START_TEST(environment_is_exactly_ucspi)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	char *want[9], *got[16], *out, *line, *save = NULL, *conn;
	size_t n = 0, i;
	struct itest t;
	uint16_t port;
	int fd;

	itest_capture();
	itest_start_file(&t, "0 exec env=FOO=bar env=X=a=b -- /usr/bin/env\n",
	    "");
	port = itest_port(&t, 0);
	fd = itest_connect(port);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &sslen), 0);
	out = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	conn = itest_conn_of(fd, 0);
	asprintf(&want[0], "PATH=/usr/local/bin:/usr/bin:/bin");
	asprintf(&want[1], "PROTO=TCP");
	asprintf(&want[2], "TCPREMOTEIP=127.0.0.1");
	asprintf(&want[3], "TCPREMOTEPORT=%u",
	    netaddr_port((struct sockaddr *)&ss));
	asprintf(&want[4], "TCPLOCALIP=127.0.0.1");
	asprintf(&want[5], "TCPLOCALPORT=%u", port);
	asprintf(&want[6], "MPSERVER_CONN=%s", conn);
	asprintf(&want[7], "FOO=bar");
	asprintf(&want[8], "X=a=b");
	for (line = strtok_r(out, "\n", &save); line != NULL && n < 16;
	    line = strtok_r(NULL, "\n", &save))
		got[n++] = line;
	ck_assert_uint_eq(n, 9);
	qsort(want, 9, sizeof want[0], compare_strings);
	qsort(got, n, sizeof got[0], compare_strings);
	for (i = 0; i < 9; i++)
		ck_assert_str_eq(got[i], want[i]);
	for (i = 0; i < 9; i++)
		free(want[i]);
	free(out);
	free(conn);
	close(fd);
	ck_assert(no_children_within(GONE_MS));
	itest_stop(&t);
}
END_TEST

START_TEST(stderr_is_logged_never_sent)
{
	struct itest t;
	char *out, *line;
	int fd;

	itest_capture();
	start_script(&t, "stderr.sh", "echo out\necho err one >&2\n"
	    "echo out2\nprintf 'err two' >&2", "");
	fd = itest_connect(itest_port(&t, 0));
	out = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(out, "out\nout2\n");
	free(out);
	line = itest_capture_find("stderr", 0, "data", "\"err one\"",
	    ITEST_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no stderr line for \"err one\"");
	ck_assert_str_eq(itest_log_field(line, "level"), "warn");
	free(line);
	/* The last line has no newline: logged once the program is gone. */
	line = itest_capture_find("stderr", 0, "data", "\"err two\"",
	    ITEST_TIMEOUT_MS);
	ck_assert_msg(line != NULL, "no stderr line for \"err two\"");
	free(line);
	line = itest_close_line(fd, 0);
	ck_assert_str_eq(itest_log_field(line, "bytes_out"), "9");
	ck_assert_str_eq(itest_log_field(line, "reason"), "done");
	ck_assert_str_eq(itest_log_field(line, "exit"), "0");
	free(line);
	ck_assert_uint_eq(stats_get(itest_channel(&t, 0)->ch_stats->
	    cs_bytes_out), 9);
	close(fd);
	ck_assert(no_children_within(GONE_MS));
	itest_stop(&t);
}
END_TEST

/* Read the /proc stat of pid: its process group, or -1 if it is gone. */
static pid_t
pgrp_of(pid_t pid)
{
	char path[64], *buf, *p;
	int pgrp = -1;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	buf = itest_slurp(path);
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %d", &pgrp) != 1)
		pgrp = -1;
	free(buf);
	return pgrp;
}

START_TEST(detached_grandchild_leaves_nothing)
{
	struct itest t;
	char *out;
	pid_t pid, child, pgrp;
	int fd;

	start_script(&t, "orphan.sh",
	    "sleep 60 </dev/null >/dev/null 2>&1 &\necho $$ $!", "");
	fd = itest_connect(itest_port(&t, 0));
	pid = read_pid(fd, &child);
	/* The program's pid is its process group; the grandchild is in it. */
	if ((pgrp = pgrp_of(child)) != -1)
		ck_assert_int_eq(pgrp, pid);
	out = itest_read_until(fd, NULL, GONE_MS + 1000, NULL);
	ck_assert_str_eq(out, "");
	free(out);
	ck_assert(itest_closed(fd, 100));
	assert_group_gone(pid, "orphan.sh");
	ck_assert(no_children_within(GONE_MS));
	close(fd);
	itest_stop(&t);
}
END_TEST

/* SPEC 10: when the program exits, the connection is closed. */
START_TEST(program_exit_ends_client_despite_grandchild)
{
	struct itest t;
	pid_t pid, child, pgrp;
	long start;
	bool closed;
	int fd;

	start_script(&t, "holder.sh", "sleep 60 &\necho $$ $!", "");
	fd = itest_connect(itest_port(&t, 0));
	pid = read_pid(fd, &child);
	if ((pgrp = pgrp_of(child)) != -1)
		ck_assert_int_eq(pgrp, pid);
	start = itest_now_ms();
	closed = itest_closed(fd, GONE_MS);
	if (!closed)
		kill(-pid, SIGKILL);
	ck_assert_msg(closed, "holder.sh exited at once, but its client was "
	    "still open %ld ms later (its sleep holds stdout)",
	    itest_now_ms() - start);
	assert_group_gone(pid, "holder.sh");
	ck_assert(no_children_within(GONE_MS));
	close(fd);
	itest_stop(&t);
}
END_TEST

/* The client closes first: the program's group must not outlive it. */
START_TEST(client_close_ends_program_group)
{
	struct itest t;
	pid_t pid;
	int fd;

	start_script(&t, "holder.sh", "sleep 60 &\necho $$ $!", "");
	fd = itest_connect(itest_port(&t, 0));
	pid = read_pid(fd, NULL);
	close(fd);
	assert_group_gone(pid, "holder.sh after its client closed");
	ck_assert(no_children_within(GONE_MS));
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	itest_stop(&t);
}
END_TEST

START_TEST(client_reset_kills_its_group_only)
{
	struct itest t;
	struct itest_pump p;
	char *r, *data, *line, *conn_a;
	pid_t pa, pb;
	size_t len;
	int a, b;

	itest_capture();
	start_script(&t, "pidcat.sh", "echo $$\nexec /bin/cat", "");
	a = itest_connect(itest_port(&t, 0));
	b = itest_connect(itest_port(&t, 0));
	pa = read_pid(a, NULL);
	pb = read_pid(b, NULL);
	ck_assert_int_ne(pa, pb);
	itest_sends(a, "a");
	r = itest_read_until(a, "a", ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "a");
	free(r);
	conn_a = itest_conn_of(a, 0);
	itest_reset(a);

	/* b is relayed on, byte-exact, while a's program is killed. */
	data = itest_pattern(CAT_BYTES);
	itest_pump_start(&p, b, data, CAT_BYTES, false);
	assert_group_gone(pa, "the program of the client that reset");
	r = read_exact(b, CAT_BYTES, ITEST_SLOW_MS, &len);
	pthread_join(p.p_thread, NULL);
	ck_assert_int_eq(p.p_errno, 0);
	ck_assert_uint_eq(len, CAT_BYTES);
	ck_assert(memcmp(r, data, CAT_BYTES) == 0);
	free(r);
	ck_assert_msg(!group_gone(pb), "the other client's program is gone");
	ck_assert_int_eq(shutdown(b, SHUT_WR), 0);
	ck_assert(itest_closed(b, ITEST_TIMEOUT_MS));
	assert_group_gone(pb, "the program of the client that closed");

	line = itest_capture_find("close", 0, "conn", conn_a, ITEST_TIMEOUT_MS);
	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(itest_log_field(line, "reason"), "reset");
	free(line);
	closed_with(b, "done", "exit", "0");
	ck_assert(no_children_within(GONE_MS));
	close(b);
	free(conn_a);
	free(data);
	itest_stop(&t);
}
END_TEST

START_TEST(shutdown_lets_relay_finish)
{
	struct itest_stopper s;
	struct itest t;
	char *r;
	uint16_t port;
	int fd;

	start_script(&t, "pidcat.sh", "echo $$\nexec /bin/cat",
	    "--shutdown-grace 5");
	port = itest_port(&t, 0);
	fd = itest_connect(port);
	read_pid(fd, NULL);
	itest_stop_in_background(&s, &t);
	/* In the grace the relay works on, both ways. */
	itest_sends(fd, "during the grace\n");
	r = itest_read_until(fd, "\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "during the grace\n");
	free(r);
	/* cat ends in time: our EOF, its EOF, and server_stop returns early. */
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert(itest_closed(fd, ITEST_TIMEOUT_MS));
	itest_stop_join(&s);
	ck_assert_msg(s.s_ms < 4000, "server_stop took %ld ms (grace 5 s)",
	    s.s_ms);
	ck_assert(no_children_within(GONE_MS));
	close(fd);
}
END_TEST

START_TEST(idle_kills_program_ignoring_sigterm)
{
	struct itest t;
	char lines[256];
	long start, ms;
	pid_t pid;
	int fd;

	itest_capture();
	snprintf(lines, sizeof lines, "0 exec idle-timeout=1 -- %s\n",
	    tmp_script("stubborn.sh", "trap '' TERM\necho $$\nsleep 60"));
	itest_start_file(&t, lines, "");
	start = itest_now_ms();
	fd = itest_connect(itest_port(&t, 0));
	pid = read_pid(fd, NULL);
	/* Idle after 1 s: SIGTERM, shrugged off; SIGKILL a second later. */
	ck_assert(itest_closed(fd, 6000));
	ms = itest_now_ms() - start;
	ck_assert_msg(ms >= 1800 && ms < 4000, "closed %ld ms after connect "
	    "(idle-timeout=1, SIGKILL 1 s after SIGTERM)", ms);
	assert_group_gone(pid, "stubborn.sh");
	closed_with(fd, "idle_timeout", "signal", "KILL");
	ck_assert(no_children_within(GONE_MS));
	close(fd);
	itest_stop(&t);
}
END_TEST

START_TEST(grace_over_kills_program)
{
	struct itest_stopper s;
	struct itest t;
	pid_t pid;
	int fd;

	itest_capture();
	start_script(&t, "stubborn.sh", "trap '' TERM\necho $$\nsleep 60",
	    "--shutdown-grace 1");
	fd = itest_connect(itest_port(&t, 0));
	pid = read_pid(fd, NULL);
	itest_stop_in_background(&s, &t);
	ck_assert(itest_closed(fd, 6000));
	itest_stop_join(&s);
	/* Grace 1 s, SIGTERM shrugged off, SIGKILL 1 s later, all reaped. */
	ck_assert_msg(s.s_ms >= 1800 && s.s_ms < 5000,
	    "server_stop took %ld ms", s.s_ms);
	ck_assert_msg(group_gone(pid), "stubborn.sh's group outlived "
	    "server_stop");
	ck_assert(no_children_within(GONE_MS));
	closed_with(fd, "forced", "signal", "KILL");
	close(fd);
}
END_TEST

START_TEST(out_of_descriptors_is_resources)
{
	struct channel_stats *cs;
	struct rlimit old, low;
	struct itest t;
	bool closed;
	size_t len;
	char *r;
	int fd;

	itest_start(&t, "0:exec=/bin/cat");
	cs = itest_channel(&t, 0)->ch_stats;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	/* Our socket and the server's accepted one fit; a pipe pair not. */
	low.rlim_cur = nofile_leaving(3);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	fd = itest_connect(itest_port(&t, 0));
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, &len);
	closed = itest_closed(fd, 100);
	close(fd);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	ck_assert_msg(len == 0, "refused client got \"%s\"", r);
	free(r);
	ck_assert(closed);
	ck_assert(itest_eventually(one_rejected_for_resources, &t,
	    ITEST_TIMEOUT_MS));
	ck_assert(itest_eventually(itest_nobody_active, &t, ITEST_TIMEOUT_MS));
	ck_assert_uint_eq(stats_get(cs->cs_accepted), 0);
	ck_assert(no_children_within(GONE_MS));

	/* With descriptors back, the next client is served. */
	fd = itest_connect(itest_port(&t, 0));
	itest_sends(fd, "next\n");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "next\n");
	free(r);
	ck_assert_uint_eq(stats_get(cs->cs_accepted), 1);
	ck_assert_uint_eq(stats_get(cs->cs_rejected[REJECT_RESOURCES]), 1);
	close(fd);
	ck_assert(no_children_within(GONE_MS));
	itest_stop(&t);
}
END_TEST

static Suite *
exec_suite(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = itest_tcase_tmp("Core", setup, 60);

	tcase_add_test(tc, cat_relays_both_ways);
	tcase_add_test(tc, environment_is_exactly_ucspi);
	tcase_add_test(tc, stderr_is_logged_never_sent);
	tcase_add_test(tc, detached_grandchild_leaves_nothing);
	tcase_add_test(tc, shutdown_lets_relay_finish);
	suite_add_tcase(s, tc);

	tc = itest_tcase_tmp("Errors", setup, 60);
	tcase_add_test(tc, program_exit_ends_client_despite_grandchild);
	tcase_add_test(tc, client_close_ends_program_group);
	tcase_add_test(tc, client_reset_kills_its_group_only);
	tcase_add_test(tc, idle_kills_program_ignoring_sigterm);
	tcase_add_test(tc, grace_over_kills_program);
	tcase_add_test(tc, out_of_descriptors_is_resources);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return itest_main(exec_suite());
}
