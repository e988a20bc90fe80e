"""One privacy policy for every view of a ticket.

Every place that shows a ticket or something about its caller passes through this module: the
ticket JSON (``ticket_view``), each history event's ``data`` (``event_data``), Socket.IO frames
(``frame_payload``), call records with their transcripts (``call_view``), recordings
(``check_recording``, which telephony's ``check_recording_access`` applies to every leg) and whatever exports ticket rows; the citizen's own view (``citizen_view``) and the public list's text
(``public_text``). Nothing else masks.

Who sees what of the caller:

============  ======  ==============  ==============  ======================================
role          name    phone           ID number       transcript / recording / DTMF
============  ======  ==============  ==============  ======================================
operator      yes     full            full            yes
supervisor    yes     full            masked          yes
admin         yes     full            masked          yes
department    yes     ``138****5678`` masked          yes, with the number masked in text
department,   no      no              no              no (not even that a recording exists)
confidential
============  ======  ==============  ==============  ======================================

Departments also never see the routing suggestion (the ticket's own field and the
``routing_suggested`` event's data) nor the caller's other tickets (``earlier_tickets``). Free text
shown to a department (content, notes, replies, transcript lines) has the caller's own phone and ID
number replaced by their masked forms, and for a confidential caller the name too.

Event data is projected by key: ``PERSONAL_KEYS`` name the fields that hold a caller's data in any
event of any package; a package adding such a field to an event adds its key here.
"""
from __future__ import annotations

import re
from typing import Callable

from sqlalchemy.orm import object_session

from hotline.clock import iso, to_local
from hotline.exceptions import Forbidden
from .cards import card_state
from .lifecycle import ACTION_LABELS, CALLBACK, CLOSED, DEPARTMENT, OPERATOR, STATUS_LABELS, allowed

#: event-data keys holding a caller's phone number (or the SIP user it called from)
PHONE_KEYS = frozenset({"caller", "caller_phone", "phone"})
#: keys holding an ID number
ID_KEYS = frozenset({"id_number", "caller_id_number"})
#: keys holding the caller's name
NAME_KEYS = frozenset({"caller_name"})
#: keys a department never sees in event data: what the caller said, their other tickets, keys typed
DEPARTMENT_HIDDEN_KEYS = frozenset({"transcript", "segments", "earlier_tickets", "dtmf", "digits"})
PERSONAL_KEYS = PHONE_KEYS | ID_KEYS | NAME_KEYS | DEPARTMENT_HIDDEN_KEYS
#: events whose data departments never see (the routing suggestion is hidden from them)
DEPARTMENT_HIDDEN_EVENTS = frozenset({"routing_suggested"})

