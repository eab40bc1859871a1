/* Channel settings from PORTSPEC items and configuration files (SPEC 1, 8). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cause.h"
#include "conf.h"
#include "numparse.h"

#define CONF_LINE_MAX	65536	/* bytes of a file line, without its newline */
#define CONF_BLANKS	" \t\r"	/* a CR too, so CRLF files read the same */
#define CONF_CMDLINE	"the command line"

/* Keys a line may give more than once. */
#define CONF_KEYS_REPEATABLE (CONF_KEY_ALLOW | CONF_KEY_DENY | \
	CONF_KEY_PROXY_FROM | CONF_KEY_ENV)

/* Where the text being parsed comes from, for the errors. */
struct conf_ctx {
	const char	*x_file;	/* NULL: the command line */
	unsigned	 x_line;
	const char	*x_item;	/* the PORTSPEC item or PORTS field */
	const struct conf_service *const *x_services;
	const struct conf_defaults *x_defaults;
};

/* A KEY=VALUE key: its name, and how its value is read and stored. */
struct conf_keydef {
	const char	*ck_name;
	unsigned	 ck_key;
	int		(*ck_set)(struct channel_conf *,
			    const struct conf_keydef *, const char *, char **);
	size_t		 ck_field;	/* offset of the field it sets */
	long long	 ck_min;	/* numbers: the range */
	long long	 ck_max;
};

static int	conf_set_number(struct channel_conf *,
		    const struct conf_keydef *, const char *, char **);
static int	conf_set_cidr(struct channel_conf *, const struct conf_keydef *,
		    const char *, char **);
static int	conf_set_string(struct channel_conf *,
		    const struct conf_keydef *, const char *, char **);
static int	conf_set_proxy_protocol(struct channel_conf *,
		    const struct conf_keydef *, const char *, char **);
static int	conf_set_env(struct channel_conf *, const struct conf_keydef *,
		    const char *, char **);

#define CONF_FIELD(f) offsetof(struct channel_conf, f)

static const struct conf_keydef conf_keydefs[] = {
	{ "max-clients", CONF_KEY_MAX_CLIENTS, conf_set_number,
	    CONF_FIELD(cc_max_clients), 1, 1000000 },
	{ "max-per-ip", CONF_KEY_MAX_PER_IP, conf_set_number,
	    CONF_FIELD(cc_max_per_ip), 0, 1000000 },
	{ "allow", CONF_KEY_ALLOW, conf_set_cidr, CONF_FIELD(cc_allow), 0, 0 },
	{ "deny", CONF_KEY_DENY, conf_set_cidr, CONF_FIELD(cc_deny), 0, 0 },
	{ "idle-timeout", CONF_KEY_IDLE_TIMEOUT, conf_set_number,
	    CONF_FIELD(cc_idle_timeout), 0, 604800 },
	{ "max-line", CONF_KEY_MAX_LINE, conf_set_number,
	    CONF_FIELD(cc_max_line), 1, 1048576 },
	{ "rate", CONF_KEY_RATE, conf_set_number, CONF_FIELD(cc_rate), 0,
	    1000000 },
	{ "proxy-from", CONF_KEY_PROXY_FROM, conf_set_cidr,
	    CONF_FIELD(cc_proxy_from), 0, 0 },
	{ "to", CONF_KEY_TO, conf_set_string, CONF_FIELD(cc_to), 0, 0 },
	{ "connect-timeout", CONF_KEY_CONNECT_TIMEOUT, conf_set_number,
	    CONF_FIELD(cc_connect_timeout), 1, 3600 },
	{ "proxy-protocol", CONF_KEY_PROXY_PROTOCOL, conf_set_proxy_protocol,
	    CONF_FIELD(cc_proxy_protocol), 0, 0 },
	{ "user", CONF_KEY_USER, conf_set_string, CONF_FIELD(cc_user), 0, 0 },
	{ "env", CONF_KEY_ENV, conf_set_env, CONF_FIELD(cc_env), 0, 0 },
};
#define CONF_NKEYDEFS (sizeof conf_keydefs / sizeof conf_keydefs[0])

