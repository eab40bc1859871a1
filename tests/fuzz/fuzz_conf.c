/*
 * Fuzz the configuration file (SPEC 8): conf_parse_line() on the input's
 * first line, then on each of its lines into one list (as a file is read),
 * and conf_load() on the whole input as a file. A line appends channels
 * only when it succeeds, and then only whole; the list's ports stay unique
 * and cf_seen says exactly which; every channel has a service of the table,
 * keys the service takes, values inside their ranges (defaults where the
 * line gave none), its own origin, and equals its conf_copy(). conf_load()
 * agrees with the line-by-line reading whenever the file is one it reads
 * (no NUL byte, no line over 64 KiB). The services are the table of
 * tests/unit/conf_services.h, like the server's.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

#include "../unit/conf_services.h"
#include "fuzz.h"

#define FUZZ_FILE	"fuzz.conf"
#define FUZZ_LINE_MAX	65536

static struct cidr		fuzz_allow, fuzz_deny, fuzz_proxy;
static struct sockaddr_in	fuzz_bind;
static struct conf_defaults	fuzz_defaults;
static int			fuzz_fd = -1;	/* a memfd: the file */
static char			fuzz_path[64];

static void
fuzz_init(void)
{
	char *cause;

	if (fuzz_fd != -1)
		return;
	if (cidr_parse("10.0.0.0/8", &fuzz_allow, &cause) == -1 ||
	    cidr_parse("10.0.0.5", &fuzz_deny, &cause) == -1 ||
	    cidr_parse("::1", &fuzz_proxy, &cause) == -1)
		abort();
	fuzz_bind.sin_family = AF_INET;
	fuzz_bind.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fuzz_defaults.cd_bind = (struct sockaddr_storage *)(void *)&fuzz_bind;
	fuzz_defaults.cd_max_per_ip = 3;
	fuzz_defaults.cd_idle_timeout = 300;
	fuzz_defaults.cd_max_line = 4096;
	fuzz_defaults.cd_rate = 0;
	fuzz_defaults.cd_allow.cl_items = &fuzz_allow;
	fuzz_defaults.cd_allow.cl_count = 1;
	fuzz_defaults.cd_deny.cl_items = &fuzz_deny;
	fuzz_defaults.cd_deny.cl_count = 1;
	fuzz_defaults.cd_proxy_from.cl_items = &fuzz_proxy;
	fuzz_defaults.cd_proxy_from.cl_count = 1;
	if ((fuzz_fd = memfd_create("fuzz_conf", 0)) == -1)
		abort();
	snprintf(fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d", fuzz_fd);
}

static bool
fuzz_env_ok(char **env)
{
	size_t i, j, len;

	for (i = 0; env[i] != NULL; i++) {
		len = strcspn(env[i], "=");
		if (env[i][len] != '=' || len == 0 ||
		    (env[i][0] >= '0' && env[i][0] <= '9'))
			return false;
		for (j = 0; j < len; j++) {
			if (env[i][j] != '_' && !(env[i][j] >= '0' &&
			    env[i][j] <= '9') && !((env[i][j] | 0x20) >= 'a' &&
			    (env[i][j] | 0x20) <= 'z'))
				return false;
		}
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strncmp(env[j], env[i], len + 1) != 0);
	}
	return i > 0;
}

