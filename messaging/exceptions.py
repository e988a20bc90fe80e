"""Errors of SMS notices (rendered as JSON by hotline.errors, like every domain error)."""
from __future__ import annotations

from hotline.exceptions import Conflict, Forbidden, TicketingError, ValidationFailed


class InvalidPhone(ValidationFailed):
    code = "invalid_phone"


class UnknownTemplate(ValidationFailed, LookupError):
    code = "unknown_template"


class TemplateContextError(ValidationFailed):
    code = "template_context"


class RatingLinkError(TicketingError):
    """A rating link that cannot be used; ``reason`` is invalid | expired | wrong_ticket | used."""

    STATUS = {"invalid": 403, "wrong_ticket": 403, "expired": 410, "used": 409}
    MESSAGE = {"invalid": "评价链接无效", "wrong_ticket": "评价链接与工单不符",
               "expired": "评价链接已过期", "used": "评价链接已使用过"}

    def __init__(self, reason: str):
        super().__init__(self.MESSAGE[reason], reason=reason)
        self.reason = reason
        self.status = self.STATUS[reason]
        self.code = f"rating_link_{reason}"


__all__ = ["Conflict", "Forbidden", "InvalidPhone", "RatingLinkError", "TemplateContextError", "UnknownTemplate"]
