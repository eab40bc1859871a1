/*
 * conf: the file lines of SPEC 8 (every key at and past its bounds, lists
 * that replace the defaults, comments in every place, tabs, CRLF, the
 * "--" program), whole files (SPEC 8's example, NUL bytes, long lines,
 * unreadable paths), PORTSPEC arguments of SPEC 1 (the old portspec cases,
 * "=ARG" main arguments), ports listed twice across the command line and
 * the file, the channel limit, all-or-nothing appends, and conf_copy,
 * conf_equal and conf_free. Every error is checked whole: "FILE:LINE: "
 * and the quoted token. The services are conf_services.h's table.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "cause.h"
#include "conf.h"
#include "conf_services.h"

#define FILE_NAME	"f.conf"
#define FILE_LINE	3
#define SERVICE_LIST	"ack, echo, discard, chargen, daytime, time, cmd, " \
	"metrics, exec, forward"

static struct conf_list		*list;
static struct conf_defaults	 defaults;
static struct sockaddr_storage	 bind_addr;
static struct cidr		 def_allow[1], def_deny[1], def_proxy[1];
static char			 tmp_path[64];

static struct cidr
cidr(const char *s)
{
	struct cidr c;
	char *cause = NULL;

	ck_assert_msg(cidr_parse(s, &c, &cause) == 0, "%s: %s", s, cause);
	return c;
}

static void
setup(void)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&bind_addr;

	list = calloc(1, sizeof *list);
	ck_assert_ptr_nonnull(list);
	memset(&bind_addr, 0, sizeof bind_addr);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&defaults, 0, sizeof defaults);
	defaults.cd_bind = &bind_addr;
	defaults.cd_max_per_ip = 0;
	defaults.cd_idle_timeout = 300;
	defaults.cd_max_line = 4096;
	defaults.cd_rate = 0;
	tmp_path[0] = '\0';
}

static void
teardown(void)
{
	conf_list_free(list);
	free(list);
	if (tmp_path[0] != '\0')
		unlink(tmp_path);
}

/* Defaults with an allow, a deny and a proxy-from list of one each. */
static void
defaults_lists(void)
{
	def_allow[0] = cidr("10.0.0.0/8");
	def_deny[0] = cidr("10.0.0.5");
	def_proxy[0] = cidr("192.0.2.0/24");
	defaults.cd_allow.cl_items = def_allow;
	defaults.cd_allow.cl_count = 1;
	defaults.cd_deny.cl_items = def_deny;
	defaults.cd_deny.cl_count = 1;
	defaults.cd_proxy_from.cl_items = def_proxy;
	defaults.cd_proxy_from.cl_count = 1;
}

static int
line_parse(const char *line, char **cause)
{
	return conf_parse_line(line, FILE_NAME, FILE_LINE, conf_services,
	    &defaults, list, cause);
}

static void
line_ok(const char *line)
{
	char *cause = NULL;

	ck_assert_msg(line_parse(line, &cause) == 0, "\"%s\" rejected: %s",
	    line, cause ? cause : "(null)");
	ck_assert_ptr_null(cause);
}

/* Rejected with exactly "f.conf:3: " want; the list is as it was. */
static void
line_fail(const char *line, const char *want)
{
	uint8_t seen[sizeof list->cf_seen];
	size_t count = list->cf_count;
	char *cause = NULL, full[512];

	memcpy(seen, list->cf_seen, sizeof seen);
	snprintf(full, sizeof full, "%s:%d: %s", FILE_NAME, FILE_LINE, want);
	ck_assert_msg(line_parse(line, &cause) == -1, "\"%s\" accepted", line);
	ck_assert_msg(cause != NULL && strcmp(cause, full) == 0,
	    "\"%s\": cause \"%s\", want \"%s\"", line, cause, full);
	ck_assert_uint_eq(list->cf_count, count);
	ck_assert_mem_eq(list->cf_seen, seen, sizeof seen);
	free(cause);
}

static int
spec_parse(const char *arg, char **cause)
{
	return conf_parse_portspec(arg, conf_services, SVC_ACK, &defaults,
	    list, cause);
}

static void
spec_ok(const char *arg)
{
	char *cause = NULL;

	ck_assert_msg(spec_parse(arg, &cause) == 0, "\"%s\" rejected: %s",
	    arg, cause ? cause : "(null)");
	ck_assert_ptr_null(cause);
}

/* A rejection whose cause holds quoted; the list is as it was. */
static void
spec_fail(const char *arg, const char *quoted)
{
	size_t count = list->cf_count;
	char *cause = NULL;

	ck_assert_msg(spec_parse(arg, &cause) == -1, "\"%s\" accepted", arg);
	ck_assert_msg(cause != NULL, "\"%s\": no cause", arg);
	ck_assert_msg(strstr(cause, quoted) != NULL,
	    "\"%s\": cause \"%s\" does not quote %s", arg, cause, quoted);
	ck_assert_uint_eq(list->cf_count, count);
	free(cause);
}

/* A rejection with exactly this cause. */
static void
spec_fail_exact(const char *arg, const char *want)
{
	char *cause = NULL;

	ck_assert_msg(spec_parse(arg, &cause) == -1, "\"%s\" accepted", arg);
	ck_assert_msg(cause != NULL && strcmp(cause, want) == 0,
	    "\"%s\": cause \"%s\", want \"%s\"", arg, cause, want);
	free(cause);
}

static const struct channel_conf *
channel(size_t i)
{
	ck_assert_uint_lt(i, list->cf_count);
	return &list->cf_channels[i];
}

static void
expect_channel(size_t i, unsigned port, int service)
{
	ck_assert_uint_eq(channel(i)->cc_port, port);
	ck_assert_int_eq(channel(i)->cc_service, service);
}

static bool
seen(unsigned port)
{
	return list->cf_seen[port / 8] & (1u << (port % 8));
}

/* Write content (len bytes) to a fresh temporary file: tmp_path. */
static const char *
tmp_write(const char *content, size_t len)
{
	int fd;

	if (tmp_path[0] != '\0')
		unlink(tmp_path);
	snprintf(tmp_path, sizeof tmp_path, "/tmp/check_conf.XXXXXX");
	ck_assert_int_ne(fd = mkstemp(tmp_path), -1);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	close(fd);
	return tmp_path;
}

static int
load(const char *path, char **cause)
{
	return conf_load(path, conf_services, &defaults, list, cause);
}

static void
expect_cidrs(const struct cidr_list *cl, size_t n, const struct cidr *want)
{
	size_t i;

	ck_assert_uint_eq(cl->cl_count, n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(cl->cl_items[i].c_family, want[i].c_family);
		ck_assert_int_eq(cl->cl_items[i].c_bits, want[i].c_bits);
		ck_assert_mem_eq(cl->cl_items[i].c_addr, want[i].c_addr, 16);
	}
}

START_TEST(test_conf_line_single)
{
	const struct channel_conf *cc;

	line_ok("7001 ack");
	ck_assert_uint_eq(list->cf_count, 1);
	cc = channel(0);
	expect_channel(0, 7001, SVC_ACK);
	ck_assert_uint_eq(cc->cc_keys, 0);
	ck_assert_uint_eq(cc->cc_max_clients, 0);
	ck_assert_uint_eq(cc->cc_max_per_ip, 0);
	ck_assert(!cc->cc_own_per_ip);
	ck_assert_uint_eq(cc->cc_idle_timeout, 300);
	ck_assert_uint_eq(cc->cc_max_line, 4096);
	ck_assert_uint_eq(cc->cc_rate, 0);
	ck_assert_uint_eq(cc->cc_allow.cl_count, 0);
	ck_assert_uint_eq(cc->cc_deny.cl_count, 0);
	ck_assert_uint_eq(cc->cc_proxy_from.cl_count, 0);
	ck_assert_ptr_null(cc->cc_to);
	ck_assert_uint_eq(cc->cc_connect_timeout, CONF_CONNECT_TIMEOUT_DEFAULT);
	ck_assert_int_eq(cc->cc_proxy_protocol, 0);
	ck_assert_ptr_null(cc->cc_user);
	ck_assert_ptr_null(cc->cc_env);
	ck_assert_ptr_null(cc->cc_argv);
	ck_assert_str_eq(cc->cc_origin, "f.conf:3");
	ck_assert(seen(7001));
}
END_TEST

