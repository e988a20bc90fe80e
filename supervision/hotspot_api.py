"""REST API of the hot topics (热点诉求) and the department assessment (考核): supervisors and admins
read, admins change the scheme and publish a month. Thin: parse, call the module, serialize."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from hotline.auth import current_actor, roles_required
from hotline.clock import to_local, utcnow
from hotline.exceptions import ValidationFailed
from hotline.extensions import db
from ticketing.api import json_body
from ticketing.lifecycle import ADMIN, SUPERVISOR

from . import assessment, hotspots

bp = Blueprint("hotspots_api", __name__, url_prefix="/api/v1")
STAFF = (SUPERVISOR, ADMIN)


def _today():
    return to_local(utcnow()).date()


def _target() -> int:
    return current_app.config["HOTLINE"].answer_target_seconds


@bp.get("/hotspots")
@roles_required(*STAFF)
def hotspot_report():
    settings = hotspots.HotspotSettings.from_config(current_app.config["HOTLINE"])
    day = hotspots.parse_day(request.args.get("day"), _today())
    return jsonify(hotspots.report(db.session, day, settings))


@bp.get("/assessment/scheme")
@roles_required(*STAFF)
def get_scheme():
    return jsonify({**assessment.current_scheme(db.session), "labels": assessment.labels()})


@bp.put("/assessment/scheme")
@roles_required(ADMIN)
def put_scheme():
    return jsonify({**assessment.save_scheme(db.session, json_body(), current_actor()),
                    "labels": assessment.labels()})


@bp.get("/assessment")
@roles_required(*STAFF)
def month():
    m = assessment.parse_month(request.args.get("month"), _today())
    return jsonify(assessment.month_view(db.session, m, answer_target=_target()))


@bp.post("/assessment/<month>/publish")
@roles_required(ADMIN)
def publish(month):
    m = assessment.parse_month(month, _today())
    body = request.get_json(silent=True) or {}
    note = body.get("note") if isinstance(body, dict) else None
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise ValidationFailed("invalid note", {"note": "text of at most 500 characters"})
    return jsonify(assessment.publish(db.session, m, current_actor(), _today(), answer_target=_target(), note=note))


@bp.get("/assessment/export.xlsx")
@roles_required(*STAFF)
def export_xlsx():
    m = assessment.parse_month(request.args.get("month"), _today())
    view = assessment.month_view(db.session, m, answer_target=_target())
    return Response(assessment.to_xlsx(view),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="assessment-{view["month"]}.xlsx"'})


def openapi_paths() -> dict:
    from hotline.openapi import ERROR, response

    obj = {"type": "object"}
    errors = {c: response(t, ERROR) for c, t in (("401", "not authenticated"), ("403", "role not allowed"),
                                                  ("422", "validation failed"))}
    month_q = {"name": "month", "in": "query", "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
               "description": "YYYY-MM; default the last month that has ended"}
    scheme = {"type": "object", "required": ["weights", "deductions"], "additionalProperties": False, "properties": {
        "weights": {"type": "object", "additionalProperties": {"type": "number", "minimum": 0, "maximum": 100},
                    "description": "points per KPI key of /api/v1/kpis (sign_rate, on_time_rate, ...)"},
        "deductions": {"type": "object", "properties": {k: {"type": "number", "minimum": 0, "maximum": 100}
                                                        for k in assessment.DEDUCTIONS},
                       "additionalProperties": False}}}
    return {
        "/api/v1/hotspots": {"get": {
            "summary": "热点诉求 of one day: busiest catalogue matter x town cells with their week-over-week "
                       "spike test, spikes, clusters of similar requests, alerts announced",
            "parameters": [{"name": "day", "in": "query", "schema": {"type": "string", "format": "date"},
                            "description": "YYYY-MM-DD (China time); default today"}],
            "responses": {"200": response("the day's hot topics", obj), **errors}}},
        "/api/v1/assessment/scheme": {
            "get": {"summary": "The assessment scheme in force (KPI weights, points per deduction event)",
                    "responses": {"200": response("the scheme", obj), **errors}},
            "put": {"summary": "Replace the assessment scheme (admin); published months keep theirs",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": scheme}}},
                    "responses": {"200": response("the new scheme", obj), "400": response("not JSON", ERROR),
                                  **errors}}},
        "/api/v1/assessment": {"get": {
            "summary": "One month's assessment: score, rank and breakdown per unit (the published snapshot, "
                       "or computed live while unpublished)",
            "parameters": [month_q], "responses": {"200": response("the month", obj), **errors}}},
        "/api/v1/assessment/{month}/publish": {"post": {
            "summary": "Publish (freeze) a month that has ended (admin): later edits do not change it",
            "parameters": [{"name": "month", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"}}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"note": {"type": "string", "maxLength": 500}}}}}},
            "responses": {"200": response("the published month", obj),
                          "409": response("already published", ERROR), **errors}}},
        "/api/v1/assessment/export.xlsx": {"get": {
            "summary": "The month's assessment as XLSX (the same figures as the page)", "parameters": [month_q],
            "responses": {"200": {"description": "XLSX workbook", "content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}}}}, **errors}}},
    }
