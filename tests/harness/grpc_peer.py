#!/usr/bin/python3
"""An independent gRPC server for fm_grpc's tests (grpcio, Debian's
python3-grpcio: a real HTTP/2 and gRPC implementation that is not ours).

    grpc_peer.py SOCKET

Listens on unix://SOCKET and prints "ready" once it serves. Methods under
/fmtest.Peer/ take and give raw bytes (no protobuf: the framing is what is
tested):

  Echo      the request back
  Stream    "N" -> N messages "message I" (I from 0), then OK
  Fail      "CODE TEXT" -> no message, gRPC status CODE with TEXT
  Sleep     "MS" -> sleeps MS milliseconds, then the request back
  Big       "N" -> one message of N bytes ('x')
  Hang      never answers (until the client goes away)

and /runtime.v1.RuntimeService/GetContainerEvents, the CRI's event stream
(containerd 1.7+, CRI-O): one ContainerEventResponse saying that container
"cafe..." (64 hex digits) stopped, protobuf written by hand (container_id
= 1, container_event_type = 2: CONTAINER_STOPPED_EVENT), then nothing until
the client goes away.

Runs until SIGTERM.
"""
import signal
import sys
import threading
import time
from concurrent import futures

import grpc


def echo(req, ctx):
    return req


def stream(req, ctx):
    for i in range(int(req.decode())):
        yield b"message %d" % i


def fail(req, ctx):
    code, _, text = req.decode().partition(" ")
    status = next(s for s in grpc.StatusCode if s.value[0] == int(code))
    ctx.abort(status, text)


def sleep(req, ctx):
    time.sleep(int(req.decode()) / 1000.0)
    return req


def big(req, ctx):
    return b"x" * int(req.decode())


def hang(req, ctx):
    done = threading.Event()
    ctx.add_callback(done.set)
    done.wait()
    return b""


STOPPED_ID = b"cafe" * 16


def container_events(req, ctx):
    yield b"\x0a" + bytes([len(STOPPED_ID)]) + STOPPED_ID + b"\x10\x02"
    done = threading.Event()
    ctx.add_callback(done.set)
    done.wait()


def main():
    sock = sys.argv[1]
    unary = {"Echo": echo, "Fail": fail, "Sleep": sleep, "Big": big, "Hang": hang}
    handlers = {name: grpc.unary_unary_rpc_method_handler(fn) for name, fn in unary.items()}
    handlers["Stream"] = grpc.unary_stream_rpc_method_handler(stream)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_send_message_length", 64 << 20)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("fmtest.Peer", handlers),))
    cri = {"GetContainerEvents": grpc.unary_stream_rpc_method_handler(container_events)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("runtime.v1.RuntimeService", cri),))
    server.add_insecure_port("unix://" + sock)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    server.stop(0)


if __name__ == "__main__":
    main()
