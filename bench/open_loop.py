"""An open-loop HTTP load generator in one thread: requests leave on a fixed schedule, whatever the
server does, and each latency counts from the request's scheduled time (no coordinated omission).

The benches run the server and this client on the same two cores, so the client must cost little:
one thread multiplexes up to ``connections`` sockets with ``selectors``, the request's bytes are
built once, and a response is read only as far as its status line, headers and Content-Length.
(The previous generator, 32 threads of http.client, spent 0.5-0.7 ms of CPU per request and its
threads' wake-ups, under the GIL, delayed its own timestamps.) Connections are kept alive when the
server allows it (gthread workers) and reopened when it closes them (sync workers close each one).
"""
from __future__ import annotations

import selectors
import socket
import time
from collections import deque


class _Conn:
    __slots__ = ("sock", "due", "buf", "sent", "fresh")

    def __init__(self, sock: socket.socket, fresh: bool) -> None:
        self.sock, self.due, self.buf, self.sent, self.fresh = sock, 0.0, b"", 0, fresh


def raw_request(method: str, path: str, port: int, headers: dict, body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _response_done(buf: bytes) -> tuple[int, bool] | None:
    """(status, server keeps the connection) once ``buf`` holds a whole response, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
    length = int(fields.get("content-length", "0"))
    if len(buf) - end - 4 < length:
        return None
    return status, fields.get("connection", "").lower() != "close" and head[0].startswith("HTTP/1.1")


def run(port: int, request: bytes, rate: float, total: int, connections: int,
        latencies: list, errors: list, *, lead: float = 0.2, stall: float = 120.0) -> float:
    """Send ``total`` requests at ``rate`` per second, at most ``connections`` at once; append
    (finished at, latency) to ``latencies`` and non-2xx statuses to ``errors``. Returns the
    schedule's start (``time.perf_counter``)."""
    sel = selectors.DefaultSelector()
    idle: deque[_Conn] = deque()  # kept-alive connections
    waiting: deque[float] = deque()  # due times not yet sent (every connection busy)
    busy = 0
    start = time.perf_counter() + lead
    scheduled = 0
    last_progress = time.perf_counter()

    def send(due: float) -> None:
        nonlocal busy
        conn = idle.popleft() if idle else None
        if conn is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            conn = _Conn(sock, fresh=True)
            sel.register(sock, selectors.EVENT_WRITE, conn)
        else:
            conn.fresh = False
            sel.register(conn.sock, selectors.EVENT_WRITE, conn)
        conn.due, conn.buf, conn.sent = due, b"", 0
        busy += 1

    def finish(conn: _Conn, status: int | None, keep: bool) -> None:
        nonlocal busy, last_progress
        busy -= 1
        done = last_progress = time.perf_counter()
        latencies.append((done, done - conn.due))
        if status is None or not 200 <= status < 300:
            errors.append(status)
        sel.unregister(conn.sock)
        if keep:
            idle.append(conn)  # parked; if the server closes it meanwhile, its reuse notices (below)
        else:
            conn.sock.close()

    while scheduled < total or waiting or busy:
        now = time.perf_counter()
        while scheduled < total and start + scheduled / rate <= now:
            waiting.append(start + scheduled / rate)
            scheduled += 1
        while waiting and busy < connections:
            send(waiting.popleft())
        timeout = max(0.0, start + scheduled / rate - now) if scheduled < total else 1.0
        for key, mask in sel.select(timeout):
            conn: _Conn = key.data
            if mask & selectors.EVENT_WRITE:
                try:
                    conn.sent += conn.sock.send(request[conn.sent:])
                except OSError:
                    finish(conn, None, False)
                    continue
                if conn.sent == len(request):
                    sel.modify(conn.sock, selectors.EVENT_READ, conn)
                continue
            try:
                data = conn.sock.recv(65536)
            except OSError:
                data = b""
            if data:
                conn.buf += data
                done = _response_done(conn.buf)
                if done is not None:
                    finish(conn, done[0], done[1])
            elif not conn.buf and not conn.fresh:
                # the server closed a kept-alive connection before answering: send again on a new one
                sel.unregister(conn.sock)
                conn.sock.close()
                busy -= 1
                send(conn.due)
            else:
                finish(conn, None, False)
        if busy and time.perf_counter() - last_progress > stall:
            raise SystemExit(f"open loop: no response for {stall:.0f} s ({busy} requests outstanding)")
    for conn in idle:
        conn.sock.close()
    sel.close()
    return start
