"""联系诉求人: a department clerk talks to the ticket's citizen without seeing the number.

The web side (``request_contact``) checks the rules, writes a ``contact_calls`` row and the
``contact_requested`` history event, and publishes ``contact.requested`` after the commit; the
event carries the contact id, the ticket number and the clerk's extension, never the citizen's
number. The SIP process claims the row (``claim``: one process wins, and it alone reads the
number from the ticket), rings the clerk, then the citizen, bridges them and ends with ``finish``:
the outcome, start and duration on the row and as the ``contact_citizen`` history event.

Rules: only a department that holds the ticket (main or co-unit; another unit gets the 404 of an
unknown ticket, like every ticket operation); not on finished tickets (closed,
merged, invalid) nor when the citizen asked for confidentiality (保密); at most
``HOTLINE_CONTACT_DAILY_LIMIT`` requests per ticket per China day; one at a time per ticket.
"""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update

from hotline.clock import CST, iso, to_local, to_utc_naive, utcnow
from hotline.events import publish_after_commit
from hotline.exceptions import Conflict, Forbidden
from hotline.identity import Actor

from .lifecycle import DEPARTMENT, FINAL_STATUSES
from .models import ContactCall, Ticket
from .service import get_ticket, record_event

log = logging.getLogger("ticketing.contact")

#: a request still unfinished after this long no longer blocks a new one (its SIP process died)
STALE_AFTER = timedelta(minutes=5)
#: a request no SIP process has claimed after this long is ended as ``not_started`` (none is running,
#: or the request's event was lost): the clerk reads the outcome instead of waiting for a call
CLAIM_TIMEOUT = timedelta(minutes=2)

#: outcome -> what the history says (the clerk's phone first, then the citizen's)
OUTCOMES = {
    "answered": "已接通",
    "no_answer": "诉求人未接听",
    "busy": "诉求人忙线",
    "unregistered": "诉求人号码无法接通",
    "rejected": "诉求人拒接或呼叫失败",
    "proxy_unreachable": "外呼线路不可用",
    "clerk_no_answer": "承办人分机未接听",
    "clerk_busy": "承办人分机忙",
    "clerk_unregistered": "承办人分机未注册",
    "clerk_rejected": "承办人分机拒接",
    "clerk_proxy_unreachable": "外呼线路不可用",
    "clerk_hangup": "承办人在接通前挂机",
    "refused": "工单已不允许联系诉求人",
    "failed": "呼叫失败",
    "not_started": "热线话务系统未响应，呼叫未发起，请稍后重试",
    "interrupted": "外呼所在的话务进程中断，通话已结束，请重试",
}


def _today_start_utc() -> datetime:
    local_day = to_local(utcnow()).date()
    return to_utc_naive(datetime.combine(local_day, time()).replace(tzinfo=CST))


def _refusal(ticket: Ticket) -> str | None:
    """Why the hotline may not call this ticket's citizen now (None: it may)."""
    if ticket.status in FINAL_STATUSES:
        return "工单已办结（或已并单、无效），不能联系诉求人"
    if ticket.confidential:
        return "诉求人要求保密，不能联系诉求人"
    if not ticket.caller_phone:
        return "工单没有诉求人电话，无法联系"
    return None


def request_contact(session, number: str, actor: Actor, *, user_id: int, extension: str | None,
                    daily_limit: int) -> dict:
    """Record the clerk's request and hand it to the SIP process (``contact.requested``)."""
    if actor.role != DEPARTMENT:
        raise Forbidden("只有承办单位可以联系诉求人")
    # another unit's ticket answers 404 as if it did not exist, as every ticket operation does
    ticket = get_ticket(session, number, actor, lock=True)
    why = _refusal(ticket)
    if why:
        raise Conflict(why)
    if not extension:
        raise Conflict("您的账号未配置分机号码，请联系管理员配置后再联系诉求人")
    since = _today_start_utc()
    used = session.scalar(select(func.count(ContactCall.id)).where(
        ContactCall.ticket_id == ticket.id, ContactCall.requested_at >= since)) or 0
    if used >= daily_limit:
        raise Conflict(f"本工单今日已联系诉求人 {used} 次，已达每日上限 {daily_limit} 次", limit=daily_limit,
                       used_today=used)
    running = session.scalar(select(ContactCall.id).where(
        ContactCall.ticket_id == ticket.id, ContactCall.status != "done",
        ContactCall.requested_at >= utcnow() - STALE_AFTER).limit(1))
    if running is not None:
        raise Conflict("正在联系诉求人，请在本次通话结束后再试")
    row = ContactCall(ticket_id=ticket.id, ticket_number=ticket.number, department_id=actor.department_id,
                      user_id=user_id, requested_by=actor.username, extension=extension, status="requested",
                      requested_at=utcnow())
    session.add(row)
    session.flush()
    record_event(session, ticket.number, "contact_requested", actor, commit=False,
                 note=f"联系诉求人：先呼叫承办人分机 {extension}，接听后接通诉求人",
                 data={"contact_id": row.id, "extension": extension})
    publish_after_commit(session, "contact.requested", {
        "contact_id": row.id, "number": ticket.number, "extension": extension, "user_id": user_id,
        "requested_by": actor.username})
    session.commit()
    log.info("contact.requested ticket=%s contact=%s by=%s ext=%s", ticket.number, row.id, actor.username,
             extension)
    return {"contact_id": row.id, "number": ticket.number, "status": "requested", "extension": extension,
            "used_today": used + 1, "daily_limit": daily_limit}


