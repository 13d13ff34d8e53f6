#!/usr/bin/env python3
"""sp-raw.py: test tool; speaks nng's REQ0 wire to a depotd socket byte by byte, as no well-behaved client would.

Usage: sp-raw.py SOCKET MODE [ARG...]; prints what it saw, one JSON object a line.
  pipeline N            N pings written in one go, then their N replies read
  hops                  a request whose backtrace has two words; prints the reply's
  no-id                 a message without a request id, then a ping on the same connection
  liar LEN              announces a LEN-byte request, sends 1 KiB of it, and waits for the close
  liars N LEN           N connections in turn, each announcing a LEN-byte request and waiting for the close
  trickle SECONDS       one ping written a byte at a time over SECONDS; prints its reply
  no-read N REQUEST     N copies of REQUEST (JSON) written, replies never read; holds until killed
  send-close REQUEST    REQUEST written, then the connection closed at once
  header PROTO          a connection header with protocol id PROTO (e.g. 0x21); prints whether it closed
  idle N                N connections that send their header and nothing else; holds until killed
  no-read-conns C REQUEST  C connections, each writes REQUEST (JSON) once and never reads; holds until killed
  ask REQUEST           REQUEST (JSON) sent, its reply read whole; prints its size and the seconds it took
  hammer SECONDS        connects and closes at once, again and again for SECONDS; prints how many times
  mute SECONDS          one connection that sends nothing at all; prints whether depotd closed it within SECONDS, and the bytes it sent
  partial C LEN         C connections, each announcing a LEN-byte request and sending all of it but its last byte; holds until killed
  silent N              N connections that send nothing at all, not even a header; holds until killed
"""
import json
import os
import socket
import struct
import sys
import time

REQ0 = 0x30


def connect(path, proto=REQ0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"\0SP\0" + struct.pack(">H", proto) + b"\0\0")
    return s


def frame(body):
    return b"\1" + struct.pack(">Q", len(body)) + body


def request(rid, obj):
    return frame(struct.pack(">I", rid) + json.dumps(obj).encode())


def read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def read_header(s):
    h = read_exact(s, 8)
    if h[:4] != b"\0SP\0":
        raise ValueError("bad header %r" % h)


def read_message(s):
    t, n = struct.unpack(">BQ", read_exact(s, 9))
    return read_exact(s, n)


def split_reply(msg, words):
    ids = list(struct.unpack(">%dI" % words, msg[: 4 * words]))
    return ids, json.loads(msg[4 * words:])


def closed_within(s, seconds):
    s.settimeout(seconds)
    try:
        while True:
            if not s.recv(65536):
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def out(**kw):
    print(json.dumps(kw), flush=True)


def hold():
    while True:
        time.sleep(3600)


