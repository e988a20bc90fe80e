"""Erasing a caller's personal data (PIPL art. 47) while the ticket's history still verifies.

``erase_ticket`` blanks the caller's name, phone and ID number (and, when asked, the address) on
the ticket, replaces them in the ticket's free text, redacts the history (``ticketing.audit``: each
version-2 event keeps the digest of what it held and loses the salt) and runs every registered
eraser of other packages (telephony deletes the recordings and transcripts of the ticket's calls).
It appends a ``privacy_erased`` event naming the fields, commits once and publishes after commit.
``erase_phone`` does this for every ticket of a number; ``erase_expired`` is the retention job.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from sqlalchemy import func, select

from . import audit, lifecycle
from hotline.clock import utcnow
from hotline.exceptions import NotFound, ValidationFailed
from .models import Ticket, TicketEvent
from .privacy import PERSONAL_KEYS

log = logging.getLogger("hotline.privacy")

CALLER_FIELDS = ("caller_name", "caller_phone", "caller_id_number")
ERASED_TEXT = "***"

#: fn(session, ticket) -> dict of what it erased; registered by packages holding a ticket's data
_ticket_erasers: list[Callable] = []
#: fn(session, phone) -> dict; data about a number that is not attached to a ticket (e.g. calls)
_phone_erasers: list[Callable] = []


def register(*, ticket_eraser: Callable | None = None, phone_eraser: Callable | None = None) -> None:
    if ticket_eraser is not None and ticket_eraser not in _ticket_erasers:
        _ticket_erasers.append(ticket_eraser)
    if phone_eraser is not None and phone_eraser not in _phone_erasers:
        _phone_erasers.append(phone_eraser)


@dataclass
class Erased:
    ticket: str
    fields: list[str]
    redacted_events: int
    other: dict = field(default_factory=dict)


def _scrub_text(text: str | None, secrets: list[str]) -> str | None:
    if not text:
        return text
    for raw in secrets:
        if raw in text:
            text = text.replace(raw, ERASED_TEXT)
    return text


def _secrets_of(ticket, fields) -> list[str]:
    values = [getattr(ticket, f) for f in fields if f != "address"]
    return sorted({v for v in values if v and len(v) >= 2}, key=len, reverse=True)


def _redact_event(ev, ticket, fields, secrets, now) -> bool:
    """Blank ``ev``'s personal fields; True when something changed."""
    data = dict(ev.data or {})
    if (ev.chain_version or 1) >= 2:
        salts, redacted = dict(ev.pii_salts or {}), dict(ev.redacted or {})
        values = audit.personal_values(ev.data, ticket if ev.seq == 1 else None, ev.note)
        changed = False
        for key in list(salts):
            kind, _, name = key.partition(".")
            if kind == "ticket" and name not in fields:
                continue
            if kind == "event" and not any(s in (ev.note or "") for s in secrets):
                continue  # a note without the caller's data stays verifiable
            redacted[key] = audit.pii_digest(salts.pop(key), values.get(key))
            if kind == "data":
                data[name] = None
            elif kind == "event":
                ev.note = _scrub_text(ev.note, secrets)
            changed = True
        if changed:
            ev.pii_salts, ev.redacted, ev.data, ev.redacted_at = salts or None, redacted, data or None, now
        return changed
    keys = [k for k, v in data.items() if k in PERSONAL_KEYS and v not in (None, "", [])]
    if not keys:
        return False
    for k in keys:
        data[k] = None
    ev.data, ev.redacted, ev.redacted_at = data, {f"data.{k}": None for k in keys}, now
    return True


def erase_ticket(session, number: str, actor, *, reason: str, with_address: bool = False,
                 commit: bool = True) -> Erased:
    from .service import record_event

    if not reason or not reason.strip():
        raise ValidationFailed("a reason is required", {"reason": "say why (request, retention...)"})
    ticket = session.scalar(select(Ticket).where(Ticket.number == number).with_for_update())
    if ticket is None:
        raise NotFound(f"ticket {number} not found")
    fields = list(CALLER_FIELDS) + (["address"] if with_address else [])
    secrets = _secrets_of(ticket, fields)
    now = utcnow()
    events = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                             .order_by(TicketEvent.seq)).all()
    redacted = sum(_redact_event(ev, ticket, fields, secrets, now) for ev in events)
    other = {}
    for eraser in _ticket_erasers:
        other.update(eraser(session, ticket) or {})
    ticket.content = _scrub_text(ticket.content, secrets)
    ticket.reply_text = _scrub_text(ticket.reply_text, secrets)
    for item in list(ticket.extensions):
        item.reason, item.decision_note = _scrub_text(item.reason, secrets), _scrub_text(item.decision_note, secrets)
    for item in list(ticket.urgings):
        item.note = _scrub_text(item.note, secrets)
    erased = [f for f in fields if getattr(ticket, f)]
    for f in fields:
        setattr(ticket, f, None)
    ticket.erased_at = now
    record_event(session, number, "privacy_erased", actor, note=reason.strip()[:300], commit=False,
                 data={"fields": erased, "redacted_events": redacted, **other})
    if commit:
        session.commit()
    log.info("privacy.erased ticket=%s fields=%s redacted_events=%d actor=%s", number, ",".join(erased),
             redacted, actor.username)
    return Erased(number, erased, redacted, other)


def erase_phone(session, phone: str, actor, *, reason: str, with_address: bool = False) -> list[Erased]:
    """Every ticket of ``phone`` (each in its own transaction), then what other packages hold."""
    if not phone:
        raise ValidationFailed("a phone number is required", {"phone": "required"})
    numbers = session.scalars(select(Ticket.number).where(Ticket.caller_phone == phone)
                              .order_by(Ticket.id)).all()
    session.rollback()
    out = [erase_ticket(session, n, actor, reason=reason, with_address=with_address) for n in numbers]
    for eraser in _phone_erasers:
        eraser(session, phone)
    session.commit()
    return out


def expired(session, days: int, limit: int = 500) -> list[str]:
    """Numbers of finished tickets older than ``days`` whose caller data is not erased yet."""
    cutoff = utcnow() - timedelta(days=days)
    finished = func.coalesce(Ticket.closed_at, Ticket.updated_at)
    has_data = (Ticket.caller_phone.is_not(None) | Ticket.caller_name.is_not(None)
                | Ticket.caller_id_number.is_not(None))
    return list(session.scalars(select(Ticket.number).where(
        Ticket.status.in_(lifecycle.FINAL_STATUSES), Ticket.erased_at.is_(None), finished < cutoff, has_data)
        .order_by(Ticket.id).limit(limit)))


def erase_expired(session, days: int, actor, *, limit: int = 500) -> int:
    """The retention job: erase finished tickets older than ``days`` (0 = never). Idempotent."""
    if days <= 0:
        return 0
    numbers = expired(session, days, limit)
    session.rollback()
    for number in numbers:
        erase_ticket(session, number, actor, reason=f"保存期限届满（{days} 天）")
    if numbers:
        log.info("privacy.retention erased=%d older_than_days=%d", len(numbers), days)
    return len(numbers)
