"""Portal services: a web submission becomes a ticket (channel ``web``) in one transaction; the
citizen follows it by number + SMS code or tracking code, reads the approved reply and rates it
(the hotline's own 回访 service: 不满意 reopens); consenting requests are published anonymised.

Views stay thin: they parse the form, call one function here and render the result. Every
PortalError leaves nothing stored (a wrong code's attempt count aside).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from hotline.clock import to_local
from hotline.exceptions import ValidationFailed
from hotline.identity import OPERATOR, Actor
from messaging.exceptions import RatingLinkError
from messaging.links import check_rating_token
from supervision.service import record_callback
from ticketing import attachments, lifecycle
from ticketing.models import Ticket, Town
from ticketing.privacy import citizen_view, public_text
from ticketing.schemas import SATISFACTION
from ticketing.service import create_ticket, record_event
from ticketing.sla import TYPES

from . import codes, photos
from .exceptions import PortalError
from .models import PortalRequest

log = logging.getLogger("hotline.portal")

#: who the history names for what the citizen did on the web
CITIZEN = Actor(username="网上市民", role=OPERATOR)
PUBLIC_PAGE = 20
Q_MAX = 50


def towns(session) -> list[Town]:
    return list(session.scalars(select(Town).where(Town.active.is_(True)).order_by(Town.id)))


def _digest(tracking_code: str) -> str:
    return hashlib.sha256(tracking_code.strip().upper().encode()).hexdigest()


def _field(form, name: str, label: str, limit: int, required: bool = True) -> str | None:
    value = (form.get(name) or "").strip()
    if required and not value:
        raise PortalError(f"请填写{label}", 422, name)
    if len(value) > limit:
        raise PortalError(f"{label}最多 {limit} 个字", 422, name)
    return value or None


def submit(session, form, uploads: list[tuple[str, bytes]], *, secret: str, store: Path,
           max_content: int) -> tuple[Ticket, str | None]:
    """Check everything, then write the ticket, its photos and its portal row in one transaction.
    Returns (ticket, tracking code of an anonymous submission or None)."""
    anonymous = form.get("contact") == "anonymous"
    ticket_type = form.get("type") or ""
    if ticket_type not in TYPES:
        raise PortalError("请选择诉求类型", 422, "type")
    content = _field(form, "content", "诉求内容", max_content)
    if len(content) < 5:
        raise PortalError("诉求内容太短，请说明具体情况（至少 5 个字）", 422, "content")
    town_code = form.get("town") or ""
    town = session.scalar(select(Town).where(Town.code == town_code, Town.active.is_(True))) if town_code else None
    if town is None:
        raise PortalError("请选择所在镇（街道）", 422, "town")
    address = _field(form, "address", "详细地址", 300)
    name = _field(form, "name", "称呼", 50, required=False)
    phone = None if anonymous else codes.normalize_phone(form.get("phone"))
    cleaned = photos.clean(uploads)
    if phone:
        codes.verify(session, secret, phone, "submit", form.get("code"))
    tracking = None if phone else secrets.token_hex(8).upper()
    data = {"type": ticket_type, "channel": "web", "content": content, "address": address, "town": town.code,
            "caller": {"name": None if anonymous else name, "phone": phone, "confidential": anonymous}}
    written: list[Path] = []
    try:
        ticket = create_ticket(session, data, CITIZEN, max_content=max_content, commit=False)
        if cleaned:
            cited = []
            for photo in cleaned:
                meta, path = attachments.save_citizen_photo(store, ticket.number, photo.name, photo.content_type,
                                                            photo.data)
                written.append(path)
                cited.append(meta)
            record_event(session, ticket.number, "citizen_photos", CITIZEN, data={"attachments": cited},
                         commit=False)
        session.add(PortalRequest(ticket_id=ticket.id, tracking_hash=_digest(tracking) if tracking else None,
                                  publish=form.get("publish") == "yes", photos=len(cleaned),
                                  public_content=public_text(content, (name,)), submitted_at=ticket.received_at))
        session.commit()
    except ValidationFailed as exc:
        session.rollback()
        _remove(written)
        raise PortalError(next(iter(exc.fields.values()), exc.message) if exc.fields else exc.message) from None
    except Exception:
        session.rollback()
        _remove(written)
        raise
    log.info("portal.submitted number=%s anonymous=%s photos=%d", ticket.number, anonymous, len(cleaned))
    return ticket, tracking


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".json").unlink(missing_ok=True)


# -- following a ticket ----------------------------------------------------------------------------
def _ticket(session, number: str) -> Ticket | None:
    number = (number or "").strip()
    if not number.isdigit() or len(number) > 20:
        return None
    return session.scalar(select(Ticket).where(Ticket.number == number))


def send_track_code(session, secret: str, number: str) -> str:
    """Send a code to the phone registered with the ticket; returns that phone, masked."""
    ticket = _ticket(session, number)
    if ticket is None or not ticket.caller_phone or not codes.MOBILE.match(ticket.caller_phone):
        raise PortalError("未找到登记了手机号的该工单，请核对工单号；匿名提交请使用查询码", 404, "number")
    codes.issue(session, secret, ticket.caller_phone, "track", ticket.number)
    return ticket.caller_phone[:3] + "****" + ticket.caller_phone[-4:]


def open_ticket(session, secret: str, number: str, *, code: str | None = None, tracking: str | None = None) -> str:
    """Check number + SMS code, or number + tracking code; returns the ticket number."""
    ticket = _ticket(session, number)
    if ticket is None:
        raise PortalError("工单号不存在，请核对", 404, "number")
    if tracking:
        row = session.get(PortalRequest, ticket.id)
        if row is None or row.tracking_hash is None or not secrets.compare_digest(row.tracking_hash, _digest(tracking)):
            raise PortalError("查询码不正确", 403, "tracking")
        return ticket.number
    if not ticket.caller_phone:
        raise PortalError("该工单未登记手机号，请使用查询码", 422, "code")
    codes.verify(session, secret, ticket.caller_phone, "track", code, ticket.number)
    session.commit()
    return ticket.number


def view(session, number: str) -> dict:
    ticket = session.scalar(select(Ticket).where(Ticket.number == number).options(
        joinedload(Ticket.main_department), joinedload(Ticket.town)))
    if ticket is None:
        raise PortalError("工单号不存在，请核对", 404, "number")
    return citizen_view(ticket)


# -- rating ------------------------------------------------------------------------------------------
def _rating(form) -> dict:
    satisfaction = form.get("satisfaction") or ""
    if satisfaction not in SATISFACTION:
        raise PortalError("请选择满意、基本满意或不满意", 422, "satisfaction")
    solved = form.get("solved")
    if solved not in ("yes", "no"):
        raise PortalError("请选择问题是否已解决", 422, "solved")
    comment = (form.get("comment") or "").strip()
    if len(comment) > 500:
        raise PortalError("评价意见最多 500 个字", 422, "comment")
    note = f"市民网上评价：{comment}" if comment else "市民网上评价"
    return {"satisfaction": satisfaction, "solved": solved == "yes", "note": note}


def rate(session, number: str, form, *, link: str | None = None) -> dict:
    """Record the citizen's rating through supervision's 回访 (不满意 reopens the ticket), consuming
    the SMS link's token when it came from one: one transaction, so a replayed link is refused."""
    body = _rating(form)
    ticket = _ticket(session, number)
    if ticket is None:
        raise PortalError("工单号不存在，请核对", 404, "number")
    if link is not None:
        check_link(session, number, link)  # a used or expired link says so, whatever the ticket's state
    if ticket.status != lifecycle.CALLBACK:
        raise PortalError("该工单当前不在待评价状态（可能已经评价过）", 409, "satisfaction")
    try:
        if link is not None:
            check_rating_token(session, number, link, consume=True)
        result = record_callback(session, number, CITIZEN, body, commit=False)
        session.commit()
    except RatingLinkError as exc:
        session.rollback()
        raise PortalError(exc.message, exc.status, "link") from None
    except IntegrityError:  # the same link used at the same moment in another request
        session.rollback()
        raise PortalError(RatingLinkError("used").message, 409, "link") from None
    except Exception:
        session.rollback()
        raise
    log.info("portal.rated number=%s satisfaction=%s via=%s", number, body["satisfaction"], "sms" if link else "portal")
    return result


