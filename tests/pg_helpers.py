"""A private PostgreSQL server for outage tests: initdb into a temporary directory, started with
pg_ctl on a free port, crashed (``pg_ctl stop -m immediate``) and started again at will.

The machine's shared PostgreSQL must never be stopped by a test; this one belongs to the test alone.
PostgreSQL refuses to run as root: when the tests run as root (this machine kind does), initdb and
pg_ctl run as the ``postgres`` system user through ``runuser -u postgres --``, and the data directory
is a fresh ``mkdtemp`` under /tmp owned by that user (pytest's tmp_path sits in root's 0700 directory,
which the postgres user cannot enter). As any other user they run directly.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest

from tests.conftest import free_port


def _binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class PostgresServer:
    def __init__(self):
        bindir = _binaries()
        if bindir is None:
            pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) not installed")
        self.bindir = bindir
        self.port = free_port()
        self.root = tempfile.mkdtemp(prefix="hotline-pg-")
        self.data = os.path.join(self.root, "data")
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run a private PostgreSQL")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                  "--locale=C.UTF-8")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([*self.prefix, os.path.join(self.bindir, tool), *args], capture_output=True,
                              text=True, timeout=120, check=check)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> "PostgresServer":
        # fsync off: a killed server loses nothing the kernel already has (this test crashes the
        # server, never the machine); no Unix socket (the shared server owns the default directory)
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.root, "log"), "-w",
                  "-t", "60", "start")
        return self

    def crash(self) -> None:
        """Immediate shutdown: every backend dies at once, as in a crash; recovery runs on start."""
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError("private PostgreSQL did not become ready")
