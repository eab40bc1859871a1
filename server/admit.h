/* Admission: the ACL, rate, max-clients and max-per-ip decisions, with their reasons. */
#ifndef MPSERVER_ADMIT_H
#define MPSERVER_ADMIT_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "stats.h"

struct admit_ip;

/*
 * A count of admitted clients and, used only when a per-source limit
 * applies, their counts by source. The count is an atomic, so accepting
 * and closing take no lock; the per-source table has a lock of its own.
 * The server has one for --max-clients and the global --max-per-ip; each
 * port has one for its channel's max-clients and own max-per-ip.
 */
struct admit {
	atomic_uint		 ad_active;	/* admitted, not yet released */
	pthread_mutex_t		 ad_lock;	/* guards ad_table */
	struct admit_ip		**ad_table;	/* per-source counts, by hash */
};

/* A canonical source address: IPv4-mapped IPv6 is IPv4. */
struct admit_key {
	uint8_t		ak_family;
	uint8_t		ak_addr[16];
};

/* A token bucket of rate tokens refilled at rate a second; one thread's. */
struct admit_rate {
	double		 ar_tokens;
	struct timespec	 ar_last;	/* CLOCK_MONOTONIC of the last refill */
};

void	admit_init(struct admit *ad);
void	admit_free(struct admit *ad);
void	admit_key(const struct sockaddr *peer, struct admit_key *key);
/* The ACL alone (deny wins, then allow if any): REJECT_ACL or REJECT_NONE. */
int	admit_acl(const struct cidr_list *allow, const struct cidr_list *deny,
	    const struct sockaddr *peer);
/* Is peer one of these (proxy-from)? */
bool	admit_listed(const struct cidr_list *list, const struct sockaddr *peer);
/* A token, if the bucket has one: REJECT_NONE or REJECT_RATE. rate 0: always. */
int	admit_rate(struct admit_rate *ar, unsigned rate);
/* A slot under max (0: no cap): REJECT_NONE or REJECT_BUSY. */
int	admit_take(struct admit *ad, unsigned max);
/* Give a slot back; returns how many stay admitted. */
unsigned admit_release(struct admit *ad);
unsigned admit_active(struct admit *ad);
/* Count key's source in under max: REJECT_NONE, REJECT_PER_IP or REJECT_RESOURCES. */
int	admit_take_ip(struct admit *ad, const struct admit_key *key,
	    unsigned max);
void	admit_release_ip(struct admit *ad, const struct admit_key *key);

#endif