def check_link(session, number: str, sig: str | None) -> None:
    try:
        check_rating_token(session, number, sig or "", consume=False)
    except RatingLinkError as exc:
        raise PortalError(exc.message, exc.status, "link") from None


# -- the public list -------------------------------------------------------------------------------
def published(session, q: str | None, page: int) -> tuple[int, list[dict]]:
    """Requests whose submitters consented, once the hotline approved the reply; anonymised."""
    q = (q or "").strip()
    if len(q) > Q_MAX:
        raise PortalError(f"搜索词最多 {Q_MAX} 个字", 422, "q")
    cond = [PortalRequest.publish.is_(True), Ticket.status.in_((lifecycle.CALLBACK, lifecycle.CLOSED)),
            Ticket.replied_at.is_not(None), Ticket.reply_text.is_not(None)]
    for word in q.split():
        cond.append(PortalRequest.public_content.contains(word, autoescape=True))
    base = select(PortalRequest).join(PortalRequest.ticket).where(*cond)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    rows = session.scalars(base.options(joinedload(PortalRequest.ticket).joinedload(Ticket.town),
                                        joinedload(PortalRequest.ticket).joinedload(Ticket.main_department))
                           .order_by(PortalRequest.submitted_at.desc(), PortalRequest.ticket_id.desc())
                           .offset((page - 1) * PUBLIC_PAGE).limit(PUBLIC_PAGE)).all()
    return total, [_public(r) for r in rows]


def _public(row: PortalRequest) -> dict:
    t = row.ticket
    return {"number": t.number, "type": t.type, "town": t.town.name if t.town else None,
            "content": row.public_content, "reply": public_text(t.reply_text, (t.caller_name,)),
            "unit": t.main_department.name if t.main_department else None,
            "received_on": to_local(t.received_at).strftime("%Y-%m-%d"), "satisfaction": t.satisfaction}