/* A range: one deep copy per port, each with its own origin. */
START_TEST(test_conf_line_range)
{
	const struct channel_conf *cc;
	unsigned i;

	line_ok("7002-7009    echo      max-clients=64 idle-timeout=30");
	ck_assert_uint_eq(list->cf_count, 8);
	for (i = 0; i < 8; i++) {
		cc = channel(i);
		expect_channel(i, 7002 + i, SVC_ECHO);
		ck_assert_uint_eq(cc->cc_max_clients, 64);
		ck_assert_uint_eq(cc->cc_idle_timeout, 30);
		ck_assert_uint_eq(cc->cc_max_line, 4096);
		ck_assert_uint_eq(cc->cc_keys,
		    CONF_KEY_MAX_CLIENTS | CONF_KEY_IDLE_TIMEOUT);
		ck_assert_str_eq(cc->cc_origin, "f.conf:3");
		if (i > 0)
			ck_assert_ptr_ne(cc->cc_origin, channel(0)->cc_origin);
		ck_assert(seen(7002 + i));
	}
	ck_assert(!seen(7001));
	ck_assert(!seen(7010));
}
END_TEST

START_TEST(test_conf_line_zero_range)
{
	line_ok("0-2 cmd");
	line_ok("0 time");
	ck_assert_uint_eq(list->cf_count, 4);
	expect_channel(0, 0, SVC_CMD);
	expect_channel(1, 1, SVC_CMD);
	expect_channel(2, 2, SVC_CMD);
	expect_channel(3, 0, SVC_TIME);
	line_ok("65535 metrics");
	expect_channel(4, 65535, SVC_METRICS);
}
END_TEST

/* A numeric key, its field, its service and its bounds. */
static const struct {
	const char	*key;
	int		 service;
	size_t		 field;
	unsigned	 min;
	unsigned	 max;
} number_keys[] = {
	{ "max-clients", SVC_CMD, offsetof(struct channel_conf,
	    cc_max_clients), 1, 1000000 },
	{ "max-per-ip", SVC_ECHO, offsetof(struct channel_conf,
	    cc_max_per_ip), 0, 1000000 },
	{ "idle-timeout", SVC_ACK, offsetof(struct channel_conf,
	    cc_idle_timeout), 0, 604800 },
	{ "max-line", SVC_CMD, offsetof(struct channel_conf, cc_max_line), 1,
	    1048576 },
	{ "rate", SVC_METRICS, offsetof(struct channel_conf, cc_rate), 0,
	    1000000 },
	{ "connect-timeout", SVC_FORWARD, offsetof(struct channel_conf,
	    cc_connect_timeout), 1, 3600 },
};

static unsigned
field_of(const struct channel_conf *cc, size_t field)
{
	return *(const unsigned *)(const void *)((const char *)cc + field);
}

/* The line for a key's value on port 7001, with what forward needs. */
static void
number_line(char *buf, size_t size, int i, const char *value)
{
	snprintf(buf, size, "7001 %s %s=%s%s",
	    conf_services[number_keys[i].service]->cs_name, number_keys[i].key,
	    value,
	    number_keys[i].service == SVC_FORWARD ? " to=127.0.0.1:1" : "");
}

START_TEST(test_conf_key_bounds)
{
	char line[128], value[32], want[128];
	unsigned min = number_keys[_i].min, max = number_keys[_i].max;
	const char *key = number_keys[_i].key;

	snprintf(value, sizeof value, "%u", min);
	number_line(line, sizeof line, _i, value);
	line_ok(line);
	ck_assert_uint_eq(field_of(channel(0), number_keys[_i].field), min);
	conf_list_free(list);

	snprintf(value, sizeof value, "%u", max);
	number_line(line, sizeof line, _i, value);
	line_ok(line);
	ck_assert_uint_eq(field_of(channel(0), number_keys[_i].field), max);
	conf_list_free(list);

	snprintf(value, sizeof value, "%u", max + 1);
	number_line(line, sizeof line, _i, value);
	snprintf(want, sizeof want, "%s value \"%u\" is too large (%u-%u)", key,
	    max + 1, min, max);
	line_fail(line, want);

	snprintf(value, sizeof value, "%d", (int)min - 1);
	number_line(line, sizeof line, _i, value);
	snprintf(want, sizeof want, "%s value \"%d\" is too small (%u-%u)", key,
	    (int)min - 1, min, max);
	line_fail(line, want);

	number_line(line, sizeof line, _i, "12x");
	snprintf(want, sizeof want, "%s value \"12x\" is invalid (%u-%u)", key,
	    min, max);
	line_fail(line, want);

	number_line(line, sizeof line, _i, "");
	snprintf(want, sizeof want, "%s value \"\" is invalid (%u-%u)", key,
	    min, max);
	line_fail(line, want);
	ck_assert_uint_eq(list->cf_count, 0);
}
END_TEST

START_TEST(test_conf_key_proxy_protocol)
{
	line_ok("7001 forward to=127.0.0.1:1 proxy-protocol=v1");
	line_ok("7002 forward to=127.0.0.1:1 proxy-protocol=v2");
	line_ok("7003 forward to=127.0.0.1:1");
	ck_assert_int_eq(channel(0)->cc_proxy_protocol, 1);
	ck_assert_int_eq(channel(1)->cc_proxy_protocol, 2);
	ck_assert_int_eq(channel(2)->cc_proxy_protocol, 0);
	ck_assert_uint_eq(channel(1)->cc_keys,
	    CONF_KEY_TO | CONF_KEY_PROXY_PROTOCOL);
	line_fail("7004 forward to=x proxy-protocol=v3",
	    "proxy-protocol value \"v3\" is not one of v1, v2");
	line_fail("7004 forward to=x proxy-protocol=V1",
	    "proxy-protocol value \"V1\" is not one of v1, v2");
	line_fail("7004 forward to=x proxy-protocol=",
	    "proxy-protocol value \"\" is not one of v1, v2");
}
END_TEST

START_TEST(test_conf_forward)
{
	const struct channel_conf *cc;

	line_ok("7011 forward to=127.0.0.1:8080 connect-timeout=9");
	line_ok("7012-7013 forward to=[::1]:8080");
	line_ok("7014 forward to=localhost");
	cc = channel(0);
	ck_assert_str_eq(cc->cc_to, "127.0.0.1:8080");
	ck_assert_uint_eq(cc->cc_connect_timeout, 9);
	ck_assert_str_eq(channel(1)->cc_to, "[::1]:8080");
	ck_assert_str_eq(channel(2)->cc_to, "[::1]:8080");
	ck_assert_ptr_ne(channel(1)->cc_to, channel(2)->cc_to);
	ck_assert_uint_eq(channel(1)->cc_connect_timeout, 5);
	ck_assert_str_eq(channel(3)->cc_to, "localhost");
}
END_TEST

