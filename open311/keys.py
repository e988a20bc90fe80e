"""API keys: created with a name, shown once, stored as a SHA-256 hash, revoked by name."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hotline.clock import utcnow

from .exceptions import Open311Error
from .models import ApiKey


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session, name: str) -> str:
    """A new key for ``name``; the only time its text exists outside the client."""
    name = name.strip()
    if not name or len(name) > 80:
        raise ValueError("the key's name must be 1 to 80 characters")
    if session.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
        raise ValueError(f"a key named {name!r} exists already (revoke it first, or choose another name)")
    key = secrets.token_urlsafe(32)
    session.add(ApiKey(name=name, key_hash=_hash(key), created_at=utcnow()))
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ValueError(f"a key named {name!r} exists already") from exc
    return key


def revoke_key(session, name: str) -> None:
    row = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is None:
        raise ValueError(f"no key named {name!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()


def list_keys(session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.name)))


def check_key(session, key: str | None) -> ApiKey:
    """The active key ``key`` stands for, or a 403 in the spec's words."""
    if not key:
        raise Open311Error(403, "api_key is required to submit a service request")
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key)))
    if row is None:
        raise Open311Error(403, "api_key is not valid")
    if row.revoked_at is not None:
        raise Open311Error(403, "api_key has been revoked")
    return row
