/* In-process integration tests: start a server on port 0, talk over loopback. */
#ifndef MPSERVER_ITEST_H
#define MPSERVER_ITEST_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "server.h"

struct itest {
	struct options	t_opts;
	struct server	t_server;
	char		*t_argv[64];
	int		 t_argc;
};

#define ITEST_TIMEOUT_MS 5000	/* every wait in a test is bounded by this */

/* Start a server from a command line such as "0 0:echo -t 1"; fails the test if it cannot. */
void	 itest_start(struct itest *t, const char *cmdline);
void	 itest_stop(struct itest *t);
uint16_t itest_port(struct itest *t, size_t channel);
struct channel *itest_channel(struct itest *t, size_t channel);

/* A blocking loopback client; fails the test if it cannot connect. */
int	 itest_connect(uint16_t port);
int	 itest_connect_to(const char *addr, uint16_t port);
void	 itest_send(int fd, const void *buf, size_t len);
void	 itest_sends(int fd, const char *s);
/* Read until `until` has been seen (NULL: until EOF) or the timeout; NUL-terminated, caller frees. */
char	*itest_read_until(int fd, const char *until, int timeout_ms, size_t *len);
/* True if the peer closed (EOF or reset) within timeout_ms; data before it is discarded. */
bool	 itest_closed(int fd, int timeout_ms);
/* True if nothing at all arrives (neither data nor EOF) within timeout_ms. */
bool	 itest_silent(int fd, int timeout_ms);
/* Poll a condition every few milliseconds, for at most timeout_ms. */
bool	 itest_eventually(bool (*cond)(struct itest *), struct itest *t,
	    int timeout_ms);
/* Descriptors of this process and the server's threads, from /proc/self. */
int	 itest_count_fds(void);
int	 itest_count_threads(void);
/* A cmd round trip: send line (with "\r\n"), return the first reply line. */
char	*itest_cmd(int fd, const char *line);

/* Run one suite; the exit status for main(). */
int	 itest_main(Suite *s);

#endif
