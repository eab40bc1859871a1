/* Admission: the ACL, rate, max-clients and max-per-ip decisions, with their reasons. */
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "admit.h"

#define ADMIT_TABLE_SIZE 1024

const char *const reject_reason_names[REJECT_NREASONS] = {
	"busy", "per_ip", "acl", "resources", "rate", "proxy",
};

/* One source address with clients; freed when its last client leaves. */
struct admit_ip {
	struct admit_key	 ai_key;
	unsigned		 ai_count;
	struct admit_ip		*ai_next;
};

void
admit_init(struct admit *ad)
{
	memset(ad, 0, sizeof *ad);
	atomic_init(&ad->ad_active, 0);
	pthread_mutex_init(&ad->ad_lock, NULL);
}

void
admit_free(struct admit *ad)
{
	struct admit_ip *ip, *next;
	size_t i;

	for (i = 0; ad->ad_table != NULL && i < ADMIT_TABLE_SIZE; i++) {
		for (ip = ad->ad_table[i]; ip != NULL; ip = next) {
			next = ip->ai_next;
			free(ip);
		}
	}
	free(ad->ad_table);
	ad->ad_table = NULL;
	pthread_mutex_destroy(&ad->ad_lock);
}

void
admit_key(const struct sockaddr *peer, struct admit_key *key)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)peer;

	memset(key, 0, sizeof *key);
	if (peer->sa_family == AF_INET) {
		key->ak_family = AF_INET;
		memcpy(key->ak_addr, &((const struct sockaddr_in *)peer)->sin_addr,
		    4);
	} else if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		key->ak_family = AF_INET;
		memcpy(key->ak_addr, &sin6->sin6_addr.s6_addr[12], 4);
	} else {
		key->ak_family = AF_INET6;
		memcpy(key->ak_addr, &sin6->sin6_addr, 16);
	}
}

bool
admit_listed(const struct cidr_list *list, const struct sockaddr *peer)
{
	size_t i;

	for (i = 0; i < list->cl_count; i++) {
		if (cidr_match(&list->cl_items[i], peer))
			return true;
	}
	return false;
}

int
admit_acl(const struct cidr_list *allow, const struct cidr_list *deny,
    const struct sockaddr *peer)
{
	if (admit_listed(deny, peer))
		return REJECT_ACL;
	if (allow->cl_count > 0 && !admit_listed(allow, peer))
		return REJECT_ACL;
	return REJECT_NONE;
}

int
admit_rate(struct admit_rate *ar, unsigned rate)
{
	struct timespec now;
	double elapsed;

	if (rate == 0)
		return REJECT_NONE;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ar->ar_last.tv_sec == 0 && ar->ar_last.tv_nsec == 0)
		ar->ar_tokens = rate;	/* a new bucket starts full */
	else {
		elapsed = (double)(now.tv_sec - ar->ar_last.tv_sec) +
		    (double)(now.tv_nsec - ar->ar_last.tv_nsec) / 1e9;
		ar->ar_tokens += elapsed * rate;
		if (ar->ar_tokens > rate)
			ar->ar_tokens = rate;
	}
	ar->ar_last = now;
	if (ar->ar_tokens < 1.0)
		return REJECT_RATE;
	ar->ar_tokens -= 1.0;
	return REJECT_NONE;
}

static size_t
admit_hash(const struct admit_key *key)
{
	size_t h = 2166136261u, i;	/* FNV-1a */

	for (i = 0; i < sizeof key->ak_addr; i++)
		h = (h ^ key->ak_addr[i]) * 16777619u;
	return (h ^ key->ak_family) % ADMIT_TABLE_SIZE;
}

static struct admit_ip **
admit_find(struct admit *ad, const struct admit_key *key)
{
	struct admit_ip **pp;

	for (pp = &ad->ad_table[admit_hash(key)]; *pp != NULL;
	    pp = &(*pp)->ai_next) {
		if (memcmp(&(*pp)->ai_key, key, sizeof *key) == 0)
			break;
	}
	return pp;
}

int
admit_take(struct admit *ad, unsigned max)
{
	/* Take first, check after: two racing clients can't both get the last slot. */
	if (atomic_fetch_add(&ad->ad_active, 1) >= max && max > 0) {
		atomic_fetch_sub(&ad->ad_active, 1);
		return REJECT_BUSY;
	}
	return REJECT_NONE;
}

unsigned
admit_release(struct admit *ad)
{
	return atomic_fetch_sub(&ad->ad_active, 1) - 1;
}

unsigned
admit_active(struct admit *ad)
{
	return atomic_load(&ad->ad_active);
}

int
admit_take_ip(struct admit *ad, const struct admit_key *key, unsigned max)
{
	struct admit_ip **pp;
	int rc = REJECT_NONE;

	pthread_mutex_lock(&ad->ad_lock);
	if (ad->ad_table == NULL)
		ad->ad_table = calloc(ADMIT_TABLE_SIZE, sizeof *ad->ad_table);
	if (ad->ad_table == NULL)
		rc = REJECT_RESOURCES;
	else if (*(pp = admit_find(ad, key)) == NULL &&
	    (*pp = calloc(1, sizeof **pp)) == NULL)
		rc = REJECT_RESOURCES;
	else if ((*pp)->ai_count >= max) {
		rc = REJECT_PER_IP;
		if ((*pp)->ai_count == 0) {	/* max 0: nothing to keep */
			free(*pp);
			*pp = NULL;
		}
	} else {
		(*pp)->ai_key = *key;
		(*pp)->ai_count++;
	}
	pthread_mutex_unlock(&ad->ad_lock);
	return rc;
}

void
admit_release_ip(struct admit *ad, const struct admit_key *key)
{
	struct admit_ip **pp, *ip;

	pthread_mutex_lock(&ad->ad_lock);
	if (ad->ad_table != NULL && (ip = *(pp = admit_find(ad, key))) != NULL &&
	    --ip->ai_count == 0) {
		*pp = ip->ai_next;
		free(ip);
	}
	pthread_mutex_unlock(&ad->ad_lock);
}
