"""Call records and the draft tickets made from them. The only code that writes telephony tables.

Tickets are created and linked only through ``ticketing.service``.
"""
from __future__ import annotations

import logging
import os
from datetime import timedelta

from pydantic import ValidationError
from sqlalchemy import select

from hotline.events import publish_after_commit
from ticketing import privacy
from ticketing import service as tickets
from hotline.clock import iso, utcnow
from hotline.exceptions import NotFound
from ticketing.lifecycle import DEPARTMENT
from ticketing.schemas import CallerIn

from telephony.models import Call, CallDtmf, CallRecording, CallSegment

log = logging.getLogger("telephony.service")

SYSTEM = tickets.Actor.system("telephony")
DRAFT_TYPE = "咨询"
NO_SPEECH_NOTE = "（来电已录音，但未识别到语音内容，请回听录音。）"


def valid_phone(raw: str | None) -> str | None:
    """The caller's number as ticketing stores it, or None when SIP gave something else."""
    if not raw:
        return None
    try:
        return CallerIn(phone=raw).phone
    except ValidationError:
        return None


def draft_content(call: Call, max_chars: int) -> str:
    text = call.transcript.strip()
    if call.transcription in ("off", "failed"):
        text = (f"（语音转写未开启：{call.transcription_note or '原因未知'}。请回听通话录音后补充诉求内容。）"
                + (f"\n{text}" if text else ""))
    elif not text:
        text = NO_SPEECH_NOTE
    if call.dtmf:
        text += f"\n（来电按键：{call.digits}）"
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def store_call(session, rec: dict, *, max_content: int = 4000) -> Call:
    """Persist a finished call with its ticket, in one transaction: the ticket the operator
    registered from this call is adopted (linked, no second draft); otherwise an answered call
    whose transcript is final gets a draft ticket."""
    call = Call(
        call_uuid=rec["call_uuid"], sip_call_id=rec["sip_call_id"][:255], caller=(rec["caller"] or "")[:100],
        caller_phone=valid_phone(rec["caller"]), called=(rec["called"] or "")[:100], codec=rec.get("codec"),
        ringing_at=rec["ringing_at"], answered_at=rec["answered_at"], ended_at=rec["ended_at"],
        duration=rec["duration"], hangup_cause=rec["cause"], recording_path=rec["recording_path"],
        recording_seconds=rec["recording_seconds"], transcription=rec["transcription"],
        transcription_note=(rec.get("transcription_note") or None), stats=rec.get("stats"))
    _set_segments(call, rec.get("segments") or [])
    call.recordings = recordings_of(rec)
    call.dtmf = [CallDtmf(seq=i, digit=d, at=at) for i, (d, at) in enumerate(rec.get("dtmf") or [])]
    call.ticket_number = rec.get("reserved_number")  # read back during voice intake: its ticket's number
    tickets.lock_call(session, call.call_uuid)
    session.add(call)
    session.flush()
    link_ticket(session, call, max_content=max_content,
                draft=call.answered_at is not None and call.transcription != "pending")
    session.commit()
    log.info("call.stored call=%s caller=%s cause=%s duration=%.2f ticket=%s", call.call_uuid,
             call.caller, call.hangup_cause, call.duration, call.ticket_number)
    return call


def store_contact_call(session, rec: dict, *, number: str, contact_id: int, caller_id: str, started_at) -> Call:
    """Persist a 联系诉求人 call (``telephony.contact``): the citizen's leg first, the clerk's as
    ``department``, the mixed file; linked to the ticket, and its outcome on the ticket's history,
    in one transaction. The number called is kept masked: the ticket holds it."""
    from ticketing import contact
    from ticketing.models import Ticket

    call = Call(
        call_uuid=rec["call_uuid"], sip_call_id=rec["sip_call_id"][:255], direction="outbound",
        caller=caller_id[:100], caller_phone=None, called=privacy.mask_phone(rec["called"] or "") or "",
        codec=rec.get("codec"), ringing_at=rec["ringing_at"], answered_at=rec["answered_at"],
        ended_at=rec["ended_at"], duration=rec["duration"], hangup_cause=rec["cause"],
        recording_path=rec["recording_path"], recording_seconds=rec["recording_seconds"],
        transcription=rec["transcription"], transcription_note=(rec.get("transcription_note") or None),
        stats=rec.get("stats"))
    _set_segments(call, rec.get("segments") or [])
    call.recordings = recordings_of(rec)
    ticket = session.scalar(select(Ticket).where(Ticket.number == number))
    call.ticket_id, call.ticket_number = (ticket.id, number) if ticket is not None else (None, None)
    session.add(call)
    session.flush()
    contact.finish(session, contact_id, outcome="answered", started_at=started_at,
                   answered_at=rec["answered_at"], ended_at=rec["ended_at"], duration=rec["duration"],
                   call_uuid=call.call_uuid, commit=False)
    session.commit()
    log.info("call.stored call=%s direction=outbound contact=%s ticket=%s duration=%.2f", call.call_uuid,
             contact_id, number, call.duration)
    return call


