/* Latency histogram: values below 2*SUB exact, then SUB buckets per octave. */
#include <stddef.h>

#include "histo.h"

static unsigned
histo_msb(uint64_t v)
{
	return 63u - (unsigned)__builtin_clzll(v);
}

static size_t
histo_index(uint64_t v)
{
	unsigned shift;

	if (v < 2 * HISTO_SUB)
		return (size_t)v;
	/* v >> shift lies in [SUB, 2*SUB): SUB buckets for each shift. */
	shift = histo_msb(v) - histo_msb(HISTO_SUB);
	if (shift > 40)
		return HISTO_N - 1;
	return (size_t)(HISTO_SUB * (shift + 1) + ((v >> shift) - HISTO_SUB));
}

/* The middle of bucket i. */
static uint64_t
histo_value(size_t i)
{
	uint64_t shift, low;

	if (i < 2 * HISTO_SUB)
		return i;
	shift = i / HISTO_SUB - 1;
	low = (HISTO_SUB + i % HISTO_SUB) << shift;
	return low + ((uint64_t)1 << shift) / 2;
}

void
histo_add(struct histo *h, uint64_t us)
{
	h->h_bucket[histo_index(us)]++;
	h->h_n++;
	if (us > h->h_max)
		h->h_max = us;
}

uint64_t
histo_quantile(const struct histo *h, double q)
{
	uint64_t want, seen = 0, v;
	size_t i;

	if (h->h_n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->h_n);
	if (want >= h->h_n)
		want = h->h_n - 1;
	for (i = 0; i < HISTO_N; i++) {
		seen += h->h_bucket[i];
		if (seen > want) {
			v = histo_value(i);
			return v > h->h_max ? h->h_max : v;
		}
	}
	return h->h_max;
}
