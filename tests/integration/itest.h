/* In-process integration tests: start a server on port 0, talk over loopback. */
#ifndef MPSERVER_ITEST_H
#define MPSERVER_ITEST_H

#include <sys/types.h>
#include <sys/socket.h>

#include <check.h>
#include <pthread.h>
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
#define ITEST_SLOW_MS	20000	/* a bulk transfer under a sanitizer */
#define ITEST_TRICKLE_MS 200	/* itest_trickle_until_reset's byte cadence */

/* server_stop on a thread of its own: it blocks for the grace. */
struct itest_stopper {
	struct itest	*s_test;
	pthread_t	 s_thread;
	long		 s_start;	/* itest_now_ms() when it began */
	long		 s_ms;		/* how long server_stop took */
};

/* A thread sending a buffer, then maybe shutting the write side. */
struct itest_pump {
	pthread_t	 p_thread;
	int		 p_fd;
	const char	*p_buf;
	size_t		 p_len;
	bool		 p_shut;	/* then shut the write side */
	int		 p_errno;	/* 0: all sent (and shut) */
};

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
/* The listed channel on port; fails the test if there is none. */
struct channel *itest_on(struct itest *t, uint16_t port);
/* The counters of the channel on port. */
unsigned long long itest_accepted(struct itest *t, uint16_t port);
unsigned long long itest_rejected(struct itest *t, uint16_t port, int reason);
/* For itest_eventually: no client is left on any channel. */
bool	 itest_nobody_active(struct itest *t);
/*
 * server_stop in the background, returning once the server is stopping;
 * itest_stop_join waits for it and frees what itest_stop would.
 */
void	 itest_stop_in_background(struct itest_stopper *s, struct itest *t);
void	 itest_stop_join(struct itest_stopper *s);
/* A port free on 127.0.0.1 with the n - 1 after it, for a file's ports. */
uint16_t itest_free_ports(int n);
/* Could a restarted server (SO_REUSEADDR) listen on 127.0.0.1:port now? */
bool	 itest_port_free(uint16_t port);

/*
 * addr (an IPv4 or IPv6 literal) and port as a socket address: its
 * length, or 0 if addr is no literal.
 */
socklen_t itest_sockaddr(const char *addr, uint16_t port,
	    struct sockaddr_storage *ss);
/*
 * A listening socket of the test's own on 127.0.0.1:*port; a *port of 0
 * is one the kernel chooses, stored there.
 */
int	 itest_listen(uint16_t *port, int backlog);

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
/* What a GET /metrics (HTTP/1.0) on port answers, whole; caller frees. */
char	*itest_scrape(uint16_t port);
/* Close fd with a reset rather than a FIN: SO_LINGER with no time. */
void	 itest_reset(int fd);
/*
 * After the server's FIN, send a byte every ITEST_TRICKLE_MS until the
 * server has closed its end for good, which its reset tells; *sent (if
 * not NULL) counts the bytes that went out. The time from t0 (an
 * itest_now_ms()), or -1 if that never came within limit_ms.
 */
long	 itest_trickle_until_reset(int fd, long t0, long limit_ms,
	    size_t *sent);
/* len bytes of a fixed pseudo-random pattern; caller frees. */
char	*itest_pattern(size_t len);
/* Send len bytes of buf to fd on a thread, then shut the write side if shut. */
void	 itest_pump_start(struct itest_pump *p, int fd, const char *buf,
	    size_t len, bool shut);

/* CLOCK_MONOTONIC in milliseconds, to time what a test waits for. */
long	 itest_now_ms(void);
/* A string printed as by printf; fails the test if it cannot. Caller frees. */
char	*itest_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The file at path, NUL-terminated ("" if it cannot be read); caller frees. */
char	*itest_slurp(const char *path);
/* Replace the file at path with text; fails the test if it cannot. */
void	 itest_write_file(const char *path, const char *text);

/*
 * A directory of the test case's own (/tmp/PROGRAM.XXXXXX) for scripts,
 * a configuration and the captured log: an unchecked fixture, so that the
 * runner removes it, pass or fail.
 */
void	 itest_tmp_create(void);
void	 itest_tmp_remove(void);
/* A file of that directory with text and mode: its path, till the next call. */
const char *itest_tmp_file(const char *name, const char *text, mode_t mode);
/*
 * itest_start with "-f FILE" before cmdline, FILE the directory's
 * mpserver.conf holding lines.
 */
void	 itest_start_file(struct itest *t, const char *lines,
	    const char *cmdline);
/*
 * The server's whole log, at debug level, into the directory's file "log"
 * through stderr: before itest_start. itest_capture_release, a checked
 * fixture's teardown, puts stderr back and shows the log if a sanitizer
 * wrote to it.
 */
void	 itest_capture(void);
void	 itest_capture_release(void);
/*
 * A tcase of such tests: the directory around the tcase, setup (or NULL)
 * and itest_capture_release around each test, and a timeout.
 */
TCase	*itest_tcase_tmp(const char *name, void (*setup)(void), int timeout_s);
/*
 * The first line of the captured log with event=EVENT, port=PORT (unless
 * port is 0) and KEY=VALUE, whole fields, waiting up to ms for it; NULL if
 * none. Caller frees.
 */
char	*itest_capture_find(const char *event, uint16_t port, const char *key,
	    const char *value, int ms);
/* KEY's value in a log line, quotes kept; "" if absent. Static. */
const char *itest_log_field(const char *line, const char *key);
/*
 * The conn= of the client on fd, from its accept line (on port unless 0).
 * Caller frees.
 */
char	*itest_conn_of(int fd, uint16_t port);
/* The close line of the client on fd (on port unless 0). Caller frees. */
char	*itest_close_line(int fd, uint16_t port);

/* Run one suite; the exit status for main(). */
int	 itest_main(Suite *s);

#endif
