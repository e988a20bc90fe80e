"""Input validation (pydantic) and output serialization with masking for the viewer's role."""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .clock import iso
from .exceptions import ValidationFailed
from .lifecycle import ACTION_LABELS, DEPARTMENT, OPERATOR, STATUS_LABELS, allowed
from .sla import TYPES

CHANNELS = ("phone", "web", "open311", "walk-in", "other")
SATISFACTION = ("满意", "基本满意", "不满意")
PHONE_RE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{5,8})$")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def resident_id_problem(value: str) -> str | None:
    """Why a resident ID number fails GB 11643-1999, or None when it is valid."""
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return "must be 17 digits followed by a digit or X"
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "contains an impossible birth date"
    total = sum(int(d) * w for d, w in zip(value[:17], ID_WEIGHTS))
    if ID_CHECK[total % 11] != value[17]:
        return "check digit does not match (GB 11643)"
    return None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CallerIn(Strict):
    name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=20)
    id_number: str | None = Field(default=None, max_length=18)
    confidential: bool = False

    @field_validator("phone")
    @classmethod
    def _phone(cls, v):
        if v in (None, ""):
            return None
        compact = v.replace(" ", "")
        m = PHONE_RE.match(compact)
        if not m:
            raise ValueError("not a valid Chinese phone number (mobile 1xxxxxxxxxx or landline 0xxx-xxxxxxx)")
        return m.group(1)

    @field_validator("id_number")
    @classmethod
    def _id(cls, v):
        if v in (None, ""):
            return None
        v = v.upper()
        problem = resident_id_problem(v)
        if problem:
            raise ValueError(f"resident ID number {problem}")
        return v


class TicketIn(Strict):
    type: Literal[TYPES]  # type: ignore[valid-type]
    channel: Literal[CHANNELS] = "phone"  # type: ignore[valid-type]
    urgency: Literal["normal", "urgent"] = "normal"
    caller: CallerIn = Field(default_factory=CallerIn)
    content: str = Field(min_length=1)
    address: str | None = Field(default=None, max_length=300)
    town: str | None = Field(default=None, max_length=40)
    received_at: datetime | None = None
    routing_suggestion: dict | None = None


class DepartmentsIn(Strict):
    main_department: str = Field(min_length=1, max_length=40)
    co_departments: list[str] = Field(default_factory=list, max_length=10)
    type: Literal[TYPES] | None = None  # type: ignore[valid-type]
    urgency: Literal["normal", "urgent"] | None = None
    note: str | None = Field(default=None, max_length=2000)


class NoteIn(Strict):
    note: str | None = Field(default=None, max_length=2000)


class RequiredNoteIn(Strict):
    note: str = Field(min_length=1, max_length=2000)


class AcceptIn(NoteIn):
    type: Literal[TYPES] | None = None  # type: ignore[valid-type]
    urgency: Literal["normal", "urgent"] | None = None


class DirectAnswerIn(NoteIn):
    article_id: int | str | None = None
    answer: str | None = Field(default=None, max_length=4000)


class ExtensionIn(Strict):
    workdays: int = Field(ge=1, le=30)
    reason: str = Field(min_length=1, max_length=2000)


class DecisionIn(NoteIn):
    pass


class ReplyIn(Strict):
    text: str = Field(min_length=1, max_length=4000)
    attachments: list[dict] = Field(default_factory=list, max_length=10)


class CallbackIn(NoteIn):
    satisfaction: Literal[SATISFACTION]  # type: ignore[valid-type]
    solved: bool | None = None


class MergeIn(NoteIn):
    into: str = Field(min_length=1, max_length=20)


class UrgeIn(RequiredNoteIn):
    due_at: datetime | None = None


