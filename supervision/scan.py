"""Deadline scans: yellow/red cards and 督办 escalation (通报).

Every scan takes ``now`` so tests run literal timelines. Idempotency lives in the database: a card
is a ``deadline_cards`` row under a UNIQUE (ticket, kind, card, deadline) key, inserted with
``ON CONFLICT DO NOTHING`` in the same transaction as the ticket event. Two scanners racing for the
same card: the second insert waits for the first transaction, then inserts nothing and skips. A
rescan or a restart finds the row and skips too.

Rules (China time, working days from ``ticketing.deadlines.calendar``):
- sign deadline (``sign_by``) is watched while the ticket is ``dispatched`` (not yet signed);
  reply deadline (``reply_by``) while it is ``dispatched`` or ``in_progress`` (not yet replied).
- yellow: from the start of the warning window, which opens N working days before the deadline
  (the deadline moved back N working days, same clock time; N = HOTLINE_WARNING_WORKDAYS or the
  per-type value of HOTLINE_WARNING_BY_TYPE). Hour-based (urgent) deadlines warn
  HOTLINE_WARNING_HOURS before.
- red: once ``now`` is past the deadline. A ticket first seen already overdue gets only the red
  card (a yellow card after the fact would only be noise).
- escalation (通报): an urging whose ticket is still unanswered (dispatched / in_progress /
  returned) N working days (HOTLINE_ESCALATE_WORKDAYS) after the urging's due time — or, without a
  due time, after the ticket's reply deadline — is escalated once and listed for leadership.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from hotline.events import publish_after_commit
from ticketing import deadlines, lifecycle
from hotline.clock import iso, to_local, to_utc_naive
from hotline.exceptions import TicketingError
from hotline.identity import Actor
from ticketing.models import Ticket, Urging
from ticketing.service import record_event
from ticketing.sla import WorkCalendar, extend

from .models import DeadlineCard, UrgingEscalation
from .rollup import let_others_write
from .schemas import Settings

log = logging.getLogger("hotline.supervision")

SYSTEM = Actor.system("supervision")
WATCHED = {"sign": (lifecycle.DISPATCHED,), "reply": (lifecycle.DISPATCHED, lifecycle.IN_PROGRESS)}
UNANSWERED = (lifecycle.DISPATCHED, lifecycle.IN_PROGRESS, lifecycle.RETURNED)
CARD_ACTION = {"yellow": "yellow_card", "red": "red_card"}
YIELD_EVERY = 20  # cards issued between two pauses for other writers (SQLite only, see rollup)


def workdays_back(cal: WorkCalendar, day: date, n: int) -> date:
    """The ``n``-th working day before ``day`` (the inverse of ``add_workdays``)."""
    current, remaining = day, n
    while remaining > 0:
        current -= timedelta(days=1)
        if cal.is_workday(current)[0]:
            remaining -= 1
    return current


def warning_start(cal: WorkCalendar, deadline: datetime, workdays: int, *, hours: int | None = None) -> datetime:
    """When the warning window before ``deadline`` (naive UTC) opens."""
    if hours is not None:
        return deadline - timedelta(hours=hours)
    local = to_local(deadline)
    day = workdays_back(cal, local.date(), workdays)
    return to_utc_naive(datetime.combine(day, local.timetz()))


def due_card(now: datetime, deadline: datetime, warn_from: datetime) -> str | None:
    if now > deadline:
        return "red"
    if now >= warn_from:
        return "yellow"
    return None


def _insert_ignore(session, model, values: dict, keys: list[str]):
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    stmt = ins.values(**values).on_conflict_do_nothing(index_elements=keys).returning(model.id)
    return session.execute(stmt).scalar()


def _hour_based(session) -> set[tuple[str, str]]:
    return {(p["type"], p["urgency"]) for p in deadlines.policy_table(session) if p["reply_unit"] == "hours"}


def scan_deadlines(session, now: datetime, settings: Settings | None = None) -> list[dict]:
    """Issue every card that is due at ``now`` and not yet issued; returns the cards issued."""
    settings = settings or Settings()
    cal = deadlines.calendar(session)
    hour_based = _hour_based(session)
    horizon = now + timedelta(days=3 * max([settings.warning_workdays, *settings.warning_by_type.values()]) + 14)
    issued: list[dict] = []
    for kind, statuses in WATCHED.items():
        column = Ticket.sign_by if kind == "sign" else Ticket.reply_by
        tickets = session.scalars(
            select(Ticket).where(Ticket.status.in_(statuses), column.isnot(None), column <= horizon,
                                 Ticket.main_department_id.isnot(None))
            .options(selectinload(Ticket.main_department)).order_by(Ticket.id)).all()
        if not tickets:
            continue
        have = set(session.execute(
            select(DeadlineCard.ticket_id, DeadlineCard.card, DeadlineCard.deadline_at)
            .where(DeadlineCard.deadline_kind == kind,
                   DeadlineCard.ticket_id.in_([t.id for t in tickets]))).all())
        session.commit()  # end the read (SQLite: it holds the write lock); each card commits alone
        for ticket in tickets:
            deadline = getattr(ticket, f"{kind}_by")
            hours = settings.warning_hours if (ticket.type, ticket.urgency) in hour_based else None
            warn_from = warning_start(cal, deadline, settings.warning_for(ticket.type), hours=hours)
            card = due_card(now, deadline, warn_from)
            if card is None or (ticket.id, card, deadline) in have:
                continue
            result = _issue_card(session, ticket, kind, card, deadline, warn_from, now)
            if result is not None:
                issued.append(result)
                if len(issued) % YIELD_EVERY == 0:
                    let_others_write(session)  # thousands of cards after a bulk load: let the server in
    return issued


def _issue_card(session, ticket: Ticket, kind: str, card: str, deadline: datetime, warn_from: datetime,
                now: datetime) -> dict | None:
    dept = ticket.main_department
    number, dept_code = ticket.number, dept.code if dept else None
    try:
        card_id = _insert_ignore(session, DeadlineCard, {
            "ticket_id": ticket.id, "deadline_kind": kind, "card": card, "deadline_at": deadline,
            "department_id": ticket.main_department_id, "issued_at": now}, 
            ["ticket_id", "deadline_kind", "card", "deadline_at"])
        if card_id is None:
            session.rollback()
            return None
        session.expire(ticket)
        data = {"card": card, "deadline_kind": kind, "deadline_at": iso(deadline),
                "warning_from": iso(warn_from), "scanned_at": iso(now),
                "department": {"code": dept.code, "name": dept.name} if dept else None}
        record_event(session, number, CARD_ACTION[card], SYSTEM, data=data, commit=False)
        publish_after_commit(session, "deadline.card", {
            "number": number, "card": card, "deadline_kind": kind, "department": dept_code,
            "deadline_at": iso(deadline), "card_id": card_id})
        session.commit()
    except (IntegrityError, StaleDataError, TicketingError):
        session.rollback()
        log.info("supervision.card_skipped number=%s kind=%s card=%s (concurrent change)", number, kind, card)
        return None
    log.info("supervision.card number=%s kind=%s card=%s department=%s", number, kind, card, dept_code)
    return {"number": number, "card": card, "deadline_kind": kind, "deadline_at": iso(deadline),
            "department": dept_code}


def scan_escalations(session, now: datetime, settings: Settings | None = None) -> list[dict]:
    """Escalate (通报) urgings whose ticket is still unanswered long after the urging's due time."""
    settings = settings or Settings()
    cal = deadlines.calendar(session)
    done = select(UrgingEscalation.urging_id)
    rows = session.execute(
        select(Urging, Ticket).join(Ticket, Ticket.id == Urging.ticket_id)
        .where(Ticket.status.in_(UNANSWERED), Urging.id.not_in(done)).order_by(Urging.id)).all()
    escalated = []
    for urging, ticket in rows:
        base = urging.due_at or ticket.reply_by or urging.urged_at
        escalate_at = extend(cal, base, settings.escalate_workdays).at
        if now < escalate_at:
            continue
        result = _escalate(session, urging, ticket, base, now, settings)
        if result is not None:
            escalated.append(result)
    return escalated


