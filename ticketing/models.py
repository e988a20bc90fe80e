"""Tables of the case record. Models hold data only; services commit."""
from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import (Boolean, Column, Date, DateTime, Float, ForeignKey, Integer, String, Table, Text,
                        UniqueConstraint, Index)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from hotline.extensions import Base

from hotline.clock import utcnow


class JSONText(TypeDecorator):
    """JSON kept as text: identical on SQLite and PostgreSQL, and hashed byte-for-byte."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


class Department(Base):
    """A unit that receives tickets: a county unit (attachment 2) or a town government."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="county")  # county | town
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)


class DepartmentChange(Base):
    """Who renamed, added or retired a unit, and when: the directory's own history."""

    __tablename__ = "department_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    change: Mapped[str] = mapped_column(String(20))  # created | renamed | retired | reactivated
    old_value: Mapped[str | None] = mapped_column(String(100))
    new_value: Mapped[str | None] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Town(Base):
    __tablename__ = "towns"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # approximate centre (WGS84) and radius: where a reported point (Open311 lat/long) belongs
    center_lat: Mapped[float | None] = mapped_column(Float)
    center_long: Mapped[float | None] = mapped_column(Float)
    radius_km: Mapped[float | None] = mapped_column(Float)


ticket_co_departments = Table(
    "ticket_co_departments",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("departments.id"), primary_key=True),
)


class TicketSequence(Base):
    """Per-day counter behind readable ticket numbers (YYYYMMDD + 6 digits)."""

    __tablename__ = "ticket_sequences"
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(10))
    urgency: Mapped[str] = mapped_column(String(10), default="normal")
    status: Mapped[str] = mapped_column(String(20), index=True)
    caller_name: Mapped[str | None] = mapped_column(String(100))
    caller_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    caller_id_number: Mapped[str | None] = mapped_column(String(18))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    town_id: Mapped[int | None] = mapped_column(ForeignKey("towns.id"))
    main_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sign_by: Mapped[datetime | None] = mapped_column(DateTime)
    reply_by: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    deadline_estimated_years: Mapped[list | None] = mapped_column(JSONText)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime)
    replied_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    satisfaction: Mapped[str | None] = mapped_column(String(10))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    reply_text: Mapped[str | None] = mapped_column(Text)
    direct_answer: Mapped[dict | None] = mapped_column(JSONText)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    routing_suggestion: Mapped[dict | None] = mapped_column(JSONText)
    #: the call this ticket was registered from: one ticket per call (``service.register``)
    call_uuid: Mapped[str | None] = mapped_column(String(32), unique=True, index=True)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime)  # personal data erased (privacy)

    __mapper_args__ = {"version_id_col": version}

    main_department: Mapped[Department | None] = relationship(foreign_keys=[main_department_id])
    co_departments: Mapped[list[Department]] = relationship(secondary=ticket_co_departments,
                                                            order_by=Department.code)
    town: Mapped[Town | None] = relationship()
    merged_into: Mapped["Ticket | None"] = relationship(remote_side=[id], back_populates="merged")
    merged: Mapped[list["Ticket"]] = relationship(back_populates="merged_into", order_by="Ticket.id")
    events: Mapped[list["TicketEvent"]] = relationship(back_populates="ticket",
                                                       order_by="TicketEvent.seq")
    extensions: Mapped[list["Extension"]] = relationship(back_populates="ticket",
                                                         order_by="Extension.id")
    urgings: Mapped[list["Urging"]] = relationship(back_populates="ticket", order_by="Urging.id")

    def department_ids(self) -> set[int]:
        ids = {d.id for d in self.co_departments}
        if self.main_department_id:
            ids.add(self.main_department_id)
        return ids


class TicketEvent(Base):
    """One line of a ticket's history. ``hash`` chains it to the previous line (``prev_hash``)."""

    __tablename__ = "ticket_events"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(80))
    actor_role: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # chain version 2 commits to salted digests of personal fields (see ticketing.audit); events
    # written before it are version 1 and keep verifying with the version-1 digest
    chain_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    pii_salts: Mapped[dict | None] = mapped_column(JSONText)  # field -> salt, until erased
    redacted: Mapped[dict | None] = mapped_column(JSONText)  # field -> digest, after erasure
    redacted_at: Mapped[datetime | None] = mapped_column(DateTime)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class Extension(Base):
    """延期: a request for more working days; an approval moves the reply deadline."""

    __tablename__ = "extensions"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    workdays: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|approved|denied
    requested_by: Mapped[str] = mapped_column(String(80))
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    ticket: Mapped[Ticket] = relationship(back_populates="extensions")


class Urging(Base):
    """督办: a supervisor's push on a ticket, with a due time and the unit's acknowledgement."""

    __tablename__ = "urgings"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    note: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    urged_by: Mapped[str] = mapped_column(String(80))
    urged_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    ticket: Mapped[Ticket] = relationship(back_populates="urgings")


class SlaPolicy(Base):
    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("type", "urgency"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(10))
    urgency: Mapped[str] = mapped_column(String(10))
    sign_amount: Mapped[int] = mapped_column(Integer)
    sign_unit: Mapped[str] = mapped_column(String(10))
    reply_amount: Mapped[int] = mapped_column(Integer)
    reply_unit: Mapped[str] = mapped_column(String(10))


class CalendarDay(Base):
    """An admin-entered day: a holiday (is_workday False) or a make-up workday (True)."""

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(50))
    entered_by: Mapped[str] = mapped_column(String(80))


class CalendarYear(Base):
    """Marks a year whose holidays admins have entered completely."""

    __tablename__ = "calendar_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    entered_by: Mapped[str] = mapped_column(String(80))
    entered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AccessRecord(Base):
    """Who saw a caller's unmasked number / ID number or played / read a call (PIPL art. 51)."""

    __tablename__ = "access_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80), index=True)
    actor_role: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))  # phone | id_number | recording | transcript
    ticket_number: Mapped[str | None] = mapped_column(String(20), index=True)
    call_id: Mapped[str | None] = mapped_column(String(32))
    via: Mapped[str] = mapped_column(String(200))


Index("ix_tickets_main_status", Ticket.main_department_id, Ticket.status)


class ContactCall(Base):
    """联系诉求人: a department clerk asked the hotline to connect them with the ticket's citizen
    (``ticketing.contact``). The SIP process claims the row (``status`` requested -> dialing, one
    process wins), rings the clerk, then the citizen, bridges them and writes the outcome here and
    on the ticket's history. The citizen's number is never stored here: it stays on the ticket."""

    __tablename__ = "contact_calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    ticket_number: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    user_id: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[str] = mapped_column(String(80))
    extension: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default="requested")  # requested | dialing | done
    outcome: Mapped[str | None] = mapped_column(String(24))
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)  # the clerk answered
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)  # the citizen answered
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    duration: Mapped[float | None] = mapped_column(Float)  # seconds the two talked
    call_uuid: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_contact_calls_ticket_requested", "ticket_id", "requested_at"),)
