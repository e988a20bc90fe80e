"""GeoReport v2 at /open311/v2: thin views over ``open311.service``; every error in the spec's
format (a JSON array or ``<errors>``) with its HTTP status, nothing stored on error."""
from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from hotline.extensions import db
from hotline.throttle import limiter

from . import service
from .exceptions import Open311Error
from .render import errors, respond

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
POST_ENDPOINT = "open311.post_requests"
FORMATS = ("json", "xml")


def _fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"format {fmt[:10]!r} is not offered; use .json or .xml")
    return fmt


def _request_fmt() -> str:
    path = request.path
    return "xml" if path.endswith(".xml") else "json"


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error):
    db.session.rollback()
    return errors(_request_fmt(), exc.status, exc.descriptions)


@bp.errorhandler(RateLimitExceeded)
def _too_many(exc):
    return errors(_request_fmt(), 429, [f"too many service requests from this address ({exc.description}); "
                                        "try again later"])


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    return errors(_request_fmt(), exc.code or 500, [exc.description or exc.name])


@bp.get("/services.<fmt>")
def services(fmt):
    return respond(_fmt(fmt), service.list_services(db.session), "services", "service")


@bp.get("/services/<service_code>.<fmt>")
def service_definition(service_code, fmt):
    return respond(_fmt(fmt), service.service_definition(db.session, service_code), "service_definition")


def _posts_per_address() -> str:
    return current_app.config["HOTLINE"].open311_posts_per_address


@bp.post("/requests.<fmt>", endpoint="post_requests")
@limiter.limit(_posts_per_address, key_func=lambda: "open311:" + (get_remote_address() or "unknown"),
               scope="open311-post")
def post_requests(fmt):
    fmt = _fmt(fmt)
    if request.is_json:
        raise Open311Error(400, "send the fields form-encoded (application/x-www-form-urlencoded), as the spec says")
    row = service.submit(db.session, request.form,
                         max_content=current_app.config["HOTLINE"].max_content_chars)
    body = [{"service_request_id": row.ticket.number, "token": row.token, "service_notice":
             f"已受理，工单号 {row.ticket.number}", "account_id": None}]
    return respond(fmt, body, "service_requests", "request", 201)


@bp.get("/requests.<fmt>")
def get_requests(fmt):
    fmt = _fmt(fmt)
    rows = service.search(db.session, request.args)
    names = service.service_names(db.session)
    return respond(fmt, [service.request_view(r, names) for r in rows], "service_requests", "request")


@bp.get("/requests/<number>.<fmt>")
def get_request(number, fmt):
    fmt = _fmt(fmt)
    row = service.get_request(db.session, number)
    return respond(fmt, [service.request_view(row, service.service_names(db.session))],
                   "service_requests", "request")


@bp.get("/tokens/<token>.<fmt>")
def get_token(token, fmt):
    fmt = _fmt(fmt)
    row = service.by_token(db.session, token)
    return respond(fmt, [{"service_request_id": row.ticket.number, "token": row.token}],
                   "service_requests", "request")


@bp.route("/<path:rest>", methods=["GET", "POST"])
def unknown(rest):
    raise Open311Error(404, f"no such Open311 resource: /open311/v2/{rest[:80]}")
