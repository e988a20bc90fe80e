"""Helpers every bench shares: the machine's speed, free ports, waiting for a server, scratch databases.

Benches run as scripts (``python bench/x.py``), so this directory is on ``sys.path`` and they
``from common import ...``.
"""
from __future__ import annotations

import http.client
import socket
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def reference_loop() -> float:
    """Seconds for the 10-million-step loop that DESIGN.md states its targets against (0.6 s)."""
    t = time.perf_counter()
    s = 0
    for i in range(10**7):
        s += i
    return time.perf_counter() - t


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, timeout: float = 60) -> None:
    """Until the server on ``port`` answers /healthz with 200 (exit the bench otherwise)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("server did not come up")


def drop_database(admin_url: str, name: str, *, create: bool = False) -> str:
    """Drop the scratch database ``name`` (and create it afresh with ``create``); returns its URL."""
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def recreate(admin_url: str, name: str) -> str:
    """A fresh, empty database ``name``; returns its URL."""
    return drop_database(admin_url, name, create=True)


def timed(label: str, fn, width: int = 48):
    """Run ``fn``, print how long it took; returns (its result, seconds)."""
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    print(f"  {label:<{width}} {elapsed:8.1f} s", flush=True)
    return result, elapsed


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def drop_indexes(conn, table: str) -> list[str]:
    """Drop ``table``'s indexes and unique constraints (not its primary key) before a bulk load;
    returns the statements that put them back (``restore_indexes``), read from PostgreSQL itself."""
    constraints = list(conn.execute(text(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) AND contype = 'u'"), {"t": table}))
    owned = {name for name, _ in constraints}
    indexes = [(name, ddl) for name, ddl in conn.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t AND indexname <> :pkey"),
        {"t": table, "pkey": f"{table}_pkey"}) if name not in owned]
    for name, _ in constraints:
        conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return ([f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}' for name, definition in constraints]
            + [ddl for _, ddl in indexes])


def restore_indexes(conn, statements: list[str]) -> None:
    for statement in statements:
        conn.execute(text(statement))


_LOOP_CODE = ("import time\nt=time.perf_counter();c=time.process_time();s=0\nfor i in range(10**7): s+=i\n"
              "print(time.perf_counter()-t, time.process_time()-c)")


class LoopSampler:
    """The reference loop run every ``every`` seconds in a process of its own while a bench runs.

    On a shared machine (other processes, an overcommitted host) the CPU seconds a process is
    charged for the same work vary by 2x and more with the load; a CPU figure measured under load
    is only comparable with the loop's CPU time measured under the same load. ``cpu`` is the loop's
    process CPU time (median of the samples), ``wall`` its wall time.
    """

    def __init__(self, every: float = 5.0) -> None:
        import subprocess
        import sys
        import threading

        self._subprocess, self._python = subprocess, sys.executable
        self.every, self.samples = every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "LoopSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            out = self._subprocess.run([self._python, "-c", _LOOP_CODE], capture_output=True, text=True).stdout
            wall, cpu = (float(x) for x in out.split())
            self.samples.append((wall, cpu))
            if self._stop.wait(self.every):
                return

    @property
    def cpu(self) -> float:
        return sorted(c for _, c in self.samples)[len(self.samples) // 2]

    @property
    def wall(self) -> float:
        return sorted(w for w, _ in self.samples)[len(self.samples) // 2]
