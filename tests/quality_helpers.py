"""Shared by the 质检 tests: a call answered by an operator, stored with per-leg recordings (WAV
files with speech-like bursts at known times, and a mixed file) and per-speaker transcripts, as the
SIP process would have left it."""
from __future__ import annotations

import math
import shutil
import struct
import wave
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from hotline.clock import utcnow

#: the day the calls took place: three days ago (UTC), at 02:00
DAY = (utcnow() - timedelta(days=3)).replace(hour=2, minute=0, second=0, microsecond=0)


def write_wav(path, seconds: float, speech: list[tuple[float, float]]) -> None:
    """8 kHz mono 16-bit: a 300 Hz tone (amplitude 6000) inside each (start, end), faint noise elsewhere."""
    frames = bytearray()
    for i in range(int(seconds * 8000)):
        t = i / 8000
        loud = any(a <= t < b for a, b in speech)
        value = int(6000 * math.sin(2 * math.pi * 300 * t)) if loud else (i * 7919 % 41) - 20
        frames += struct.pack("<h", value)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(bytes(frames))


def store_call(app, n: int, operator: str, *, caller_speech, operator_speech, segments, duration=30.0,
               hold=(), wrapup=20.0, operator_ticket=False, minutes=0):
    """A call answered by ``operator`` whose legs say what the arguments say."""
    from hotline.auth import User
    from hotline.extensions import db
    from routing.calls.models import QueuedCall
    from telephony.models import Call, CallRecording, CallSegment
    from ticketing import service as tickets
    from ticketing.models import Ticket

    rec_dir = app.config["HOTLINE"].recordings_dir
    uuid = f"{n:032x}"
    start = DAY + timedelta(minutes=minutes)
    write_wav(Path(rec_dir) / f"{uuid}-caller.wav", duration, caller_speech)
    shutil.copy(Path(rec_dir) / f"{uuid}-caller.wav", Path(rec_dir) / f"{uuid}-mixed.wav")
    write_wav(Path(rec_dir) / f"{uuid}-op.wav", duration - 1.0,
              [(a - 1.0, b - 1.0) for a, b in operator_speech])
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == operator))
        call = Call(call_uuid=uuid, sip_call_id=uuid, caller="13800138000", caller_phone="13800138000",
                    called="12345", ringing_at=start, answered_at=start, ended_at=start + timedelta(seconds=duration),
                    duration=duration, hangup_cause="remote_hangup", transcription="live",
                    stats={"hold_intervals": [list(h) for h in hold]})
        call.recordings = [CallRecording(leg="caller", speaker="caller", path=f"{uuid}-caller.wav", seconds=duration),
                           CallRecording(leg="operator", speaker="operator", extension=user.sip_extension,
                                         path=f"{uuid}-op.wav", seconds=duration - 1.0, offset=1.0),
                           CallRecording(leg="mixed", speaker="mixed", path=f"{uuid}-mixed.wav", seconds=duration)]
        call.segments = [CallSegment(seq=i, speaker=s, start=a, end=b, text=t) for i, (s, a, b, t) in enumerate(segments)]
        if operator_ticket:
            ticket = tickets.create_ticket(db.session, {"type": "咨询", "channel": "phone", "content": "咨询",
                                                        "caller": {"phone": "13800138000"}},
                                           tickets.Actor(operator, "operator"), commit=False, call_uuid=uuid)
            call.ticket_id = ticket.id
        db.session.add(call)
        db.session.add(QueuedCall(call_uuid=uuid, caller="13800138000", queued_at=start, state="ended",
                                  connected_at=start, ended_at=call.ended_at, outcome="answered",
                                  operator_id=user.id, hold_seconds=sum(b - a for a, b in hold),
                                  wrapup_seconds=wrapup))
        db.session.commit()
        db.Session.remove()
    return uuid


GOOD = dict(caller_speech=[(2.0, 6.0), (9.0, 13.0)], operator_speech=[(1.2, 2.0), (6.5, 8.5), (13.5, 16.0)],
            segments=[("operator", 1.2, 2.0, "您好 一 二 三 四 五 热 线"), ("caller", 2.0, 6.0, "路灯坏了"),
                      ("operator", 6.5, 8.5, "好的 我 帮 您 登 记")], duration=18.0, operator_ticket=True)
BAD = dict(caller_speech=[(2.0, 8.0)], operator_speech=[(1.5, 2.2), (4.0, 7.0), (20.0, 22.0)],
           segments=[("operator", 1.5, 2.2, "喂"), ("operator", 4.0, 7.0, "这 个 我 不 知 到 你 找 别 人 去")],
           duration=24.0, hold=((8.5, 19.0),), wrapup=200.0)
