"""The admins' SMS page and API (outbox, templates, opt-outs) and Kannel's callbacks.

Kannel calls ``/sms/kannel/dlr`` (delivery reports; the message id is signed, so nobody else can
mark a message delivered) and ``/sms/kannel/inbound`` (a citizen's reply; ``TD`` opts out; the
shared ``HOTLINE_SMS_INBOUND_TOKEN`` must be in the URL)."""
from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from hotline.auth import roles_required
from hotline.exceptions import NotFound, TicketingError, ValidationFailed
from hotline.extensions import db
from hotline.identity import ADMIN

from . import service, templates
from .models import STATUSES
from .sender import check_dlr_id, record_dlr

bp = Blueprint("messaging", __name__, template_folder="templates")

OPT_OUT_WORDS = {"TD", "T", "N", "退订", "STOP", "0000"}


def _page_args() -> tuple[int, int]:
    out = []
    for name, default, hi in (("page", 1, 1_000_000), ("per_page", 50, current_app.config["HOTLINE"].page_size_max)):
        raw = request.args.get(name, str(default))
        if not raw.isdigit() or not 1 <= int(raw) <= hi:
            raise ValidationFailed(f"{name} out of range", {name: f"an integer between 1 and {hi}"})
        out.append(int(raw))
    return out[0], out[1]


def _status_arg() -> str | None:
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ValidationFailed("unknown status", {"status": f"one of {', '.join(STATUSES)}"})
    return status


def _json_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed("send a JSON object", {"body": "expected a JSON object"})
    return body


def _gateway_configured() -> bool:
    return bool(current_app.config["HOTLINE"].sms_kannel_url)


# -- admin page -------------------------------------------------------------------------------------
@bp.get("/admin/sms")
@roles_required(ADMIN)
def admin_page():
    status = _status_arg()
    page, per_page = _page_args()
    return render_template("admin_sms.html", data=service.list_messages(db.session, status=status, page=page,
                                                                       per_page=per_page),
                           status=status, statuses=service.STATUS_LABELS, templates=templates.list_templates(db.session),
                           opt_outs=service.list_opt_outs(db.session, per_page=200),
                           gateway=_gateway_configured(), message=request.args.get("msg"))


@bp.post("/admin/sms/templates/<key>")
@roles_required(ADMIN)
def admin_template(key: str):
    text = None if request.form.get("reset") else request.form.get("text", "")
    try:
        templates.set_template(db.session, key, text, current_user.username)
        msg = f"模板“{templates.spec(key).title}”已保存"
    except TicketingError as exc:
        db.session.rollback()
        msg = "模板未保存：" + "；".join(exc.fields.values() or [exc.message])
    return redirect(url_for("messaging.admin_page", msg=msg))


@bp.post("/admin/sms/opt-outs")
@roles_required(ADMIN)
def admin_opt_out():
    phone, action = request.form.get("phone", ""), request.form.get("action", "add")
    try:
        if action == "remove":
            service.opt_in(db.session, phone)
            msg = "已恢复该号码的短信通知"
        else:
            service.opt_out(db.session, phone, f"admin:{current_user.username}")
            msg = "该号码已退订短信通知（验证码仍会发送）"
    except TicketingError as exc:
        db.session.rollback()
        msg = "未执行：" + "；".join(exc.fields.values() or [exc.message])
    return redirect(url_for("messaging.admin_page", msg=msg))


# -- admin API --------------------------------------------------------------------------------------
@bp.get("/api/v1/sms/messages")
@roles_required(ADMIN)
def messages_api():
    status = _status_arg()
    page, per_page = _page_args()
    return jsonify(dict(service.list_messages(db.session, status=status, page=page, per_page=per_page),
                        gateway_configured=_gateway_configured()))


@bp.get("/api/v1/sms/templates")
@roles_required(ADMIN)
def templates_api():
    return jsonify(items=templates.list_templates(db.session))


@bp.put("/api/v1/sms/templates/<key>")
@roles_required(ADMIN)
def template_put_api(key: str):
    body = _json_object()
    if "text" not in body:
        raise ValidationFailed("text is required", {"text": "the new wording, or null for the default"})
    return jsonify(templates.set_template(db.session, key, body["text"], current_user.username))


@bp.get("/api/v1/sms/opt-outs")
@roles_required(ADMIN)
def opt_outs_api():
    page, per_page = _page_args()
    return jsonify(service.list_opt_outs(db.session, page=page, per_page=per_page))


@bp.post("/api/v1/sms/opt-outs")
@roles_required(ADMIN)
def opt_out_add_api():
    body = _json_object()
    created = service.opt_out(db.session, body.get("phone"), f"admin:{current_user.username}")
    return jsonify(opted_out=True, created=created), 201 if created else 200


@bp.delete("/api/v1/sms/opt-outs/<phone>")
@roles_required(ADMIN)
def opt_out_remove_api(phone: str):
    if not service.opt_in(db.session, phone):
        raise NotFound("this phone has not opted out", {"phone": "not on the opt-out list"})
    return jsonify(opted_out=False)


