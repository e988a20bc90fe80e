"""The supervisor's working lists, paged on the server: deadline lists grouped one row per ticket
(its worst card first), 通报 (escalations), 督办 (urgings) with their state and owner, callbacks.

Every function returns ``{"items", "total", "page", "per_page"}``; ``total`` counts the whole list.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import selectinload

from ticketing import deadlines, lifecycle
from ticketing.cards import WATCHED, hour_based
from ticketing.models import Department, Ticket, Urging

from hotline.clock import iso

from .models import UrgingEscalation
from .schemas import Settings
from .service import _dept_ref, _ticket_ref, _unit_filter, card_row, deadline_watch, urging_view

CARD_RANK = {"red": 0, "yellow": 1}
URGING_STATES = ("open", "acknowledged", "escalated")


def _page(items: list, total: int, page: int, per_page: int) -> dict:
    return {"items": items, "total": total, "page": page, "per_page": per_page}


def deadline_page(session, now: datetime, settings: Settings, *, overdue: bool, department_id: int | None,
                  page: int, per_page: int) -> dict:
    """One row per ticket with all its cards, worst first; rows ordered by their worst card
    (red before yellow), then by its deadline, earliest first.

    The overdue list is paged in the database (a city's backlog of late tickets can be tens of
    thousands): every watched deadline in the past is a red card, so the page's tickets and the
    total come from SQL and only the page's cards are computed. The near-deadline list depends on
    each type's warning window in working days, so it is computed over the tickets whose deadlines
    fall in the next few weeks (``deadline_watch``'s horizon) and paged here."""
    if overdue:
        return _overdue_page(session, now, settings, department_id, page, per_page)
    rows = _grouped(deadline_watch(session, now, settings, overdue=False, department_id=department_id, limit=None))
    start = (page - 1) * per_page
    return _page(rows[start:start + per_page], len(rows), page, per_page)


def _grouped(card_rows) -> list[dict]:
    """Card rows (one per ticket and deadline) as one row per ticket, its worst card first."""
    rows: dict[str, dict] = {}
    for r in card_rows:
        card = {"card": r["card"], "deadline_kind": r["deadline_kind"], "deadline_at": r["deadline_at"],
                "overdue_workdays": r["overdue_workdays"]}
        row = rows.setdefault(r["number"], {**r, "cards": []})
        row["cards"].append(card)
    for row in rows.values():
        row["cards"].sort(key=lambda c: (CARD_RANK[c["card"]], c["deadline_at"]))
        worst = row["cards"][0]
        row.update(card=worst["card"], deadline_kind=worst["deadline_kind"], deadline_at=worst["deadline_at"],
                   overdue_workdays=worst["overdue_workdays"])
    return sorted(rows.values(), key=lambda r: (CARD_RANK[r["card"]], r["deadline_at"], r["number"]))


def _overdue_page(session, now: datetime, settings: Settings, department_id: int | None, page: int,
                  per_page: int) -> dict:
    parts = []
    for kind, statuses in WATCHED.items():
        column = Ticket.sign_by if kind == "sign" else Ticket.reply_by
        parts.append(_unit_filter(
            select(Ticket.id.label("id"), Ticket.number.label("number"), column.label("due"))
            .where(Ticket.status.in_(statuses), column < now, Ticket.main_department_id.isnot(None)),
            department_id))
    late = union_all(*parts).subquery()
    per_ticket = (select(late.c.id, late.c.number, func.min(late.c.due).label("due"))
                  .group_by(late.c.id, late.c.number).subquery())
    total = session.scalar(select(func.count()).select_from(per_ticket))
    ids = session.scalars(select(per_ticket.c.id).order_by(per_ticket.c.due, per_ticket.c.number)
                          .offset((page - 1) * per_page).limit(per_page)).all()
    tickets = session.scalars(select(Ticket).where(Ticket.id.in_(ids))
                              .options(selectinload(Ticket.main_department))).all() if ids else []
    cal, hourly = deadlines.calendar(session), hour_based(session)
    rows = _grouped(row for t in tickets for kind in WATCHED
                    if (row := card_row(cal, hourly, settings.rule, t, kind, now, overdue=True)) is not None)
    return _page(rows, total, page, per_page)


def escalation_page(session, *, department_id: int | None, page: int, per_page: int) -> dict:
    """通报, newest first: which unit, the urging behind it (who issued it, when, acknowledged?)."""
    cond = [] if department_id is None else [UrgingEscalation.department_id == department_id]
    total = session.scalar(select(func.count(UrgingEscalation.id)).where(*cond))
    stmt = (select(UrgingEscalation, Urging, Ticket).join(Urging, Urging.id == UrgingEscalation.urging_id)
            .join(Ticket, Ticket.id == UrgingEscalation.ticket_id).where(*cond)
            .options(selectinload(Ticket.main_department))
            .order_by(UrgingEscalation.escalated_at.desc(), UrgingEscalation.id.desc())
            .offset((page - 1) * per_page).limit(per_page))
    depts = {d.id: d for d in session.scalars(select(Department))}
    items = [{"id": e.id, "escalated_at": iso(e.escalated_at), "overdue_since": iso(e.overdue_since),
              "unit": _dept_ref(depts.get(e.department_id)), "issued_by": u.urged_by,
              "state": "acknowledged" if u.acknowledged_at else "open",
              "urging": urging_view(u, t), "ticket": _ticket_ref(t)}
             for e, u, t in session.execute(stmt)]
    return _page(items, total, page, per_page)


def urging_page(session, *, state: str | None, department_id: int | None, page: int, per_page: int) -> dict:
    """督办, newest first, each with its state: open, acknowledged by the unit, or escalated (通报)."""
    escalated = select(UrgingEscalation.urging_id)
    cond = [] if department_id is None else [Urging.department_id == department_id]
    if state == "open":
        cond += [Urging.acknowledged_at.is_(None), Urging.id.not_in(escalated)]
    elif state == "acknowledged":
        cond += [Urging.acknowledged_at.isnot(None)]
    elif state == "escalated":
        cond += [Urging.id.in_(escalated)]
    total = session.scalar(select(func.count(Urging.id)).where(*cond))
    stmt = (select(Urging, Ticket).join(Ticket, Ticket.id == Urging.ticket_id).where(*cond)
            .options(selectinload(Ticket.main_department))
            .order_by(Urging.id.desc()).offset((page - 1) * per_page).limit(per_page))
    pairs = session.execute(stmt).all()
    esc = {e.urging_id: e for e in session.scalars(
        select(UrgingEscalation).where(UrgingEscalation.urging_id.in_([u.id for u, _ in pairs])))}
    depts = {d.id: d for d in session.scalars(select(Department))}
    items = []
    for u, t in pairs:
        e = esc.get(u.id)
        items.append({**urging_view(u, t), "unit": _dept_ref(depts.get(u.department_id)),
                      "state": "escalated" if e else "acknowledged" if u.acknowledged_at else "open",
                      "escalated_at": iso(e.escalated_at) if e else None, "ticket": _ticket_ref(t)})
    return _page(items, total, page, per_page)


def callback_page(session, *, page: int, per_page: int) -> dict:
    """Replies approved and waiting for the citizen's rating, oldest reply first."""
    cond = Ticket.status == lifecycle.CALLBACK
    total = session.scalar(select(func.count(Ticket.id)).where(cond))
    stmt = (select(Ticket).where(cond).options(selectinload(Ticket.main_department))
            .order_by(Ticket.replied_at, Ticket.id).offset((page - 1) * per_page).limit(per_page))
    items = [{**_ticket_ref(t), "replied_at": iso(t.replied_at), "reply": t.reply_text,
              "reopen_count": t.reopen_count} for t in session.scalars(stmt)]
    return _page(items, total, page, per_page)


def openapi_paths() -> dict:
    """OpenAPI path items of supervision's paged working lists (merged by hotline/openapi.py)."""
    from hotline.openapi import ERROR, response

    paging = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
              {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                                              "default": 50}}]
    dept = {"name": "department", "in": "query", "schema": {"type": "string"},
            "description": "a unit's code (ignored for a department user: always its own unit)"}
    page = {"type": "object", "required": ["items", "total", "page", "per_page"], "properties": {
        "items": {"type": "array", "items": {"type": "object"}}, "total": {"type": "integer"},
        "page": {"type": "integer"}, "per_page": {"type": "integer"}}}
    errors = {c: response(t, ERROR) for c, t in (("401", "not authenticated"), ("403", "role not allowed"),
                                                  ("422", "validation failed"))}

    def listing(summary: str, params: list) -> dict:
        return {"get": {"summary": summary, "parameters": params + paging,
                        "responses": {"200": response("one page and the total", page), **errors}}}

    return {
        "/api/v1/supervision/overdue": listing(
            "Tickets past a deadline, one row per ticket with its cards worst first (red, then yellow), "
            "most overdue first; a department sees its own", []),
        "/api/v1/supervision/near-deadline": listing(
            "Tickets in the warning window (yellow card), one row per ticket, earliest deadline first", []),
        "/api/v1/supervision/escalations": listing(
            "通报 (escalated urgings), newest first: unit, who urged, when, acknowledged or not", [dept]),
        "/api/v1/supervision/urgings": listing(
            "督办, newest first, with state (open, acknowledged, escalated), who issued it and the unit", [
                {"name": "state", "in": "query", "schema": {"enum": list(URGING_STATES)}},
                {"name": "open", "in": "query", "schema": {"type": "boolean"},
                 "description": "same as state=open (kept for old clients)"}, dept]),
        "/api/v1/supervision/callbacks": listing(
            "Callback queue (回访): approved replies waiting for the citizen's rating, oldest first", []),
    }
