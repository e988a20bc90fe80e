"""The demo accounts and their published passwords, and the guard that keeps them out of production.

Demo accounts are created only when ``hotline run`` creates a fresh SQLite database (the embedded
default) or when asked with ``--demo``; they are never recreated once deleted. A process serving a
PostgreSQL database refuses to start while any of them is active with its published password.
"""
from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash

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
DEMO_PASSWORDS = frozenset(u[3] for u in DEMO_USERS)


class PublishedPasswordsActive(RuntimeError):
    """Raised at start-up against a production database; the message says what to do."""


def create_demo_users(session) -> list[tuple[str, str, str]]:
    """Create the demo accounts that do not exist; (username, password, role) of all of them."""
    from .auth import User, create_user

    shown = []
    for username, role, dept, password, display, ext in DEMO_USERS:
        if session.scalar(select(User).where(User.username == username)) is None:
            create_user(session, username, password, role, dept, display_name=display, sip_extension=ext)
        shown.append((username, password, role))
    return shown


def active_published_accounts(session) -> list[str]:
    """Usernames of active demo accounts that still have their published password."""
    from .auth import User

    passwords = {u[0]: u[3] for u in DEMO_USERS}
    users = session.scalars(select(User).where(User.username.in_(passwords), User.active.is_(True))).all()
    return sorted(u.username for u in users if check_password_hash(u.password_hash, passwords[u.username]))


def refuse_published_passwords(session, database_url: str) -> None:
    """Start-up guard of every serving process (web, api, sip, worker, ``hotline run``).

    SQLite is the embedded development default and may keep its demo logins; any other database is
    treated as production.
    """
    if database_url.startswith("sqlite"):
        return
    found = active_published_accounts(session)
    if found:
        names = ", ".join(found)
        raise PublishedPasswordsActive(
            f"refusing to start: demo account(s) {names} are active with their published passwords "
            f"(see README) on a production database. Change each password "
            f"(`hotline users set-password NAME`, new password on standard input) or deactivate the "
            f"account (`hotline users deactivate NAME`), then start again.")
