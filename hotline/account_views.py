"""Own account (password change, revoking one's tokens) and the admins' user page and API."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from hotline.exceptions import TicketingError, ValidationFailed
from hotline.identity import ADMIN

from . import accounts
from .auth import roles_required
from .extensions import db

bp = Blueprint("account", __name__)


def _me():
    return current_user._get_current_object()


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if body is None and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise ValidationFailed("send a JSON object", {})
    return body


# -- own account -----------------------------------------------------------------------------------
@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password_page():
    errors, done = {}, False
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("new_password2", ""):
            errors["new_password2"] = "两次输入的新密码不一致"
        else:
            try:
                accounts.change_password(db.session, _me(), request.form.get("old_password", ""), new)
            except ValidationFailed as exc:
                errors = {k: accounts.PASSWORD_RULES[v][1] for k, v in exc.extra.get("rules", {}).items()}
            else:
                login_user(_me())  # this browser stays logged in under the new epoch; all others end
                done = True
    return render_template("account_password.html", errors=errors, done=done,
                           min_length=accounts.MIN_PASSWORD_LENGTH), (422 if errors else 200)


@bp.post("/api/v1/auth/password")
@login_required
def change_password_api():
    body = _json_body()
    revoked = accounts.change_password(db.session, _me(), body.get("old_password"), body.get("new_password"))
    return jsonify(changed=True, revoked_tokens=revoked, sessions_ended=True)


@bp.post("/api/v1/auth/revoke")
@login_required
def revoke_api():
    """``{"scope": "token"}`` (default with a bearer token): revoke the token of this request;
    ``{"scope": "all"}`` (default for a browser session): end every session and token of the caller."""
    body = _json_body()
    token = g.get("bearer_token")
    scope = body.get("scope", "token" if token else "all")
    if scope not in ("token", "all"):
        raise ValidationFailed("invalid scope", {"scope": "'token' or 'all'"})
    if scope == "token":
        if not token:
            raise ValidationFailed("this request carries no bearer token", {"scope": "use 'all' from a browser session"})
        accounts.revoke_token(db.session, _me(), token)
        return jsonify(scope="token", revoked_tokens=1, sessions_ended=False)
    revoked = accounts.end_all_sessions(db.session, _me(), reason="self_revoke")
    return jsonify(scope="all", revoked_tokens=revoked, sessions_ended=True)


# -- administrators ------------------------------------------------------------------------------------
ADMIN_ACTIONS = {"revoke": "已吊销该用户的全部会话和令牌", "deactivate": "已停用该用户", "activate": "已启用该用户"}


def _apply(action: str, username: str) -> dict:
    user = accounts.get_user(db.session, username)
    me = current_user.username
    if action == "revoke":
        revoked = accounts.end_all_sessions(db.session, user, reason="admin_revoke", by=me)
        return {"username": username, "revoked_tokens": revoked, "sessions_ended": True, "active": user.active}
    accounts.set_active(db.session, user, action == "activate", by=me)
    return {"username": username, "active": user.active, "sessions_ended": action == "deactivate"}


@bp.get("/admin/users")
@roles_required(ADMIN)
def users_page():
    return render_template("admin_users.html", users=accounts.list_users(db.session),
                           message=request.args.get("msg"), me=current_user.username)


@bp.post("/admin/users/<username>/<action>")
@roles_required(ADMIN)
def users_page_action(username: str, action: str):
    if action not in ADMIN_ACTIONS:
        return redirect(url_for("account.users_page"))
    try:
        _apply(action, username)
        message = f"{username}：{ADMIN_ACTIONS[action]}"
    except TicketingError as exc:
        message = f"{username}：操作未执行（{'不能停用自己的账号' if exc.status == 409 else '用户不存在'}）"
    return redirect(url_for("account.users_page", msg=message))


@bp.get("/api/v1/users")
@roles_required(ADMIN)
def users_api():
    return jsonify(items=accounts.list_users(db.session))


@bp.post("/api/v1/users/<username>/revoke")
@roles_required(ADMIN)
def user_revoke_api(username: str):
    return jsonify(_apply("revoke", username))


@bp.post("/api/v1/users/<username>/deactivate")
@roles_required(ADMIN)
def user_deactivate_api(username: str):
    return jsonify(_apply("deactivate", username))


@bp.post("/api/v1/users/<username>/activate")
@roles_required(ADMIN)
def user_activate_api(username: str):
    return jsonify(_apply("activate", username))


def openapi_paths() -> dict:
    """Path items of this blueprint's API routes for /api/v1/openapi.json."""
    from .openapi import ERROR, response

    def errors(*codes):
        text = {401: "not authenticated", 403: "admins only", 404: "no such user",
                409: "you cannot deactivate your own account", 422: "validation failed (per-field messages)"}
        return {str(c): response(text[c], ERROR) for c in codes}

    user = {"name": "username", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 80}}
    ended = {"type": "object", "properties": {"username": {"type": "string"}, "active": {"type": "boolean"},
                                              "revoked_tokens": {"type": "integer"},
                                              "sessions_ended": {"type": "boolean"}}}
    account = {"type": "object", "properties": {
        "username": {"type": "string"}, "display_name": {"type": ["string", "null"]}, "role": {"type": "string"},
        "department": {"type": ["string", "null"]}, "active": {"type": "boolean"},
        "live_tokens": {"type": "integer"}}}

    def admin_action(summary: str) -> dict:
        return {"post": {"summary": summary, "parameters": [user],
                         "responses": {"200": response("done", ended), **errors(401, 403, 404, 409)}}}

    return {
        "/api/v1/auth/password": {"post": {
            "summary": "Change one's own password; every session and token of the user ends",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["old_password", "new_password"], "properties": {
                    "old_password": {"type": "string"},
                    "new_password": {"type": "string", "minLength": accounts.MIN_PASSWORD_LENGTH,
                                     "maxLength": 128}}}}}},
            "responses": {"200": response("changed", {"type": "object", "properties": {
                "changed": {"type": "boolean"}, "revoked_tokens": {"type": "integer"},
                "sessions_ended": {"type": "boolean"}}}), **errors(401, 422)}}},
        "/api/v1/auth/revoke": {"post": {
            "summary": "Revoke this request's bearer token (scope token) or end every session and token "
                       "of the caller (scope all; the default for a browser session)",
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"scope": {"type": "string", "enum": ["token", "all"]}}}}}},
            "responses": {"200": response("revoked", {"type": "object", "properties": {
                "scope": {"type": "string"}, "revoked_tokens": {"type": "integer"},
                "sessions_ended": {"type": "boolean"}}}), **errors(401, 422)}}},
        "/api/v1/users": {"get": {"summary": "Every staff account with its live token count (admins)",
                                  "responses": {"200": response("accounts", {"type": "object", "properties": {
                                      "items": {"type": "array", "items": account}}}), **errors(401, 403)}}},
        "/api/v1/users/{username}/revoke": admin_action("End every session and revoke every token of a user"),
        "/api/v1/users/{username}/deactivate": admin_action(
            "Deactivate a user: no login, every session and token ends at once"),
        "/api/v1/users/{username}/activate": admin_action("Reactivate a user"),
    }
