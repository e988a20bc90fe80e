"""REST API /api/v1 for the case record. Thin: parse, call one service, serialize."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from pydantic import TypeAdapter

from hotline.auth import current_actor, roles_required
from hotline.extensions import db
from hotline.exceptions import TicketingError, ValidationFailed

from . import access, attachments, contact, deadlines, directory, service
from .lifecycle import ADMIN, DEPARTMENT, OPERATOR, SUPERVISOR
from .privacy import ticket_view
from .schemas import YEARS, SaneDatetime

_SANE_TIME = TypeAdapter(SaneDatetime)

bp = Blueprint("ticketing_api", __name__, url_prefix="/api/v1")
DESK = (OPERATOR, SUPERVISOR, ADMIN)


class InvalidJSON(TicketingError):
    status, code = 400, "invalid_json"


def json_body() -> dict:
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidJSON("request body must be valid JSON with Content-Type application/json")
    if not isinstance(data, dict):
        raise InvalidJSON("request body must be a JSON object")
    return data


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be an integer", {name: "must be an integer"}) from None
    if not lo <= value <= hi:
        raise ValidationFailed(f"{name} out of range", {name: f"between {lo} and {hi}"})
    return value


def page_args() -> tuple[int, int]:
    """``page`` and ``per_page`` of a paged list (per_page bounded by the configured maximum)."""
    return (_int_arg("page", 1, 1, 1_000_000),
            _int_arg("per_page", 50, 1, current_app.config["HOTLINE"].page_size_max))


def _date_arg(name: str):
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return _SANE_TIME.validate_python(datetime.fromisoformat(raw))
    except ValueError:
        raise ValidationFailed(f"{name} must be an ISO date between {YEARS[0]} and {YEARS[1]}",
                               {name: f"expected YYYY-MM-DD or an ISO datetime, {YEARS[0]}-{YEARS[1]}"}) from None


def _via() -> str:
    """The endpoint an access record names (method and path, without the query string)."""
    return f"{request.method} {request.path}"


# -- tickets -------------------------------------------------------------------------------------
@bp.post("/tickets")
@roles_required(*DESK)
def create_ticket():
    ticket = service.create_ticket(db.session, json_body(), current_actor(),
                                   max_content=current_app.config["HOTLINE"].max_content_chars)
    return jsonify(ticket_view(ticket, current_user.role)), 201


@bp.get("/tickets")
@roles_required()
def list_tickets():
    overdue_raw = request.args.get("overdue")
    overdue = None if overdue_raw is None else overdue_raw.lower() in ("1", "true", "yes")
    per_page = _int_arg("per_page", 50, 1, current_app.config["HOTLINE"].page_size_max)
    page = _int_arg("page", 1, 1, 1_000_000)
    args = request.args
    total, rows = service.list_tickets(
        db.session, current_actor(), status=args.get("status"), type_=args.get("type"), channel=args.get("channel"),
        department=args.get("department"), town=args.get("town"), date_from=_date_arg("from"),
        date_to=_date_arg("to"), overdue=overdue, deadline=args.get("deadline"),
        phone=args.get("phone") if current_user.role != DEPARTMENT else None,
        phone_tail=args.get("phone_tail"), q=args.get("q"), sort=args.get("sort", "-created"),
        page=page, per_page=per_page)
    out = [ticket_view(t, current_user.role) for t in rows]
    access.record_tickets(db.session, current_actor(), rows, _via())
    return jsonify(items=out, total=total, page=page, per_page=per_page)


@bp.post("/tickets/<number>/contact")
@roles_required(DEPARTMENT)
def contact_citizen(number):
    """联系诉求人: handed to the SIP process; the answer never holds the citizen's number."""
    out = contact.request_contact(db.session, number, current_actor(), user_id=current_user.id,
                                  extension=current_user.sip_extension,
                                  daily_limit=current_app.config["HOTLINE"].contact_daily_limit)
    return jsonify(out), 202


@bp.get("/tickets/<number>")
@roles_required()
def get_ticket(number):
    ticket = service.get_ticket(db.session, number, current_actor())
    out = ticket_view(ticket, current_user.role, with_events=True)
    access.record_tickets(db.session, current_actor(), [ticket], _via())
    return jsonify(out)


