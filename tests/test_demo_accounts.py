"""Issue 11, defect 8: demo accounts (published passwords) only in a fresh embedded SQLite database
or with --demo, never recreated once deleted; a web process on PostgreSQL with a demo password
still active refuses to start and says why."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import free_port

HOTLINE = [sys.executable, "-m", "hotline.app.cli"]


def _env(tmp_path, **extra) -> dict:
    env = {**os.environ, "HOTLINE_INSTANCE_DIR": str(tmp_path), "HOTLINE_SIP_ENABLED": "false", **extra}
    for key in ("REDIS_URL", "VOSK_MODEL_DIR"):
        env.pop(key, None)
    if "DATABASE_URL" not in extra:
        env.pop("DATABASE_URL", None)
    return env


def _serve_once(tmp_path, env) -> str:
    """Start `hotline run`, wait for /healthz, stop it; its output."""
    port = free_port()
    proc = subprocess.Popen([*HOTLINE, "run"], env={**env, "HOTLINE_PORT": str(port)}, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        assert proc.poll() is None, "hotline run exited"
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    return out


def _usernames(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT username FROM users"))}
    engine.dispose()
    return names


def test_deleted_demo_account_is_not_recreated_by_run(tmp_path):
    """`hotline run` on an existing database creates no demo accounts (a fresh one gets them and
    prints them: tests/test_run_command.py); the still-published logins are printed."""
    from sqlalchemy.orm import Session

    from hotline.app.dbadmin import seed, upgrade

    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    engine = create_engine(url)
    with Session(engine) as session:
        seed(session, demo=True)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE username = 'admin'"))
    engine.dispose()
    out = _serve_once(tmp_path, _env(tmp_path))
    assert "admin" not in _usernames(url), "a deleted demo account was recreated"
    assert "admin-pass" not in out and "operator1-pass" in out


def test_seed_creates_demo_accounts_only_when_asked(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from hotline.app.cli import main
    from hotline.app.dbadmin import upgrade

    url = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "k")
    r = CliRunner().invoke(main, ["seed"])
    assert r.exit_code == 0 and _usernames(url) == set() and "admin-pass" not in r.output
    r = CliRunner().invoke(main, ["seed", "--demo"])
    assert r.exit_code == 0 and "admin" in _usernames(url) and "admin-pass" in r.output


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_with_published_demo_password_refuses_to_start(database_url, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from hotline.app.cli import main

    env = _env(tmp_path, DATABASE_URL=database_url)
    runner = CliRunner()
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "k")
    r = runner.invoke(main, ["seed"])
    assert r.exit_code == 0 and _usernames(database_url) == set()  # no demo accounts unless asked
    assert runner.invoke(main, ["seed", "--demo"]).exit_code == 0 and "admin" in _usernames(database_url)
    # `hotline run` and the production WSGI entry (Procfile web and api) refuse, naming the accounts
    run = subprocess.run([*HOTLINE, "run"], env={**env, "HOTLINE_PORT": str(free_port())}, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "refusing to start" in run.stderr and "admin" in run.stderr and "hotline users" in run.stderr
    wsgi = [sys.executable, "-c", "import hotline.app.wsgi"]
    r = subprocess.run(wsgi, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 3 and "refusing to start" in r.stderr
    # fix them with the commands the message names: one new password, the others deactivated
    assert runner.invoke(main, ["users", "set-password", "admin"], input="Quiet-Harbour-77\n").exit_code == 0
    r = runner.invoke(main, ["users", "set-password", "operator1"], input="supervisor-pass\n")
    assert r.exit_code != 0 and "published" in r.output  # a published password is no new password
    for name in ("operator1", "operator2", "supervisor", "housing", "water", "market"):
        assert runner.invoke(main, ["users", "deactivate", name]).exit_code == 0
    r = subprocess.run(wsgi, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
