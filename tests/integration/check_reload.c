/*
 * Per-channel settings from a configuration file and their reload: each
 * setting a line may override, proved by behaviour (max-clients,
 * max-per-ip with its own table, allow/deny replacing the global lists,
 * idle-timeout, max-line, rate with its counter, log line and series);
 * reloads with clients connected (added, removed, changed and unchanged
 * lines, command-line channels untouched, the counts); 50 reloads back to
 * back, and 50 under churning clients; no descriptor or thread left
 * behind; and failed reloads (a bad file, a port in use, out of
 * descriptors) that change nothing.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"
#include "service.h"

#define RELOADS		50	/* reloads in a row, alternating two files */
#define CHURNERS	4	/* client threads during them */

static bool
two_active(struct itest *t)
{
	return server_active_clients(&t->t_server) == 2;
}

static bool
four_active(struct itest *t)
{
	return server_active_clients(&t->t_server) == 4;
}

/* A cmd session from src: its banner is read. */
static int
cmd_open(const char *src, uint16_t port)
{
	int fd = itest_connect_from(src, port);
	char *r;

	r = itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_msg(strncmp(r, "220 ", 4) == 0, "banner on %u: \"%s\"", port,
	    r);
	free(r);
	return fd;
}

static void
cmd_expect(int fd, const char *line, const char *want)
{
	char *r = itest_cmd(fd, line);

	ck_assert_str_eq(r, want);
	free(r);
}

/* An echo round trip on fd. */
static void
echo_ok(int fd, const char *msg)
{
	char *r;

	itest_sends(fd, msg);
	r = itest_read_until(fd, msg, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, msg);
	free(r);
}

/* A whole ack conversation on port. */
static void
ack_ok(uint16_t port)
{
	int fd = itest_connect(port);
	char *r;

	itest_sends(fd, "hello\n");
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "ACK\n");
	free(r);
	close(fd);
}

static void
reload_ok(struct itest *t, const char *conf, struct server_reload *sr)
{
	char *cause = NULL;
	int rc;

	rc = itest_reload(t, conf, sr, &cause);
	ck_assert_msg(rc == 0, "reload: %s", cause != NULL ? cause : "?");
}

static void
counts_are(const struct server_reload *sr, size_t added, size_t removed,
    size_t changed, size_t unchanged)
{
	ck_assert_uint_eq(sr->sr_added, added);
	ck_assert_uint_eq(sr->sr_removed, removed);
	ck_assert_uint_eq(sr->sr_changed, changed);
	ck_assert_uint_eq(sr->sr_unchanged, unchanged);
}

/* --- Per-channel settings ------------------------------------------------ */

START_TEST(max_clients_per_channel)
{
	uint16_t a = itest_free_ports(2), b = a + 1;
	struct itest t;
	int fa[3], fb[3], i;
	char *conf, *r;

	conf = itest_fmt("%u cmd max-clients=2\n%u cmd\n", a, b);
	itest_start_conf(&t, "0:echo", conf);
	fa[0] = cmd_open(NULL, a);
	fa[1] = cmd_open(NULL, a);
	/* The third on a is over its own cap, far inside --max-clients. */
	fa[2] = itest_connect(a);
	r = itest_read_until(fa[2], NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "421 too many connections\r\n");
	free(r);
	for (i = 0; i < 3; i++)
		fb[i] = cmd_open(NULL, b);
	ck_assert_uint_eq(itest_rejected(&t, a, REJECT_BUSY), 1);
	ck_assert_uint_eq(itest_rejected(&t, b, REJECT_BUSY), 0);
	ck_assert_uint_eq(itest_accepted(&t, a), 2);
	ck_assert_uint_eq(itest_accepted(&t, b), 3);
	/* A slot of a frees when one of its clients leaves. */
	close(fa[0]);
	ck_assert(itest_eventually(four_active, &t, ITEST_TIMEOUT_MS));
	fa[0] = cmd_open(NULL, a);
	for (i = 0; i < 3; i++) {
		close(fa[i]);
		close(fb[i]);
	}
	free(conf);
	itest_stop(&t);
}
END_TEST

START_TEST(max_per_ip_own_table)
{
	uint16_t a = itest_free_ports(3), b = a + 1, c = a + 2;
	struct itest t;
	int a1, a2, a3, b1, cs[3], i;
	char *conf;

	conf = itest_fmt("%u echo max-per-ip=1\n%u echo max-per-ip=1\n"
	    "%u echo\n", a, b, c);
	itest_start_conf(&t, "0:cmd", conf);
	a1 = itest_connect(a);
	echo_ok(a1, "a1\n");
	/* Its own table: a client of a does not count on b. */
	b1 = itest_connect(b);
	echo_ok(b1, "b1\n");
	a2 = itest_connect(a);
	ck_assert(itest_closed_silently(a2, ITEST_TIMEOUT_MS));
	/* Another source is another count. */
	a3 = itest_connect_from("127.0.0.2", a);
	echo_ok(a3, "a3\n");
	/* A line without it has no limit. */
	for (i = 0; i < 3; i++) {
		cs[i] = itest_connect(c);
		echo_ok(cs[i], "c\n");
	}
	ck_assert_uint_eq(itest_rejected(&t, a, REJECT_PER_IP), 1);
	ck_assert_uint_eq(itest_rejected(&t, b, REJECT_PER_IP), 0);
	ck_assert_uint_eq(itest_rejected(&t, c, REJECT_PER_IP), 0);
	close(a1);
	close(a2);
	close(a3);
	close(b1);
	for (i = 0; i < 3; i++)
		close(cs[i]);
	free(conf);
	itest_stop(&t);
}
END_TEST

