"""Supervision REST API (/api/v1): KPIs and exports, ranking, deadline lists, 督办, callbacks.

Who sees what: supervisors and admins see every unit. A department user sees only its own unit:
``/kpis`` (and exports) are filtered to its unit whatever ``group_by`` is; the lists are filtered to
tickets it holds as main unit; ranking and escalations are for the hotline's staff only.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user
from sqlalchemy import select

from hotline.auth import current_actor, roles_required
from hotline.extensions import db
from ticketing import urging as urging_service
from ticketing.api import json_body, page_args
from hotline.clock import to_local, utcnow
from hotline.exceptions import ValidationFailed
from ticketing.lifecycle import ADMIN, DEPARTMENT, OPERATOR, SUPERVISOR
from ticketing.models import Department
from ticketing.schemas import NoteIn, parse
from ticketing.sla import TYPES

from . import kpis, lists, service
from .hotspots import HotspotSettings
from .scan import run_scan
from .schemas import Settings

bp = Blueprint("supervision_api", __name__, url_prefix="/api/v1")
STAFF = (SUPERVISOR, ADMIN)
DESK = (OPERATOR, SUPERVISOR, ADMIN)


def _settings() -> Settings:
    return Settings.from_config(current_app.config["HOTLINE"])


def _own_unit() -> int | None:
    return current_user.department_id if current_user.role == DEPARTMENT else None


def _department_id(code: str) -> int:
    dept = db.session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise ValidationFailed("unknown department", {"department": f"unknown department {code!r}"})
    return dept.id


def _report():
    today = to_local(utcnow()).date()
    start, end = kpis.parse_period(request.args.get("from"), request.args.get("to"), today)
    group_by = request.args.get("group_by", "department")
    department_id = _own_unit()
    code = request.args.get("department")
    if code and department_id is None:
        department_id = _department_id(code)
    ticket_type = request.args.get("type")
    if ticket_type and ticket_type not in TYPES:
        raise ValidationFailed("unknown type", {"type": f"one of {', '.join(TYPES)}"})
    return kpis.report(db.session, start, end, group_by, answer_target=_answer_target(),
                       department_id=department_id, ticket_type=ticket_type)


def _answer_target() -> int:
    return current_app.config["HOTLINE"].answer_target_seconds


@bp.get("/kpis")
@roles_required(SUPERVISOR, ADMIN, DEPARTMENT)
def kpi_report():
    return jsonify(_report())


@bp.get("/kpis/export.csv")
@roles_required(SUPERVISOR, ADMIN, DEPARTMENT)
def kpi_csv():
    rep = _report()
    name = f"kpi_{rep['group_by']}_{rep['from']}_{rep['to']}.csv"
    return Response(kpis.to_csv(rep), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/kpis/export.xlsx")
@roles_required(SUPERVISOR, ADMIN, DEPARTMENT)
def kpi_xlsx():
    rep = _report()
    name = f"kpi_{rep['group_by']}_{rep['from']}_{rep['to']}.xlsx"
    return Response(kpis.to_xlsx(rep),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/kpis/trend")
@roles_required(SUPERVISOR, ADMIN, DEPARTMENT)
def kpi_trend():
    """Per-day series for charts (default the last 30 days; at most 366 days)."""
    today = to_local(utcnow()).date()
    start, end = kpis.parse_period(request.args.get("from"), request.args.get("to"), today)
    if (end - start).days > 365:
        raise ValidationFailed("period too long for a daily trend", {"from": "at most 366 days"})
    department_id = _own_unit()
    code = request.args.get("department")
    if code and department_id is None:
        department_id = _department_id(code)
    return jsonify(kpis.trend(db.session, start, end, answer_target=_answer_target(), department_id=department_id))


@bp.get("/kpis/ranking")
@roles_required(*STAFF)
def kpi_ranking():
    today = to_local(utcnow()).date()
    start, end = kpis.parse_period(request.args.get("from"), request.args.get("to"), today)
    return jsonify(kpis.ranking(db.session, start, end, request.args.get("kpi"), answer_target=_answer_target()))


# -- deadline lists -------------------------------------------------------------------------------
def _deadline_list(overdue: bool):
    page, per_page = page_args()
    return jsonify(lists.deadline_page(db.session, utcnow(), _settings(), overdue=overdue,
                                       department_id=_own_unit(), page=page, per_page=per_page))


@bp.get("/supervision/near-deadline")
@roles_required(SUPERVISOR, ADMIN, DEPARTMENT)
def near_deadline():
    return _deadline_list(overdue=False)


@bp.get("/supervision/overdue")
@roles_required(SUPERVISOR, ADMIN, DEPARTMENT)
def overdue():
    return _deadline_list(overdue=True)


@bp.get("/supervision/escalations")
@roles_required(*STAFF)
def escalations():
    page, per_page = page_args()
    code = request.args.get("department")
    return jsonify(lists.escalation_page(db.session, department_id=_department_id(code) if code else None,
                                         page=page, per_page=per_page))


@bp.get("/supervision/tickets/<number>/cards")
@roles_required(*STAFF)
def ticket_cards(number):
    return jsonify(items=service.cards(db.session, number))


@bp.post("/supervision/scan")
@roles_required(ADMIN)
def scan_now():
    return jsonify(run_scan(db.session, utcnow(), _settings(),
                            HotspotSettings.from_config(current_app.config["HOTLINE"])))


# -- 督办 ------------------------------------------------------------------------------------------
@bp.post("/supervision/urgings")
@roles_required(*STAFF)
def urge():
    """Body ``{"number", "note", "due_at"?}`` urges one ticket; ``{"department", ...}`` a unit."""
    body = json_body()
    if "department" in body and "number" not in body:
        return jsonify(service.urge_unit(db.session, current_actor(), body)), 201
    number = body.pop("number", None)
    if not isinstance(number, str) or not number:
        raise ValidationFailed("give a ticket number or a department", {"number": "required (or department)"})
    return jsonify(service.urge_ticket(db.session, number, current_actor(), body)), 201


@bp.get("/supervision/urgings")
@roles_required(SUPERVISOR, ADMIN, DEPARTMENT)
def list_urgings():
    page, per_page = page_args()
    state = request.args.get("state") or ("open" if request.args.get("open") in ("1", "true", "yes") else None)
    if state and state not in lists.URGING_STATES:
        raise ValidationFailed("unknown state", {"state": f"one of {', '.join(lists.URGING_STATES)}"})
    department_id = _own_unit()
    code = request.args.get("department")
    if code and department_id is None:
        department_id = _department_id(code)
    return jsonify(lists.urging_page(db.session, state=state, department_id=department_id, page=page,
                                     per_page=per_page))


@bp.post("/urgings/<int:urging_id>/acknowledge")
@roles_required(DEPARTMENT)
def acknowledge(urging_id):
    note = parse(NoteIn, json_body() if request.get_data() else {}).note
    u = urging_service.acknowledge(db.session, urging_id, current_actor(), note=note)
    return jsonify(service.urging_view(u, u.ticket))


# -- callbacks (回访) ----------------------------------------------------------------------------
@bp.get("/supervision/callbacks")
@roles_required(*DESK)
def callbacks():
    page, per_page = page_args()
    return jsonify(lists.callback_page(db.session, page=page, per_page=per_page))


@bp.post("/supervision/callbacks/<number>")
@roles_required(*DESK)
def record_callback(number):
    return jsonify(service.record_callback(db.session, number, current_actor(), json_body()))
