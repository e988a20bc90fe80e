"""Open311 GeoReport v2 operations on the one case record.

Services are the dispatch catalogue's matters (code ``c<entry id>``, stable across renames);
the ticket type is the service's one attribute. A request becomes a ticket with channel
``open311`` through ``ticketing.service.create_ticket`` (same record, lifecycle and hash chain);
``service_request_id`` is the ticket number. Only tickets that came in through Open311 are listed
by the public GET: phone and walk-in requests were never published by the citizen. The public views
carry no submitter name, phone or email (those stay on the ticket for the staff).
"""
from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from routing.catalogue import TOWN, list_entries
from routing.models import CatalogueEntry
from ticketing import lifecycle
from hotline.clock import iso, to_utc_naive, utcnow
from hotline.exceptions import ValidationFailed
from ticketing.models import Department, Ticket, Town
from hotline.identity import Actor
from ticketing.service import create_ticket
from ticketing.sla import TYPES

from .exceptions import Open311Error, bad_request
from .keys import check_key
from .models import Open311Request

DEFAULT_TYPE = "求助"
WINDOW = timedelta(days=90)  # the spec: a search spans at most 90 days, the last 90 by default
PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
TOWN_UNIT_NAME = "所在镇（街道）人民政府"
APPROVED_REPLY = (lifecycle.CALLBACK, lifecycle.CLOSED)  # the unit's reply passed the hotline's review


# -- services ------------------------------------------------------------------------------------
def _code(entry: CatalogueEntry) -> str:
    return f"c{entry.id}"


def _unit_names(session) -> dict[str, str]:
    names = dict(session.execute(select(Department.code, Department.name)).all())
    names[TOWN] = TOWN_UNIT_NAME
    return names


def _service(entry: CatalogueEntry, units: dict[str, str]) -> dict:
    unit = units.get(entry.unit, entry.unit)
    return {"service_code": _code(entry), "service_name": entry.matter,
            "description": f"{entry.matter}（承办单位：{unit}）", "metadata": True, "type": "realtime",
            "keywords": ",".join(entry.keywords or []), "group": unit}


def list_services(session) -> list[dict]:
    units = _unit_names(session)
    return [_service(e, units) for e in list_entries(session)]


def _entry(session, service_code: str | None) -> CatalogueEntry:
    if not service_code:
        raise bad_request("service_code is required")
    entry = None
    if service_code.startswith("c") and service_code[1:].isdigit() and len(service_code) < 12:
        entry = session.get(CatalogueEntry, int(service_code[1:]))
    if entry is None:
        raise Open311Error(404, f"service_code {service_code!r} is not a known service; see services.json")
    return entry


def service_definition(session, service_code: str) -> dict:
    entry = _entry(session, service_code)
    return {"service_code": _code(entry), "attributes": [{
        "variable": True, "code": "type", "datatype": "singlevaluelist", "required": False,
        "datatype_description": f"诉求类型，缺省为{DEFAULT_TYPE}", "order": 1, "description": "诉求类型",
        "values": [{"key": t, "name": t} for t in TYPES]}]}


