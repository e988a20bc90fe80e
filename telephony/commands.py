"""Console commands on a live call, executed in the SIP process, and their record on the ticket.

The web process checks that the operator owns the call and publishes ``call.command``
(``agent_console.call_service``); here the command runs against the call's session (the bridge,
transfers and conference are the session's, see telephony.media.session) if the call queue
(``routing.calls.queue``) says an operator is connected on it, and ``call.command_result``
tells the console how it went. Every completed transfer, consult transfer, emergency transfer and
three-party join is appended to the ticket's history with ``ticketing.service.record_event``: on
the ticket the operator linked the call to, or, if none yet, on the call's draft ticket when it is
created at hang-up (both are announced by ``call.ticket``).
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from hotline.events import bus
from routing import emergency
from hotline.clock import iso, utcnow

log = logging.getLogger("telephony.commands")

#: command -> (what it does to the call's session, takes a target, ticket event recorded on success)
COMMANDS = {
    "hangup": (lambda session, _target: session.hangup("operator_hangup"), False, None),
    "hold": (lambda session, _target: session.hold(), False, None),
    "resume": (lambda session, _target: session.resume(), False, None),
    "transfer": (lambda session, target: session.transfer_blind(target), True, "transfer"),
    "consult": (lambda session, target: session.consult(target), True, None),
    "complete_transfer": (lambda session, _target: session.complete_transfer(), False, "transfer"),
    "cancel_consult": (lambda session, _target: session.cancel_consult(), False, None),
    "conference": (lambda session, target: session.conference(target), True, "three_party"),
    "emergency": (lambda session, target: session.transfer_emergency(target), True, "transfer"),
}
#: commands after which the operator is no longer on the call (wrap-up starts)
OPERATOR_LEAVES = ("transfer", "complete_transfer", "emergency")
KEEP_TICKETS = 2000


class CommandHandler:
    def __init__(self, queue, app, publish=None) -> None:
        self.queue, self.app = queue, app
        self.publish = publish or bus.publish
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="call-cmd")
        self._lock = threading.Lock()
        self.tickets: OrderedDict[str, str] = OrderedDict()  # call uuid -> ticket number
        self.pending: dict[str, list[dict]] = {}  # call uuid -> transfers not yet on a ticket
        self.consults: dict[str, str] = {}  # call uuid -> extension being consulted
        self._unsubscribe = [bus.subscribe("call.command", self._on_command),
                             bus.subscribe("call.ticket", self._on_ticket)]

    def stop(self) -> None:
        """After the endpoint stopped: pending ticket records are still written."""
        for off in self._unsubscribe:
            off()
        self._pool.shutdown(wait=True)

    # -- commands ----------------------------------------------------------------------------------
    def _on_command(self, _name: str, payload: dict) -> None:
        if payload.get("call_id") in self.queue.entries:
            self._pool.submit(self.run, payload)

    def run(self, payload: dict) -> dict:
        call_id, command, operator = payload["call_id"], payload["command"], payload["operator"]
        target = str(payload.get("target") or "")
        result = {"call_id": call_id, "command": command, "operator": operator, "ok": False,
                  "command_id": payload.get("command_id"), "target": target or None}
        try:
            result.update(self._execute(call_id, command, operator, target))
        except Exception as exc:  # noqa: BLE001 - reported to the console, never kills the call
            log.exception("call.command_failed call=%s command=%s", call_id, command)
            result["error"] = f"执行失败：{exc}"[:200]
        try:
            self.publish("call.command_result", result)
        except Exception:  # noqa: BLE001 - the console times out; the call goes on
            log.exception("event.publish_failed name=call.command_result")
        return result

    def _execute(self, call_id: str, command: str, operator: str, target: str) -> dict:
        entry = self.queue.connected_call(call_id)
        if entry is None:
            return {"error": "该通话已结束或尚未接通"}
        if entry.operator is None or entry.operator.username != operator:
            return {"error": "只有接听该通话的话务员可以操作"}
        if entry.operator_released:
            return {"error": "该通话已转出"}
        if command not in COMMANDS:
            return {"error": f"未知操作 {command}"}
        action, needs_target, ticket_action = COMMANDS[command]
        if needs_target and not target:
            return {"error": "请指定转接号码"}
        if command == "emergency" and target not in emergency.SERVICES:
            return {"error": f"紧急转接只支持 {'/'.join(emergency.NUMBERS)}"}
        if command == "hangup":
            entry.operator_hung_up = True
        ok, detail = _outcome(action(entry.call, target))
        if not ok:
            return {"error": f"转接失败：{detail or '对方未接听'}"}
        if command == "consult":
            self.consults[call_id] = target
        if ticket_action:
            to = self.consults.pop(call_id, "") if command == "complete_transfer" else target
            data = {"call_id": call_id, "mode": {"transfer": "blind", "complete_transfer": "consult",
                                                 "emergency": "emergency", "conference": "three_party"}[command],
                    "to": to, "operator": operator, "at": iso(utcnow())}
            if command == "emergency":
                data["emergency"] = emergency.label(target)
            self.record(call_id, ticket_action, operator, data)
        if command == "cancel_consult":
            self.consults.pop(call_id, None)
        if command in OPERATOR_LEAVES:
            self.queue.operator_left(entry)
        return {"ok": True, "detail": detail}

    # -- ticket history ----------------------------------------------------------------------------
    def _on_ticket(self, _name: str, payload: dict) -> None:
        call_id, number = payload.get("call_id"), payload.get("number")
        if not call_id or not number:
            return
        with self._lock:
            if payload.get("source") == "console" or call_id not in self.tickets:
                self.tickets[call_id] = number
                while len(self.tickets) > KEEP_TICKETS:
                    self.tickets.popitem(last=False)
            pending = self.pending.pop(call_id, [])
        for item in pending:
            self._pool.submit(self._write, number, item)

    def record(self, call_id: str, action: str, operator: str, data: dict) -> None:
        item = {"action": action, "operator": operator, "data": data}
        with self._lock:
            number = self.tickets.get(call_id)
            if number is None:
                self.pending.setdefault(call_id, []).append(item)
                return
        self._write(number, item)

    def _write(self, number: str, item: dict) -> None:
        from sqlalchemy import select

        from hotline.auth import User
        from ticketing import service as tickets

        from hotline.extensions import db

        with self.app.app_context(), db.session_scope() as s:
            user = s.scalar(select(User).where(User.username == item["operator"]))
            actor = user.actor() if user else tickets.Actor.system("telephony")
            data = item["data"]
            note = {"transfer": f"通话转接至 {data.get('emergency') or ''}{data.get('to')}",
                    "three_party": f"三方通话：加入 {data.get('to')}"}[item["action"]]
            tickets.record_event(s, number, item["action"], actor, note=note, data=data)
        log.info("call.transfer_recorded ticket=%s action=%s call=%s", number, item["action"], data["call_id"])


def _outcome(value: bool | dict | None) -> tuple[bool, str | None]:
    """hang-up returns None, hold/resume a bool, the transfers a dict ``{"ok", "failure"}``."""
    if isinstance(value, dict):
        return bool(value.get("ok", True)), value.get("failure") or value.get("error")
    return value is not False, None
