/* Checked conversion of decimal strings to integers. */
#ifndef MPSERVER_NUMPARSE_H
#define MPSERVER_NUMPARSE_H

/*
 * Parse all of s, digits only (no sign, no blanks), as an integer in
 * [min, max]. Returns 0 and sets *out,
 * or -1 and sets *errstr to "invalid", "too small" or "too large".
 */
int num_parse(const char *s, long long min, long long max, long long *out,
    const char **errstr);

#endif