def main():
    path, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    ping = {"cmd": "ping", "args": {}}
    if mode == "pipeline":
        n = int(args[0])
        s = connect(path)
        s.sendall(b"".join(request(0x80000000 + i, ping) for i in range(n)))
        read_header(s)
        for _ in range(n):
            ids, body = split_reply(read_message(s), 1)
            out(id=ids[0] - 0x80000000, ok=body.get("ok"))
    elif mode == "hops":
        s = connect(path)
        body = struct.pack(">II", 0x00000007, 0x80000042) + json.dumps(ping).encode()
        s.sendall(frame(body))
        read_header(s)
        ids, reply = split_reply(read_message(s), 2)
        out(backtrace=ids, ok=reply.get("ok"))
    elif mode == "no-id":
        s = connect(path)
        # Two words, neither with the high bit: no request id, nowhere to reply.
        bad = struct.pack(">II", 1, 2) + json.dumps(ping).encode()
        s.sendall(frame(bad) + request(0x80000009, ping))
        read_header(s)
        ids, reply = split_reply(read_message(s), 1)
        out(id=ids[0] - 0x80000000, ok=reply.get("ok"))
    elif mode == "liar":
        s = connect(path)
        s.sendall(b"\1" + struct.pack(">Q", int(args[0])) + b"x" * 1024)
        read_header(s)
        out(closed=closed_within(s, 10))
    elif mode == "liars":
        n, closed = int(args[0]), 0
        for _ in range(n):
            s = connect(path)
            s.sendall(b"\1" + struct.pack(">Q", int(args[1])))
            closed += closed_within(s, 5)
            s.close()
        out(liars=n, closed=closed)
    elif mode == "trickle":
        s = connect(path)
        msg = request(0x80000001, ping)
        pause = float(args[0]) / len(msg)
        for b in msg:
            s.sendall(bytes([b]))
            time.sleep(pause)
        read_header(s)
        ids, reply = split_reply(read_message(s), 1)
        out(id=ids[0] - 0x80000000, ok=reply.get("ok"))
    elif mode == "no-read":
        n, req = int(args[0]), json.loads(args[1])
        s = connect(path)
        s.setblocking(False)
        data = b"".join(request(0x80000000 + i, req) for i in range(n))
        sent = 0
        deadline = time.time() + 5
        while sent < len(data) and time.time() < deadline:
            try:
                sent += s.send(data[sent:])
            except BlockingIOError:
                time.sleep(0.01)
        out(requests=n, bytes_sent=sent, bytes_total=len(data))
        hold()
    elif mode == "send-close":
        s = connect(path)
        s.sendall(request(0x80000001, json.loads(args[0])))
        s.close()
        out(sent=True)
    elif mode == "header":
        s = connect(path, int(args[0], 0))
        out(closed=closed_within(s, 10))
    elif mode == "idle":
        conns = []
        for _ in range(int(args[0])):
            try:
                conns.append(connect(path))
            except OSError as e:
                out(error=str(e), connected=len(conns))
                break
        out(connected=len(conns))
        hold()
    elif mode == "no-read-conns":
        conns = []
        req = request(0x80000001, json.loads(args[1]))
        for _ in range(int(args[0])):
            s = connect(path)
            s.sendall(req)
            conns.append(s)
        out(connected=len(conns))
        hold()
    elif mode == "ask":
        s = connect(path)
        start = time.time()
        s.sendall(request(0x80000001, json.loads(args[0])))
        read_header(s)
        ids, reply = split_reply(read_message(s), 1)
        out(ok=reply.get("ok"), bytes=len(json.dumps(reply)), seconds=round(time.time() - start, 3))
    elif mode == "hammer":
        n, end = 0, time.time() + float(args[0])
        while time.time() < end:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                n += 1
            except OSError:
                pass
            s.close()
        out(connects=n)
    elif mode == "mute":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.settimeout(float(args[0]))
        got, closed = 0, False
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    closed = True
                    break
                got += len(chunk)
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
        out(closed=closed, bytes_received=got)
    elif mode == "partial":
        conns, n = [], int(args[1])
        body = b"\1" + struct.pack(">Q", n) + b"x" * (n - 1)
        for _ in range(int(args[0])):
            s = connect(path)
            s.setblocking(False)
            conns.append([s, 0])
        deadline = time.time() + 60
        closed = 0
        while any(0 <= c[1] < len(body) for c in conns) and time.time() < deadline:
            for c in conns:
                if 0 <= c[1] < len(body):
                    try:
                        c[1] += c[0].send(body[c[1]:c[1] + (1 << 20)])
                    except BlockingIOError:
                        pass
                    except OSError:
                        c[1] = -1
                        closed += 1
            time.sleep(0.001)
        out(connections=len(conns), closed_by_depotd=closed,
            bytes_sent=sum(c[1] for c in conns if c[1] > 0))
        hold()
    elif mode == "silent":
        conns = []
        for _ in range(int(args[0])):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            conns.append(s)
        out(connected=len(conns))
        hold()
    else:
        sys.exit("sp-raw.py: unknown mode %s" % mode)


if __name__ == "__main__":
    main()
