/* Helpers shared by mpload and the reference servers. */
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loadutil.h"

int
lu_fail(char **cause, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		*cause = NULL;
	va_end(ap);
	return -1;
}

uint64_t
lu_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int
lu_parse_ulong(const char *s, unsigned long min, unsigned long max,
    unsigned long *out, char **cause)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return lu_fail(cause, "\"%s\" is not a number", s);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0')
		return lu_fail(cause, "\"%s\" is not a number", s);
	if (errno == ERANGE || v < min || v > max)
		return lu_fail(cause, "\"%s\" is not in %lu-%lu", s, min, max);
	*out = v;
	return 0;
}

int
lu_parse_seconds(const char *s, double min, double max, double *out,
    char **cause)
{
	double v;
	char *end;

	if ((*s < '0' || *s > '9') && *s != '.')
		return lu_fail(cause, "\"%s\" is not a number of seconds", s);
	v = strtod(s, &end);
	if (*end != '\0')
		return lu_fail(cause, "\"%s\" is not a number of seconds", s);
	if (!(v >= min && v <= max))
		return lu_fail(cause, "\"%s\" is not in %g-%g s", s, min, max);
	*out = v;
	return 0;
}

/* One item of a port list: "7001" or "7001-7004". */
static int
lu_port_item(char *item, unsigned long *lo, unsigned long *hi, char **cause)
{
	char *dash = strchr(item, '-');

	if (dash != NULL)
		*dash++ = '\0';
	if (lu_parse_ulong(item, 0, 65535, lo, cause) == -1)
		return -1;
	*hi = *lo;
	if (dash != NULL) {
		if (lu_parse_ulong(dash, 1, 65535, hi, cause) == -1)
			return -1;
		if (*lo == 0 || *hi < *lo)
			return lu_fail(cause, "bad port range %lu-%lu", *lo,
			    *hi);
	}
	return 0;
}

int
lu_parse_ports(const char *s, uint16_t **ports, size_t *nports, char **cause)
{
	char *copy, *item, *save = NULL;
	unsigned long lo, hi, p;
	uint16_t *list = NULL;
	size_t n = 0;

	*cause = NULL;
	if ((copy = strdup(s)) == NULL ||
	    (list = calloc(LU_MAX_PORTS, sizeof *list)) == NULL)
		goto oom;
	if (*s == '\0' || s[strlen(s) - 1] == ',' || strstr(s, ",,") != NULL) {
		lu_fail(cause, "bad port list \"%s\"", s);
		goto fail;
	}
	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		if (lu_port_item(item, &lo, &hi, cause) == -1)
			goto fail;
		for (p = lo; p <= hi; p++) {
			if (n == LU_MAX_PORTS) {
				lu_fail(cause, "too many ports in \"%s\"", s);
				goto fail;
			}
			list[n++] = (uint16_t)p;
		}
	}
	free(copy);
	*ports = list;
	*nports = n;
	return 0;
oom:
	lu_fail(cause, "out of memory");
fail:
	free(copy);
	free(list);
	return -1;
}

static int
lu_is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6;
	const struct sockaddr_in *sin;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	sin6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    sin6->sin6_addr.s6_addr[12] == 127;
}

int
lu_resolve_loopback(const char *host, struct sockaddr_storage *ss,
    socklen_t *len, char **cause)
{
	struct addrinfo hints, *res, *ai;
	int error;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(host, NULL, &hints, &res)) != 0)
		return lu_fail(cause, "cannot resolve \"%s\": %s", host,
		    gai_strerror(error));
	/* Every address must be loopback, not just the first. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (!lu_is_loopback(ai->ai_addr)) {
			freeaddrinfo(res);
			return lu_fail(cause, "refusing non-loopback host "
			    "\"%s\": load goes to 127.0.0.0/8 or ::1 only",
			    host);
		}
	}
	memset(ss, 0, sizeof *ss);
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

void
lu_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

uint16_t
lu_get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

void
lu_format_addr(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    host, sizeof host);
		snprintf(buf, size, "%s:%u", host, lu_get_port(ss));
	} else {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)ss)->sin6_addr, host,
		    sizeof host);
		snprintf(buf, size, "[%s]:%u", host, lu_get_port(ss));
	}
}

unsigned long
lu_raise_nofile(unsigned long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	if (rl.rlim_cur >= need)
		return (unsigned long)rl.rlim_cur;
	/* Root may raise the hard limit too; others get what it allows. */
	if (rl.rlim_max < need) {
		struct rlimit want = { .rlim_cur = need, .rlim_max = need };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return need;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return (unsigned long)rl.rlim_cur;
}
