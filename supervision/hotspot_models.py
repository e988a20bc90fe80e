"""Tables of the hot-topic rollup (热点诉求) and of the department assessment (考核).

Kept apart from ``supervision.models`` (the deadline and KPI tables) so the two features evolve
without touching each other's files. Uniqueness constraints make the jobs idempotent: a ticket has
one fact row, a (day, matter, town) cell one count and at most one announced alert, a month at most
one published assessment.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.clock import utcnow
from hotline.extensions import Base
from ticketing.models import JSONText

#: ``matter`` of a ticket the dispatch catalogue does not recognise; ``town_id`` of one without town
NO_MATTER = ""
NO_TOWN = 0


class HotspotFact(Base):
    """What one ticket contributes to the hot-topic counts: its received day (China time), town and
    catalogue matter (classified once, when the ticket is first seen); ``counted`` is 0 for tickets
    declared invalid (spam, test calls)."""

    __tablename__ = "hotspot_facts"
    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    town_id: Mapped[int] = mapped_column(Integer, default=NO_TOWN)
    matter: Mapped[str] = mapped_column(String(100), default=NO_MATTER)
    counted: Mapped[int] = mapped_column(Integer, default=1)


class HotspotDaily(Base):
    """Tickets per received day x catalogue matter x town: what spike detection reads."""

    __tablename__ = "hotspot_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    matter: Mapped[str] = mapped_column(String(100), primary_key=True)
    town_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class HotspotAlert(Base):
    """One announced spike (``hotspot.detected``); the UNIQUE cell key means a spike is announced
    once, whatever the number of scans, processes or restarts."""

    __tablename__ = "hotspot_alerts"
    __table_args__ = (UniqueConstraint("day", "matter", "town_id", name="uq_hotspot_alerts_cell"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    matter: Mapped[str] = mapped_column(String(100))
    town_id: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    q_value: Mapped[float] = mapped_column(Float)
    detected_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AssessmentScheme(Base):
    """One version of the assessment scheme (weights of the KPIs, points deducted per event); the
    newest row is in force. Versions are kept so a published month can name the one it used."""

    __tablename__ = "assessment_schemes"
    id: Mapped[int] = mapped_column(primary_key=True)
    weights: Mapped[dict] = mapped_column(JSONText)
    deductions: Mapped[dict] = mapped_column(JSONText)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AssessmentMonth(Base):
    """A published month: the scheme and every unit's score, rank and breakdown as they were at
    publication. Reads of a published month come from here only."""

    __tablename__ = "assessment_months"
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    scheme: Mapped[dict] = mapped_column(JSONText)
    rows: Mapped[list] = mapped_column(JSONText)
    note: Mapped[str | None] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(80))
    published_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