@bp.post("/tickets/<number>/actions/<action>")
@roles_required()
def act(number, action):
    body = request.get_json(silent=True) if request.data else {}
    if body is None or not isinstance(body, dict):
        raise InvalidJSON("request body must be a JSON object")
    ticket = service.perform(db.session, number, action, current_actor(), body,
                             attachments_dir=attachments.store_dir(current_app.config["HOTLINE"]))
    out = ticket_view(ticket, current_user.role, with_events=True)
    access.record_tickets(db.session, current_actor(), [ticket], _via())
    return jsonify(out)


@bp.get("/callers/<phone>/tickets")
@roles_required(*DESK)
def caller_tickets(phone):
    rows = service.caller_history(db.session, phone, exclude=request.args.get("exclude"))
    out = [ticket_view(t, current_user.role) for t in rows]
    access.record_tickets(db.session, current_actor(), rows, _via())
    return jsonify(items=out)


# -- directory -----------------------------------------------------------------------------------
def _dept(d) -> dict:
    return {"code": d.code, "name": d.name, "kind": d.kind, "active": d.active}


@bp.get("/departments")
@roles_required()
def departments():
    include = request.args.get("include_retired") in ("1", "true") and current_user.role == ADMIN
    return jsonify([_dept(d) for d in directory.list_departments(db.session, include_retired=include)])


@bp.post("/departments")
@roles_required(ADMIN)
def add_department():
    body = json_body()
    dept = directory.add_department(db.session, body.get("code"), body.get("name"), current_user.username,
                                    kind=body.get("kind", "county"))
    return jsonify(_dept(dept)), 201


@bp.patch("/departments/<code>")
@roles_required(ADMIN)
def update_department(code):
    body = json_body()
    unknown = set(body) - {"name", "active"}
    if unknown:
        raise ValidationFailed("unknown fields", {k: "not allowed" for k in unknown})
    dept = directory.update_department(db.session, code, current_user.username, name=body.get("name"),
                                       active=body.get("active"))
    return jsonify(_dept(dept))


@bp.get("/departments/<code>/history")
@roles_required(SUPERVISOR, ADMIN)
def department_history(code):
    rows = directory.department_history(db.session, code)
    return jsonify([{"change": r.change, "old": r.old_value, "new": r.new_value, "actor": r.actor,
                     "at": r.created_at.isoformat()} for r in rows])


@bp.get("/towns")
@roles_required()
def towns():
    return jsonify([{"code": t.code, "name": t.name} for t in directory.list_towns(db.session)])


@bp.post("/towns")
@roles_required(ADMIN)
def add_town():
    body = json_body()
    town = directory.add_town(db.session, body.get("code"), body.get("name"), current_user.username)
    return jsonify({"code": town.code, "name": town.name}), 201


# -- deadlines -----------------------------------------------------------------------------------
@bp.get("/sla/policy")
@roles_required(SUPERVISOR, ADMIN)
def sla_policy():
    return jsonify(deadlines.policy_table(db.session))


@bp.put("/sla/policy")
@roles_required(ADMIN)
def set_sla_policy():
    body = request.get_json(silent=True)
    if not isinstance(body, list):
        raise InvalidJSON("body must be a JSON list of policy rows")
    return jsonify(deadlines.set_policy(db.session, body))


@bp.get("/calendar")
@roles_required(SUPERVISOR, ADMIN)
def calendar_status():
    return jsonify(deadlines.calendar_status(db.session))


@bp.put("/calendar/<int:year>")
@roles_required(ADMIN)
def enter_calendar_year(year):
    body = json_body()
    return jsonify(deadlines.enter_year(db.session, year, body.get("holidays", []), body.get("workdays", []),
                                        current_user.username))


# -- privacy -------------------------------------------------------------------------------------
@bp.get("/privacy/access-records")
@roles_required(ADMIN)
def access_records():
    per_page = _int_arg("per_page", 50, 1, current_app.config["HOTLINE"].page_size_max)
    page = _int_arg("page", 1, 1, 1_000_000)
    total, items = access.listing(db.session, ticket=request.args.get("ticket") or None,
                                  actor=request.args.get("actor") or None, kind=request.args.get("kind") or None,
                                  date_from=_date_arg("from"), date_to=_date_arg("to"), page=page,
                                  per_page=per_page)
    return jsonify(items=items, total=total, page=page, per_page=per_page)