/* The values a channel may hold, given what its line said. */
static void
fuzz_check_values(const struct channel_conf *cc)
{
	const struct conf_defaults *d = &fuzz_defaults;
	unsigned keys = cc->cc_keys;

	FUZZ_CHECK(cc->cc_max_clients == 0 ? !(keys & CONF_KEY_MAX_CLIENTS) :
	    cc->cc_max_clients <= 1000000);
	FUZZ_CHECK(cc->cc_own_per_ip == !!(keys & CONF_KEY_MAX_PER_IP));
	FUZZ_CHECK(cc->cc_max_per_ip <= 1000000);
	FUZZ_CHECK(cc->cc_own_per_ip || cc->cc_max_per_ip == d->cd_max_per_ip);
	FUZZ_CHECK(cc->cc_idle_timeout <= 604800);
	FUZZ_CHECK((keys & CONF_KEY_IDLE_TIMEOUT) ||
	    cc->cc_idle_timeout == d->cd_idle_timeout);
	FUZZ_CHECK(cc->cc_max_line >= 1 && cc->cc_max_line <= 1048576);
	FUZZ_CHECK((keys & CONF_KEY_MAX_LINE) ||
	    cc->cc_max_line == d->cd_max_line);
	FUZZ_CHECK(cc->cc_rate <= 1000000);
	FUZZ_CHECK((keys & CONF_KEY_RATE) || cc->cc_rate == d->cd_rate);
	FUZZ_CHECK(cc->cc_connect_timeout >= 1 &&
	    cc->cc_connect_timeout <= 3600);
	FUZZ_CHECK((keys & CONF_KEY_CONNECT_TIMEOUT) ||
	    cc->cc_connect_timeout == CONF_CONNECT_TIMEOUT_DEFAULT);
	FUZZ_CHECK(cc->cc_proxy_protocol == 0 ? !(keys &
	    CONF_KEY_PROXY_PROTOCOL) : cc->cc_proxy_protocol <= 2);
	FUZZ_CHECK((keys & (CONF_KEY_ALLOW | CONF_KEY_DENY)) ||
	    (fuzz_cidrs_equal(&cc->cc_allow, &d->cd_allow) &&
	    fuzz_cidrs_equal(&cc->cc_deny, &d->cd_deny)));
	FUZZ_CHECK((keys & CONF_KEY_PROXY_FROM) ||
	    fuzz_cidrs_equal(&cc->cc_proxy_from, &d->cd_proxy_from));
	FUZZ_CHECK(!(keys & CONF_KEY_PROXY_FROM) ||
	    cc->cc_proxy_from.cl_count > 0);
}

/* Strings and lists: present exactly when the line gave them. */
static void
fuzz_check_strings(const struct channel_conf *cc)
{
	unsigned keys = cc->cc_keys;

	FUZZ_CHECK((cc->cc_to != NULL) == !!(keys & CONF_KEY_TO));
	FUZZ_CHECK(cc->cc_to == NULL || cc->cc_to[0] != '\0');
	FUZZ_CHECK((cc->cc_user != NULL) == !!(keys & CONF_KEY_USER));
	FUZZ_CHECK(cc->cc_user == NULL || cc->cc_user[0] != '\0');
	FUZZ_CHECK((cc->cc_env != NULL) == !!(keys & CONF_KEY_ENV));
	FUZZ_CHECK(cc->cc_env == NULL || fuzz_env_ok(cc->cc_env));
	FUZZ_CHECK((cc->cc_argv != NULL) == !!(keys & CONF_KEY_PROGRAM));
	/* exec's check passed: an absolute path. */
	FUZZ_CHECK(cc->cc_argv == NULL || cc->cc_argv[0][0] == '/');
	FUZZ_CHECK(cc->cc_service != SVC_FORWARD || cc->cc_to != NULL);
	FUZZ_CHECK(cc->cc_service != SVC_EXEC || cc->cc_argv != NULL);
}

/* A copy equals its original, and stops when the port moves. */
static void
fuzz_check_copy(const struct channel_conf *cc)
{
	struct channel_conf copy;

	FUZZ_CHECK(conf_copy(&copy, cc) == 0);
	FUZZ_CHECK(conf_equal(cc, &copy) && conf_equal(&copy, cc));
	copy.cc_port++;
	FUZZ_CHECK(!conf_equal(cc, &copy));
	conf_free(&copy);
}

static void
fuzz_check_channel(const struct channel_conf *cc, unsigned lineno)
{
	const struct conf_service *svc;
	char origin[64];

	FUZZ_CHECK(cc->cc_service >= 0 &&
	    (size_t)cc->cc_service < SVC_COUNT);
	svc = conf_services[cc->cc_service];
	FUZZ_CHECK((cc->cc_keys & ~(CONF_KEYS_COMMON | svc->cs_keys)) == 0);
	snprintf(origin, sizeof origin, "%s:%u", FUZZ_FILE, lineno);
	FUZZ_CHECK(cc->cc_origin != NULL && strcmp(cc->cc_origin,
	    origin) == 0);
	fuzz_check_values(cc);
	fuzz_check_strings(cc);
	fuzz_check_copy(cc);
}

