"""Call records: one row per call, its transcript segments and DTMF digits. Services commit.

What the call queue decided (wait, operator, outcome, callback) is ``routing.calls``' record
(``call_queue``, same ``call_uuid``)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.extensions import Base
from hotline.clock import utcnow
from ticketing.models import JSONText


class Call(Base):
    """A call the hotline answered (or that rang and was cancelled).

    ``caller`` is the raw user part of the SIP From (may be "sipp", an extension...);
    ``caller_phone`` is set only when it is a valid Chinese number, and is what links tickets.
    """

    __tablename__ = "calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_uuid: Mapped[str] = mapped_column(String(32), unique=True)
    sip_call_id: Mapped[str] = mapped_column(String(255), index=True)
    direction: Mapped[str] = mapped_column(String(10), default="inbound")
    caller: Mapped[str] = mapped_column(String(100))
    caller_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    called: Mapped[str] = mapped_column(String(100))
    codec: Mapped[str | None] = mapped_column(String(10))
    ringing_at: Mapped[datetime] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    hangup_cause: Mapped[str] = mapped_column(String(32))
    recording_path: Mapped[str | None] = mapped_column(String(500))
    recording_seconds: Mapped[float | None] = mapped_column(Float)
    recording_deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    transcription: Mapped[str] = mapped_column(String(16))  # live | pending | offline | off | failed | none
    transcription_note: Mapped[str | None] = mapped_column(String(300))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    ticket_number: Mapped[str | None] = mapped_column(String(20), index=True)
    stats: Mapped[dict | None] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    segments: Mapped[list["CallSegment"]] = relationship(
        back_populates="call", order_by="CallSegment.seq", cascade="all, delete-orphan")
    dtmf: Mapped[list["CallDtmf"]] = relationship(
        back_populates="call", order_by="CallDtmf.seq", cascade="all, delete-orphan")
    recordings: Mapped[list["CallRecording"]] = relationship(
        back_populates="call", order_by="CallRecording.id", cascade="all, delete-orphan")

    @property
    def transcript(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)

    @property
    def digits(self) -> str:
        return "".join(d.digit for d in self.dtmf)


class CallSegment(Base):
    """A final transcript segment; times in seconds from the answer."""

    __tablename__ = "call_segments"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16), default="caller")
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    call: Mapped[Call] = relationship(back_populates="segments")


#: speaker kinds of a call's recordings (``CallRecording.speaker``); the leg name (operator2,
#: department...) tells legs of the same kind apart.
SPEAKERS = ("caller", "operator", "department", "emergency", "mixed")


class CallRecording(Base):
    """One audio file of a call: one per leg (the citizen, each operator/department/emergency leg
    of a bridge) plus the mixed conversation. ``path`` is relative to RECORDINGS_DIR; ``offset``
    is where the file starts, in seconds after the answer. ``Call.recording_path`` still names the
    citizen's file (the first recording every call has)."""

    __tablename__ = "call_recordings"
    __table_args__ = (UniqueConstraint("call_id", "leg", name="uq_call_recordings_call_leg"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    leg: Mapped[str] = mapped_column(String(32))  # caller, operator, operator2, department, mixed...
    speaker: Mapped[str] = mapped_column(String(16))  # see SPEAKERS
    extension: Mapped[str | None] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(500))
    seconds: Mapped[float | None] = mapped_column(Float)
    offset: Mapped[float] = mapped_column(Float, default=0.0)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime)
    call: Mapped[Call] = relationship(back_populates="recordings")


class CallDtmf(Base):
    __tablename__ = "call_dtmf"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    digit: Mapped[str] = mapped_column(String(1))
    at: Mapped[float] = mapped_column(Float)
    call: Mapped[Call] = relationship(back_populates="dtmf")


class SipInstance(Base):
    """One running ``hotline sip`` process: its heartbeat (``beat_at``, written every second by its
    own thread) tells the others it is alive. When it goes stale a surviving process claims it
    (``reaped_at``/``reaped_by``, one conditional UPDATE) and closes its calls (``telephony.reaper``)."""

    __tablename__ = "sip_instances"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(100))
    sip_address: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime)
    reaped_at: Mapped[datetime | None] = mapped_column(DateTime)
    reaped_by: Mapped[str | None] = mapped_column(String(32))
    reaped_calls: Mapped[int | None] = mapped_column(Integer)
