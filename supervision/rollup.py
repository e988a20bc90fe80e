"""KPI rollups, maintained incrementally.

``kpi_ticket_facts`` holds what each ticket contributes to each unit's counters; ``kpi_daily`` and
``kpi_monthly`` hold the sums per received day (month) x unit x type, which is all the KPI view
reads (tens of thousands of rows for years of history instead of tens of millions of tickets).

The updater is a pull over ``ticket_events`` by id (a high-water mark in ``kpi_state``): every
ticket with new events is recomputed from its current row and history, and the difference between
its new and stored facts is added to ``kpi_daily`` in the same transaction. Recomputing is
idempotent, so processing an event twice is harmless; the mark only advances past events older
than ``LAG`` so an event whose transaction committed late (ids are allocated before commit) is still
seen. One updater runs at a time (the ``kpi_state`` row is locked ``FOR UPDATE``; SQLite serializes
writers anyway). Triggers: the ``ticket.*`` event subscriber (a background job), every scan pass,
``hotline kpi catch-up``; ``hotline kpi rebuild`` recomputes everything from history.

Call counters come from telephony's ``call.ended`` event: one ``call_facts`` row per call id
(insert-or-ignore) and, only when that row was new, an increment of ``call_daily`` by the counters
``routing.calls.kpis.call_counts`` gives the call (the one definition of an offered call).
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from routing.calls.kpis import parse_time, call_counts
from hotline.clock import to_local, utcnow
from ticketing.models import Department, Ticket, TicketEvent

from .models import (ALL_TYPES, ALL_UNITS, COUNTERS, CallDaily, CallFact, KpiDaily, KpiMonthly, KpiState,
                     KpiTicketFact, KpiTownDaily)
from .schemas import Settings

log = logging.getLogger("hotline.supervision.rollup")

LAG = timedelta(seconds=60)
BATCH = 2000
CATCH_UP_EVENTS = 1000  # events per catch-up transaction (at most that many tickets recomputed)
SQLITE_YIELD_SECONDS = 0.15
SATISFIED = ("满意", "基本满意")
HISTORY_ACTIONS = ("dispatch", "reassign", "return", "approve_reply", "callback")
STATE = "tickets"


def _insert(session, model):
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(model)


# -- per-ticket facts ----------------------------------------------------------------------------
def ticket_facts(ticket: Ticket, history: list[tuple[str, dict]], code_to_id: dict[str, int],
                 repeat_call: bool) -> dict[int, dict]:
    """{department_id: counters} that ``ticket`` contributes; see ``supervision.kpis`` for meaning.

    ``history`` is the ticket's (action, data) for HISTORY_ACTIONS in order. Holdings ended by the
    unit's own return count for that unit (dispatched + returned); holdings ended by the desk's
    reassignment count for nobody; the current holding carries the timeliness counters.
    """
    rows: dict[int, dict] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    holder: int | None = None
    last_returner: int | None = None
    callback_due = called_back = satisfied = solved = 0
    for action, data in history:
        data = data or {}
        if action in ("dispatch", "reassign"):
            holder = code_to_id.get((data.get("main_department") or {}).get("code"))
        elif action == "return":
            dept = code_to_id.get((data.get("department") or {}).get("code"), holder)
            if dept is not None:
                rows[dept]["dispatched"] += 1
                rows[dept]["returned"] += 1
                last_returner = dept
            holder = None
        elif action == "approve_reply":
            callback_due = 1
        elif action == "callback":
            called_back = 1
            satisfied = int(data.get("satisfaction") in SATISFIED)
            solved = int(bool(data.get("solved")))
    main = ticket.main_department_id
    if main is not None:
        row = rows[main]
        row["dispatched"] += 1
        row["signed_on_time"] = int(bool(ticket.signed_at and ticket.sign_by and ticket.signed_at <= ticket.sign_by))
        row["replied_on_time"] = int(bool(ticket.replied_at and ticket.reply_by and ticket.replied_at <= ticket.reply_by))
        row["extended"] = int(any(e.status == "approved" for e in ticket.extensions))
    primary = rows[main if main is not None else last_returner if last_returner is not None else 0]
    primary.update(received=1, direct=int(ticket.direct_answer is not None), callback_due=callback_due,
                   called_back=called_back, satisfied=satisfied, solved=solved,
                   reopened=int((ticket.reopen_count or 0) > 0), has_phone=int(bool(ticket.caller_phone)),
                   repeat_call=int(repeat_call))
    return dict(rows)


def _repeat_flags(session, tickets: list[Ticket], days: int) -> dict[int, bool]:
    """Ticket id -> its caller's phone had another ticket in the ``days`` before it was received."""
    phones = {t.caller_phone for t in tickets if t.caller_phone}
    if not phones:
        return {}
    lo = min(t.received_at for t in tickets) - timedelta(days=days)
    hi = max(t.received_at for t in tickets)
    seen: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    for phone, received, tid in session.execute(
            select(Ticket.caller_phone, Ticket.received_at, Ticket.id)
            .where(Ticket.caller_phone.in_(phones), Ticket.received_at >= lo, Ticket.received_at <= hi)):
        seen[phone].append((received, tid))
    window = timedelta(days=days)
    out = {}
    for t in tickets:
        if t.caller_phone:
            out[t.id] = any(tid != t.id and t.received_at - window <= rec <= t.received_at
                            and (rec, tid) < (t.received_at, t.id) for rec, tid in seen[t.caller_phone])
    return out


