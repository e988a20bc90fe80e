"""Citizen pages at `/`: plain HTML forms (they work without JavaScript), CSRF-checked, each POST
rate-limited; every refusal re-renders the page with the reason in Chinese and its 4xx status."""
from __future__ import annotations

import hashlib
import time

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from hotline.extensions import db
from hotline.throttle import limiter, lockout_minutes
from ticketing.schemas import SATISFACTION
from ticketing.sla import TYPES
from ticketing import attachments

from . import codes, service
from .exceptions import PortalError

bp = Blueprint("portal", __name__, template_folder="templates", static_folder="static",
               static_url_path="/portal/static")
#: how long a verified citizen may look at (and rate) a ticket in this browser
GRANT_SECONDS = 2 * 3600


def _config():
    return current_app.config["HOTLINE"]


def _address_key(kind: str):
    return lambda: f"portal-{kind}:addr:" + (get_remote_address() or "unknown")


def _phone_key(kind: str):
    def key() -> str:
        raw = request.form.get("phone") or request.form.get("number") or ""
        return f"portal-{kind}:phone:" + hashlib.sha256(raw.strip().encode()).hexdigest()[:32]
    return key


def _anonymous() -> bool:
    return request.form.get("contact") == "anonymous"


submissions_per_address = limiter.limit(lambda: _config().portal_submissions_per_address,
                                        key_func=_address_key("submit"), scope="portal-submit-addr", methods=["POST"])
submissions_per_phone = limiter.limit(lambda: _config().portal_submissions_per_phone, key_func=_phone_key("submit"),
                                      scope="portal-submit-phone", methods=["POST"], exempt_when=_anonymous)
codes_per_address = limiter.shared_limit(lambda: _config().portal_codes_per_address, key_func=_address_key("code"),
                                         scope="portal-code-addr", methods=["POST"])
codes_per_phone = limiter.limit(lambda: _config().portal_codes_per_phone, key_func=_phone_key("code"),
                                scope="portal-code-phone", methods=["POST"])
LIMITED = ("portal.submit", "portal.submit_code", "portal.track_code", "portal.track")
#: anonymous form posts (CSRF-checked like the login form)
FORMS = (*LIMITED, "portal.rate", "portal.rate_link")


# -- errors -----------------------------------------------------------------------------------------
def _error_page(message: str, status: int):
    return render_template("portal/error.html", message=message), status


@bp.errorhandler(RateLimitExceeded)
def _too_many(exc):
    db.session.rollback()
    return _error_page(f"操作过于频繁，请 {lockout_minutes(exc)} 分钟后再试", 429)


@bp.errorhandler(CSRFError)
def _csrf(exc):
    return _error_page("页面已过期或来源不明，请返回刷新页面后重新提交", 400)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    return _error_page("上传的内容过大：每张图片不超过 5 MB，最多 3 张", 413)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    return _error_page({404: "页面不存在", 405: "不支持的操作"}.get(exc.code, "请求有误，请返回重试"), exc.code or 400)


# -- grants: this browser verified the citizen for a ticket ------------------------------------------
def _grant(number: str) -> None:
    grants = {n: t for n, t in (session.get("portal_grants") or {}).items() if t > time.time()}
    grants[number] = time.time() + GRANT_SECONDS
    session["portal_grants"] = dict(sorted(grants.items(), key=lambda kv: kv[1])[-10:])


def _granted(number: str) -> bool:
    return (session.get("portal_grants") or {}).get(number, 0) > time.time()


# -- pages ------------------------------------------------------------------------------------------
@bp.get("/")
def index():
    return render_template("portal/index.html")


def _submit_page(status: int = 200, error: PortalError | None = None, notice: str | None = None):
    return render_template("portal/submit.html", types=TYPES, towns=service.towns(db.session), form=request.form,
                           error=error, notice=notice), status


@bp.get("/submit")
def submit_form():
    return _submit_page()


@bp.post("/submit/code")
@codes_per_address
@codes_per_phone
def submit_code():
    try:
        phone = codes.normalize_phone(request.form.get("phone"))
        codes.issue(db.session, _config().secret_key, phone, "submit")
    except PortalError as exc:
        db.session.rollback()
        return _submit_page(exc.status, exc)
    return _submit_page(notice=f"验证码已发送至 {phone[:3]}****{phone[-4:]}，10 分钟内有效")