START_TEST(test_conf_exec)
{
	const struct channel_conf *cc;

	line_ok("7010 exec user=nobody env=LANG=C env=X_1= env=_a=b=c "
	    "-- /bin/cat -s a=b -- x");
	cc = channel(0);
	ck_assert_str_eq(cc->cc_user, "nobody");
	ck_assert_str_eq(cc->cc_env[0], "LANG=C");
	ck_assert_str_eq(cc->cc_env[1], "X_1=");
	ck_assert_str_eq(cc->cc_env[2], "_a=b=c");
	ck_assert_ptr_null(cc->cc_env[3]);
	ck_assert_str_eq(cc->cc_argv[0], "/bin/cat");
	ck_assert_str_eq(cc->cc_argv[1], "-s");
	ck_assert_str_eq(cc->cc_argv[2], "a=b");
	ck_assert_str_eq(cc->cc_argv[3], "--");
	ck_assert_str_eq(cc->cc_argv[4], "x");
	ck_assert_ptr_null(cc->cc_argv[5]);
	ck_assert_uint_eq(cc->cc_keys,
	    CONF_KEY_USER | CONF_KEY_ENV | CONF_KEY_PROGRAM);
	line_ok("7011 exec -- /usr/bin/env");
	ck_assert_ptr_null(channel(1)->cc_env);
	ck_assert_ptr_null(channel(1)->cc_user);
	ck_assert_str_eq(channel(1)->cc_argv[0], "/usr/bin/env");
	ck_assert_ptr_null(channel(1)->cc_argv[1]);
}
END_TEST

/* A line's allow or deny replaces both lists; proxy-from its own. */
START_TEST(test_conf_lists_replace)
{
	struct cidr net = cidr("192.168.0.0/16"), host = cidr("::1");
	struct cidr both[2] = { cidr("10.0.0.0/8"), cidr("192.168.0.0/16") };
	struct cidr proxies[2] = { cidr("::1"), cidr("192.168.0.0/16") };

	defaults_lists();
	line_ok("7001 cmd");
	expect_cidrs(&channel(0)->cc_allow, 1, def_allow);
	expect_cidrs(&channel(0)->cc_deny, 1, def_deny);
	expect_cidrs(&channel(0)->cc_proxy_from, 1, def_proxy);
	ck_assert_ptr_ne(channel(0)->cc_allow.cl_items, def_allow);

	line_ok("7002 cmd allow=192.168.0.0/16");
	expect_cidrs(&channel(1)->cc_allow, 1, &net);
	expect_cidrs(&channel(1)->cc_deny, 0, NULL);
	expect_cidrs(&channel(1)->cc_proxy_from, 1, def_proxy);

	line_ok("7003 cmd deny=::1");
	expect_cidrs(&channel(2)->cc_allow, 0, NULL);
	expect_cidrs(&channel(2)->cc_deny, 1, &host);

	line_ok("7004 cmd allow=10.0.0.0/8 deny=::1 allow=192.168.0.0/16");
	expect_cidrs(&channel(3)->cc_allow, 2, both);
	expect_cidrs(&channel(3)->cc_deny, 1, &host);

	line_ok("7005 cmd proxy-from=::1 proxy-from=192.168.0.0/16");
	expect_cidrs(&channel(4)->cc_allow, 1, def_allow);
	expect_cidrs(&channel(4)->cc_deny, 1, def_deny);
	expect_cidrs(&channel(4)->cc_proxy_from, 2, proxies);
	ck_assert_uint_eq(channel(4)->cc_keys, CONF_KEY_PROXY_FROM);
}
END_TEST

START_TEST(test_conf_max_per_ip_own)
{
	defaults.cd_max_per_ip = 7;
	line_ok("7001 echo");
	line_ok("7002 echo max-per-ip=7");
	line_ok("7003 echo max-per-ip=0");
	ck_assert_uint_eq(channel(0)->cc_max_per_ip, 7);
	ck_assert(!channel(0)->cc_own_per_ip);
	ck_assert_uint_eq(channel(1)->cc_max_per_ip, 7);
	ck_assert(channel(1)->cc_own_per_ip);
	ck_assert_uint_eq(channel(2)->cc_max_per_ip, 0);
	ck_assert(channel(2)->cc_own_per_ip);
	ck_assert(!conf_equal(channel(0), channel(1)));
}
END_TEST

START_TEST(test_conf_defaults_carried)
{
	defaults.cd_idle_timeout = 0;
	defaults.cd_max_line = 10;
	defaults.cd_rate = 50;
	line_ok("7001 ack");
	line_ok("7002 ack rate=0 max-line=11");
	ck_assert_uint_eq(channel(0)->cc_idle_timeout, 0);
	ck_assert_uint_eq(channel(0)->cc_max_line, 10);
	ck_assert_uint_eq(channel(0)->cc_rate, 50);
	ck_assert_uint_eq(channel(1)->cc_rate, 0);
	ck_assert_uint_eq(channel(1)->cc_max_line, 11);
}
END_TEST

/* Lines with nothing but blanks and comments add nothing. */
static const char *const empty_lines[] = {
	"", " ", "\t", "\r", " \t \r", "#", "# 7001 ack", "   # x",
	"\t#\t7001 ack", "#7001 ack", "\r\r",
};

START_TEST(test_conf_empty_lines)
{
	line_ok(empty_lines[_i]);
	ck_assert_uint_eq(list->cf_count, 0);
}
END_TEST

START_TEST(test_conf_comments)
{
	line_ok("7001 ack # a comment");
	line_ok("7002 ack #comment max-clients=5");
	line_ok("7003 cmd rate=5 #");
	line_ok("7004 exec -- /bin/cat # -s");
	line_ok("7005 exec -- /bin/cat a#b #c");
	ck_assert_uint_eq(list->cf_count, 5);
	ck_assert_uint_eq(channel(1)->cc_max_clients, 0);
	ck_assert_uint_eq(channel(2)->cc_rate, 5);
	ck_assert_str_eq(channel(3)->cc_argv[0], "/bin/cat");
	ck_assert_ptr_null(channel(3)->cc_argv[1]);
	ck_assert_str_eq(channel(4)->cc_argv[1], "a#b");
	ck_assert_ptr_null(channel(4)->cc_argv[2]);
	/* Not where a field starts: part of the field. */
	line_fail("7006 cmd rate=5#x", "rate value \"5#x\" is invalid "
	    "(0-1000000)");
	line_fail("7006 #cmd", "no service after \"7006\"");
	line_fail("7006 exec -- # /bin/cat", "\"--\" without a program");
	line_fail("7006# cmd", "invalid port \"7006#\" in \"7006#\"");
}
END_TEST

START_TEST(test_conf_blanks)
{
	line_ok("\t7001\t\techo\tmax-clients=5\t");
	line_ok("  7002   echo   max-clients=6  ");
	line_ok("7003 echo max-clients=7\r");
	line_ok("7004\techo \r");
	line_ok("7005 exec -- /bin/cat -s\r");
	ck_assert_uint_eq(list->cf_count, 5);
	ck_assert_uint_eq(channel(0)->cc_max_clients, 5);
	ck_assert_uint_eq(channel(1)->cc_max_clients, 6);
	ck_assert_uint_eq(channel(2)->cc_max_clients, 7);
	expect_channel(3, 7004, SVC_ECHO);
	ck_assert_str_eq(channel(4)->cc_argv[1], "-s");
	ck_assert_ptr_null(channel(4)->cc_argv[2]);
}
END_TEST

/* SPEC 8's example, with a program that exists. */
static const char spec_example[] =
    "# PORTS      SERVICE   [KEY=VALUE ...]                       "
    "[-- PROGRAM [ARG ...]]\n"
    "7001         ack\n"
    "7002-7009    echo      max-clients=64 idle-timeout=30\n"
    "7010         exec      user=nobody env=LANG=C -- /bin/cat -s\n"
    "7011         forward   to=127.0.0.1:8080 proxy-protocol=v2\n"
    "7012         cmd       allow=10.0.0.0/8 allow=192.168.0.0/16 rate=50\n"
    "9100         metrics   allow=127.0.0.0/8\n";

