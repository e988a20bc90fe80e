"""Every error leaves as JSON {"error": {"code", "message", "fields"}} on /api paths."""
from __future__ import annotations

import logging

from flask import jsonify, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from hotline.exceptions import TicketingError

log = logging.getLogger("hotline.errors")


def error_response(status: int, code: str, message: str, fields: dict | None = None, **extra):
    body = {"code": code, "message": message, "fields": fields or {}}
    body.update(extra)
    return jsonify(error=body), status


def register(app) -> None:
    @app.errorhandler(TicketingError)
    def _domain(exc: TicketingError):
        return error_response(exc.status, exc.code, exc.message, exc.fields, **exc.extra)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, "csrf_failed", f"CSRF check failed: {exc.description}")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if not request.path.startswith("/api/"):
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(exc: Exception):
        """The database is down, restarting or overloaded: 503 at once (the engine's connect timeout
        bounds the wait), on every path. Nothing was committed; the client may retry. The session
        is dropped so its dead connection goes back to the pool, which SQLAlchemy invalidated on the
        disconnect error (hotline/extensions.py: new connections replace the dead ones)."""
        from hotline.extensions import db

        log.warning("database unavailable on %s %s: %s", request.method, request.path,
                    str(exc).splitlines()[0][:300])
        try:
            db.Session.remove()
        except Exception:  # noqa: BLE001 - a broken connection may fail its rollback too
            log.debug("session removal failed", exc_info=True)
        response, status = error_response(503, "database_unavailable",
                                          "the database is unavailable; nothing was saved, retry shortly")
        response.headers["Retry-After"] = "5"
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal error; see the server log")
