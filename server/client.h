/* A client: one accepted connection served by one handler thread. */
#ifndef MPSERVER_CLIENT_H
#define MPSERVER_CLIENT_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "admit.h"
#include "netaddr.h"

struct channel;
struct server;

/* Close reasons of SPEC 7. */
#define CLOSE_CLIENT	"client_closed"
#define CLOSE_DONE	"done"
#define CLOSE_QUIT	"quit"
#define CLOSE_IDLE	"idle_timeout"
#define CLOSE_TOO_LONG	"line_too_long"
#define CLOSE_SHUTDOWN	"shutdown"
#define CLOSE_FORCED	"forced"
#define CLOSE_RESET	"reset"
#define CLOSE_ERROR	"error"

struct client {
	struct server		*cl_server;
	struct channel		*cl_channel;
	int			 cl_fd;
	uint64_t		 cl_id;
	struct sockaddr_storage	 cl_peer;	/* canonical: mapped IPv4 is IPv4 */
	struct admit_key	 cl_key;
	struct timespec		 cl_start;	/* CLOCK_MONOTONIC */
	TAILQ_ENTRY(client)	 cl_entry;	/* channel's ch_clients, ch_lock */

	/* Touched only by the handler thread. */
	char			 cl_peername[NETADDR_STRLEN];
	unsigned long long	 cl_bytes_in;
	unsigned long long	 cl_bytes_out;
	const char		*cl_reason;	/* why it closed, once known */
	atomic_bool		 cl_sleeping;	/* in SLEEP: keep its write side */
	bool			 cl_partial;	/* half a message is in */
	struct timespec		 cl_partial_since;
};

/* The handler thread's body: log, run the service, close, release. */
void	client_run(struct client *cl);

/*
 * Blocking I/O with the idle timeout. client_read returns bytes read, or 0
 * when the conversation is over (EOF, idle, reset, shutdown) with cl_reason
 * set. client_write returns 0, or -1 with cl_reason set.
 */
ssize_t	client_read(struct client *cl, void *buf, size_t len);
int	client_write(struct client *cl, const void *buf, size_t len);
bool	client_stopping(const struct client *cl);
/*
 * Idle means no complete progress: while half a line or message is in, the
 * idle clock runs from its first byte, so one byte every few seconds does
 * not keep a client alive.
 */
void	client_mark_partial(struct client *cl, bool partial);
void	client_set_reason(struct client *cl, const char *reason);
/* The accept or close line of the log, with the fields of SPEC 2. */
void	client_log(struct client *cl, const char *event);

#endif
