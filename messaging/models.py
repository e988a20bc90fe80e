"""Tables of SMS notices. Models hold data only; services commit."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline.clock import utcnow
from hotline.extensions import Base
from ticketing.models import JSONText

#: unsent: waiting (no gateway configured, or not tried yet); retry: the gateway refused or was down,
#: tried again at ``next_attempt_at``; sent: Kannel accepted it; delivered / failed: its delivery
#: report; opted_out is never stored (nothing is queued for an opted-out phone)
STATUSES = ("unsent", "retry", "sent", "delivered", "failed", "expired")


class SmsMessage(Base):
    """One message to one phone, rendered when queued. The row is the outbox: the sender picks
    rows that are due (``status`` unsent/retry, ``next_attempt_at`` passed) and records each try."""

    __tablename__ = "sms_messages"
    __table_args__ = (Index("ix_sms_messages_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    template_key: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(40))
    context: Mapped[dict | None] = mapped_column(JSONText)
    text: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    #: "<ticket id>:<purpose>" for notices that must go at most once per ticket (accepted, reply #n)
    dedupe_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(12), default="unsent")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    dlr_status: Mapped[int | None] = mapped_column(Integer)  # Kannel's %d of the last report


class SmsTemplate(Base):
    """An admin's edit of a template; keys without a row use the default text (``templates.py``)."""

    __tablename__ = "sms_templates"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SmsOptOut(Base):
    """A phone that asked for no more notices (replied TD, or an admin entered it)."""

    __tablename__ = "sms_opt_outs"
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))  # "sms:TD" | "admin:<username>"
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RatingLinkUse(Base):
    """A rating link that has been used (its token id): a link rates once."""

    __tablename__ = "rating_link_uses"
    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_number: Mapped[str] = mapped_column(String(20))
    used_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