def _escalate(session, urging: Urging, ticket: Ticket, base: datetime, now: datetime, settings) -> dict | None:
    number, urging_id = ticket.number, urging.id
    dept = ticket.main_department
    dept_code = dept.code if dept else None
    try:
        esc_id = _insert_ignore(session, UrgingEscalation, {
            "urging_id": urging_id, "ticket_id": ticket.id, "department_id": urging.department_id,
            "overdue_since": base, "escalated_at": now}, ["urging_id"])
        if esc_id is None:
            session.rollback()
            return None
        session.expire(ticket)
        data = {"urging_id": urging_id, "overdue_since": iso(base), "workdays": settings.escalate_workdays,
                "department": {"code": dept.code, "name": dept.name} if dept else None}
        record_event(session, number, "escalate", SYSTEM, note="督办逾期未办结，予以通报", data=data, commit=False)
        publish_after_commit(session, "urging.escalated", {
            "number": number, "urging_id": urging_id, "department": dept_code, "escalation_id": esc_id})
        session.commit()
    except (IntegrityError, StaleDataError, TicketingError):
        session.rollback()
        return None
    log.info("supervision.escalated number=%s urging=%s department=%s", number, urging_id, dept_code)
    return {"number": number, "urging_id": urging_id, "department": dept_code}


def run_scan(session, now: datetime, settings: Settings | None = None) -> dict:
    """One full pass: cards, escalations, then the KPI rollup catch-up."""
    from .rollup import catch_up

    cards = scan_deadlines(session, now, settings)
    escalations = scan_escalations(session, now, settings)
    rolled = catch_up(session, settings=settings)
    return {"cards": cards, "escalations": escalations, "rollup_tickets": rolled}
