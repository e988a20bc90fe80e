"""The notices messaging sends by itself: at acceptance (number and deadline) and at the approved
reply (with a signed rating link), for every channel, to tickets whose caller has a mobile number.

The subscribers (``runner.py``) only enqueue a job (``tasks.notify_many``, batched); the job reloads the ticket
and queues the message under a dedupe key, so a retried or repeated job never queues it twice."""
from __future__ import annotations

import logging

from datetime import timedelta

from sqlalchemy import and_, select

from hotline.clock import to_local, utcnow
from ticketing.models import Ticket, TicketEvent

from . import links
from .models import SmsMessage
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


def catch_up(session, *, hours: int = 24, limit: int = 500) -> int:
    """Queue the notices a crash or a lost job left behind: tickets created (or replies approved)
    in the last ``hours`` whose notice row does not exist. Idempotent (dedupe keys); returns how
    many were queued. Runs with the sender's sweep (beat / the embedded loop)."""
    since = utcnow() - timedelta(hours=hours)
    accepted = session.execute(
        select(Ticket.number).outerjoin(SmsMessage, SmsMessage.dedupe_key == Ticket.id.cast(SmsMessage.dedupe_key.type)
                                        .concat(":accepted"))
        .where(Ticket.created_at >= since, Ticket.caller_phone.is_not(None), Ticket.erased_at.is_(None),
               SmsMessage.id.is_(None))
        .order_by(Ticket.id).limit(limit)).scalars().all()
    replied = session.execute(
        select(Ticket.number).join(TicketEvent, and_(TicketEvent.ticket_id == Ticket.id,
                                                     TicketEvent.action == "approve_reply"))
        .outerjoin(SmsMessage, SmsMessage.dedupe_key == Ticket.id.cast(SmsMessage.dedupe_key.type)
                   .concat(":reply:").concat(Ticket.reopen_count.cast(SmsMessage.dedupe_key.type)))
        .where(TicketEvent.created_at >= since, Ticket.caller_phone.is_not(None), Ticket.erased_at.is_(None),
               SmsMessage.id.is_(None))
        .order_by(Ticket.id).limit(limit)).scalars().all()
    session.rollback()
    queued = 0
    for kind, numbers in (("accepted", accepted), ("reply", replied)):
        for number in dict.fromkeys(numbers):
            if notify(session, number, kind) is not None:
                queued += 1
    if queued:
        log.warning("sms.catch_up queued=%d (notices whose job never ran)", queued)
    return queued
