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


class CpuTally:
    """CPU seconds and peak RSS per name over a set of processes: each ``sample`` reads every live
    process's counter; a process's CPU is its last sample minus its first (one that exits keeps its
    last figure), a name's peak RSS the largest sum over its processes in one sample."""

    def __init__(self) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, tuple[str, float]] = {}
        self.rss_peak: dict[str, float] = {}

    def sample(self, pids: dict[int, str]) -> None:
        rss: dict[str, float] = {}
        for pid, name in pids.items():
            st = proc_stat(pid)
            if st is None:
                continue
            self.first.setdefault(pid, st[0])
            self.last[pid] = (name, st[0])
            rss[name] = rss.get(name, 0.0) + st[1]
        for name, mb in rss.items():
            self.rss_peak[name] = max(self.rss_peak.get(name, 0.0), mb)

    def cpu(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pid, (name, cpu) in self.last.items():
            out[name] = out.get(name, 0.0) + cpu - self.first[pid]
        return out


class ProcessSampler(threading.Thread):
    """CPU and memory per process kind of the layout (honcho's log names each process's shell),
    sampled every 2 s with the generator's (a killed process counts until its last sample, its
    respawned successor from its start)."""

    def __init__(self, log_path: Path, generator: GeneratorCpu) -> None:
        super().__init__(daemon=True)
        self.log_path, self.generator = log_path, generator
        self.tally = CpuTally()
        self.loads: list[float] = []  # 1 min load average every 2 s
        self.halt = threading.Event()
        self._shells: dict[int, str] = {}
        self._offset = 0

    @property
    def rss_peak(self) -> dict[str, float]:
        return self.tally.rss_peak

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
        self.tally.sample({pid: kind for shell, kind in self.shells().items() for pid in descendants(shell)})

    def run(self) -> None:
        while not self.halt.wait(2.0):
            self.sample()
            self.generator.sample()
            self.loads.append(os.getloadavg()[0])

    def cpu(self) -> dict[str, float]:
        return self.tally.cpu()


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
class GeneratorCpu(CpuTally):
    """CPU seconds of the generator's processes between ``start`` and ``stop``: named child processes
    and this process ("bench": ticket traffic, operators pressing 示闲, the layout's process sampler)."""

    def __init__(self) -> None:
        super().__init__()
        self.pids: dict[int, str] = {os.getpid(): "bench"}

    def add(self, name: str, pid: int) -> None:
        self.pids[pid] = name

    def sample(self, pids: dict[int, str] | None = None) -> None:
        super().sample(self.pids if pids is None else pids)

    start = stop = sample
