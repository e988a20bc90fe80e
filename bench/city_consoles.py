"""bench/city_load.py's supervisors' consoles, all in this one process (its CPU is measured apart
from the bench's): python-socketio clients on /console through nginx, each counting every
ticket.created frame and its push latency (receive time - the frame's ts).

    python bench/city_consoles.py BASE_URL N DUMP_PATH     (cookie in CITY_CONSOLE_COOKIE)

Prints "ready" once all N are connected; on each "dump" line on stdin writes
{"frames": [{ticket number: ms}, ...], "other": [count, ...]} to DUMP_PATH and prints "dumped";
disconnects and exits when stdin closes.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time


class Console:
    def __init__(self, base: str, cookie: str) -> None:
        import socketio

        self.frames: dict[str, float] = {}
        self.other = 0
        self.lock = threading.Lock()
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.5)
        self.sio.on("event", self._on_event, namespace="/console")
        self.sio.connect(base, headers={"Cookie": cookie}, namespaces=["/console"], transports=["websocket"],
                         wait_timeout=30)

    def _on_event(self, frame) -> None:
        now = time.time() * 1000
        if frame.get("name") == "ticket.created":
            with self.lock:
                self.frames.setdefault(frame["payload"]["number"], now - frame["ts"])
        else:
            self.other += 1

    def snapshot(self) -> dict[str, float]:
        with self.lock:
            return dict(self.frames)

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:  # noqa: BLE001 - closing anyway
            pass


def main() -> None:
    base, n, dump = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    consoles = [Console(base, os.environ["CITY_CONSOLE_COOKIE"]) for _ in range(n)]
    print("ready", flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "dump":
                tmp = dump + ".tmp"
                with open(tmp, "w") as fh:
                    json.dump({"frames": [k.snapshot() for k in consoles], "other": [k.other for k in consoles]}, fh)
                os.replace(tmp, dump)
                print("dumped", flush=True)
    finally:
        for k in consoles:
            k.close()


if __name__ == "__main__":
    main()