/* One line into list: whole or not at all. */
static int
fuzz_line(const char *line, unsigned lineno, struct conf_list *list)
{
	uint8_t seen[sizeof list->cf_seen];
	size_t i, before = list->cf_count;
	char *cause;
	int rc;

	memcpy(seen, list->cf_seen, sizeof seen);
	rc = conf_parse_line(line, FUZZ_FILE, lineno, conf_services,
	    &fuzz_defaults, list, &cause);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK((rc == -1) == (cause != NULL));
	if (rc == -1) {
		FUZZ_CHECK(list->cf_count == before);
		FUZZ_CHECK(memcmp(seen, list->cf_seen, sizeof seen) == 0);
		/* "FILE:LINE: ..." */
		FUZZ_CHECK(strncmp(cause, FUZZ_FILE ":", strlen(FUZZ_FILE) +
		    1) == 0);
		free(cause);
		return -1;
	}
	FUZZ_CHECK(list->cf_count >= before);
	for (i = before; i < list->cf_count; i++)
		fuzz_check_channel(&list->cf_channels[i], lineno);
	fuzz_check_seen(list);
	return 0;
}

/* Each line of s (NUL-terminated) in turn, as conf_load reads them. */
static int
fuzz_lines(char *s, struct conf_list *list, bool *readable)
{
	unsigned lineno = 0;
	char *next;

	*readable = true;
	for (; *s != '\0'; s = next) {
		if ((next = strchr(s, '\n')) != NULL)
			*next++ = '\0';
		else
			next = s + strlen(s);
		if (strlen(s) > FUZZ_LINE_MAX) {
			*readable = false;
			return -1;
		}
		if (fuzz_line(s, ++lineno, list) == -1)
			return -1;
	}
	return 0;
}

/* conf_load on the input as a file: what the lines gave, or an error. */
static void
fuzz_load(const uint8_t *data, size_t size, int lines_rc, bool readable,
    const struct conf_list *lines)
{
	struct conf_list *list;
	char *cause;
	size_t i;
	int rc;

	if (ftruncate(fuzz_fd, 0) == -1 || (size > 0 &&
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size))
		abort();
	if ((list = calloc(1, sizeof *list)) == NULL)
		abort();
	rc = conf_load(fuzz_path, conf_services, &fuzz_defaults, list, &cause);
	FUZZ_CHECK((rc == -1) == (cause != NULL));
	if (rc == -1)
		FUZZ_CHECK(list->cf_count == 0);
	fuzz_check_seen(list);
	/* Without NUL bytes and long lines, conf_load reads what we did. */
	if (memchr(data, '\0', size) == NULL && readable) {
		FUZZ_CHECK(rc == lines_rc);
		if (rc == 0) {
			FUZZ_CHECK(list->cf_count == lines->cf_count);
			for (i = 0; i < list->cf_count; i++)
				FUZZ_CHECK(conf_equal(&list->cf_channels[i],
				    &lines->cf_channels[i]));
		}
	}
	free(cause);
	conf_list_free(list);
	free(list);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_list *list;
	char *s;
	bool readable;
	int rc;

	fuzz_init();
	if ((list = calloc(1, sizeof *list)) == NULL)
		abort();
	/* The first line alone. */
	s = fuzz_cstring(data, size);
	s[strcspn(s, "\n")] = '\0';
	(void)fuzz_line(s, 1, list);
	conf_list_free(list);
	free(s);

	s = fuzz_cstring(data, size);
	rc = fuzz_lines(s, list, &readable);
	fuzz_load(data, size, rc, readable, list);
	conf_list_free(list);
	free(list);
	free(s);
	return 0;
}
