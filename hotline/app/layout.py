"""Start and stop a rendered production layout (``hotline.app.deploy``) with honcho: `make up`
runs it in the foreground; tests and ``bench/city_load.py`` use ``start_layout``/``RunningLayout``.

    from hotline.app.deploy import Layout
    from hotline.app.layout import prepare_database, start_layout
    layout = Layout.from_base(run_dir, database_url=..., redis_url=..., secret_key=...)
    prepare_database(layout.database_url)      # create it if missing, migrate, seed reference data
    running = start_layout(layout)              # renders, starts honcho, waits until all answer
    running.sip_instances()                     # [{"id", "pid", "sip_address", ...}] from the heartbeats
    running.kill_sip(0)                         # kill -9 the first sip process (respawned after ~1 s)
    running.stop()                              # SIGTERM to honcho: every process stops
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from hotline.app.deploy import ROOT, Layout, missing_tools, render


class LayoutError(RuntimeError):
    pass


def _http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback URL we built
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def check_services(database_url: str, redis_url: str) -> list[str]:
    """What is wrong with PostgreSQL and Redis (empty: both answer)."""
    import redis
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    problems = []
    url = make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        problems.append(f"DATABASE_URL must be PostgreSQL for the production layout (got {url.drivername})")
    else:
        engine = create_engine(url.set(database="postgres"), connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as c:
                c.execute(text("select 1"))
        except Exception as exc:  # noqa: BLE001 - reported to the operator
            problems.append(f"PostgreSQL at {url.render_as_string(hide_password=True)} does not answer: "
                            f"{str(exc).splitlines()[0]}")
        finally:
            engine.dispose()
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"Redis at {redis_url} does not answer: {exc}")
    return problems


def prepare_database(database_url: str, *, seed: bool = True) -> None:
    """Create the PostgreSQL database if it is missing, migrate it to head and (``seed``) seed the
    reference data (departments, towns, catalogue; never the demo accounts)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from hotline.app.dbadmin import upgrade

    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            if not c.scalar(text("select 1 from pg_database where datname = :n"), {"n": url.database}):
                c.execute(text(f'create database "{url.database}"'))
    finally:
        admin.dispose()
    upgrade(database_url)
    if not seed:
        return
    env = dict(os.environ, DATABASE_URL=database_url)
    subprocess.run([str(Path(sys.executable).with_name("hotline")), "seed"], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def published_demo_logins(database_url: str) -> list[str]:
    """Demo accounts still active with their published password (the web processes would refuse)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from hotline.demo_accounts import active_published_accounts

    engine = create_engine(database_url)
    try:
        with Session(engine) as s:
            return active_published_accounts(s)
    finally:
        engine.dispose()


class RunningLayout:
    def __init__(self, layout: Layout, proc: subprocess.Popen, log_path: Path) -> None:
        self.layout, self.proc, self.log_path = layout, proc, log_path

    @property
    def url(self) -> str:
        return self.layout.url

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def sip_instances(self) -> list[dict]:
        """The live `sip` processes' heartbeat rows, by SIP port order."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.layout.database_url)
        try:
            with engine.connect() as c:
                rows = c.execute(text("select id, pid, sip_address, beat_at from sip_instances "
                                      "where stopped_at is null and reaped_at is null order by started_at")).all()
        finally:
            engine.dispose()
        found = {}
        for row in rows:  # the newest row per address (an older one is a dead process not reaped yet)
            found[row.sip_address] = {"id": row.id, "pid": row.pid, "sip_address": row.sip_address,
                                      "beat_at": row.beat_at}
        order = [f"{self.layout.host}:{p}" for p in self.layout.sip_ports]
        return [found[a] for a in order if a in found]

    def kill_sip(self, index: int) -> dict:
        """``kill -9`` the ``index``-th `sip` process (by SIP port); its heartbeat row."""
        address = f"{self.layout.host}:{self.layout.sip_ports[index]}"
        inst = next(i for i in self.sip_instances() if i["sip_address"] == address)
        os.kill(inst["pid"], signal.SIGKILL)
        return inst

    def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM to honcho, which stops every process (they store their calls); SIGKILL to the
        whole group after ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode


def wait_ready(running: RunningLayout, timeout: float = 120.0) -> None:
    """Until nginx answers through ``web``, ``api`` answers, every `sip` process heartbeats,
    Kamailio answers OPTIONS and both Celery workers said ready."""
    from telephony.sip.proxy import sip_options

    layout = running.layout
    checks = {
        "nginx -> web": lambda: _http_ok(f"{layout.url}/healthz"),
        **{f"web :{p}": (lambda p=p: _http_ok(f"http://{layout.host}:{p}/healthz")) for p in layout.web_ports},
        "api": lambda: _http_ok(f"http://{layout.host}:{layout.api_port}/healthz"),
        "kamailio": lambda: (sip_options(layout.host, layout.kamailio_port, 0.3) or "").startswith("SIP/2.0 200"),
        **{f"sip :{p}": (lambda p=p: (sip_options(layout.host, p, 0.3) or "").startswith("SIP/2.0 200"))
           for p in layout.sip_ports},
        "sip heartbeats": lambda: len(running.sip_instances()) == len(layout.sip_ports),
        "celery workers": lambda: len(set(re.findall(r"(worker\d+@\S+) ready", running.log_tail(10**7))))
        >= layout.workers,
    }
    deadline = time.monotonic() + timeout
    pending = dict(checks)
    while pending and time.monotonic() < deadline:
        if running.proc.poll() is not None:
            raise LayoutError(f"honcho exited with {running.proc.returncode}:\n{running.log_tail()}")
        for name, check in list(pending.items()):
            try:
                if check():
                    del pending[name]
            except Exception:  # noqa: BLE001 - not up yet (database rows, sockets)
                pass
        time.sleep(0.25)
    if pending:
        raise LayoutError(f"not ready after {timeout:.0f} s: {', '.join(pending)}\n{running.log_tail()}")


def start_layout(layout: Layout, *, timeout: float = 120.0, env: dict | None = None) -> RunningLayout:
    """Render ``layout``, start it with honcho (its own process group, output in
    ``<run_dir>/honcho.log``) and wait until every process answers (``wait_ready``)."""
    missing = missing_tools()
    if missing:
        raise LayoutError(f"missing: {', '.join(missing)} (apt-get install -y {' '.join(missing)})")
    render(layout, env)
    venv_bin = str(Path(sys.executable).parent)
    proc_env = dict(env or os.environ)
    proc_env["PATH"] = venv_bin + os.pathsep + proc_env.get("PATH", "")
    log_path = layout.run_dir / "honcho.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [os.path.join(venv_bin, "honcho"), "start", "--no-colour", "-f", str(layout.run_dir / "Procfile"),
             "-e", str(layout.run_dir / "layout.env"), "-d", str(ROOT)],
            cwd=ROOT, env=proc_env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    running = RunningLayout(layout, proc, log_path)
    try:
        wait_ready(running, timeout)
    except BaseException:
        running.stop()
        raise
    return running
