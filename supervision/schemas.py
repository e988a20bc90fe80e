"""Supervision settings and request bodies."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import Field

from ticketing.cards import WarningRule, parse_by_type
from ticketing.schemas import SATISFACTION, Strict


@dataclass(frozen=True)
class Settings:
    """The knobs of the scans and KPIs, taken from ``hotline.config.Config``."""

    warning_workdays: int = 1
    warning_by_type: dict[str, int] = field(default_factory=dict)
    warning_hours: int = 4
    escalate_workdays: int = 5
    repeat_days: int = 30

    @classmethod
    def from_config(cls, config) -> "Settings":
        return cls(warning_workdays=config.supervision_warning_workdays,
                   warning_by_type=parse_by_type(config.supervision_warning_by_type),
                   warning_hours=config.supervision_warning_hours,
                   escalate_workdays=config.supervision_escalate_workdays,
                   repeat_days=config.kpi_repeat_days)

    def warning_for(self, ticket_type: str) -> int:
        return self.rule.workdays_for(ticket_type)

    @property
    def rule(self) -> WarningRule:
        """The card rule's knobs, as ticketing defines them (one rule for scans and ticket views)."""
        return WarningRule(workdays=self.warning_workdays, by_type=dict(self.warning_by_type),
                           hours=self.warning_hours)


class UrgeIn(Strict):
    note: str = Field(min_length=1, max_length=2000)
    due_at: datetime | None = None


class UnitUrgeIn(UrgeIn):
    department: str = Field(min_length=1, max_length=40)


class CallbackIn(Strict):
    satisfaction: Literal[SATISFACTION]  # type: ignore[valid-type]
    solved: bool
    note: str | None = Field(default=None, max_length=2000)


def openapi_paths() -> dict:
    """OpenAPI path items of supervision's paged working lists (merged by hotline/openapi.py)."""
    from hotline.openapi import ERROR, response

    from .lists import URGING_STATES

    paging = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
              {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                                              "default": 50}}]
    dept = {"name": "department", "in": "query", "schema": {"type": "string"},
            "description": "a unit's code (ignored for a department user: always its own unit)"}
    page = {"type": "object", "required": ["items", "total", "page", "per_page"], "properties": {
        "items": {"type": "array", "items": {"type": "object"}}, "total": {"type": "integer"},
        "page": {"type": "integer"}, "per_page": {"type": "integer"}}}
    errors = {c: response(t, ERROR) for c, t in (("401", "not authenticated"), ("403", "role not allowed"),
                                                  ("422", "validation failed"))}

    def listing(summary: str, params: list) -> dict:
        return {"get": {"summary": summary, "parameters": params + paging,
                        "responses": {"200": response("one page and the total", page), **errors}}}

    return {
        "/api/v1/supervision/overdue": listing(
            "Tickets past a deadline, one row per ticket with its cards worst first (red, then yellow), "
            "most overdue first; a department sees its own", []),
        "/api/v1/supervision/near-deadline": listing(
            "Tickets in the warning window (yellow card), one row per ticket, earliest deadline first", []),
        "/api/v1/supervision/escalations": listing(
            "通报 (escalated urgings), newest first: unit, who urged, when, acknowledged or not", [dept]),
        "/api/v1/supervision/urgings": listing(
            "督办, newest first, with state (open, acknowledged, escalated), who issued it and the unit", [
                {"name": "state", "in": "query", "schema": {"enum": list(URGING_STATES)}},
                {"name": "open", "in": "query", "schema": {"type": "boolean"},
                 "description": "same as state=open (kept for old clients)"}, dept]),
        "/api/v1/supervision/callbacks": listing(
            "Callback queue (回访): approved replies waiting for the citizen's rating, oldest first", []),
    }
