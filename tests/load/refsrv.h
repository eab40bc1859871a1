/* What the two reference servers share: options, listeners, the ack rule. */
#ifndef MPLOAD_REFSRV_H
#define MPLOAD_REFSRV_H

#include <sys/socket.h>

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REF_MAX_LINE	4096	/* as mpserver's --max-line default */
#define REF_BUF		8192	/* as mpserver's echo buffer */

struct ref_opts {
	struct sockaddr_storage	 ro_addr;
	socklen_t		 ro_addrlen;
	uint16_t		*ro_ports;
	size_t			 ro_nports;
	bool			 ro_ack;	/* "ACK\n" to one line, close */
	unsigned		 ro_threads;	/* ref-epoll: event loops */
	size_t			 ro_stack;	/* ref-threads: per thread */
	int			 ro_backlog;
};

/* Parse argv or exit 2 with a message; name is the program's. */
void	ref_parse(int, char **, const char *, struct ref_opts *);

/* Bind and listen on every port, or exit 1; the sockets in port order. */
int	*ref_listen_all(struct ref_opts *, int);

/* The "listening ADDR:PORT SERVICE" lines and "ready N channels". */
void	ref_announce(const struct ref_opts *);

/* Block SIGINT and SIGTERM in every thread started later; ignore SIGPIPE. */
void	ref_block_signals(sigset_t *);

/* The ack rule on n new bytes: true once the message is complete. */
bool	ref_ack_done(const char *, size_t, size_t *);

/* Wait for SIGINT or SIGTERM, then exit 0 (the kernel frees the rest). */
void	ref_wait_and_exit(const sigset_t *) __attribute__((noreturn));

#endif