def recordings_of(rec: dict) -> list[CallRecording]:
    """Every file a finished call left (``CallSession.finish``): the citizen's leg, each bridged
    leg (operator, department, emergency...), and the mixed conversation."""
    out = []
    if rec.get("recording_path"):
        out.append(CallRecording(leg="caller", speaker="caller", path=rec["recording_path"],
                                 seconds=rec.get("recording_seconds"), offset=0.0))
    for leg in rec.get("legs") or []:
        if leg.get("recording_path"):
            out.append(CallRecording(leg=leg["leg"][:32], speaker=leg.get("speaker", "operator")[:16],
                                     extension=(leg.get("extension") or None) and str(leg["extension"])[:40],
                                     path=leg["recording_path"], seconds=leg.get("recording_seconds"),
                                     offset=float(leg.get("offset") or 0.0)))
    if rec.get("mixed_recording_path"):
        out.append(CallRecording(leg="mixed", speaker="mixed", path=rec["mixed_recording_path"],
                                 seconds=rec.get("mixed_seconds"), offset=float(rec.get("mixed_offset") or 0.0)))
    return out


def _set_segments(call: Call, segments: list[dict]) -> None:
    call.segments = [CallSegment(seq=i, speaker=s.get("speaker", "caller"), start=float(s["start"]),
                                 end=float(s["end"]), text=s["text"])
                     for i, s in enumerate(s for s in segments if s.get("text"))]


def earlier_tickets(session, call: Call, exclude: str | None) -> list[str]:
    """The caller's earlier tickets: by phone number, or (for SIP users that are not phone
    numbers, e.g. extensions) through the tickets of earlier calls from the same SIP user."""
    if call.caller_phone:
        return [t.number for t in tickets.caller_history(session, call.caller_phone, exclude=exclude)]
    if not call.caller or call.caller.lower() in ("anonymous", "unknown"):
        return []
    rows = session.scalars(select(Call.ticket_number).where(
        Call.caller == call.caller, Call.ticket_number.is_not(None), Call.id != call.id)
        .order_by(Call.id.desc()).limit(20))
    return [n for n in rows if n != exclude]


def link_ticket(session, call: Call, *, max_content: int = 4000, draft: bool = True) -> None:
    """Give the call its ticket inside the caller's transaction (``tickets.lock_call`` taken):
    the one registered from this call (by the operator, during or after it) or, with ``draft``, a
    new draft ticket (channel phone) with the transcript. Either way the ticket's history gets
    ``call_linked`` with the caller's earlier tickets, and ``call.ticket`` goes out after the commit."""
    ticket = tickets.ticket_of_call(session, call.call_uuid)
    if ticket is None:
        if not draft:
            return
        ticket = tickets.create_ticket(session, {
            "type": DRAFT_TYPE, "channel": "phone", "content": draft_content(call, max_content),
            "caller": {"phone": call.caller_phone}, "received_at": call.ringing_at.isoformat() + "+00:00",
        }, SYSTEM, max_content=max_content, commit=False, call_uuid=call.call_uuid,
            number=call.ticket_number if call.ticket_id is None else None)
    number = ticket.number
    earlier = earlier_tickets(session, call, exclude=number)
    call.ticket_id, call.ticket_number = ticket.id, number
    tickets.record_event(session, number, "call_linked", SYSTEM, commit=False, data={
        "call_id": call.call_uuid, "caller": call.caller, "duration": call.duration,
        "recording": bool(call.recording_path), "earlier_tickets": earlier})
    publish_after_commit(session, "call.ticket", {"call_id": call.call_uuid, "number": number,
                                                  "earlier_tickets": earlier})


def complete_offline_transcription(session, call_id: int, segments: list[dict] | None,
                                   failure: str | None = None, *, max_content: int = 4000) -> Call | None:
    """After the post-call transcription: store segments and create the draft (idempotent)."""
    call = session.get(Call, call_id)
    if call is None or call.transcription != "pending":
        return call
    tickets.lock_call(session, call.call_uuid)
    session.refresh(call)  # another delivery of this job may have finished while we waited
    if call.transcription != "pending":
        session.rollback()
        return call
    if failure:
        call.transcription, call.transcription_note = "failed", failure[:300]
    else:
        _set_segments(call, [dict(s, speaker="caller") for s in segments or []])
        call.transcription = "offline"
    session.flush()
    if call.ticket_id is None:
        link_ticket(session, call, max_content=max_content)
    session.commit()
    return call


