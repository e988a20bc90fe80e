"""Operator presence (示闲/示忙/小休/话后处理/离线). The ACD reads it to choose an operator."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.extensions import Base
from ticketing.clock import utcnow

IDLE, BUSY, BREAK, WRAPUP, OFFLINE = "idle", "busy", "break", "wrapup", "offline"
ONCALL = "oncall"  # set only by the ACD while the operator's phone rings or talks
STATES = (IDLE, ONCALL, BUSY, BREAK, WRAPUP, OFFLINE)
SETTABLE = (IDLE, BUSY, BREAK, WRAPUP, OFFLINE)  # what an operator may choose in the console
STATE_LABELS = {IDLE: "示闲", ONCALL: "通话中", BUSY: "示忙", BREAK: "小休", WRAPUP: "话后处理",
                OFFLINE: "离线"}


class AgentState(Base):
    __tablename__ = "agent_states"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), default=OFFLINE)
    since: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
