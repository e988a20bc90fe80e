"""Supervision tables. Uniqueness constraints here are what make scans and rollups idempotent."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from hotline.extensions import Base
from hotline.clock import utcnow


class DeadlineCard(Base):
    """One yellow or red card for one deadline of one ticket.

    The UNIQUE key includes the deadline itself: a card belongs to a deadline, so after an approved
    extension or a reopen (new deadlines) the ticket can be warned again, but the same deadline can
    never be carded twice, whatever number of scanners run.
    """

    __tablename__ = "deadline_cards"
    __table_args__ = (UniqueConstraint("ticket_id", "deadline_kind", "card", "deadline_at",
                                       name="uq_deadline_cards_once"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    deadline_kind: Mapped[str] = mapped_column(String(10))  # sign | reply
    card: Mapped[str] = mapped_column(String(10))  # yellow | red
    deadline_at: Mapped[datetime] = mapped_column(DateTime)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class UrgingEscalation(Base):
    """通报: an urging whose ticket is still not answered N working days after the urging's due time."""

    __tablename__ = "urging_escalations"
    id: Mapped[int] = mapped_column(primary_key=True)
    urging_id: Mapped[int] = mapped_column(ForeignKey("urgings.id", ondelete="CASCADE"), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    overdue_since: Mapped[datetime] = mapped_column(DateTime)
    escalated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


#: sentinel keys of the pre-aggregated rollup rows (see ``rollup.apply_deltas``)
ALL_UNITS = -1
ALL_TYPES = "*"

#: the counters kept per ticket-holding (facts) and summed per day x department x type (daily)
COUNTERS = ("received", "direct", "dispatched", "returned", "signed_on_time", "replied_on_time",
            "extended", "callback_due", "called_back", "satisfied", "solved", "reopened",
            "has_phone", "repeat_call")


class _Counters:
    """The counter columns shared by facts and daily rollups."""

    received: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    direct: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    dispatched: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    returned: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    signed_on_time: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    replied_on_time: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    extended: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    callback_due: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    called_back: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    satisfied: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    solved: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    reopened: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    has_phone: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    repeat_call: Mapped[int] = mapped_column(Integer, default=0, nullable=False)


class KpiTicketFact(_Counters, Base):
    """What one ticket contributes to the KPIs of one unit (see ``supervision.kpis``).

    Key (ticket_id, department_id); department_id 0 = not dispatched to any unit (direct answers,
    drafts). Recomputed from the ticket whenever it changes; the difference to the stored row is
    added to ``kpi_daily`` in the same transaction, so recomputing twice changes nothing.
    """

    __tablename__ = "kpi_ticket_facts"
    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(10))
    town_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)  # 0: none


class KpiDaily(_Counters, Base):
    """Counters per received day x unit x ticket type: what the KPI view reads.

    Also holds the roll-ups over all types (type ``ALL_TYPES``) and over all units
    (department_id ``ALL_UNITS``), maintained with the detail rows.
    """

    __tablename__ = "kpi_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(10), primary_key=True)


class KpiMonthly(_Counters, Base):
    """The same counters per received month (first day of the month) x unit x type.

    A long period is answered from whole months here plus the partial months at its ends from
    ``kpi_daily``, so the rows read stay in the tens of thousands whatever the history length.
    """

    __tablename__ = "kpi_monthly"
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    department_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(10), primary_key=True)


class KpiTownDaily(_Counters, Base):
    """The same counters per received day x town (town_id 0: no town given), all units and types:
    the reports' town grouping reads these rows, never the tickets."""

    __tablename__ = "kpi_town_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    town_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class KpiState(Base):
    """High-water marks of the rollup updaters (one row per name)."""

    __tablename__ = "kpi_state"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CallFact(Base):
    """One inbound call as reported by telephony's ``call.ended`` event (idempotent by call_id)."""

    __tablename__ = "call_facts"
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    ringing_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered: Mapped[bool] = mapped_column(Boolean)
    wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class CallDaily(Base):
    """Call counters per day (``routing.calls.kpis.call_counts``): offered, answered, answered within
    the target (``answered_15s``: HOTLINE_ANSWER_TARGET_SECONDS, 15 s by default), abandoned, summed
    wait and talk."""

    __tablename__ = "call_daily"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    answered_15s: Mapped[int] = mapped_column(Integer, default=0)
    abandoned: Mapped[int] = mapped_column(Integer, default=0)
    wait_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    talk_seconds: Mapped[float] = mapped_column(Float, default=0.0)


Index("ix_kpi_daily_dept_day", KpiDaily.department_id, KpiDaily.day)
Index("ix_kpi_ticket_facts_day", KpiTicketFact.day, KpiTicketFact.ticket_id)
Index("ix_kpi_ticket_facts_dept_day", KpiTicketFact.department_id, KpiTicketFact.day, KpiTicketFact.ticket_id)
