"""The notices messaging sends by itself: at acceptance (number and deadline) and at the approved
reply (with a signed rating link), for every channel, to tickets whose caller has a mobile number.

The subscribers (``runner.py``) only enqueue a job (``tasks.notify``); the job reloads the ticket
and queues the message under a dedupe key, so a retried or repeated job never queues it twice."""
from __future__ import annotations

import logging

from sqlalchemy import select

from hotline.clock import to_local
from ticketing.models import Ticket

from . import links
from .service import is_mobile, queue_sms

log = logging.getLogger("hotline.messaging")


def deadline_text(ticket: Ticket) -> str:
    local = to_local(ticket.reply_by)
    return f"{local.month}月{local.day}日" if local else "规定时限内"


def notify(session, number: str, kind: str) -> int | None:
    """Queue the ``kind`` notice (accepted | reply) of ticket ``number`` and commit; the message id,
    or None when there is nothing to send (no mobile number, opted out, erased)."""
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    if ticket is None or ticket.erased_at is not None or not is_mobile(ticket.caller_phone):
        return None
    if kind == "accepted":
        msg = queue_sms(session, ticket.caller_phone, "accepted",
                        {"number": ticket.number, "deadline": deadline_text(ticket)},
                        ticket_id=ticket.id, dedupe_key=f"{ticket.id}:accepted")
    elif kind == "reply":
        msg = queue_sms(session, ticket.caller_phone, "reply",
                        {"number": ticket.number, "rating_url": links.rating_url(ticket.number)},
                        ticket_id=ticket.id, dedupe_key=f"{ticket.id}:reply:{ticket.reopen_count}")
    else:
        raise ValueError(kind)
    session.commit()
    return msg.id if msg is not None else None
