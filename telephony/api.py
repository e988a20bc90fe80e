"""REST API for calls and recordings (/api/v1). Thin: parse, call one service, serialize.

Operators, supervisors and admins see every call; a department sees only calls linked to tickets it
holds (same 404 as for a missing call). Recordings support HTTP Range so a browser can seek.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, send_file

from hotline.auth import current_actor, roles_required
from hotline.extensions import db
from ticketing import access

from telephony import service

bp = Blueprint("telephony_api", __name__, url_prefix="/api/v1")


@bp.get("/calls/<call_id>")
@roles_required()
def get_call(call_id: str):
    actor = current_actor()
    call, ticket = service.get_call(db.session, call_id, actor)
    out = service.call_view(call, ticket, actor)
    access.record_calls(db.session, actor, [(call, ticket)], f"GET {request.path}")
    return jsonify(out)


@bp.get("/calls/<call_id>/recording")
@roles_required()
def get_recording(call_id: str):
    """The citizen's recording (kept for existing clients: same as .../recordings/caller)."""
    return _send_recording(call_id, "caller")


@bp.get("/calls/<call_id>/recordings")
@roles_required()
def list_recordings(call_id: str):
    return jsonify(service.list_recordings(db.session, call_id, current_actor()))


@bp.get("/calls/<call_id>/recordings/<leg>")
@roles_required()
def get_leg_recording(call_id: str, leg: str):
    return _send_recording(call_id, leg)


def _send_recording(call_id: str, leg: str):
    actor = current_actor()
    path, call, ticket = service.recording_file(db.session, call_id, actor,
                                                current_app.config["HOTLINE"].recordings_dir, leg)
    if request.range is None or request.range.ranges[0][0] == 0:  # a seek is not a new playback
        access.record_recording(db.session, actor, call, ticket, f"GET {request.path}")
    response = send_file(path, mimetype="audio/wav", conditional=True,
                         download_name=f"{call_id}-{leg}.wav", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/tickets/<number>/calls")
@roles_required()
def ticket_calls(number: str):
    actor = current_actor()
    ticket, calls = service.calls_of_ticket(db.session, number, actor)
    out = [service.call_view(c, ticket, actor) for c in calls]
    access.record_calls(db.session, actor, [(c, ticket) for c in calls], f"GET {request.path}")
    return jsonify({"items": out})
