/*
 * Every service over real loopback sockets: ack and echo on several channels
 * at once, the exact bytes of chargen, daytime and time, discard, and the cmd
 * protocol end to end (SLEEP on one client does not hold up another).
 */
#include <sys/socket.h>

#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "itest.h"
#include "service.h"

static struct itest t;

static void
setup(void)
{
	itest_start(&t, "0,0:echo 0 0:echo 0:chargen 0:daytime 0:time 0:cmd "
	    "0:discard --max-line 64");
}

static void
teardown(void)
{
	itest_stop(&t);
}

static char *
roundtrip(uint16_t port, const char *msg)
{
	int fd = itest_connect(port);
	char *reply;

	itest_sends(fd, msg);
	shutdown(fd, SHUT_WR);
	reply = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	close(fd);
	return reply;
}

START_TEST(ack_and_echo_on_several_channels)
{
	int fds[4], i;
	char *r;

	/* Four conversations open at once, answered in any order. */
	for (i = 0; i < 4; i++) {
		fds[i] = itest_connect(itest_port(&t, (size_t)i));
		itest_sends(fds[i], i % 2 == 0 ? "hello\n" : "echo me\n");
	}
	for (i = 3; i >= 0; i--) {
		shutdown(fds[i], SHUT_WR);
		r = itest_read_until(fds[i], NULL, ITEST_TIMEOUT_MS, NULL);
		ck_assert_str_eq(r, i % 2 == 0 ? "ACK\n" : "echo me\n");
		free(r);
		close(fds[i]);
	}
	ck_assert_uint_eq(stats_get(itest_channel(&t, 0)->ch_stats->cs_accepted), 1);
}
END_TEST

START_TEST(ack_message_forms)
{
	char *r;

	r = roundtrip(itest_port(&t, 0), "no newline, then EOF");
	ck_assert_str_eq(r, "ACK\n");
	free(r);
	r = roundtrip(itest_port(&t, 0), "two\nlines\n");
	ck_assert_str_eq(r, "ACK\n");
	free(r);
	r = roundtrip(itest_port(&t, 0), "");
	ck_assert_str_eq(r, "");	/* nothing sent, nothing back */
	free(r);
}
END_TEST

START_TEST(ack_message_at_max_line_is_answered)
{
	int fd = itest_connect(itest_port(&t, 0));
	char big[200], *r;

	/* --max-line 64: the 64th byte completes the message without a newline. */
	memset(big, 'x', sizeof big);
	itest_send(fd, big, sizeof big);
	r = itest_read_until(fd, "ACK\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "ACK\n");
	free(r);
	close(fd);
}
END_TEST

START_TEST(echo_returns_every_byte)
{
	int fd = itest_connect(itest_port(&t, 1));
	char data[100000], *r;
	size_t i, len;

	for (i = 0; i < sizeof data; i++)
		data[i] = (char)(i * 7);
	itest_send(fd, data, sizeof data);
	shutdown(fd, SHUT_WR);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, &len);
	ck_assert_uint_eq(len, sizeof data);
	ck_assert(memcmp(r, data, len) == 0);
	free(r);
	close(fd);
}
END_TEST

START_TEST(chargen_first_lines)
{
	int fd = itest_connect(itest_port(&t, 4));
	char *r, expect[2 * 74 + 1];
	size_t len;

	service_chargen_line(0, expect);
	service_chargen_line(1, expect + 74);
	expect[148] = '\0';
	r = itest_read_until(fd, NULL, 200, &len);
	ck_assert_uint_ge(len, 148);
	ck_assert(memcmp(r, " !\"#$%&'()*+,-./0123", 20) == 0);
	ck_assert(memcmp(r + 74, "!\"#$%&'()*+,-./01234", 20) == 0);
	ck_assert(memcmp(r, expect, 148) == 0);
	ck_assert(r[72] == '\r' && r[73] == '\n');
	free(r);
	close(fd);
}
END_TEST

START_TEST(daytime_layout)
{
	regex_t re;
	char *r = roundtrip(itest_port(&t, 5), "");

	ck_assert_int_eq(regcomp(&re, "^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] "
	    "[0-2][0-9]:[0-5][0-9]:[0-6][0-9] [0-9]{4}\r\n$", REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, r, 0, NULL, 0) == 0, "daytime: \"%s\"", r);
	regfree(&re);
	free(r);
}
END_TEST

