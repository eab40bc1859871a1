/*
 * systemd's side of start-up: inherited listening sockets and readiness.
 * With -DMPSERVER_LIBSYSTEMD=ON libsystemd's sd_listen_fds_with_names and
 * sd_notify do the work; otherwise this small fallback speaks the same
 * documented protocol (sd_listen_fds(3), sd_notify(3)), so the default
 * build needs nothing beyond libevent at run time.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "activation.h"
#include "cause.h"
#include "numparse.h"

#define LISTEN_FDS_START 3	/* SD_LISTEN_FDS_START */

#ifdef HAVE_LIBSYSTEMD
int
activation_listen_fds(int **fds, char ***names, char **cause)
{
	int n, i;

	*fds = NULL;
	*names = NULL;
	if ((n = sd_listen_fds_with_names(1, names)) < 0) {
		return cause_set(cause, "socket activation: %s", strerror(-n));
	}
	if (n > 0 && (*fds = calloc((size_t)n, sizeof **fds)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		(*fds)[i] = LISTEN_FDS_START + i;
	return n;
}

int
activation_notify(const char *state)
{
	return sd_notify(0, state);
}
#else
static char **
activation_names(int n)
{
	const char *env = getenv("LISTEN_FDNAMES");
	char **names, *copy, *save = NULL, *name;
	int i;

	if ((names = calloc((size_t)n + 1, sizeof *names)) == NULL)
		return NULL;
	copy = strdup(env != NULL ? env : "");
	name = copy != NULL ? strtok_r(copy, ":", &save) : NULL;
	for (i = 0; i < n; i++) {
		names[i] = strdup(name != NULL ? name : "unknown");
		if (name != NULL)
			name = strtok_r(NULL, ":", &save);
	}
	free(copy);
	return names;
}

int
activation_listen_fds(int **fds, char ***names, char **cause)
{
	const char *pid = getenv("LISTEN_PID"), *count = getenv("LISTEN_FDS");
	const char *errstr;
	long long p, n;
	int i;

	*fds = NULL;
	*names = NULL;
	if (pid == NULL || count == NULL)
		return 0;
	if (num_parse(pid, 1, 1LL << 31, &p, &errstr) == -1 ||
	    num_parse(count, 0, 4096, &n, &errstr) == -1) {
		return cause_set(cause, "socket activation: bad LISTEN_PID "
		    "\"%s\" or LISTEN_FDS \"%s\"", pid, count);
	}
	if ((pid_t)p != getpid())
		return 0;	/* meant for another process */
	if (n > 0 && ((*fds = calloc((size_t)n, sizeof **fds)) == NULL ||
	    (*names = activation_names((int)n)) == NULL))
		return -1;
	for (i = 0; i < n; i++) {
		(*fds)[i] = LISTEN_FDS_START + i;
		fcntl((*fds)[i], F_SETFD, FD_CLOEXEC);
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return (int)n;
}

int
activation_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	int fd, rc;

	if (path == NULL || path[0] == '\0')
		return 0;
	if (strlen(path) >= sizeof sun.sun_path || (path[0] != '/' &&
	    path[0] != '@'))
		return -1;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* an abstract socket */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len) == -1 ? -1 : 1;
	close(fd);
	return rc;
}
#endif

void
activation_free(int *fds, char **names, int n)
{
	int i;

	for (i = 0; names != NULL && i < n; i++)
		free(names[i]);
	free(names);
	free(fds);
}
