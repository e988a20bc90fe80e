"""Console services: the wallboard snapshot, deadline lists, attachments, linking a call to a ticket.

Operator presence is call distribution's (``routing.calls.presence``). Read models here are
queries only; tickets change solely through ticketing.service.
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, or_, select

from hotline.events import publish_after_commit
from routing.calls import presence
from ticketing import attachments, lifecycle
from hotline.clock import CST, iso, to_local, to_utc_naive, utcnow
from ticketing.models import Extension, Ticket, TicketEvent
from ticketing import access, cards, listing
from ticketing.privacy import ticket_view
from ticketing.service import can_see
from ticketing.sla import TYPES

from .calls import board
from .exceptions import NotFound, ValidationFailed

log = logging.getLogger("hotline.console")


# -- wallboard ------------------------------------------------------------------------------------
def local_midnight_utc() -> datetime:
    today = to_local(utcnow()).date()
    return to_utc_naive(datetime(today.year, today.month, today.day, tzinfo=CST))


def call_figures(session, answer_target: int) -> dict:
    """Today's call KPIs, as supervision computes them for /api/v1/kpis (one computation)."""
    from supervision.kpis import calls_today

    today = calls_today(session, answer_target)
    counts, rates = today["counts"], today["kpis"]
    return {**counts, **rates, "labels": today["labels"], "answer_target_seconds": answer_target}


def live_calls(session) -> dict:
    """Calls waiting and talking now: the queue's rows (shared by every `sip` process, so every web
    process shows the same figures) plus calls this process saw that never entered a queue."""
    from routing.calls.service import live_counts

    shared, local = live_counts(session), board.counters(unqueued_only=True)
    return {key: shared[key] + local[key] for key in ("waiting", "talking")}


def wallboard(session, answer_target: int) -> dict:
    """Live calls (the board), today's call KPIs and presence, today's tickets."""
    since = local_midnight_utc()
    by_type = dict(session.execute(select(Ticket.type, func.count()).where(Ticket.received_at >= since)
                                   .group_by(Ticket.type)).all())
    by_status = dict(session.execute(select(Ticket.status, func.count()).where(Ticket.received_at >= since)
                                     .group_by(Ticket.status)).all())
    operators = presence.operator_states(session)
    return {
        "calls": live_calls(session),
        "call_kpis": call_figures(session, answer_target),
        "operators": operators,
        "operator_states": presence.state_counts(operators),
        "tickets_today": {
            "total": sum(by_type.values()),
            "by_type": [{"type": t, "count": by_type.get(t, 0)} for t in TYPES],
            "by_status": [{"status": s, "label": lifecycle.STATUS_LABELS[s], "count": by_status.get(s, 0)}
                          for s in lifecycle.STATUSES],
        },
        "at": iso(utcnow()),
    }


# -- supervisor lists -----------------------------------------------------------------------------


def deadline_lists(session, actor, limit: int = 200, *, via: str = "") -> dict:
    """Open tickets carrying a red card (``overdue``) or a yellow one (``near``), soonest deadline first.

    The card is ticketing's rule (``ticketing.cards``, the one the supervision scan issues), so
    this list agrees with the official cards whether or not the scanner has run yet.
    """
    now = utcnow()
    rows = session.scalars(select(Ticket).where(Ticket.status.in_(cards.WATCHED["reply"]), Ticket.reply_by.is_not(None))
                           .order_by(Ticket.reply_by).limit(2000)).all()
    rule = cards.current_rule()
    found: dict[str, list] = {"red": [], "yellow": []}
    for t in rows:
        state = cards.card_state(session, t, now, rule)
        if state["card"] in found:
            found[state["card"]].append((state["due"], t.id, t))
    overdue, near = ([t for *_k, t in sorted(found[c], key=lambda r: r[:2])][:limit] for c in ("red", "yellow"))
    out = {"overdue": [ticket_view(t, actor.role) for t in overdue],
           "near": [ticket_view(t, actor.role) for t in near]}
    access.record_tickets(session, actor, overdue + near, via)
    return out


