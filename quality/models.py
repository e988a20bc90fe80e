"""The inspection record of a call and the one editable rubric. Services (quality/service.py) commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.clock import utcnow
from hotline.extensions import Base
from ticketing.models import JSONText

#: auto: checked, not sampled; queued: waiting for its inspector; scored: an inspector scored it;
#: appealed: the operator appealed (once); final: the appeal was decided
STATES = ("auto", "queued", "scored", "appealed", "final")


class QualityRubric(Base):
    """The admin's settings (one row, ``id`` 1): the checks' parameters and deductions and the
    manual scoring items. ``version`` counts edits; an inspection keeps the version it used."""

    __tablename__ = "quality_rubric"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    settings: Mapped[dict] = mapped_column(JSONText)
    updated_by: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CallInspection(Base):
    __tablename__ = "call_inspections"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    call_uuid: Mapped[str] = mapped_column(String(32), index=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    operator: Mapped[str | None] = mapped_column(String(80), index=True)
    call_started_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    rubric_version: Mapped[int] = mapped_column(Integer)
    auto_score: Mapped[float] = mapped_column(Float)
    findings: Mapped[list] = mapped_column(JSONText)  # [{check, label, passed, deduction, evidence}]
    state: Mapped[str] = mapped_column(String(10), default="auto", index=True)
    inspector: Mapped[str | None] = mapped_column(String(80), index=True)
    queued_at: Mapped[datetime | None] = mapped_column(DateTime)
    item_scores: Mapped[dict | None] = mapped_column(JSONText)  # rubric item key -> points
    manual_score: Mapped[float | None] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(Text)
    scored_at: Mapped[datetime | None] = mapped_column(DateTime)
    appeal_reason: Mapped[str | None] = mapped_column(Text)
    appealed_at: Mapped[datetime | None] = mapped_column(DateTime)
    appeal_decision: Mapped[str | None] = mapped_column(String(10))  # upheld | rejected
    appeal_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def score(self) -> float:
        """What counts: the inspector's score once given, else the automatic one."""
        return self.manual_score if self.manual_score is not None else self.auto_score
