/* Admission: ACL, --max-clients and --max-per-ip decisions with reasons. */
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "admit.h"

#define ADMIT_TABLE_SIZE 1024

/* One source address with clients; freed when its last client leaves. */
struct admit_ip {
	struct admit_key	 ai_key;
	unsigned		 ai_count;
	struct admit_ip		*ai_next;
};

void
admit_init(struct admit *ad, const struct options *opts)
{
	memset(ad, 0, sizeof *ad);
	ad->ad_opts = opts;
	atomic_init(&ad->ad_active, 0);
	pthread_mutex_init(&ad->ad_lock, NULL);
}

void
admit_free(struct admit *ad)
{
	struct admit_ip *ip, *next;
	size_t i;

	for (i = 0; i < ad->ad_size; i++) {
		for (ip = ad->ad_table[i]; ip != NULL; ip = next) {
			next = ip->ai_next;
			free(ip);
		}
	}
	free(ad->ad_table);
	ad->ad_table = NULL;
	ad->ad_size = 0;
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

int
admit_acl(const struct options *opts, const struct sockaddr *peer)
{
	size_t i;

	for (i = 0; i < opts->o_ndeny; i++) {
		if (cidr_match(&opts->o_deny[i], peer))
			return REJECT_ACL;
	}
	if (opts->o_nallow == 0)
		return REJECT_NONE;
	for (i = 0; i < opts->o_nallow; i++) {
		if (cidr_match(&opts->o_allow[i], peer))
			return REJECT_NONE;
	}
	return REJECT_ACL;
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

/* Count key's source in; REJECT_NONE, REJECT_PER_IP or REJECT_RESOURCES. */
static int
admit_take_ip(struct admit *ad, const struct admit_key *key)
{
	struct admit_ip **pp;
	int rc = REJECT_NONE;

	pthread_mutex_lock(&ad->ad_lock);
	if (ad->ad_table == NULL) {
		ad->ad_table = calloc(ADMIT_TABLE_SIZE, sizeof *ad->ad_table);
		ad->ad_size = ad->ad_table != NULL ? ADMIT_TABLE_SIZE : 0;
	}
	if (ad->ad_table == NULL)
		rc = REJECT_RESOURCES;
	else if (*(pp = admit_find(ad, key)) == NULL &&
	    (*pp = calloc(1, sizeof **pp)) == NULL)
		rc = REJECT_RESOURCES;
	else if ((*pp)->ai_count >= ad->ad_opts->o_max_per_ip)
		rc = REJECT_PER_IP;
	else {
		(*pp)->ai_key = *key;
		(*pp)->ai_count++;
	}
	pthread_mutex_unlock(&ad->ad_lock);
	return rc;
}

int
admit_take(struct admit *ad, const struct admit_key *key)
{
	const struct options *o = ad->ad_opts;
	int rc;

	/* Take first, check after: two racing clients can't both get the last slot. */
	if (atomic_fetch_add(&ad->ad_active, 1) >= o->o_max_clients) {
		atomic_fetch_sub(&ad->ad_active, 1);
		return REJECT_BUSY;
	}
	if (o->o_max_per_ip > 0 &&
	    (rc = admit_take_ip(ad, key)) != REJECT_NONE) {
		atomic_fetch_sub(&ad->ad_active, 1);
		return rc;
	}
	return REJECT_NONE;
}

unsigned
admit_release(struct admit *ad, const struct admit_key *key)
{
	struct admit_ip **pp, *ip;

	if (ad->ad_opts->o_max_per_ip > 0) {
		pthread_mutex_lock(&ad->ad_lock);
		pp = admit_find(ad, key);
		if ((ip = *pp) != NULL && --ip->ai_count == 0) {
			*pp = ip->ai_next;
			free(ip);
		}
		pthread_mutex_unlock(&ad->ad_lock);
	}
	return atomic_fetch_sub(&ad->ad_active, 1) - 1;
}

unsigned
admit_active(struct admit *ad)
{
	return atomic_load(&ad->ad_active);
}