ACTION_SCHEMAS: dict[str, type[BaseModel]] = {
    "accept": AcceptIn, "answer_directly": DirectAnswerIn, "dispatch": DepartmentsIn,
    "sign": NoteIn, "return": RequiredNoteIn, "reassign": DepartmentsIn,
    "request_extension": ExtensionIn, "approve_extension": DecisionIn, "deny_extension": DecisionIn,
    "reply": ReplyIn, "approve_reply": NoteIn, "reject_reply": RequiredNoteIn,
    "callback": CallbackIn, "close": RequiredNoteIn, "reopen": RequiredNoteIn, "merge": MergeIn,
    "invalidate": RequiredNoteIn, "urge": UrgeIn, "note": RequiredNoteIn,
}


def parse(model: type[BaseModel], data) -> BaseModel:
    """Validate ``data`` or raise ValidationFailed with one message per field path."""
    if not isinstance(data, dict):
        raise ValidationFailed("request body must be a JSON object", {"": "expected an object"})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {}
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"]) or ""
            msg = err["msg"].removeprefix("Value error, ")
            fields.setdefault(path, msg)
        raise ValidationFailed("invalid input: " + ", ".join(sorted(fields)), fields) from None


# -- output ------------------------------------------------------------------------------------
def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    if len(phone) >= 7:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * len(phone)


def mask_id(id_number: str | None) -> str | None:
    if not id_number:
        return id_number
    return id_number[:6] + "*" * 8 + id_number[-4:]


def caller_view(ticket, role: str) -> dict:
    if role == DEPARTMENT and ticket.confidential:
        return {"name": None, "phone": None, "id_number": None, "confidential": True}
    phone, id_number = ticket.caller_phone, ticket.caller_id_number
    if role == DEPARTMENT:
        phone, id_number = mask_phone(phone), mask_id(id_number)
    elif role != OPERATOR:
        id_number = mask_id(id_number)
    return {"name": ticket.caller_name, "phone": phone, "id_number": id_number,
            "confidential": ticket.confidential}


def department_ref(dept) -> dict | None:
    return None if dept is None else {"code": dept.code, "name": dept.name}


def event_view(event) -> dict:
    return {
        "seq": event.seq, "action": event.action, "action_label": ACTION_LABELS.get(event.action, event.action),
        "actor": event.actor, "actor_role": event.actor_role, "from_status": event.from_status,
        "to_status": event.to_status, "note": event.note, "data": event.data or {},
        "at": iso(event.created_at), "hash": event.hash,
    }


def ticket_view(ticket, role: str, *, with_events: bool = False) -> dict:
    out = {
        "number": ticket.number, "type": ticket.type, "channel": ticket.channel,
        "urgency": ticket.urgency, "status": ticket.status,
        "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
        "caller": caller_view(ticket, role), "content": ticket.content, "address": ticket.address,
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
        "dispatched_at": iso(ticket.dispatched_at), "signed_at": iso(ticket.signed_at),
        "replied_at": iso(ticket.replied_at), "closed_at": iso(ticket.closed_at),
        "reply": ticket.reply_text, "direct_answer": ticket.direct_answer,
        "satisfaction": ticket.satisfaction, "solved": ticket.solved,
        "merged_into": ticket.merged_into.number if ticket.merged_into else None,
        "merged_tickets": [m.number for m in ticket.merged],
        "reopen_count": ticket.reopen_count,
        "routing_suggestion": ticket.routing_suggestion if role != DEPARTMENT else None,
        "extensions": [{
            "id": e.id, "workdays": e.workdays, "reason": e.reason, "status": e.status,
            "requested_by": e.requested_by, "requested_at": iso(e.requested_at),
            "decided_by": e.decided_by, "decided_at": iso(e.decided_at),
            "decision_note": e.decision_note} for e in ticket.extensions],
        "urgings": [{
            "id": u.id, "note": u.note, "due_at": iso(u.due_at), "urged_by": u.urged_by,
            "urged_at": iso(u.urged_at), "acknowledged_at": iso(u.acknowledged_at)} for u in ticket.urgings],
        "allowed_actions": allowed(ticket.status, role),
        "created_at": iso(ticket.created_at), "updated_at": iso(ticket.updated_at),
        "version": ticket.version,
    }
    if with_events:
        out["events"] = [event_view(e) for e in ticket.events]
    return out