/* A message about the text x names: "FILE:LINE: " first for a file line. */
static int __attribute__((format(printf, 3, 4)))
conf_fail(const struct conf_ctx *x, char **cause, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		msg = NULL;
	va_end(ap);
	if (msg == NULL || x->x_file == NULL) {
		*cause = msg;
		return -1;
	}
	cause_set(cause, "%s:%u: %s", x->x_file, x->x_line, msg);
	free(msg);
	return -1;
}

/* Say where a setter's or a service check's *cause comes from. */
static int
conf_wrap(const struct conf_ctx *x, char **cause)
{
	char *msg = *cause;

	if (msg == NULL)
		return -1;
	if (x->x_file != NULL)
		cause_set(cause, "%s:%u: %s", x->x_file, x->x_line, msg);
	else
		cause_set(cause, "%s in \"%s\"", msg, x->x_item);
	free(msg);
	return -1;
}

static int
conf_set_number(struct channel_conf *cc, const struct conf_keydef *k,
    const char *value, char **cause)
{
	const char *errstr;
	long long v;

	if (num_parse(value, k->ck_min, k->ck_max, &v, &errstr) == -1)
		return cause_set(cause, "%s value \"%s\" is %s (%lld-%lld)",
		    k->ck_name, value, errstr, k->ck_min, k->ck_max);
	*(unsigned *)(void *)((char *)cc + k->ck_field) = (unsigned)v;
	return 0;
}

static int
conf_set_cidr(struct channel_conf *cc, const struct conf_keydef *k,
    const char *value, char **cause)
{
	struct cidr_list *cl = (void *)((char *)cc + k->ck_field);
	struct cidr c;
	char *why;

	if (cidr_parse(value, &c, &why) == -1) {
		cause_set(cause, "%s: %s", k->ck_name, why ? why : "bad CIDR");
		free(why);
		return -1;
	}
	if (cidr_list_add(cl, &c) == -1)
		return cause_set(cause, "out of memory");
	return 0;
}

int
cidr_list_add(struct cidr_list *cl, const struct cidr *c)
{
	struct cidr *grown;

	grown = realloc(cl->cl_items, (cl->cl_count + 1) * sizeof *grown);
	if (grown == NULL)
		return -1;
	grown[cl->cl_count++] = *c;
	cl->cl_items = grown;
	return 0;
}

static int
conf_set_string(struct channel_conf *cc, const struct conf_keydef *k,
    const char *value, char **cause)
{
	char **field = (void *)((char *)cc + k->ck_field);

	if (*value == '\0')
		return cause_set(cause, "%s value \"\" is empty", k->ck_name);
	free(*field);
	if ((*field = strdup(value)) == NULL)
		return cause_set(cause, "out of memory");
	return 0;
}

static int
conf_set_proxy_protocol(struct channel_conf *cc, const struct conf_keydef *k,
    const char *value, char **cause)
{
	if (strcmp(value, "v1") == 0)
		cc->cc_proxy_protocol = 1;
	else if (strcmp(value, "v2") == 0)
		cc->cc_proxy_protocol = 2;
	else
		return cause_set(cause, "%s value \"%s\" is not one of v1, v2",
		    k->ck_name, value);
	return 0;
}

/* [A-Za-z_][A-Za-z0-9_]*, len bytes of s. */
static int
conf_env_name(const char *s, size_t len)
{
	size_t i;
	char c;

	if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

static size_t
conf_strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

static int
conf_set_env(struct channel_conf *cc, const struct conf_keydef *k,
    const char *value, char **cause)
{
	size_t i, n = conf_strv_len(cc->cc_env), len = strcspn(value, "=");
	char **grown, *copy;

	if (value[len] != '=')
		return cause_set(cause, "%s value \"%s\" is not NAME=VALUE",
		    k->ck_name, value);
	if (!conf_env_name(value, len))
		return cause_set(cause, "%s value \"%s\" has an invalid name",
		    k->ck_name, value);
	for (i = 0; i < n; i++) {
		if (strncmp(cc->cc_env[i], value, len + 1) == 0)
			return cause_set(cause, "%s name \"%.*s\" given twice",
			    k->ck_name, (int)len, value);
	}
	if ((copy = strdup(value)) == NULL)
		return cause_set(cause, "out of memory");
	if ((grown = realloc(cc->cc_env, (n + 2) * sizeof *grown)) == NULL) {
		free(copy);
		return cause_set(cause, "out of memory");
	}
	grown[n] = copy;
	grown[n + 1] = NULL;
	cc->cc_env = grown;
	return 0;
}

static const struct conf_keydef *
conf_keydef_name(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < CONF_NKEYDEFS; i++) {
		if (strlen(conf_keydefs[i].ck_name) == len &&
		    strncmp(conf_keydefs[i].ck_name, name, len) == 0)
			return &conf_keydefs[i];
	}
	return NULL;
}