/* From src to port: served (echo) or closed without a byte. */
static void
acl_expect(const char *src, uint16_t port, bool served)
{
	int fd = itest_connect_from(src, port);

	if (served)
		echo_ok(fd, "acl\n");
	else
		ck_assert_msg(itest_closed_silently(fd, ITEST_TIMEOUT_MS),
		    "%s on port %u was not refused", src, port);
	close(fd);
}

START_TEST(acl_replaces_global_lists)
{
	uint16_t a = itest_free_ports(3), b = a + 1, c = a + 2;
	struct itest t;
	char *conf;

	conf = itest_fmt("%u echo allow=127.0.0.2/32\n%u echo\n"
	    "%u echo deny=127.0.0.1/32\n", a, b, c);
	itest_start_conf(&t, "0:echo --deny 127.0.0.2/32", conf);
	/* a's allow replaces the global deny: only 127.0.0.2 is served. */
	acl_expect("127.0.0.2", a, true);
	acl_expect("127.0.0.1", a, false);
	/* b has none of its own: the global deny applies. */
	acl_expect("127.0.0.2", b, false);
	acl_expect("127.0.0.1", b, true);
	/* c's deny replaces the global one. */
	acl_expect("127.0.0.1", c, false);
	acl_expect("127.0.0.2", c, true);
	acl_expect("127.0.0.2", itest_port(&t, 0), false);
	ck_assert_uint_eq(itest_rejected(&t, a, REJECT_ACL), 1);
	ck_assert_uint_eq(itest_rejected(&t, b, REJECT_ACL), 1);
	ck_assert_uint_eq(itest_rejected(&t, c, REJECT_ACL), 1);
	ck_assert_uint_eq(itest_accepted(&t, a), 1);
	ck_assert_uint_eq(itest_accepted(&t, c), 1);
	free(conf);
	itest_stop(&t);
}
END_TEST

START_TEST(idle_timeout_per_channel)
{
	uint16_t a = itest_free_ports(3), b = a + 1, c = a + 2;
	struct itest t;
	int fa, fb, fc, fg;
	long start, ms;
	char *conf, *r;

	conf = itest_fmt("%u echo idle-timeout=1\n%u cmd idle-timeout=1\n"
	    "%u cmd\n", a, b, c);
	itest_start_conf(&t, "0:echo -t 10", conf);
	fa = itest_connect(a);
	fb = cmd_open(NULL, b);
	fc = cmd_open(NULL, c);
	fg = itest_connect(itest_port(&t, 0));
	start = itest_now_ms();
	echo_ok(fa, "x");
	echo_ok(fg, "y");
	/* cmd says why, at its own time. */
	r = itest_read_until(fb, "\r\n", 3000, NULL);
	ms = itest_now_ms() - start;
	ck_assert_str_eq(r, "421 idle timeout, closing\r\n");
	ck_assert_msg(ms >= 800 && ms < 2500, "cmd idle after %ld ms", ms);
	free(r);
	ck_assert(itest_closed(fa, 2500 - (int)(itest_now_ms() - start)));
	ms = itest_now_ms() - start;
	ck_assert_msg(ms >= 800 && ms < 2500, "echo idle after %ld ms", ms);
	/* The others keep the global 10 s. */
	ck_assert(itest_silent(fg, 500));
	cmd_expect(fc, "PING", "200 PONG");
	echo_ok(fg, "z");
	close(fa);
	close(fb);
	close(fc);
	close(fg);
	free(conf);
	itest_stop(&t);
}
END_TEST

START_TEST(max_line_per_channel)
{
	uint16_t a = itest_free_ports(2), b = a + 1;
	struct itest t;
	int fd;
	char *conf;

	conf = itest_fmt("%u cmd max-line=8\n%u cmd\n", a, b);
	itest_start_conf(&t, "0:echo --max-line 12", conf);
	fd = cmd_open(NULL, a);
	cmd_expect(fd, "ECHO 123", "200 123");		/* 8: at the limit */
	cmd_expect(fd, "ECHO 1234", "421 line too long, closing");
	ck_assert(itest_closed(fd, ITEST_TIMEOUT_MS));
	close(fd);
	/* b has the command line's 12. */
	fd = cmd_open(NULL, b);
	cmd_expect(fd, "ECHO 1234", "200 1234");
	cmd_expect(fd, "ECHO 12345678", "421 line too long, closing");
	close(fd);
	free(conf);
	itest_stop(&t);
}
END_TEST

