/* Latency histogram: log-linear buckets, about 1.6% wide, constant memory. */
#ifndef MPLOAD_HISTO_H
#define MPLOAD_HISTO_H

#include <stdint.h>

#define HISTO_SUB	64	/* buckets per power of two */
#define HISTO_N		(HISTO_SUB * 2 + HISTO_SUB * 40)

struct histo {
	uint64_t	h_bucket[HISTO_N];
	uint64_t	h_n;
	uint64_t	h_max;
};

void histo_add(struct histo *h, uint64_t us);

/* The value below which a fraction q (0-1) of the samples lie; 0 if none. */
uint64_t histo_quantile(const struct histo *h, double q);

#endif
