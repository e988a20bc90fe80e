"""Payload schemas of the events telephony emits (registered into ``hotline.events``).

One name per fact: ``operator`` is the operator's username, ``extension`` the SIP extension of the
party the event is about (the operator's for queue/answer/end events, the joining or leaving
party's for bridge events), ``caller`` the citizen's number.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from hotline.events import EventPayload, register


class CallRinging(EventPayload):
    call_id: str
    caller: str
    called: str


class CallAnswered(EventPayload):
    """The endpoint answered (transcription state), or an operator took the call from the queue
    (``connected``, ``operator``, ``extension``, ``wait_seconds``: published by routing's queue,
    which carries out that part of the same fact)."""

    call_id: str
    caller: str
    called: str
    transcription: str | None = None  # none | live | off | pending | failed
    transcription_note: str | None = None  # why transcription is off or deferred
    operator: str | None = None
    extension: str | None = None
    connected: bool = False
    wait_seconds: float | None = None


class TranscriptSegment(EventPayload):
    call_id: str
    text: str
    start: float
    end: float
    speaker: str


class CallEnded(EventPayload):
    """The citizen's call ended; with the queue, its facts (who answered, waits, outcome)."""

    call_id: str
    caller: str
    duration: float
    cause: str
    direction: Literal["inbound", "outbound"] = "inbound"  # outbound: the hotline called (回访)
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    queued_at: datetime | None = None
    offered_at: datetime | None = None
    connected_at: datetime | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    hold_seconds: float | None = None
    hangup_side: str | None = None
    outcome: str | None = None
    answered: bool | None = None
    operator: str | None = None
    operator_id: int | None = None
    extension: str | None = None


class CallTicket(EventPayload):
    """The ticket of a call: the draft telephony registered at hang-up (``source`` endpoint), or
    the ticket an operator linked the call to in the console (``source`` console)."""

    call_id: str
    number: str
    source: Literal["endpoint", "console"] = "endpoint"
    operator: str | None = None
    earlier_tickets: list[str] | None = None


class CallBridged(EventPayload):
    call_id: str
    leg: str
    extension: str | None
    speaker: str


class CallLegEnded(EventPayload):
    call_id: str
    leg: str
    extension: str | None
    cause: str
    speaker: str


class CallHold(EventPayload):
    call_id: str
    held: bool
    hold_seconds: float | None = None


class CallConsult(EventPayload):
    call_id: str
    extension: str | None
    state: Literal["talking", "ended", "cancelled"]


class CallTransferred(EventPayload):
    call_id: str
    kind: str
    extension: str | None
    from_leg: str


class CallTransferFailed(EventPayload):
    call_id: str
    kind: str
    extension: str | None
    failure: str


class CallConference(EventPayload):
    call_id: str
    extension: str | None
    parties: list[str]


class CallCommandResult(EventPayload):
    call_id: str
    command: str
    operator: str
    ok: bool
    command_id: str | None = None
    target: str | None = None
    error: str | None = None
    detail: str | None = None


class ContactProgress(EventPayload):
    """联系诉求人 (telephony.contact): where the call the clerk asked for is. Goes to the clerk's
    own console and supervisors; never carries the citizen's number."""

    contact_id: int
    number: str  # the ticket
    user_id: int
    state: Literal["calling_clerk", "calling_citizen", "talking", "ended"]
    outcome: str | None = None  # once ended: answered, no_answer, busy, clerk_no_answer...
    outcome_label: str | None = None
    duration: float | None = None


register("telephony", {
    "call.ringing": CallRinging, "call.answered": CallAnswered, "transcript.partial": TranscriptSegment,
    "transcript.final": TranscriptSegment, "call.ended": CallEnded, "call.ticket": CallTicket,
    "call.bridged": CallBridged, "call.leg_ended": CallLegEnded, "call.hold": CallHold,
    "call.consult": CallConsult, "call.transferred": CallTransferred,
    "call.transfer_failed": CallTransferFailed, "call.conference": CallConference,
    "call.command_result": CallCommandResult, "contact.progress": ContactProgress,
})
