/* Bytes between a client and a second descriptor pair (exec's pipes, forward's socket). */
#ifndef MPSERVER_RELAY_H
#define MPSERVER_RELAY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Why a relay ended. */
enum relay_end {
	RELAY_DONE,		/* both directions closed cleanly */
	RELAY_CLIENT_RESET,	/* the client reset; passed on to the peer */
	RELAY_PEER_RESET,	/* the peer reset; passed on to the client */
	RELAY_IDLE,		/* no byte either way for the idle timeout */
	RELAY_FORCED,		/* *r_forced became true: cut */
	RELAY_ERROR,		/* anything else; r_errno says what */
};

/*
 * One relay, run by one thread (the client's handler) from start to end.
 * The client is a connected TCP socket; the peer is either one socket
 * (forward: r_peer_in == r_peer_out) or two pipe ends (exec: read the
 * program's stdout, write its stdin). Blocking or not, the descriptors are
 * used without blocking (O_NONBLOCK is set and left); the caller closes
 * them all afterwards but for r_peer_out if the relay set it to -1. The
 * process must ignore SIGPIPE: a program's closed stdin is then EPIPE.
 */
struct relay {
	int		 r_client;
	int		 r_peer_in;	/* read: what goes to the client */
	int		 r_peer_out;	/* write; -1: the relay closed it */
	unsigned	 r_idle_ms;	/* neither direction moves this long; 0: never */
	const atomic_bool *r_forced;	/* polled at least every r_tick_ms */
	unsigned	 r_tick_ms;	/* 0: 100 */
	bool		 r_peer_eof_ends;	/* exec: the program's EOF ends it all */

	/*
	 * Optional third input, read whenever it has bytes and handed to
	 * r_side_cb (exec's stderr: logged, never sent to the client); -1:
	 * none. Its EOF only stops reading it.
	 */
	int		 r_side;
	void		(*r_side_cb)(void *arg, const char *buf, size_t n);
	void		*r_side_arg;

	/*
	 * Optional: has the peer gone (exec: the program exited, while a
	 * child of its may still hold its stdout)? Asked at most every
	 * r_tick_ms; once it has, what it wrote and is still in the pipe is
	 * delivered and the peer's direction ends as at its EOF.
	 */
	bool		(*r_peer_gone)(void *arg);
	void		*r_peer_gone_arg;

	/* Called as bytes are counted, for live counters; may be NULL. */
	void		(*r_count)(void *arg, bool to_client, size_t n);
	void		*r_arg;

	/* Results. */
	unsigned long long r_bytes_in;	/* read from the client */
	unsigned long long r_bytes_out;	/* peer to client, delivered */
	int		 r_errno;	/* with RELAY_ERROR */
};

/*
 * Move bytes both ways until both directions are closed: the client's EOF
 * becomes shutdown(SHUT_WR) on a peer socket or close() of a peer pipe, the
 * peer's EOF a shutdown(SHUT_WR) to the client; a reset on one side is
 * passed on to the other as a reset (SO_LINGER 0) where it is a socket.
 */
enum relay_end relay_run(struct relay *r);

/* "done", "client_reset", ... for logs and tests. */
const char *relay_end_name(enum relay_end e);

#endif
