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
	char		 t_conf[64];	/* itest_start_conf's -f file, or "" */
	int		 t_logfd;	/* its captured log (unlinked), or -1 */
};

#define ITEST_TIMEOUT_MS 5000	/* every wait in a test is bounded by this */
#define ITEST_RELOAD_S	10	/* a reload that takes longer fails the test */

/* Start a server from a command line such as "0 0:echo -t 1"; fails the test if it cannot. */
void	 itest_start(struct itest *t, const char *cmdline);
/*
 * Like itest_start, with conf (NULL: none) written to a temporary file
 * given as "-f FILE", and the log at warn captured for itest_log.
 */
void	 itest_start_conf(struct itest *t, const char *cmdline,
	    const char *conf);
void	 itest_stop(struct itest *t);
/*
 * Rewrite the -f file with conf and reload it as SIGHUP does: 0 with the
 * counts, or -1 with *cause (to be freed). The reload runs on a thread
 * that plays the main thread while the caller waits for it, and fails the
 * test if it takes over ITEST_RELOAD_S.
 */
int	 itest_reload(struct itest *t, const char *conf,
	    struct server_reload *sr, char **cause);
/* What the server has logged so far (itest_start_conf); caller frees. */
char	*itest_log(struct itest *t);
uint16_t itest_port(struct itest *t, size_t channel);
struct channel *itest_channel(struct itest *t, size_t channel);
/* The listed channel on port, or NULL. */
struct channel *itest_channel_on(struct itest *t, uint16_t port);
/* A port free on 127.0.0.1 with the n - 1 after it, for a file's ports. */
uint16_t itest_free_ports(int n);
/* Could a restarted server (SO_REUSEADDR) listen on 127.0.0.1:port now? */
bool	 itest_port_free(uint16_t port);

/* A blocking loopback client; fails the test if it cannot connect. */
int	 itest_connect(uint16_t port);
int	 itest_connect_to(const char *addr, uint16_t port);
/* From the source address src (such as "127.0.0.2") to 127.0.0.1:port. */
int	 itest_connect_from(const char *src, uint16_t port);
/*
 * The same without failing the test, for threads other than the test's:
 * the descriptor, or -1 with errno (ECONNREFUSED...).
 */
int	 itest_try_connect(const char *src, uint16_t port);
void	 itest_send(int fd, const void *buf, size_t len);
void	 itest_sends(int fd, const char *s);
/* Read until `until` has been seen (NULL: until EOF) or the timeout; NUL-terminated, caller frees. */
char	*itest_read_until(int fd, const char *until, int timeout_ms, size_t *len);
/* True if the peer closed (EOF or reset) within timeout_ms; data before it is discarded. */
bool	 itest_closed(int fd, int timeout_ms);
/* True if the peer closed (EOF or reset) within timeout_ms, sending no byte. */
bool	 itest_closed_silently(int fd, int timeout_ms);
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