START_TEST(time_is_now_since_1900)
{
	int fd = itest_connect(itest_port(&t, 6));
	unsigned long now = service_time_value((long long)time(NULL)), got;
	unsigned char *r;
	size_t len;

	r = (unsigned char *)itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, &len);
	ck_assert_uint_eq(len, 4);
	got = (unsigned long)r[0] << 24 | (unsigned long)r[1] << 16 |
	    (unsigned long)r[2] << 8 | r[3];
	ck_assert_msg(got + 2 >= now && got <= now + 2, "time %lu vs %lu", got,
	    now);
	free(r);
	close(fd);
}
END_TEST

START_TEST(discard_sends_nothing)
{
	int fd = itest_connect(itest_port(&t, 8));
	char *r;
	size_t len;

	itest_sends(fd, "into the void\n");
	shutdown(fd, SHUT_WR);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, &len);
	ck_assert_uint_eq(len, 0);
	free(r);
	close(fd);
}
END_TEST

START_TEST(cmd_conversation)
{
	int fd = itest_connect(itest_port(&t, 7));
	char *r, expect[128];

	r = itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL);
	snprintf(expect, sizeof expect, "220 mpserver %s ready on 127.0.0.1:%u "
	    "(cmd)\r\n", MPSERVER_VERSION, itest_port(&t, 7));
	ck_assert_str_eq(r, expect);
	free(r);
	r = itest_cmd(fd, "PING");
	ck_assert_str_eq(r, "200 PONG");
	free(r);
	r = itest_cmd(fd, "echo Some  Text");
	ck_assert_str_eq(r, "200 Some  Text");
	free(r);
	r = itest_cmd(fd, "WHOAMI");
	ck_assert_msg(strstr(r, "200 client=127.0.0.1:") == r, "%s", r);
	ck_assert_ptr_nonnull(strstr(r, " service=cmd conn="));
	free(r);
	r = itest_cmd(fd, "FROB");
	ck_assert_str_eq(r, "500 unknown command");
	free(r);
	r = itest_cmd(fd, "PING now");
	ck_assert_uint_eq(strncmp(r, "501 ", 4), 0);
	free(r);
	itest_sends(fd, "PORTS\n");
	r = itest_read_until(fd, "211 9 channels\r\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_ptr_nonnull(strstr(r, "211 9 channels\r\n"));
	ck_assert_ptr_nonnull(strstr(r, " cmd active=1 accepted=1\r\n"));
	free(r);
	r = itest_cmd(fd, "QUIT");
	ck_assert_str_eq(r, "221 bye");
	free(r);
	ck_assert(itest_closed(fd, ITEST_TIMEOUT_MS));
	close(fd);
}
END_TEST

START_TEST(cmd_line_too_long)
{
	int fd = itest_connect(itest_port(&t, 7));
	char big[100], *r;

	free(itest_read_until(fd, "\r\n", ITEST_TIMEOUT_MS, NULL));
	/* No newline: the limit (64) is passed and that is enough. */
	memset(big, 'A', sizeof big);
	itest_send(fd, big, sizeof big);
	r = itest_read_until(fd, NULL, ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "421 line too long, closing\r\n");
	free(r);
	close(fd);
}
END_TEST

START_TEST(sleep_holds_only_its_client)
{
	int sleeper = itest_connect(itest_port(&t, 7));
	int other = itest_connect(itest_port(&t, 7));
	char *r;

	free(itest_read_until(sleeper, "\r\n", ITEST_TIMEOUT_MS, NULL));
	free(itest_read_until(other, "\r\n", ITEST_TIMEOUT_MS, NULL));
	itest_sends(sleeper, "SLEEP 3000\r\n");
	r = itest_cmd(other, "PING");
	ck_assert_str_eq(r, "200 PONG");
	free(r);
	/* The PING came back while the sleeper is still asleep. */
	ck_assert(itest_silent(sleeper, 0));
	r = itest_read_until(sleeper, "\r\n", ITEST_TIMEOUT_MS, NULL);
	ck_assert_str_eq(r, "200 slept 3000\r\n");
	free(r);
	close(sleeper);
	close(other);
}
END_TEST

static Suite *
services_suite(void)
{
	Suite *s = suite_create("services");
	TCase *tc = tcase_create("Core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ack_and_echo_on_several_channels);
	tcase_add_test(tc, ack_message_forms);
	tcase_add_test(tc, ack_message_at_max_line_is_answered);
	tcase_add_test(tc, echo_returns_every_byte);
	tcase_add_test(tc, chargen_first_lines);
	tcase_add_test(tc, daytime_layout);
	tcase_add_test(tc, time_is_now_since_1900);
	tcase_add_test(tc, discard_sends_nothing);
	tcase_add_test(tc, cmd_conversation);
	tcase_add_test(tc, cmd_line_too_long);
	tcase_add_test(tc, sleep_holds_only_its_client);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return itest_main(services_suite());
}
