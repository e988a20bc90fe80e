"""Knowledge articles. Models hold data only; knowledge.service commits."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import Base
from hotline.clock import utcnow
from ticketing.models import Department, JSONText


class Article(Base):
    """One answer the hotline may give directly, owned by the department responsible for it.

    ``valid_from``/``valid_to`` bound when the answer is true (policies change); search hides
    articles outside that window unless an editor asks for them.
    """

    __tablename__ = "knowledge_articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(JSONText, default=list)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    department: Mapped[Department | None] = relationship()
