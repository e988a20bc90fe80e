"""One-time SMS codes: six random digits, kept as an HMAC only, valid CODE_TTL, MAX_ATTEMPTS wrong
tries, used once. Sending goes through messaging's outbox (template ``otp``) in the same
transaction as the code's row: a code that was not stored is never sent.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlalchemy import select

from hotline.clock import utcnow
from messaging.service import queue_sms

from .exceptions import PortalError
from .models import OneTimeCode

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=60)
PURPOSES = ("submit", "track")
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str | None) -> str:
    """A mainland mobile number (the only kind that receives SMS), without +86, spaces or dashes."""
    phone = re.sub(r"[\s-]", "", raw or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    if not MOBILE.match(phone):
        raise PortalError("请填写正确的11位手机号码", 422, "phone")
    return phone


def _digest(secret: str, phone: str, purpose: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _latest(session, phone: str, purpose: str, number: str | None, *, lock: bool = False):
    stmt = select(OneTimeCode).where(OneTimeCode.phone == phone, OneTimeCode.purpose == purpose,
                                     OneTimeCode.used_at.is_(None))
    if number:
        stmt = stmt.where(OneTimeCode.ticket_number == number)
    stmt = stmt.order_by(OneTimeCode.id.desc()).limit(1)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def issue(session, secret: str, phone: str, purpose: str, number: str | None = None) -> OneTimeCode:
    """Store a new code and queue its SMS; commits. A second request within RESEND_AFTER is refused."""
    assert purpose in PURPOSES
    now = utcnow()
    last = _latest(session, phone, purpose, number)
    if last is not None and now - last.created_at < RESEND_AFTER:
        wait = int((RESEND_AFTER - (now - last.created_at)).total_seconds()) + 1
        raise PortalError(f"验证码已发送，请 {wait} 秒后再重新获取", 429, "code")
    code = f"{secrets.randbelow(10 ** 6):06d}"
    row = OneTimeCode(phone=phone, purpose=purpose, ticket_number=number, created_at=now,
                      expires_at=now + CODE_TTL, attempts=0, code_hash=_digest(secret, phone, purpose, code))
    session.add(row)
    queue_sms(session, phone, "otp", {"code": code, "minutes": int(CODE_TTL.total_seconds() // 60)},
              purpose=f"portal-{purpose}")
    session.commit()
    return row


def verify(session, secret: str, phone: str, purpose: str, code: str | None, number: str | None = None) -> None:
    """Mark the code used (in the caller's transaction), or raise a PortalError. A wrong code counts
    as an attempt, committed at once (the failing request stores nothing else)."""
    code = (code or "").strip()
    if not code:
        raise PortalError("请填写短信验证码", 422, "code")
    row = _latest(session, phone, purpose, number, lock=True)  # two requests with one code: one wins
    if row is None:
        raise PortalError("请先获取短信验证码", 422, "code")
    now = utcnow()
    if row.expires_at <= now:
        raise PortalError("验证码已过期，请重新获取", 410, "code")
    if row.attempts >= MAX_ATTEMPTS:
        raise PortalError("验证码错误次数过多，请重新获取", 429, "code")
    if not hmac.compare_digest(row.code_hash, _digest(secret, phone, purpose, code)):
        row.attempts += 1
        left = MAX_ATTEMPTS - row.attempts
        session.commit()
        raise PortalError(f"验证码不正确，还可尝试 {left} 次" if left else "验证码错误次数过多，请重新获取",
                          422 if left else 429, "code")
    row.used_at = now
