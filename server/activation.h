/* systemd's side of start-up: inherited listening sockets and readiness. */
#ifndef MPSERVER_ACTIVATION_H
#define MPSERVER_ACTIVATION_H

#include <stddef.h>

/*
 * The listening sockets passed the systemd way (LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES), or none. Returns how many, -1 with *cause on a bad
 * environment. The variables are unset so children do not inherit them.
 */
int	activation_listen_fds(int **fds, char ***names, char **cause);
void	activation_free(int *fds, char **names, int n);
/* "READY=1", "STOPPING=1", ... to NOTIFY_SOCKET if set; 0 if not set. */
int	activation_notify(const char *state);

#endif
