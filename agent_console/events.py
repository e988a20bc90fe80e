"""Payload schemas of the events the consoles emit (registered into ``hotline.events``)."""
from __future__ import annotations

from hotline.events import EventPayload, register


class CallCommand(EventPayload):
    """An operator's command on their current call, for the SIP process that holds it."""

    call_id: str
    command: str
    operator: str
    target: str | None = None
    command_id: str
    extension: str | None = None


register("agent_console", {"call.command": CallCommand})
