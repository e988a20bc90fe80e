"""Schema migrations (Alembic) and first-run seeding."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

ROOT = Path(__file__).resolve().parents[2]


def import_models() -> None:
    """Every module that defines tables (Alembic compares the metadata with the database)."""
    import hotline.auth  # noqa: F401
    import hotline.outbox  # noqa: F401
    import knowledge.models  # noqa: F401
    import routing.calls.models  # noqa: F401
    import routing.models  # noqa: F401
    import supervision.models  # noqa: F401
    import telephony.models  # noqa: F401
    import ticketing.models  # noqa: F401


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


DEMO_USERS = (
    # username, role, department, password, display name, SIP extension
    ("operator1", "operator", None, "operator1-pass", "话务员一号", "1001"),
    ("operator2", "operator", None, "operator2-pass", "话务员二号", "1002"),
    ("supervisor", "supervisor", None, "supervisor-pass", "值班长", None),
    ("admin", "admin", None, "admin-pass", "系统管理员", None),
    ("housing", "department", "housing", "housing-pass", "住建局承办员", "2001"),
    ("water", "department", "water", "water-pass", "水务局承办员", "2002"),
    ("market", "department", "market", "market-pass", "市场监管局承办员", "2003"),
)


def seed(session, demo: bool = True) -> list[tuple[str, str, str]]:
    """Seed the directory; with ``demo`` create demo accounts that do not exist yet.

    Returns (username, password, role) of the demo accounts that exist after seeding.
    """
    from sqlalchemy import select

    from hotline.auth import User, create_user
    from knowledge.service import seed as seed_articles
    from routing.catalogue import ensure_seeded as seed_catalogue
    from ticketing import directory

    directory.seed(session)
    seed_catalogue(session)
    seed_articles(session)
    shown = []
    if demo:
        for username, role, dept, password, display, ext in DEMO_USERS:
            if session.scalar(select(User).where(User.username == username)) is None:
                create_user(session, username, password, role, dept, display_name=display, sip_extension=ext)
            shown.append((username, password, role))
    return shown