@bp.post("/submit")
@submissions_per_address
@submissions_per_phone
def submit():
    uploads = [(f.filename or "", f.read()) for f in request.files.getlist("photos")]
    try:
        ticket, tracking = service.submit(db.session, request.form, uploads, secret=_config().secret_key,
                                          store=attachments.store_dir(_config()),
                                          max_content=_config().max_content_chars)
    except PortalError as exc:
        db.session.rollback()
        return _submit_page(exc.status, exc)
    _grant(ticket.number)
    return render_template("portal/submitted.html", number=ticket.number, tracking=tracking,
                           phone=ticket.caller_phone), 201


def _track_page(status: int = 200, error: PortalError | None = None, notice: str | None = None):
    return render_template("portal/track.html", form=request.form or request.args, error=error,
                           notice=notice), status


@bp.get("/track")
def track_form():
    return _track_page()


@bp.post("/track/code")
@codes_per_address
@codes_per_phone
def track_code():
    try:
        masked = service.send_track_code(db.session, _config().secret_key, request.form.get("number") or "")
    except PortalError as exc:
        db.session.rollback()
        return _track_page(exc.status, exc)
    return _track_page(notice=f"验证码已发送至工单登记的手机 {masked}，10 分钟内有效")


@bp.post("/track")
@codes_per_address
def track():
    form = request.form
    try:
        number = service.open_ticket(db.session, _config().secret_key, form.get("number") or "",
                                     code=form.get("code"), tracking=(form.get("tracking") or "").strip() or None)
    except PortalError as exc:
        db.session.rollback()
        return _track_page(exc.status, exc)
    _grant(number)
    return redirect(url_for("portal.ticket", number=number), 303)


def _ticket_page(number: str, status: int = 200, error: PortalError | None = None, notice: str | None = None,
                 rate_action: str | None = None):
    data = service.view(db.session, number)
    return render_template("portal/ticket.html", t=data, levels=SATISFACTION, error=error, notice=notice,
                           form=request.form, rate_action=rate_action or url_for("portal.rate", number=number)), status


@bp.get("/track/<number>")
def ticket(number):
    if not _granted(number):
        return redirect(url_for("portal.track_form", number=number))
    try:
        return _ticket_page(number)
    except PortalError as exc:
        return _error_page(exc.message, exc.status)


@bp.post("/track/<number>/rate")
def rate(number):
    if not _granted(number):
        return _error_page("请先用工单号和验证码（或查询码）查询该工单，再进行评价", 403)
    return _rate(number, None)


def _rate(number: str, link: str | None):
    action = url_for("portal.rate_link", number=number, sig=link) if link else None
    try:
        result = service.rate(db.session, number, request.form, link=link)
    except PortalError as exc:
        db.session.rollback()
        if exc.field == "link" or exc.status == 404:
            return _error_page(exc.message, exc.status)
        return _ticket_page(number, exc.status, exc, rate_action=action)
    notice = "感谢您的评价。" + ("您的诉求将重新交由承办单位办理。" if result["reopened"] else "")
    if link is None:
        return _ticket_page(number, notice=notice)
    return render_template("portal/rated.html", number=number, notice=notice)


@bp.route("/t/<number>/rate", methods=["GET", "POST"])
def rate_link(number):
    sig = request.args.get("sig") or ""
    if request.method == "POST":
        return _rate(number, sig)
    try:
        service.check_link(db.session, number, sig)
        return _ticket_page(number, rate_action=url_for("portal.rate_link", number=number, sig=sig))
    except PortalError as exc:
        return _error_page(exc.message, exc.status)


@bp.get("/public")
def public():
    raw = request.args.get("page") or "1"
    page = int(raw) if raw.isdigit() and 0 < int(raw) <= 100_000 else 1
    q = request.args.get("q") or ""
    try:
        total, items = service.published(db.session, q, page)
    except PortalError as exc:
        return render_template("portal/public.html", items=[], total=0, page=1, pages=1, q="", error=exc), exc.status
    pages = max(1, -(-total // service.PUBLIC_PAGE))
    return render_template("portal/public.html", items=items, total=total, page=page, pages=pages, q=q, error=None)
