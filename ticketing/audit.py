"""The verifiable history (全程留痕、过往可溯).

Each ``TicketEvent`` stores the SHA-256 of its own content plus the hash of the ticket's previous
event; the ticket row keeps the head hash and the event count. Altering an event breaks its own
hash; deleting one breaks the next event's link (or, for the last one, the ticket's head).

Chain version 2 (every event written since migration 0011) commits to a *salted digest* of each
personal field instead of the field itself: the caller's name, phone, ID number and address (on the
ticket, committed by the ``create`` event) and the personal keys of event data
(``ticketing.privacy.PERSONAL_KEYS``: the number a call came from, its transcript...) and each
event's free-text note (staff write callers' numbers into notes). The random
salt of each field is kept in ``pii_salts``. Erasing a field (``ticketing.erasure``) blanks it,
stores its digest in ``redacted`` and drops the salt: the event still verifies, the erased value
cannot be recovered by trying every phone number against the digest, and ``hotline audit verify``
names the redacted events. Version-1 events (written earlier) verify as before; one whose personal
data was erased can no longer prove its own content, so verify reports it as redacted and checks
only that the chain's links around it are intact.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from hotline.clock import utcnow

from .privacy import PERSONAL_KEYS

if TYPE_CHECKING:
    from .models import Ticket, TicketEvent

GENESIS = "0" * 64
CHAIN_VERSION = 2
#: the ticket's personal fields, committed by its ``create`` event (as ``ticket.<field>``)
TICKET_PII = ("caller_name", "caller_phone", "caller_id_number", "address")


def _canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def pii_digest(salt: str, value) -> str:
    return hashlib.sha256((salt + _canonical(value)).encode("utf-8")).hexdigest()


def personal_values(data: dict | None, ticket=None, note: str | None = None) -> dict:
    """The personal fields an event commits to by digest: ``data.<key>``, its free-text note
    (``event.note``: staff write callers' numbers into notes) and, for create, ``ticket.<field>``."""
    out = {f"data.{k}": v for k, v in (data or {}).items() if k in PERSONAL_KEYS and v not in (None, "", [])}
    if note:
        out["event.note"] = note
    if ticket is not None:
        out.update({f"ticket.{f}": getattr(ticket, f) for f in TICKET_PII if getattr(ticket, f)})
    return out


def new_salts(values: dict) -> dict:
    """128 random bits per field, from one read of the OS generator (the create path is hot)."""
    if not values:
        return {}
    pool = secrets.token_hex(16 * len(values))
    return {key: pool[32 * i:32 * (i + 1)] for i, key in enumerate(values)}


def chain_digest(ticket_number: str, seq: int, action: str, actor: str, actor_role: str, from_status,
                 to_status, note, data, created_at, prev_hash: str, *, values: dict, salts: dict | None,
                 redacted: dict | None = None) -> str:
    """Version-2 digest: personal fields enter only as salted digests (``values``: their current
    values by key; ``salts``: key -> salt; ``redacted``: key -> digest of an erased field)."""
    commitments = {key: pii_digest(salt, values.get(key)) for key, salt in (salts or {}).items()}
    commitments.update(redacted or {})
    public = {k: v for k, v in (data or {}).items() if f"data.{k}" not in commitments}
    if "event.note" in commitments:
        note = None
    body = _canonical([CHAIN_VERSION, ticket_number, seq, action, actor, actor_role, from_status, to_status,
                       note, public, commitments, created_at.isoformat(timespec="microseconds"), prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def seal(ticket_number: str, seq: int, action: str, actor: str, actor_role: str, from_status, to_status,
         note, data, created_at, prev_hash: str, ticket=None) -> tuple[str, dict | None]:
    """(hash, salts) of a new version-2 event; ``ticket`` is given for the create event."""
    values = personal_values(data, ticket, note)
    salts = new_salts(values)
    digest = chain_digest(ticket_number, seq, action, actor, actor_role, from_status, to_status, note,
                          data, created_at, prev_hash, values=values, salts=salts)
    return digest, salts or None


def event_digest(ticket_number: str, seq: int, action: str, actor: str, actor_role: str,
                 from_status, to_status, note, data, created_at, prev_hash: str) -> str:
    body = json.dumps(
        [ticket_number, seq, action, actor, actor_role, from_status, to_status, note,
         data or {}, created_at.isoformat(timespec="microseconds"), prev_hash],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def digest_of(event, ticket) -> str:
    if (event.chain_version or 1) < 2:
        return event_digest(ticket.number, event.seq, event.action, event.actor, event.actor_role,
                            event.from_status, event.to_status, event.note, event.data,
                            event.created_at, event.prev_hash)
    for key in event.redacted or {}:
        kind, _, name = key.partition(".")
        if (kind == "data" and (event.data or {}).get(name) is not None) or (
                kind == "ticket" and event.seq == 1 and getattr(ticket, name, None)):
            return "erased field refilled"  # an erased field must stay blank
    values = personal_values(event.data, ticket if event.seq == 1 else None, event.note)
    # a field blanked without going through erasure is absent here and fails its digest
    for key in event.pii_salts or {}:
        values.setdefault(key, None)
    return chain_digest(ticket.number, event.seq, event.action, event.actor, event.actor_role,
                        event.from_status, event.to_status, event.note, event.data, event.created_at,
                        event.prev_hash, values=values, salts=event.pii_salts, redacted=event.redacted)


def is_redacted(event) -> bool:
    return event.redacted_at is not None


@dataclass
class Finding:
    ticket: str
    seq: int | None
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"ticket {self.ticket}"
        if self.seq is not None:
            where += f" event #{self.seq}"
        if self.event_id is not None:
            where += f" (row id {self.event_id})"
        return f"{where}: {self.problem}"


def verify_ticket(ticket, events) -> Finding | None:
    prev = GENESIS
    expected_seq = 1
    for ev in events:
        if ev.seq != expected_seq:
            return Finding(ticket.number, expected_seq, None,
                           f"event #{expected_seq} is missing (next present is #{ev.seq})")
        if ev.prev_hash != prev:
            return Finding(ticket.number, ev.seq, ev.id, "link to the previous event is broken")
        if (ev.chain_version or 1) < 2 and is_redacted(ev):
            pass  # a version-1 event cannot prove erased content; its links are still checked
        elif digest_of(ev, ticket) != ev.hash:
            return Finding(ticket.number, ev.seq, ev.id, "content was altered (hash mismatch)")
        prev = ev.hash
        expected_seq += 1
    count = expected_seq - 1
    if count != ticket.event_count or prev != (ticket.head_hash or GENESIS):
        missing = ticket.event_count
        return Finding(ticket.number, missing if missing > count else None, None,
                       f"ticket records {ticket.event_count} events ending in {ticket.head_hash[:12]}, "
                       f"found {count}: the last event was removed or altered")
    return None


@dataclass
class Redaction:
    ticket: str
    seq: int
    fields: list[str]
    chain_version: int

    def __str__(self) -> str:
        how = "content verified by digests" if self.chain_version >= 2 else "version-1 event, links verified"
        return f"ticket {self.ticket} event #{self.seq}: {', '.join(self.fields) or 'personal data'} erased ({how})"


def verify_all(session, batch: int = 500, redactions: list | None = None):
    """Yield (ticket, Finding|None) per ticket in id order; stops at nothing. Redacted events are
    appended to ``redactions`` (``Redaction``) when a list is given."""
    from .models import Ticket, TicketEvent

    last_id = 0
    while True:
        tickets = session.scalars(
            select(Ticket).where(Ticket.id > last_id).order_by(Ticket.id).limit(batch)).all()
        if not tickets:
            return
        ids = [t.id for t in tickets]
        rows = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(ids))
                               .order_by(TicketEvent.ticket_id, TicketEvent.seq)).all()
        by_ticket: dict[int, list] = {i: [] for i in ids}
        for ev in rows:
            by_ticket[ev.ticket_id].append(ev)
        for t in tickets:
            if redactions is not None:
                redactions.extend(Redaction(t.number, ev.seq, sorted(ev.redacted or {}), ev.chain_version or 1)
                                  for ev in by_ticket[t.id] if is_redacted(ev))
            yield t, verify_ticket(t, by_ticket[t.id])
        last_id = ids[-1]
        session.expunge_all()


def append_event(session, ticket: Ticket, actor, action: str, from_status, to_status,
               note=None, data=None) -> TicketEvent:
    """Append one event to the ticket's hash chain (the caller commits)."""
    from .models import TicketEvent

    seq = ticket.event_count + 1
    prev = ticket.head_hash or GENESIS
    created = utcnow()
    digest, salts = seal(ticket.number, seq, action, actor.username, actor.role, from_status,
                         to_status, note, data, created, prev)
    ev = TicketEvent(ticket=ticket, seq=seq, action=action, actor=actor.username,
                     actor_role=actor.role, from_status=from_status, to_status=to_status,
                     note=note, data=data or None, created_at=created, prev_hash=prev, hash=digest,
                     chain_version=CHAIN_VERSION, pii_salts=salts)
    session.add(ev)
    ticket.event_count = seq
    ticket.head_hash = digest
    return ev
