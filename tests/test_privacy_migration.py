"""Migration 0011 (privacy): matches the models, goes down and up again, and a chain written before
it (at 0010) still verifies afterwards as chain version 1 — on SQLite and on PostgreSQL (a database
of its own, so other tests' schema is untouched)."""
from __future__ import annotations

import os
from datetime import datetime

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.conftest import PG_ADMIN_URL, require_service


def _old_chain(conn) -> None:
    """A ticket with two events hashed the way the code before 0011 did (personal data in clear)."""
    from ticketing.audit import GENESIS, event_digest

    at = datetime(2026, 1, 5, 9, 30)
    conn.execute(text(
        "INSERT INTO tickets (id, number, channel, type, urgency, status, caller_phone, confidential, content,"
        " received_at, reopen_count, created_at, updated_at, event_count, head_hash, version)"
        " VALUES (1, '20260105000001', 'phone', '咨询', 'normal', 'draft', '13812345678', false, '路灯坏了',"
        " :at, 0, :at, :at, 2, :head, 1)"), {"at": at, "head": ""})
    prev = GENESIS
    events = [("create", None, {"channel": "phone", "type": "咨询", "urgency": "normal"}),
              ("call_linked", None, {"call_id": "c1", "caller": "13812345678", "transcript": [{"text": "路灯坏了"}]})]
    import json
    for seq, (action, note, data) in enumerate(events, 1):
        digest = event_digest("20260105000001", seq, action, "telephony", "admin", None, "draft", note, data, at, prev)
        conn.execute(text(
            "INSERT INTO ticket_events (ticket_id, seq, action, actor, actor_role, from_status, to_status, note,"
            " data, created_at, prev_hash, hash) VALUES (1, :seq, :action, 'telephony', 'admin', NULL, 'draft',"
            " NULL, :data, :at, :prev, :hash)"),
            {"seq": seq, "action": action, "data": json.dumps(data, ensure_ascii=False), "at": at, "prev": prev,
             "hash": digest})
        prev = digest
    conn.execute(text("UPDATE tickets SET head_hash = :h WHERE id = 1"), {"h": prev})


def _check(url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from hotline.app.dbadmin import alembic_config, import_models, upgrade
    from hotline.extensions import Base
    from ticketing.audit import verify_all

    command.upgrade(alembic_config(url), "0010")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _old_chain(conn)
        upgrade(url)
        import_models()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        ours = [d for d in diff if any(k in str(d) for k in (
            "access_records", "chain_version", "pii_salts", "redacted", "erased_at"))]
        assert ours == []
        with Session(engine) as session:
            assert [f for _t, f in verify_all(session)] == [None]
            assert session.execute(text("SELECT chain_version FROM ticket_events")).scalars().all() == [1, 1]
        command.downgrade(alembic_config(url), "0010")
        insp = inspect(engine)
        assert "access_records" not in insp.get_table_names()
        assert "chain_version" not in {c["name"] for c in insp.get_columns("ticket_events")}
        upgrade(url)
        with Session(engine) as session:
            assert [f for _t, f in verify_all(session)] == [None]
    finally:
        engine.dispose()


def test_migration_0011_on_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path / 'm.db'}")


def test_migration_0011_on_postgres():
    require_service("postgres")
    name = f"hotline_priv_{os.getpid()}"
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
