"""The queue's reads and writes: who is ready, the atomic reservation of an operator, offers,
queue rows, wrap-up and system-set states. Each function commits what it changed.

The reservation is the one rule that must hold across processes: ``reserve`` is a single
conditional UPDATE (``... WHERE state = 'idle' AND reserved_call IS NULL``), so whichever SIP
process gets there first owns the operator and every other one sees ``rowcount == 0``; PostgreSQL
re-checks the WHERE clause on the locked row, SQLite has one writer at a time.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from hotline.auth import User
from hotline.clock import CST, to_local, to_utc_naive, utcnow
from ticketing.lifecycle import OPERATOR
from ticketing.schemas import CallerIn

from . import presence
from .models import IDLE, OFFLINE, ONCALL, WRAPUP, AgentState, CallOffer, QueuedCall
from .strategies import Candidate

log = logging.getLogger("routing.calls")

DEFAULT_LEASE = 120.0  # seconds a reservation holds when the caller gives none


def _local_midnight_utc(now: datetime) -> datetime:
    day = to_local(now).date()
    return to_utc_naive(datetime(day.year, day.month, day.day, tzinfo=CST))


def _free(now: datetime, lease: float):
    """Not being offered a call: no reservation, or one older than its lease (a SIP process that
    died while the phone rang must not keep the operator)."""
    return or_(AgentState.reserved_call.is_(None), AgentState.reserved_at < now - timedelta(seconds=lease))


# -- operators -------------------------------------------------------------------------------------
def ready_operators(session, exclude: set[int] = frozenset(), *, lease: float = DEFAULT_LEASE) -> list[Candidate]:
    """Active operators with an extension whose state is 示闲 and who are not being offered a
    call, oldest ready-since first."""
    now = utcnow()
    midnight = _local_midnight_utc(now)
    answered = (select(CallOffer.user_id, func.count().label("n"))
                .where(CallOffer.result == "answered", CallOffer.offered_at >= midnight)
                .group_by(CallOffer.user_id).subquery())
    rows = session.execute(
        select(User.id, User.username, User.sip_extension, AgentState.since, answered.c.n)
        .join(AgentState, AgentState.user_id == User.id)
        .outerjoin(answered, answered.c.user_id == User.id)
        .where(User.role == OPERATOR, User.active.is_(True), User.sip_extension.is_not(None),
               User.sip_extension != "", AgentState.state == IDLE, _free(now, lease))
        .order_by(AgentState.since, User.id)).all()
    return [Candidate(uid, name, ext, since, n or 0) for uid, name, ext, since, n in rows
            if uid not in exclude]


def operators_on_duty(session) -> int:
    """Operators not offline (ready, talking, not-ready, break, wrap-up): is anyone staffing?"""
    return session.scalar(select(func.count()).select_from(AgentState).join(User, User.id == AgentState.user_id)
                          .where(User.role == OPERATOR, User.active.is_(True),
                                 AgentState.state != OFFLINE)) or 0


def reserve(session, user_id: int, call_uuid: str, *, lease: float = DEFAULT_LEASE) -> bool:
    """Take ``user_id`` for ``call_uuid`` if they are still ready and free: True for exactly one
    of any number of concurrent callers (threads or processes)."""
    now = utcnow()
    won = session.execute(update(AgentState)
                          .where(AgentState.user_id == user_id, AgentState.state == IDLE, _free(now, lease))
                          .values(reserved_call=call_uuid, reserved_at=now)
                          .execution_options(synchronize_session=False)).rowcount == 1
    session.commit()
    return won


def release(session, user_id: int, call_uuid: str) -> None:
    """End ``call_uuid``'s reservation of the operator (a later one is left alone)."""
    session.execute(update(AgentState).where(AgentState.user_id == user_id, AgentState.reserved_call == call_uuid)
                    .values(reserved_call=None, reserved_at=None).execution_options(synchronize_session=False))
    session.commit()


def set_state(session, user_id: int, state: str, reason: str, *, only_from: tuple[str, ...] | None = None) -> bool:
    """Set an operator's state as the system (publishes ``agent.state``). With ``only_from``, only
    when the current state is one of those (e.g. wrap-up ends only if the operator is still in it)."""
    user = session.get(User, user_id)
    if user is None:
        return False
    if only_from is not None and agent_state(session, user_id)[0] not in only_from:
        return False
    presence.set_state(session, user, state, reason=reason, by_system=True)
    return True


