"""Staff working lists: filtered, sorted and paged on the server.

A unit can hold thousands of open tickets; a list that fetched one page and sorted it in the
browser silently hid the rest. Here every filter, the order and the page are one SQL query, and the
total is counted with the same conditions, so the count on the page is the count of the list.

The deadline that matters now (``effective_deadline``) is the sign-by time while a dispatched ticket
is not yet signed, the reply-by time otherwise; it only runs for statuses in which the unit still
owes an answer (``RUNNING``). "Most urgent first" is that deadline, earliest first: an overdue
ticket (red) sorts before one in its last day (yellow), which sorts before the rest.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.orm import selectinload

from . import lifecycle
from hotline.clock import to_utc_naive, utcnow
from hotline.exceptions import ValidationFailed
from .lifecycle import DEPARTMENT, STATUSES
from .models import Department, Ticket, Town
from .schemas import CHANNELS
from .sla import TYPES

#: statuses whose deadline still runs (the unit or the hotline owes the next step)
RUNNING = (lifecycle.DRAFT, lifecycle.ACCEPTED, lifecycle.DISPATCHED, lifecycle.IN_PROGRESS, lifecycle.RETURNED)
#: a running deadline this close is "near" (the console's yellow marker)
NEAR = timedelta(hours=24)
DEADLINE_STATES = ("overdue", "near", "ok", "none")
SORTS = ("-created", "urgency", "deadline", "-deadline", "received", "-received", "number", "-number")
Q_MAX = 100
PHONE_TAIL = re.compile(r"^\d{4}$")


def effective_deadline():
    """SQL expression: the sign-by time of an unsigned dispatched ticket, the reply-by time otherwise."""
    return case((and_(Ticket.status == lifecycle.DISPATCHED, Ticket.signed_at.is_(None),
                      Ticket.sign_by.isnot(None)), Ticket.sign_by), else_=Ticket.reply_by)


def _running():
    return and_(Ticket.status.in_(RUNNING), effective_deadline().isnot(None))


def deadline_condition(state: str, now: datetime):
    due = effective_deadline()
    if state == "overdue":
        return and_(_running(), due < now)
    if state == "near":
        return and_(_running(), due >= now, due < now + NEAR)
    if state == "ok":
        return and_(_running(), due >= now + NEAR)
    return not_(_running())


def _order(sort: str):
    due = effective_deadline()
    if sort == "urgency":
        # running deadlines first, earliest (most overdue) first; then the rest, newest first
        return [case((_running(), 0), else_=1), due.asc(), Ticket.id.desc()]
    if sort == "-created":
        return [Ticket.id.desc()]
    column, desc = {"deadline": (due, False), "-deadline": (due, True), "received": (Ticket.received_at, False),
                    "-received": (Ticket.received_at, True), "number": (Ticket.number, False),
                    "-number": (Ticket.number, True)}[sort]
    nulls_last = case((column.is_(None), 1), else_=0)
    return [nulls_last, column.desc() if desc else column.asc(), Ticket.id.desc()]


def _words(q: str) -> list[str]:
    if len(q) > Q_MAX:
        raise ValidationFailed("q too long", {"q": f"at most {Q_MAX} characters"})
    return q.split()


def filters(session, actor, *, visible, status=None, type_=None, channel=None, department=None, town=None, date_from=None,
            date_to=None, overdue=None, deadline=None, phone=None, phone_tail=None, q=None, now=None) -> list:
    """The WHERE conditions of one list request; unknown codes and values are a 422 naming the field."""
    now = now or utcnow()
    cond = [] if visible is None else [visible]
    if status:
        wanted = [s for s in status.split(",") if s]
        bad = [s for s in wanted if s not in STATUSES]
        if bad:
            raise ValidationFailed("unknown status", {"status": f"unknown {', '.join(bad)}; one of {', '.join(STATUSES)}"})
        cond.append(Ticket.status.in_(wanted))
    if type_:
        if type_ not in TYPES:
            raise ValidationFailed("unknown type", {"type": f"one of {', '.join(TYPES)}"})
        cond.append(Ticket.type == type_)
    if channel:
        if channel not in CHANNELS:
            raise ValidationFailed("unknown channel", {"channel": f"one of {', '.join(CHANNELS)}"})
        cond.append(Ticket.channel == channel)
    if department:
        dept = session.scalar(select(Department).where(Department.code == department))
        if dept is None:
            raise ValidationFailed("unknown department", {"department": f"unknown department {department!r}"})
        cond.append(Ticket.main_department_id == dept.id)
    if town:
        town_id = session.scalar(select(Town.id).where(Town.code == town))
        if town_id is None:
            raise ValidationFailed("unknown town", {"town": f"unknown town {town!r}"})
        cond.append(Ticket.town_id == town_id)
    if date_from:
        cond.append(Ticket.received_at >= to_utc_naive(date_from))
    if date_to:
        cond.append(Ticket.received_at < to_utc_naive(date_to))
    if overdue is not None:
        late = and_(Ticket.status.in_(lifecycle.OPEN_STATUSES), Ticket.reply_by < now)
        cond.append(late if overdue else not_(late))
    if deadline:
        if deadline not in DEADLINE_STATES:
            raise ValidationFailed("unknown deadline state", {"deadline": f"one of {', '.join(DEADLINE_STATES)}"})
        cond.append(deadline_condition(deadline, now))
    if phone:
        cond.append(Ticket.caller_phone == phone)
    if phone_tail:
        if not PHONE_TAIL.match(phone_tail):
            raise ValidationFailed("phone_tail must be the last 4 digits", {"phone_tail": "exactly 4 digits"})
        cond.append(Ticket.caller_phone.endswith(phone_tail, autoescape=True))
        if actor.role == DEPARTMENT:  # a unit never sees a confidential caller's number, not even its tail
            cond.append(Ticket.confidential.is_(False))
    for word in _words(q or ""):
        cond.append(or_(Ticket.content.contains(word, autoescape=True), Ticket.number.startswith(word, autoescape=True)))
    return cond


def list_tickets(session, actor, *, visible, sort="-created", page=1, per_page=50, **criteria):
    """(total, rows of one page) for the actor's view; see ``filters`` for the criteria."""
    if sort not in SORTS:
        raise ValidationFailed("unknown sort", {"sort": f"one of {', '.join(SORTS)}"})
    cond = filters(session, actor, visible=visible, **criteria)
    total = session.scalar(select(func.count(Ticket.id)).where(*cond))
    rows = session.scalars(
        select(Ticket).where(*cond)
        .options(selectinload(Ticket.co_departments), selectinload(Ticket.main_department),
                 selectinload(Ticket.town), selectinload(Ticket.extensions),
                 selectinload(Ticket.urgings), selectinload(Ticket.merged_into),
                 selectinload(Ticket.merged))
        .order_by(*_order(sort)).offset((page - 1) * per_page).limit(per_page)).all()
    return total, rows
