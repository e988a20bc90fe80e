"""Helpers every bench shares: the machine's speed, free ports, waiting for a server, scratch databases.

Benches run as scripts (``python bench/x.py``), so this directory is on ``sys.path`` and they
``from common import ...``.
"""
from __future__ import annotations

import http.client
import socket
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def reference_loop(clock=time.perf_counter) -> float:
    """Seconds for the 10-million-step loop that DESIGN.md states its targets against (0.6 s), by
    ``clock`` (wall time; ``time.process_time`` for the CPU this process is charged)."""
    t = clock()
    s = 0
    for i in range(10**7):
        s += i
    return clock() - t


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


def postgres_data_directory(admin_url: str) -> str:
    """Where the PostgreSQL server at ``admin_url`` keeps its files, if it runs on this machine (""
    otherwise, or when the role may not read the setting)."""
    if make_url(admin_url).host not in (None, "", "127.0.0.1", "localhost", "::1"):
        return ""
    engine = create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SHOW data_directory")).scalar() or ""
    except Exception:  # noqa: BLE001 - only a superuser (or pg_read_all_settings) may read it
        return ""
    finally:
        engine.dispose()


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


_LOOP_CODE = ("import os, sys, time\nos.nice(19)\nsteps=int(sys.argv[1])\n"
              "for _ in sys.stdin:\n"
              " t=time.perf_counter();c=time.process_time();s=0\n"
              " for i in range(steps): s+=i\n"
              " print(time.perf_counter()-t, time.process_time()-c, flush=True)\n")


