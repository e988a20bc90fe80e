"""/api/v1/quality: thin views over quality.service (质检)."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, current_app, jsonify, request

from hotline.auth import current_actor, roles_required
from hotline.clock import utcnow
from hotline.exceptions import ValidationFailed
from hotline.extensions import db
from hotline.identity import ADMIN, OPERATOR
from ticketing.api import _int_arg, json_body

from . import service
from .models import STATES

bp = Blueprint("quality_api", __name__, url_prefix="/api/v1/quality")
INSPECTORS = service.INSPECTORS
STAFF = (OPERATOR, *INSPECTORS)


@bp.get("/rubric")
@roles_required(*STAFF)
def get_rubric():
    return jsonify(service.rubric_view(db.session))


@bp.put("/rubric")
@roles_required(ADMIN)
def put_rubric():
    return jsonify(service.set_rubric(db.session, json_body(), current_actor()))


@bp.get("/inspections")
@roles_required(*STAFF)
def list_inspections():
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        raise ValidationFailed("unknown state", {"state": f"one of {', '.join(STATES)}"})
    return jsonify(service.list_inspections(
        db.session, current_actor(), operator=request.args.get("operator") or None, state=state,
        inspector=request.args.get("inspector") or None, page=_int_arg("page", 1, 1, 100000),
        per_page=_int_arg("per_page", 50, 1, 200)))


@bp.get("/inspections/<int:inspection_id>")
@roles_required(*STAFF)
def get_inspection(inspection_id: int):
    return jsonify(service.view(service.get_inspection(db.session, inspection_id, current_actor())))


@bp.post("/inspections/<int:inspection_id>/score")
@roles_required(*INSPECTORS)
def score(inspection_id: int):
    return jsonify(service.score(db.session, inspection_id, json_body(), current_actor()))


@bp.post("/inspections/<int:inspection_id>/appeal")
@roles_required(OPERATOR)
def appeal(inspection_id: int):
    return jsonify(service.appeal(db.session, inspection_id, json_body(), current_actor()))


@bp.post("/inspections/<int:inspection_id>/decision")
@roles_required(*INSPECTORS)
def decide(inspection_id: int):
    return jsonify(service.decide(db.session, inspection_id, json_body(), current_actor()))


@bp.post("/run")
@roles_required(*INSPECTORS)
def run():
    """Inspect the calls waiting for it now, then fill the queues of ``day`` (default yesterday)."""
    body = json_body()
    raw = body.get("day")
    try:
        day = date.fromisoformat(raw) if raw is not None else (utcnow() - timedelta(days=1)).date()
    except (TypeError, ValueError):
        raise ValidationFailed("day must be a date YYYY-MM-DD", {"day": "YYYY-MM-DD"}) from None
    inspected = service.inspect_pending(db.session, current_app.config["HOTLINE"].recordings_dir)
    return jsonify({"inspected_now": inspected, **service.fill_queues(db.session, day, current_actor())})


@bp.get("/trends")
@roles_required(*STAFF)
def trends():
    return jsonify(service.trends(db.session, current_actor(), operator=request.args.get("operator") or None,
                                  days=_int_arg("days", 56, 1, 366)))


def openapi_paths() -> dict:
    from hotline.openapi import ERROR, response

    obj = {"type": "object"}
    errors = {c: response(t, ERROR) for c, t in (("401", "not authenticated"), ("403", "role not allowed"),
                                                  ("404", "no such inspection (or not yours)"),
                                                  ("409", "state does not allow it"), ("422", "validation failed"))}
    body = {"required": True, "content": {"application/json": {"schema": obj}}}
    ident = [{"name": "inspection_id", "in": "path", "required": True, "schema": {"type": "integer"}}]

    def op(summary: str, **extra) -> dict:
        return {"summary": summary, "responses": {"200": response("the result", obj), **errors}, **extra}

    return {
        "/api/v1/quality/rubric": {
            "get": op("质检 rubric: greeting phrases, forbidden words, thresholds, deductions, scoring items, sampling"),
            "put": op("Replace the rubric (admin); later inspections use the new version", requestBody=body)},
        "/api/v1/quality/inspections": {"get": op(
            "Inspected calls, newest first (an operator sees only their own)", parameters=[
                {"name": "state", "in": "query", "schema": {"enum": list(STATES)}},
                {"name": "operator", "in": "query", "schema": {"type": "string"}},
                {"name": "inspector", "in": "query", "schema": {"type": "string"}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}])},
        "/api/v1/quality/inspections/{inspection_id}": {"get": op(
            "One inspection with its findings and evidence (timestamps into the recording)", parameters=ident)},
        "/api/v1/quality/inspections/{inspection_id}/score": {"post": op(
            "The inspector's score: points per rubric item and a comment", parameters=ident, requestBody=body)},
        "/api/v1/quality/inspections/{inspection_id}/appeal": {"post": op(
            "The operator appeals their result (once)", parameters=ident, requestBody=body)},
        "/api/v1/quality/inspections/{inspection_id}/decision": {"post": op(
            "Decide an appeal: upheld (with the corrected score) or rejected", parameters=ident, requestBody=body)},
        "/api/v1/quality/run": {"post": op(
            "Inspect pending calls now and fill the inspectors' queues for a day", requestBody=body)},
        "/api/v1/quality/trends": {"get": op(
            "Per operator and week: calls inspected, mean score, failures per check", parameters=[
                {"name": "operator", "in": "query", "schema": {"type": "string"}},
                {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 366}}])},
    }