# -- reading ------------------------------------------------------------------------------------
def _ticket_of(session, call: Call, actor: tickets.Actor):
    """The call's ticket as ``actor`` may see it (None: no ticket). A department reaches only calls
    whose ticket it holds (same 404 as for a missing call)."""
    if call.ticket_id is None or not call.ticket_number:  # a number read back, ticket not stored yet
        if actor.role == DEPARTMENT:
            raise NotFound(f"call {call.call_uuid} not found")
        return None
    try:
        return tickets.get_ticket(session, call.ticket_number, actor)
    except NotFound:
        if actor.role == DEPARTMENT:
            raise NotFound(f"call {call.call_uuid} not found") from None
        return None


def get_call(session, call_uuid: str, actor: tickets.Actor):
    """(call, its ticket or None). Staff see every call; a department only calls whose ticket it
    holds (same 404 otherwise)."""
    call = session.scalar(select(Call).where(Call.call_uuid == call_uuid))
    if call is None:
        raise NotFound(f"call {call_uuid} not found")
    return call, _ticket_of(session, call, actor)


def calls_of_ticket(session, number: str, actor: tickets.Actor):
    """(ticket, its calls oldest first)."""
    ticket = tickets.get_ticket(session, number, actor)
    return ticket, list(session.scalars(select(Call).where(Call.ticket_number == number).order_by(Call.id)))


#: what the console shows for each speaker kind of a recording
SPEAKER_LABELS = {"caller": "市民", "operator": "话务员", "department": "承办单位", "emergency": "应急联动单位",
                  "mixed": "混音"}


def check_recording_access(session, call: Call, actor: tickets.Actor, ticket=None) -> None:
    """The one rule for playing or listing any recording of a call (every speaker, mixed too).

    ``get_call`` already limits a department to calls of tickets it holds; whether the voice may be
    heard is ``ticketing.privacy``'s rule (a confidential caller's is not given to departments).
    Raises Forbidden; tighten in the privacy policy, not in the views."""
    if ticket is None and call.ticket_id is not None:
        from ticketing.models import Ticket

        ticket = session.get(Ticket, call.ticket_id)
    privacy.check_recording(actor.role, ticket.confidential if ticket is not None else None)


def live_recordings(call: Call) -> list[CallRecording]:
    return [r for r in call.recordings if r.deleted_at is None]


def recording_view(call: Call, rec: CallRecording) -> dict:
    return {"leg": rec.leg, "speaker": rec.speaker, "label": SPEAKER_LABELS.get(rec.speaker, rec.speaker)
            + (rec.leg[len(rec.speaker):] if rec.leg != rec.speaker and rec.leg.startswith(rec.speaker) else ""),
            "extension": rec.extension, "seconds": rec.seconds, "offset": rec.offset,
            "url": f"/api/v1/calls/{call.call_uuid}/recordings/{rec.leg}"}


def list_recordings(session, call_uuid: str, actor: tickets.Actor) -> dict:
    call, ticket = get_call(session, call_uuid, actor)
    check_recording_access(session, call, actor, ticket)
    return {"call_id": call.call_uuid, "items": [recording_view(call, r) for r in live_recordings(call)],
            "deleted": [{"leg": r.leg, "speaker": r.speaker, "deleted_at": iso(r.deleted_at)}
                        for r in call.recordings if r.deleted_at is not None]}


def recording_file(session, call_uuid: str, actor: tickets.Actor, recordings_dir: str,
                   leg: str = "caller"):
    """(file of one recording of a call, the call, its ticket or None); ``leg``: caller, operator,
    department2, mixed..."""
    call, ticket = get_call(session, call_uuid, actor)
    check_recording_access(session, call, actor, ticket)
    rec = next((r for r in live_recordings(call) if r.leg == leg), None)
    if rec is None:
        raise NotFound(f"call {call_uuid} has no {leg} recording (retention, erased or not answered)")
    base = os.path.realpath(recordings_dir)
    path = os.path.realpath(os.path.join(base, rec.path))
    if not path.startswith(base + os.sep) or not os.path.isfile(path):
        raise NotFound(f"{leg} recording of call {call_uuid} is missing")
    log.info("recording.served call=%s leg=%s user=%s role=%s", call.call_uuid, leg, actor.username, actor.role)
    return path, call, ticket