def recompute(session, ticket_ids, settings: Settings | None = None) -> int:
    """Recompute facts of these tickets and apply the differences to ``kpi_daily`` (no commit)."""
    settings = settings or Settings()
    ids = sorted(set(ticket_ids))
    if not ids:
        return 0
    code_to_id = dict(session.execute(select(Department.code, Department.id)).all())
    tickets = session.scalars(select(Ticket).where(Ticket.id.in_(ids))
                              .options(selectinload(Ticket.extensions))).all()
    history: dict[int, list] = defaultdict(list)
    for tid, action, data in session.execute(
            select(TicketEvent.ticket_id, TicketEvent.action, TicketEvent.data)
            .where(TicketEvent.ticket_id.in_(ids), TicketEvent.action.in_(HISTORY_ACTIONS))
            .order_by(TicketEvent.ticket_id, TicketEvent.seq)):
        history[tid].append((action, data))
    repeats = _repeat_flags(session, tickets, settings.repeat_days)
    deltas: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    towns: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    for fact in session.scalars(select(KpiTicketFact).where(KpiTicketFact.ticket_id.in_(ids))):
        for c in COUNTERS:
            deltas[(fact.day, fact.department_id, fact.type)][c] -= getattr(fact, c)
            towns[(fact.day, fact.town_id)][c] -= getattr(fact, c)
    new_rows = []
    for t in tickets:
        day, town = to_local(t.received_at).date(), t.town_id or 0
        for dept, counters in ticket_facts(t, history[t.id], code_to_id, repeats.get(t.id, False)).items():
            new_rows.append({"ticket_id": t.id, "department_id": dept, "day": day, "type": t.type,
                             "town_id": town, **counters})
            for c in COUNTERS:
                deltas[(day, dept, t.type)][c] += counters[c]
                towns[(day, town)][c] += counters[c]
    session.execute(delete(KpiTicketFact).where(KpiTicketFact.ticket_id.in_(ids)))
    if new_rows:
        session.execute(insert(KpiTicketFact), new_rows)
    apply_deltas(session, deltas)
    apply_town_deltas(session, towns)
    return len(tickets)


def apply_deltas(session, deltas: dict[tuple, dict]) -> None:
    """Add counter differences to ``kpi_daily`` and ``kpi_monthly`` (upserts, in the caller's transaction).

    Each difference is also added to the pre-aggregated rows "all types" of its unit, "all units"
    of its type and "all units, all types" (a CUBE kept incrementally), so a per-unit view reads one
    row per unit and day instead of one per unit, type and day.
    """
    daily: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    monthly: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    for (d, dept, typ), c in deltas.items():
        for key in ((d, dept, typ), (d, dept, ALL_TYPES), (d, ALL_UNITS, typ), (d, ALL_UNITS, ALL_TYPES)):
            for target in (daily[key], monthly[(d.replace(day=1), *key[1:])]):
                for k in COUNTERS:
                    target[k] += c[k]
    for model, key, data in ((KpiDaily, "day", daily), (KpiMonthly, "month", monthly)):
        rows = [{key: d, "department_id": dept, "type": typ, **c}
                for (d, dept, typ), c in data.items() if any(c.values())]
        if not rows:
            continue
        stmt = _insert(session, model)
        stmt = stmt.on_conflict_do_update(
            index_elements=[key, "department_id", "type"],
            set_={c: getattr(model, c) + getattr(stmt.excluded, c) for c in COUNTERS})
        for i in range(0, len(rows), 1000):
            session.execute(stmt, rows[i:i + 1000])


def apply_town_deltas(session, deltas: dict[tuple, dict]) -> None:
    """Add counter differences per (day, town_id) to ``kpi_town_daily`` (the reports' town grouping)."""
    rows = [{"day": d, "town_id": town, **c} for (d, town), c in deltas.items() if any(c.values())]
    if not rows:
        return
    stmt = _insert(session, KpiTownDaily)
    stmt = stmt.on_conflict_do_update(index_elements=["day", "town_id"],
                                      set_={c: getattr(KpiTownDaily, c) + getattr(stmt.excluded, c) for c in COUNTERS})
    for i in range(0, len(rows), 1000):
        session.execute(stmt, rows[i:i + 1000])


