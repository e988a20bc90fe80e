"""Migrations 0006 (call queue) and 0009 (call distribution moves to routing) match the models,
carry queue facts over and go down and up again, on SQLite and on
PostgreSQL (a database of its own, so other tests' schema is untouched)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL, require_service


def _check(url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from hotline.app.dbadmin import alembic_config, import_models, upgrade
    from hotline.extensions import Base

    upgrade(url)
    import_models()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        ours = [d for d in diff if any(t in str(d) for t in ("call_offers", "'calls'", "calls.", "call_queue",
                                                                 "agent_states"))]
        assert ours == []
        command.downgrade(alembic_config(url), "0005")
        insp = inspect(engine)
        assert "call_offers" not in insp.get_table_names()
        assert "outcome" not in {c["name"] for c in insp.get_columns("calls")}
        upgrade(url, "0006")
        insp = inspect(engine)
        assert "call_offers" in insp.get_table_names()
        assert {"queued_at", "wait_seconds", "hangup_side", "operator_id", "outcome", "callback_at"} <= {
            c["name"] for c in insp.get_columns("calls")}
        # 0009: the queue's facts move to routing's call_queue, existing rows with them
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (username, password_hash, role, active, created_at) "
                              "VALUES ('op', 'x', 'operator', true, '2026-03-02 01:00:00')"))
            conn.execute(text(
                "INSERT INTO calls (call_uuid, sip_call_id, direction, caller, called, ringing_at, ended_at, duration,"
                " hangup_cause, transcription, created_at, queued_at, wait_seconds, outcome, operator_id) VALUES"
                " ('q1', 's1', 'inbound', '13800138000', '12345', '2026-03-02 01:00:00', '2026-03-02 01:01:00', 60,"
                " 'caller_hangup', 'live', '2026-03-02 01:01:00', '2026-03-02 01:00:01', 4.5, 'answered',"
                " (SELECT id FROM users WHERE username = 'op'))"))
        upgrade(url)
        insp = inspect(engine)
        assert "outcome" not in {c["name"] for c in insp.get_columns("calls")}
        assert {"reserved_call", "reserved_at"} <= {c["name"] for c in insp.get_columns("agent_states")}
        with engine.connect() as conn:
            row = conn.execute(text("SELECT state, wait_seconds, outcome, caller FROM call_queue")).one()
        assert tuple(row) == ("ended", 4.5, "answered", "13800138000")
        command.downgrade(alembic_config(url), "0006")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT outcome, wait_seconds FROM calls")).one() == ("answered", 4.5)
        upgrade(url)
    finally:
        engine.dispose()


def test_migration_0006_on_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path / 'm.db'}")


def test_migration_0006_on_postgres():
    require_service("postgres")
    import os

    name = f"hotline_mig_{os.getpid()}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _check(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
