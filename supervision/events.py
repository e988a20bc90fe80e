"""Payload schemas of the events supervision emits (registered into ``hotline.events``)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from hotline.events import EventPayload, register


class DeadlineCard(EventPayload):
    number: str
    card: Literal["yellow", "red"]
    deadline_kind: str
    department: str | None
    deadline_at: datetime | None = None
    card_id: int | None = None


class UrgingCreated(EventPayload):
    number: str
    urging_id: int
    department: str | None
    due_at: datetime | None = None
    note: str | None = None
    unit: bool = False


class UrgingEscalated(EventPayload):
    number: str
    urging_id: int
    department: str | None
    escalation_id: int | None = None


class HotspotDetected(EventPayload):
    """A hot-topic spike (supervision.hotspots): ``count`` tickets about ``matter`` in ``town`` on
    ``day`` against a same-weekday baseline of ``baseline`` a day; announced once per spike."""

    alert_id: int
    day: str
    matter: str
    town: str | None
    town_name: str
    count: int
    baseline: float
    p_value: float
    q_value: float


register("supervision", {"deadline.card": DeadlineCard, "urging.created": UrgingCreated,
                         "urging.escalated": UrgingEscalated, "hotspot.detected": HotspotDetected})
