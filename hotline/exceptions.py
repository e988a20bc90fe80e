"""Domain errors. Each carries the HTTP status and error code the API reports."""
from __future__ import annotations


class TicketingError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict | None = None, **extra):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra


class ValidationFailed(TicketingError):
    status, code = 422, "validation_failed"


class NotFound(TicketingError):
    status, code = 404, "not_found"


class Forbidden(TicketingError):
    status, code = 403, "forbidden"


class Conflict(TicketingError):
    status, code = 409, "conflict"


class IllegalAction(Conflict):
    code = "illegal_action"
