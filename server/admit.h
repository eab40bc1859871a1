/* Admission: ACL, --max-clients and --max-per-ip decisions with reasons. */
#ifndef MPSERVER_ADMIT_H
#define MPSERVER_ADMIT_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "options.h"
#include "stats.h"

struct admit_ip;

/*
 * The count is an atomic, so accepting and closing take no lock; the
 * per-source table has a lock of its own, used only with --max-per-ip.
 */
struct admit {
	const struct options	*ad_opts;
	atomic_uint		 ad_active;	/* admitted, not yet released */
	pthread_mutex_t		 ad_lock;	/* guards ad_table */
	struct admit_ip		**ad_table;	/* per-source counts, by hash */
	size_t			 ad_size;
};

/* A canonical source address: IPv4-mapped IPv6 is IPv4. */
struct admit_key {
	uint8_t		ak_family;
	uint8_t		ak_addr[16];
};

void	admit_init(struct admit *ad, const struct options *opts);
void	admit_free(struct admit *ad);
void	admit_key(const struct sockaddr *peer, struct admit_key *key);
/* The ACL alone: REJECT_ACL or REJECT_NONE. Needs no lock. */
int	admit_acl(const struct options *opts, const struct sockaddr *peer);
/* Take a slot for key: REJECT_NONE, REJECT_BUSY or REJECT_PER_IP. */
int	admit_take(struct admit *ad, const struct admit_key *key);
/* Give the slot back; returns how many stay admitted. */
unsigned admit_release(struct admit *ad, const struct admit_key *key);
unsigned admit_active(struct admit *ad);

#endif
