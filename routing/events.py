"""Payload schemas of the events call distribution emits (registered into ``hotline.events``)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from hotline.events import EventPayload, register


class CallQueued(EventPayload):
    call_id: str
    caller: str
    position: int


class CallOffered(EventPayload):
    call_id: str
    operator: str
    extension: str
    caller: str
    called: str


class CallIntake(EventPayload):
    call_id: str
    reason: str
    outcome: str
    caller: str


class AgentState(EventPayload):
    """Operator presence (示闲/示忙/小休/话后处理/离线); the ACD reads it."""

    user: str
    user_id: int
    state: str
    label: str
    extension: str | None = None
    since: datetime
    previous: str | None = None
    by: Literal["system", "operator"]
    reason: str | None = None


register("routing", {"call.queued": CallQueued, "call.offered": CallOffered, "call.intake": CallIntake,
                     "agent.state": AgentState})