/* Every channel x reason series, at the value want for (port, reason). */
static void
series_are(struct itest *t, uint16_t port, int reason, unsigned want)
{
	struct channel *const *chs;
	char *r, *line;
	size_t i, n;
	int k;

	r = itest_scrape(itest_port(t, 0));
	chs = server_channels(&t->t_server, &n);
	for (i = 0; i < n; i++) {
		for (k = 0; k < REJECT_NREASONS; k++) {
			line = itest_fmt("\nmpserver_connections_rejected_total"
			    "{port=\"%u\",service=\"%s\",reason=\"%s\"} %u\n",
			    chs[i]->ch_port, chs[i]->ch_service->svc_name,
			    reject_reason_names[k], chs[i]->ch_port == port &&
			    k == reason ? want : 0);
			ck_assert_msg(strstr(r, line) != NULL, "no %s", line);
			free(line);
		}
	}
	server_channels_done(&t->t_server);
	ck_assert_uint_eq(n, 3);
	free(r);
}

START_TEST(rate_per_channel)
{
	uint16_t a = itest_free_ports(2), b = a + 1;
	struct itest t;
	int fa[6], fb[6], i;
	char *conf, *r, *log, *want;

	conf = itest_fmt("%u cmd rate=5\n%u cmd\n", a, b);
	itest_start_conf(&t, "0:metrics", conf);
	/* From the start, rate and proxy included. */
	series_are(&t, a, REJECT_RATE, 0);
	/* A burst: the bucket holds 5. */
	for (i = 0; i < 6; i++)
		fa[i] = itest_connect(a);
	for (i = 0; i < 6; i++)
		fb[i] = itest_connect(b);
	for (i = 0; i < 6; i++) {
		r = itest_read_until(fa[i], "\r\n", ITEST_TIMEOUT_MS, NULL);
		if (i < 5)
			ck_assert_msg(strncmp(r, "220 ", 4) == 0,
			    "client %d: \"%s\"", i, r);
		else
			ck_assert_str_eq(r, "421 too many connections\r\n");
		free(r);
		r = itest_read_until(fb[i], "\r\n", ITEST_TIMEOUT_MS, NULL);
		ck_assert_msg(strncmp(r, "220 ", 4) == 0, "b %d: \"%s\"", i, r);
		free(r);
	}
	ck_assert_uint_eq(itest_rejected(&t, a, REJECT_RATE), 1);
	ck_assert_uint_eq(itest_rejected(&t, a, REJECT_BUSY), 0);
	ck_assert_uint_eq(itest_rejected(&t, b, REJECT_RATE), 0);
	ck_assert_uint_eq(itest_accepted(&t, a), 5);
	log = itest_log(&t);
	want = itest_fmt("event=reject port=%u service=cmd peer=127.0.0.1:", a);
	ck_assert_msg(strstr(log, want) != NULL, "no %s in %s", want, log);
	ck_assert_ptr_nonnull(strstr(strstr(log, want), "reason=rate"));
	free(want);
	free(log);
	series_are(&t, a, REJECT_RATE, 1);
	for (i = 0; i < 6; i++) {
		close(fa[i]);
		close(fb[i]);
	}
	free(conf);
	itest_stop(&t);
}
END_TEST

/* --- Reloads with clients in ---------------------------------------------- */

/* PORTS lists exactly these channels, in this order. */
static void
ports_are(int fd, const uint16_t *ports, const char *const *services,
    size_t n)
{
	char *r, *p, *want;
	size_t i;

	itest_sends(fd, "PORTS\r\n");
	r = itest_read_until(fd, " channels\r\n", ITEST_TIMEOUT_MS, NULL);
	p = r;
	for (i = 0; i < n; i++) {
		want = itest_fmt("211-%u %s ", ports[i], services[i]);
		ck_assert_msg(strncmp(p, want, strlen(want)) == 0,
		    "PORTS line %zu: want %s in %s", i, want, r);
		free(want);
		ck_assert_ptr_nonnull(p = strstr(p, "\r\n"));
		p += 2;
	}
	want = itest_fmt("211 %zu channels\r\n", n);
	ck_assert_str_eq(p, want);
	free(want);
	free(r);
}

