"""Operator presence (示闲/示忙/小休/话后处理/离线): the console sets it, the queue reads it.

Changes commit and then publish ``agent.state`` (the queue and the wallboard listen). The queue
sets states as the system (``by_system``): 通话中 while talking, 示忙 after an unanswered offer,
话后处理 after a call.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from hotline.auth import User
from hotline.events import publish_after_commit
from ticketing import lifecycle
from hotline.clock import iso, utcnow

from ..exceptions import Conflict, Forbidden, ValidationFailed
from .models import OFFLINE, ONCALL, SETTABLE, STATE_LABELS, STATES, AgentState

log = logging.getLogger("routing.calls.presence")


def get_state(session, user_id: int) -> dict:
    row = session.get(AgentState, user_id)
    state = row.state if row else OFFLINE
    return {"state": state, "label": STATE_LABELS[state], "since": iso(row.since) if row else None}


def set_state(session, user, state: str, *, reason: str | None = None, by_system: bool = False) -> dict:
    """Change an operator's presence. The queue passes ``by_system`` (it alone sets 通话中) and a
    ``reason`` such as ``no_answer`` that the console shows."""
    if user.role != lifecycle.OPERATOR:
        raise Forbidden("only operators have an agent state")
    allowed = STATES if by_system else SETTABLE
    if state not in allowed:
        raise ValidationFailed("unknown state", {"state": f"one of {', '.join(allowed)}"})
    row = session.get(AgentState, user.id)
    previous = row.state if row else None
    if previous == ONCALL and not by_system:
        raise Conflict("通话中不能切换坐席状态，请先结束通话")
    now = utcnow()
    if row is None:
        row = AgentState(user_id=user.id, state=state, since=now)
        session.add(row)
    elif row.state != state:
        row.state, row.since = state, now
    publish_after_commit(session, "agent.state", {
        "user": user.username, "user_id": user.id, "state": state, "label": STATE_LABELS[state],
        "extension": user.sip_extension, "since": iso(row.since), "previous": previous,
        "by": "system" if by_system else "operator", "reason": reason})
    session.commit()
    log.info("agent.state user=%s state=%s previous=%s", user.username, state, previous)
    return get_state(session, user.id)


def operator_states(session) -> list[dict]:
    """Every active operator with their presence (the wallboard's list)."""
    rows = session.execute(select(User, AgentState).outerjoin(AgentState, AgentState.user_id == User.id)
                           .where(User.role == lifecycle.OPERATOR, User.active.is_(True))
                           .order_by(User.username)).all()
    out = []
    for user, st in rows:
        state = st.state if st else OFFLINE
        out.append({"username": user.username, "display_name": user.display_name,
                    "extension": user.sip_extension, "state": state, "label": STATE_LABELS[state],
                    "since": iso(st.since) if st else None})
    return out


def state_counts(operators: list[dict]) -> list[dict]:
    counts = {s: 0 for s in STATES}
    for op in operators:
        counts[op["state"]] += 1
    return [{"state": s, "label": STATE_LABELS[s], "count": counts[s]} for s in STATES]