def call_view(call: Call, ticket, actor: tickets.Actor) -> dict:
    """A call record as ``actor`` may see it (``ticketing.privacy`` decides what of the caller and
    whether its recordings and transcript may be heard); ``ticket`` is the call's ticket (None:
    none, or not visible)."""
    confidential = ticket.confidential if ticket is not None else None
    role = actor.role
    hear = privacy.may_hear(role, confidential)
    scrub = privacy.ticket_scrubber(ticket, role) if ticket is not None else (lambda text: text)
    return {
        "call_id": call.call_uuid, "direction": call.direction,
        "caller": privacy.call_caller(call.caller, role, confidential), "called": call.called,
        "ringing_at": iso(call.ringing_at), "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at), "duration": call.duration, "hangup_cause": call.hangup_cause,
        "codec": call.codec, "ticket": call.ticket_number,
        "recording": None if not hear or not call.recording_path or call.recording_deleted_at else {
            "url": f"/api/v1/calls/{call.call_uuid}/recording", "seconds": call.recording_seconds},
        "recording_deleted_at": iso(call.recording_deleted_at),
        "recordings": [recording_view(call, r) for r in live_recordings(call)] if hear else [],
        "transcription": {"status": call.transcription, "note": call.transcription_note},
        "transcript": privacy.transcript_view(call.segments, role, confidential, scrub),
        "dtmf": [{"digit": d.digit, "at": d.at} for d in call.dtmf] if role != DEPARTMENT else [],
    }


def _delete_files(recordings_dir: str, rows: list[CallRecording], now) -> None:
    base = os.path.realpath(recordings_dir)
    for rec in rows:
        path = os.path.realpath(os.path.join(base, rec.path))
        if path.startswith(base + os.sep):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        rec.deleted_at = now
        call = rec.call
        if rec.leg == "caller" and call is not None and call.recording_deleted_at is None:
            call.recording_deleted_at = now


def delete_call_recordings(session, call_id: int, recordings_dir: str | None = None) -> int:
    """Erase every recording of one call (each speaker and the mixed file): files removed, rows
    marked deleted (the call row stays for the audit trail). For erasure (``hotline privacy
    erase``) and retention. Does not commit: the caller's transaction decides. Returns the number
    of recordings deleted now."""
    if recordings_dir is None:
        from flask import current_app

        recordings_dir = current_app.config["HOTLINE"].recordings_dir
    rows = list(session.scalars(select(CallRecording).where(
        CallRecording.call_id == call_id, CallRecording.deleted_at.is_(None))))
    _delete_files(recordings_dir, rows, utcnow())
    call = session.get(Call, call_id)
    if call is not None and call.recording_path and call.recording_deleted_at is None:
        call.recording_deleted_at = utcnow()  # a legacy call row without recording rows
        path = os.path.join(recordings_dir, call.recording_path)
        if os.path.isfile(path):
            os.remove(path)
    session.flush()
    log.info("recordings.erased call=%s count=%d", call_id, len(rows))
    return len(rows)


def cleanup_recordings(session, recordings_dir: str, retention_days: int) -> int:
    """Delete every recording (all speakers, mixed) of calls that ended before the retention
    period; the call rows stay (audit). Returns the number of files deleted."""
    if retention_days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=retention_days)
    rows = session.scalars(select(CallRecording).join(Call).where(
        Call.ended_at < cutoff, CallRecording.deleted_at.is_(None)).limit(5000)).all()
    _delete_files(recordings_dir, list(rows), utcnow())
    session.commit()
    if rows:
        log.info("recordings.deleted count=%d older_than_days=%d", len(rows), retention_days)
    return len(rows)


# -- erasure (ticketing.erasure calls these; registered below) ------------------------------------
def _erase_call(session, call: Call, recordings_dir: str) -> int:
    """The caller's number, transcript and DTMF digits go; every recording file too."""
    removed = delete_call_recordings(session, call.id, recordings_dir)
    call.caller, call.caller_phone = "", None
    if call.direction == "outbound":
        call.called = ""  # 联系诉求人: the (masked) number the hotline called
    call.segments = []
    call.dtmf = []
    return removed


def _recordings_dir() -> str:
    from flask import current_app

    return current_app.config["HOTLINE"].recordings_dir  # erasure runs inside an app context


def erase_ticket_calls(session, ticket) -> dict:
    """A ticket's calls lose the caller's number, transcript, DTMF digits and recording files."""
    calls = session.scalars(select(Call).where(
        (Call.ticket_id == ticket.id) | (Call.ticket_number == ticket.number))).all()
    base = _recordings_dir()
    files = sum(_erase_call(session, c, base) for c in calls)
    return {"calls": len(calls), "recordings": files}


def erase_phone_calls(session, phone: str) -> dict:
    """Calls from ``phone`` that no ticket holds (abandoned, missed) are erased the same way."""
    calls = session.scalars(select(Call).where(Call.caller_phone == phone)).all()
    base = _recordings_dir()
    files = sum(_erase_call(session, c, base) for c in calls)
    return {"calls": len(calls), "recordings": files}


from ticketing import erasure as _erasure  # noqa: E402

_erasure.register(ticket_eraser=erase_ticket_calls, phone_eraser=erase_phone_calls)
