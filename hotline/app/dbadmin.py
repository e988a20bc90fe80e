"""Schema migrations (Alembic) and first-run seeding."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from hotline.demo_accounts import DEMO_USERS  # noqa: F401 (tests and tools read it here)

ROOT = Path(__file__).resolve().parents[2]


def import_models() -> None:
    """Every module that defines tables (Alembic compares the metadata with the database)."""
    import hotline.auth  # noqa: F401
    import hotline.outbox  # noqa: F401
    import knowledge.models  # noqa: F401
    import messaging.models  # noqa: F401
    import open311.models  # noqa: F401
    import portal.models  # noqa: F401
    import routing.calls.models  # noqa: F401
    import routing.models  # noqa: F401
    import supervision.models  # noqa: F401
    import supervision.hotspot_models  # noqa: F401
    import telephony.models  # noqa: F401
    import ticketing.models  # noqa: F401


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def seed(session, demo: bool = False) -> list[tuple[str, str, str]]:
    """Seed the directory; with ``demo`` create demo accounts that do not exist yet.

    Returns (username, password, role) of the demo accounts that exist after seeding.
    """
    from hotline.demo_accounts import create_demo_users

    from .plugins import PLUGINS

    for plugin in PLUGINS:  # ticketing's directory first: the others refer to its departments
        plugin.seed(session)
    return create_demo_users(session) if demo else []


def is_fresh_database(url: str) -> bool:
    """True before the first migration of ``url`` (no alembic_version table yet)."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        from pathlib import Path

        if not Path(parsed.database).exists():
            return True
    engine = create_engine(url)
    try:
        return not inspect(engine).has_table("alembic_version")
    finally:
        engine.dispose()
