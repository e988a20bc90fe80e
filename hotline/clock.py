"""Time helpers. The database stores naive UTC; people and deadlines live in China Standard Time."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

CST = ZoneInfo("Asia/Shanghai")


_frozen: datetime | None = None


def utcnow() -> datetime:
    if _frozen is not None:
        return _frozen
    return datetime.now(timezone.utc).replace(tzinfo=None)


@contextmanager
def frozen(at: datetime):
    """Pin "now" (an aware datetime, or naive UTC) for literal timelines in tests and replays."""
    global _frozen
    previous = _frozen
    _frozen = to_utc_naive(at) if at.tzinfo else at
    try:
        yield _frozen
    finally:
        _frozen = previous


def to_local(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(CST)


def to_utc_naive(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=CST)
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    local = to_local(value)
    return local.isoformat(timespec="seconds") if local else None


__all__ = ["CST", "utcnow", "to_local", "to_utc_naive", "iso", "timedelta"]
