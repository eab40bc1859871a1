#!/usr/bin/env python3
"""Strict checks of mpserver's log lines: every line of a file must be exact
logfmt (or, with --json, one JSON object) with ts, level and event first."""
import json
import re
import sys

KEY = r'[a-z_][a-z0-9_]*'
BARE = r'[!#-<>-\[\]-~]+'          # printable ASCII but space, ", =, \
QUOTED = r'"(?:[ !#-\[\]-~]|\\["\\nrt]|\\x[0-9a-f]{2})*"'
PAIR = re.compile(r'(%s)=(%s|%s)' % (KEY, QUOTED, BARE))
TS = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
LEVELS = {'error', 'warn', 'info', 'debug'}


def logfmt(line):
    pairs, pos = [], 0
    while pos < len(line):
        m = PAIR.match(line, pos)
        if not m:
            raise ValueError('bad logfmt at column %d' % pos)
        pairs.append((m.group(1), m.group(2)))
        pos = m.end()
        if pos < len(line):
            if line[pos] != ' ':
                raise ValueError('no space after a pair at column %d' % pos)
            pos += 1
    return pairs


def main():
    as_json = sys.argv[1] == '--json'
    path = sys.argv[-1]
    n = 0
    with open(path, 'rb') as f:
        for raw in f:
            n += 1
            # Text logs escape every byte over 0x7e; JSON logs keep valid
            # UTF-8 as characters (SPEC 7) and must stay valid UTF-8.
            line = raw.decode('utf-8' if as_json else 'ascii')
            assert line.endswith('\n'), 'line %d unterminated' % n
            line = line[:-1]
            if as_json:
                obj = json.loads(line)
                keys = list(obj)
                values = obj
            else:
                pairs = logfmt(line)
                keys = [k for k, _ in pairs]
                values = dict(pairs)
                assert len(set(keys)) == len(keys), 'line %d repeats a key' % n
            assert keys[:3] == ['ts', 'level', 'event'], 'line %d: %s' % (n, keys[:3])
            assert TS.match(values['ts']), 'line %d: ts %s' % (n, values['ts'])
            assert values['level'] in LEVELS, 'line %d: level' % n
    print('%d lines checked' % n)
    return 0 if n > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
