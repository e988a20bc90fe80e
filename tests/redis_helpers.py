"""A private redis-server for outage tests: started on a free port, killed and restarted at will.

The machine's shared Redis must never be killed by a test; this one belongs to the test alone
(no persistence, so a restart loses everything Redis held, as a crash of a cache-only Redis does).
"""
from __future__ import annotations

import subprocess
import time

import pytest

from tests.conftest import free_port
from tests.telephony_helpers import stop_process


class RedisServer:
    def __init__(self, tmp_path, port: int | None = None):
        from tests.telephony_helpers import require_tool

        self.binary = require_tool("redis-server", "redis-server")
        self.port = port or free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, attempts: int = 1) -> "RedisServer":
        """Start (or restart) the server on its port. The port was only free when it was picked: with
        ``attempts`` > 1, on a first start whose address nobody was given yet, a redis-server that
        exits (another process took the port meanwhile) is started again on another free port. A
        restart, or a start at an address already handed out, keeps the port."""
        import redis

        first = self.proc is None
        for _ in range(attempts if first else 1):
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
                    return self
                except redis.RedisError:
                    time.sleep(0.05)
            if self.proc.poll() is None:
                raise AssertionError("redis-server did not start")
            if first:
                self.port = free_port()
        raise AssertionError(f"redis-server exited (exit code {self.proc.returncode})")

    def kill(self) -> None:
        """SIGKILL: connections drop at once and everything Redis held is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 5)


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path).start(attempts=3)
    yield server
    server.stop()
