#!/usr/bin/env python3
"""Clients for tests/deploy/proxy.sh, each from a chosen loopback source.

  whoami SRC PORT       cmd session: banner, WHOAMI, QUIT; prints
                        "LOCALPORT", then each line received (\\r removed)
  hold SRC PORT         cmd session: prints "LOCALPORT BANNER" once the
                        banner is in, then holds the connection until killed
  raw SRC PORT WHAT MODE SECS
                        sends the bytes WHAT (a Python bytes literal, e.g.
                        "b'PROXY ...\\r\\nhello\\n'"; "" sends nothing) in one
                        write, then MODE "shut" (shut the write side) or
                        "keep"; reads to the end, at most SECS seconds.
                        Prints "LOCALPORT MS END N DATA": END eof, reset or
                        timeout, N bytes received, DATA their repr
  v2 SRC DST SPORT DPORT [PAYLOAD]
                        prints, as a bytes literal, a PROXY v2 header (PROXY
                        command, TCP over IPv4) for SRC:SPORT -> DST:DPORT,
                        followed by PAYLOAD (text)
  stats SOCKET PXNAME SVNAME
                        HAProxy's "show stat" on the stats socket: prints
                        "STATUS CHECK_STATUS" of that server
"""

import ast
import socket
import struct
import sys
import time

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def connect(src, port):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s


def readline(f):
    line = f.readline()
    if not line:
        sys.exit("connection closed before a full line")
    return line.decode("latin-1").rstrip("\r\n")


def whoami(src, port):
    s = connect(src, port)
    f = s.makefile("rb")
    print(s.getsockname()[1])
    print(readline(f))
    s.sendall(b"WHOAMI\r\n")
    print(readline(f))
    s.sendall(b"QUIT\r\n")
    print(readline(f), flush=True)


def hold(src, port):
    s = connect(src, port)
    f = s.makefile("rb")
    banner = readline(f)
    print(s.getsockname()[1], banner, flush=True)
    s.settimeout(None)
    while s.recv(4096):
        pass


def raw(src, port, what, mode, secs):
    data = ast.literal_eval(what) if what else b""
    s = connect(src, port)
    t0 = time.monotonic()
    if data:
        s.sendall(data)
    if mode == "shut":
        s.shutdown(socket.SHUT_WR)
    got = b""
    end = "eof"
    s.settimeout(0.05)
    deadline = t0 + float(secs)
    while True:
        if time.monotonic() >= deadline:
            end = "timeout"
            break
        try:
            b = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            end = "reset"
            break
        if not b:
            break
        got += b
    ms = int((time.monotonic() - t0) * 1000)
    print(s.getsockname()[1], ms, end, len(got), repr(got), flush=True)


def v2(src, dst, sport, dport, payload=""):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!HH", int(sport), int(dport))
    print(repr(V2_SIG + b"\x21\x11" + struct.pack("!H", len(body)) + body +
               payload.encode()))


def stats(path, pxname, svname):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.sendall(b"show stat\n")
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    lines = out.decode().splitlines()
    head = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        if row.get("pxname") == pxname and row.get("svname") == svname:
            print(row["status"], row["check_status"] or "-")
            return
    sys.exit("no %s/%s in show stat" % (pxname, svname))


def main(argv):
    mode = argv[1]
    if mode == "whoami":
        whoami(argv[2], int(argv[3]))
    elif mode == "hold":
        hold(argv[2], int(argv[3]))
    elif mode == "raw":
        raw(argv[2], int(argv[3]), argv[4], argv[5], argv[6])
    elif mode == "v2":
        v2(*argv[2:7])
    elif mode == "stats":
        stats(argv[2], argv[3], argv[4])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main(sys.argv)
