"""What the console reads and records about call distribution: the callback list of abandoned and
missed calls. Services commit; the console's views only call these. (The call KPIs are one
computation: ``kpis`` defines them, supervision's rollup sums them.)"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from hotline.clock import iso, utcnow

from ..exceptions import Conflict, NotFound, ValidationFailed
from .models import CALLBACK_OUTCOMES, QueuedCall

CALLBACK_LABELS = {"abandoned": "排队中放弃", "missed": "未接通（已转留言）"}


def callback_list(session, *, done: bool = False, limit: int = 200) -> list[dict]:
    """Abandoned (放弃) and missed (未接通) calls, newest first, with how long the caller waited."""
    stmt = select(QueuedCall).where(QueuedCall.outcome.in_(CALLBACK_OUTCOMES), QueuedCall.state == "ended")
    stmt = stmt.where(QueuedCall.callback_at.is_not(None) if done else QueuedCall.callback_at.is_(None))
    rows = session.scalars(stmt.order_by(QueuedCall.queued_at.desc()).limit(limit)).all()
    return [{"call_id": c.call_uuid, "caller": c.caller, "caller_phone": c.caller_phone,
             "ringing_at": iso(c.ringing_at or c.queued_at), "ended_at": iso(c.ended_at), "outcome": c.outcome,
             "outcome_label": CALLBACK_LABELS.get(c.outcome, c.outcome), "wait_seconds": c.wait_seconds,
             "callback_at": iso(c.callback_at), "callback_by": c.callback_by,
             "callback_note": c.callback_note} for c in rows]


def mark_called_back(session, user, call_id: str, note: str | None) -> dict:
    if note is not None and (not isinstance(note, str) or len(note) > 300):
        raise ValidationFailed("note too long", {"note": "最多 300 字"})
    call = session.scalar(select(QueuedCall).where(QueuedCall.call_uuid == call_id).with_for_update())
    if call is None or call.outcome not in CALLBACK_OUTCOMES:
        raise NotFound(f"call {call_id} is not on the callback list")
    if call.callback_at is not None:
        raise Conflict(f"已由 {call.callback_by} 回拨")
    call.callback_at, call.callback_by, call.callback_note = utcnow(), user.username, (note or None)
    session.commit()
    return {"call_id": call_id, "callback_at": iso(call.callback_at), "callback_by": user.username}


def live_counts(session, horizon_hours: float = 24.0) -> dict:
    """Queued calls live now, from the shared queue rows: waiting (queued or ringing an operator)
    and talking (an operator took it). A dead `sip` process's rows count until its reaper closes
    them (seconds); rows older than ``horizon_hours`` are left out."""
    since = utcnow() - timedelta(hours=horizon_hours)
    rows = dict(session.execute(select(QueuedCall.state, func.count()).where(
        QueuedCall.state.in_(("queued", "offering", "connected")), QueuedCall.queued_at >= since)
        .group_by(QueuedCall.state)).all())
    return {"waiting": rows.get("queued", 0) + rows.get("offering", 0), "talking": rows.get("connected", 0)}


def erase_caller(session, phone: str) -> dict:
    """Privacy erasure (``hotline privacy erase --phone``): queue records of this number keep their
    times and outcome for the statistics but lose the caller's number. Does not commit."""
    rows = session.scalars(select(QueuedCall).where(QueuedCall.caller_phone == phone)).all()
    for row in rows:
        row.caller, row.caller_phone = "", None
    return {"queued_calls": len(rows)}


from ticketing import erasure as _erasure  # noqa: E402

_erasure.register(phone_eraser=erase_caller)