START_TEST(test_conf_load_spec_example)
{
	const char *path = tmp_write(spec_example, strlen(spec_example));
	struct cidr allow[2] = { cidr("10.0.0.0/8"), cidr("192.168.0.0/16") };
	struct cidr lo = cidr("127.0.0.0/8");
	char *cause = NULL, origin[128];
	size_t i;

	ck_assert_msg(load(path, &cause) == 0, "%s", cause);
	ck_assert_ptr_null(cause);
	ck_assert_uint_eq(list->cf_count, 13);
	expect_channel(0, 7001, SVC_ACK);
	snprintf(origin, sizeof origin, "%s:2", path);
	ck_assert_str_eq(channel(0)->cc_origin, origin);
	for (i = 1; i <= 8; i++) {
		expect_channel(i, 7001 + (unsigned)i, SVC_ECHO);
		ck_assert_uint_eq(channel(i)->cc_max_clients, 64);
		ck_assert_uint_eq(channel(i)->cc_idle_timeout, 30);
	}
	snprintf(origin, sizeof origin, "%s:3", path);
	ck_assert_str_eq(channel(8)->cc_origin, origin);
	expect_channel(9, 7010, SVC_EXEC);
	ck_assert_str_eq(channel(9)->cc_user, "nobody");
	ck_assert_str_eq(channel(9)->cc_env[0], "LANG=C");
	ck_assert_str_eq(channel(9)->cc_argv[0], "/bin/cat");
	ck_assert_str_eq(channel(9)->cc_argv[1], "-s");
	expect_channel(10, 7011, SVC_FORWARD);
	ck_assert_str_eq(channel(10)->cc_to, "127.0.0.1:8080");
	ck_assert_int_eq(channel(10)->cc_proxy_protocol, 2);
	expect_channel(11, 7012, SVC_CMD);
	expect_cidrs(&channel(11)->cc_allow, 2, allow);
	ck_assert_uint_eq(channel(11)->cc_rate, 50);
	expect_channel(12, 9100, SVC_METRICS);
	expect_cidrs(&channel(12)->cc_allow, 1, &lo);
	snprintf(origin, sizeof origin, "%s:7", path);
	ck_assert_str_eq(channel(12)->cc_origin, origin);
}
END_TEST

/* CRLF line endings, blank and comment lines, no final newline. */
START_TEST(test_conf_load_crlf)
{
	static const char text[] = "\r\n# comment\r\n7001 ack\r\n\r\n"
	    "7002\techo max-clients=3\r\n7003 cmd";
	char *cause = NULL;

	ck_assert_msg(load(tmp_write(text, strlen(text)), &cause) == 0, "%s",
	    cause);
	ck_assert_uint_eq(list->cf_count, 3);
	expect_channel(0, 7001, SVC_ACK);
	expect_channel(1, 7002, SVC_ECHO);
	ck_assert_uint_eq(channel(1)->cc_max_clients, 3);
	expect_channel(2, 7003, SVC_CMD);
}
END_TEST

START_TEST(test_conf_load_empty)
{
	char *cause = NULL;

	ck_assert_int_eq(load(tmp_write("", 0), &cause), 0);
	ck_assert_ptr_null(cause);
	ck_assert_int_eq(load(tmp_write("\n\n# x\n", 6), &cause), 0);
	ck_assert_uint_eq(list->cf_count, 0);
}
END_TEST

/* After the command line's channels; a port of theirs is refused. */
START_TEST(test_conf_load_after_cmdline)
{
	static const char text[] = "7002 echo\n7001 cmd\n";
	char *cause = NULL, want[128];

	spec_ok("7000,7001");
	ck_assert_int_eq(load(tmp_write(text, strlen(text)), &cause), -1);
	snprintf(want, sizeof want, "%s:2: port 7001 listed twice (\"7001\", "
	    "and the command line)", tmp_path);
	ck_assert_str_eq(cause, want);
	free(cause);
	/* Nothing of the file stays. */
	ck_assert_uint_eq(list->cf_count, 2);
	ck_assert(!seen(7002));
	ck_assert(seen(7001));
}
END_TEST

START_TEST(test_conf_load_line_max)
{
	char *text, *cause = NULL, want[128];
	size_t len = 65536;

	/* A line of 65536 bytes exactly is fine, one more is not. */
	text = malloc(len + 16);
	ck_assert_ptr_nonnull(text);
	memset(text, 'x', len + 16);
	memcpy(text, "7001 ack #", 10);
	text[len] = '\n';
	ck_assert_msg(load(tmp_write(text, len + 1), &cause) == 0, "%s",
	    cause);
	ck_assert_uint_eq(list->cf_count, 1);
	conf_list_free(list);
	memcpy(text, "\n7001 ack #", 11);
	text[len] = 'x';
	text[len + 1] = 'x';
	text[len + 2] = '\n';
	ck_assert_int_eq(load(tmp_write(text, len + 3), &cause), -1);
	snprintf(want, sizeof want, "%s:2: line longer than 65536 bytes",
	    tmp_path);
	ck_assert_str_eq(cause, want);
	ck_assert_uint_eq(list->cf_count, 0);
	free(cause);
	free(text);
}
END_TEST

START_TEST(test_conf_load_nul)
{
	static const char text[] = "7001 ack\n7002 ack\n7003 a\0ck\n";
	char *cause = NULL, want[128];

	ck_assert_int_eq(load(tmp_write(text, sizeof text - 1), &cause), -1);
	snprintf(want, sizeof want, "%s:3: NUL byte in line", tmp_path);
	ck_assert_str_eq(cause, want);
	ck_assert_uint_eq(list->cf_count, 0);
	ck_assert(!seen(7001));
	free(cause);
}
END_TEST

/* A bad line takes back the lines before it: all or nothing. */
START_TEST(test_conf_load_bad_line)
{
	static const char text[] = "7001 ack\n7002-7003 echo\n\n7004 bogus\n";
	char *cause = NULL, want[256];

	ck_assert_int_eq(load(tmp_write(text, strlen(text)), &cause), -1);
	snprintf(want, sizeof want, "%s:4: unknown service \"bogus\" "
	    "(services: " SERVICE_LIST ")", tmp_path);
	ck_assert_str_eq(cause, want);
	ck_assert_uint_eq(list->cf_count, 0);
	ck_assert(!seen(7001) && !seen(7002) && !seen(7003));
	free(cause);
}
END_TEST

START_TEST(test_conf_load_unreadable)
{
	char *cause = NULL;

	ck_assert_int_eq(load("/nonexistent/mpserver.conf", &cause), -1);
	ck_assert_str_eq(cause, "cannot read /nonexistent/mpserver.conf: "
	    "No such file or directory");
	free(cause);
	ck_assert_int_eq(load("/", &cause), -1);
	ck_assert_str_eq(cause, "cannot read /: Is a directory");
	free(cause);
	ck_assert_uint_eq(list->cf_count, 0);
}
END_TEST

/* Every field set, so a copy and a comparison have work to do. */
static void
full_channel(struct channel_conf *cc)
{
	char *env[] = { "LANG=C", "A=b", NULL }, *argv[] = { "/bin/cat", "-s",
	    NULL };
	size_t i;

	memset(cc, 0, sizeof *cc);
	cc->cc_port = 7010;
	cc->cc_service = SVC_EXEC;
	cc->cc_keys = CONF_KEY_USER | CONF_KEY_ENV;
	cc->cc_max_clients = 3;
	cc->cc_max_per_ip = 2;
	cc->cc_own_per_ip = true;
	cc->cc_idle_timeout = 30;
	cc->cc_max_line = 100;
	cc->cc_rate = 9;
	cc->cc_allow.cl_items = malloc(2 * sizeof(struct cidr));
	cc->cc_allow.cl_items[0] = cidr("10.0.0.0/8");
	cc->cc_allow.cl_items[1] = cidr("::1");
	cc->cc_allow.cl_count = 2;
	cc->cc_deny.cl_items = malloc(sizeof(struct cidr));
	cc->cc_deny.cl_items[0] = cidr("10.0.0.5");
	cc->cc_deny.cl_count = 1;
	cc->cc_proxy_from.cl_items = malloc(sizeof(struct cidr));
	cc->cc_proxy_from.cl_items[0] = cidr("192.0.2.0/24");
	cc->cc_proxy_from.cl_count = 1;
	cc->cc_to = strdup("127.0.0.1:80");
	cc->cc_connect_timeout = 7;
	cc->cc_proxy_protocol = 2;
	cc->cc_user = strdup("nobody");
	cc->cc_env = calloc(3, sizeof *cc->cc_env);
	for (i = 0; env[i] != NULL; i++)
		cc->cc_env[i] = strdup(env[i]);
	cc->cc_argv = calloc(3, sizeof *cc->cc_argv);
	for (i = 0; argv[i] != NULL; i++)
		cc->cc_argv[i] = strdup(argv[i]);
	cc->cc_origin = strdup("f.conf:9");
}

