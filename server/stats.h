/* Per-channel counters, updated with atomics on the client path. */
#ifndef MPSERVER_STATS_H
#define MPSERVER_STATS_H

#include <stdatomic.h>

/* Why a client was refused (SPEC 4, 8, 11, 12); names in reject_reason_names. */
enum reject_reason {
	REJECT_BUSY,		/* over --max-clients or the channel's max-clients */
	REJECT_PER_IP,		/* over max-per-ip */
	REJECT_ACL,		/* deny, or not in allow */
	REJECT_RESOURCES,	/* no thread, descriptor or memory for it */
	REJECT_RATE,		/* the channel's rate bucket is empty */
	REJECT_PROXY,		/* no valid PROXY header from a proxy-from source */
	REJECT_NREASONS,
	REJECT_NONE = -1,
};

extern const char *const reject_reason_names[REJECT_NREASONS];

/* Relaxed atomics: readers (PORTS, STATS, /metrics) want totals, not order. */
struct channel_stats {
	atomic_ullong	cs_accepted;
	atomic_ullong	cs_active;
	atomic_ullong	cs_rejected[REJECT_NREASONS];
	atomic_ullong	cs_bytes_in;
	atomic_ullong	cs_bytes_out;
	atomic_ullong	cs_pauses;	/* accept paused: out of descriptors */
	atomic_ullong	cs_upstream_failures;	/* forward: upstream unreachable */
};

#define stats_add(field, n) \
	atomic_fetch_add_explicit(&(field), (n), memory_order_relaxed)
#define stats_sub(field, n) \
	atomic_fetch_sub_explicit(&(field), (n), memory_order_relaxed)
#define stats_get(field) \
	atomic_load_explicit(&(field), memory_order_relaxed)

#endif