def claim(session, contact_id: int, node: str) -> dict | None:
    """The SIP process takes the request (exactly one process wins). Returns what it needs to
    dial, the citizen's number included, or None (taken by another process, or no longer allowed:
    then the request is finished as ``refused``)."""
    won = session.execute(update(ContactCall).where(ContactCall.id == contact_id,
                                                    ContactCall.status == "requested")
                          .values(status="dialing", claimed_by=node[:80])).rowcount
    if won != 1:
        session.rollback()
        return None
    row = session.get(ContactCall, contact_id)
    ticket = session.get(Ticket, row.ticket_id)
    if _refusal(ticket):
        session.commit()
        finish(session, contact_id, outcome="refused")
        return None
    out = {"contact_id": row.id, "number": row.ticket_number, "extension": row.extension,
           "phone": ticket.caller_phone, "user_id": row.user_id}
    session.commit()
    return out


def finish(session, contact_id: int, *, outcome: str, started_at: datetime | None = None,
           answered_at: datetime | None = None, ended_at: datetime | None = None,
           duration: float | None = None, call_uuid: str | None = None, commit: bool = True) -> None:
    """The outcome on the row and as the ``contact_citizen`` history event (by the clerk)."""
    row = session.scalar(select(ContactCall).where(ContactCall.id == contact_id).with_for_update())
    if row is None or row.status == "done":
        return
    row.status, row.outcome = "done", outcome
    row.started_at, row.answered_at = started_at, answered_at
    row.ended_at, row.duration, row.call_uuid = ended_at or utcnow(), duration, call_uuid
    actor = Actor(username=row.requested_by, role=DEPARTMENT, department_id=row.department_id)
    label = OUTCOMES.get(outcome, outcome)
    note = f"联系诉求人：{label}" + (f"，通话 {round(duration)} 秒" if outcome == "answered" and duration else "")
    record_event(session, row.ticket_number, "contact_citizen", actor, commit=False, note=note, data={
        "contact_id": row.id, "outcome": outcome, "outcome_label": label, "extension": row.extension,
        "started_at": iso(started_at), "answered_at": iso(answered_at), "ended_at": iso(row.ended_at),
        "duration": duration, "call_id": call_uuid})
    if commit:
        session.commit()
    log.info("contact.finished ticket=%s contact=%s outcome=%s duration=%s", row.ticket_number, row.id,
             outcome, duration)


def end_abandoned(session, *, dead_node: str | None = None) -> list[int]:
    """End the requests nobody will finish: those no SIP process claimed within ``CLAIM_TIMEOUT``
    (``not_started``) and, with ``dead_node``, those that process claimed before it died
    (``interrupted``; the reaper calls this for each dead `sip` process). Their ids."""
    cond = ContactCall.status == "requested", ContactCall.requested_at < utcnow() - CLAIM_TIMEOUT
    ended = [(cid, "not_started") for cid in session.scalars(select(ContactCall.id).where(*cond))]
    if dead_node is not None:
        ended += [(cid, "interrupted") for cid in session.scalars(select(ContactCall.id).where(
            ContactCall.status == "dialing", ContactCall.claimed_by == dead_node[:80]))]
    session.rollback()
    for cid, outcome in ended:
        finish(session, cid, outcome=outcome)  # each under its row lock; one already done is left alone
    return [cid for cid, _ in ended]
