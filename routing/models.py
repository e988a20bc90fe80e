"""Routing tables: the versioned dispatch catalogue, learning examples and trained models.

Units are referenced by their stable code (``departments.code``; ``town`` = every town
government), so the catalogue survives renames and can be imported before a unit exists.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline.extensions import Base
from hotline.clock import utcnow
from ticketing.models import JSONText


class CatalogueEntry(Base):
    """One matter a unit handles (lead unit = ``unit``), with its phrases and co-units."""

    __tablename__ = "routing_catalogue"
    __table_args__ = (UniqueConstraint("unit", "matter"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit: Mapped[str] = mapped_column(String(40), index=True)
    matter: Mapped[str] = mapped_column(String(100))
    keywords: Mapped[list] = mapped_column(JSONText, default=list)
    co_units: Mapped[list] = mapped_column(JSONText, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def as_dict(self) -> dict:
        return {"id": self.id, "unit": self.unit, "matter": self.matter,
                "keywords": list(self.keywords or []), "co_units": list(self.co_units or [])}


class CatalogueChange(Base):
    """Every change to the catalogue: its id is the catalogue version after the change."""

    __tablename__ = "routing_catalogue_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(10))  # create | update | delete
    unit: Mapped[str] = mapped_column(String(40))
    matter: Mapped[str] = mapped_column(String(100))
    before: Mapped[dict | None] = mapped_column(JSONText)
    after: Mapped[dict | None] = mapped_column(JSONText)
    actor: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(20))  # seed | api | import
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Example(Base):
    """A learning example: text -> unit, +1 from a confirmed dispatch, -1 from a return."""

    __tablename__ = "routing_examples"
    __table_args__ = (Index("ix_routing_examples_ticket", "ticket_number", "unit", "label", "source",
                            unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_number: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(40), index=True)
    type: Mapped[str | None] = mapped_column(String(10))
    label: Mapped[int] = mapped_column(Integer)  # +1 | -1
    source: Mapped[str] = mapped_column(String(20))  # sign | return | import
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TrainedModel(Base):
    """A trained classifier (pickled). The newest row is the live model in every process."""

    __tablename__ = "routing_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    catalogue_version: Mapped[int] = mapped_column(Integer, default=0)
    last_example_id: Mapped[int] = mapped_column(Integer, default=0)
    n_examples: Mapped[int] = mapped_column(Integer, default=0)
    n_features: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