START_TEST(reload_add_remove_change)
{
	uint16_t a = itest_free_ports(10), b = a + 1, c = a + 3, d = a + 4;
	uint16_t e = a + 6, ports[8];
	const char *services[8] = { "cmd", "metrics", "cmd", "echo", "ack",
	    "echo", "echo", "echo" };
	struct channel *cmdline, *metrics, *cha, *chd, *newc;
	struct channel_stats *statsc;
	unsigned long long acc_a, acc_d, acc_c;
	struct server_reload sr;
	struct itest t;
	int sa, sb, c_old, c_new, fd, fdc, i;
	char *v1, *v2, *r, *series;
	long t_old, t_new, ms;

	v1 = itest_fmt("%u cmd\n%u-%u cmd max-line=10\n%u echo idle-timeout=1\n"
	    "%u ack\n", a, b, b + 1, c, d);
	v2 = itest_fmt("%u cmd\n%u echo idle-timeout=3\n%u ack\n%u-%u echo\n",
	    a, c, d, e, e + 2);
	itest_start_conf(&t, "0:cmd 0:metrics -t 10", v1);
	cmdline = itest_channel(&t, 0);
	metrics = itest_channel(&t, 1);
	cha = itest_on(&t, a);
	chd = itest_on(&t, d);
	statsc = itest_on(&t, c)->ch_stats;
	fdc = itest_on(&t, c)->ch_fd;
	sa = cmd_open(NULL, a);
	sb = cmd_open(NULL, b);
	ack_ok(d);
	c_old = itest_connect(c);
	echo_ok(c_old, "old");
	t_old = itest_now_ms();
	acc_a = itest_accepted(&t, a);
	acc_d = itest_accepted(&t, d);
	acc_c = itest_accepted(&t, c);

	reload_ok(&t, v2, &sr);
	/* In channels: a range counts each of its ports. */
	counts_are(&sr, 3, 2, 1, 2);
	/* The removed ports are free at once, with a client still in. */
	ck_assert(itest_port_free(b));
	ck_assert(itest_port_free(b + 1));
	ck_assert_ptr_null(itest_channel_on(&t, b));
	/* The changed line: the same port, new clients get its new setting. */
	c_new = itest_connect(c);
	echo_ok(c_new, "new");
	t_new = itest_now_ms();
	newc = itest_on(&t, c);
	ck_assert_uint_eq(newc->ch_port, c);
	ck_assert_int_eq(newc->ch_fd, fdc);	/* the same listening socket */
	ck_assert_uint_eq(newc->ch_conf.cc_idle_timeout, 3);
	ck_assert_ptr_eq(newc->ch_stats, statsc);	/* its series goes on */
	ck_assert_uint_eq(stats_get(newc->ch_stats->cs_accepted), acc_c + 1);
	/* Unchanged lines and the command line's: the very same channels. */
	ck_assert_ptr_eq(itest_channel(&t, 0), cmdline);
	ck_assert_ptr_eq(itest_channel(&t, 1), metrics);
	ck_assert_ptr_eq(itest_on(&t, a), cha);
	ck_assert_ptr_eq(itest_on(&t, d), chd);
	ck_assert_uint_eq(itest_accepted(&t, a), acc_a);
	ck_assert_uint_eq(itest_accepted(&t, d), acc_d);

	/* The old client of c keeps its 1 s; the new one has 3 s. */
	ck_assert(itest_closed(c_old, 2500 - (int)(itest_now_ms() - t_old)));
	ms = itest_now_ms() - t_old;
	ck_assert_msg(ms >= 800 && ms < 2500, "old client idle after %ld ms",
	    ms);
	ck_assert(itest_silent(c_new, 2000 - (int)(itest_now_ms() - t_new)));
	ck_assert(itest_closed(c_new, 3000));
	ms = itest_now_ms() - t_new;
	ck_assert_msg(ms >= 2800 && ms < 4500, "new client idle after %ld ms",
	    ms);

	/* The removed channel's client is served to the end, as before. */
	cmd_expect(sb, "PING", "200 PONG");
	cmd_expect(sb, "ECHO 12345", "200 12345");
	cmd_expect(sb, "ECHO 123456789", "421 line too long, closing");
	/* The unchanged one's client too; PORTS shows the new set, in order. */
	cmd_expect(sa, "PING", "200 PONG");
	ports[0] = itest_port(&t, 0);
	ports[1] = itest_port(&t, 1);
	ports[2] = a;
	ports[3] = c;
	ports[4] = d;
	for (i = 0; i < 3; i++)
		ports[5 + i] = e + (uint16_t)i;
	ports_are(sa, ports, services, 8);
	/* The series of removed channels are gone; the new ones are there. */
	r = itest_scrape(itest_port(&t, 1));
	series = itest_fmt("{port=\"%u\"", b);
	ck_assert_msg(strstr(r, series) == NULL, "%s still in /metrics", series);
	free(series);
	series = itest_fmt("\nmpserver_connections_accepted_total{port=\"%u\","
	    "service=\"echo\"} 0\n", e + 2);
	ck_assert_msg(strstr(r, series) != NULL, "no %s", series);
	free(series);
	free(r);
	ack_ok(d);
	ck_assert_uint_eq(itest_accepted(&t, d), acc_d + 1);
	for (i = 0; i < 3; i++) {
		fd = itest_connect(e + (uint16_t)i);
		echo_ok(fd, "e");
		close(fd);
	}
	close(sa);
	close(sb);
	close(c_old);
	close(c_new);
	free(v1);
	free(v2);
	itest_stop(&t);
}
END_TEST

/*
 * Clients still waiting on a listener when their line goes: one for its
 * first byte (removed echo), one in the middle of its PROXY header
 * (changed cmd). Both are in; both are served to the end.
 */
START_TEST(reload_keeps_waiting_clients)
{
	uint16_t a = itest_free_ports(2), b = a + 1;
	struct server_reload sr;
	struct itest t;
	ssize_t sent;
	int fa, fb, error;
	char *v1, *v2, *r, *want;

	v1 = itest_fmt("%u cmd proxy-from=127.0.0.1/32 idle-timeout=5\n"
	    "%u echo\n", a, b);
	v2 = itest_fmt("%u cmd proxy-from=127.0.0.1/32 idle-timeout=6\n", a);
	itest_start_conf(&t, "0:cmd", v1);
	fa = itest_connect(a);
	itest_sends(fa, "PROXY TCP4 127.0.0.9 127.0.0.1 4242 ");
	fb = itest_connect(b);
	/* Both are taken in, and wait on their listeners' bases. */
	ck_assert(itest_eventually(two_active, &t, ITEST_TIMEOUT_MS));
	reload_ok(&t, v2, &sr);
	counts_are(&sr, 0, 1, 1, 0);
	echo_ok(fb, "first byte after the reload\n");
	/* The rest of the header, then the service's banner. */
	want = itest_fmt("%u\r\n", a);
	sent = send(fa, want, strlen(want), MSG_NOSIGNAL);
	error = errno;
	r = itest_read_until(fa, "\r\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_msg(sent == (ssize_t)strlen(want) && strncmp(r, "220 ", 4) ==
	    0, "a client mid-header when its line changed: expected its "
	    "banner, got \"%s\" (rejected with reason proxy: %llu)", sent == -1 ?
	    strerror(error) : r, itest_rejected(&t, a, REJECT_PROXY));
	free(want);
	free(r);
	r = itest_cmd(fa, "WHOAMI");
	ck_assert_msg(strncmp(r, "200 client=127.0.0.9:4242 ", 26) == 0, "%s",
	    r);
	free(r);
	close(fa);
	close(fb);
	free(v1);
	free(v2);
	itest_stop(&t);
}
END_TEST