static const struct conf_keydef *
conf_keydef_bit(unsigned key)
{
	size_t i;

	for (i = 0; i < CONF_NKEYDEFS; i++) {
		if (conf_keydefs[i].ck_key == key)
			return &conf_keydefs[i];
	}
	return NULL;
}

static void
conf_cidr_clear(struct cidr_list *cl)
{
	free(cl->cl_items);
	cl->cl_items = NULL;
	cl->cl_count = 0;
}

static int
conf_cidr_copy(struct cidr_list *dst, const struct cidr_list *src)
{
	dst->cl_items = NULL;
	dst->cl_count = 0;
	if (src->cl_count == 0)
		return 0;
	dst->cl_items = malloc(src->cl_count * sizeof *dst->cl_items);
	if (dst->cl_items == NULL)
		return -1;
	memcpy(dst->cl_items, src->cl_items,
	    src->cl_count * sizeof *dst->cl_items);
	dst->cl_count = src->cl_count;
	return 0;
}

static void
conf_strv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* A NULL-terminated copy of n words (n > 0), or NULL. */
static char **
conf_strv_copy(char *const *words, size_t n)
{
	char **v;
	size_t i;

	if ((v = calloc(n + 1, sizeof *v)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((v[i] = strdup(words[i])) == NULL) {
			conf_strv_free(v);
			return NULL;
		}
	}
	return v;
}

/* src's strings, or NULL for NULL; -1 when a copy fails. */
static int
conf_str_copy(char **dst, const char *src)
{
	*dst = NULL;
	if (src != NULL && (*dst = strdup(src)) == NULL)
		return -1;
	return 0;
}

static int
conf_strv_copy_all(char ***dst, char *const *src)
{
	*dst = NULL;
	if (src != NULL && (*dst = conf_strv_copy(src,
	    conf_strv_len(src))) == NULL)
		return -1;
	return 0;
}

void
conf_free(struct channel_conf *cc)
{
	conf_cidr_clear(&cc->cc_allow);
	conf_cidr_clear(&cc->cc_deny);
	conf_cidr_clear(&cc->cc_proxy_from);
	free(cc->cc_to);
	free(cc->cc_user);
	conf_strv_free(cc->cc_env);
	conf_strv_free(cc->cc_argv);
	free(cc->cc_origin);
	memset(cc, 0, sizeof *cc);
}

int
conf_copy(struct channel_conf *dst, const struct channel_conf *src)
{
	*dst = *src;
	/* Share nothing with src, so a failed copy frees only its own. */
	memset(&dst->cc_allow, 0, sizeof dst->cc_allow);
	memset(&dst->cc_deny, 0, sizeof dst->cc_deny);
	memset(&dst->cc_proxy_from, 0, sizeof dst->cc_proxy_from);
	dst->cc_to = dst->cc_user = dst->cc_origin = NULL;
	dst->cc_env = dst->cc_argv = NULL;
	if (conf_cidr_copy(&dst->cc_allow, &src->cc_allow) == -1 ||
	    conf_cidr_copy(&dst->cc_deny, &src->cc_deny) == -1 ||
	    conf_cidr_copy(&dst->cc_proxy_from, &src->cc_proxy_from) == -1 ||
	    conf_str_copy(&dst->cc_to, src->cc_to) == -1 ||
	    conf_str_copy(&dst->cc_user, src->cc_user) == -1 ||
	    conf_str_copy(&dst->cc_origin, src->cc_origin) == -1 ||
	    conf_strv_copy_all(&dst->cc_env, src->cc_env) == -1 ||
	    conf_strv_copy_all(&dst->cc_argv, src->cc_argv) == -1) {
		conf_free(dst);
		return -1;
	}
	return 0;
}

static bool
conf_cidr_equal(const struct cidr_list *a, const struct cidr_list *b)
{
	size_t i;

	if (a->cl_count != b->cl_count)
		return false;
	for (i = 0; i < a->cl_count; i++) {
		if (a->cl_items[i].c_family != b->cl_items[i].c_family ||
		    a->cl_items[i].c_bits != b->cl_items[i].c_bits ||
		    memcmp(a->cl_items[i].c_addr, b->cl_items[i].c_addr,
		    sizeof a->cl_items[i].c_addr) != 0)
			return false;
	}
	return true;
}

static bool
conf_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
conf_strv_equal(char *const *a, char *const *b)
{
	size_t i, n = conf_strv_len(a);

	if (n != conf_strv_len(b))
		return false;
	for (i = 0; i < n; i++) {
		if (strcmp(a[i], b[i]) != 0)
			return false;
	}
	return true;
}

/*
 * Equal when the channel behaves the same: cc_origin (a line that moved)
 * and cc_keys (how a value was written) do not count.
 */
bool
conf_equal(const struct channel_conf *a, const struct channel_conf *b)
{
	return a->cc_port == b->cc_port && a->cc_service == b->cc_service &&
	    a->cc_max_clients == b->cc_max_clients &&
	    a->cc_max_per_ip == b->cc_max_per_ip &&
	    a->cc_own_per_ip == b->cc_own_per_ip &&
	    a->cc_idle_timeout == b->cc_idle_timeout &&
	    a->cc_max_line == b->cc_max_line && a->cc_rate == b->cc_rate &&
	    conf_cidr_equal(&a->cc_allow, &b->cc_allow) &&
	    conf_cidr_equal(&a->cc_deny, &b->cc_deny) &&
	    conf_cidr_equal(&a->cc_proxy_from, &b->cc_proxy_from) &&
	    conf_str_equal(a->cc_to, b->cc_to) &&
	    a->cc_connect_timeout == b->cc_connect_timeout &&
	    a->cc_proxy_protocol == b->cc_proxy_protocol &&
	    conf_str_equal(a->cc_user, b->cc_user) &&
	    conf_strv_equal(a->cc_env, b->cc_env) &&
	    conf_strv_equal(a->cc_argv, b->cc_argv);
}

/* Drop the channels from the n-th on, and their ports from cf_seen. */
static void
conf_list_truncate(struct conf_list *list, size_t n)
{
	struct channel_conf *cc;

	while (list->cf_count > n) {
		cc = &list->cf_channels[--list->cf_count];
		if (cc->cc_port != 0)
			list->cf_seen[cc->cc_port / 8] &=
			    (uint8_t)~(1u << (cc->cc_port % 8));
		conf_free(cc);
	}
}

void
conf_list_free(struct conf_list *list)
{
	conf_list_truncate(list, 0);
	free(list->cf_channels);
	memset(list, 0, sizeof *list);
}

/* A line's starting point: the service and the process-wide defaults. */
static int
conf_init(struct channel_conf *cc, int service, const struct conf_defaults *d)
{
	memset(cc, 0, sizeof *cc);
	cc->cc_service = service;
	cc->cc_max_per_ip = d->cd_max_per_ip;
	cc->cc_idle_timeout = d->cd_idle_timeout;
	cc->cc_max_line = d->cd_max_line;
	cc->cc_rate = d->cd_rate;
	cc->cc_connect_timeout = CONF_CONNECT_TIMEOUT_DEFAULT;
	if (conf_cidr_copy(&cc->cc_allow, &d->cd_allow) == -1 ||
	    conf_cidr_copy(&cc->cc_deny, &d->cd_deny) == -1 ||
	    conf_cidr_copy(&cc->cc_proxy_from, &d->cd_proxy_from) == -1) {
		conf_free(cc);
		return -1;
	}
	return 0;
}

static char *
conf_service_names(const struct conf_service *const *services)
{
	size_t len = 1;
	char *list;
	int i;

	for (i = 0; services[i] != NULL; i++)
		len += strlen(services[i]->cs_name) + 2;
	if ((list = calloc(1, len)) == NULL)
		return NULL;
	for (i = 0; services[i] != NULL; i++) {
		if (i > 0)
			strcat(list, ", ");
		strcat(list, services[i]->cs_name);
	}
	return list;
}

/* The index of the service called name; -1 with *cause listing them all. */
static int
conf_service_find(const struct conf_ctx *x, const char *name, char **cause)
{
	char *list;
	int i;

	for (i = 0; x->x_services[i] != NULL; i++) {
		if (strcmp(name, x->x_services[i]->cs_name) == 0)
			return i;
	}
	list = conf_service_names(x->x_services);
	if (x->x_file == NULL)
		conf_fail(x, cause, "unknown service \"%s\" in \"%s\" "
		    "(services: %s)", name, x->x_item, list ? list : "?");
	else
		conf_fail(x, cause, "unknown service \"%s\" (services: %s)",
		    name, list ? list : "?");
	free(list);
	return -1;
}

static int
conf_port(const struct conf_ctx *x, const char *s, long long *port,
    char **cause)
{
	const char *errstr;

	if (num_parse(s, 0, 65535, port, &errstr) == 0)
		return 0;
	if (strcmp(errstr, "invalid") == 0)
		return conf_fail(x, cause, "invalid port \"%s\" in \"%s\"", s,
		    x->x_item);
	return conf_fail(x, cause, "port \"%s\" out of range 0-65535 in "
	    "\"%s\"", s, x->x_item);
}

/* "PORT" or "A-B" (a leading '-' is a bad port, not a range). */
static int
conf_ports(const struct conf_ctx *x, const char *s, long long *lo,
    long long *hi, char **cause)
{
	char *copy, *dash;
	int rc = -1;

	if ((copy = strdup(s)) == NULL)
		return cause_set(cause, "out of memory");
	if ((dash = strchr(copy, '-')) != NULL && dash != copy)
		*dash++ = '\0';
	else
		dash = NULL;
	if (conf_port(x, copy, lo, cause) == -1)
		goto out;
	*hi = *lo;
	if (dash != NULL && conf_port(x, dash, hi, cause) == -1)
		goto out;
	if (*lo > *hi) {
		conf_fail(x, cause, "range \"%s\" runs backwards", x->x_item);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

static bool
conf_seen(const struct conf_list *list, unsigned port)
{
	return port != 0 && (list->cf_seen[port / 8] & (1u << (port % 8)));
}

/* A port already in list: name both places. */
static int
conf_twice(const struct conf_ctx *x, const struct conf_list *list,
    unsigned port, char **cause)
{
	const char *other = CONF_CMDLINE;
	size_t i;

	/* Not found: a reload's list, where the command line's are seen. */
	for (i = 0; i < list->cf_count; i++) {
		if (list->cf_channels[i].cc_port == port) {
			if (list->cf_channels[i].cc_origin != NULL)
				other = list->cf_channels[i].cc_origin;
			break;
		}
	}
	if (x->x_file == NULL && strcmp(other, CONF_CMDLINE) == 0)
		return conf_fail(x, cause, "port %u listed twice (\"%s\")",
		    port, x->x_item);
	return conf_fail(x, cause, "port %u listed twice (\"%s\", and %s)",
	    port, x->x_item, other);
}

/* The next channel of list: tpl on port, checked by its service. */
static int
conf_channel(const struct conf_ctx *x, const struct channel_conf *tpl,
    uint16_t port, struct conf_list *list, char **cause)
{
	const struct conf_service *svc = x->x_services[tpl->cc_service];
	struct channel_conf *cc = &list->cf_channels[list->cf_count];

	if (conf_copy(cc, tpl) == -1)
		return cause_set(cause, "out of memory");
	cc->cc_port = port;
	if (x->x_file != NULL && asprintf(&cc->cc_origin, "%s:%u", x->x_file,
	    x->x_line) == -1) {
		cc->cc_origin = NULL;
		conf_free(cc);
		return cause_set(cause, "out of memory");
	}
	if (svc->cs_check != NULL && svc->cs_check(cc, x->x_defaults,
	    cause) == -1) {
		conf_free(cc);
		if (*cause == NULL)
			return conf_fail(x, cause, "service %s refuses \"%s\"",
			    svc->cs_name, x->x_item);
		return conf_wrap(x, cause);
	}
	if (port != 0)
		list->cf_seen[port / 8] |= (uint8_t)(1u << (port % 8));
	list->cf_count++;
	return 0;
}

/* A copy of tpl for each port lo..hi: all appended, or none. */
static int
conf_append(const struct conf_ctx *x, const struct channel_conf *tpl,
    long long lo, long long hi, struct conf_list *list, char **cause)
{
	size_t n0 = list->cf_count, want = (size_t)(hi - lo + 1);
	struct channel_conf *grown;
	long long p;

	if (want + list->cf_count > CONF_MAX_CHANNELS)
		return conf_fail(x, cause, "too many channels (at most %d) at "
		    "\"%s\"", CONF_MAX_CHANNELS, x->x_item);
	for (p = lo; p <= hi; p++) {
		if (conf_seen(list, (unsigned)p))
			return conf_twice(x, list, (unsigned)p, cause);
	}
	grown = realloc(list->cf_channels, (n0 + want) * sizeof *grown);
	if (grown == NULL)
		return cause_set(cause, "out of memory");
	list->cf_channels = grown;
	for (p = lo; p <= hi; p++) {
		if (conf_channel(x, tpl, (uint16_t)p, list, cause) == -1) {
			conf_list_truncate(list, n0);
			return -1;
		}
	}
	return 0;
}

/* The line's list replaces the defaults: empty it at the first such key. */
static void
conf_replace_lists(struct channel_conf *cc, unsigned key)
{
	const unsigned acl = CONF_KEY_ALLOW | CONF_KEY_DENY;

	if ((key & acl) && !(cc->cc_keys & acl)) {
		conf_cidr_clear(&cc->cc_allow);
		conf_cidr_clear(&cc->cc_deny);
	}
	if (key == CONF_KEY_PROXY_FROM && !(cc->cc_keys & key))
		conf_cidr_clear(&cc->cc_proxy_from);
}

/* One setting of a line, or a PORTSPEC's main argument. */
static int
conf_apply(const struct conf_ctx *x, struct channel_conf *cc,
    const struct conf_keydef *k, const char *value, char **cause)
{
	const struct conf_service *svc = x->x_services[cc->cc_service];

	if (!(k->ck_key & (CONF_KEYS_COMMON | svc->cs_keys)))
		return conf_fail(x, cause, "key \"%s\" is not taken by service "
		    "%s", k->ck_name, svc->cs_name);
	if ((cc->cc_keys & k->ck_key) && !(k->ck_key & CONF_KEYS_REPEATABLE))
		return conf_fail(x, cause, "key \"%s\" given twice",
		    k->ck_name);
	conf_replace_lists(cc, k->ck_key);
	if (k->ck_set(cc, k, value, cause) == -1)
		return conf_wrap(x, cause);
	cc->cc_keys |= k->ck_key;
	if (k->ck_key == CONF_KEY_MAX_PER_IP)
		cc->cc_own_per_ip = true;
	return 0;
}

/* The program and its arguments (words[0..n), n > 0). */
static int
conf_program(struct channel_conf *cc, char *const *words, size_t n,
    char **cause)
{
	conf_strv_free(cc->cc_argv);
	if ((cc->cc_argv = conf_strv_copy(words, n)) == NULL)
		return cause_set(cause, "out of memory");
	cc->cc_keys |= CONF_KEY_PROGRAM;
	return 0;
}

/* "PORT:SERVICE=ARG": ARG sets the service's main key. */
static int
conf_main_arg(const struct conf_ctx *x, struct channel_conf *cc, char *arg,
    char **cause)
{
	const struct conf_service *svc = x->x_services[cc->cc_service];
	const struct conf_keydef *k;

	if (svc->cs_main_key == 0)
		return conf_fail(x, cause, "service %s takes no argument in "
		    "\"%s\"", svc->cs_name, x->x_item);
	if (*arg == '\0')
		return conf_fail(x, cause, "empty argument in \"%s\"",
		    x->x_item);
	if (svc->cs_main_key == CONF_KEY_PROGRAM)
		return conf_program(cc, &arg, 1, cause);
	if ((k = conf_keydef_bit(svc->cs_main_key)) == NULL)
		return conf_fail(x, cause, "service %s has no main key in "
		    "\"%s\"", svc->cs_name, x->x_item);
	return conf_apply(x, cc, k, arg, cause);
}

/* One non-empty PORTSPEC item: PORT[-PORT][:SERVICE[=ARG]]. */
static int
conf_item(struct conf_ctx *x, const char *item, int default_service,
    struct conf_list *list, char **cause)
{
	struct channel_conf tpl;
	char *copy, *colon, *arg = NULL;
	int service = default_service, rc = -1;
	long long lo, hi;

	if ((copy = strdup(item)) == NULL)
		return cause_set(cause, "out of memory");
	x->x_item = item;
	if ((colon = strchr(copy, ':')) != NULL) {
		*colon++ = '\0';
		if ((arg = strchr(colon, '=')) != NULL)
			*arg++ = '\0';
		if ((service = conf_service_find(x, colon, cause)) == -1)
			goto out;
	}
	if (conf_ports(x, copy, &lo, &hi, cause) == -1)
		goto out;
	if (conf_init(&tpl, service, x->x_defaults) == -1) {
		rc = cause_set(cause, "out of memory");
		goto out;
	}
	if (arg == NULL || conf_main_arg(x, &tpl, arg, cause) == 0)
		rc = conf_append(x, &tpl, lo, hi, list, cause);
	conf_free(&tpl);
out:
	free(copy);
	return rc;
}

int
conf_parse_portspec(const char *arg,
    const struct conf_service *const *services, int default_service,
    const struct conf_defaults *defaults, struct conf_list *list,
    char **cause)
{
	struct conf_ctx x = { NULL, 0, arg, services, defaults };
	size_t n0 = list->cf_count;
	char *copy, *item, *next;
	int rc = 0;

	*cause = NULL;
	if (*arg == '\0')
		return cause_set(cause, "empty port specification \"\"");
	if ((copy = strdup(arg)) == NULL)
		return cause_set(cause, "out of memory");
	for (item = copy; item != NULL && rc == 0; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		if (*item == '\0') {
			rc = cause_set(cause, "empty item in port "
			    "specification \"%s\"", arg);
			break;
		}
		rc = conf_item(&x, item, default_service, list, cause);
	}
	free(copy);
	if (rc == -1)
		conf_list_truncate(list, n0);
	return rc;
}

/* Cut s into fields at blanks, up to a '#' where a field would start. */
static size_t
conf_fields(char *s, char **fields)
{
	size_t n = 0;

	for (;;) {
		s += strspn(s, CONF_BLANKS);
		if (*s == '\0' || *s == '#')
			return n;
		fields[n++] = s;
		s += strcspn(s, CONF_BLANKS);
		if (*s != '\0')
			*s++ = '\0';
	}
}

/* One KEY=VALUE field. */
static int
conf_key(const struct conf_ctx *x, struct channel_conf *cc, const char *field,
    char **cause)
{
	const struct conf_keydef *k;
	const char *eq;

	if ((eq = strchr(field, '=')) == NULL)
		return conf_fail(x, cause, "expected KEY=VALUE or \"--\", got "
		    "\"%s\"", field);
	if ((k = conf_keydef_name(field, (size_t)(eq - field))) == NULL)
		return conf_fail(x, cause, "unknown key \"%.*s\"",
		    (int)(eq - field), field);
	return conf_apply(x, cc, k, eq + 1, cause);
}

/* What follows "--": the program and its arguments. */
static int
conf_line_program(const struct conf_ctx *x, struct channel_conf *cc,
    char *const *words, size_t n, char **cause)
{
	const struct conf_service *svc = x->x_services[cc->cc_service];

	if (n == 0)
		return conf_fail(x, cause, "\"--\" without a program");
	if (!(svc->cs_keys & CONF_KEY_PROGRAM))
		return conf_fail(x, cause, "program \"%s\" is not taken by "
		    "service %s", words[0], svc->cs_name);
	return conf_program(cc, words, n, cause);
}

/* PORTS SERVICE [KEY=VALUE...] [-- PROGRAM [ARG...]], n > 0 fields. */
static int
conf_line_fields(struct conf_ctx *x, char **f, size_t n,
    struct conf_list *list, char **cause)
{
	struct channel_conf tpl;
	long long lo, hi;
	int service, rc = -1;
	size_t i;

	x->x_item = f[0];
	if (n < 2)
		return conf_fail(x, cause, "no service after \"%s\"", f[0]);
	if ((service = conf_service_find(x, f[1], cause)) == -1)
		return -1;
	if (conf_ports(x, f[0], &lo, &hi, cause) == -1)
		return -1;
	if (conf_init(&tpl, service, x->x_defaults) == -1)
		return cause_set(cause, "out of memory");
	for (i = 2; i < n && strcmp(f[i], "--") != 0; i++) {
		if (conf_key(x, &tpl, f[i], cause) == -1)
			goto out;
	}
	if (i < n && conf_line_program(x, &tpl, f + i + 1, n - i - 1,
	    cause) == -1)
		goto out;
	rc = conf_append(x, &tpl, lo, hi, list, cause);
out:
	conf_free(&tpl);
	return rc;
}

int
conf_parse_line(const char *line, const char *file, unsigned lineno,
    const struct conf_service *const *services,
    const struct conf_defaults *defaults, struct conf_list *list,
    char **cause)
{
	struct conf_ctx x = { file, lineno, NULL, services, defaults };
	char *copy, **fields;
	size_t n;
	int rc = 0;

	*cause = NULL;
	copy = strdup(line);
	/* A field and its blank take two bytes at least. */
	fields = calloc(strlen(line) / 2 + 2, sizeof *fields);
	if (copy == NULL || fields == NULL)
		rc = cause_set(cause, "out of memory");
	else if ((n = conf_fields(copy, fields)) > 0)
		rc = conf_line_fields(&x, fields, n, list, cause);
	free(fields);
	free(copy);
	return rc;
}

/* A line of f into buf, without its newline: 1, 0 at the end, or -1. */
static int
conf_read_line(FILE *f, const char *path, unsigned lineno, char *buf,
    char **cause)
{
	size_t len = 0;
	int c;

	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			return cause_set(cause, "%s:%u: NUL byte in line", path,
			    lineno);
		if (len == CONF_LINE_MAX)
			return cause_set(cause, "%s:%u: line longer than %d "
			    "bytes", path, lineno, CONF_LINE_MAX);
		buf[len++] = (char)c;
	}
	if (ferror(f))
		return cause_set(cause, "cannot read %s: %s", path,
		    strerror(errno));
	buf[len] = '\0';
	return c == EOF && len == 0 ? 0 : 1;
}

int
conf_load(const char *path, const struct conf_service *const *services,
    const struct conf_defaults *defaults, struct conf_list *list,
    char **cause)
{
	size_t n0 = list->cf_count;
	unsigned lineno = 0;
	char *buf;
	FILE *f;
	int rc;

	*cause = NULL;
	/* "e": O_CLOEXEC, so no program spawned meanwhile inherits it. */
	if ((f = fopen(path, "re")) == NULL)
		return cause_set(cause, "cannot read %s: %s", path,
		    strerror(errno));
	if ((buf = malloc(CONF_LINE_MAX + 1)) == NULL) {
		fclose(f);
		return cause_set(cause, "out of memory");
	}
	while ((rc = conf_read_line(f, path, ++lineno, buf, cause)) == 1) {
		if (conf_parse_line(buf, path, lineno, services, defaults,
		    list, cause) == -1) {
			rc = -1;
			break;
		}
	}
	free(buf);
	fclose(f);
	if (rc == -1)
		conf_list_truncate(list, n0);
	return rc;
}
