#!/usr/bin/env python3
"""A crowd for the appliance's CURVE scale test (pyzmq, libzmq with CURVE).

  curve_crowd.py ENDPOINT SERVER_PUBLIC CLIENT_SECRET N HOSTILE

Opens N DEALER connections as the CURVE client CLIENT_SECRET, sends one
request on each and waits for every reply (so every handshake completed and
the box served each one), and meanwhile opens HOSTILE raw TCP connections
that send a CURVE greeting and then garbage (a HELLO with a bad box, bytes
that are no frame at all). Prints "OK <replies>" with the connections still
open, then waits for a line on stdin before closing them all.
"""
import os
import socket
import sys

import zmq


def hostile(endpoint, n):
    host, port = endpoint.replace("tcp://", "").rsplit(":", 1)
    greeting = bytes([0xFF] + [0] * 8 + [0x7F, 3, 1]) + b"CURVE" + bytes(15) + bytes(32)
    conns = []
    for i in range(n):
        s = socket.create_connection((host, int(port)))
        if i % 2 == 0:
            hello = b"\x05HELLO" + bytes([1, 0]) + bytes(72) + os.urandom(32 + 8 + 80)
            s.sendall(greeting + bytes([0x04, len(hello)]) + hello)
        else:
            s.sendall(greeting + os.urandom(300))
        conns.append(s)
    return conns


def main():
    endpoint, server_public, client_secret, n, n_hostile = sys.argv[1:6]
    n, n_hostile = int(n), int(n_hostile)
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, n + 64)
    socks = []
    for i in range(n):
        s = ctx.socket(zmq.DEALER)
        s.curve_serverkey = server_public.encode()
        s.curve_secretkey = client_secret.encode()
        s.curve_publickey = zmq.curve_public(client_secret.encode())
        s.linger = 0
        s.connect(endpoint)
        socks.append(s)
    bad = hostile(endpoint, n_hostile)
    for i, s in enumerate(socks):
        s.send_multipart([b"", b"req-%d" % i])
    poller = zmq.Poller()
    for s in socks:
        poller.register(s, zmq.POLLIN)
    replies = 0
    while replies < n:
        events = dict(poller.poll(20000))
        if not events:
            print("FAIL", replies, "replies", flush=True)
            return 1
        for s in events:
            s.recv_multipart()
            replies += 1
    print("OK", replies, flush=True)
    sys.stdin.readline()
    for s in bad:
        s.close()
    for s in socks:
        s.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
