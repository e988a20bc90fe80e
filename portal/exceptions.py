"""The portal's one error: what the citizen did wrong, in Chinese, with its HTTP status and the
form field it concerns. Nothing is stored when one is raised (the view rolls back)."""
from __future__ import annotations


class PortalError(Exception):
    def __init__(self, message: str, status: int = 422, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
