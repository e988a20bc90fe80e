"""Console side of live calls (issue 7): commands on the operator's current call, the transfer
directory, the callback list of abandoned/missed calls, and today's call KPIs for supervisors.

Commands are not executed here: the SIP process owns the call. This module checks that the
operator owns the call (the call board knows who answered it) and publishes ``call.command``; the
SIP process answers with ``call.command_result`` (Socket.IO, room of the operator).
"""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import func, or_, select

from hotline.auth import User
from hotline.events import publish
from ticketing.clock import iso, utcnow
from ticketing.lifecycle import DEPARTMENT
from ticketing.models import Department

from .calls import board
from .exceptions import Conflict, Forbidden, NotFound, ValidationFailed

COMMANDS = ("hangup", "hold", "resume", "transfer", "consult", "complete_transfer", "cancel_consult",
            "conference", "emergency")
NEEDS_TARGET = ("transfer", "consult", "conference", "emergency")
EMERGENCY = {"110": "公安报警", "119": "消防", "120": "医疗急救", "122": "交通事故"}
_EXTENSION = re.compile(r"^[0-9A-Za-z_.-]{2,32}$")
ANSWER_TARGET_S = 15


def send_command(user, call_id: str, command: str, body: dict) -> dict:
    if command not in COMMANDS:
        raise NotFound(f"unknown call command {command!r}")
    call = next((c for c in board.visible_to(None) if c["call_id"] == call_id), None)
    if call is None or call["state"] == "ended":
        raise NotFound(f"call {call_id} is not live")
    if call.get("target") not in {user.username, user.sip_extension} - {None}:
        raise Forbidden("只有接听该通话的话务员可以操作")
    if call["state"] != "talking" or not call["info"].get("connected"):
        raise Conflict("通话尚未接通到话务员")
    target = str(body.get("target") or "").strip()
    if command in NEEDS_TARGET:
        if command == "emergency" and target not in EMERGENCY:
            raise ValidationFailed("unknown emergency number", {"target": "110、119、120 或 122"})
        if not _EXTENSION.match(target):
            raise ValidationFailed("target extension missing or malformed", {"target": "请填写分机号码"})
    command_id = uuid.uuid4().hex
    publish("call.command", {"call_id": call_id, "command": command, "operator": user.username,
                             "target": target or None, "command_id": command_id,
                             "extension": user.sip_extension})
    return {"command_id": command_id, "command": command, "status": "sent"}


def transfer_directory(session) -> dict:
    """Department phones (users of role department with an extension) and emergency numbers."""
    rows = session.execute(select(User, Department).join(Department, Department.id == User.department_id)
                           .where(User.role == DEPARTMENT, User.active.is_(True),
                                  User.sip_extension.is_not(None), User.sip_extension != "")
                           .order_by(Department.name, User.username)).all()
    return {"departments": [{"department": d.name, "code": d.code, "name": u.display_name or u.username,
                             "extension": u.sip_extension} for u, d in rows],
            "emergency": [{"number": n, "label": label} for n, label in EMERGENCY.items()]}


def _call_model():
    from telephony.models import CALLBACK_OUTCOMES, Call

    return Call, CALLBACK_OUTCOMES


def callback_list(session, *, done: bool = False, limit: int = 200) -> list[dict]:
    """Abandoned (放弃) and missed (未接通) calls, newest first, with how long the caller waited."""
    Call, outcomes = _call_model()
    stmt = select(Call).where(Call.outcome.in_(outcomes))
    stmt = stmt.where(Call.callback_at.is_not(None) if done else Call.callback_at.is_(None))
    rows = session.scalars(stmt.order_by(Call.ringing_at.desc()).limit(limit)).all()
    labels = {"abandoned": "排队中放弃", "missed": "未接通（已转留言）"}
    return [{"call_id": c.call_uuid, "caller": c.caller, "caller_phone": c.caller_phone,
             "ringing_at": iso(c.ringing_at), "ended_at": iso(c.ended_at), "outcome": c.outcome,
             "outcome_label": labels.get(c.outcome, c.outcome), "wait_seconds": c.wait_seconds,
             "ticket": c.ticket_number, "callback_at": iso(c.callback_at), "callback_by": c.callback_by,
             "callback_note": c.callback_note} for c in rows]


def mark_called_back(session, user, call_id: str, note: str | None) -> dict:
    Call, outcomes = _call_model()
    call = session.scalar(select(Call).where(Call.call_uuid == call_id))
    if call is None or call.outcome not in outcomes:
        raise NotFound(f"call {call_id} is not on the callback list")
    if call.callback_at is not None:
        raise Conflict(f"已由 {call.callback_by} 回拨")
    if note is not None and (not isinstance(note, str) or len(note) > 300):
        raise ValidationFailed("note too long", {"note": "最多 300 字"})
    call.callback_at, call.callback_by, call.callback_note = utcnow(), user.username, (note or None)
    session.commit()
    return {"call_id": call_id, "callback_at": iso(call.callback_at), "callback_by": user.username}


def call_kpis(session, since, until=None) -> dict:
    """接通率, 15 s answer share, average wait and talk over inbound calls that went to the queue
    within service hours (a call outside them was never offered to an operator: GB/T 33358 counts
    calls offered while the centre is staffed)."""
    Call, _ = _call_model()
    until = until or utcnow() + timedelta(seconds=1)
    answered = Call.outcome == "answered"
    row = session.execute(select(
        func.count(),
        func.sum(func.cast(answered, type_=_int())),
        func.sum(func.cast(answered & (Call.wait_seconds <= ANSWER_TARGET_S), type_=_int())),
        func.sum(func.cast(Call.outcome == "abandoned", type_=_int())),
        func.avg(Call.wait_seconds).filter(answered),
        func.avg(Call.talk_seconds).filter(answered),
    ).where(Call.queued_at.is_not(None), Call.ringing_at >= since, Call.ringing_at < until,
            or_(Call.outcome.is_(None), Call.outcome != "out_of_hours"))).one()
    offered, ok, in_target, abandoned, wait, talk = (row[0] or 0, row[1] or 0, row[2] or 0, row[3] or 0,
                                                     row[4], row[5])
    return {"offered": offered, "answered": ok, "answered_15s": in_target, "abandoned": abandoned,
            "answer_rate": round(ok / offered, 4) if offered else None,
            "answer_15s_rate": round(in_target / offered, 4) if offered else None,
            "avg_wait": round(wait, 1) if wait is not None else None,
            "avg_talk": round(talk, 1) if talk is not None else None,
            "labels": {"answer_rate": "接通率", "answer_15s_rate": "15秒接通率",
                       "avg_wait": "平均等待时长(秒)", "avg_talk": "平均通话时长(秒)", "abandoned": "放弃来电"}}


def _int():
    from sqlalchemy import Integer

    return Integer()
