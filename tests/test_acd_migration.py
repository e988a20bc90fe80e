"""Migration 0006 (call queue) matches the models and goes down and up again, on SQLite and on
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
        ours = [d for d in diff if "call_offers" in str(d) or "'calls'" in str(d) or "calls." in str(d)]
        assert ours == []
        command.downgrade(alembic_config(url), "0005")
        insp = inspect(engine)
        assert "call_offers" not in insp.get_table_names()
        assert "outcome" not in {c["name"] for c in insp.get_columns("calls")}
        upgrade(url)
        insp = inspect(engine)
        assert "call_offers" in insp.get_table_names()
        assert {"queued_at", "wait_seconds", "hangup_side", "operator_id", "outcome", "callback_at"} <= {
            c["name"] for c in insp.get_columns("calls")}
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
