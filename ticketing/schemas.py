"""Input validation (pydantic); output views are in ``ticketing.privacy``."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from hotline.clock import to_utc_naive, utcnow
from hotline.exceptions import ValidationFailed
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


#: the years any date in a request may fall in (outside them the arithmetic of deadlines overflows)
YEARS = (2000, 2100)
#: how far back a ticket's received_at may lie (late registration of a paper or walk-in record)
RECEIVED_MAX_AGE = timedelta(days=366)


def _sane(value: datetime) -> datetime:
    """A datetime whose UTC time lies in YEARS (naive values are China Standard Time)."""
    try:
        utc = to_utc_naive(value)
    except (OverflowError, ValueError):
        raise ValueError("not a representable time") from None
    if not YEARS[0] <= utc.year < YEARS[1]:
        raise ValueError(f"must lie between {YEARS[0]} and {YEARS[1]}")
    return value


def _received(value: datetime) -> datetime:
    utc, now = to_utc_naive(_sane(value)), utcnow()
    if utc > now:
        raise ValueError("must not be in the future")
    if utc < now - RECEIVED_MAX_AGE:
        raise ValueError(f"must be within the last {RECEIVED_MAX_AGE.days} days")
    return value


SaneDatetime = Annotated[datetime, AfterValidator(_sane)]
ReceivedAt = Annotated[datetime, AfterValidator(_received)]
Code = Annotated[str, Field(min_length=1, max_length=40)]
Text = Annotated[str, Field(max_length=200)]


class EvidenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phrase: Text
    source: Literal["catalogue", "model", "town", "emergency"]
    matter: Text | None = None
    heard_as: Text | None = None
    role: Literal["co"] | None = None


class SuggestedUnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: Code
    name: Text
    score: float = Field(ge=0, le=1000)
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=20)
    co_units: list[Code] = Field(default_factory=list, max_length=10)


class EmergencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: Literal["110", "119", "120", "122"]
    category: Literal["fire", "gas", "rescue", "crime", "traffic", "injury"]
    evidence: list[Text] = Field(default_factory=list, max_length=20)
    also: list[Literal["110", "119", "120", "122"]] = Field(default_factory=list, max_length=4)


class RoutingSuggestionIn(BaseModel):
    """The suggestion the operator saw (``POST /routing/suggest``'s answer), stored with the ticket so
    "followed the suggestion" can be counted: the same shape, bounded (a few KB at most)."""

    model_config = ConfigDict(extra="forbid")
    departments: list[SuggestedUnitIn] = Field(max_length=3)
    type: Literal[TYPES]  # type: ignore[valid-type]
    urgent: bool = False
    emergency: EmergencyIn | None = None
    type_scores: dict[Literal[TYPES], float] = Field(default_factory=dict)  # type: ignore[valid-type]
    urgent_evidence: list[Text] = Field(default_factory=list, max_length=20)
    town: Code | None = None
    model: int | None = Field(default=None, ge=0, le=2**31 - 1)


class AttachmentRef(BaseModel):
    """An upload cited by a reply: only the id counts; name, size and type come from the server."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(pattern=r"^[0-9a-f]{32}$")


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
    received_at: ReceivedAt | None = None
    routing_suggestion: RoutingSuggestionIn | None = None


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
    article_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    answer: str | None = Field(default=None, max_length=4000)


class ExtensionIn(Strict):
    workdays: int = Field(ge=1, le=30)
    reason: str = Field(min_length=1, max_length=2000)


class DecisionIn(NoteIn):
    pass


class ReplyIn(Strict):
    text: str = Field(min_length=1, max_length=4000)
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=10)


class CallbackIn(NoteIn):
    satisfaction: Literal[SATISFACTION]  # type: ignore[valid-type]
    solved: bool | None = None


class MergeIn(NoteIn):
    into: str = Field(min_length=1, max_length=20)


class UrgeIn(RequiredNoteIn):
    due_at: SaneDatetime | None = None


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
# The role-aware views live in ``ticketing.privacy`` (one privacy policy for every view);
# ``ticket_view`` is re-exported for callers that import it from here.
from .privacy import ticket_view  # noqa: E402,F401