/* --- Reloads under load --------------------------------------------------- */

enum { P_K1, P_K2, P_CA, P_CE, P_R, P_S, P_N };

/* The churn: which files are live, and what each client thread saw. */
struct churn {
	uint16_t	 ch_ports[P_N];
	atomic_uint	 ch_epoch;	/* odd while a reload runs */
	atomic_bool	 ch_done;
};

struct churner {
	struct churn	*cr_churn;
	int		 cr_id;
	unsigned	 cr_ok[P_N];
	unsigned	 cr_refused[P_N];	/* allowed: a removed port */
	unsigned	 cr_cut[P_N];	/* allowed: reset by a removal */
	unsigned	 cr_errors;
	char		 cr_error[256];
};

static bool
churn_is_ack(int k)
{
	return k == P_K1 || k == P_CA || k == P_R;
}

/* Is port k listening after `done` reloads? R in one file, S in the other. */
static bool
churn_present(int k, unsigned done)
{
	if (k == P_R)
		return done % 2 == 0;
	if (k == P_S)
		return done % 2 == 1;
	return true;
}

static void
churn_error(struct churner *cr, int k, const char *what, unsigned e0,
    unsigned e1)
{
	static const char *const names[P_N] = { "kept ack", "kept echo",
	    "changed ack", "changed echo", "ack of the first file",
	    "echo of the second file" };

	if (cr->cr_errors++ == 0)
		snprintf(cr->cr_error, sizeof cr->cr_error, "port %u (%s), "
		    "reload epochs %u to %u: %s", cr->cr_churn->ch_ports[k],
		    names[k], e0, e1, what);
}

/* One conversation: true if the whole reply came back, else what did. */
static bool
churn_talk(int fd, int k, unsigned n, char *got, size_t size)
{
	char msg[80], *r;
	bool ok;

	snprintf(msg, sizeof msg, "churn %u on %d: 0123456789abcdef\n", n, k);
	if (send(fd, msg, strlen(msg), MSG_NOSIGNAL) != (ssize_t)strlen(msg)) {
		snprintf(got, size, "send: %s", strerror(errno));
		return false;
	}
	if (churn_is_ack(k)) {
		r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
		ok = strcmp(r, "ACK\n") == 0;
	} else {
		r = itest_read_until(fd, msg, ITEST_TIMEOUT_MS, NULL);
		ok = strcmp(r, msg) == 0;
	}
	snprintf(got, size, "sent \"%.*s\", got \"%s\"", (int)strlen(msg) - 1,
	    msg, r);
	free(r);
	return ok;
}

static void *
churn_main(void *arg)
{
	struct churner *cr = arg;
	struct churn *c = cr->cr_churn;
	unsigned n, e0, e1;
	char got[160];
	bool strict, removable;
	int fd, k;

	for (n = 0; !atomic_load(&c->ch_done); n++) {
		k = (int)((n + (unsigned)cr->cr_id) % P_N);
		removable = k == P_R || k == P_S;
		e0 = atomic_load(&c->ch_epoch);
		fd = itest_try_connect(NULL, c->ch_ports[k]);
		e1 = atomic_load(&c->ch_epoch);
		/* Connected with no reload running, to a port that listened. */
		strict = e0 == e1 && e0 % 2 == 0 && churn_present(k, e0 / 2);
		if (fd == -1) {
			/* A removal may refuse, or reset a handshake it cut. */
			if (errno == ECONNREFUSED && removable && !strict)
				cr->cr_refused[k]++;
			else if (errno == ECONNRESET && removable && !strict)
				cr->cr_cut[k]++;
			else
				churn_error(cr, k, strerror(errno), e0, e1);
			continue;
		}
		if (churn_talk(fd, k, n, got, sizeof got))
			cr->cr_ok[k]++;
		else if (removable && !strict)
			cr->cr_cut[k]++;
		else
			churn_error(cr, k, got, e0, atomic_load(&c->ch_epoch));
		close(fd);
	}
	return NULL;
}

/* Threads of the server (mp-*) with no handler thread left. */
static int churn_threads_want;

static bool
threads_back(struct itest *t)
{
	(void)t;
	return itest_count_threads() == churn_threads_want;
}

