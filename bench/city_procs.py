"""CPU and memory of bench/city_load.py's processes: the layout's, per process kind (from honcho's
log), and the load generator's own (bench/city_generator.py), so the figures say who used the
machine; and the Celery worker process to kill."""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import psutil


def proc_stat(pid: int) -> tuple[float, float] | None:
    """(CPU seconds, RSS MiB) of one process (all its threads)."""
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            times, rss = proc.cpu_times(), proc.memory_info().rss
    except psutil.Error:
        return None
    return times.user + times.system, rss / 2**20


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, each parent before its children."""
    try:
        return [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return [pid]


class ProcessSampler(threading.Thread):
    """CPU and memory per process kind of the layout (honcho's log names each process's shell):
    every 2 s, each live process's CPU counter; a process's share is its last sample minus its first
    (a killed process counts until its last sample, its respawned successor from its start)."""

    def __init__(self, log_path: Path, generator: GeneratorCpu) -> None:
        super().__init__(daemon=True)
        self.log_path, self.generator = log_path, generator
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float, float]] = {}
        self.rss_peak: dict[str, float] = {}
        self.loads: list[float] = []  # 1 min load average every 2 s
        self.halt = threading.Event()
        self._shells: dict[int, str] = {}
        self._offset = 0

    def shells(self) -> dict[int, str]:
        """Every process shell honcho started so far (the log read on from where it was left)."""
        with open(self.log_path, "rb") as fh:
            fh.seek(self._offset)
            new = fh.read()
        new = new[:new.rfind(b"\n") + 1]
        self._offset += len(new)
        for m in re.finditer(r"(\w+?)(\d*)\.1 started \(pid=(\d+)\)", new.decode(errors="replace")):
            self._shells[int(m.group(3))] = m.group(1)
        return self._shells

    def sample(self) -> None:
        rss: dict[str, float] = {}
        for shell, kind in self.shells().items():
            for pid in descendants(shell):
                st = proc_stat(pid)
                if st is None:
                    continue
                self.first.setdefault(pid, st[0])
                self.last[pid] = (kind, st[0], st[1])
                rss[kind] = rss.get(kind, 0.0) + st[1]
        for kind, mb in rss.items():
            self.rss_peak[kind] = max(self.rss_peak.get(kind, 0.0), mb)

    def run(self) -> None:
        while not self.halt.wait(2.0):
            self.sample()
            self.generator.sample()
            self.loads.append(os.getloadavg()[0])

    def cpu(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, (kind, cpu, _rss) in self.last.items():
            out[kind] = out.get(kind, 0.0) + cpu - self.first[pid]
        return out


def worker_pid(log_path: Path, name: str = "worker1") -> int | None:
    """The Celery main process of ``name`` (the child of its respawn shell)."""
    shells = [int(m.group(1)) for m in re.finditer(rf"\b{name}\.1 started \(pid=(\d+)\)",
                                                    log_path.read_text(errors="replace"))]
    for shell in reversed(shells):
        kids = [p for p in descendants(shell) if p != shell]
        for pid in kids:
            try:
                cmd = psutil.Process(pid).cmdline()
            except psutil.Error:
                continue
            if any("celery" in part for part in cmd):
                return pid
    return None


# -- the generator's own CPU ------------------------------------------------------------------------------
class GeneratorCpu:
    """CPU seconds of the generator's processes between ``start`` and ``stop``: named child processes
    (sampled every ``sample`` call, so a process that exits keeps its last figure) and this process
    ("bench": ticket traffic, operators pressing 示闲, the layout's process sampler)."""

    def __init__(self) -> None:
        self.pids: dict[int, str] = {os.getpid(): "bench"}
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[float, float]] = {}
        self.rss_peak: dict[str, float] = {}

    def add(self, name: str, pid: int) -> None:
        self.pids[pid] = name

    def start(self) -> None:
        self.sample()

    def sample(self) -> None:
        for pid, name in self.pids.items():
            st = proc_stat(pid)
            if st is None:
                continue
            self.first.setdefault(pid, st[0])
            self.last[pid] = st
            self.rss_peak[name] = max(self.rss_peak.get(name, 0.0), st[1])

    def stop(self) -> None:
        self.sample()

    def cpu(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, name in self.pids.items():
            if pid in self.last:
                out[name] = out.get(name, 0.0) + self.last[pid][0] - self.first[pid]
        return out
