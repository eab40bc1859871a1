/* A client: one accepted connection, from admission to its one way of closing. */
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
#include "relay.h"

struct channel;
struct event;
struct server;

/* Why a client's conversation ended (SPEC 7 and 12); names in close_reason_names. */
enum close_reason {
	CLOSE_NONE,		/* not known yet */
	CLOSE_CLIENT,		/* client_closed */
	CLOSE_DONE,
	CLOSE_QUIT,
	CLOSE_IDLE,		/* idle_timeout */
	CLOSE_TOO_LONG,		/* line_too_long */
	CLOSE_SHUTDOWN,
	CLOSE_FORCED,
	CLOSE_RESET,
	CLOSE_ERROR,
	CLOSE_UPSTREAM,
	CLOSE_PROXY,
	CLOSE_NREASONS,
};

extern const char *const close_reason_names[CLOSE_NREASONS];

struct client {
	struct server		*cl_server;
	struct channel		*cl_channel;	/* holds a reference to it */
	int			 cl_fd;
	uint64_t		 cl_id;
	/* The client: the PROXY header's source when it came through a proxy. */
	struct sockaddr_storage	 cl_peer;	/* canonical: mapped IPv4 is IPv4 */
	struct sockaddr_storage	 cl_via;	/* the proxy, when cl_proxied */
	bool			 cl_proxied;
	struct admit_key	 cl_key;
	struct admit		*cl_ip_admit;	/* the per-source table it counts in */
	bool			 cl_admitted;	/* counted in accepted and active */
	bool			 cl_logged;	/* its accept line is out */
	bool			 cl_header_pending;	/* its PROXY header is its thread's to read */
	struct timespec		 cl_start;	/* CLOCK_MONOTONIC, at accept */
	TAILQ_ENTRY(client)	 cl_entry;	/* channel's ch_clients, ch_lock */

	/* While it waits for its PROXY header: the listener thread's. */
	struct event		*cl_wait;
	TAILQ_ENTRY(client)	 cl_wait_entry;	/* channel's ch_waiting */
	/* While it waits for a first byte or between requests: the idle thread's. */
	struct event		*cl_park;

	/* Touched only by the thread serving it. */
	char			 cl_peername[NETADDR_STRLEN];
	unsigned long long	 cl_bytes_in;
	unsigned long long	 cl_bytes_out;
	enum close_reason	 cl_reason;
	int			 cl_exit;	/* exec: exit status, or -1 */
	int			 cl_signal;	/* exec: killed by this signal, or 0 */
	char			 cl_error[128];	/* why, for error and upstream */
	void			*cl_service_data;	/* its service's own state */
	atomic_bool		 cl_sleeping;	/* in SLEEP: forcing leaves its write side */
	bool			 cl_parking;	/* its service returned to be parked */
	bool			 cl_idle_expired;	/* its idle time ran out while parked */
	unsigned		 cl_runs;	/* times a handler took it up */
	bool			 cl_partial;	/* half a message is in */
	struct timespec		 cl_partial_since;
};

/* A client of ch on fd, not yet admitted; NULL when out of memory. */
struct client *client_new(struct channel *ch, int fd,
	    const struct sockaddr *peer, socklen_t peerlen);
/* Listed in its channel, so shutdown reaches it. */
void	client_register(struct client *cl);
/* Now served: counted in accepted and active. */
void	client_admitted(struct client *cl);
struct logline;
/* Its peer= field, and via= the proxy's address when it came through one. */
void	client_log_peer(const struct client *cl, struct logline *l);
/* Its accept line, once. */
void	client_log_accept(struct client *cl);
/*
 * The one way a client goes: its close line (if its accept line is out),
 * its admission released, its socket closed, its channel let go, freed.
 */
void	client_close(struct client *cl);
/* Never served after all (refused after it was registered): forget it without a close line. */
void	client_discard(struct client *cl);

/*
 * The handler thread's body: run the service, then client_close, or park
 * the client without a thread if its service stopped between requests.
 */
void	client_run(struct client *cl);

/* The idle timeout of its channel, in milliseconds; 0: never. */
long	client_idle_ms(const struct client *cl);
/*
 * Blocking I/O with the idle timeout. client_read returns bytes read, or 0
 * when the conversation is over (EOF, idle, reset, shutdown) with cl_reason
 * set. client_write returns 0, or -1 with cl_reason set.
 */
ssize_t	client_read(struct client *cl, void *buf, size_t len);
int	client_write(struct client *cl, const void *buf, size_t len);
bool	client_stopping(const struct client *cl);
bool	client_forced(const struct client *cl);
/*
 * Idle means no complete progress: while half a line or message is in, the
 * idle clock runs from its first byte, so one byte every few seconds does
 * not keep a client alive.
 */
void	client_mark_partial(struct client *cl, bool partial);
void	client_set_reason(struct client *cl, enum close_reason reason);
/* The reason from a failed recv/send's errno (0: EOF). */
void	client_failed(struct client *cl, int error);
/* A relay between the client and a peer, with its idle rule and counters. */
void	client_relay_init(struct client *cl, struct relay *r, int peer_in,
	    int peer_out);
/* How the relay ended, as the client's close reason. */
void	client_relay_ended(struct client *cl, const struct relay *r,
	    enum relay_end end, enum close_reason peer_reset, const char *peer);
/* Count bytes moved for the client's close line and its channel's counters. */
void	client_count(struct client *cl, bool out, size_t n);

#endif