/* Start from cmdline and the first, x, of two files the reloads alternate. */
static void
churn_start(struct itest *t, struct churn *c, const char *cmdline, char **x,
    char **y)
{
	const uint16_t *p = c->ch_ports;
	uint16_t base = itest_free_ports(P_N);
	int k;

	memset(c, 0, sizeof *c);
	for (k = 0; k < P_N; k++)
		c->ch_ports[k] = base + (uint16_t)k;
	*x = itest_fmt("%u ack\n%u echo\n%u ack idle-timeout=5\n"
	    "%u echo idle-timeout=5\n%u ack\n", p[P_K1], p[P_K2], p[P_CA],
	    p[P_CE], p[P_R]);
	*y = itest_fmt("%u ack\n%u echo\n%u ack idle-timeout=6\n"
	    "%u echo idle-timeout=6\n%u echo\n", p[P_K1], p[P_K2], p[P_CA],
	    p[P_CE], p[P_S]);
	itest_start_conf(t, cmdline, *x);
}

/*
 * Handlers park for 100 ms only; the server's threads, a listener per
 * channel and the idle thread, once they are named: how many.
 */
static int
churn_threads(struct itest *t)
{
	workers_set_park_ms(&t->t_server.sv_workers, 100);
	churn_threads_want = (int)t->t_server.sv_nchannels + 1;
	ck_assert_msg(itest_eventually(threads_back, t, ITEST_TIMEOUT_MS),
	    "%d threads at the start, %d channels", itest_count_threads(),
	    (int)t->t_server.sv_nchannels);
	return churn_threads_want;
}

/* Once the clients are gone, the descriptors and threads are as before. */
static void
churn_left_nothing(struct itest *t, int fds, int threads)
{
	ck_assert(itest_eventually(itest_nobody_active, t, ITEST_TIMEOUT_MS));
	ck_assert_int_eq(itest_count_fds(), fds);
	/* Listeners as before; parked handlers retire (100 ms here). */
	ck_assert_int_le(itest_count_threads(), threads +
	    (int)t->t_server.sv_workers.wp_max_idle);
	ck_assert_msg(itest_eventually(threads_back, t, ITEST_TIMEOUT_MS),
	    "%d threads, %d before", itest_count_threads(), threads);
}

START_TEST(reload_under_load)
{
	struct churner cr[CHURNERS];
	pthread_t th[CHURNERS];
	struct server_reload sr;
	struct channel *cmdline, *k1;
	struct churn c;
	struct itest t;
	int i, k, fds, threads, session;
	unsigned ok[P_N] = { 0 }, refused = 0, cut = 0;
	char *x, *y;

	churn_start(&t, &c, "0:cmd -t 10", &x, &y);
	cmdline = itest_channel(&t, 0);
	k1 = itest_on(&t, c.ch_ports[P_K1]);
	fds = itest_count_fds();
	threads = churn_threads(&t);
	session = cmd_open(NULL, itest_port(&t, 0));
	memset(cr, 0, sizeof cr);
	for (i = 0; i < CHURNERS; i++) {
		cr[i].cr_churn = &c;
		cr[i].cr_id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn_main, &cr[i]),
		    0);
	}
	poll(NULL, 0, 200);
	for (i = 0; i < RELOADS; i++) {
		atomic_fetch_add(&c.ch_epoch, 1);
		reload_ok(&t, i % 2 == 0 ? y : x, &sr);
		atomic_fetch_add(&c.ch_epoch, 1);
		counts_are(&sr, 1, 1, 2, 2);
		poll(NULL, 0, 20);
	}
	poll(NULL, 0, 200);
	atomic_store(&c.ch_done, true);
	for (i = 0; i < CHURNERS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(cr[i].cr_errors == 0, "thread %d: %u errors, "
		    "first: %s", i, cr[i].cr_errors, cr[i].cr_error);
		for (k = 0; k < P_N; k++)
			ok[k] += cr[i].cr_ok[k];
		for (k = P_R; k <= P_S; k++) {
			refused += cr[i].cr_refused[k];
			cut += cr[i].cr_cut[k];
		}
	}
	/* Every port had real traffic through the reloads. */
	for (k = 0; k < P_N; k++)
		ck_assert_msg(ok[k] >= 10, "only %u clients served on port %u",
		    ok[k], c.ch_ports[k]);
	fprintf(stderr, "reload_under_load: served %u %u %u %u %u %u, "
	    "refused on removed ports %u, cut by a removal %u\n", ok[0], ok[1],
	    ok[2], ok[3], ok[4], ok[5], refused, cut);
	/* The command line's channel, and its client, never noticed. */
	ck_assert_ptr_eq(itest_channel(&t, 0), cmdline);
	ck_assert_ptr_eq(itest_on(&t, c.ch_ports[P_K1]), k1);
	cmd_expect(session, "PING", "200 PONG");
	close(session);
	churn_left_nothing(&t, fds, threads);
	free(x);
	free(y);
	itest_stop(&t);
}
END_TEST