START_TEST(test_conf_copy_deep)
{
	struct channel_conf a, b, c;

	full_channel(&a);
	ck_assert_int_eq(conf_copy(&b, &a), 0);
	ck_assert(conf_equal(&a, &b));
	ck_assert_ptr_ne(b.cc_to, a.cc_to);
	ck_assert_ptr_ne(b.cc_env, a.cc_env);
	ck_assert_ptr_ne(b.cc_env[0], a.cc_env[0]);
	ck_assert_ptr_ne(b.cc_argv[1], a.cc_argv[1]);
	ck_assert_ptr_ne(b.cc_allow.cl_items, a.cc_allow.cl_items);
	conf_free(&a);
	ck_assert_ptr_null(a.cc_to);
	ck_assert_uint_eq(a.cc_port, 0);
	/* b lives on its own (ASan would see a use after free). */
	ck_assert_str_eq(b.cc_to, "127.0.0.1:80");
	ck_assert_str_eq(b.cc_user, "nobody");
	ck_assert_str_eq(b.cc_env[1], "A=b");
	ck_assert_ptr_null(b.cc_env[2]);
	ck_assert_str_eq(b.cc_argv[0], "/bin/cat");
	ck_assert_ptr_null(b.cc_argv[2]);
	ck_assert_str_eq(b.cc_origin, "f.conf:9");
	ck_assert_uint_eq(b.cc_allow.cl_count, 2);
	ck_assert_int_eq(b.cc_allow.cl_items[1].c_bits, 128);
	ck_assert_uint_eq(b.cc_keys, CONF_KEY_USER | CONF_KEY_ENV);
	ck_assert(b.cc_own_per_ip);
	ck_assert_int_eq(conf_copy(&c, &b), 0);
	ck_assert(conf_equal(&b, &c));
	conf_free(&b);
	conf_free(&c);
	conf_free(&c);	/* twice is harmless */
}
END_TEST

/* A copy of a channel from a line equals it; a line's list is its own. */
START_TEST(test_conf_copy_parsed)
{
	struct channel_conf copy;

	defaults_lists();
	line_ok("7010 exec env=A=1 -- /bin/cat");
	ck_assert_int_eq(conf_copy(&copy, channel(0)), 0);
	conf_list_free(list);
	ck_assert_str_eq(copy.cc_argv[0], "/bin/cat");
	ck_assert_str_eq(copy.cc_env[0], "A=1");
	expect_cidrs(&copy.cc_allow, 1, def_allow);
	conf_free(&copy);
}
END_TEST

START_TEST(test_conf_copy_empty)
{
	struct channel_conf a, b;

	memset(&a, 0, sizeof a);
	ck_assert_int_eq(conf_copy(&b, &a), 0);
	ck_assert(conf_equal(&a, &b));
	ck_assert_ptr_null(b.cc_allow.cl_items);
	ck_assert_ptr_null(b.cc_argv);
	conf_free(&b);
}
END_TEST

/* One change each: every field that decides behaviour counts. */
static void
change_field(struct channel_conf *cc, int which)
{
	switch (which) {
	case 0: cc->cc_port++; break;
	case 1: cc->cc_service = SVC_ECHO; break;
	case 2: cc->cc_max_clients++; break;
	case 3: cc->cc_max_per_ip++; break;
	case 4: cc->cc_own_per_ip = false; break;
	case 5: cc->cc_idle_timeout++; break;
	case 6: cc->cc_max_line++; break;
	case 7: cc->cc_rate++; break;
	case 8: cc->cc_allow.cl_items[1].c_bits = 127; break;
	case 9: cc->cc_allow.cl_count = 1; break;
	case 10: cc->cc_deny.cl_items[0].c_addr[3] = 6; break;
	case 11: cc->cc_deny.cl_items[0].c_family = AF_INET6; break;
	case 12: cc->cc_proxy_from.cl_count = 0; break;
	case 13: cc->cc_to[0] = '2'; break;
	case 14: free(cc->cc_to); cc->cc_to = NULL; break;
	case 15: cc->cc_connect_timeout++; break;
	case 16: cc->cc_proxy_protocol = 1; break;
	case 17: cc->cc_user[0] = 'N'; break;
	case 18: free(cc->cc_user); cc->cc_user = NULL; break;
	case 19: cc->cc_env[1][2] = 'c'; break;
	case 20: free(cc->cc_env[1]); cc->cc_env[1] = NULL; break;
	case 21: cc->cc_argv[1][1] = 'n'; break;
	case 22: free(cc->cc_argv[1]); cc->cc_argv[1] = NULL; break;
	case 23: free(cc->cc_argv[0]); free(cc->cc_argv[1]);
		free(cc->cc_argv); cc->cc_argv = NULL; break;
	}
}
#define NCHANGES 24

START_TEST(test_conf_equal_field)
{
	struct channel_conf a, b;

	full_channel(&a);
	ck_assert_int_eq(conf_copy(&b, &a), 0);
	change_field(&b, _i);
	ck_assert_msg(!conf_equal(&a, &b), "change %d not seen", _i);
	ck_assert_msg(!conf_equal(&b, &a), "change %d not seen", _i);
	conf_free(&a);
	conf_free(&b);
}
END_TEST

/* Where a line is and how it spelled its values do not count. */
START_TEST(test_conf_equal_origin_keys)
{
	struct channel_conf a, b;

	full_channel(&a);
	ck_assert_int_eq(conf_copy(&b, &a), 0);
	free(b.cc_origin);
	b.cc_origin = strdup("f.conf:12");
	b.cc_keys = CONF_KEY_RATE;
	ck_assert(conf_equal(&a, &b));
	free(b.cc_origin);
	b.cc_origin = NULL;
	ck_assert(conf_equal(&a, &b));
	conf_free(&a);
	conf_free(&b);
	/* The same channel from a line and a PORTSPEC item. */
	line_ok("7001 forward to=127.0.0.1:80 idle-timeout=300");
	spec_ok("7002:forward=127.0.0.1:80");
	ck_assert_int_eq(conf_copy(&a, channel(1)), 0);
	a.cc_port = 7001;
	ck_assert(conf_equal(&a, channel(0)));
	conf_free(&a);
}
END_TEST

/* The old portspec cases: PORTSPEC arguments of SPEC 1. */
START_TEST(test_conf_spec_single)
{
	spec_ok("7001");
	ck_assert_uint_eq(list->cf_count, 1);
	expect_channel(0, 7001, SVC_ACK);
	ck_assert_ptr_null(channel(0)->cc_origin);
	ck_assert_uint_eq(channel(0)->cc_keys, 0);
	ck_assert_uint_eq(channel(0)->cc_idle_timeout, 300);
	ck_assert(seen(7001));
}
END_TEST

