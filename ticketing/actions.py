"""What each lifecycle action does to a ticket beyond its status change.

``HANDLERS[action](session, ticket, actor, payload)`` changes the ticket's fields and returns the
event's ``(note, data)``; ``ticketing.service`` checks the transition, calls the handler, writes
the event and commits.
"""
from __future__ import annotations

from sqlalchemy import select

from hotline.clock import to_local, to_utc_naive, utcnow
from hotline.exceptions import Conflict, IllegalAction, ValidationFailed

from . import deadlines, lifecycle
from .audit import append_event
from .directory import department_by_code
from .models import Department, Extension, Ticket, Urging
from .sla import extend


def holders(ticket: Ticket) -> list[Department]:
    holders = list(ticket.co_departments)
    if ticket.main_department is not None:
        holders.append(ticket.main_department)
    return holders


def dept_data(dept) -> dict:
    return {"code": dept.code, "name": dept.name}


def _retype(session, ticket, payload) -> dict:
    changed = {}
    for key in ("type", "urgency"):
        value = getattr(payload, key, None)
        if value and value != getattr(ticket, key):
            changed[key] = {"from": getattr(ticket, key), "to": value}
            setattr(ticket, key, value)
    if changed:
        deadlines.apply_to(session, ticket, ticket.received_at)
    return changed


def _accept(session, ticket, actor, p):
    changed = _retype(session, ticket, p)
    return p.note, {"changed": changed} if changed else None


def _answer_directly(session, ticket, actor, p):
    if p.article_id is None and not p.answer:
        raise ValidationFailed("cite a knowledge article or write the answer",
                               {"article_id": "article_id or answer is required"})
    ticket.direct_answer = {"article_id": p.article_id, "answer": p.answer}
    ticket.closed_at = utcnow()
    return p.note, {"article_id": p.article_id, "answer": p.answer}


def _assign(session, ticket, actor, p):
    main = department_by_code(session, p.main_department, "main_department")
    co = []
    for i, code in enumerate(dict.fromkeys(p.co_departments)):
        if code == p.main_department:
            raise ValidationFailed("main department listed as co-department",
                                   {f"co_departments.{i}": "already the main department"})
        co.append(department_by_code(session, code, f"co_departments.{i}"))
    previous = {"main": dept_data(ticket.main_department) if ticket.main_department else None,
                "co": [dept_data(d) for d in ticket.co_departments]}
    ticket.main_department = main
    ticket.co_departments = co
    ticket.dispatched_at = utcnow()
    ticket.signed_at = None
    changed = _retype(session, ticket, p)
    data = {"main_department": dept_data(main), "co_departments": [dept_data(d) for d in co]}
    if previous["main"]:
        data["previous"] = previous
    if changed:
        data["changed"] = changed
    if ticket.routing_suggestion:
        suggested = [d.get("code") for d in ticket.routing_suggestion.get("departments", [])[:1]]
        data["followed_suggestion"] = suggested == [main.code]
    return p.note, data


def _sign(session, ticket, actor, p):
    ticket.signed_at = utcnow()
    return p.note, {"department": dept_data(ticket.main_department)}


def _return(session, ticket, actor, p):
    data = {"department": dept_data(ticket.main_department),
            "co_departments": [dept_data(d) for d in ticket.co_departments]}
    ticket.main_department = None
    ticket.co_departments = []
    ticket.signed_at = None
    return p.note, data


def _request_extension(session, ticket, actor, p):
    if any(e.status == "pending" for e in ticket.extensions):
        raise Conflict("an extension request is already pending")
    ext = Extension(ticket=ticket, department_id=ticket.main_department_id, workdays=p.workdays,
                    reason=p.reason, requested_by=actor.username)
    session.add(ext)
    return p.reason, {"workdays": p.workdays}


def _pending_extension(ticket) -> Extension:
    pending = [e for e in ticket.extensions if e.status == "pending"]
    if not pending:
        raise IllegalAction("no pending extension request", allowed_actions=[])
    return pending[-1]


