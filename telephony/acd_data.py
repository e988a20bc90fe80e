"""The ACD's reads and writes: who is ready, the offers made, system-set agent states, call facts.

Operator presence lives in ``agent_states`` (the console sets it in the web process; the SIP process
reads it here and hears ``agent.state`` as a wake-up). Choosing an operator is a pure function of
the candidates (``choose``) so every strategy is checkable against the rows it was given.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from hotline.auth import User
from ticketing.clock import CST, to_local, to_utc_naive, utcnow
from ticketing.lifecycle import OPERATOR

from .models import Call, CallOffer

log = logging.getLogger("telephony.acd")

STRATEGIES = ("longest_idle", "round_robin", "fewest_calls")


@dataclass(frozen=True)
class Candidate:
    user_id: int
    username: str
    extension: str
    idle_since: datetime
    answered_today: int = 0


def _local_midnight_utc(now: datetime) -> datetime:
    day = to_local(now).date()
    return to_utc_naive(datetime(day.year, day.month, day.day, tzinfo=CST))


def ready_operators(session, exclude: set[int] = frozenset()) -> list[Candidate]:
    """Active operators with an extension whose state is 示闲, oldest ready-since first."""
    from agent_console.models import IDLE, AgentState

    midnight = _local_midnight_utc(utcnow())
    answered = (select(CallOffer.user_id, func.count().label("n"))
                .where(CallOffer.result == "answered", CallOffer.offered_at >= midnight)
                .group_by(CallOffer.user_id).subquery())
    rows = session.execute(
        select(User.id, User.username, User.sip_extension, AgentState.since, answered.c.n)
        .join(AgentState, AgentState.user_id == User.id)
        .outerjoin(answered, answered.c.user_id == User.id)
        .where(User.role == OPERATOR, User.active.is_(True), User.sip_extension.is_not(None),
               User.sip_extension != "", AgentState.state == IDLE)
        .order_by(AgentState.since, User.id)).all()
    return [Candidate(uid, name, ext, since, n or 0) for uid, name, ext, since, n in rows
            if uid not in exclude]


def operators_on_duty(session) -> int:
    """Operators not offline (ready, talking, not-ready, break, wrap-up): is anyone staffing?"""
    from agent_console.models import OFFLINE, AgentState

    return session.scalar(select(func.count()).select_from(AgentState).join(User, User.id == AgentState.user_id)
                          .where(User.role == OPERATOR, User.active.is_(True),
                                 AgentState.state != OFFLINE)) or 0


def choose(candidates: list[Candidate], strategy: str, last_user_id: int | None = None) -> Candidate | None:
    """The operator the next call goes to.

    longest_idle  the one ready (示闲) for the longest time
    round_robin   the next one after ``last_user_id`` in user order, wrapping around
    fewest_calls  the one who answered the fewest calls today; ties: longest idle
    """
    if not candidates:
        return None
    if strategy == "round_robin":
        ordered = sorted(candidates, key=lambda c: c.user_id)
        after = [c for c in ordered if last_user_id is not None and c.user_id > last_user_id]
        return (after or ordered)[0]
    if strategy == "fewest_calls":
        return min(candidates, key=lambda c: (c.answered_today, c.idle_since, c.user_id))
    return min(candidates, key=lambda c: (c.idle_since, c.user_id))


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


def set_state(session, user_id: int, state: str, reason: str, *, only_from: tuple[str, ...] | None = None) -> bool:
    """Set an operator's state as the system (publishes ``agent.state``). With ``only_from``, only
    when the current state is one of those (e.g. wrap-up ends only if the operator is still in it)."""
    from agent_console import service as console
    from agent_console.models import OFFLINE, AgentState

    user = session.get(User, user_id)
    if user is None:
        return False
    if only_from is not None:
        row = session.get(AgentState, user_id)
        if (row.state if row else OFFLINE) not in only_from:
            return False
    console.set_state(session, user, state, reason=reason, by_system=True)
    return True


def agent_state(session, user_id: int) -> tuple[str, datetime | None]:
    from agent_console.models import OFFLINE, AgentState

    row = session.get(AgentState, user_id)
    return (row.state, row.since) if row else (OFFLINE, None)


def record_wrapup(session, call_uuid: str, seconds: float) -> bool:
    """Wrap-up ends after the call row was stored (usually): add its length to the row."""
    done = session.execute(update(Call).where(Call.call_uuid == call_uuid)
                           .values(wrapup_seconds=round(seconds, 1))).rowcount
    session.commit()
    return bool(done)


def in_service_hours(spans: list[tuple[int, int]], now: datetime | None = None) -> bool:
    local = to_local(now or utcnow())
    minute = local.hour * 60 + local.minute
    return any(lo <= minute < hi for lo, hi in spans)


def seconds_between(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round(max((b - a) / timedelta(seconds=1), 0.0), 3)
