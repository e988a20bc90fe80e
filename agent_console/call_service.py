"""Console side of live calls: commands on the operator's current call and the transfer directory
(the callback list and call KPIs are call distribution's: ``routing.calls.service``).

Commands are not executed here: the SIP process owns the call. This module checks that the
operator owns the call (the call board knows who answered it) and publishes ``call.command``; the
SIP process answers with ``call.command_result`` (Socket.IO, room of the operator).
"""
from __future__ import annotations

import re
import uuid
from sqlalchemy import select

from hotline.auth import User
from hotline.events import publish
from routing import emergency
from ticketing.lifecycle import DEPARTMENT
from ticketing.models import Department

from .calls import board
from .exceptions import Conflict, Forbidden, NotFound, ValidationFailed

COMMANDS = ("hangup", "hold", "resume", "transfer", "consult", "complete_transfer", "cancel_consult",
            "conference", "emergency")
NEEDS_TARGET = ("transfer", "consult", "conference", "emergency")
_EXTENSION = re.compile(r"^[0-9A-Za-z_.-]{2,32}$")
ANSWER_TARGET_S = 15


def send_command(user, call_id: str, command: str, body: dict) -> dict:
    if command not in COMMANDS:
        raise NotFound(f"unknown call command {command!r}")
    call = next((c for c in board.visible_to(None) if c["call_id"] == call_id), None)
    if call is None or call["state"] == "ended":
        raise NotFound(f"call {call_id} is not live")
    if call.get("target") not in {user.username, user.sip_extension} - {None}:
        raise Forbidden("只有接听该通话的话务员可以操作")
    if call["state"] != "talking" or not call["info"].get("connected"):
        raise Conflict("通话尚未接通到话务员")
    target = str(body.get("target") or "").strip()
    if command in NEEDS_TARGET:
        if command == "emergency" and target not in emergency.SERVICES:
            raise ValidationFailed("unknown emergency number", {"target": "、".join(emergency.NUMBERS)})
        if not _EXTENSION.match(target):
            raise ValidationFailed("target extension missing or malformed", {"target": "请填写分机号码"})
    command_id = uuid.uuid4().hex
    publish("call.command", {"call_id": call_id, "command": command, "operator": user.username,
                             "target": target or None, "command_id": command_id,
                             "extension": user.sip_extension})
    return {"command_id": command_id, "command": command, "status": "sent"}


def transfer_directory(session) -> dict:
    """Department phones (users of role department with an extension) and emergency numbers."""
    rows = session.execute(select(User, Department).join(Department, Department.id == User.department_id)
                           .where(User.role == DEPARTMENT, User.active.is_(True),
                                  User.sip_extension.is_not(None), User.sip_extension != "")
                           .order_by(Department.name, User.username)).all()
    return {"departments": [{"department": d.name, "code": d.code, "name": u.display_name or u.username,
                             "extension": u.sip_extension} for u, d in rows],
            "emergency": [{"number": n, "label": label} for n, label in emergency.SERVICES.items()]}
