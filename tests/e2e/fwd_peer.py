#!/usr/bin/env python3
"""Peers for tests/e2e/forward.sh: upstream servers and clients on loopback.

A server mode binds, prints "port P" (the first port) on stdout, flushed,
then serves until killed, a thread per connection:

  reply-after-eof       read to EOF, then send "got N bytes SHA256\\n", close
  send-first N FILE     send N pattern bytes, shut the write side, read to
                        EOF into FILE, close
  tag HOST              on HOST:P and HOST:P+1, P free there and on
                        127.0.0.1 too: read to EOF, send "HOST:PORT " and the
                        bytes read, close
  full                  listen(0) and never accept, the accept queue filled
                        with connections of its own (held open), so a further
                        connect gets no answer

A client mode connects to 127.0.0.1:PORT and prints "LOCALPORT MS" (MS:
from connect to the end of the exchange) and maybe more:

  send-shut PORT IN OUT send the file IN (while reading), shut the write
                        side, read to EOF into OUT
  eof-then-send PORT OUT DATA
                        read to EOF into OUT (within 5 s, else exit 3),
                        then send DATA and shut the write side, then read to
                        the end (EOF or reset); prints "... eof" or "... reset"
  wait-end PORT         send nothing; read to the end, prints
                        "... eof N" (N bytes read first) or "... reset N"
"""

import hashlib
import random
import socket
import sys
import threading
import time


def pattern(n):
    return bytes(i % 251 for i in range(n))


def recv_all(s, sink=None):
    n = 0
    while True:
        b = s.recv(65536)
        if not b:
            return n
        n += len(b)
        if sink is not None:
            sink.write(b)


def serve(listeners, handle):
    def loop(ls):
        while True:
            c, _ = ls.accept()
            threading.Thread(target=handle, args=(c, ls.getsockname()[1]),
                             daemon=True).start()
    print("port", listeners[0].getsockname()[1], flush=True)
    for ls in listeners:
        threading.Thread(target=loop, args=(ls,), daemon=True).start()
    while True:
        time.sleep(3600)


def listener(host, port, backlog=16):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(backlog)
    return s


def reply_after_eof(c, _port):
    h = hashlib.sha256()
    n = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        n += len(b)
        h.update(b)
    c.sendall(b"got %d bytes %s\n" % (n, h.hexdigest().encode()))
    c.close()


def send_first(n, path):
    def handle(c, _port):
        c.sendall(pattern(n))
        c.shutdown(socket.SHUT_WR)
        with open(path, "wb") as f:
            recv_all(c, f)
        c.close()
    return handle


def tag(host):
    def handle(c, port):
        data = b""
        while True:
            b = c.recv(65536)
            if not b:
                break
            data += b
        c.sendall(b"%s:%d " % (host.encode(), port) + data)
        c.close()
    return handle


def free_pair(host):
    """P with P and P+1 bindable on host and on 127.0.0.1; the host's held."""
    # Below the kernel's ephemeral range: busy clients (load tests running
    # beside us) take ephemeral ports as their source, which a listener
    # cannot then bind, SO_REUSEADDR or not.
    lo, _ = (int(x) for x in open(
        "/proc/sys/net/ipv4/ip_local_port_range").read().split())
    for _ in range(200):
        p = random.randrange(10000, max(lo, 10002) - 1)
        held = []
        try:
            for port in (p, p + 1):
                held.append(listener(host, port))
            for port in (p, p + 1):
                t = socket.socket()
                t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                t.bind(("127.0.0.1", port))
                t.close()
            return held
        except OSError:
            for s in held:
                s.close()
    sys.exit("no free pair of ports")


def full():
    ls = listener("127.0.0.1", 0, 0)
    addr = ls.getsockname()
    held = []
    for _ in range(64):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(addr)
        held.append(s)
        # Established means it went to the accept queue; a connect left
        # hanging means the queue is full.
        t = time.monotonic() + 0.3
        while time.monotonic() < t:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and \
                    _connected(s):
                break
            time.sleep(0.01)
        else:
            break
    else:
        sys.exit("the accept queue never filled")
    print("port", addr[1], flush=True)
    while True:
        time.sleep(3600)


def _connected(s):
    try:
        s.getpeername()
        return True
    except OSError:
        return False


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(None)
    return s, time.monotonic()


def done(s, t0, *more):
    ms = int((time.monotonic() - t0) * 1000)
    print(s.getsockname()[1], ms, *more, flush=True)


def client_send_shut(port, src, dst):
    s, t0 = connect(port)
    local = s.getsockname()

    def send():
        with open(src, "rb") as f:
            s.sendall(f.read())
        s.shutdown(socket.SHUT_WR)
    threading.Thread(target=send, daemon=True).start()
    with open(dst, "wb") as f:
        recv_all(s, f)
    print(local[1], int((time.monotonic() - t0) * 1000), flush=True)


def client_eof_then_send(port, dst, data):
    s, t0 = connect(port)
    s.settimeout(5)
    try:
        with open(dst, "wb") as f:
            recv_all(s, f)
    except socket.timeout:
        print(s.getsockname()[1], "no EOF within 5 s", flush=True)
        sys.exit(3)
    s.settimeout(None)
    s.sendall(data.encode())
    s.shutdown(socket.SHUT_WR)
    end = "eof"
    try:
        recv_all(s)
    except ConnectionResetError:
        end = "reset"
    done(s, t0, end)


def client_wait_end(port):
    s, t0 = connect(port)
    local = s.getsockname()[1]
    n = 0
    end = "eof"
    try:
        n = recv_all(s)
    except ConnectionResetError:
        end = "reset"
    print(local, int((time.monotonic() - t0) * 1000), end, n, flush=True)


def main(argv):
    mode = argv[1]
    if mode == "reply-after-eof":
        serve([listener("127.0.0.1", 0)], reply_after_eof)
    elif mode == "send-first":
        serve([listener("127.0.0.1", 0)], send_first(int(argv[2]), argv[3]))
    elif mode == "tag":
        serve(free_pair(argv[2]), tag(argv[2]))
    elif mode == "full":
        full()
    elif mode == "send-shut":
        client_send_shut(int(argv[2]), argv[3], argv[4])
    elif mode == "eof-then-send":
        client_eof_then_send(int(argv[2]), argv[3], argv[4])
    elif mode == "wait-end":
        client_wait_end(int(argv[2]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main(sys.argv)