START_TEST(reload_leaves_nothing_behind)
{
	struct server_reload sr;
	struct churn c;
	struct itest t;
	int i, j, k, fds, threads, fd, held[2], heldfd[2];
	char *x, *y, got[160];

	churn_start(&t, &c, "0:echo", &x, &y);
	fds = itest_count_fds();
	threads = churn_threads(&t);
	for (i = 0; i < RELOADS; i++) {
		/* In across the reload: on the changed echo, on the removed port. */
		held[0] = P_CE;
		held[1] = i % 2 == 0 ? P_R : P_S;
		for (j = 0; j < 2; j++)
			heldfd[j] = itest_connect(c.ch_ports[held[j]]);
		reload_ok(&t, i % 2 == 0 ? y : x, &sr);
		/* A new client on every port that listens now. */
		for (k = 0; k < P_N; k++) {
			if (!churn_present(k, (unsigned)i + 1))
				continue;
			fd = itest_connect(c.ch_ports[k]);
			ck_assert_msg(churn_talk(fd, k, (unsigned)i, got,
			    sizeof got), "port %u: %s", c.ch_ports[k], got);
			close(fd);
		}
		for (j = 0; j < 2; j++) {
			ck_assert_msg(churn_talk(heldfd[j], held[j], (unsigned)i,
			    got, sizeof got), "port %u, in before: %s",
			    c.ch_ports[held[j]], got);
			close(heldfd[j]);
		}
	}
	churn_left_nothing(&t, fds, threads);
	free(x);
	free(y);
	itest_stop(&t);
}
END_TEST

/*
 * SIGHUPs in quick succession: each reload replaces or removes channels
 * whose listener threads the one before has just started.
 */
START_TEST(reload_back_to_back)
{
	struct server_reload sr;
	struct churn c;
	struct itest t;
	int i, k, fd;
	char *x, *y, got[160];

	churn_start(&t, &c, "0:cmd", &x, &y);
	for (i = 0; i < RELOADS; i++) {
		reload_ok(&t, i % 2 == 0 ? y : x, &sr);
		counts_are(&sr, 1, 1, 2, 2);
	}
	for (k = 0; k < P_N; k++) {
		if (!churn_present(k, RELOADS))
			continue;
		fd = itest_connect(c.ch_ports[k]);
		ck_assert_msg(churn_talk(fd, k, 0, got, sizeof got),
		    "port %u: %s", c.ch_ports[k], got);
		close(fd);
	}
	free(x);
	free(y);
	itest_stop(&t);
}
END_TEST

/* --- Failed reloads --------------------------------------------------------- */

START_TEST(reload_bad_file_changes_nothing)
{
	uint16_t a = itest_free_ports(2), b = a + 1;
	struct server_reload sr;
	struct channel *cha;
	struct itest t;
	char *v1, *v2, *cause = NULL, *prefix;
	int fd;

	v1 = itest_fmt("%u echo\n", a);
	v2 = itest_fmt("%u echo\n%u echo bogus=1\n", a, b);
	itest_start_conf(&t, "0:cmd", v1);
	cha = itest_on(&t, a);
	ck_assert_int_eq(itest_reload(&t, v2, &sr, &cause), -1);
	prefix = itest_fmt("%s:2: ", t.t_conf);
	ck_assert_msg(cause != NULL && strncmp(cause, prefix, strlen(prefix)) ==
	    0 && strstr(cause, "bogus") != NULL, "cause: %s", cause);
	free(prefix);
	free(cause);
	ck_assert_uint_eq(t.t_server.sv_nchannels, 2);
	ck_assert_ptr_eq(itest_on(&t, a), cha);
	ck_assert_ptr_null(itest_channel_on(&t, b));
	ck_assert(itest_port_free(b));
	fd = itest_connect(a);
	echo_ok(fd, "still\n");
	close(fd);
	free(v1);
	free(v2);
	itest_stop(&t);
}
END_TEST

START_TEST(reload_port_in_use_changes_nothing)
{
	uint16_t a = itest_free_ports(4), c = a + 1, n = a + 2, u = a + 3;
	struct server_reload sr;
	struct channel *cha, *chc;
	struct itest t;
	char *v1, *v2, *cause = NULL, *want;
	int held, fds, fd;
	long start, ms;

	v1 = itest_fmt("%u echo\n%u echo idle-timeout=1\n", a, c);
	v2 = itest_fmt("%u echo\n%u echo idle-timeout=3\n%u echo\n%u echo\n", a,
	    c, n, u);
	itest_start_conf(&t, "0:cmd", v1);
	cha = itest_on(&t, a);
	chc = itest_on(&t, c);
	held = itest_listen(&u, 1);
	fds = itest_count_fds();
	ck_assert_int_eq(itest_reload(&t, v2, &sr, &cause), -1);
	want = itest_fmt("cannot listen on 127.0.0.1:%u: Address already in "
	    "use", u);
	ck_assert_msg(cause != NULL && strcmp(cause, want) == 0, "cause: %s",
	    cause);
	free(want);
	free(cause);
	/* n was bound before u failed: free again, and nothing is left open. */
	ck_assert(itest_port_free(n));
	ck_assert_int_eq(itest_count_fds(), fds);
	ck_assert_uint_eq(t.t_server.sv_nchannels, 3);
	ck_assert_ptr_eq(itest_on(&t, a), cha);
	ck_assert_ptr_eq(itest_on(&t, c), chc);
	ck_assert_ptr_null(itest_channel_on(&t, n));
	/* c keeps its old idle timeout. */
	fd = itest_connect(c);
	echo_ok(fd, "c");
	start = itest_now_ms();
	ck_assert(itest_closed(fd, 2500));
	ms = itest_now_ms() - start;
	ck_assert_msg(ms >= 800 && ms < 2500, "idle after %ld ms", ms);
	close(fd);
	fd = itest_connect(a);
	echo_ok(fd, "a");
	close(fd);
	close(held);
	free(v1);
	free(v2);
	itest_stop(&t);
}
END_TEST

