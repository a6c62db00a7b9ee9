#!/usr/bin/env python3
"""A libzmq peer for the CURVE interop tests (pyzmq, whose libzmq has CURVE).

Prints "ENDPOINT <endpoint>" once it has bound (or "STARTED" once it has
connected), runs one exchange, then prints "OK <count>" or "FAIL <reason>"
and exits (status 0 only on OK). Every wait is bounded by --timeout-ms.

Roles: --server-secret KEY makes it a CURVE server (its public key follows);
--server-key KEY --secret KEY makes it a CURVE client. --allow KEY (repeatable)
starts a ZAP handler that admits only those client keys.

Modes:
  echo       receive messages and send each back (ROUTER keeps the envelope)
             until one whose last frame is END
  request    send one message per --sizes entry, expect it back, then END
  publish    (XPUB) wait for a subscription, publish "t"+payload per size, then "tEND"
  subscribe  (SUB) subscribe to "t", receive until "tEND", check the sizes
"""
import argparse
import sys
import threading

import zmq
import zmq.utils.z85


def payload(size):
    return bytes((i % 251) for i in range(size))


def zap_handler(ctx, allowed, ready):
    handler = ctx.socket(zmq.REP)
    handler.linger = 0
    handler.bind("inproc://zeromq.zap.01")
    ready.set()
    while True:
        try:
            req = handler.recv_multipart()
        except zmq.ContextTerminated:
            return
        version, request_id, domain, address, identity, mechanism = req[:6]
        credentials = req[6:]
        ok = mechanism == b"CURVE" and zmq.utils.z85.encode(credentials[0]) in allowed
        if ok:
            reply = [version, request_id, b"200", b"OK", b"user-" + zmq.utils.z85.encode(credentials[0])[:8], b""]
        else:
            reply = [version, request_id, b"400", b"key not allowed", b"", b""]
        handler.send_multipart(reply)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--type", required=True)
    p.add_argument("--bind")
    p.add_argument("--connect")
    p.add_argument("--server-secret")
    p.add_argument("--server-key")
    p.add_argument("--secret")
    p.add_argument("--allow", action="append", default=[])
    p.add_argument("--mode", required=True)
    p.add_argument("--sizes", default="0,1,255,256,65536,1048576")
    p.add_argument("--timeout-ms", type=int, default=10000)
    a = p.parse_args()
    sizes = [int(s) for s in a.sizes.split(",") if s]

    ctx = zmq.Context()
    if a.allow:
        ready = threading.Event()
        allowed = {k.encode() for k in a.allow}
        threading.Thread(target=zap_handler, args=(ctx, allowed, ready), daemon=True).start()
        ready.wait(5)
    s = ctx.socket(getattr(zmq, a.type))
    s.rcvtimeo = a.timeout_ms
    s.sndtimeo = a.timeout_ms
    s.linger = 2000
    if a.server_secret:
        s.curve_server = True
        s.curve_secretkey = a.server_secret.encode()
        s.curve_publickey = zmq.curve_public(a.server_secret.encode())
    else:
        s.curve_serverkey = a.server_key.encode()
        s.curve_secretkey = a.secret.encode()
        s.curve_publickey = zmq.curve_public(a.secret.encode())
    if a.type == "XPUB":
        s.setsockopt(zmq.XPUB_VERBOSE, 1)
    if a.bind:
        s.bind(a.bind)
        print("ENDPOINT", s.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    else:
        s.connect(a.connect)
        print("STARTED", flush=True)

    try:
        count = run(a.mode, a.type, s, sizes)
    except zmq.Again:
        print("FAIL timed out", flush=True)
        return 1
    except AssertionError as e:
        print("FAIL", e, flush=True)
        return 1
    print("OK", count, flush=True)
    s.close()
    ctx.term()
    return 0


def run(mode, kind, s, sizes):
    if mode == "echo":
        n = 0
        while True:
            msg = s.recv_multipart()
            s.send_multipart(msg)
            n += 1
            if msg[-1] == b"END":
                return n
    if mode == "request":
        for size in sizes:
            body = [b"head", payload(size)] if kind == "DEALER" else [payload(size)]
            s.send_multipart(body)
            back = s.recv_multipart()
            assert back == body, f"echo of {size} bytes differs"
        end = [b"END"]
        s.send_multipart(end)
        assert s.recv_multipart() == end, "END not echoed"
        return len(sizes)
    if mode == "publish":
        sub = s.recv()
        assert sub == b"\x01t", f"unexpected subscription {sub!r}"
        for size in sizes:
            s.send(b"t" + payload(size))
        s.send(b"tEND")
        return len(sizes)
    if mode == "subscribe":
        s.setsockopt(zmq.SUBSCRIBE, b"t")
        got = []
        while True:
            m = s.recv()
            if m == b"tEND":
                break
            got.append(m)
        assert [len(m) - 1 for m in got] == sizes, f"sizes {[len(m) - 1 for m in got]}"
        assert all(m[1:] == payload(len(m) - 1) for m in got), "payload differs"
        return len(got)
    raise AssertionError(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main())