# -- the updater -----------------------------------------------------------------------------------
def _lock_state(session) -> KpiState:
    session.execute(_insert(session, KpiState).values(name=STATE, last_event_id=0, updated_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["name"]))
    return session.scalar(select(KpiState).where(KpiState.name == STATE).with_for_update()
                          .execution_options(populate_existing=True))


def catch_up(session, *, settings: Settings | None = None, now: datetime | None = None,
             lag: timedelta = LAG) -> int:
    """Recompute every ticket with events after the high-water mark; returns tickets recomputed.

    One short transaction per CATCH_UP_EVENTS events: after a bulk load (``hotline demo seed``)
    the catch-up runs for minutes, and the server must be able to write between its steps. It
    stops at the newest event that existed when it started: events written meanwhile are the next
    run's (chasing them, a catch-up beside a busy server would never end)."""
    now = now or utcnow()
    total, cursor, blocked, top = 0, None, False, None
    while True:
        state = _lock_state(session)
        if top is None:
            top = session.scalar(select(func.max(TicketEvent.id))) or 0
        start = state.last_event_id if cursor is None else cursor
        events = session.execute(
            select(TicketEvent.id, TicketEvent.ticket_id, TicketEvent.created_at)
            .where(TicketEvent.id > start, TicketEvent.id <= top).order_by(TicketEvent.id)
            .limit(CATCH_UP_EVENTS)).all()
        if not events:
            session.commit()
            return total
        total += recompute(session, {e.ticket_id for e in events}, settings)
        cursor = events[-1].id
        for ev in events:
            if blocked or ev.created_at > now - lag:
                blocked = True
                break
            state.last_event_id = ev.id
        state.updated_at = now
        session.commit()
        let_others_write(session)


def let_others_write(session) -> None:
    """Between two write transactions of a long job: on SQLite, pause so that a writer waiting on
    the database (its busy handler polls every 50-100 ms) gets the lock before our next BEGIN
    IMMEDIATE; without the pause a loop of transactions starves the server until the job ends.
    PostgreSQL locks rows, not the database: no pause."""
    if session.get_bind().dialect.name == "sqlite":
        time.sleep(SQLITE_YIELD_SECONDS)


def rebuild(session, settings: Settings | None = None) -> int:
    """Throw the rollups away and recompute every ticket from its history (``hotline kpi rebuild``)."""
    _lock_state(session)
    top = session.scalar(select(func.max(TicketEvent.id))) or 0
    session.execute(delete(KpiTicketFact))
    session.execute(delete(KpiDaily))
    session.execute(delete(KpiMonthly))
    session.execute(delete(KpiTownDaily))
    last_id, total = 0, 0
    while True:
        ids = session.scalars(select(Ticket.id).where(Ticket.id > last_id).order_by(Ticket.id).limit(BATCH)).all()
        if not ids:
            break
        total += recompute(session, ids, settings)
        last_id = ids[-1]
    state = _lock_state(session)
    state.last_event_id = top
    state.updated_at = utcnow()
    session.commit()
    return total


# -- calls -------------------------------------------------------------------------------------
def call_fact_from_payload(payload: dict, target_seconds: int) -> dict | None:
    """A ``call.ended`` payload as a ``call_facts`` row plus its counters (``routing.calls.kpis``
    decides what counts); None for calls that are not counted (outbound, out of service hours)."""
    counts = call_counts(payload, target_seconds)
    if counts is None:
        return None
    ringing = parse_time(payload.get("ringing_at"))
    when = ringing or parse_time(payload.get("answered_at")) or parse_time(payload.get("ended_at")) or utcnow()
    return {"call_id": str(payload["call_id"]), "day": to_local(when).date(), "ringing_at": ringing,
            "answered": bool(counts["answered"]), "wait_seconds": counts["wait_seconds"],
            "talk_seconds": counts["talk_seconds"], "counts": counts}


def record_call(session, payload: dict, target_seconds: int) -> bool:
    """Add one ended call to the call rollup; False when it was already counted (or not counted)."""
    fact = call_fact_from_payload(payload, target_seconds)
    if fact is None:
        return False
    inc = fact.pop("counts")
    inserted = session.execute(_insert(session, CallFact).values(**fact)
                               .on_conflict_do_nothing(index_elements=["call_id"])
                               .returning(CallFact.call_id)).scalar()
    if inserted is None:
        session.rollback()
        return False
    stmt = _insert(session, CallDaily).values(day=fact["day"], **inc)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["day"], set_={k: getattr(CallDaily, k) + getattr(stmt.excluded, k) for k in inc}))
    session.commit()
    return True
