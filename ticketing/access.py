"""Access records (PIPL art. 51): who saw a caller's unmasked number or ID number, who played a
recording or read a call's transcript, when, and through which endpoint.

Views call ``record_*`` after building their answer: one multi-row INSERT and its commit per
request (nothing on a request that disclosed nothing). The answer to a ticket's own registration is
not recorded: the number shown there is the one its author just typed.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select

from . import privacy
from hotline.clock import iso, to_utc_naive, utcnow
from hotline.exceptions import ValidationFailed
from .models import AccessRecord

KINDS = (privacy.PHONE, privacy.ID_NUMBER, privacy.RECORDING, privacy.TRANSCRIPT)
KIND_LABELS = {privacy.PHONE: "查看完整号码", privacy.ID_NUMBER: "查看完整证件号",
               privacy.RECORDING: "播放录音", privacy.TRANSCRIPT: "查看通话转写"}


def _insert(session, actor, via: str, entries: list[tuple[str, str | None, str | None]]) -> int:
    if not entries:
        return 0
    now = utcnow()
    session.execute(insert(AccessRecord), [
        {"at": now, "actor": actor.username, "actor_role": actor.role, "kind": kind,
         "ticket_number": number, "call_id": call_id, "via": via[:200]} for kind, number, call_id in entries])
    session.commit()
    return len(entries)


def record_tickets(session, actor, tickets, via: str) -> int:
    """Record what of each ticket's caller ``actor``'s view showed unmasked."""
    return _insert(session, actor, via, [(kind, t.number, None) for t in tickets
                                         for kind in privacy.disclosed(t, actor.role)])


def record_calls(session, actor, calls_with_tickets, via: str) -> int:
    """Record a call view: the caller's number (desk roles) and the transcript, if shown."""
    entries = []
    for call, ticket in calls_with_tickets:
        number = ticket.number if ticket is not None else call.ticket_number
        confidential = ticket.confidential if ticket is not None else None
        if call.caller and privacy.sees_full_phone(actor.role):
            entries.append((privacy.PHONE, number, call.call_uuid))
        if call.segments and privacy.may_hear(actor.role, confidential):
            entries.append((privacy.TRANSCRIPT, number, call.call_uuid))
    return _insert(session, actor, via, entries)


def record_call_numbers(session, actor, items, via: str) -> int:
    """Record call lists that show callers' numbers: ``items`` are dicts with ``call_id``,
    ``caller_phone`` and ``ticket`` (e.g. the callback list of abandoned calls)."""
    if not privacy.sees_full_phone(actor.role):
        return 0
    return _insert(session, actor, via, [(privacy.PHONE, i.get("ticket"), i.get("call_id"))
                                         for i in items if i.get("caller_phone")])


def record_recording(session, actor, call, ticket, via: str) -> int:
    number = ticket.number if ticket is not None else call.ticket_number
    return _insert(session, actor, via, [(privacy.RECORDING, number, call.call_uuid)])


def listing(session, *, ticket: str | None = None, actor: str | None = None, kind: str | None = None,
            date_from: datetime | None = None, date_to: datetime | None = None, page: int = 1,
            per_page: int = 50) -> tuple[int, list[dict]]:
    """Access records, newest first, for the admins' page."""
    if kind and kind not in KINDS:
        raise ValidationFailed("unknown kind", {"kind": f"one of {', '.join(KINDS)}"})
    stmt = select(AccessRecord)
    if ticket:
        stmt = stmt.where(AccessRecord.ticket_number == ticket)
    if actor:
        stmt = stmt.where(AccessRecord.actor == actor)
    if kind:
        stmt = stmt.where(AccessRecord.kind == kind)
    if date_from:
        stmt = stmt.where(AccessRecord.at >= to_utc_naive(date_from))
    if date_to:
        stmt = stmt.where(AccessRecord.at < to_utc_naive(date_to))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(AccessRecord.id.desc()).offset((page - 1) * per_page).limit(per_page))
    return total, [{"id": r.id, "at": iso(r.at), "actor": r.actor, "actor_role": r.actor_role, "kind": r.kind,
                    "kind_label": KIND_LABELS.get(r.kind, r.kind), "ticket": r.ticket_number,
                    "call_id": r.call_id, "via": r.via} for r in rows]
