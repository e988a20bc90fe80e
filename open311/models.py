"""Open311 tables: API keys (hashes only) and what a ticket that came in through Open311 adds."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import Base
from hotline.clock import utcnow
from ticketing.models import Ticket


class ApiKey(Base):
    """A client allowed to POST requests. Only the SHA-256 of the key is kept."""

    __tablename__ = "open311_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class Open311Request(Base):
    """The Open311 side of a ticket: its service, token, reported point and the key that sent it.
    The address and the submitter's details live on the ticket (one record, one erasure)."""

    __tablename__ = "open311_requests"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    service_code: Mapped[str] = mapped_column(String(40), index=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("open311_keys.id"))
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    requested_at: Mapped[datetime] = mapped_column(DateTime, index=True)

    ticket: Mapped[Ticket] = relationship()
