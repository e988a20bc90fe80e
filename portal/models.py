"""Portal tables: what a web submission adds to its ticket, and the one-time SMS codes.

The request itself (content, address, caller) lives on the ticket: one record, one erasure. Codes
and tracking codes are stored as digests only.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.clock import utcnow
from hotline.extensions import Base
from ticketing.models import Ticket


class PortalRequest(Base):
    """The web side of a ticket: how the citizen follows it and whether it may be published."""

    __tablename__ = "portal_requests"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    #: SHA-256 of the anonymous submitter's tracking code (128 random bits); None: phone-verified
    tracking_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    publish: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the content with names, phone and ID numbers and house numbers removed (what the public list
    #: shows and searches; written at submission so a search never matches the raw text)
    public_content: Mapped[str] = mapped_column(Text)
    photos: Mapped[int] = mapped_column(Integer, default=0)
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    ticket: Mapped[Ticket] = relationship()


class OneTimeCode(Base):
    """A six-digit code sent by SMS: for submitting (``submit``) or for following a ticket (``track``).

    Only an HMAC of the code is kept; it expires, allows a few wrong attempts, and is used once.
    """

    __tablename__ = "portal_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    purpose: Mapped[str] = mapped_column(String(10))  # submit | track
    ticket_number: Mapped[str | None] = mapped_column(String(20))  # track: the ticket it opens
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