class LoopSampler:
    """The reference loop timed every ``every`` seconds in a process of its own while a bench runs.

    On a shared machine (other processes, an overcommitted host) the CPU seconds a process is
    charged for the same work vary by 2x and more with the load; a CPU figure measured under load
    is only comparable with the loop's CPU time measured under the same load. ``cpu`` is the loop's
    process CPU time (median of the samples), ``wall`` its wall time, both for the reference loop's
    10 million steps.

    The loop runs at nice 19 in one process started once, so it takes the CPU time the measured
    processes leave. Even so, the whole 10 million steps (about 1.3 s of a core) every 5 s lined
    up with several bursts of late requests in open-loop runs at 200/s on this machine kind, and
    runs without samples during them had late requests only where the disk stalled. ``steps``
    below 10 million times that many steps per sample and scales the figures to the reference's
    10 million (the loop's cost is linear in its steps): 1 million every second keeps a core busy
    about 0.1 s at a time. The loop runs at module level (global names), as `python -c` runs
    DESIGN.md's snippet: about 2.3x slower on CPython 3.11 than the same loop inside a function
    (``reference_loop``).
    """

    REFERENCE_STEPS = 10**7

    def __init__(self, every: float = 5.0, steps: int = REFERENCE_STEPS) -> None:
        import subprocess
        import sys
        import threading

        self._subprocess, self._python = subprocess, sys.executable
        self.every, self.steps, self.samples = every, steps, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._proc = None

    def __enter__(self) -> "LoopSampler":
        self._proc = self._subprocess.Popen([self._python, "-c", _LOOP_CODE, str(self.steps)], text=True,
                                            stdin=self._subprocess.PIPE, stdout=self._subprocess.PIPE)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._proc.stdin.close()
        self._proc.wait()

    def _run(self) -> None:
        scale = self.REFERENCE_STEPS / self.steps
        while True:
            self._proc.stdin.write("\n")
            self._proc.stdin.flush()
            wall, cpu = (float(x) * scale for x in self._proc.stdout.readline().split())
            self.samples.append((wall, cpu))
            if self._stop.wait(self.every):
                return

    @property
    def cpu(self) -> float:
        return sorted(c for _, c in self.samples)[len(self.samples) // 2]

    @property
    def wall(self) -> float:
        return sorted(w for w, _ in self.samples)[len(self.samples) // 2]


class DiskWatch:
    """The disk under ``path`` while a bench runs, read from /proc/diskstats every ``every`` seconds
    (it writes nothing, so it does not load the disk it watches).

    Every commit PostgreSQL acknowledges waits for its WAL to reach the disk (fdatasync: a cache
    flush on a virtual disk). When the host's storage stalls, every commit in flight waits with it,
    whatever the application does: an open-loop run at 200/s then finishes a burst of late requests
    together. Measured here: ``flushes``, and ``stalls``, the spells of at least ``min_stall`` seconds
    with I/O in flight on the disk and none completing ((start, seconds), start on
    ``time.perf_counter``'s clock; the kernel counts flush time in whole milliseconds, too coarse to
    time a flush by). ``available`` is False where the kernel does not
    report the disk (another machine's database, a container without /proc/diskstats).
    """

    FIELDS = {"reads": 0, "writes": 4, "in_flight": 8, "discards": 11, "flushes": 15}

    def __init__(self, path: str, every: float = 0.01, min_stall: float = 0.02) -> None:
        import threading

        self.device = self._device(path)
        self.available = self.device is not None
        self.every, self.min_stall = every, min_stall
        self.stalls: list[tuple[float, float]] = []
        self.flushes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _device(path: str) -> str | None:
        """The whole disk holding ``path`` (a partition's flushes are counted on its disk)."""
        import os

        try:
            st = os.stat(path)
            sys_dir = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}").resolve()
        except OSError:
            return None
        if (sys_dir / "partition").exists():
            sys_dir = sys_dir.parent
        return sys_dir.name if sys_dir.exists() else None

    def _read(self) -> list[int] | None:
        with open("/proc/diskstats") as fh:
            for line in fh:
                parts = line.split()
                if parts[2] == self.device:
                    return [int(x) for x in parts[3:]]
        return None

    def __enter__(self) -> "DiskWatch":
        if self.available and (self._read() or [])[15:17]:
            self._thread.start()
        else:
            self.available = False
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        f = self.FIELDS
        prev_t, prev = time.perf_counter(), self._read()
        stall_from = None
        while not self._stop.wait(self.every):
            now, cur = time.perf_counter(), self._read()
            done = sum(cur[f[k]] - prev[f[k]] for k in ("reads", "writes", "discards", "flushes"))
            flushes = cur[f["flushes"]] - prev[f["flushes"]]
            self.flushes += flushes
            if cur[f["in_flight"]] > 0 and done == 0:
                stall_from = stall_from or prev_t
            else:
                if stall_from is not None and now - stall_from >= self.min_stall:
                    self.stalls.append((stall_from, now - stall_from))
                stall_from = None
            prev_t, prev = now, cur

    def summary(self, t0: float) -> str:
        """One line: the flushes and the stalls (seconds after ``t0``: when, how long)."""
        if not self.available:
            return "not watched (the disk is not on this machine's /proc/diskstats)"
        during = [s for s in self.stalls if s[0] + s[1] >= t0]
        longest = sorted(during, key=lambda s: -s[1])[:6]
        stalls = ", ".join(f"{start - t0:.1f}s:{length * 1000:.0f}ms" for start, length in sorted(longest)) or "none"
        return (f"{self.device}: {self.flushes} flushes; "
                f"{len(during)} stalls >= {self.min_stall * 1000:.0f} ms (I/O in flight, none completing); "
                f"the longest (s:ms): {stalls}")

# -- two `sip` processes behind Kamailio's dispatcher (bench/sip_load.py, bench/bridge_load.py) --------
def exit_on_sigterm() -> None:
    """SIGTERM (``timeout``, a CI job stopping) raises SystemExit, so the bench's ``finally``
    blocks stop the Kamailio and endpoint processes it started (Kamailio runs in a session of its
    own and outlived a bench killed by the default handler)."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class DispatcherFront:
    """Kamailio with the dispatcher in front of ``sip_ports``, from the configuration production
    uses (``hotline.app.deploy.kamailio_files``, the text `hotline deploy render` writes), in a run
    directory of its own. Also the registrar the `sip` processes and operators' phones register at."""

    def __init__(self, run_dir: Path, sip_ports: list[int], host: str = "127.0.0.1") -> None:
        from telephony.sip.proxy import free_udp_port

        self.run_dir, self.sip_ports, self.host = Path(run_dir), list(sip_ports), host
        self.port = free_udp_port(host)
        self.proc = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def start(self, timeout: float = 15.0) -> "DispatcherFront":
        import atexit

        from hotline.app.deploy import kamailio_files
        from telephony.sip.proxy import ProxyError, kamailio_command, start_kamailio

        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name, text_ in kamailio_files(self.host, self.port, self.run_dir, self.sip_ports).items():
            (self.run_dir / name).write_text(text_)
        cmd = kamailio_command(str(self.run_dir / "kamailio.cfg"), str(self.run_dir), dispatcher=True)
        try:
            self.proc = start_kamailio(cmd, self.host, self.port, self.run_dir / "kamailio.log", timeout)
        except ProxyError as e:
            raise SystemExit(str(e)) from None
        atexit.register(self.stop)  # its own session: nothing else stops it if the bench dies mid-way
        return self

    def destinations(self) -> dict[str, str]:
        """The dispatcher's view: destination URI -> flags (``AP`` = active, probed)."""
        import re
        import subprocess

        out = subprocess.run(["kamcmd", "-s", f"unix:{self.run_dir}/kamailio_ctl", "dispatcher.list"],
                             capture_output=True, text=True, timeout=10).stdout
        return dict(re.findall(r"URI: (\S+)\s+FLAGS: (\S+)", out))

    def wait_active(self, timeout: float = 30.0) -> None:
        """Until the dispatcher's OPTIONS probes found every `sip` process up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            flags = self.destinations()
            if len(flags) == len(self.sip_ports) and all(f.startswith("A") for f in flags.values()):
                return
            time.sleep(0.3)
        raise SystemExit(f"dispatcher destinations not active: {self.destinations()}")

    def stop(self) -> None:
        from telephony.sip.proxy import stop_kamailio

        proc, self.proc = self.proc, None
        stop_kamailio(proc)

    def log_tail(self, chars: int = 2000) -> str:
        from telephony.sip.proxy import log_tail

        return log_tail(self.run_dir / "kamailio.log", chars)


class ServeChild:
    """A bench's own endpoint process (``bench/x.py --serve ...``), driven by lines on its stdin:
    it prints ``ready`` when up, answers every command line with one line (JSON for reports),
    and stops on ``quit``. ``cpu()`` is its CPU time (all threads)."""

    def __init__(self, argv: list[str], log_path: Path, cwd: Path, name: str) -> None:
        import subprocess
        import sys

        self.name = name
        self.proc = subprocess.Popen([sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=cwd, stderr=open(log_path, "w"))
        self.log_path = log_path

    def expect_ready(self) -> None:
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"{self.name} did not start ({line!r}): {Path(self.log_path).read_text()[-2000:]}")

    def ask(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def ask_json(self, command: str) -> dict:
        import json

        line = self.ask(command)
        try:
            return json.loads(line)
        except ValueError:
            raise SystemExit(f"{self.name}: {line!r} {Path(self.log_path).read_text()[-2000:]}") from None

    def cpu(self) -> float:
        import psutil

        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        import subprocess

        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def udp_drops(ports) -> dict[int, int]:
    """Datagrams the kernel dropped at each bound UDP socket of ``ports`` (IPv4, this network
    namespace), read from /proc/net/udp's ``drops`` column: a full receive buffer (the reader was
    too slow), counted per socket since it was opened."""
    wanted, found = set(ports), {}
    with open("/proc/net/udp") as fh:
        next(fh)
        for line in fh:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if port in wanted:
                found[port] = found.get(port, 0) + int(fields[12])
    return found


def udp_counters() -> dict[str, int]:
    """The machine's UDP counters (/proc/net/snmp): RcvbufErrors = datagrams dropped at a full
    receive buffer, any socket (other sessions' too), InErrors includes them."""
    with open("/proc/net/snmp") as fh:
        rows = [line.split() for line in fh if line.startswith("Udp:")]
    return {name: int(value) for name, value in zip(rows[0][1:], rows[1][1:])}


def cpu_line(label: str, cpu_s: float, wall_s: float, calls: int) -> str:
    """``label: X % of one core, Y ms CPU per call-second`` (CPU per call = CPU time / wall / calls)."""
    share = cpu_s / wall_s if wall_s else 0.0
    per_call = share / calls if calls else 0.0
    return (f"{label:<10} CPU {100 * share:6.1f} % of one core over {wall_s:5.1f} s, {calls:4d} calls: "
            f"{100 * per_call:.3f} % of a core per call ({1000 * per_call:.2f} ms CPU per call-second)")
