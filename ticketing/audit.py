"""The verifiable history (全程留痕、过往可溯).

Each ``TicketEvent`` stores the SHA-256 of its own content plus the hash of the ticket's previous
event; the ticket row keeps the head hash and the event count. Altering an event breaks its own
hash; deleting one breaks the next event's link (or, for the last one, the ticket's head).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import select

GENESIS = "0" * 64


def event_digest(ticket_number: str, seq: int, action: str, actor: str, actor_role: str,
                 from_status, to_status, note, data, created_at, prev_hash: str) -> str:
    body = json.dumps(
        [ticket_number, seq, action, actor, actor_role, from_status, to_status, note,
         data or {}, created_at.isoformat(timespec="microseconds"), prev_hash],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def digest_of(event, ticket_number: str) -> str:
    return event_digest(ticket_number, event.seq, event.action, event.actor, event.actor_role,
                        event.from_status, event.to_status, event.note, event.data,
                        event.created_at, event.prev_hash)


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
        if digest_of(ev, ticket.number) != ev.hash:
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


def verify_all(session, batch: int = 500):
    """Yield (checked_count, Finding|None) per ticket in id order; stops at nothing."""
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
            yield t, verify_ticket(t, by_ticket[t.id])
        last_id = ids[-1]
        session.expunge_all()
