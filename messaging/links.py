"""Signed, expiring, single-use rating links: ``{public base}/t/<ticket number>/rate?sig=<token>``.

The token is an itsdangerous timed signature (SECRET_KEY, its own salt) of the ticket number and a
random token id; using it records the id (``rating_link_uses``), so a replay is refused."""
from __future__ import annotations

import secrets
from urllib.parse import quote

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from hotline.clock import utcnow

from .exceptions import RatingLinkError
from .models import RatingLinkUse

SALT = "hotline.rating-link"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def rating_token(number: str) -> str:
    return _serializer().dumps({"n": number, "j": secrets.token_hex(8)})


def rating_url(number: str) -> str:
    cfg = current_app.config["HOTLINE"]
    return f"{cfg.public_base_url.rstrip('/')}/t/{quote(number)}/rate?sig={rating_token(number)}"


def check_rating_token(session, number: str, sig, *, consume: bool = False) -> None:
    """Raise RatingLinkError unless ``sig`` is a live, unused link for ticket ``number``.
    ``consume=True`` marks it used in the caller's transaction (the caller commits with the rating)."""
    days = current_app.config["HOTLINE"].sms_rating_link_days
    if not isinstance(sig, str) or not sig or len(sig) > 300:
        raise RatingLinkError("invalid")
    try:
        data = _serializer().loads(sig, max_age=days * 86400)
    except SignatureExpired:
        raise RatingLinkError("expired") from None
    except BadSignature:
        raise RatingLinkError("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("j"), str):
        raise RatingLinkError("invalid")
    if data.get("n") != number:
        raise RatingLinkError("wrong_ticket")
    if session.scalar(select(RatingLinkUse.token_id).where(RatingLinkUse.token_id == data["j"])) is not None:
        raise RatingLinkError("used")
    if consume:
        session.add(RatingLinkUse(token_id=data["j"], ticket_number=number, used_at=utcnow()))
        session.flush()  # a concurrent use of the same link fails here (primary key) or at commit
