/* Helpers shared by mpload and the reference servers. */
#ifndef MPLOAD_LOADUTIL_H
#define MPLOAD_LOADUTIL_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define LU_MAX_PORTS	65536	/* entries in one port list */

/* Microseconds on the monotonic clock. */
uint64_t lu_now_us(void);

/* All of s as an integer in [min, max]; 0, or -1 with *cause set. */
int lu_parse_ulong(const char *s, unsigned long min, unsigned long max,
    unsigned long *out, char **cause);

/* All of s as seconds (a decimal fraction allowed) in [min, max]. */
int lu_parse_seconds(const char *s, double min, double max, double *out,
    char **cause);

/*
 * "7001,7002", "7001-7004", "0,0,0" (port 0 asks the kernel): an allocated
 * array of ports in order. 0, or -1 with *cause set.
 */
int lu_parse_ports(const char *s, uint16_t **ports, size_t *nports,
    char **cause);

/*
 * Resolve host, accepting only loopback addresses (127.0.0.0/8, ::1 and
 * their IPv4-mapped form): load never leaves this machine.
 */
int lu_resolve_loopback(const char *host, struct sockaddr_storage *ss,
    socklen_t *len, char **cause);

void lu_set_port(struct sockaddr_storage *ss, uint16_t port);
uint16_t lu_get_port(const struct sockaddr_storage *ss);

/* "127.0.0.1:7001" or "[::1]:7001". */
void lu_format_addr(const struct sockaddr_storage *ss, char *buf,
    size_t size);

/* Raise the descriptor limit to at least need; returns the limit now. */
unsigned long lu_raise_nofile(unsigned long need);

/* A formatted, allocated message for *cause; always returns -1. */
int lu_fail(char **cause, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