#: what a disclosure to a role is, for the access records (PIPL art. 51)
PHONE, ID_NUMBER, RECORDING, TRANSCRIPT = "phone", "id_number", "recording", "transcript"


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` -> ``138****5678``; short numbers (extensions, SIP users) become stars."""
    if not phone:
        return phone
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * len(phone)


def mask_id(id_number: str | None) -> str | None:
    if not id_number:
        return id_number
    return id_number[:6] + "*" * 8 + id_number[-4:]


def sees_full_phone(role: str) -> bool:
    return role != DEPARTMENT


def sees_full_id(role: str) -> bool:
    return role == OPERATOR


# -- the caller ----------------------------------------------------------------------------------
def caller_view(ticket, role: str) -> dict:
    if role == DEPARTMENT and ticket.confidential:
        return {"name": None, "phone": None, "id_number": None, "confidential": True}
    phone, id_number = ticket.caller_phone, ticket.caller_id_number
    if not sees_full_phone(role):
        phone = mask_phone(phone)
    if not sees_full_id(role):
        id_number = mask_id(id_number)
    return {"name": ticket.caller_name, "phone": phone, "id_number": id_number,
            "confidential": ticket.confidential}


def disclosed(ticket, role: str) -> list[str]:
    """What of ``ticket``'s caller a view for ``role`` shows unmasked (for the access records)."""
    if role == DEPARTMENT:
        return []
    kinds = [PHONE] if ticket.caller_phone else []
    if ticket.caller_id_number and sees_full_id(role):
        kinds.append(ID_NUMBER)
    return kinds


def _scrubber(phone: str | None, id_number: str | None, name: str | None, role: str,
              confidential: bool) -> Callable[[str], str]:
    """Replace the caller's own number/ID (and a confidential caller's name) inside free text."""
    if role != DEPARTMENT:
        return _same
    pairs = []
    if phone and len(phone) >= 5:
        pairs.append((phone, "***" if confidential else mask_phone(phone)))
    if id_number:
        pairs.append((id_number, "***" if confidential else mask_id(id_number)))
    if confidential and name and len(name) >= 2:
        pairs.append((name, "***"))
    if not pairs:
        return _same

    def scrub(text: str) -> str:
        for raw, masked in pairs:
            if raw in text:
                text = text.replace(raw, masked)
        return text
    return scrub


def _same(text: str) -> str:
    return text


def ticket_scrubber(ticket, role: str) -> Callable[[str], str]:
    return _scrubber(ticket.caller_phone, ticket.caller_id_number, ticket.caller_name, role,
                     ticket.confidential)


def _text(value, scrub):
    return scrub(value) if isinstance(value, str) and value else value


# -- event data ----------------------------------------------------------------------------------
def event_data(action: str | None, data: dict | None, role: str, *, confidential: bool,
               scrub: Callable[[str], str] = _same) -> dict:
    """The part of an event's ``data`` that ``role`` may see.

    ``confidential`` is the ticket's flag; when unknown (a frame from an older process) pass True.
    """
    if not data:
        return {}
    if role == DEPARTMENT and action in DEPARTMENT_HIDDEN_EVENTS:
        return {}
    if role != DEPARTMENT and sees_full_id(role):
        return data
    return _project(data, role, confidential, scrub)


def _project(value, role: str, confidential: bool, scrub):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if role == DEPARTMENT and key in PERSONAL_KEYS:
                if key in DEPARTMENT_HIDDEN_KEYS or confidential:
                    out[key] = None
                elif key in PHONE_KEYS:
                    out[key] = mask_phone(item) if isinstance(item, str) else None
                elif key in ID_KEYS:
                    out[key] = mask_id(item) if isinstance(item, str) else None
                else:
                    out[key] = _text(item, scrub) if isinstance(item, str) else None
            elif key in ID_KEYS and not sees_full_id(role):
                out[key] = mask_id(item) if isinstance(item, str) else None
            else:
                out[key] = _project(item, role, confidential, scrub)
        return out
    if isinstance(value, list):
        return [_project(v, role, confidential, scrub) for v in value]
    return _text(value, scrub)


def event_view(event, role: str, *, confidential: bool = True, scrub=_same) -> dict:
    return {
        "seq": event.seq, "action": event.action,
        "action_label": ACTION_LABELS.get(event.action, event.action),
        "actor": event.actor, "actor_role": event.actor_role, "from_status": event.from_status,
        "to_status": event.to_status, "note": _text(event.note, scrub),
        "data": event_data(event.action, event.data, role, confidential=confidential, scrub=scrub),
        "redacted": bool(getattr(event, "redacted_at", None)),
        "at": iso(event.created_at), "hash": event.hash,
    }


# -- the ticket ----------------------------------------------------------------------------------
def department_ref(dept) -> dict | None:
    return None if dept is None else {"code": dept.code, "name": dept.name}


def deadline_state(ticket) -> dict:
    """The card the ticket carries now (``ticketing.cards``, the rule the deadline scan uses)."""
    session = object_session(ticket)
    if session is None:  # a detached ticket: no calendar to read, no card to claim
        return {"card": "none", "kind": None, "due": None, "warning_from": None}
    return card_state(session, ticket)


def ticket_view(ticket, role: str, *, with_events: bool = False) -> dict:
    scrub = ticket_scrubber(ticket, role)
    direct = ticket.direct_answer
    if direct and role == DEPARTMENT:
        direct = {**direct, "answer": _text(direct.get("answer"), scrub)}
    out = {
        "number": ticket.number, "type": ticket.type, "channel": ticket.channel,
        "urgency": ticket.urgency, "status": ticket.status,
        "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
        "caller": caller_view(ticket, role), "content": _text(ticket.content, scrub),
        "address": _text(ticket.address, scrub),
        "town": None if ticket.town is None else {"code": ticket.town.code, "name": ticket.town.name},
        "main_department": department_ref(ticket.main_department),
        "co_departments": [department_ref(d) for d in ticket.co_departments],
        "received_at": iso(ticket.received_at),
        "deadlines": {
            "sign_by": iso(ticket.sign_by), "reply_by": iso(ticket.reply_by),
            "estimated_years": ticket.deadline_estimated_years or [],
            "warning": ("working calendar for %s not entered yet; deadline assumes Monday-Friday"
                        % ", ".join(map(str, ticket.deadline_estimated_years)))
            if ticket.deadline_estimated_years else None,
        },
        "deadline_state": deadline_state(ticket),
        "dispatched_at": iso(ticket.dispatched_at), "signed_at": iso(ticket.signed_at),
        "replied_at": iso(ticket.replied_at), "closed_at": iso(ticket.closed_at),
        "reply": _text(ticket.reply_text, scrub), "direct_answer": direct,
        "satisfaction": ticket.satisfaction, "solved": ticket.solved,
        "merged_into": ticket.merged_into.number if ticket.merged_into else None,
        "merged_tickets": [m.number for m in ticket.merged],
        "reopen_count": ticket.reopen_count,
        "routing_suggestion": ticket.routing_suggestion if role != DEPARTMENT else None,
        "extensions": [{
            "id": e.id, "workdays": e.workdays, "reason": _text(e.reason, scrub), "status": e.status,
            "requested_by": e.requested_by, "requested_at": iso(e.requested_at),
            "decided_by": e.decided_by, "decided_at": iso(e.decided_at),
            "decision_note": _text(e.decision_note, scrub)} for e in ticket.extensions],
        "urgings": [{
            "id": u.id, "note": _text(u.note, scrub), "due_at": iso(u.due_at), "urged_by": u.urged_by,
            "urged_at": iso(u.urged_at), "acknowledged_at": iso(u.acknowledged_at)} for u in ticket.urgings],
        "allowed_actions": allowed(ticket.status, role),
        "created_at": iso(ticket.created_at), "updated_at": iso(ticket.updated_at),
        "version": ticket.version,
    }
    if with_events:
        out["events"] = [event_view(e, role, confidential=ticket.confidential, scrub=scrub)
                         for e in ticket.events]
    return out


# -- socket frames -------------------------------------------------------------------------------
#: frames never carry these top-level keys: consoles read the caller over HTTP (where it is logged)
FRAME_DROPPED_KEYS = frozenset({"caller_phone"})


def frame_payload(name: str, payload: dict, role: str) -> dict:
    """What a Socket.IO room of ``role``'s users receives for the domain event ``name``.

    Department rooms get ticket events only (the fan-out decides), with the event data projected
    as in the ticket's history; a payload that does not say whether the caller is confidential is
    treated as confidential.
    """
    out = {k: v for k, v in payload.items() if k not in FRAME_DROPPED_KEYS}
    if role != DEPARTMENT:
        return out
    confidential = bool(payload.get("confidential", True))
    if name == "ticket.changed":
        data = event_data(payload.get("action"), payload.get("data"), role, confidential=confidential)
        rest = _project({k: v for k, v in out.items() if k != "data"}, role, confidential, _same)
        return {**rest, "data": data}
    return _project(out, role, confidential, _same)


# -- calls, transcripts, recordings --------------------------------------------------------------
def may_hear(role: str, confidential: bool | None) -> bool:
    """Whether ``role`` may play a call's recording or read its transcript.

    ``confidential`` is the flag of the call's ticket (None: the call has no ticket, which only desk
    staff can reach anyway).
    """
    return not (role == DEPARTMENT and (confidential is None or confidential))


def check_recording(role: str, confidential: bool | None) -> None:
    """Raise Forbidden when ``role`` may not play a call's recordings (or list them)."""
    if not may_hear(role, confidential):
        raise Forbidden("the caller asked for confidentiality: recordings are not available to departments")


def call_caller(caller: str | None, role: str, confidential: bool | None) -> str | None:
    if role != DEPARTMENT:
        return caller
    return None if (confidential is None or confidential) else mask_phone(caller)


def transcript_view(segments, role: str, confidential: bool | None, scrub=_same) -> list[dict]:
    if not may_hear(role, confidential):
        return []
    return [{"start": s.start, "end": s.end, "text": _text(s.text, scrub), "speaker": s.speaker}
            for s in segments]


# -- the citizen and the public --------------------------------------------------------------------
#: what the citizen reads for each step of their ticket (never who did it, never a note)
CITIZEN_STEPS = {
    "create": "已提交", "accept": "已受理", "dispatch": "已转交承办单位", "reassign": "已转交承办单位",
    "approve_reply": "已答复", "callback": "已回访", "close": "已办结", "answer_directly": "已答复并办结",
    "reopen": "重新办理，已转交承办单位", "merge": "已与同一诉求合并办理", "invalidate": "未予受理",
}


def citizen_view(ticket) -> dict:
    """The submitter's own view: status in citizen wording, a timeline of public steps only (no
    actors, notes, units' internal steps or event data), and the reply once the hotline approved it."""
    timeline = [{"step": CITIZEN_STEPS[e.action], "at": iso(e.created_at),
                 "local": to_local(e.created_at).strftime("%Y-%m-%d %H:%M")}
                for e in ticket.events if e.action in CITIZEN_STEPS]
    replied = ticket.status in (CALLBACK, CLOSED) and ticket.replied_at is not None and ticket.reply_text
    direct = ticket.direct_answer.get("answer") if ticket.status == CLOSED and ticket.direct_answer else None
    return {"number": ticket.number, "type": ticket.type, "content": ticket.content,
            "address": ticket.address, "town": ticket.town.name if ticket.town else None,
            "received_at": iso(ticket.received_at), "status": ticket.status,
            "status_label": timeline[-1]["step"] if timeline else "已提交",
            "timeline": timeline, "reply": ticket.reply_text if replied else direct,
            "unit": ticket.main_department.name if replied and ticket.main_department else None,
            "rateable": ticket.status == CALLBACK, "satisfaction": ticket.satisfaction}


_PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_HOUSE_NUMBER = re.compile(r"[0-9０-９一二三四五六七八九十百零〇之\-－]+\s*(?=[号號栋幢座单元室楼层户弄])")
_TITLED_NAME = re.compile(r"[\u4e00-\u9fa5](?:[\u4e00-\u9fa5]{1,2})?(?=先生|女士|小姐|师傅|阿姨|老师)")
_LONG_DIGITS = re.compile(r"\d{7,}")


def public_text(text: str | None, names: tuple[str | None, ...] = ()) -> str | None:
    """Text fit for the public list: the caller's name (and any name written with 先生/女士...),
    phone numbers, ID numbers and house numbers removed; long digit runs too."""
    if not text:
        return text
    for name in names:
        if name and len(name) >= 2:
            text = text.replace(name, "**")
    text = _ID_IN_TEXT.sub("[身份证号已隐去]", text)
    text = _PHONE_IN_TEXT.sub("[电话已隐去]", text)
    text = _LONG_DIGITS.sub("***", text)
    text = _HOUSE_NUMBER.sub("*", text)
    text = _TITLED_NAME.sub("*", text)
    return text
