"""Queueing SMS notices (in the caller's transaction), opt-outs, and reading the outbox.

``queue_sms`` only adds an ``sms_messages`` row; the sender (``sender.py``) sends rows that are due
after their transaction commits. A rollback therefore sends nothing, and a gateway outage only
delays messages: they stay in the table until Kannel accepts them."""
from __future__ import annotations

import logging
import re

from sqlalchemy import delete, func, select

from hotline.clock import utcnow

from . import templates
from .exceptions import InvalidPhone
from .models import SmsMessage, SmsOptOut

log = logging.getLogger("hotline.messaging")

_MOBILE = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = re.compile(r"[\s\-()]")


def normalize_phone(phone) -> str:
    """A Chinese mobile number as 11 digits (``+86``/``86``/``0086`` and separators dropped)."""
    raw = _SEPARATORS.sub("", phone) if isinstance(phone, str) else ""
    for prefix in ("+86", "0086", "86"):
        if raw.startswith(prefix) and len(raw) == 11 + len(prefix):
            raw = raw[len(prefix):]
            break
    if not _MOBILE.fullmatch(raw):
        raise InvalidPhone("not a mobile phone number", {"phone": "请输入11位手机号码"})
    return raw


def is_mobile(phone) -> bool:
    try:
        normalize_phone(phone)
    except InvalidPhone:
        return False
    return True


def is_opted_out(session, phone: str) -> bool:
    return session.get(SmsOptOut, normalize_phone(phone)) is not None


def queue_sms(session, phone, template_key: str, context: dict, *, ticket_id: int | None = None,
              purpose: str | None = None, bypass_opt_out: bool | None = None,
              dedupe_key: str | None = None) -> SmsMessage | None:
    """Add one message to the outbox in the caller's transaction (flushed, not committed).

    Returns None when the phone opted out and the template is not one that always goes (one-time
    codes). ``dedupe_key``: a notice that must exist at most once (``"<ticket id>:accepted"``); a
    second call with the same key returns the existing row."""
    number = normalize_phone(phone)
    spec = templates.spec(template_key)
    bypass = spec.always if bypass_opt_out is None else bypass_opt_out
    if not bypass and session.get(SmsOptOut, number) is not None:
        log.info("sms.opted_out phone=%s template=%s", mask(number), template_key)
        return None
    if dedupe_key is not None:
        existing = session.scalar(select(SmsMessage).where(SmsMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    text = templates.render(session, template_key, context)
    now = utcnow()
    msg = SmsMessage(phone=number, template_key=template_key, purpose=purpose or template_key,
                     context={k: v if isinstance(v, (int, float, bool)) or v is None else str(v)
                              for k, v in context.items()},
                     text=text, ticket_id=ticket_id, dedupe_key=dedupe_key, status="unsent", attempts=0,
                     next_attempt_at=now, created_at=now)
    session.add(msg)
    session.flush()
    session.info["sms_queued"] = True  # the sender is nudged after the commit (runner.Nudger)
    log.info("sms.queued id=%s phone=%s template=%s ticket=%s", msg.id, mask(number), template_key, ticket_id)
    return msg


def mask(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def last_message(session, phone, template_key: str | None = None) -> SmsMessage | None:
    """The newest message queued for ``phone`` (of ``template_key``): for tests and support."""
    q = select(SmsMessage).where(SmsMessage.phone == normalize_phone(phone))
    if template_key:
        q = q.where(SmsMessage.template_key == template_key)
    return session.scalar(q.order_by(SmsMessage.id.desc()).limit(1))


def opt_out(session, phone, source: str) -> bool:
    """Stop notices to ``phone`` (one-time codes still go); commits. True when newly opted out."""
    number = normalize_phone(phone)
    if session.get(SmsOptOut, number) is not None:
        return False
    session.add(SmsOptOut(phone=number, source=source[:40], created_at=utcnow()))
    session.commit()
    log.info("sms.opt_out phone=%s source=%s", mask(number), source)
    return True


def opt_in(session, phone) -> bool:
    number = normalize_phone(phone)
    deleted = session.execute(delete(SmsOptOut).where(SmsOptOut.phone == number)).rowcount
    session.commit()
    return bool(deleted)


def list_opt_outs(session, *, page: int = 1, per_page: int = 50) -> dict:
    total = session.scalar(select(func.count()).select_from(SmsOptOut))
    rows = session.scalars(select(SmsOptOut).order_by(SmsOptOut.created_at.desc())
                           .offset((page - 1) * per_page).limit(per_page))
    return {"items": [{"phone": mask(r.phone), "source": r.source, "created_at": r.created_at.isoformat() + "Z"}
                      for r in rows], "total": total, "page": page, "per_page": per_page}


STATUS_LABELS = {"unsent": "未发送", "retry": "待重试", "sent": "已提交网关", "delivered": "已送达",
                 "failed": "发送失败", "expired": "已过期未发送"}


def serialize(msg: SmsMessage, *, full_phone: bool = False) -> dict:
    return {"id": msg.id, "phone": msg.phone if full_phone else mask(msg.phone), "template_key": msg.template_key,
            "purpose": msg.purpose, "text": msg.text if msg.template_key != "otp" else _hide_code(msg),
            "ticket_id": msg.ticket_id, "status": msg.status, "status_label": STATUS_LABELS.get(msg.status, msg.status),
            "attempts": msg.attempts, "last_error": msg.last_error, "dlr_status": msg.dlr_status,
            "created_at": msg.created_at.isoformat() + "Z",
            "next_attempt_at": msg.next_attempt_at.isoformat() + "Z" if msg.status in ("unsent", "retry") else None,
            "sent_at": msg.sent_at.isoformat() + "Z" if msg.sent_at else None,
            "delivered_at": msg.delivered_at.isoformat() + "Z" if msg.delivered_at else None}


def _hide_code(msg: SmsMessage) -> str:
    """Staff never read a citizen's one-time code off the admin page."""
    code = str((msg.context or {}).get("code") or "")
    return msg.text.replace(code, "*" * len(code)) if code else msg.text


def list_messages(session, *, status: str | None = None, page: int = 1, per_page: int = 50) -> dict:
    q = select(SmsMessage)
    count = select(func.count()).select_from(SmsMessage)
    if status:
        q, count = q.where(SmsMessage.status == status), count.where(SmsMessage.status == status)
    rows = session.scalars(q.order_by(SmsMessage.id.desc()).offset((page - 1) * per_page).limit(per_page))
    counts = dict(session.execute(select(SmsMessage.status, func.count()).group_by(SmsMessage.status)).all())
    return {"items": [serialize(m) for m in rows], "total": session.scalar(count), "page": page,
            "per_page": per_page, "counts": counts}