/* PORTSPEC arguments, one after the other, and the channels they make. */
static const struct {
	const char	*args[3];
	size_t		 count;
	struct {
		unsigned	 port;
		int		 service;
	}		 want[4];
} spec_lists[] = {
	{ { "7002:echo" }, 1, { { 7002, SVC_ECHO } } },
	/* A service is its own item's. */
	{ { "7001,7002:echo" }, 2, { { 7001, SVC_ACK }, { 7002, SVC_ECHO } } },
	/* Port 0, as often as asked. */
	{ { "0:cmd,0,0:echo", "0" }, 4, { { 0, SVC_CMD }, { 0, SVC_ACK },
	    { 0, SVC_ECHO }, { 0, SVC_ACK } } },
	{ { "0-3" }, 4, { { 0, SVC_ACK }, { 1, SVC_ACK }, { 2, SVC_ACK },
	    { 3, SVC_ACK } } },
	{ { "65535", "1", "9-9:time" }, 3, { { 65535, SVC_ACK },
	    { 1, SVC_ACK }, { 9, SVC_TIME } } },
	/* In order across arguments. */
	{ { "7005", "7001-7002:echo,7000" }, 4, { { 7005, SVC_ACK },
	    { 7001, SVC_ECHO }, { 7002, SVC_ECHO }, { 7000, SVC_ACK } } },
};

START_TEST(test_conf_spec_list)
{
	size_t i;

	for (i = 0; i < 3 && spec_lists[_i].args[i] != NULL; i++)
		spec_ok(spec_lists[_i].args[i]);
	ck_assert_uint_eq(list->cf_count, spec_lists[_i].count);
	for (i = 0; i < spec_lists[_i].count; i++)
		expect_channel(i, spec_lists[_i].want[i].port,
		    spec_lists[_i].want[i].service);
	/* Port 0 is never marked seen: it may come again. */
	ck_assert(!seen(0));
}
END_TEST

START_TEST(test_conf_spec_range)
{
	unsigned i;

	spec_ok("7100-7109:discard");
	ck_assert_uint_eq(list->cf_count, 10);
	for (i = 0; i < 10; i++)
		expect_channel(i, 7100 + i, SVC_DISCARD);
}
END_TEST

START_TEST(test_conf_spec_every_service)
{
	char arg[64];
	int i;

	for (i = 0; i < SVC_EXEC; i++) {
		snprintf(arg, sizeof arg, "%d:%s", 8000 + i,
		    conf_services[i]->cs_name);
		spec_ok(arg);
		expect_channel((size_t)i, 8000u + (unsigned)i, i);
	}
	spec_ok("8008:exec=/bin/cat");
	spec_ok("8009:forward=127.0.0.1:80");
	expect_channel(8, 8008, SVC_EXEC);
	expect_channel(9, 8009, SVC_FORWARD);
}
END_TEST

START_TEST(test_conf_spec_max_channels)
{
	spec_ok("1-4096");
	ck_assert_uint_eq(list->cf_count, CONF_MAX_CHANNELS);
	expect_channel(4095, 4096, SVC_ACK);
	spec_fail("5000", "\"5000\"");
	ck_assert_uint_eq(list->cf_count, CONF_MAX_CHANNELS);
	spec_fail("0", "\"0\"");
	line_fail("0 ack", "too many channels (at most 4096) at \"0\"");
}
END_TEST

/* "=ARG" sets the service's main key: to, or the program alone. */
START_TEST(test_conf_spec_main_arg)
{
	const struct channel_conf *cc;
	unsigned i;

	spec_ok("8080:forward=127.0.0.1:80");
	cc = channel(0);
	expect_channel(0, 8080, SVC_FORWARD);
	ck_assert_str_eq(cc->cc_to, "127.0.0.1:80");
	ck_assert_uint_eq(cc->cc_keys, CONF_KEY_TO);
	ck_assert_uint_eq(cc->cc_connect_timeout, 5);
	spec_ok("7010:exec=/usr/bin/id");
	cc = channel(1);
	expect_channel(1, 7010, SVC_EXEC);
	ck_assert_str_eq(cc->cc_argv[0], "/usr/bin/id");
	ck_assert_ptr_null(cc->cc_argv[1]);
	ck_assert_uint_eq(cc->cc_keys, CONF_KEY_PROGRAM);
	spec_ok("7000-7002:forward=[::1]:9000-9001,7003:forward=x=y");
	for (i = 0; i < 3; i++) {
		expect_channel(2 + i, 7000 + i, SVC_FORWARD);
		ck_assert_str_eq(channel(2 + i)->cc_to, "[::1]:9000-9001");
	}
	ck_assert_str_eq(channel(5)->cc_to, "x=y");
}
END_TEST

/* Command-line channels start from the defaults too. */
START_TEST(test_conf_spec_defaults)
{
	defaults_lists();
	defaults.cd_max_per_ip = 4;
	defaults.cd_rate = 8;
	spec_ok("7001:cmd");
	expect_cidrs(&channel(0)->cc_allow, 1, def_allow);
	expect_cidrs(&channel(0)->cc_deny, 1, def_deny);
	expect_cidrs(&channel(0)->cc_proxy_from, 1, def_proxy);
	ck_assert_uint_eq(channel(0)->cc_max_per_ip, 4);
	ck_assert(!channel(0)->cc_own_per_ip);
	ck_assert_uint_eq(channel(0)->cc_rate, 8);
}
END_TEST

/* Ports listed twice: the message names both places. */
START_TEST(test_conf_twice_places)
{
	spec_ok("7001");
	line_fail("7001 echo", "port 7001 listed twice (\"7001\", and the "
	    "command line)");
	line_fail("7000-7002 ack", "port 7001 listed twice (\"7000-7002\", "
	    "and the command line)");
	ck_assert_uint_eq(list->cf_count, 1);
	ck_assert(!seen(7000));
}
END_TEST

START_TEST(test_conf_twice_file)
{
	char *cause = NULL;

	line_ok("7000 ack");
	ck_assert_int_eq(conf_parse_line("7005 ack", FILE_NAME, 5,
	    conf_services, &defaults, list, &cause), 0);
	line_fail("6999-7005 echo", "port 7000 listed twice (\"6999-7005\", "
	    "and f.conf:3)");
	ck_assert_int_eq(conf_parse_line("7005 ack", FILE_NAME, 8,
	    conf_services, &defaults, list, &cause), -1);
	ck_assert_str_eq(cause, "f.conf:8: port 7005 listed twice (\"7005\", "
	    "and f.conf:5)");
	free(cause);
	/* A PORTSPEC after the file names the file's line. */
	spec_fail_exact("7010,7005:echo", "port 7005 listed twice "
	    "(\"7005:echo\", and f.conf:5)");
	spec_fail_exact("7010,7010", "port 7010 listed twice (\"7010\")");
	ck_assert_uint_eq(list->cf_count, 2);
	ck_assert(!seen(7010));
}
END_TEST

/* A check that refuses odd ports: a range fails half-way. */
static int
picky_check(const struct channel_conf *cc, const struct conf_defaults *d,
    char **cause)
{
	if (cc->cc_port % 2 == 1)
		return cause_set(cause, "odd port %u", cc->cc_port);
	return 0;
}

static const struct conf_service svc_picky = { "picky", 0, 0, picky_check };
static const struct conf_service *const picky_services[] = { &svc_picky,
    NULL };

START_TEST(test_conf_range_rollback)
{
	char *cause = NULL;

	ck_assert_int_eq(conf_parse_line("7100-7103 picky", FILE_NAME, 4,
	    picky_services, &defaults, list, &cause), -1);
	ck_assert_str_eq(cause, "f.conf:4: odd port 7101");
	free(cause);
	ck_assert_uint_eq(list->cf_count, 0);
	ck_assert(!seen(7100));
	ck_assert_int_eq(conf_parse_portspec("7000,7100-7103", picky_services,
	    0, &defaults, list, &cause), -1);
	ck_assert_str_eq(cause, "odd port 7101 in \"7100-7103\"");
	free(cause);
	ck_assert_uint_eq(list->cf_count, 0);
	ck_assert(!seen(7000) && !seen(7100));
	ck_assert_int_eq(conf_parse_line("7100 picky", FILE_NAME, 4,
	    picky_services, &defaults, list, &cause), 0);
	ck_assert_uint_eq(list->cf_count, 1);
}
END_TEST

