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
