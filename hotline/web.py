"""Login, logout, role landing, health check and the token endpoint."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import text

from hotline.clock import iso
from hotline.exceptions import ValidationFailed

from . import throttle
from .accounts import end_all_sessions
from .auth import authenticate, issue_token
from .extensions import db
from .security import safe_next

bp = Blueprint("web", __name__)

ROLE_LABELS = {"operator": "话务员", "department": "承办单位", "supervisor": "督办员", "admin": "管理员"}
#: the page each role lands on; consoles register these endpoints when they exist
LANDING = {"operator": "console.operator", "department": "console.department",
           "supervisor": "console.supervisor", "admin": "console.supervisor"}


@bp.get("/healthz")
def healthz():
    """`ok`, or `degraded` with the reasons while cross-process events cannot flow (Redis or the
    outbox relay down: events wait in the outbox meanwhile). The process still serves: 200 both."""
    from .events import bus

    db.session.execute(text("SELECT 1"))
    reasons = bus.health()
    return jsonify(status="degraded" if reasons else "ok", reasons=reasons)


@bp.route("/login", methods=["GET", "POST"])
@throttle.per_user
@throttle.per_address
def login():
    error = None
    if request.method == "POST":
        user = authenticate(db.session, request.form.get("username", "").strip(),
                            request.form.get("password", ""))
        if user is not None:
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or url_for("web.home"))
        error = "用户名或密码错误"
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
@login_required
def logout():
    """Log out everywhere: every session cookie and bearer token of this user stops working."""
    end_all_sessions(db.session, current_user._get_current_object(), reason="logout")
    logout_user()
    return redirect(url_for("web.login"))


@bp.get("/console")
@login_required
def home():
    """Staff landing: each role's console (``/`` is the citizen portal's)."""
    endpoint = LANDING.get(current_user.role)
    if endpoint and endpoint in current_app.view_functions:
        return redirect(url_for(endpoint))
    return render_template("home.html", role_label=ROLE_LABELS.get(current_user.role, current_user.role))


@bp.post("/api/v1/auth/token")
@throttle.per_user
@throttle.per_address
def issue_token_view():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error={"code": "invalid_json", "message": "send {\"username\", \"password\"} as JSON",
                              "fields": {}}), 400
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ValidationFailed("username and password are required",
                               {k: "required string" for k in ("username", "password")
                                if not isinstance(body.get(k), str)})
    user = authenticate(db.session, username, password)
    if user is None:
        return jsonify(error={"code": "unauthorized", "message": "wrong username or password", "fields": {}}), 401
    token, expires = issue_token(db.session, user, current_app.config["HOTLINE"].token_ttl_hours)
    return jsonify(token=token, expires_at=iso(expires), role=user.role)

