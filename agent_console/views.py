"""Console pages and the few JSON endpoints the REST API lacks (presence, calls, wallboard, lists).

Pages are shells: Jinja renders the frame with autoescape, the browser loads data from the REST API
(session cookie + X-CSRFToken) and builds DOM with textContent. The Socket.IO namespace and the
event fan-out (``realtime.wire``) are wired by agent_console/plugin.py with this blueprint.
"""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_file
from flask_login import current_user, login_required
from hotline.auth import current_actor, roles_required
from hotline.extensions import db
from routing.calls import presence
from routing.calls import service as distribution
from routing.calls.models import STATE_LABELS
from ticketing import access
from ticketing import service as tickets
from ticketing.api import _int_arg, json_body, page_args
from hotline.exceptions import NotFound
from ticketing.lifecycle import ACTION_LABELS, STATUS_LABELS
from ticketing.privacy import ticket_view
from ticketing.sla import TYPES

from . import call_service, realtime, service
from .calls import board

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console/static")
DESK = ("operator", "supervisor", "admin")
PHONE = re.compile(r"^1\d{10}$")
SUPERVISORS = ("supervisor", "admin")


@bp.app_context_processor
def _endpoints():
    return {"console_endpoints": frozenset(current_app.view_functions)}


def _acd_on(config) -> bool:
    """The SIP process queues calls when it registers at a proxy (telephony.queue_audio.media.start_for)."""
    return config.sip_mode == "register" and bool(config.sip_server)


def _page(template: str, page: str, **extra):
    me = {"username": current_user.username, "display_name": current_user.display_name,
          "role": current_user.role, "extension": current_user.sip_extension,
          "department": None if current_user.department is None else
          {"code": current_user.department.code, "name": current_user.department.name}}
    boot = {"page": page, "me": me, "labels": {"status": STATUS_LABELS, "action": ACTION_LABELS,
                                               "state": STATE_LABELS}, "types": list(TYPES),
            "features": {"supervision": "supervision_api.record_callback" in current_app.view_functions,
                         "acd": _acd_on(current_app.config["HOTLINE"]),
                         "routing": "routing_api.suggest" in current_app.view_functions},
            **extra}
    return render_template(template, boot=boot, page=page, **extra)


# -- pages ----------------------------------------------------------------------------------------
@bp.get("/console/operator")
@roles_required("operator", "admin")
def operator():
    return _page("console/operator.html", "operator")


@bp.get("/console/department")
@roles_required("department")
def department():
    return _page("console/department.html", "department")


@bp.get("/console/supervisor")
@roles_required(*SUPERVISORS)
def supervisor():
    return _page("console/supervisor.html", "supervisor")


@bp.get("/console/reports")
@roles_required(*SUPERVISORS)
def reports():
    """报表: the page calls /api/v1/reports (supervision); charts are the vendored Apache ECharts."""
    return _page("console/reports.html", "reports")


@bp.get("/console/tickets/<number>")
@login_required
def case(number):
    try:
        tickets.get_ticket(db.session, number, current_actor())
    except NotFound:
        return render_template("console/not_found.html", number=number), 404
    return _page("console/case.html", "case", number=number)


@bp.get("/console/knowledge")
@login_required
def knowledge():
    return _page("console/knowledge.html", "knowledge", editor=current_user.role in SUPERVISORS)


@bp.get("/console/quality")
@roles_required(*DESK)
def quality():
    """质检: inspectors' queues and scoring, operators' own results and appeals, the admin's rubric
    (data from /api/v1/quality)."""
    return _page("console/quality.html", "quality")


@bp.get("/console/privacy")
@roles_required("admin")
def privacy_records():
    return _page("console/privacy.html", "privacy")


# -- JSON -----------------------------------------------------------------------------------------
@bp.get("/api/v1/console/state")
@roles_required("operator")
def get_state():
    return jsonify(presence.get_state(db.session, current_user.id))


@bp.post("/api/v1/console/state")
@roles_required("operator")
def set_state():
    body = json_body()
    return jsonify(presence.set_state(db.session, current_user, body.get("state")))


@bp.get("/api/v1/console/calls")
@roles_required(*DESK)
def calls():
    targets = None if current_user.role in SUPERVISORS else \
        {t for t in (current_user.username, current_user.sip_extension) if t}
    return jsonify(items=board.visible_to(targets))