# -- submission ----------------------------------------------------------------------------------
def _coordinate(form, name: str, low: float, high: float) -> float | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise bad_request(f"{name} must be a decimal number (WGS84 degrees), got {raw[:40]!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise bad_request(f"{name} must be between {low:g} and {high:g}")
    return value


def _distance_km(lat1, lon1, lat2, lon2) -> float:
    """Great-circle distance (haversine) in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def town_at(session, lat: float, lon: float) -> Town | None:
    """The town whose circle holds the point (the nearest centre, relative to its radius)."""
    best, best_ratio = None, None
    towns = session.scalars(select(Town).where(Town.active.is_(True), Town.center_lat.is_not(None)))
    for town in towns:
        ratio = _distance_km(lat, lon, town.center_lat, town.center_long) / (town.radius_km or 1)
        if ratio <= 1 and (best_ratio is None or ratio < best_ratio):
            best, best_ratio = town, ratio
    return best


def submit(session, form, *, max_content: int = 4000) -> Open311Request:
    """Check everything, then create the ticket and its Open311 row in one transaction."""
    key = check_key(session, form.get("api_key"))
    entry = _entry(session, (form.get("service_code") or "").strip())
    problems = []
    try:
        lat = _coordinate(form, "lat", -90, 90)
        lon = _coordinate(form, "long", -180, 180)
    except Open311Error as exc:
        raise exc
    if (lat is None) != (lon is None):
        problems.append("lat and long must be given together")
    address = (form.get("address_string") or "").strip() or None
    if lat is None and not address:
        problems.append("a location is required: lat and long, or address_string")
    if address and len(address) > 300:
        problems.append("address_string must be at most 300 characters")
    description = (form.get("description") or "").strip()
    if not description:
        problems.append("description is required: what is the problem?")
    ticket_type = (form.get("attribute[type]") or "").strip() or DEFAULT_TYPE
    if ticket_type not in TYPES:
        problems.append(f"attribute[type] must be one of {', '.join(TYPES)}")
    if problems:
        raise bad_request(*problems)
    town = None
    if lat is not None:
        town = town_at(session, lat, lon)
        if town is None:
            raise bad_request(f"lat/long ({lat}, {lon}) is outside every town of the county; "
                              "this service covers 博罗县 only")
    name = " ".join(p for p in ((form.get("last_name") or "").strip(), (form.get("first_name") or "").strip()) if p)
    data = {"type": ticket_type, "channel": "open311", "content": description, "address": address,
            "town": town.code if town else None,
            "caller": {"name": name or None, "phone": (form.get("phone") or "").strip() or None}}
    try:
        ticket = create_ticket(session, data, Actor(username=f"open311:{key.name}", role=lifecycle.OPERATOR),
                               max_content=max_content, commit=False)
    except ValidationFailed as exc:
        session.rollback()
        details = [f"{_open311_field(k)}: {v}" for k, v in (exc.fields or {}).items()]
        raise bad_request(*(details or [exc.message])) from None
    row = Open311Request(ticket_id=ticket.id, service_code=_code(entry), token=secrets.token_urlsafe(18),
                         key_id=key.id, lat=lat, long=lon, requested_at=ticket.received_at)
    session.add(row)
    session.commit()
    return row


_FIELD_NAMES = {"caller.phone": "phone", "caller.name": "first_name/last_name", "content": "description",
                "address": "address_string", "type": "attribute[type]"}


def _open311_field(field: str) -> str:
    return _FIELD_NAMES.get(field, field)


# -- reading -------------------------------------------------------------------------------------
def _status(ticket: Ticket) -> str:
    return "closed" if ticket.status in lifecycle.FINAL_STATUSES else "open"


def _status_notes(ticket: Ticket) -> str | None:
    if ticket.status in APPROVED_REPLY and ticket.reply_text and ticket.replied_at:
        return ticket.reply_text
    if ticket.status == lifecycle.CLOSED and ticket.direct_answer and ticket.direct_answer.get("answer"):
        return ticket.direct_answer["answer"]
    if ticket.status == lifecycle.MERGED:
        return "已与同一诉求合并办理"
    if ticket.status == lifecycle.INVALID:
        return "无效诉求"
    return None


def request_view(row: Open311Request, services: dict[str, str]) -> dict:
    """One request as the public sees it: never the submitter's name, phone or email."""
    t = row.ticket
    return {
        "service_request_id": t.number, "status": _status(t), "status_notes": _status_notes(t),
        "service_name": services.get(row.service_code), "service_code": row.service_code,
        "description": t.content, "agency_responsible": t.main_department.name if t.main_department else None,
        "service_notice": None, "requested_datetime": iso(t.received_at), "updated_datetime": iso(t.updated_at),
        "expected_datetime": iso(t.reply_by), "address": t.address,
        "address_id": None, "zipcode": None, "lat": row.lat, "long": row.long, "media_url": None,
    }


def service_names(session) -> dict[str, str]:
    return {f"c{i}": m for i, m in session.execute(select(CatalogueEntry.id, CatalogueEntry.matter))}


def _query():
    return select(Open311Request).options(
        joinedload(Open311Request.ticket).joinedload(Ticket.main_department))


def get_request(session, number: str) -> Open311Request:
    row = session.scalar(_query().join(Open311Request.ticket).where(Ticket.number == number))
    if row is None:
        raise Open311Error(404, f"service request {number[:40]!r} not found")
    return row


def by_token(session, token: str) -> Open311Request:
    row = session.scalar(_query().where(Open311Request.token == token))
    if row is None:
        raise Open311Error(404, f"token {token[:40]!r} not found")
    return row


def _date(args, name: str) -> datetime | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise bad_request(f"{name} must be a W3C date-time such as 2026-12-01T09:30:00+08:00") from None
    return to_utc_naive(value)


def _int(args, name: str, default: int, low: int, high: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise bad_request(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def search(session, args) -> list[Open311Request]:
    """GET requests: by id list, or by service/date/status filters; newest first, bounded."""
    ids = [i.strip() for i in (args.get("service_request_id") or "").split(",") if i.strip()]
    page_size = _int(args, "page_size", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = _int(args, "page", 1, 1, 10_000)
    stmt = _query().join(Open311Request.ticket)
    if ids:  # the spec: an id list overrides every other parameter
        if len(ids) > MAX_PAGE_SIZE:
            raise bad_request(f"at most {MAX_PAGE_SIZE} service_request_id values at once")
        stmt = stmt.where(Ticket.number.in_(ids))
    else:
        start, end = _date(args, "start_date"), _date(args, "end_date")
        if start and end and start > end:
            raise bad_request("start_date must not be after end_date")
        if start and end and end - start > WINDOW:
            raise bad_request("start_date to end_date may span at most 90 days")
        if end is None:
            end = start + WINDOW if start else utcnow()
        if start is None:
            start = end - WINDOW
        stmt = stmt.where(Open311Request.requested_at >= start, Open311Request.requested_at <= end)
        codes = [c.strip() for c in (args.get("service_code") or "").split(",") if c.strip()]
        if codes:
            stmt = stmt.where(Open311Request.service_code.in_(codes))
        statuses = {s.strip() for s in (args.get("status") or "").split(",") if s.strip()}
        if statuses - {"open", "closed"}:
            raise bad_request("status must be open, closed or both (comma-separated)")
        if statuses == {"open"}:
            stmt = stmt.where(Ticket.status.not_in(lifecycle.FINAL_STATUSES))
        elif statuses == {"closed"}:
            stmt = stmt.where(Ticket.status.in_(lifecycle.FINAL_STATUSES))
    stmt = stmt.order_by(Open311Request.requested_at.desc(), Open311Request.ticket_id.desc())
    return list(session.scalars(stmt.limit(page_size).offset((page - 1) * page_size)))
