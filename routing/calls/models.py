"""Call distribution tables: operator presence, offers to operators, the queue record of each call.

Services commit; these classes never do.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.extensions import Base
from hotline.clock import utcnow

IDLE, BUSY, BREAK, WRAPUP, OFFLINE = "idle", "busy", "break", "wrapup", "offline"
ONCALL = "oncall"  # set only by the queue while the operator talks
STATES = (IDLE, ONCALL, BUSY, BREAK, WRAPUP, OFFLINE)
SETTABLE = (IDLE, BUSY, BREAK, WRAPUP, OFFLINE)  # what an operator may choose in the console
STATE_LABELS = {IDLE: "示闲", ONCALL: "通话中", BUSY: "示忙", BREAK: "小休", WRAPUP: "话后处理",
                OFFLINE: "离线"}


class AgentState(Base):
    """An operator's presence; ``reserved_call`` is the call being offered to them (their phone
    rings). The reservation is taken with one conditional UPDATE (``store.reserve``) and lapses
    after ``reserved_at`` + the ring timeout, so a crashed SIP process cannot hold an operator."""

    __tablename__ = "agent_states"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), default=OFFLINE)
    since: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    reserved_call: Mapped[str | None] = mapped_column(String(32))
    reserved_at: Mapped[datetime | None] = mapped_column(DateTime)


#: answered: an operator talked to the caller; abandoned: the caller hung up while queued;
#: missed: nobody ready within HOTLINE_ACD_MAX_WAIT -> voice intake; voice_intake: the caller was
#: sent to voice intake because no operator was on duty; out_of_hours: outside service hours;
#: interrupted: the `sip` process holding the call died (closed by the reaper, ``telephony.reaper``).
OUTCOMES = ("answered", "abandoned", "missed", "voice_intake", "out_of_hours", "interrupted")
CALLBACK_OUTCOMES = ("abandoned", "missed")
OFFER_RESULTS = ("answered", "no_answer", "busy", "unregistered", "rejected", "proxy_unreachable",
                 "cancelled")
#: a queue row's state: waiting, an operator's phone ringing, talking, in voice intake, over
QUEUE_STATES = ("queued", "offering", "connected", "intake", "ended")


class CallOffer(Base):
    """One attempt to put a queued call through to an operator's phone.

    ``idle_since`` is the operator's ready-since time when chosen: the longest-idle order is
    verifiable from these rows.
    """

    __tablename__ = "call_offers"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_uuid: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    extension: Mapped[str] = mapped_column(String(20))
    strategy: Mapped[str] = mapped_column(String(16))
    idle_since: Mapped[datetime | None] = mapped_column(DateTime)
    offered_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    result: Mapped[str | None] = mapped_column(String(20))  # see OFFER_RESULTS; None while ringing


class QueuedCall(Base):
    """A citizen call that entered the queue: its place (``queued_at``), where it is now
    (``state``), what became of it (``outcome`` and the KPI figures) and the callback of an
    abandoned or missed call. The one record of call distribution; telephony's ``calls`` row
    holds the call itself (media, recording, transcript) and shares ``call_uuid``."""

    __tablename__ = "call_queue"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_uuid: Mapped[str] = mapped_column(String(32), unique=True)
    caller: Mapped[str] = mapped_column(String(100))
    caller_phone: Mapped[str | None] = mapped_column(String(20))  # when ``caller`` is a valid number
    called: Mapped[str | None] = mapped_column(String(100))
    ringing_at: Mapped[datetime | None] = mapped_column(DateTime)  # the call reached the endpoint
    queued_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    state: Mapped[str] = mapped_column(String(12), default="queued", index=True)  # QUEUE_STATES
    offered_at: Mapped[datetime | None] = mapped_column(DateTime)  # first operator phone rang
    connected_at: Mapped[datetime | None] = mapped_column(DateTime)  # an operator answered
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)  # OUTCOMES
    reason: Mapped[str | None] = mapped_column(String(32))  # why voice intake (max_wait, ...)
    wait_seconds: Mapped[float | None] = mapped_column(Float)  # ringing -> connected, or -> end
    talk_seconds: Mapped[float | None] = mapped_column(Float)  # connected -> operator left, hold excluded
    hold_seconds: Mapped[float | None] = mapped_column(Float)
    wrapup_at: Mapped[datetime | None] = mapped_column(DateTime)  # the operator's 话后处理 began
    wrapup_seconds: Mapped[float | None] = mapped_column(Float)  # ... and lasted
    hangup_side: Mapped[str | None] = mapped_column(String(10))  # citizen | operator | system
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    operator_extension: Mapped[str | None] = mapped_column(String(20))
    callback_at: Mapped[datetime | None] = mapped_column(DateTime)  # abandoned/missed call called back
    callback_by: Mapped[str | None] = mapped_column(String(80))
    callback_note: Mapped[str | None] = mapped_column(String(300))
    #: the `sip` process (``sip_instances.id``) holding the call's media: its reaper closes the row
    sip_instance: Mapped[str | None] = mapped_column(String(32), index=True)