/* A line is added whole or not at all. */
START_TEST(test_conf_line_atomic)
{
	line_ok("7005 ack");
	line_fail("7000-7009 echo", "port 7005 listed twice (\"7000-7009\", "
	    "and f.conf:3)");
	ck_assert_uint_eq(list->cf_count, 1);
	ck_assert(!seen(7000));
	/* The service check fails on the first channel: none stays. */
	line_fail("7100-7101 exec -- /nonexistent/x", "exec program "
	    "\"/nonexistent/x\" is not an executable file");
	ck_assert(!seen(7100));
}
END_TEST

/* File-line errors: exactly "f.conf:3: " and a message quoting the token. */
static const struct {
	const char	*line;
	const char	*want;
} line_bad[] = {
	{ "7001", "no service after \"7001\"" },
	{ "7001 # ack", "no service after \"7001\"" },
	{ "7001 bogus", "unknown service \"bogus\" (services: " SERVICE_LIST
	    ")" },
	{ "7001 ECHO", "unknown service \"ECHO\" (services: " SERVICE_LIST
	    ")" },
	{ "7001 forward=x", "unknown service \"forward=x\" (services: "
	    SERVICE_LIST ")" },
	{ "x echo", "invalid port \"x\" in \"x\"" },
	{ "123BOGUS echo", "invalid port \"123BOGUS\" in \"123BOGUS\"" },
	{ "70000 echo", "port \"70000\" out of range 0-65535 in \"70000\"" },
	{ "7000-70000 echo", "port \"70000\" out of range 0-65535 in "
	    "\"7000-70000\"" },
	{ "-1 echo", "port \"-1\" out of range 0-65535 in \"-1\"" },
	{ "+1 echo", "invalid port \"+1\" in \"+1\"" },
	{ "9-7 echo", "range \"9-7\" runs backwards" },
	{ "7001- echo", "invalid port \"\" in \"7001-\"" },
	{ "7001-7002-7003 echo", "invalid port \"7002-7003\" in "
	    "\"7001-7002-7003\"" },
	{ "7001:echo echo", "invalid port \"7001:echo\" in \"7001:echo\"" },
	{ "7001,7002 echo", "invalid port \"7001,7002\" in \"7001,7002\"" },
	{ "1-4097 echo", "too many channels (at most 4096) at \"1-4097\"" },
	{ "7001 echo foo", "expected KEY=VALUE or \"--\", got \"foo\"" },
	{ "7001 echo - x", "expected KEY=VALUE or \"--\", got \"-\"" },
	{ "7001 echo bogus=1", "unknown key \"bogus\"" },
	{ "7001 echo Rate=1", "unknown key \"Rate\"" },
	{ "7001 echo =1", "unknown key \"\"" },
	{ "7001 echo to=x", "key \"to\" is not taken by service echo" },
	{ "7001 ack connect-timeout=3", "key \"connect-timeout\" is not "
	    "taken by service ack" },
	{ "7001 cmd proxy-protocol=v1", "key \"proxy-protocol\" is not "
	    "taken by service cmd" },
	{ "7001 echo user=nobody", "key \"user\" is not taken by service "
	    "echo" },
	{ "7001 echo env=A=b", "key \"env\" is not taken by service echo" },
	{ "7001 exec to=x -- /bin/cat", "key \"to\" is not taken by service "
	    "exec" },
	{ "7001 forward user=x to=y", "key \"user\" is not taken by service "
	    "forward" },
	{ "7001 forward to=a to=b", "key \"to\" given twice" },
	{ "7001 echo rate=1 rate=2", "key \"rate\" given twice" },
	{ "7001 echo max-clients=1 max-clients=1", "key \"max-clients\" "
	    "given twice" },
	{ "7001 echo max-per-ip=1 max-per-ip=2", "key \"max-per-ip\" given "
	    "twice" },
	{ "7001 echo idle-timeout=1 idle-timeout=2", "key \"idle-timeout\" "
	    "given twice" },
	{ "7001 echo max-line=1 max-line=2", "key \"max-line\" given twice" },
	{ "7001 forward to=x connect-timeout=1 connect-timeout=2",
	    "key \"connect-timeout\" given twice" },
	{ "7001 forward to=x proxy-protocol=v1 proxy-protocol=v2",
	    "key \"proxy-protocol\" given twice" },
	{ "7001 exec user=a user=b -- /bin/cat", "key \"user\" given twice" },
	{ "7001 echo allow=10.0.0.0/33", "allow: invalid CIDR prefix length "
	    "in \"10.0.0.0/33\"" },
	{ "7001 echo deny=bogus", "deny: invalid CIDR address in \"bogus\"" },
	{ "7001 echo proxy-from=", "proxy-from: invalid CIDR address in "
	    "\"\"" },
	{ "7001 echo allow=10.0.0.0/8 allow=1.2.3.4/", "allow: invalid CIDR "
	    "prefix length in \"1.2.3.4/\"" },
	{ "7001 forward to=", "to value \"\" is empty" },
	{ "7001 exec user= -- /bin/cat", "user value \"\" is empty" },
	{ "7001 exec env=LANG -- /bin/cat", "env value \"LANG\" is not "
	    "NAME=VALUE" },
	{ "7001 exec env= -- /bin/cat", "env value \"\" is not NAME=VALUE" },
	{ "7001 exec env=1A=b -- /bin/cat", "env value \"1A=b\" has an "
	    "invalid name" },
	{ "7001 exec env==b -- /bin/cat", "env value \"=b\" has an invalid "
	    "name" },
	{ "7001 exec env=A-B=c -- /bin/cat", "env value \"A-B=c\" has an "
	    "invalid name" },
	{ "7001 exec env=A=1 env=A=2 -- /bin/cat", "env name \"A\" given "
	    "twice" },
	{ "7001 echo -- /bin/cat", "program \"/bin/cat\" is not taken by "
	    "service echo" },
	{ "7001 forward to=x -- /bin/cat", "program \"/bin/cat\" is not "
	    "taken by service forward" },
	{ "7001 exec --", "\"--\" without a program" },
	{ "7001 exec -- #", "\"--\" without a program" },
	{ "7001 echo --", "\"--\" without a program" },
	{ "7001 exec", "exec needs a program" },
	{ "7001 exec user=nobody", "exec needs a program" },
	{ "7001 exec -- bin/cat", "exec program \"bin/cat\" is not an "
	    "absolute path" },
	{ "7001 exec -- /nonexistent/prog", "exec program "
	    "\"/nonexistent/prog\" is not an executable file" },
	{ "7001 exec -- /", "exec program \"/\" is not an executable file" },
	{ "7001 forward", "forward needs to=HOST:PORT" },
	{ "7001 forward connect-timeout=3", "forward needs to=HOST:PORT" },
};

START_TEST(test_conf_line_bad)
{
	line_fail(line_bad[_i].line, line_bad[_i].want);
	ck_assert_uint_eq(list->cf_count, 0);
}
END_TEST

/* A PORTSPEC token rejected on its own: the cause quotes the argument. */
static const struct {
	const char	*arg;
	const char	*quoted;
} spec_bad[] = {
	{ "123BOGUS", "\"123BOGUS\"" },
	{ "70000", "\"70000\"" },
	{ "65536", "\"65536\"" },
	{ "99999999999999999999", "\"99999999999999999999\"" },
	{ "7-3", "\"7-3\"" },
	{ "-1", "\"-1\"" },
	{ "", "\"\"" },
	{ "7001:", "\"7001:\"" },
	{ "7001,,7002", "\"7001,,7002\"" },
	{ "7001,", "\"7001,\"" },
	{ ",7001", "\",7001\"" },
	{ "7001-", "\"7001-\"" },
	{ ":echo", "\":echo\"" },
	{ " 7001", "\" 7001\"" },
	{ "+7001", "\"+7001\"" },
	{ "7001-7002-7003", "7001-7002-7003" },
	{ "7001:ECHO", "\"ECHO\"" },
	{ "7001:Echo", "\"Echo\"" },
	{ "7001:echo:x", "echo:x" },
	{ "7001:bogus", "\"bogus\"" },
	{ "7001:=x", "\"7001:=x\"" },
	{ "7001:echo=x", "\"7001:echo=x\"" },
	{ "7001:forward=", "\"7001:forward=\"" },
	{ "7001:exec=", "\"7001:exec=\"" },
	{ "7001:exec", "\"7001:exec\"" },
	{ "7001:forward", "\"7001:forward\"" },
	{ "7001:exec=bin/id", "\"7001:exec=bin/id\"" },
	{ "7001,7002:exec=/nonexistent", "\"7002:exec=/nonexistent\"" },
};

