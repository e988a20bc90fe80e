"""What the console reads and records about call distribution: the callback list of abandoned and
missed calls, and today's call KPIs. Services commit; the console's views only call these."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Integer, func, or_, select

from ticketing.clock import iso, utcnow

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


ANSWER_TARGET_S = 15


def call_kpis(session, since, until=None) -> dict:
    """接通率, 15 s answer share, average wait and talk over calls that went to the queue within
    service hours (a call outside them was never offered to an operator)."""
    until = until or utcnow() + timedelta(seconds=1)
    answered = QueuedCall.outcome == "answered"
    n = lambda cond: func.sum(func.cast(cond, type_=Integer()))  # noqa: E731
    row = session.execute(select(
        func.count(), n(answered), n(answered & (QueuedCall.wait_seconds <= ANSWER_TARGET_S)),
        n(QueuedCall.outcome == "abandoned"),
        func.avg(QueuedCall.wait_seconds).filter(answered), func.avg(QueuedCall.talk_seconds).filter(answered),
    ).where(QueuedCall.state == "ended", QueuedCall.queued_at >= since, QueuedCall.queued_at < until,
            or_(QueuedCall.outcome.is_(None), QueuedCall.outcome != "out_of_hours"))).one()
    offered, ok, in_target, abandoned, wait, talk = (row[0] or 0, row[1] or 0, row[2] or 0, row[3] or 0,
                                                     row[4], row[5])
    return {"offered": offered, "answered": ok, "answered_15s": in_target, "abandoned": abandoned,
            "answer_rate": round(ok / offered, 4) if offered else None,
            "answer_15s_rate": round(in_target / offered, 4) if offered else None,
            "avg_wait": round(wait, 1) if wait is not None else None,
            "avg_talk": round(talk, 1) if talk is not None else None,
            "labels": {"answer_rate": "接通率", "answer_15s_rate": "15秒接通率",
                       "avg_wait": "平均等待时长(秒)", "avg_talk": "平均通话时长(秒)", "abandoned": "放弃来电"}}