@bp.post("/api/v1/console/register")
@roles_required(*DESK)
def register_ticket():
    """The operator's form in one request (``service.register_ticket``)."""
    ticket, created = service.register_ticket(db.session, current_actor(), json_body(),
                                              max_content=current_app.config["HOTLINE"].max_content_chars)
    return jsonify(ticket_view(ticket, current_user.role, with_events=True)), 201 if created else 200


@bp.post("/api/v1/console/calls/link")
@roles_required(*DESK)
def link_call():
    body = json_body()
    return jsonify(service.link_call(db.session, current_actor(), body.get("call_id"), body.get("number")))


@bp.get("/api/v1/console/wallboard")
@roles_required(*SUPERVISORS)
def wallboard():
    return jsonify(service.wallboard(db.session, current_app.config["HOTLINE"].answer_target_seconds))


@bp.get("/api/v1/console/deadlines")
@roles_required(*SUPERVISORS)
def deadlines():
    return jsonify(service.deadline_lists(db.session, current_actor(), via=f"GET {request.path}"))


@bp.get("/api/v1/console/extensions")
@roles_required(*SUPERVISORS)
def extensions():
    page, per_page = page_args()
    return jsonify(service.pending_extensions(db.session, current_actor(), page=page, per_page=per_page,
                                              via=f"GET {request.path}"))


@bp.get("/api/v1/console/my-tickets")
@roles_required(*DESK)
def my_tickets():
    """The operator's tickets, paged like every list: ``q`` (words or a number prefix; a full
    mobile number searches the caller's phone), ``phone_tail``, ``status``, ``type``,
    ``deadline``, ``sort``, ``page``, ``per_page``."""
    args = request.args
    page, per_page = page_args()
    q = (args.get("q") or "").strip()
    phone = q if PHONE.match(q) else None
    total, rows = service.my_tickets(db.session, current_actor(), page=page, per_page=per_page,
                                     sort=args.get("sort", "-created"), status=args.get("status"),
                                     type_=args.get("type"), deadline=args.get("deadline"), phone=phone,
                                     phone_tail=args.get("phone_tail"), q=None if phone else q)
    out = [ticket_view(t, current_user.role) for t in rows]
    access.record_tickets(db.session, current_actor(), rows, f"GET {request.path}")
    return jsonify(items=out, total=total, page=page, per_page=per_page)


@bp.post("/api/v1/console/attachments")
@roles_required()
def upload_attachment():
    upload = request.files.get("file")
    if upload is None:
        from hotline.exceptions import ValidationFailed
        raise ValidationFailed("no file", {"file": "send the file as multipart field 'file'"})
    meta = service.save_attachment(current_app.config["HOTLINE"], current_user, upload.filename,
                                   upload.mimetype, upload.read())
    return jsonify(meta), 201


@bp.get("/api/v1/console/attachments/<att_id>")
@roles_required()
def download_attachment(att_id):
    meta, path = service.open_attachment(db.session, current_app.config["HOTLINE"], current_user, att_id)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=meta["type"], as_attachment=True, download_name=meta["name"])


# -- live call controls, callbacks, call KPIs (issue 7) ----------------------------------------------
@bp.post("/api/v1/calls/<call_id>/commands/<command>")
@roles_required("operator")
def call_command(call_id, command):
    body = json_body() if request.get_data() else {}
    return jsonify(call_service.send_command(current_user, call_id, command, body)), 202


@bp.get("/api/v1/console/transfer-directory")
@roles_required(*DESK)
def transfer_directory():
    return jsonify(call_service.transfer_directory(db.session))


@bp.get("/api/v1/console/callbacks")
@roles_required(*DESK)
def callback_list():
    done = request.args.get("done") in ("1", "true")
    items = distribution.callback_list(db.session, done=done)
    access.record_call_numbers(db.session, current_actor(), items, f"GET {request.path}")
    return jsonify(items=items)


@bp.post("/api/v1/console/callbacks/<call_id>")
@roles_required(*DESK)
def mark_called_back(call_id):
    body = json_body() if request.get_data() else {}
    return jsonify(distribution.mark_called_back(db.session, current_user, call_id, body.get("note")))


@bp.get("/api/v1/console/call-kpis")
@roles_required(*SUPERVISORS)
def call_kpis():
    return jsonify(service.call_figures(db.session, current_app.config["HOTLINE"].answer_target_seconds))
