"""Processes of the production layout for the failure tests (issue 15, point 3): gunicorn `web`
processes started as the Procfile starts them, each in its own process group so a test can
``kill -9`` it (and its gunicorn worker) at once, and demo logins made production-safe.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
SECRET = "failover-test-secret"  # one SECRET_KEY for every web process: a session cookie works on each


def password_of(username: str) -> str:
    return f"Failover-{len(username)}-pass!"


def secure_demo_logins(database_url: str) -> None:
    """Give every demo account a new password: a `web` process refuses to start against PostgreSQL
    while a published demo password is active (README)."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from hotline.accounts import set_password
    from hotline.app.dbadmin import DEMO_USERS
    from hotline.auth import User

    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            for username in (u[0] for u in DEMO_USERS):
                user = session.scalar(select(User).where(User.username == username))
                if user is not None:
                    set_password(session, user, password_of(username), by="test")
    finally:
        engine.dispose()


class Web:
    """``gunicorn -w 1 --threads N hotline.app.wsgi:app`` (the Procfile's `web`) on a free port."""

    def __init__(self, port: int, database_url: str, redis_url: str, log_path: Path, **env_extra):
        env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET,
                   HOTLINE_SIP_ENABLED="false", HOTLINE_INSTANCE_DIR=str(log_path.parent / f"web-{port}"),
                   **env_extra)
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "gunicorn"), "-w", "1", "--threads", "40", "-b",
                 f"127.0.0.1:{port}", "--graceful-timeout", "5", "hotline.app.wsgi:app"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_up(self, timeout: float = 90) -> "Web":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            try:
                if requests.get(self.url + "/healthz", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError("web process did not start: " + self.log_path.read_text()[-3000:])

    def kill9(self) -> None:
        """SIGKILL to the gunicorn master and its worker (the process group): no clean shutdown."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
            except ProcessLookupError:
                pass


def token(base: str, username: str) -> dict:
    r = requests.post(base + "/api/v1/auth/token", json={"username": username, "password": password_of(username)},
                      timeout=30)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def login_session(base: str, username: str) -> requests.Session:
    """A browser-like session (cookie) logged in through the login form."""
    import re

    s = requests.Session()
    page = s.get(base + "/login", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(base + "/login", data={"csrf_token": csrf, "username": username, "password": password_of(username)},
               allow_redirects=False, timeout=30)
    assert r.status_code == 302, r.text
    return s