def pending_extensions(session, actor, *, page: int = 1, per_page: int = 50, via: str = "") -> dict:
    """延期审批: tickets in progress with a pending extension request, the oldest request first,
    paged on the server (``total`` counts the whole list)."""
    first_request = (select(Extension.ticket_id, func.min(Extension.requested_at).label("requested_at"))
                     .where(Extension.status == "pending").group_by(Extension.ticket_id).subquery())
    cond = [Ticket.status == lifecycle.IN_PROGRESS]
    total = session.scalar(select(func.count()).select_from(Ticket)
                           .join(first_request, first_request.c.ticket_id == Ticket.id).where(*cond))
    rows = session.scalars(select(Ticket).join(first_request, first_request.c.ticket_id == Ticket.id).where(*cond)
                           .order_by(first_request.c.requested_at, Ticket.id)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    out = [ticket_view(t, actor.role) for t in rows]
    access.record_tickets(session, actor, rows, via)
    return {"items": out, "total": total, "page": page, "per_page": per_page}


def my_tickets(session, actor, *, page: int = 1, per_page: int = 50, sort: str = "-created", **criteria):
    """(total, one page) of the tickets the operator registered or acted on (e.g. completed a phone
    draft), filtered, sorted and paged on the server with the ticket list's criteria (``listing``)."""
    acted = select(TicketEvent.ticket_id).where(TicketEvent.actor == actor.username)
    mine = or_(Ticket.created_by == actor.username, Ticket.id.in_(acted))
    return listing.list_tickets(session, actor, visible=mine, sort=sort, page=page, per_page=per_page, **criteria)


# -- attachments (stored by ticketing.attachments: the reply that cites them checks ownership) --------
def save_attachment(config, user, filename: str, content_type: str, data: bytes) -> dict:
    return attachments.save(attachments.store_dir(config), user, filename, content_type, data)


def open_attachment(session, config, user, att_id: str) -> tuple[dict, Path]:
    """A unit opens its own uploads and the citizen's photos of the tickets it holds."""
    def holds(number: str) -> bool:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        return ticket is not None and can_see(ticket, user.actor())

    return attachments.open_for(attachments.store_dir(config), user, att_id, holds)


# -- calls and tickets ----------------------------------------------------------------------------
def register_ticket(session, actor, body: dict, *, max_content: int = 4000):
    """Register the operator's ticket in one transaction (``ticketing.service.register``): from a
    call, the ticket's history keeps what the console knows of it at that moment (caller, the
    transcript so far), and the hang-up later adopts this ticket instead of making a draft."""
    from ticketing import service as tickets

    call_id = body.get("call_id") if isinstance(body, dict) else None
    call = next((c for c in board.visible_to(None) if c["call_id"] == call_id), None) if call_id else None
    return tickets.register(session, body, actor, max_content=max_content,
                            call_link=_call_link_data(call) if call else None)


def _call_link_data(call: dict) -> dict:
    return {"call_id": call["call_id"], "caller": call.get("caller"), "called": call.get("called"),
            "transcript": call["segments"], **{k: v for k, v in call["info"].items()
                                               if k in ("recording", "recording_url", "duration")}}


def link_call(session, actor, call_id: str, number: str) -> dict:
    """Attach a live/recent call to the ticket registered from it (event ``call_linked``).

    The ticket's history keeps the caller's number, the transcript so far and where the recording
    is; ``call.ticket`` tells telephony and other consoles which ticket the call produced.
    """
    from ticketing import service as tickets

    if not isinstance(call_id, str) or not call_id or not isinstance(number, str) or not number:
        raise ValidationFailed("call_id and number are required",
                               {k: "required" for k, v in (("call_id", call_id), ("number", number))
                                if not isinstance(v, str) or not v})
    call = next((c for c in board.visible_to(None) if c["call_id"] == call_id), None)
    if call is None:
        raise NotFound(f"call {call_id} is not known to the console")
    tickets.get_ticket(session, number, actor)
    data = _call_link_data(call)
    publish_after_commit(session, "call.ticket", {"call_id": call_id, "number": number,
                                                  "source": "console", "operator": actor.username})
    tickets.record_event(session, number, "call_linked", actor, data=data, commit=True)
    return data
