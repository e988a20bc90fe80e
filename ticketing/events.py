"""Payload schemas of the events the case record emits (registered into ``hotline.events``)."""
from __future__ import annotations

from typing import Any

from hotline.events import EventPayload, register


class TicketCreated(EventPayload):
    number: str
    status: str
    type: str
    channel: str
    caller_phone: str | None = None


class TicketChanged(EventPayload):
    number: str
    action: str
    from_status: str | None
    to_status: str
    actor: str
    #: every unit the change concerns: the holders after it and, for a re-dispatch, a return or a
    #: change of co-units, the units that held the ticket before (they must hear it is gone)
    departments: list[str]
    #: the history event's data (what the action recorded; its shape depends on the action)
    data: dict[str, Any] = {}
    #: one decision taken in several lifecycle steps (回访 不满意 → 重办): every action, in order
    steps: list[str] | None = None
    confidential: bool = False  # the caller asked for confidentiality (the privacy projection reads it)


class UrgingAcknowledged(EventPayload):
    number: str
    urging_id: int
    department: str
    acknowledged_by: str


class ContactRequested(EventPayload):
    """联系诉求人 (ticketing.contact): for the SIP process, which claims the request and reads the
    citizen's number from the ticket itself."""

    contact_id: int
    number: str
    extension: str  # the clerk's phone, rung first
    user_id: int  # the clerk (their console hears how it goes)
    requested_by: str


register("ticketing", {"ticket.created": TicketCreated, "ticket.changed": TicketChanged,
                       "urging.acknowledged": UrgingAcknowledged, "contact.requested": ContactRequested})
