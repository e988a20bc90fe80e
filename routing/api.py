"""REST API of routing. Thin: parse, call one service, serialize.

POST /api/v1/routing/suggest {"text", "town"?} -> {"departments": [{"code", "name", "score",
"evidence"}], "type", "urgent", "emergency", ...}. ``emergency`` is null or {"number": "110"|"119"|
"120"|"122", "category", "evidence": [...], "also": [other numbers]}. Evidence items are
{"phrase", "source": "catalogue"|"model"|"town", "matter"?, "heard_as"? (homophone), "role"?}.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from hotline.auth import current_actor, current_user, roles_required
from hotline.extensions import db
from ticketing.api import json_body
from ticketing.lifecycle import ADMIN, OPERATOR, SUPERVISOR

from . import catalogue, duplicates, service
from .exceptions import ValidationFailed

bp = Blueprint("routing_api", __name__, url_prefix="/api/v1")
DESK = (OPERATOR, SUPERVISOR, ADMIN)


def _cfg():
    return current_app.config["HOTLINE"]


@bp.post("/routing/suggest")
@roles_required(*DESK)
def suggest():
    return jsonify(service.suggest(db.session, json_body(), max_chars=_cfg().max_content_chars))


@bp.get("/routing/catalogue")
@roles_required(SUPERVISOR, ADMIN)
def list_catalogue():
    fmt = request.args.get("format")
    catalogue.ensure_seeded(db.session)
    if fmt in ("yaml", "csv"):
        mime = "text/csv" if fmt == "csv" else "application/yaml"
        return Response(catalogue.export(db.session, fmt), mimetype=f"{mime}; charset=utf-8")
    entries = catalogue.list_entries(db.session, unit=request.args.get("unit"))
    return jsonify(version=catalogue.version(db.session), items=[e.as_dict() for e in entries])


@bp.post("/routing/catalogue")
@roles_required(ADMIN)
def create_entry():
    catalogue.ensure_seeded(db.session)
    entry = catalogue.create_entry(db.session, json_body(), current_user.username)
    return jsonify(entry.as_dict()), 201


@bp.patch("/routing/catalogue/<int:entry_id>")
@roles_required(ADMIN)
def update_entry(entry_id):
    entry = catalogue.update_entry(db.session, entry_id, json_body(), current_user.username)
    return jsonify(entry.as_dict())


@bp.delete("/routing/catalogue/<int:entry_id>")
@roles_required(ADMIN)
def delete_entry(entry_id):
    catalogue.delete_entry(db.session, entry_id, current_user.username)
    return "", 204


@bp.get("/routing/catalogue/history")
@roles_required(SUPERVISOR, ADMIN)
def catalogue_history():
    raw = request.args.get("entry")
    if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) < 2**31):
        raise ValidationFailed("entry must be an id", {"entry": "must be an integer"})
    rows = catalogue.history(db.session, entry_id=int(raw) if raw else None)
    return jsonify([{"version": r.id, "entry_id": r.entry_id, "action": r.action, "unit": r.unit,
                     "matter": r.matter, "before": r.before, "after": r.after, "actor": r.actor,
                     "source": r.source, "at": r.created_at.isoformat()} for r in rows])


@bp.get("/routing/model")
@roles_required(SUPERVISOR, ADMIN)
def model_status():
    return jsonify(service.model_status(db.session))


@bp.post("/routing/model/retrain")
@roles_required(ADMIN)
def retrain():
    service.request_retrain()
    return jsonify(queued=True), 202


@bp.get("/tickets/<number>/duplicates")
@roles_required(*DESK)
def ticket_duplicates(number):
    hours = request.args.get("window_hours")
    if hours is not None and not (hours.isascii() and hours.isdigit() and 1 <= int(hours) <= 24 * 90):
        raise ValidationFailed("window_hours out of range", {"window_hours": "an integer from 1 to 2160"})
    window = int(hours) if hours else _cfg().duplicate_window_hours
    items = duplicates.find(db.session, number, current_actor(), window)
    return jsonify(number=number, window_hours=window, candidates=items)