def agent_state(session, user_id: int) -> tuple[str, datetime | None]:
    row = session.get(AgentState, user_id)
    return (row.state, row.since) if row else (OFFLINE, None)


# -- offers ----------------------------------------------------------------------------------------
def open_offer(session, call_uuid: str, cand: Candidate, strategy: str) -> int:
    offer = CallOffer(call_uuid=call_uuid, user_id=cand.user_id, extension=cand.extension,
                      strategy=strategy, idle_since=cand.idle_since, offered_at=utcnow())
    session.add(offer)
    session.commit()
    return offer.id


def close_offer(session, offer_id: int, result: str) -> None:
    session.execute(update(CallOffer).where(CallOffer.id == offer_id)
                    .values(result=result, ended_at=utcnow()))
    session.commit()


def rejected_by(session, call_uuids: list[str]) -> dict[str, set[int]]:
    """Per call, the operators who rejected it (it is not offered to them again)."""
    out: dict[str, set[int]] = {}
    if call_uuids:
        for uuid, uid in session.execute(select(CallOffer.call_uuid, CallOffer.user_id).where(
                CallOffer.call_uuid.in_(call_uuids), CallOffer.result == "rejected")):
            out.setdefault(uuid, set()).add(uid)
    return out


def last_offered(session) -> int | None:
    """The operator of the latest offer (round robin continues after them)."""
    return session.scalar(select(CallOffer.user_id).order_by(CallOffer.id.desc()).limit(1))


