"""PostgreSQL restarted under a running `web` (issue 15, point 3): while the database is down every
request fails fast with a JSON 503 (not minutes of waiting), and once it is back the same process
serves again without a restart; every ticket acknowledged with 201 is there and `hotline audit
verify` passes.

The database is a private PostgreSQL of this test (tests/pg_helpers.py: initdb in a temporary
directory + pg_ctl on a free port, run as the `postgres` user through runuser when the suite runs as
root), crashed with ``pg_ctl stop -m immediate``: the machine's shared server is never touched.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import free_port
from tests.console_helpers import wait_until
from tests.failover_helpers import ROOT, Web, secure_demo_logins, token
from tests.pg_helpers import PostgresServer

#: far below "minutes", far above what a busy 2-core machine needs for a refused connection
FAST = 15.0


@pytest.fixture(scope="module")
def private_pg():
    server = PostgresServer().start()
    yield server
    server.stop()


def _create(base, headers, i):
    return requests.post(base + "/api/v1/tickets", json={"type": "求助", "content": f"路灯不亮 {i}"},
                         headers=headers, timeout=120)


def _timed(call):
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def test_postgres_restart_503_then_recovery_without_restart(private_pg, redis_url, tmp_path):
    """With Redis (the outbox and its relay thread, which also meets the outage, are in play)."""
    from sqlalchemy.orm import Session

    from hotline.app.dbadmin import seed, upgrade

    admin = create_engine(private_pg.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('CREATE DATABASE "hotline"'))
    admin.dispose()
    url = private_pg.url("hotline")
    upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        seed(session, demo=True)
    engine.dispose()
    secure_demo_logins(url)

    web = Web(free_port(), url, redis_url, tmp_path / "web.log", HOTLINE_DB_CONNECT_TIMEOUT="3").wait_up()
    try:
        h = token(web.url, "operator1")
        acknowledged = []
        for i in range(5):
            r = _create(web.url, h, i)
            assert r.status_code == 201, r.text
            acknowledged.append(r.json()["number"])

        private_pg.crash()
        for call in (lambda: _create(web.url, h, "down"),
                     lambda: requests.get(web.url + "/api/v1/tickets", headers=h, timeout=120),
                     lambda: requests.get(f"{web.url}/api/v1/tickets/{acknowledged[0]}", headers=h, timeout=120),
                     lambda: requests.get(web.url + "/healthz", timeout=120)):
            r, took = _timed(call)
            assert r.status_code == 503, (r.status_code, r.text[:500])
            assert r.json()["error"]["code"] == "database_unavailable", r.text
            assert r.headers.get("Retry-After")
            assert took < FAST, took

        private_pg.start()
        private_pg.wait_ready()
        # the same process (no restart): its pool replaces the dead connections (invalidated on the
        # first disconnect error, idle ones pinged at checkout)
        first = wait_until(lambda: (r := _create(web.url, h, "back")).status_code == 201 and r, timeout=60,
                           interval=0.3)
        acknowledged.append(first.json()["number"])
        for i in range(5, 8):
            r = _create(web.url, h, i)
            assert r.status_code == 201, r.text
            acknowledged.append(r.json()["number"])
        assert web.proc.poll() is None
        for number in acknowledged:
            r = requests.get(f"{web.url}/api/v1/tickets/{number}", headers=h, timeout=30)
            assert r.status_code == 200, r.text

        check = create_engine(url)
        with check.connect() as conn:
            stored = {row[0] for row in conn.execute(text("SELECT number FROM tickets"))}
        check.dispose()
        assert set(acknowledged) <= stored
        assert len(stored) == len(acknowledged)  # nothing half-written by the refused requests

        verify = subprocess.run([sys.executable, "-m", "hotline.app.cli", "audit", "verify"], cwd=ROOT,
                                env=dict(os.environ, DATABASE_URL=url), capture_output=True, text=True,
                                timeout=120)
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        web.stop()