# -- Kannel's callbacks -----------------------------------------------------------------------------
@bp.get("/sms/kannel/dlr")
def kannel_dlr():
    message_id = check_dlr_id(current_app.config["SECRET_KEY"], request.args.get("id", ""))
    raw_type = request.args.get("type", "")
    if message_id is None:
        raise ValidationFailed("bad delivery report id", {"id": "not a signed message id"})
    if not raw_type.isdigit() or not 0 < int(raw_type) < 64:
        raise ValidationFailed("bad delivery report type", {"type": "Kannel's %d (1, 2, 4, 8, 16)"})
    msg = record_dlr(db.session, message_id, int(raw_type))
    if msg is None:
        raise NotFound("no such message", {"id": "unknown message"})
    return jsonify(id=msg.id, status=msg.status)


@bp.get("/sms/kannel/inbound")
def kannel_inbound():
    """Kannel's ``sms-service`` get-url: ``...?token=<secret>&from=%p&text=%a``."""
    expected = current_app.config["HOTLINE"].sms_inbound_token
    if not expected or not hmac.compare_digest(request.args.get("token", ""), expected):
        return jsonify(error={"code": "forbidden", "message": "bad token", "fields": {}}), 403
    text = (request.args.get("text") or "").strip().upper()
    if text in OPT_OUT_WORDS:
        service.opt_out(db.session, request.args.get("from", ""), "sms:TD")
        # the body is Kannel's reply SMS; X-Kannel-Coding 2 (UCS-2) for Chinese (the sms-service
        # needs accept-x-kannel-headers = true, else Kannel sends it as 7-bit text: "????")
        return "您已退订12345热线短信通知。", 200, {"Content-Type": "text/plain; charset=utf-8",
                                                  "X-Kannel-Coding": "2"}
    return "", 204


def openapi_paths() -> dict:
    from hotline.openapi import BOOL, INT, NSTR, STR, array, body, errors, obj, response

    paging = [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
              {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1}}]
    message = obj(id=INT, phone=STR, template_key=STR, purpose=STR, text=STR, ticket_id={"type": ["integer", "null"]},
                  status={"type": "string", "enum": list(STATUSES)}, status_label=STR, attempts=INT, last_error=NSTR,
                  dlr_status={"type": ["integer", "null"]}, created_at=STR, next_attempt_at=NSTR, sent_at=NSTR,
                  delivered_at=NSTR)
    template = obj(key=STR, title=STR, variables=array(STR), text=STR, default=STR, customised=BOOL,
                   always_sent=BOOL, updated_by=NSTR, updated_at=NSTR)
    opt_out = obj(phone=STR, source=STR, created_at=STR)
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string", "enum": list(templates.SPECS)}}
    phone = {"name": "phone", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 20}}
    return {
        "/api/v1/sms/messages": {"get": {
            "summary": "The SMS outbox, newest first (admins); status unsent = not sent (no gateway or waiting)",
            "parameters": [{"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}},
                           *paging],
            "responses": {"200": response("messages", obj(items=array(message), total=INT, page=INT, per_page=INT,
                                                          counts={"type": "object"}, gateway_configured=BOOL)),
                          **errors(401, 403, 422)}}},
        "/api/v1/sms/templates": {"get": {
            "summary": "The SMS templates with their variables (admins)",
            "responses": {"200": response("templates", obj(items=array(template))), **errors(401, 403)}}},
        "/api/v1/sms/templates/{key}": {"put": {
            "summary": "Change a template's wording ({variable} placeholders only); text null restores the default",
            "parameters": [key],
            "requestBody": body({"type": "object", "required": ["text"], "properties": {
                "text": {"type": ["string", "null"], "maxLength": templates.MAX_TEXT}}}),
            "responses": {"200": response("the template", template), **errors(400, 401, 403, 422)}}},
        "/api/v1/sms/opt-outs": {
            "get": {"summary": "Phones that opted out of SMS notices (masked; admins)", "parameters": paging,
                    "responses": {"200": response("opt-outs", obj(items=array(opt_out), total=INT, page=INT,
                                                                  per_page=INT)), **errors(401, 403, 422)}},
            "post": {"summary": "Opt a phone out of SMS notices (one-time codes still go)",
                     "requestBody": body({"type": "object", "required": ["phone"], "properties": {"phone": STR}}),
                     "responses": {"201": response("opted out", obj(opted_out=BOOL, created=BOOL)),
                                   "200": response("already opted out", obj(opted_out=BOOL, created=BOOL)),
                                   **errors(401, 403, 422)}}},
        "/api/v1/sms/opt-outs/{phone}": {"delete": {
            "summary": "Resume SMS notices to a phone", "parameters": [phone],
            "responses": {"200": response("opted in", obj(opted_out=BOOL)), **errors(401, 403, 404, 422)}}},
    }
