"""Supervision services: 督办 (urging tickets and units), callbacks (回访), the supervisor's lists.

Ticket changes go through ``ticketing.service`` (``perform``) and ``ticketing.urging``; this module
adds the unit-level orchestration and the read models.

Urging a unit is one ``urge`` per ticket: every ticket of that unit that is overdue (reply deadline
passed, not yet replied) gets its own urging with the same note and due time. That keeps one
mechanism (acknowledge, escalate, history) for both and shows the urging in each ticket's history;
the unit sees them as a list on its workbench.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from hotline.events import publish_after_commit
from ticketing import deadlines, lifecycle
from hotline.clock import iso, to_local, utcnow
from hotline.exceptions import ValidationFailed
from hotline.identity import Actor
from ticketing.models import Ticket, Urging
from ticketing.schemas import parse
from ticketing.directory import department_by_code
from ticketing.service import perform, perform_steps

from .models import DeadlineCard
from ticketing.cards import WATCHED, card_for, hour_based

from .scan import UNANSWERED
from .schemas import CallbackIn, Settings, UnitUrgeIn, UrgeIn

log = logging.getLogger("hotline.supervision")


def _urge_body(p) -> dict:
    return {"note": p.note, **({"due_at": p.due_at.isoformat()} if p.due_at else {})}


def _announce(session, ticket: Ticket, urging: Urging, unit: bool = False) -> dict:
    dept = ticket.main_department.code if ticket.main_department else None
    publish_after_commit(session, "urging.created", {
        "number": ticket.number, "urging_id": urging.id, "department": dept, "due_at": iso(urging.due_at),
        "note": urging.note, "unit": unit})
    return urging_view(urging, ticket)


def urge_ticket(session, number: str, actor: Actor, data: dict) -> dict:
    p = parse(UrgeIn, data)
    ticket = perform(session, number, "urge", actor, _urge_body(p), commit=False)
    view = _announce(session, ticket, ticket.urgings[-1])
    session.commit()
    return view


def urge_unit(session, actor: Actor, data: dict, now: datetime | None = None) -> dict:
    """督办 a whole unit: one urging on each of its overdue, unanswered tickets, in one
    transaction (one decision: either the unit is urged on all of them or on none)."""
    p = parse(UnitUrgeIn, data)
    dept = department_by_code(session, p.department, "department")
    now = now or utcnow()
    numbers = session.scalars(select(Ticket.number).where(
        Ticket.main_department_id == dept.id, Ticket.status.in_(UNANSWERED),
        or_(Ticket.reply_by < now, (Ticket.status == lifecycle.DISPATCHED) & (Ticket.sign_by < now)))
        .order_by(Ticket.id)).all()
    if not numbers:
        raise ValidationFailed(f"{dept.name} has no overdue tickets to urge",
                               {"department": "no overdue tickets"})
    urged = []
    for number in numbers:
        ticket = perform(session, number, "urge", actor, _urge_body(p), commit=False)
        urged.append(_announce(session, ticket, ticket.urgings[-1], unit=True))
    session.commit()
    log.info("supervision.unit_urged department=%s tickets=%d actor=%s", dept.code, len(urged), actor.username)
    return {"department": {"code": dept.code, "name": dept.name}, "urgings": urged}


def record_callback(session, number: str, actor: Actor, data: dict, *, commit: bool = True) -> dict:
    """回访: record satisfaction and whether it was solved; 不满意 reopens the ticket (重办).
    ``commit=False``: part of the caller's transaction (the portal consumes its rating link with it)."""
    p = parse(CallbackIn, data)
    steps = [("callback", {"satisfaction": p.satisfaction, "solved": p.solved, **({"note": p.note} if p.note else {})})]
    reopened = p.satisfaction == "不满意"
    if reopened:
        steps.append(("reopen", {"note": "回访不满意，重办"}))
    ticket = perform_steps(session, number, actor, steps, commit=commit)
    return {"number": number, "status": ticket.status, "satisfaction": p.satisfaction, "solved": p.solved,
            "reopened": reopened, "reopen_count": ticket.reopen_count}


# -- read models ----------------------------------------------------------------------------------
def _dept_ref(dept) -> dict | None:
    return None if dept is None else {"code": dept.code, "name": dept.name}


def _ticket_ref(t: Ticket) -> dict:
    return {"number": t.number, "type": t.type, "urgency": t.urgency, "status": t.status,
            "status_label": lifecycle.STATUS_LABELS.get(t.status, t.status),
            "department": _dept_ref(t.main_department), "received_at": iso(t.received_at),
            "sign_by": iso(t.sign_by), "reply_by": iso(t.reply_by), "content": t.content[:120]}


def urging_view(u: Urging, t: Ticket) -> dict:
    return {"id": u.id, "number": t.number, "note": u.note, "due_at": iso(u.due_at), "urged_by": u.urged_by,
            "urged_at": iso(u.urged_at), "acknowledged_by": u.acknowledged_by,
            "acknowledged_at": iso(u.acknowledged_at)}


def _unit_filter(stmt, department_id: int | None):
    return stmt if department_id is None else stmt.where(Ticket.main_department_id == department_id)


def deadline_watch(session, now: datetime, settings: Settings, *, overdue: bool,
                   department_id: int | None = None, limit: int = 500) -> list[dict]:
    """Tickets in the warning window (``overdue=False``) or past a deadline (``overdue=True``)."""
    cal = deadlines.calendar(session)
    hourly, rule = hour_based(session), settings.rule
    horizon = now + timedelta(days=3 * max([settings.warning_workdays, *settings.warning_by_type.values()]) + 14)
    out = []
    for kind, statuses in WATCHED.items():
        column = Ticket.sign_by if kind == "sign" else Ticket.reply_by
        bound = column < now if overdue else (column >= now) & (column <= horizon)
        stmt = (select(Ticket).where(Ticket.status.in_(statuses), bound, Ticket.main_department_id.isnot(None))
                .options(selectinload(Ticket.main_department)).order_by(column).limit(limit))
        for t in session.scalars(_unit_filter(stmt, department_id)):
            row = card_row(cal, hourly, rule, t, kind, now, overdue=overdue)
            if row is not None:
                out.append(row)
    out.sort(key=lambda r: r["deadline_at"])
    return out[:limit]


def card_row(cal, hourly, rule, t: Ticket, kind: str, now: datetime, *, overdue: bool) -> dict | None:
    """The list row of ``t``'s ``kind`` deadline when it carries the list's card (red on the overdue
    list, yellow on the near-deadline list), else None."""
    found = card_for(cal, hourly, rule, t, kind, now)
    if found is None or found[0] != ("red" if overdue else "yellow"):
        return None
    card, deadline, warn_from = found
    return {**_ticket_ref(t), "deadline_kind": kind, "deadline_at": iso(deadline), "warning_from": iso(warn_from),
            "card": card,
            "overdue_workdays": cal.workdays_between(to_local(deadline).date(), to_local(now).date()) if overdue else 0}


def cards(session, number: str) -> list[dict]:
    t = session.scalar(select(Ticket).where(Ticket.number == number))
    if t is None:
        return []
    rows = session.scalars(select(DeadlineCard).where(DeadlineCard.ticket_id == t.id).order_by(DeadlineCard.id))
    return [{"card": c.card, "deadline_kind": c.deadline_kind, "deadline_at": iso(c.deadline_at),
             "issued_at": iso(c.issued_at)} for c in rows]
