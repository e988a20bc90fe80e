"""The reports' API (/api/v1/reports…): the report table, the tickets behind a figure, exports.

Supervisors and admins only: a report compares units (a department's own figures are at
``/api/v1/kpis``). Every answer takes the same query (``from``, ``to``, ``group_by``,
``department``, ``type``, ``sort``, ``order``), so an export is the table the page shows.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from hotline.auth import roles_required
from hotline.clock import to_local, utcnow
from hotline.exceptions import ValidationFailed
from hotline.extensions import db
from ticketing.api import page_args
from ticketing.lifecycle import ADMIN, SUPERVISOR
from ticketing.models import Department
from ticketing.sla import TYPES

from . import kpis, report_export, reports

bp = Blueprint("supervision_reports", __name__, url_prefix="/api/v1/reports")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _query() -> dict:
    args = request.args
    start, end = kpis.parse_period(args.get("from"), args.get("to"), to_local(utcnow()).date())
    department_id = None
    if args.get("department"):
        department_id = db.session.scalar(select(Department.id).where(Department.code == args["department"]))
        if department_id is None:
            raise ValidationFailed("unknown department", {"department": f"unknown department {args['department']!r}"})
    ticket_type = args.get("type") or None
    if ticket_type and ticket_type not in TYPES:
        raise ValidationFailed("unknown type", {"type": f"one of {', '.join(TYPES)}"})
    return {"start": start, "end": end, "group": args.get("group_by", "unit"), "department_id": department_id,
            "ticket_type": ticket_type, "answer_target": current_app.config["HOTLINE"].answer_target_seconds}


def _report():
    q = _query()
    return reports.report(db.session, q.pop("start"), q.pop("end"), q.pop("group"), sort=request.args.get("sort") or None,
                          order=request.args.get("order", "desc"), **q)


@bp.get("")
@roles_required(SUPERVISOR, ADMIN)
def report():
    return jsonify(_report())


@bp.get("/tickets")
@roles_required(SUPERVISOR, ADMIN)
def report_tickets():
    q = _query()
    page, per_page = page_args()
    return jsonify(reports.tickets(db.session, q.pop("start"), q.pop("end"), q.pop("group"), request.args.get("key"),
                                   request.args.get("kpi", "received"), request.args.get("part", "denominator"),
                                   page=page, per_page=per_page, **q))


def _filename(rep: dict, ext: str) -> str:
    return f"report_{rep['group_by']}_{rep['from']}_{rep['to']}.{ext}"


@bp.get("/export.csv")
@roles_required(SUPERVISOR, ADMIN)
def export_csv():
    rep = _report()
    return Response(report_export.to_csv(rep), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={_filename(rep, 'csv')}"})


@bp.get("/export.xlsx")
@roles_required(SUPERVISOR, ADMIN)
def export_xlsx():
    rep = _report()
    return Response(report_export.to_xlsx(rep), mimetype=XLSX,
                    headers={"Content-Disposition": f"attachment; filename={_filename(rep, 'xlsx')}"})


def openapi_paths() -> dict:
    from hotline.openapi import errors, response

    string = {"type": "string"}
    date = {"type": "string", "format": "date"}
    cols = [c["key"] for c in reports.columns(15)]
    query = [{"name": "from", "in": "query", "schema": date}, {"name": "to", "in": "query", "schema": date},
             {"name": "group_by", "in": "query", "schema": {"enum": list(reports.GROUPS), "default": "unit"}},
             {"name": "department", "in": "query", "schema": string, "description": "a unit's code"},
             {"name": "type", "in": "query", "schema": {"enum": list(TYPES)}},
             {"name": "sort", "in": "query", "schema": {"enum": ["key"] + cols},
              "description": "rank the rows by this column (rank set on each row)"},
             {"name": "order", "in": "query", "schema": {"enum": ["asc", "desc"], "default": "desc"}}]
    rep = {"type": "object", "required": ["from", "to", "group_by", "columns", "rows", "total"], "properties": {
        "from": string, "to": string, "group_by": string, "columns": {"type": "array", "items": {"type": "object"}},
        "rows": {"type": "array", "items": {"type": "object"}}, "total": {"type": "object"}}}
    drill = query[:5] + [
        {"name": "key", "in": "query", "schema": string, "description": "the row's key (omit: the totals row)"},
        {"name": "kpi", "in": "query", "schema": {"enum": ["received", *reports.TICKET_COLUMNS], "default": "received"}},
        {"name": "part", "in": "query", "schema": {"enum": list(reports.PARTS), "default": "denominator"}},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}]
    page = {"type": "object", "required": ["items", "total", "figure", "page", "per_page"], "properties": {
        "items": {"type": "array", "items": {"type": "object"}}, "total": {"type": "integer"},
        "figure": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}}}

    def binary(mime):
        return {"description": "file", "content": {mime: {"schema": {"type": "string", "format": "binary"}}}}

    errs = errors(401, 403, 422)
    return {
        "/api/v1/reports": {"get": {
            "summary": "报表: the norms' KPIs by unit, type, town, day, week or month, ranked by a column "
                       "(supervisor, admin)", "parameters": query, "responses": {"200": response("report", rep), **errs}}},
        "/api/v1/reports/tickets": {"get": {
            "summary": "The tickets a report figure counts (a KPI's numerator or denominator in one row), paged",
            "parameters": drill, "responses": {"200": response("one page, the total and the figure", page), **errs}}},
        "/api/v1/reports/export.csv": {"get": {"summary": "The report as CSV (the page's figures)",
                                               "parameters": query, "responses": {"200": binary("text/csv"), **errs}}},
        "/api/v1/reports/export.xlsx": {"get": {"summary": "The report as Excel (the page's figures)",
                                                "parameters": query, "responses": {"200": binary(XLSX), **errs}}},
    }
