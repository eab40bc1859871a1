/* mpload: the options, connection slots and results every mode shares. */
#ifndef MPLOAD_H
#define MPLOAD_H

#include <sys/socket.h>

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "histo.h"

enum load_mode { MODE_CHURN, MODE_ECHO, MODE_HOLD, MODE_PORTS, MODE_BULK };

/* What a reply must be: "ACK\n" then EOF, the payload, any byte, nothing. */
enum load_expect { EXPECT_ACK, EXPECT_ECHO, EXPECT_ANY, EXPECT_CONNECT };

enum load_error {
	ERR_REFUSED,	/* connect: ECONNREFUSED */
	ERR_CONNECT,	/* connect: any other failure (ports, fds) */
	ERR_RESET,	/* ECONNRESET, EPIPE */
	ERR_TIMEOUT,	/* no progress within --timeout */
	ERR_EOF,	/* the server closed before the reply was complete */
	ERR_MISMATCH,	/* wrong or extra reply bytes */
	ERR_OTHER,
	ERR_N
};

extern const char *const load_error_names[ERR_N];

struct load_opts {
	enum load_mode		 o_mode;
	const char		*o_host;
	struct sockaddr_storage	 o_addr;
	socklen_t		 o_addrlen;
	uint16_t		*o_ports;
	size_t			 o_nports;
	double			 o_duration;	/* seconds of load */
	unsigned		 o_conns;	/* slots, or held clients */
	size_t			 o_size;	/* payload bytes */
	double			 o_timeout;	/* seconds without progress */
	unsigned long		 o_count;	/* at most this many operations */
	enum load_expect	 o_expect;
	unsigned		 o_burst;	/* hold: connects in flight */
	double			 o_hold;	/* hold: seconds to keep them */
	unsigned long		 o_pause[8];	/* hold: "held N" stops */
	size_t			 o_npause;
	char			**o_exec;	/* ports: the server to start */
	bool			 o_announced;	/* ports: -p 0, its listening lines */
};

/* Slot states every mode shares; a mode numbers its own from CONN_MODE. */
#define CONN_IDLE	0	/* no socket */
#define CONN_OPENING	1	/* connect in progress */
#define CONN_OPEN	2	/* connected, nothing in flight */
#define CONN_MODE	3

/* A connection slot; events carry its index and generation. */
struct conn {
	int		 c_fd;
	uint32_t	 c_gen;
	int		 c_state;	/* the mode's own states, 0 = idle */
	size_t		 c_port;	/* index into o_ports */
	uint64_t	 c_start;	/* when the timed operation began */
	uint64_t	 c_deadline;	/* timeout, or retry time when idle */
	size_t		 c_sent;
	size_t		 c_recvd;
	bool		 c_readable;	/* an EPOLLIN edge not yet drained */
};

#define RESULT_EXTRA	1024

struct result {
	uint64_t	 r_count;	/* operations completed */
	uint64_t	 r_errors[ERR_N];
	struct histo	 r_lat;		/* microseconds */
	double		 r_elapsed;	/* seconds the rate is over */
	char		 r_json[RESULT_EXTRA];	/* ,"key":value ... */
	char		 r_text[RESULT_EXTRA];	/* key value lines */
};

struct load;

/* A mode: called for each event of a busy slot, and on its deadline. */
struct load_ops {
	void	(*lo_event)(struct load *, struct conn *, uint32_t);
	void	(*lo_expire)(struct load *, struct conn *);
};

struct load {
	const struct load_opts	*l_opts;
	const struct load_ops	*l_ops;
	struct result		*l_res;
	int			 l_epfd;
	struct conn		*l_conns;
	size_t			 l_nconns;
	size_t			 l_next_port;
	char			*l_payload;	/* o_size bytes, '\n' last;
						   bulk: pseudo-random */
	char			*l_scratch;
	size_t			 l_scratch_len;
	uint64_t		 l_next_scan;
	uint64_t		 l_scan_every;	/* microseconds */
	int			 l_extra_fd;	/* ports: the server's stdout */
	void			(*l_extra_cb)(struct load *);
	void			*l_mode;	/* the mode's own state */
};

/* Set by signals: SIGINT/SIGTERM stop, SIGUSR1 continues after a hold. */
extern volatile sig_atomic_t load_stop;
extern volatile sig_atomic_t load_resume;

/* conn.c */
int	 load_init(struct load *, const struct load_opts *,
	    const struct load_ops *, struct result *, size_t);
void	 load_free(struct load *);
int	 conn_open(struct load *, struct conn *, size_t);
void	 conn_close(struct load *, struct conn *);
int	 conn_send(struct load *, struct conn *, const char *, size_t);
void	 conn_fail(struct load *, struct conn *, enum load_error);
enum load_error conn_error_kind(int);
enum load_error conn_socket_error(struct conn *);
uint64_t conn_timeout_us(const struct load *);
int	 load_poll(struct load *, int);
size_t	 load_open_all(struct load *, size_t, size_t, struct histo *);
int	 conn_read_reply(struct load *, struct conn *, enum load_expect);
int	 load_watch(struct load *, int, void (*)(struct load *));
void	 result_add(struct result *, const char *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* The modes. */
int	 churn_run(const struct load_opts *, struct result *);
int	 echo_run(const struct load_opts *, struct result *);
int	 hold_run(const struct load_opts *, struct result *);
int	 ports_run(const struct load_opts *, struct result *);
int	 bulk_run(const struct load_opts *, struct result *);

#endif
