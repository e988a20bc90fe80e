"""Sending the outbox through Kannel's HTTP ``sendsms`` interface, with retries and delivery reports.

A message is due when it is ``unsent`` or ``retry`` and its ``next_attempt_at`` has passed. The
sender locks due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers share the
outbox), asks Kannel to send each, and records the outcome in the same transaction: accepted →
``sent``; refused or unreachable → ``retry`` with exponential backoff (base × 2^(attempts-1), at
most an hour) until ``HOTLINE_SMS_GIVE_UP_HOURS`` after queueing (then ``expired``). Kannel calls
the ``dlr-url`` back with the delivery report (signed message id): 1 → delivered, 2/16 → failed.
"""
from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, Signer
from sqlalchemy import select

from hotline.clock import utcnow

from .models import SmsMessage

log = logging.getLogger("hotline.messaging")

DLR_MASK = 31  # delivered, failed, buffered, SMSC accepted, SMSC rejected
DLR_DELIVERED, DLR_FAILED, DLR_BUFFERED, DLR_SMSC_ACCEPTED, DLR_SMSC_REJECTED = 1, 2, 4, 8, 16
BATCH = 50


class GatewayError(Exception):
    """Kannel did not accept the message (unreachable, refused, or an error answer)."""


@dataclass(frozen=True)
class KannelGateway:
    url: str  # e.g. http://127.0.0.1:13013/cgi-bin/sendsms
    username: str
    password: str
    sender: str = ""
    dlr_base_url: str = ""  # our public base URL as Kannel reaches it; "" = no delivery reports
    secret: str = ""
    timeout: float = 10.0

    def dlr_url(self, message_id: int) -> str:
        sig = Signer(self.secret, salt="hotline.sms-dlr").sign(str(message_id)).decode()
        # %d is Kannel's placeholder for the report type; it fills it in when it calls back
        return f"{self.dlr_base_url.rstrip('/')}/sms/kannel/dlr?id={urllib.parse.quote(sig)}&type=%d"

    def send(self, msg: SmsMessage) -> str:
        params = {"username": self.username, "password": self.password, "to": msg.phone,
                  "text": msg.text, "charset": "UTF-8", "coding": "2"}
        if self.sender:
            params["from"] = self.sender
        if self.dlr_base_url:
            params["dlr-mask"] = str(DLR_MASK)
            params["dlr-url"] = self.dlr_url(msg.id)
        url = f"{self.url}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                body = resp.read(500).decode("utf-8", "replace").strip()
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise GatewayError(f"HTTP {exc.code}: {exc.read(200).decode('utf-8', 'replace').strip()}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise GatewayError(f"gateway unreachable: {getattr(exc, 'reason', exc)}") from None
        if status not in (200, 202):  # Kannel: 202 "0: Accepted for delivery" / "3: Queued for later delivery"
            raise GatewayError(f"HTTP {status}: {body}")
        return body


def check_dlr_id(secret: str, signed: str) -> int | None:
    try:
        return int(Signer(secret, salt="hotline.sms-dlr").unsign(signed))
    except (BadSignature, ValueError, TypeError):
        return None


def gateway_from_config(cfg) -> KannelGateway | None:
    if not cfg.sms_kannel_url:
        return None
    return KannelGateway(url=cfg.sms_kannel_url, username=cfg.sms_kannel_username,
                         password=cfg.sms_kannel_password, sender=cfg.sms_sender,
                         dlr_base_url=cfg.sms_dlr_base_url, secret=cfg.secret_key)


def backoff(cfg, attempts: int) -> timedelta:
    return timedelta(seconds=min(cfg.sms_retry_base_seconds * 2 ** max(attempts - 1, 0), 3600))


def send_due(session, gateway: KannelGateway, cfg, *, limit: int = BATCH) -> dict:
    """One pass over the due messages (at most ``limit``); commits. Returns counts."""
    now = utcnow()
    q = (select(SmsMessage)
         .where(SmsMessage.status.in_(("unsent", "retry")), SmsMessage.next_attempt_at <= now)
         .order_by(SmsMessage.next_attempt_at, SmsMessage.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    sent = failed = expired = 0
    give_up = timedelta(hours=cfg.sms_give_up_hours)
    for msg in session.scalars(q).all():
        if now - msg.created_at > give_up:
            msg.status, expired = "expired", expired + 1
            log.warning("sms.expired id=%s attempts=%s", msg.id, msg.attempts)
            continue
        msg.attempts += 1
        try:
            answer = gateway.send(msg)
        except GatewayError as exc:
            msg.status, msg.last_error = "retry", str(exc)[:300]
            msg.next_attempt_at = now + backoff(cfg, msg.attempts)
            failed += 1
            log.info("sms.retry id=%s attempts=%s next=%s error=%s", msg.id, msg.attempts,
                     msg.next_attempt_at.isoformat(), msg.last_error)
            continue
        msg.status, msg.sent_at, msg.last_error = "sent", utcnow(), None
        sent += 1
        log.info("sms.sent id=%s attempts=%s answer=%s", msg.id, msg.attempts, answer[:80])
    session.commit()
    return {"sent": sent, "failed": failed, "expired": expired}


def record_dlr(session, message_id: int, dlr_type: int) -> SmsMessage | None:
    """Kannel's delivery report for one message; commits. Final states are not overwritten by a
    late intermediate report (8 after 1)."""
    msg = session.get(SmsMessage, message_id, with_for_update=True)
    if msg is None:
        return None
    final = dlr_type & (DLR_DELIVERED | DLR_FAILED | DLR_SMSC_REJECTED)
    if msg.status in ("delivered", "failed") and not final:  # reports may arrive out of order
        session.rollback()
        log.info("sms.dlr_late id=%s type=%s status=%s", msg.id, dlr_type, msg.status)
        return msg
    msg.dlr_status = dlr_type
    if dlr_type & DLR_DELIVERED:
        msg.status, msg.delivered_at = "delivered", utcnow()
    elif dlr_type & (DLR_FAILED | DLR_SMSC_REJECTED):
        msg.status = "failed"
        msg.last_error = f"delivery report {dlr_type}"
    elif msg.status in ("unsent", "retry"):  # a report can overtake our own commit of "sent"
        msg.status, msg.sent_at = "sent", msg.sent_at or utcnow()
    session.commit()
    log.info("sms.dlr id=%s type=%s status=%s", msg.id, dlr_type, msg.status)
    return msg