START_TEST(test_conf_spec_bad_token)
{
	spec_fail(spec_bad[_i].arg, spec_bad[_i].quoted);
	ck_assert_uint_eq(list->cf_count, 0);
}
END_TEST

/* The old messages, whole; the new ones quote the item as they do. */
static const struct {
	const char	*arg;
	const char	*want;
} spec_messages[] = {
	{ "123BOGUS", "invalid port \"123BOGUS\" in \"123BOGUS\"" },
	{ "7001,70000", "port \"70000\" out of range 0-65535 in \"70000\"" },
	{ "7-3", "range \"7-3\" runs backwards" },
	{ "", "empty port specification \"\"" },
	{ "7001,", "empty item in port specification \"7001,\"" },
	{ "1-4097", "too many channels (at most 4096) at \"1-4097\"" },
	{ "7001:bogus", "unknown service \"bogus\" in \"7001:bogus\" "
	    "(services: " SERVICE_LIST ")" },
	{ "7001,7001", "port 7001 listed twice (\"7001\")" },
	{ "7001:echo=x", "service echo takes no argument in \"7001:echo=x\"" },
	{ "8080:forward=", "empty argument in \"8080:forward=\"" },
	{ "8080:forward", "forward needs to=HOST:PORT in \"8080:forward\"" },
	{ "7010:exec", "exec needs a program in \"7010:exec\"" },
	{ "7010:exec=id", "exec program \"id\" is not an absolute path in "
	    "\"7010:exec=id\"" },
};

START_TEST(test_conf_spec_messages)
{
	spec_fail_exact(spec_messages[_i].arg, spec_messages[_i].want);
	ck_assert_uint_eq(list->cf_count, 0);
}
END_TEST

START_TEST(test_conf_spec_unknown_service_lists)
{
	char *cause = NULL;
	int i;

	ck_assert_int_eq(spec_parse("7001:bogus", &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "bogus"));
	for (i = 0; conf_services[i] != NULL; i++) {
		ck_assert_msg(strstr(cause, conf_services[i]->cs_name) != NULL,
		    "cause \"%s\" does not list \"%s\"", cause,
		    conf_services[i]->cs_name);
	}
	free(cause);
}
END_TEST

START_TEST(test_conf_spec_twice)
{
	spec_fail("7001,7001", "7001");
	spec_fail("7001-7003,7002:echo", "7002");
	spec_ok("7001");
	spec_fail("7001:echo", "7001");
	ck_assert_uint_eq(list->cf_count, 1);
	expect_channel(0, 7001, SVC_ACK);
}
END_TEST

/* An argument is added whole or not at all. */
START_TEST(test_conf_spec_atomic)
{
	spec_fail("7001,7002:echo,7003:bogus", "bogus");
	ck_assert_uint_eq(list->cf_count, 0);
	ck_assert(!seen(7001) && !seen(7002));
	spec_ok("7001,7002");
	ck_assert_uint_eq(list->cf_count, 2);
}
END_TEST

START_TEST(test_conf_spec_too_many)
{
	spec_fail("1-4097", "\"1-4097\"");
	spec_ok("1-4095");
	spec_ok("0");
	spec_fail("0", "\"0\"");
	ck_assert_uint_eq(list->cf_count, CONF_MAX_CHANNELS);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc_core = tcase_create("Core");
	TCase *tc_errors = tcase_create("Errors");

	tcase_add_checked_fixture(tc_core, setup, teardown);
	tcase_add_test(tc_core, test_conf_line_single);
	tcase_add_test(tc_core, test_conf_line_range);
	tcase_add_test(tc_core, test_conf_line_zero_range);
	tcase_add_loop_test(tc_core, test_conf_key_bounds, 0,
	    (int)(sizeof number_keys / sizeof number_keys[0]));
	tcase_add_test(tc_core, test_conf_key_proxy_protocol);
	tcase_add_test(tc_core, test_conf_forward);
	tcase_add_test(tc_core, test_conf_exec);
	tcase_add_test(tc_core, test_conf_lists_replace);
	tcase_add_test(tc_core, test_conf_max_per_ip_own);
	tcase_add_test(tc_core, test_conf_defaults_carried);
	tcase_add_loop_test(tc_core, test_conf_empty_lines, 0,
	    (int)(sizeof empty_lines / sizeof empty_lines[0]));
	tcase_add_test(tc_core, test_conf_comments);
	tcase_add_test(tc_core, test_conf_blanks);
	tcase_add_test(tc_core, test_conf_load_spec_example);
	tcase_add_test(tc_core, test_conf_load_crlf);
	tcase_add_test(tc_core, test_conf_load_empty);
	tcase_add_test(tc_core, test_conf_copy_deep);
	tcase_add_test(tc_core, test_conf_copy_parsed);
	tcase_add_test(tc_core, test_conf_copy_empty);
	tcase_add_loop_test(tc_core, test_conf_equal_field, 0, NCHANGES);
	tcase_add_test(tc_core, test_conf_equal_origin_keys);
	tcase_add_test(tc_core, test_conf_spec_single);
	tcase_add_loop_test(tc_core, test_conf_spec_list, 0,
	    (int)(sizeof spec_lists / sizeof spec_lists[0]));
	tcase_add_test(tc_core, test_conf_spec_range);
	tcase_add_test(tc_core, test_conf_spec_every_service);
	tcase_add_test(tc_core, test_conf_spec_max_channels);
	tcase_add_test(tc_core, test_conf_spec_main_arg);
	tcase_add_test(tc_core, test_conf_spec_defaults);
	suite_add_tcase(s, tc_core);

	tcase_add_checked_fixture(tc_errors, setup, teardown);
	tcase_add_loop_test(tc_errors, test_conf_line_bad, 0,
	    (int)(sizeof line_bad / sizeof line_bad[0]));
	tcase_add_test(tc_errors, test_conf_twice_places);
	tcase_add_test(tc_errors, test_conf_twice_file);
	tcase_add_test(tc_errors, test_conf_line_atomic);
	tcase_add_test(tc_errors, test_conf_range_rollback);
	tcase_add_test(tc_errors, test_conf_load_after_cmdline);
	tcase_add_test(tc_errors, test_conf_load_line_max);
	tcase_add_test(tc_errors, test_conf_load_nul);
	tcase_add_test(tc_errors, test_conf_load_bad_line);
	tcase_add_test(tc_errors, test_conf_load_unreadable);
	tcase_add_loop_test(tc_errors, test_conf_spec_bad_token, 0,
	    (int)(sizeof spec_bad / sizeof spec_bad[0]));
	tcase_add_loop_test(tc_errors, test_conf_spec_messages, 0,
	    (int)(sizeof spec_messages / sizeof spec_messages[0]));
	tcase_add_test(tc_errors, test_conf_spec_unknown_service_lists);
	tcase_add_test(tc_errors, test_conf_spec_twice);
	tcase_add_test(tc_errors, test_conf_spec_atomic);
	tcase_add_test(tc_errors, test_conf_spec_too_many);
	suite_add_tcase(s, tc_errors);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
