"""Payload schemas of the events the consoles emit (registered into ``hotline.events``)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from hotline.events import EventPayload, register


class CallCommand(EventPayload):
    """An operator's command on their current call, for the SIP process that holds it."""

    call_id: str
    command: str
    operator: str
    target: str | None = None
    command_id: str
    extension: str | None = None


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


register("agent_console", {"call.command": CallCommand, "agent.state": AgentState})