# -- queue rows ------------------------------------------------------------------------------------
def valid_phone(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return CallerIn(phone=raw).phone
    except ValidationError:
        return None


#: PostgreSQL advisory lock key of the shared queue (``queue_lock``)
QUEUE_LOCK = 0x41434451


def queue_lock(session) -> None:
    """Serialise arrivals in the shared queue and claims of operators, across `sip` processes, for
    the rest of the transaction (PostgreSQL: a transaction-level advisory lock; SQLite has one
    writer anyway). A claim then sees every call that entered the queue before it: without the lock
    a call that came first on one process, its row not yet committed, was passed over by a later
    call on another process that claimed the longest-ready operator meanwhile."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(QUEUE_LOCK)))


def save_queued_call(session, call_uuid: str, values: dict) -> None:
    """Create or update the queue row of ``call_uuid`` (the end of a call may be stored before the
    queue's worker wrote its start); an ended row keeps its end. A call entering the queue
    (``state`` queued) takes its place under ``queue_lock``: ``queued_at`` is then, in the queue's
    order, when it entered (the SIP process's arrival time is the fallback elsewhere)."""
    values = dict(values)
    row = session.scalar(select(QueuedCall).where(QueuedCall.call_uuid == call_uuid))
    if row is None:
        if values.get("state") == "queued":
            queue_lock(session)
            values["queued_at"] = utcnow()
        caller = values.get("caller") or ""
        row = QueuedCall(call_uuid=call_uuid, caller=caller[:100], caller_phone=valid_phone(caller),
                         queued_at=values.get("queued_at") or utcnow())
        session.add(row)
    elif row.state == "ended" and values.get("state") != "ended":
        session.rollback()
        return
    for key, value in values.items():
        if key != "caller":
            setattr(row, key, value)
    try:
        session.commit()
    except IntegrityError:  # the other writer inserted it meanwhile: update that row
        session.rollback()
        save_queued_call(session, call_uuid, values)


def set_queue_state(session, call_uuid: str, state: str, **values) -> None:
    """Move a live queue row (never one that already ended)."""
    session.execute(update(QueuedCall).where(QueuedCall.call_uuid == call_uuid, QueuedCall.state != "ended")
                    .values(state=state, **values).execution_options(synchronize_session=False))
    session.commit()


def waiting_calls(session, horizon: float) -> list[tuple[str, str]]:
    """(call uuid, state) of every call queued or being offered, in every SIP process, first come
    first; rows older than ``horizon`` seconds are a dead process's and are skipped."""
    since = utcnow() - timedelta(seconds=horizon)
    return [tuple(r) for r in session.execute(
        select(QueuedCall.call_uuid, QueuedCall.state)
        .where(QueuedCall.state.in_(("queued", "offering")), QueuedCall.queued_at >= since)
        .order_by(QueuedCall.queued_at, QueuedCall.id))]


def start_wrapup(session, call_uuid: str) -> None:
    session.execute(update(QueuedCall).where(QueuedCall.call_uuid == call_uuid)
                    .values(wrapup_at=utcnow()).execution_options(synchronize_session=False))
    session.commit()


def end_wrapup(session, user_id: int) -> int:
    """The operator left 话后处理: the calls whose wrap-up was open get its length."""
    now = utcnow()
    rows = session.scalars(select(QueuedCall).where(and_(
        QueuedCall.operator_id == user_id, QueuedCall.wrapup_at.is_not(None),
        QueuedCall.wrapup_seconds.is_(None)))).all()
    for row in rows:
        row.wrapup_seconds = round(max((now - row.wrapup_at) / timedelta(seconds=1), 0.0), 1)
    session.commit()
    return len(rows)


# -- time ------------------------------------------------------------------------------------------
def in_service_hours(spans: list[tuple[int, int]], now: datetime | None = None) -> bool:
    local = to_local(now or utcnow())
    minute = local.hour * 60 + local.minute
    return any(lo <= minute < hi for lo, hi in spans)


def seconds_between(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round(max((b - a) / timedelta(seconds=1), 0.0), 3)


# -- a `sip` process died (``telephony.reaper``) ---------------------------------------------------
def open_calls_of(session, instance: str) -> list[QueuedCall]:
    """The queue rows a `sip` process left open (oldest first)."""
    return list(session.scalars(select(QueuedCall).where(QueuedCall.sip_instance == instance,
                                                         QueuedCall.state != "ended")
                                .order_by(QueuedCall.queued_at, QueuedCall.id)))


def interrupt(session, call_uuid: str, ended_at: datetime) -> dict:
    """End a dead process's call: outcome ``interrupted``; its open offer is cancelled, the
    operator it reserved is released, the operator talking on it goes to 话后处理 (then ready, by
    ``end_overdue_wrapups``). Returns the queue facts for ``call.ended``."""
    row = session.scalar(select(QueuedCall).where(QueuedCall.call_uuid == call_uuid).with_for_update())
    if row is None or row.state == "ended":
        session.rollback()
        return {}
    was_connected = row.state == "connected" and row.operator_id is not None
    arrived = row.ringing_at or row.queued_at
    row.state, row.outcome, row.reason, row.hangup_side = "ended", "interrupted", "sip_process_died", "system"
    row.ended_at = ended_at
    row.wait_seconds = seconds_between(arrived, row.connected_at or ended_at)
    row.talk_seconds = seconds_between(row.connected_at, ended_at) if was_connected else None
    if was_connected:
        row.wrapup_at = utcnow()
    session.execute(update(CallOffer).where(CallOffer.call_uuid == call_uuid, CallOffer.result.is_(None))
                    .values(result="cancelled", ended_at=utcnow()).execution_options(synchronize_session=False))
    session.execute(update(AgentState).where(AgentState.reserved_call == call_uuid)
                    .values(reserved_call=None, reserved_at=None).execution_options(synchronize_session=False))
    operator = session.get(User, row.operator_id) if was_connected else None
    facts = {"queued_at": row.queued_at, "offered_at": row.offered_at, "connected_at": row.connected_at,
             "wait_seconds": row.wait_seconds, "talk_seconds": row.talk_seconds, "hangup_side": "system",
             "outcome": "interrupted", "answered": was_connected,
             "operator": operator.username if operator else None, "operator_id": row.operator_id if operator else None,
             "extension": row.operator_extension if operator else None}
    session.commit()
    if operator is not None:
        set_state(session, operator.id, WRAPUP, "interrupted", only_from=(ONCALL,))
    return facts


def end_overdue_wrapups(session, wrapup_seconds: float) -> int:
    """Operators whose system wrap-up (after a queue call) has lasted ``wrapup_seconds``: ready
    again. The `sip` process that started a wrap-up ends it with a timer; this catches the ones
    whose process died first. A wrap-up an operator chose in the console has no call behind it and
    is left alone."""
    limit = utcnow() - timedelta(seconds=wrapup_seconds + 2)
    users = session.scalars(
        select(AgentState.user_id).join(QueuedCall, QueuedCall.operator_id == AgentState.user_id)
        .where(AgentState.state == WRAPUP, QueuedCall.wrapup_at.is_not(None), QueuedCall.wrapup_seconds.is_(None),
               QueuedCall.wrapup_at < limit, AgentState.since < limit).distinct()).all()
    session.rollback()
    ended = 0
    for user_id in users:
        ended += set_state(session, user_id, IDLE, "wrapup_over", only_from=(WRAPUP,))
    return ended