START_TEST(reload_cmdline_port_refused)
{
	uint16_t p = itest_free_ports(2), a = p + 1;
	struct server_reload sr;
	struct channel *cmdline, *cha;
	struct itest t;
	char *cmd, *v1, *v2, *cause = NULL, *want;
	int fd;

	cmd = itest_fmt("%u:cmd", p);
	v1 = itest_fmt("%u echo\n", a);
	v2 = itest_fmt("%u echo\n%u echo\n", a, p);
	itest_start_conf(&t, cmd, v1);
	cmdline = itest_channel(&t, 0);
	cha = itest_on(&t, a);
	ck_assert_int_eq(itest_reload(&t, v2, &sr, &cause), -1);
	want = itest_fmt("%s:2: ", t.t_conf);
	ck_assert_msg(cause != NULL && strncmp(cause, want, strlen(want)) == 0,
	    "cause: %s", cause);
	free(want);
	free(cause);
	ck_assert_ptr_eq(itest_channel(&t, 0), cmdline);
	ck_assert_ptr_eq(itest_on(&t, a), cha);
	ck_assert_str_eq(cmdline->ch_service->svc_name, "cmd");
	fd = cmd_open(NULL, p);
	cmd_expect(fd, "PING", "200 PONG");
	close(fd);
	free(cmd);
	free(v1);
	free(v2);
	itest_stop(&t);
}
END_TEST

/* Write the file and parse it; the server part of the reload is the test's. */
static void
reload_parse(struct itest *t, const char *conf, struct conf_list *list)
{
	char *cause = NULL;

	itest_write_file(t->t_conf, conf);
	memset(list, 0, sizeof *list);
	ck_assert_msg(options_reload(&t->t_opts, service_specs(), list,
	    &cause) == 0, "options_reload: %s", cause);
}

START_TEST(reload_out_of_descriptors)
{
	uint16_t a = itest_free_ports(4), n = a + 1;
	struct server_reload sr;
	struct rlimit saved, low;
	struct conf_list list;
	struct channel *cha;
	struct itest t;
	char *v1, *v2, *cause = NULL;
	int fds, fd, rc, i;

	v1 = itest_fmt("%u echo\n", a);
	v2 = itest_fmt("%u echo\n%u-%u echo\n", a, n, n + 2);
	itest_start_conf(&t, "0:cmd", v1);
	cha = itest_on(&t, a);
	reload_parse(&t, v2, &list);
	fds = itest_count_fds();
	/* Room for the three new sockets, none for their bases. */
	getrlimit(RLIMIT_NOFILE, &saved);
	low = saved;
	low.rlim_cur = (rlim_t)fds + 3;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	rc = server_reload(&t.t_server, &list, &sr, &cause);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
	conf_list_free(&list);
	ck_assert_int_eq(rc, -1);
	/* The sockets were bound; a base could not be made. */
	ck_assert_msg(cause != NULL && strncmp(cause, "cannot start channel "
	    "127.0.0.1:", 31) == 0 && strstr(cause, strerror(EMFILE)) != NULL,
	    "cause: %s", cause);
	free(cause);
	/* Still here, the old set serving, the new ports free again. */
	ck_assert_ptr_eq(itest_on(&t, a), cha);
	ck_assert_uint_eq(t.t_server.sv_nchannels, 2);
	for (i = 0; i < 3; i++)
		ck_assert(itest_port_free(n + (uint16_t)i));
	ck_assert_int_eq(itest_count_fds(), fds);
	fd = itest_connect(a);
	echo_ok(fd, "after\n");
	close(fd);
	fd = cmd_open(NULL, itest_port(&t, 0));
	cmd_expect(fd, "PING", "200 PONG");
	close(fd);
	free(v1);
	free(v2);
	itest_stop(&t);
}
END_TEST

static Suite *
reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("Core");
	TCase *te = tcase_create("Errors");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, max_clients_per_channel);
	tcase_add_test(tc, max_per_ip_own_table);
	tcase_add_test(tc, acl_replaces_global_lists);
	tcase_add_test(tc, idle_timeout_per_channel);
	tcase_add_test(tc, max_line_per_channel);
	tcase_add_test(tc, rate_per_channel);
	tcase_add_test(tc, reload_add_remove_change);
	tcase_add_test(tc, reload_keeps_waiting_clients);
	tcase_add_test(tc, reload_back_to_back);
	tcase_add_test(tc, reload_under_load);
	tcase_add_test(tc, reload_leaves_nothing_behind);
	suite_add_tcase(s, tc);
	tcase_set_timeout(te, 60);
	tcase_add_test(te, reload_bad_file_changes_nothing);
	tcase_add_test(te, reload_port_in_use_changes_nothing);
	tcase_add_test(te, reload_cmdline_port_refused);
	tcase_add_test(te, reload_out_of_descriptors);
	suite_add_tcase(s, te);
	return s;
}

int
main(void)
{
	return itest_main(reload_suite());
}