def _approve_extension(session, ticket, actor, p):
    ext = _pending_extension(ticket)
    moved = extend(deadlines.calendar(session), ticket.reply_by, ext.workdays)
    old = ticket.reply_by
    ticket.reply_by = moved.at
    if moved.estimated_years:
        ticket.deadline_estimated_years = sorted(set(ticket.deadline_estimated_years or []) | moved.estimated_years)
    ext.status, ext.decided_by, ext.decided_at, ext.decision_note = "approved", actor.username, utcnow(), p.note
    return p.note, {"extension_id": ext.id, "workdays": ext.workdays,
                    "reply_by": {"from": to_local(old).isoformat(), "to": to_local(moved.at).isoformat()}}


def _deny_extension(session, ticket, actor, p):
    ext = _pending_extension(ticket)
    ext.status, ext.decided_by, ext.decided_at, ext.decision_note = "denied", actor.username, utcnow(), p.note
    return p.note, {"extension_id": ext.id}


def _reply(session, ticket, actor, p):
    ticket.reply_text = p.text
    ticket.replied_at = utcnow()
    return None, {"text": p.text, "attachments": p.attachments}


def _note_only(session, ticket, actor, p):
    return p.note, None


def _callback(session, ticket, actor, p):
    ticket.satisfaction = p.satisfaction
    ticket.solved = p.solved
    ticket.closed_at = utcnow()
    return p.note, {"satisfaction": p.satisfaction, "solved": p.solved}


def _close(session, ticket, actor, p):
    ticket.closed_at = utcnow()
    return p.note, None


def _reopen(session, ticket, actor, p):
    if ticket.main_department is None:
        raise IllegalAction("the ticket has no department to reopen to; dispatch it again", allowed_actions=[])
    ticket.reopen_count += 1
    ticket.closed_at = ticket.signed_at = ticket.replied_at = None
    ticket.satisfaction = ticket.solved = None
    now = utcnow()
    ticket.dispatched_at = now
    deadlines.apply_to(session, ticket, now)
    return p.note, {"department": dept_data(ticket.main_department), "reopen_count": ticket.reopen_count}


def _merge(session, ticket, actor, p):
    if p.into == ticket.number:
        raise ValidationFailed("cannot merge a ticket into itself", {"into": "must be another ticket"})
    master = session.scalar(select(Ticket).where(Ticket.number == p.into).with_for_update())
    if master is None:
        raise ValidationFailed(f"ticket {p.into} not found", {"into": "unknown ticket"})
    if master.status in lifecycle.FINAL_STATUSES and master.status != lifecycle.CLOSED:
        raise Conflict(f"ticket {p.into} is {master.status} and cannot take merged tickets")
    ticket.merged_into = master
    ticket.closed_at = utcnow()
    append_event(session, master, actor, "note", master.status, master.status,
                  f"并入工单 {ticket.number}", {"merged_from": ticket.number})
    return p.note, {"into": master.number}


def _urge(session, ticket, actor, p):
    session.add(Urging(ticket=ticket, department_id=ticket.main_department_id, note=p.note,
                       due_at=to_utc_naive(p.due_at) if p.due_at else None, urged_by=actor.username))
    return p.note, {"due_at": p.due_at.isoformat() if p.due_at else None,
                    "department": dept_data(ticket.main_department) if ticket.main_department else None}


HANDLERS = {
    "accept": _accept, "answer_directly": _answer_directly, "dispatch": _assign, "sign": _sign,
    "return": _return, "reassign": _assign, "request_extension": _request_extension,
    "approve_extension": _approve_extension, "deny_extension": _deny_extension, "reply": _reply,
    "approve_reply": _note_only, "reject_reply": _note_only, "callback": _callback, "close": _close,
    "reopen": _reopen, "merge": _merge, "invalidate": _note_only, "urge": _urge, "note": _note_only,
}
assert set(HANDLERS) == set(lifecycle.ACTIONS)
