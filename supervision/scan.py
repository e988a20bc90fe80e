"""Deadline scans: yellow/red cards and 督办 escalation (通报).

Every scan takes ``now`` so tests run literal timelines. Idempotency lives in the database: a card
is a ``deadline_cards`` row under a UNIQUE (ticket, kind, card, deadline) key, inserted with
``ON CONFLICT DO NOTHING`` in the same transaction as the ticket event. Two scanners racing for the
same card: the second insert waits for the first transaction, then inserts nothing and skips. A
rescan or a restart finds the row and skips too.

Rules: when a ticket is yellow or red is ``ticketing.cards`` (the one definition, also behind
every ticket view's ``deadline_state``). A ticket first seen already overdue gets only the red card
(a yellow card after the fact would only be noise).
- escalation (通报): an urging whose ticket is still unanswered (dispatched / in_progress /
  returned) N working days (HOTLINE_ESCALATE_WORKDAYS) after the urging's due time — or, without a
  due time, after the ticket's reply deadline — is escalated once and listed for leadership.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from hotline.events import publish_after_commit
from ticketing import deadlines, lifecycle
from ticketing.cards import WATCHED, card_for, due_card, hour_based, warning_start  # noqa: F401 (re-exported)
from hotline.clock import iso
from hotline.exceptions import TicketingError
from hotline.identity import Actor
from ticketing.models import Ticket, Urging
from ticketing.service import record_event
from ticketing.sla import extend

from .models import DeadlineCard, UrgingEscalation
from .rollup import let_others_write
from .schemas import Settings

log = logging.getLogger("hotline.supervision")

SYSTEM = Actor.system("supervision")
UNANSWERED = (lifecycle.DISPATCHED, lifecycle.IN_PROGRESS, lifecycle.RETURNED)
CARD_ACTION = {"yellow": "yellow_card", "red": "red_card"}
YIELD_EVERY = 20  # cards issued between two pauses for other writers (SQLite only, see rollup)


def _insert_ignore(session, model, values: dict, keys: list[str]):
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    stmt = ins.values(**values).on_conflict_do_nothing(index_elements=keys).returning(model.id)
    return session.execute(stmt).scalar()


def scan_deadlines(session, now: datetime, settings: Settings | None = None) -> list[dict]:
    """Issue every card that is due at ``now`` and not yet issued; returns the cards issued."""
    settings = settings or Settings()
    cal = deadlines.calendar(session)
    hourly, rule = hour_based(session), settings.rule
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
            card, deadline, warn_from = card_for(cal, hourly, rule, ticket, kind, now)
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


def run_scan(session, now: datetime, settings: Settings | None = None, hotspots=None) -> dict:
    """One full pass: cards, escalations, the KPI rollup catch-up, then the hot-topic counts and
    their early warning (``hotspot.detected``; ``hotspots`` are the HotspotSettings)."""
    from . import hotspots as hot
    from .rollup import catch_up

    cards = scan_deadlines(session, now, settings)
    escalations = scan_escalations(session, now, settings)
    rolled = catch_up(session, settings=settings)
    alerts = hot.run(session, now, hotspots)
    return {"cards": cards, "escalations": escalations, "rollup_tickets": rolled, "hotspots": alerts}
